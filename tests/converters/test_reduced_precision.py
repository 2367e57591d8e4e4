"""Reduced-precision and quantized models as users bring them: half and bfloat16 PyTorch modules, quantize_dynamic
and QAT modules, static quantization, Keras mixed_bfloat16, TensorFlow bfloat16 and fake quantization (helper-261)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

import onnxgate as og

torch = pytest.importorskip("torch")
ort = pytest.importorskip("onnxruntime")
nn = torch.nn

X = np.random.default_rng(0).normal(size=(64, 8)).astype(np.float32)


def _run(conv: og.Conversion, *feeds: np.ndarray) -> np.ndarray:
    session = ort.InferenceSession(conv.model.SerializeToString(), providers=["CPUExecutionProvider"])
    return session.run(None, {i.name: f for i, f in zip(session.get_inputs(), feeds)})[0]


def _mlp() -> Any:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 3)).eval()


class _HalfEmbeddingAndFeatures(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.embed = nn.Embedding(20, 8).half()  # the first parameter is half; the features stay float32
        self.head = nn.Linear(8, 2)

    def forward(self, ids: Any, x: Any) -> Any:
        return self.head(self.embed(ids).float().sum(1) + x)


def test_float32_features_beside_a_half_embedding_are_not_narrowed_to_float16() -> None:
    # before: the features input became float16 ("cast ... to torch.float16, the dtype the model computes in"), the
    # file 0.49 off torch on the user's float32 features, and validate (fed the narrowed sample) passed
    model = _HalfEmbeddingAndFeatures().eval()
    rng = np.random.default_rng(1)
    ids = rng.integers(0, 20, size=(64, 3))
    features = (rng.normal(size=(64, 8)) * 1000 + 0.3).astype(np.float32)
    conv = og.convert(model, (ids, features), opset=17)
    assert [i.elem_type for i in conv.signature.inputs] == ["int64", "float32"]
    with torch.no_grad():
        expected = model(torch.from_numpy(ids), torch.from_numpy(features)).numpy()
    np.testing.assert_allclose(_run(conv, ids, features), expected, rtol=1e-5, atol=1e-3)
    assert og.validate(conv).passed


def test_a_half_module_given_float32_rows_still_computes_in_float16() -> None:
    conv = og.convert(_mlp().half(), X, opset=17)
    assert conv.signature.inputs[0].elem_type == "float16"
    assert any("cast from torch.float32 to torch.float16" in w for w in conv.warnings)
    assert og.validate(conv).passed


class _Autocast(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.inner = _mlp()

    def forward(self, x: Any) -> Any:
        with torch.autocast("cpu", dtype=torch.bfloat16):
            return self.inner(x)


@pytest.mark.parametrize("build", [lambda: _mlp().to(torch.bfloat16), _Autocast], ids=["to-bfloat16", "autocast"])
def test_a_bfloat16_module_is_refused_saying_bfloat16(build: Any) -> None:
    # before: "in the types Sequential computes in (float64 as a rule ...)", and model.float(), which an autocast in
    # forward() does not undo
    with pytest.raises(og.UnsupportedModelError) as caught:
        og.convert(build().eval(), X, opset=17)
    said = str(caught.value)
    assert "bfloat16" in said and "float64" not in said and "model.half()" in said


class _Recurrent(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.lstm = nn.LSTM(8, 6, batch_first=True)
        self.head = nn.Linear(6, 2)

    def forward(self, x: Any) -> Any:
        return self.head(self.lstm(x)[0][:, -1])


@pytest.mark.parametrize(("build", "sample", "op"), [
    (lambda: torch.ao.quantization.quantize_dynamic(_mlp(), {nn.Linear}, dtype=torch.qint8), X,
     "quantized::linear_dynamic"),
    (lambda: torch.ao.quantization.quantize_dynamic(_Recurrent().eval(), {nn.LSTM}, dtype=torch.qint8),
     np.zeros((4, 5, 8), np.float32), "aten::quantized_lstm"),
], ids=["Linear", "LSTM"])
def test_a_dynamically_quantized_module_is_refused_naming_the_layer_and_the_fix(build: Any, sample: Any,
                                                                                op: str) -> None:
    # before: both exporters' messages ("LinearPackedParamsBase ... does not have a field with name
    # '__obj_flatten__'", an LSTM's "Only tuples, lists and Variables are supported as JIT inputs/outputs") and
    # "Replace the operator with ones ONNX supports"
    model = build()
    with pytest.raises(og.UnsupportedModelError) as caught:
        og.convert(model, sample, opset=17)
    said = str(caught.value)
    assert "quantize_dynamic" in said and op in said and "onnxruntime.quantization.quantize_dynamic" in said
    assert "Replace the operator" not in said


def test_a_qat_prepared_module_is_refused_with_the_convert_step() -> None:
    # before: "Exporting the operator 'aten::fused_moving_avg_obs_fake_quant' ... is not supported", and the dynamo
    # exporter's "No ONNX function found", with "Replace the operator"
    model = _Stubbed().train()
    model.qconfig = torch.ao.quantization.get_default_qat_qconfig("x86")
    prepared = torch.ao.quantization.prepare_qat(model)
    with pytest.raises(og.UnsupportedModelError) as caught:
        og.convert(prepared, X, opset=17)
    said = str(caught.value)
    assert "prepare_qat" in said and "torch.ao.quantization.convert(model.eval())" in said
    assert prepared.training  # left in the mode it was in


class _Stubbed(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.quant = torch.ao.quantization.QuantStub()
        self.body = _mlp()
        self.dequant = torch.ao.quantization.DeQuantStub()

    def forward(self, x: Any) -> Any:
        return self.dequant(self.body(self.quant(x)))


def test_a_static_quantized_module_one_step_off_is_told_the_step() -> None:
    # the file rounds in float between QuantizeLinear and DequantizeLinear, torch in integers: 1 value of 192 one
    # step (0.00864) off; before, the failure said only "max_abs=8.6e-03 (atol 1e-04)"
    engine = torch.backends.quantized.engine
    torch.backends.quantized.engine = "x86"
    try:
        model = _Stubbed().eval()
        model.qconfig = torch.ao.quantization.get_default_qconfig("x86")
        prepared = torch.ao.quantization.prepare(model)
        prepared(torch.from_numpy(X))
        quantized = torch.ao.quantization.convert(prepared)
    finally:
        torch.backends.quantized.engine = engine
    conv = og.convert(quantized, X, opset=17)
    step = float(quantized.body[2].scale)
    report = og.validate(conv)
    parity = report.check("prediction_parity")
    if parity.passed:
        pytest.skip("no value fell on a step's boundary on this CPU")
    assert "one step off" in parity.message
    suggested = float(re.search(r"pass atol=([0-9.e+-]+)", parity.message).group(1))  # type: ignore[union-attr]
    assert step <= suggested <= step * 1.01
    assert og.validate(conv, atol=suggested).passed  # the tolerance the message gives passes (the scale did not)


@pytest.fixture
def keras_policy() -> Iterator[Any]:
    keras = pytest.importorskip("keras")
    pytest.importorskip("tf2onnx")
    if keras.config.backend() != "tensorflow":
        pytest.skip("converts through tf2onnx (TensorFlow backend)")
    before = keras.config.dtype_policy()
    yield keras
    keras.config.set_dtype_policy(before)


def test_a_mixed_bfloat16_keras_model_is_refused_not_written_unloadable(keras_policy: Any) -> None:
    # before: a file typed float16 at the edges with bfloat16 weights, which onnxruntime refused ("MatMul bound to
    # different types (tensor(float16) and tensor(bfloat16))"), handed back without a word
    keras = keras_policy
    keras.config.set_dtype_policy("mixed_bfloat16")
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((8,)), keras.layers.Dense(16, activation="relu"),
                              keras.layers.Dense(3, dtype="float32")])
    keras.config.set_dtype_policy("float32")
    with pytest.raises(og.UnsupportedModelError, match=r"bfloat16.*set_weights"):
        og.convert(model, X, opset=17)


def test_a_bfloat16_tensorflow_function_is_refused() -> None:
    tf = pytest.importorskip("tensorflow")
    pytest.importorskip("tf2onnx")
    weights = tf.constant(np.ones((8, 3)), dtype=tf.bfloat16)
    fn = tf.function(lambda x: tf.matmul(x, weights), input_signature=[tf.TensorSpec((None, 8), tf.bfloat16)])
    with pytest.raises(og.UnsupportedModelError, match="computes in bfloat16"):
        og.convert(fn, opset=17)


@pytest.mark.parametrize(("quantize", "before"), [
    (lambda tf, x: tf.quantization.fake_quant_with_min_max_vars(x, min=-2.0, max=2.0, num_bits=8), "wrong"),
    (lambda tf, x: tf.quantization.fake_quant_with_min_max_args(x, min=-0.3, max=3.7, num_bits=7,
                                                                narrow_range=True), "refused"),
], ids=["vars-8-bits", "args-7-bits-narrow"])
def test_tensorflow_fake_quantization_keeps_tensorflow_s_range(quantize: Any, before: str) -> None:
    # before: tf2onnx's zero point 128 where TensorFlow takes 127 for [-2, 2] (716 of 16000 values a step off at
    # the range's ends, validate failed), and a narrow range or 7 bits refused
    tf = pytest.importorskip("tensorflow")
    pytest.importorskip("tf2onnx")
    rows = (np.random.default_rng(3).normal(size=(500, 8)) * 1.5).astype(np.float32)
    fn = tf.function(lambda x: quantize(tf, x), input_signature=[tf.TensorSpec((None, 8), tf.float32)])
    conv = og.convert(fn, opset=17)
    assert {n.op_type for n in conv.model.graph.node} >= {"QuantizeLinear", "DequantizeLinear"}
    np.testing.assert_array_equal(_run(conv, rows), fn(rows).numpy())
    assert og.validate(conv, data=rows).passed
