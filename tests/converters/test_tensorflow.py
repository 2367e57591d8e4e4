"""TensorFlow conversion: zoo entries at every opset, SavedModel folders, honest opsets, refused graphs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from _tampering import outputs_swapped

import onnxgate as og
from onnxgate._data import as_feeds
from onnxgate._onnx import ir_version_for_opset, model_opsets
from onnxgate.converters import registry

tf = pytest.importorskip("tensorflow")
pytest.importorskip("tf2onnx")

TF_ENTRIES = og.zoo.names("tensorflow")
OPSETS = (9, 11, 13, 15, 17, 18)


@pytest.fixture(scope="module")
def built() -> dict[str, tuple[Any, Any, Any]]:
    return {name: og.zoo.get(name).build() for name in TF_ENTRIES}


@pytest.fixture(scope="module")
def saved_dir(built: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> Path:
    model, _X, _y = built["tensorflow-diabetes-mlp"]
    return registry.get("tensorflow").save_native(model, tmp_path_factory.mktemp("tf"))


def _run(conv: og.Conversion, X: Any) -> list[np.ndarray]:
    import onnxruntime as ort

    sess = ort.InferenceSession(conv.model.SerializeToString(), providers=["CPUExecutionProvider"])
    return sess.run(None, as_feeds(X, conv.signature))


def _assert_close(got: np.ndarray, want: np.ndarray, atol: float, rtol: float) -> None:
    np.testing.assert_allclose(np.asarray(got, np.float64), np.asarray(want, np.float64), atol=atol, rtol=rtol)


def test_zoo_covers_the_tensorflow_converter() -> None:
    assert set(TF_ENTRIES) >= {"tensorflow-diabetes-mlp", "tensorflow-digits-convnet"}


@pytest.mark.parametrize("opset", OPSETS)
@pytest.mark.parametrize("name", TF_ENTRIES)
def test_zoo_entry_converts_and_matches(built: dict[str, Any], name: str, opset: int) -> None:
    entry = og.zoo.get(name)
    assert opset in entry.opsets
    model, X, _y = built[name]
    conv = og.convert(model, X[:5], opset=opset)
    assert conv.framework == "tensorflow"
    assert conv.requested_opset == opset
    assert conv.opset == opset == model_opsets(conv.model)[""]
    assert conv.ir_version == ir_version_for_opset(opset)
    # One batch-axis name on every input and output, not tf2onnx's unk__<n>.
    for spec in [*conv.signature.inputs, *conv.signature.outputs]:
        assert spec.shape is not None and spec.shape[0] == "N", spec
    assert conv.signature.output_names == ["output"]
    rows = X[:37]  # a batch size different from the 5-row sample
    (got,) = _run(conv, rows)
    (want,) = registry.get("tensorflow").predict(model, as_feeds(rows, conv.signature), conv.signature)
    assert got.shape[0] == 37
    _assert_close(got, want, entry.atol, entry.rtol)


def test_names_come_from_the_signature(built: dict[str, Any]) -> None:
    model, _X, _y = built["tensorflow-digits-convnet"]
    conv = og.convert(model, opset=13)  # no sample: the input signature fixes the shapes
    assert conv.signature.input_names == ["image"]
    assert conv.signature.inputs[0].shape == ("N", 8, 8, 1)
    assert conv.signature.outputs[0].shape == ("N", 10)


@pytest.mark.parametrize("opset", [19, 21])
def test_opsets_above_18_raise_naming_18(built: dict[str, Any], opset: int) -> None:
    model, X, _y = built["tensorflow-diabetes-mlp"]
    with pytest.raises(og.OpsetError, match=r"at most opset 18") as info:
        og.convert(model, X[:5], opset=opset)
    assert info.value.max_opset == 18


def test_tf2onnx_limit_is_enforced_below_the_registry(built: dict[str, Any]) -> None:
    from onnxgate.converters.tensorflow import convert_traced

    model, _X, _y = built["tensorflow-diabetes-mlp"]
    traced = registry.get("tensorflow").traced(model, None)
    with pytest.raises(og.OpsetError, match=r"tf2onnx 1\.17 writes at most opset 18"):
        convert_traced(traced, opset=19, name=None, framework="tensorflow")


def test_sample_with_wrong_width_is_refused(built: dict[str, Any]) -> None:
    model, X, _y = built["tensorflow-diabetes-mlp"]
    with pytest.raises(og.InvalidDataError, match=r"input 'x' expects 10 values per row.*has 7"):
        og.convert(model, X[:5, :7])


def test_unsupported_tensorflow_op_is_refused_not_left_in_the_graph() -> None:
    fn = tf.function(lambda x: tf.math.igamma(x + 2.0, x + 1.0), input_signature=[tf.TensorSpec([None, 4], tf.float32)])
    with pytest.raises(og.UnsupportedModelError, match=r"Igamma \(x1\)"):
        og.convert(fn, opset=15)


def test_a_fixed_batch_in_the_signature_is_refused_with_the_free_spec() -> None:
    w = tf.constant(np.ones((10, 3), np.float32))
    fixed = tf.function(lambda x: tf.matmul(x, w), input_signature=[tf.TensorSpec([4, 10], tf.float32, name="x")])
    # as the PyTorch converter refuses a program exported with a fixed batch: the ONNX model would
    # only run on 4 rows
    with pytest.raises(og.UnsupportedModelError, match=r"'x' \(shape \[4, 10\]\) fix the batch size.*"
                       r"input_signature=\[tf\.TensorSpec\(\[None, 10\], tf\.float32\)\]"):
        og.convert(fixed, opset=15)
    free = tf.function(lambda x: tf.matmul(x, w), input_signature=[tf.TensorSpec([None, 10], tf.float32, name="x")])
    assert og.convert(free, opset=15).signature.inputs[0].shape == ("N", 10)


def test_a_scalar_input_is_refused_with_a_batch_axis_to_give_it() -> None:
    # helper-195: it converted, and validate then failed the file with "the check could not run on this model:
    # TypeError: object of type 'numpy.float32' has no len() (please report it)"
    scalar = tf.function(lambda x: tf.math.square(x) + 1.0, input_signature=[tf.TensorSpec([], tf.float32, name="x")])
    with pytest.raises(og.UnsupportedModelError, match=r"'x' are scalars \(shape \[\]\).*"
                       r"input_signature=\[tf\.TensorSpec\(\[None\], tf\.float32\)\]"):
        og.convert(scalar, np.float32(3.0), opset=15)


def test_a_module_whose_tf_function_is_a_named_method_is_refused_naming_the_methods() -> None:
    # helper-195: "expected a callable TensorFlow model, found Scaler" said nothing of m.scale, which converts
    class Scaler(tf.Module):
        def __init__(self) -> None:
            super().__init__()
            self.w = tf.Variable(2.0)
            self.shift = tf.function(lambda x: x + 1.0)

        @tf.function(input_signature=[tf.TensorSpec([None, 3], tf.float32)])
        def scale(self, x: Any) -> Any:
            return x * self.w

    m = Scaler()
    X = np.ones((2, 3), np.float32)
    with pytest.raises(og.UnsupportedModelError, match=r"found Scaler; .* tf\.function\(s\) 'scale', 'shift' "
                       r"convert on their own: pass one, e\.g\. og\.convert\(model\.scale, sample\)"):
        og.convert(m, X)
    assert og.convert(m.scale, X).signature.inputs[0].shape == ("N", 3)


def test_tf_function_without_signature_needs_a_sample() -> None:
    fn = tf.function(lambda x: tf.nn.relu(x) * 2.0)
    with pytest.raises(og.InvalidDataError, match="no input_signature"):
        og.convert(fn, opset=13)
    sample = np.linspace(-1, 1, 12, dtype=np.float32).reshape(3, 4)
    conv = og.convert(fn, sample, opset=13)
    assert conv.signature.inputs[0].shape == ("N", 4)
    (got,) = _run(conv, sample)
    np.testing.assert_allclose(got, np.maximum(sample, 0) * 2.0)
    (native,) = registry.get("tensorflow").predict(fn, {"input": sample}, conv.signature)
    np.testing.assert_allclose(native, got)


def test_module_whose_call_is_not_a_tf_function_is_refused() -> None:
    class Plain(tf.Module):
        def __call__(self, x: Any) -> Any:
            return x * 2.0

    with pytest.raises(og.UnsupportedModelError, match=r"Plain whose __call__ is not a tf\.function"):
        og.convert(Plain(), np.zeros((2, 3), np.float32))


def test_savedmodel_folder_round_trip(built: dict[str, Any], saved_dir: Path) -> None:
    model, X, _y = built["tensorflow-diabetes-mlp"]
    assert saved_dir.name == "saved_model" and (saved_dir / "saved_model.pb").is_file()
    converter = registry.for_file(saved_dir)
    assert converter.framework == "tensorflow"
    loaded = converter.load(saved_dir)
    for source in (loaded, saved_dir, str(saved_dir)):
        conv = og.convert(source, opset=15)
        assert conv.framework == "tensorflow"
        # save_native writes a serving signature keyed by the ONNX names, so they survive the trip.
        assert conv.signature.input_names == ["x"]
        assert conv.signature.output_names == ["output"]
        (got,) = _run(conv, X[:23])
        _assert_close(got, model(X[:23]).numpy(), 1e-5, 1e-4)
    (native,) = converter.predict(loaded, {"x": X[:9]}, conv.signature)
    _assert_close(native, model(X[:9]).numpy(), 1e-6, 1e-6)


def test_savedmodel_folder_through_the_cli(saved_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from onnxgate.cli import main

    out = tmp_path / "x.onnx"
    assert main(["convert", str(saved_dir) + "/", "--opset", "15", "-o", str(out)]) == 0
    assert "framework=tensorflow  opset=15" in capsys.readouterr().out
    import onnx

    proto = onnx.load(str(out))
    assert model_opsets(proto)[""] == 15
    assert proto.ir_version == ir_version_for_opset(15)


def test_cli_refuses_opset_19_with_exit_2(saved_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from onnxgate.cli import main

    assert main(["convert", str(saved_dir), "--opset", "19", "-o", str(tmp_path / "y.onnx")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "opset 18" in err[0]
    assert not (tmp_path / "y.onnx").exists()


def test_folder_without_saved_model_is_not_claimed(tmp_path: Path) -> None:
    converter = registry.get("tensorflow")
    assert not converter.claims_file(tmp_path)
    assert not converter.matches(tmp_path)
    with pytest.raises(og.UnsupportedModelError, match=r"saved_model\.pb"):
        converter.load(tmp_path)


def test_build_is_deterministic(built: dict[str, Any]) -> None:
    model, X, _y = built["tensorflow-digits-convnet"]
    again, X2, _y2 = og.zoo.get("tensorflow-digits-convnet").build()
    np.testing.assert_array_equal(X, X2)
    np.testing.assert_array_equal(model(X[:50]).numpy(), again(X[:50]).numpy())


def test_a_function_onnxruntime_optimises_into_an_invalid_graph_still_loads() -> None:
    # an exact and a tanh GELU side by side: onnxruntime's FastGeluFusion took the exact GELU's 0.5 * x for
    # the tanh one's and removed it, so the file failed to load at the default optimisation level (found by
    # helper-68); its multiplications by 0.5 are written as divisions by 2
    import onnxruntime as ort

    fn = tf.function(lambda x: tf.nn.gelu(x, approximate=False) + tf.nn.gelu(x, approximate=True),
                     input_signature=[tf.TensorSpec([None, 8], tf.float32)])
    x = np.random.default_rng(0).normal(size=(16, 8)).astype(np.float32)
    conv = og.convert(fn, opset=17)
    assert any("written as divisions by 2" in w for w in conv.warnings)
    ort.InferenceSession(conv.to_bytes(), providers=["CPUExecutionProvider"])
    assert og.validate(conv, reference=fn, data=x).passed


def test_a_segment_mean_is_refused_and_the_form_it_names_converts() -> None:
    # tf2onnx writes segment_mean as sum / count: NaN for a segment no row belongs to, where TensorFlow answers
    # 0; validate passed it on rows that filled every segment (helper-93)
    import onnxruntime as ort

    spec = [tf.TensorSpec([None, 4], tf.float32, name="x"), tf.TensorSpec([None], tf.int32, name="seg")]

    @tf.function(input_signature=spec)
    def mean(x: Any, seg: Any) -> Any:
        return tf.math.segment_mean(x, seg)

    with pytest.raises(og.UnsupportedModelError, match=r"tf2onnx writes it as a sum over a count, which is NaN"):
        og.convert(mean, opset=17)

    @tf.function(input_signature=spec)
    def safe(x: Any, seg: Any) -> Any:  # the form the message names
        return tf.math.segment_sum(x, seg) / tf.maximum(tf.math.segment_sum(tf.ones_like(x), seg), 1)

    conv = og.convert(safe, opset=17)
    session = ort.InferenceSession(conv.model.SerializeToString(), providers=["CPUExecutionProvider"])
    feed = {"x": np.arange(12, dtype=np.float32).reshape(3, 4), "seg": np.array([0, 2, 2], np.int32)}
    got = session.run(None, feed)[0]
    assert np.array_equal(got, mean(**feed).numpy()) and not np.isnan(got).any()


def test_a_tuple_of_outputs_listed_in_another_order_fails_parity() -> None:
    # matched by their names output_0/output_1 the swapped file passed, while a client reading outputs by position
    # got the function's second tensor first (helper-136)
    rng = np.random.default_rng(0)
    w1 = tf.Variable(rng.normal(size=(4, 2)).astype(np.float32))
    w2 = tf.Variable(rng.normal(size=(4, 2)).astype(np.float32))

    @tf.function(input_signature=[tf.TensorSpec([None, 4], tf.float32)])
    def heads(x: Any) -> Any:
        return tf.matmul(x, w1), tf.matmul(x, w2)

    X = rng.normal(size=(20, 4)).astype(np.float32)
    conv = og.convert(heads, X)
    assert og.validate(conv, reference=heads, data=X).passed
    parity = og.validate(outputs_swapped(conv.model), reference=heads, data=X).check("prediction_parity")
    assert not parity.passed and "reading the outputs by position" in parity.message


def test_an_op_tf2onnx_cannot_write_is_traced_to_the_tf_call_and_what_converts_instead() -> None:
    # an antialiased or lanczos resize became ScaleAndTranslate, refused with "register a tf2onnx custom op handler"
    # (helper-179); an op without a known origin keeps that sentence
    lanczos = tf.function(lambda x: tf.image.resize(x, (5, 5), method="lanczos3"),
                          input_signature=[tf.TensorSpec([None, 8, 8, 3])])
    with pytest.raises(og.UnsupportedModelError, match=r"ScaleAndTranslate comes from .*tf\.image\.resize") as refused:
        og.convert(lanczos, opset=17)
    assert "interpolation='bilinear'" in str(refused.value) and "custom op handler" not in str(refused.value)
