"""Validating a model again after editing it (in place: the same ``ModelProto``, the same ``Conversion``) judges the
edited model: what validate remembers of a model between calls (the rows scan, the float32 narrowings,
which framework a reference is, a forward()'s parameters) is keyed on what the edit changes."""

from __future__ import annotations

import copy

import numpy as np
import pytest
from _tampering import counted_above_rows, softmax_in_float32
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression

import onnxgate as og

X, Y = load_iris(return_X_y=True)


@pytest.fixture
def conversion():
    model = LogisticRegression(max_iter=1000).fit(X, Y)
    return model, og.convert(model, X[:5], opset=15, precision="float64")


def _parity(report: og.Report) -> og.CheckResult:
    return report.check("prediction_parity")


def test_a_model_edited_in_place_to_mix_its_rows_is_named_when_validated_again(conversion):
    _, conv = conversion
    proto = copy.deepcopy(conv.model)
    for _ in range(2):  # validated twice as it was: nothing to name
        assert "mixes the rows" not in _parity(og.validate(proto)).message

    proto.CopyFrom(counted_above_rows(proto, 100, "reduce_rows"))  # the same object, edited
    again = _parity(og.validate(proto))

    assert again.skipped
    assert "whether the graph mixes the rows of a batch was not checked at 'ReduceSum -> tamper_" in again.message


def test_a_conversion_edited_to_mix_its_rows_fails_when_validated_again(conversion):
    model, conv = conversion
    assert og.validate(conv, reference=model, data=X).passed

    conv.model.CopyFrom(counted_above_rows(conv.model, 100, "reduce_rows"))
    again = _parity(og.validate(conv, reference=model, data=X))

    assert not again.passed
    assert any(f["op_type"] == "ReduceSum" for f in again.details["rows_mixed"])


def test_a_conversion_edited_to_compute_in_float32_fails_when_validated_again(conversion):
    model, conv = conversion
    assert og.validate(conv, reference=model, data=X).passed

    conv.model.CopyFrom(softmax_in_float32(conv.model))  # in place: the Softmax in float32 between doubles
    again = _parity(og.validate(conv, reference=model, data=X))

    assert not again.passed
    assert "computes node 'Softmax' in float32 between double input and output" in again.message


def test_a_module_whose_forward_is_replaced_is_fed_by_its_new_parameters_when_validated_again():
    torch = pytest.importorskip("torch")

    class Two(torch.nn.Module):
        def forward(self, a, b):
            return a - 2 * b

    rows = {"a": X[:20, :2].astype(np.float32), "b": X[:20, 2:].astype(np.float32)}
    module = Two().eval()
    conv = og.convert(module, rows)
    assert og.validate(conv, data=rows).passed

    def swapped(self, b, a):  # the same function, its parameters listed the other way round
        return a - 2 * b

    Two.forward = swapped
    # fed by name, as forward() now lists them: the same answers (fed in the order it listed them before, the module
    # answered b - 2a)
    assert og.validate(conv, data=rows).passed
