"""TensorFlow and Keras sequences of any length: an axis the model declares None (``keras.Input(shape=(None, 3))``,
``tf.TensorSpec([None, None, 3])``) or that ``options={"dynamic_axes": ...}`` names on a tf.function traced from
the sample stays dynamic, named, and proved against the framework one step longer and shorter."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

keras = pytest.importorskip("keras")
tf = pytest.importorskip("tensorflow")
pytest.importorskip("tf2onnx")
ort = pytest.importorskip("onnxruntime")

import onnxgate as og  # noqa: E402
from onnxgate.errors import InvalidDataError, UnsupportedModelError  # noqa: E402

pytestmark = pytest.mark.skipif(keras.config.backend() != "tensorflow", reason="the TensorFlow backend")

RNG = np.random.default_rng(0)
X5 = RNG.normal(size=(4, 5, 3)).astype(np.float32)
X9 = RNG.normal(size=(20, 9, 3)).astype(np.float32)
X2 = RNG.normal(size=(6, 2, 3)).astype(np.float32)


def dims(values: Any) -> list[tuple[str, list[Any]]]:
    return [(v.name, [d.dim_param or d.dim_value for d in v.type.tensor_type.shape.dim]) for v in values]


def run(conv: Any, x: np.ndarray) -> np.ndarray:
    session = ort.InferenceSession(conv.model.SerializeToString(), providers=["CPUExecutionProvider"])
    return session.run(None, {session.get_inputs()[0].name: x})[0]


def tagger(steps: int | None, sequences: bool = True) -> Any:
    keras.utils.set_random_seed(0)
    return keras.Sequential([keras.Input(shape=(steps, 3)), keras.layers.LSTM(8, return_sequences=sequences),
                             keras.layers.Dense(2)])


@pytest.mark.parametrize("sequences", [True, False])
def test_keras_declared_steps_stay_dynamic_named_and_follow_to_the_output(sequences: bool) -> None:
    model = tagger(None, sequences)
    conv = og.convert(model, X5)
    assert dims(conv.model.graph.input) == [("input", ["N", "input_axis1", 3])]
    # the output's steps are the input's (tf2onnx wrote unk__<n>, another name than the input's)
    assert dims(conv.model.graph.output) == [("output", ["N", "input_axis1", 2] if sequences else ["N", 2])]
    for x in (X9, X2):
        assert og.validate(conv, data=x, reference=model).passed
        np.testing.assert_allclose(run(conv, x), model.predict(x, verbose=0), atol=1e-5)


def test_an_output_of_a_length_of_its_own_is_not_called_by_the_inputs_name() -> None:
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input(shape=(None, 3)), keras.layers.Conv1D(2, 3)])  # T - 2 steps out
    conv = og.convert(model, X5)
    (_, out), = dims(conv.model.graph.output)
    assert out[1] != "input_axis1" and not isinstance(out[1], int)
    for x in (X9, RNG.normal(size=(6, 4, 3)).astype(np.float32)):
        assert og.validate(conv, data=x, reference=model).passed
        np.testing.assert_allclose(run(conv, x), model.predict(x, verbose=0), atol=1e-5)


def test_keras_input_fixed_by_the_user_stays_fixed_and_dynamic_axes_there_is_refused() -> None:
    model = tagger(5)
    conv = og.convert(model, X5)
    assert dims(conv.model.graph.input) == [("input", ["N", 5, 3])]
    with pytest.raises(InvalidDataError, match="expects 5 entries on axis 1"):
        og.validate(conv, data=X9, reference=model)
    with pytest.raises(UnsupportedModelError, match=r"fixes axis 1 of input 'input' to 5.*declare that axis None"):
        og.convert(model, X5, options={"dynamic_axes": {"input": {1: "T"}}})


@tf.function
def summed(x: Any) -> Any:
    return tf.reduce_sum(x, axis=1) * 2.0 + tf.cumsum(x, axis=1)[:, -1, :]


def test_tf_function_traced_from_the_sample_takes_dynamic_axes() -> None:
    fixed = og.convert(summed, X5)
    assert dims(fixed.model.graph.input) == [("x", ["N", 5, 3])]  # without the option: the sample's length
    conv = og.convert(summed, X5, options={"dynamic_axes": {"x": {1: "T"}}})
    assert dims(conv.model.graph.input) == [("x", ["N", "T", 3])]
    for x in (X9, X2):  # two lengths in a row: the reference is traced again for each
        assert og.validate(conv, data=x, reference=summed).passed
        np.testing.assert_allclose(run(conv, x), summed(x).numpy(), rtol=1e-5, atol=1e-5)


def test_tf_function_dynamic_axes_validated_like_pytorch() -> None:
    with pytest.raises(UnsupportedModelError, match="axis 0 is the batch"):
        og.convert(summed, X5, options={"dynamic_axes": {"x": [0]}})
    with pytest.raises(UnsupportedModelError, match="no input is called 'tokens'"):
        og.convert(summed, X5, options={"dynamic_axes": {"tokens": [1]}})
    with pytest.raises(UnsupportedModelError, match="unknown TensorFlow conversion options"):
        og.convert(summed, X5, options={"dynamic_axis": {"x": [1]}})


@tf.function
def masked(x: Any, mask: Any) -> Any:
    return tf.reduce_sum(x * tf.expand_dims(mask, -1), axis=1)


def test_a_mask_left_out_of_the_steps_length_is_named_with_the_option_that_shares_it() -> None:
    # the refusal said "(Graph execution error:): that axis does not vary in the model"; the mask, left at the
    # sample's length, is named with the option to give (found by helper-171)
    with pytest.raises(UnsupportedModelError) as caught:
        og.convert(masked, (X5, np.ones(X5.shape[:2], np.float32)), options={"dynamic_axes": {"x": {1: "T"}}})
    said = str(caught.value)
    assert "does not vary" not in said
    assert "Graph execution error" not in said
    assert "Axis 1 of 'mask'" in said
    assert "{'x': {1: 'T'}, 'mask': {1: 'T'}}" in said


@tf.function
def looped(x: Any) -> Any:
    total = x[:, 0]
    for t in range(1, x.shape[1]):  # a Python loop over the sample's steps
        total = total + x[:, t]
    return total


def test_tf_function_reading_the_length_as_a_number_is_refused_with_the_reason() -> None:
    with pytest.raises(UnsupportedModelError, match=r"cannot be traced with axis 1 \('T'\).*tf.shape\(x\)\[1\]"):
        og.convert(looped, X5, options={"dynamic_axes": {"x": {1: "T"}}})


class Projected(tf.Module):
    def __init__(self) -> None:
        super().__init__()
        self.w = tf.Variable(RNG.normal(size=(3, 2)).astype(np.float32))

    @tf.function(input_signature=[tf.TensorSpec([None, None, 3], tf.float32)])
    def __call__(self, x: Any) -> Any:
        return tf.einsum("btf,fo->bto", tf.cumsum(x, axis=1), self.w)


def test_tf_module_signature_none_axis_named_and_validated_at_other_lengths() -> None:
    model = Projected()
    conv = og.convert(model, X5)
    assert dims(conv.model.graph.input) == [("x", ["N", "x_axis1", 3])]
    assert dims(conv.model.graph.output) == [("output", ["N", "x_axis1", 2])]
    for x in (X9, X2):
        assert og.validate(conv, data=x, reference=model).passed
        np.testing.assert_allclose(run(conv, x), model(x).numpy(), rtol=1e-5, atol=1e-5)


def test_a_file_that_only_answers_at_the_sample_length_is_refused() -> None:
    """tf2onnx keeping the sample's length in the graph (here a Slice to 5 steps written as a constant) would hand
    back a file declaring the axis free that sums the wrong steps at any other length."""
    from onnx import TensorProto, helper

    from onnxgate.converters._tf_axes import declared_axes, prove_axes

    const = [helper.make_node("Constant", [], [n], value=helper.make_tensor(n, TensorProto.INT64, [1], [v]))
             for n, v in (("start", 0), ("end", 5), ("axis", 1))]
    graph = helper.make_graph(
        [*const, helper.make_node("Slice", ["x", "start", "end", "axis"], ["s"]),
         helper.make_node("ReduceSum", ["s", "axis"], ["output"], keepdims=0)],
        "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", "unk__1", 3])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, ["N", 3])])
    proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    lengths = declared_axes(["x"], [[None, None, 3]], {})
    with pytest.raises(UnsupportedModelError, match=r"answers for 'x_axis1' = 5 \(the sample's\) but not for 6"):
        prove_axes(proto, ["x"], [X5], lengths, lambda feeds: [feeds[0].sum(axis=1)], "f", "tensorflow")
