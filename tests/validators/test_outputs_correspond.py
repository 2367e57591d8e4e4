"""Parity matches every ONNX output to one of the reference's (PyTorch, Keras, TensorFlow), by name where
the names say which, and feeds a PyTorch reference its inputs by the names forward() gives them.

Each edit below passed before: an output renamed and negated was "not compared", an output dropped from
the ONNX model was not missed, a dict's outputs were matched by position whatever their names, and two
inputs whose names were swapped were fed to forward() in graph order.
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
import pytest
from onnx import helper

import onnxgate as og

torch = pytest.importorskip("torch")

X = np.random.default_rng(0).normal(size=(60, 6)).astype(np.float32)


def _rename(model: Any, renames: dict[str, str]) -> Any:
    """``model`` with values renamed everywhere (graph inputs and outputs, node inputs and outputs)."""
    out = copy.deepcopy(model)
    for node in out.graph.node:
        node.input[:] = [renames.get(n, n) for n in node.input]
        node.output[:] = [renames.get(n, n) for n in node.output]
    for value in [*out.graph.input, *out.graph.output]:
        value.name = renames.get(value.name, value.name)
    return out


def _parity(model: Any, reference: Any, data: Any) -> og.CheckResult:
    return og.validate(model, target="container", reference=reference, data=data).check("prediction_parity")


class _Dict(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.linear = torch.nn.Linear(6, 4)

    def forward(self, x: Any) -> dict[str, Any]:
        h = self.linear(x)
        return {"zeta": h, "alpha": torch.sigmoid(h)}


class _Two(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.linear = torch.nn.Linear(6, 4)

    def forward(self, x: Any) -> tuple[Any, Any]:
        h = self.linear(x)
        return h, torch.tanh(h)


class _Pair(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.a = torch.nn.Linear(3, 2)
        self.b = torch.nn.Linear(3, 2)

    def forward(self, a: Any, b: Any) -> Any:
        return self.a(a) * 2 + self.b(b)


def test_a_dict_forward_is_matched_by_its_keys() -> None:
    torch.manual_seed(0)
    net = _Dict().eval()
    conv = og.convert(net, X[:4])
    assert conv.signature.output_names == ["zeta", "alpha"]
    assert _parity(conv.model, net, X)
    swapped = _rename(conv.model, {"zeta": "alpha", "alpha": "zeta"})  # 'alpha' now holds zeta's values
    result = _parity(swapped, net, X)
    assert not result and "output 'alpha'" in result.message


def test_an_extra_or_a_missing_output_fails_parity() -> None:
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(6, 3)).eval()
    extra = copy.deepcopy(og.convert(net, X[:4]).model)
    extra.graph.node.append(helper.make_node("Neg", ["output"], ["extra"]))
    extra.graph.output.append(copy.deepcopy(extra.graph.output[0]))
    extra.graph.output[1].name = "extra"
    result = _parity(extra, net, X)
    assert not result and "the ONNX output(s) ['extra'] match none of the outputs of the PyTorch reference" in (
        result.message)
    two = _Two().eval()
    dropped = copy.deepcopy(og.convert(two, X[:4]).model)
    del dropped.graph.output[1]
    result = _parity(dropped, two, X)
    assert not result and "returns output(s) ['output_1'] that the ONNX model" in result.message
    report = og.validate(dropped, target="container", reference=two, data=X, search=50, seed=0)
    search = report.check("search_divergences")
    assert not search and search.message.startswith("the search was not run")


def test_a_renamed_output_is_not_left_uncompared() -> None:
    torch.manual_seed(0)
    two = _Two().eval()
    conv = og.convert(two, X[:4])
    assert _parity(conv.model, two, X)
    bent = copy.deepcopy(conv.model)
    bent.graph.node.append(helper.make_node("Neg", ["output_1"], ["garbage"]))
    bent.graph.output[1].name = "garbage"
    result = _parity(bent, two, X)  # in its place, it is compared with output_1: negated, it fails
    assert not result and "output 'garbage'" in result.message
    # outputs renamed at conversion, all or some, keep their order, and are compared in it
    renamed = og.convert(two, X[:4], options={"output_names": ["h", "t"]})
    assert _parity(renamed.model, two, X)
    partly = og.convert(two, X[:4], options={"output_names": ["output_0", "aux"]})
    assert _parity(partly.model, two, X)
    torch.manual_seed(0)
    net = _Dict().eval()
    assert _parity(og.convert(net, X[:4], options={"output_names": ["zeta", "probabilities"]}).model, net, X)


def test_inputs_named_after_forward_are_fed_by_name() -> None:
    torch.manual_seed(0)
    net = _Pair().eval()
    rng = np.random.default_rng(1)
    data = {"a": rng.normal(size=(40, 3)).astype(np.float32), "b": rng.normal(size=(40, 3)).astype(np.float32)}
    conv = og.convert(net, data)
    assert conv.signature.input_names == ["a", "b"]
    assert _parity(conv.model, net, data)
    swapped = _rename(conv.model, {"a": "b", "b": "a"})  # the input called 'a' now feeds forward's b
    assert not _parity(swapped, net, data)


def test_keras_and_tensorflow_outputs_renamed_after_conversion_fail() -> None:
    keras = pytest.importorskip("keras")
    tf = pytest.importorskip("tensorflow")
    keras.utils.set_random_seed(0)
    inputs = keras.Input((6,), name="x")
    score = keras.layers.Dense(4, name="score")(inputs)
    model = keras.Model(inputs, [score, keras.layers.Activation("sigmoid", name="prob")(score)])
    conv = og.convert(model, X[:4], opset=15)
    assert _parity(conv.model, model, X)
    bent = copy.deepcopy(conv.model)
    bent.graph.node.append(helper.make_node("Neg", ["prob"], ["garbage"]))
    bent.graph.output[1].name = "garbage"
    assert not _parity(bent, model, X)

    @tf.function(input_signature=[tf.TensorSpec([None, 6], tf.float32)])
    def fn(x: Any) -> dict[str, Any]:
        return {"total": tf.reduce_sum(x, axis=1), "top": tf.reduce_max(x, axis=1)}

    conv = og.convert(fn, X[:4], opset=15)
    assert _parity(conv.model, fn, X)
    bent = copy.deepcopy(conv.model)
    bent.graph.node.append(helper.make_node("Neg", ["total"], ["sum"]))
    bent.graph.output[[o.name for o in bent.graph.output].index("total")].name = "sum"
    result = _parity(bent, fn, X)
    assert not result and "'sum'" in result.message
