"""TensorFlow/Keras: operations tf2onnx lacks but ONNX expresses (Erfc -> 1 - Erf), constants captured
by a function (Keras EfficientNet's Normalization), and the from_keras fallback path."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import onnxgate as og

tf = pytest.importorskip("tensorflow")
keras = pytest.importorskip("keras")
pytest.importorskip("tf2onnx")

pytestmark = pytest.mark.skipif(
    keras.config.backend() != "tensorflow", reason="these paths convert through tf2onnx (TensorFlow backend)"
)

RNG = np.random.default_rng(7)


def _gelu_dense() -> Any:
    keras.utils.set_random_seed(0)
    return keras.Sequential(
        [keras.Input((8,)), keras.layers.Dense(16, activation="gelu"), keras.layers.Dense(3, activation="gelu")]
    )


@pytest.mark.parametrize("opset", (9, 13, 18))
def test_keras_dense_with_exact_gelu_converts_with_parity(opset: int) -> None:
    model = _gelu_dense()
    X = (RNG.normal(size=(200, 8)) * 3).astype(np.float32)
    conv = og.convert(model, X[:5], opset=opset)
    ops = {n.op_type for n in conv.model.graph.node}
    assert "Erf" in ops and "Erfc" not in ops
    assert conv.opset <= opset
    report = og.validate(conv, target="container", reference=model, data=X)
    assert report.passed, str(report)


@pytest.mark.parametrize("opset", (13, 18))
def test_a_float64_function_with_activations_onnxruntime_has_no_double_kernel_for_runs_as_tensorflow(
        opset: int) -> None:
    # onnxruntime has no double Erf, Softplus, Elu or Selu: convert handed back a file no target loads, and only
    # validate's operators_supported said so; erfc was computed in float32 (5.5e-8 off TensorFlow at x = -0.6)
    import onnxruntime as ort

    fn = tf.function(lambda x: (tf.math.erf(x), tf.math.erfc(x), tf.math.softplus(x), tf.nn.elu(x), tf.nn.selu(x)),
                     input_signature=[tf.TensorSpec([None, 4], tf.float64)])
    X = np.linspace(-8.0, 8.0, 400).reshape(100, 4)
    conv = og.convert(fn, X[:5], opset=opset)
    got = ort.InferenceSession(conv.model.SerializeToString(), providers=["CPUExecutionProvider"]).run(
        None, {conv.signature.input_names[0]: X})
    for name, value, want in zip(("erf", "erfc", "softplus", "elu", "selu"), got, fn(X)):
        assert value.dtype == np.float64, name
        np.testing.assert_allclose(value, want.numpy(), rtol=1e-12, atol=1e-14, err_msg=name)
    assert og.validate(conv, reference=fn, data=X).passed


def test_tf_math_erfc_function_converts_with_parity() -> None:
    # tf.math.erfc itself: its signature also holds name=None, which the reference call keeps
    fn = tf.function(tf.math.erfc, input_signature=[tf.TensorSpec([None, 4], tf.float32, name="x")])
    X = np.linspace(-4, 4, 400, dtype=np.float32).reshape(100, 4)
    conv = og.convert(fn, X[:5], opset=13)
    got = conv.model  # the rewrite: 1 - Erf(x)
    assert {n.op_type for n in got.graph.node} >= {"Erf", "Sub"}
    report = og.validate(conv, reference=fn, data=X)
    assert report.passed, str(report)
    # the function really is erfc, not erf: erfc(-4) ~ 2, erfc(4) ~ 0
    import onnxruntime as ort

    out = ort.InferenceSession(got.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, {"x": X})[0]
    assert out[0, 0] == pytest.approx(2.0, abs=1e-6) and out[-1, -1] == pytest.approx(0.0, abs=1e-6)


@pytest.mark.parametrize("dtype", [tf.int32, tf.int64, tf.float32])
@pytest.mark.parametrize("opset", (9, 17))
def test_floor_division_rounds_down_for_negative_integers(dtype: Any, opset: int) -> None:
    # tf2onnx wrote integer FloorDiv as Div, which rounds toward zero: floordiv(-7, 3) was -2, TensorFlow's -3,
    # on 160 of 200 rows; FloorMod followed (helper-82). Divisors of both signs, by a constant and by a column
    import onnxruntime as ort

    fn = tf.function(lambda x: (tf.math.floordiv(x, 3), tf.math.floordiv(x * 7, -4), tf.math.floormod(x * 7, 5),
                                tf.math.floormod(x, -3), tf.math.floordiv(x[:, :1], x[:, 1:] + 200)),
                     input_signature=[tf.TensorSpec([None, 4], dtype, name="x")])
    X = np.random.default_rng(4).integers(-100, 100, size=(200, 4)).astype(dtype.as_numpy_dtype)
    conv = og.convert(fn, X[:5], opset=opset)
    session = ort.InferenceSession(conv.model.SerializeToString(), providers=["CPUExecutionProvider"])
    for got, want in zip(session.run(None, {"x": X}), fn(X)):
        np.testing.assert_array_equal(got, want.numpy())
    assert og.validate(conv, reference=fn, data=X).passed


def test_the_lowest_integer_over_minus_one_does_not_kill_the_process() -> None:
    # TensorFlow answers the lowest integer; onnxruntime's Div traps (SIGFPE): validate's process died on one
    # such row (helper-114)
    fn = tf.function(lambda a, b: (a // b, tf.math.floormod(a, b)),
                     input_signature=[tf.TensorSpec([None, 3], tf.int32)] * 2)
    a = np.array([[-7, 7, np.iinfo(np.int32).min]], np.int32)
    b = np.array([[2, -2, -1]], np.int32)
    conv = og.convert(fn, (np.ones((2, 3), np.int32), np.ones((2, 3), np.int32)), opset=17)
    assert og.validate(conv, reference=fn, data=dict(zip(conv.signature.input_names, (a, b)))).passed


@pytest.mark.parametrize("opset", (13, 18))
def test_atan2_answers_as_tensorflow_at_signed_zeros_and_infinities(opset: int) -> None:
    # tf2onnx's Atan2 answered pi for atan2(-0.0, -1) (TensorFlow: -pi), 0 for atan2(0, -0.0) (pi) and otherwise
    # than TensorFlow for two infinities: 9 of 64 pairs, convert silent
    import onnxruntime as ort

    values = np.array([0.0, -0.0, 1.0, -1.0, 2.5, -3.0, np.inf, -np.inf], np.float32)
    y, x = np.repeat(values, 8).reshape(-1, 1), np.tile(values, 8).reshape(-1, 1)
    fn = tf.function(lambda a, b: tf.math.atan2(a, b), input_signature=[tf.TensorSpec([None, 1], tf.float32)] * 2)
    conv = og.convert(fn, (y[:4], x[:4]), opset=opset)
    got = ort.InferenceSession(conv.model.SerializeToString()).run(None, dict(zip(conv.signature.input_names, (y, x))))
    np.testing.assert_allclose(got[0], fn(y, x).numpy(), atol=1e-6)


@pytest.mark.parametrize("opset", (11, 13, 18))
@pytest.mark.parametrize("dtype", ("float32", "float64"))
@pytest.mark.parametrize("op", ("argmax", "argmin"))
def test_keras_argmax_and_argmin_on_floats_rank_negative_zero_as_keras(op: str, dtype: str, opset: int) -> None:
    # Keras 3 tells -0.0 from 0.0 through tf.bitcast(x, tf.int32) & INT32_MIN: refused as "Bitcast (x1)"
    # (found by helper-195). Keras ranks -0.0 below 0.0: argmax([-0.0, 0.0, -1]) is 1, numpy's 0
    import onnxruntime as ort

    inp = keras.Input((3,), dtype=dtype)
    model = keras.Model(inp, keras.layers.Lambda(lambda t: getattr(keras.ops, op)(t, axis=-1))(inp))
    rows = np.array([[0.0, -0.0, -1.0], [-0.0, 0.0, -1.0], [0.0, -0.0, 1.0], [-0.0, -0.0, -2.0], [-0.0, -1.0, -0.0],
                     [1.0, 1.0, 0.0], [-1.0, -0.0, -3.0], [0.0, 0.0, 0.0], [np.inf, -np.inf, -0.0]], dtype)
    X = np.concatenate([rows, RNG.normal(size=(40, 3)).astype(dtype)])
    conv = og.convert(model, X[:4], opset=opset)
    (got,) = ort.InferenceSession(conv.model.SerializeToString()).run(None, {conv.signature.input_names[0]: X})
    expected = model.predict(X, verbose=0)
    np.testing.assert_array_equal(got, expected)
    assert (expected[:3] != getattr(np, op)(rows[:3], axis=-1)).any()  # the rows where -0.0 counts
    assert og.validate(conv, reference=model, data=X).passed


def test_a_bare_keras_signbit_stays_refused_as_it_would_read_a_nans_sign() -> None:
    # only the argmax form is rewritten: there the sign is read where x == 0, never for a NaN
    inp = keras.Input((3,))
    model = keras.Model(inp, keras.layers.Lambda(lambda t: keras.ops.cast(keras.ops.signbit(t), "float32"))(inp))
    with pytest.raises(og.errors.UnsupportedModelError, match=r"Bitcast \(x1\)"):
        og.convert(model, np.zeros((4, 3), np.float32))


@pytest.mark.parametrize("opset", (9, 13, 18))
def test_tf_where_takes_the_chosen_value_only(opset: int) -> None:
    # tf2onnx writes tf.where(c, a, b) as c*a + (1-c)*b: an infinity or NaN in the branch not taken made the
    # answer NaN. tf.where(x != 0, 1/x, 0) answered NaN at 0, an ELU-style where(x > 0, x, exp(x) - 1) NaN
    # at 100 (helper-96); both are ONNX Where now
    import onnxruntime as ort

    spec = [tf.TensorSpec([None, 4], tf.float32)]
    safe_div = tf.function(lambda x: tf.where(tf.not_equal(x, 0.0), 1.0 / x, tf.zeros_like(x)), input_signature=spec)
    elu = tf.function(lambda x: tf.where(x > 0, x, tf.exp(x) - 1), input_signature=spec)
    X = np.array([[1.0, 0.0, -4.0, 2.0], [100.0, -100.0, 0.0, 1e3]], np.float32)
    for fn in (safe_div, elu):
        conv = og.convert(fn, X[:1], opset=opset)
        session = ort.InferenceSession(conv.to_bytes(), providers=["CPUExecutionProvider"])
        out = session.run(None, {session.get_inputs()[0].name: X})[0]
        assert np.isfinite(out).all() and np.abs(out - fn(X).numpy()).max() < 1e-6
        assert og.validate(conv, reference=fn, data=X).passed
    integers = tf.function(lambda x: tf.where(x > 0, x, -x), input_signature=[tf.TensorSpec([None, 4], tf.int64)])
    rows = np.array([[1, -2, 3, -4]], np.int64)
    session = ort.InferenceSession(og.convert(integers, rows, opset=opset).to_bytes(),
                                   providers=["CPUExecutionProvider"])
    assert session.run(None, {session.get_inputs()[0].name: rows})[0].tolist() == [[1, 2, 3, 4]]


@pytest.mark.parametrize("opset", (9, 13, 18))
def test_one_hot_of_a_negative_id_is_off_everywhere_as_in_tensorflow(opset: int) -> None:
    # ONNX's OneHot counts a negative index from the end: tf.one_hot(-1, 4), all zeros in TensorFlow, came out
    # [0, 0, 0, 1] and validate passed on rows without negatives (helper-96)
    import onnxruntime as ort

    for dtype, kwargs in ((tf.int32, {}), (tf.int64, {"on_value": 5.0, "off_value": -1.0, "axis": 0})):
        fn = tf.function(lambda ids, kwargs=kwargs: tf.one_hot(ids, 4, **kwargs),
                         input_signature=[tf.TensorSpec([None, 2], dtype)])
        ids = np.array([[0, 3], [-1, 4], [-4, -5], [2, 1]], dtype.as_numpy_dtype)
        conv = og.convert(fn, ids[:1], opset=opset)
        session = ort.InferenceSession(conv.to_bytes(), providers=["CPUExecutionProvider"])
        np.testing.assert_array_equal(session.run(None, {session.get_inputs()[0].name: ids})[0], fn(ids).numpy())


@pytest.mark.parametrize("opset", (13, 18))
def test_a_resize_to_a_size_its_float32_scale_falls_short_of_passes_validate(opset: int) -> None:
    # tf2onnx's scale 11/7 in float32 is 1.5714285, 7 x that 10.99999976: ONNX shape inference said 10 where the
    # output is declared 11, and validate's model_wellformed failed a Resizing(8, 11) file that scores right
    # (helper-96)
    import onnxruntime as ort

    keras.utils.set_random_seed(0)
    X = RNG.uniform(0, 255, size=(6, 5, 7, 3)).astype(np.float32)
    model = keras.Sequential([keras.Input((5, 7, 3)), keras.layers.Resizing(8, 11), keras.layers.Rescaling(1 / 255)])
    conv = og.convert(model, X[:2], opset=opset)
    assert og.validate(conv, target="container", reference=model, data=X).passed
    session = ort.InferenceSession(conv.to_bytes(), providers=["CPUExecutionProvider"])
    out = session.run(None, {"input": X})[0]
    assert out.shape == (6, 8, 11, 3) and np.abs(out - np.asarray(model(X))).max() < 1e-5


def test_resizes_tf2onnx_writes_otherwise_than_tensorflow_are_refused_by_name() -> None:
    # 'area' shrinking came out 2.3 off on 8x8 -> 4x4 images of N(0, 1) values; a 'bicubic' shrink gave a file
    # onnxruntime cannot load; convert handed both back without a word (helper-96)
    import onnxruntime as ort

    def resize(size: tuple[int, int], method: str, source: tuple[int, int] = (8, 8)) -> Any:
        return tf.function(lambda x: tf.image.resize(x, size, method=method),
                           input_signature=[tf.TensorSpec([None, *source, 2], tf.float32)])

    with pytest.raises(og.UnsupportedModelError, match=r"method='area' from 8x8 to 4x4.*AveragePooling2D"):
        og.convert(resize((4, 4), "area"), opset=17)
    with pytest.raises(og.UnsupportedModelError, match=r"method='bicubic' from 8x8 to 4x4.*cannot load"):
        og.convert(resize((4, 4), "bicubic"), opset=17)
    shrinking = keras.Sequential([keras.Input((8, 8, 2)), keras.layers.Resizing(4, 4, interpolation="area")])
    with pytest.raises(og.UnsupportedModelError, match=r"method='area' from 8x8 to 4x4"):  # no from_keras fallback
        og.convert(shrinking, np.zeros((1, 8, 8, 2), np.float32), opset=17)  # (whose file matched this sample)
    X = RNG.normal(size=(3, 4, 4, 2)).astype(np.float32)
    for method in ("area", "bicubic"):  # enlarging by whole factors: the files are right
        fn = resize((8, 8), method, source=(4, 4))
        session = ort.InferenceSession(og.convert(fn, opset=17).to_bytes(), providers=["CPUExecutionProvider"])
        assert np.abs(session.run(None, {session.get_inputs()[0].name: X})[0] - fn(X).numpy()).max() < 1e-5


def test_a_string_lookup_converts_with_the_shape_onnx_infers_for_its_output() -> None:
    # TensorFlow traces no rank for the table lookup and tf2onnx left the output without a shape: convert
    # refused "fails the ONNX checker" while the raw file scored every row right (helper-96)
    import onnxruntime as ort

    words = keras.Input((1,), dtype="string")
    model = keras.Model(words, keras.layers.StringLookup(vocabulary=["a", "b", "c"])(words))
    X = np.array([["a"], ["c"], ["zz"], [""], ["b"], ["A"]], dtype=object)
    conv = og.convert(model, X[:2], opset=17)
    session = ort.InferenceSession(conv.to_bytes(), providers=["CPUExecutionProvider"])
    out = session.run(None, {session.get_inputs()[0].name: X})[0]
    assert out.ravel().tolist() == np.asarray(model(X)).ravel().tolist() == [1, 3, 0, 0, 2, 0]


@pytest.mark.parametrize("opset", (13, 18))
def test_a_negative_id_into_a_table_is_refused_where_tensorflow_refuses_it(opset: int) -> None:
    # ONNX's Gather counts a negative index from the end: tf.gather(table, -1), which TensorFlow refuses, answered
    # the last row, and so did a Keras Embedding given -11 for 10 rows (Keras adds the size to a negative id once,
    # and refuses what is still negative); helper-96
    import onnxruntime as ort

    table = tf.constant(np.arange(30, dtype=np.float32).reshape(10, 3))
    gather = tf.function(lambda ids: tf.gather(table, ids), input_signature=[tf.TensorSpec([None, 2], tf.int32)])
    keras.utils.set_random_seed(0)
    ids = keras.Input((2,), dtype="int32")
    embedding = keras.Model(ids, keras.layers.Embedding(10, 3)(ids))
    ok = np.array([[0, 1], [9, 2]], np.int32)
    for model, accepted, refused in ((gather, [], [[-1, 0], [0, -10]]), (embedding, [[-1, 0]], [[-11, 0]])):
        conv = og.convert(model, ok, opset=opset)
        session = ort.InferenceSession(conv.to_bytes(), providers=["CPUExecutionProvider"])
        name = session.get_inputs()[0].name
        for rows in [ok.tolist(), *([row] for row in accepted)]:
            x = np.array(rows, np.int32)
            assert np.abs(session.run(None, {name: x})[0] - np.asarray(model(x))).max() < 1e-6
        for row in refused:
            x = np.array([row], np.int32)
            with pytest.raises(Exception):  # noqa: B017  TensorFlow's own error
                model(x)
            with pytest.raises(Exception, match="out of data bounds"):
                session.run(None, {name: x})


def test_an_output_tf2onnx_left_without_a_shape_gets_tensorflows() -> None:
    # tf.einsum at opset 13: tf2onnx's reshapes hid the output's rank, the ONNX checker refused the file, and the
    # raw file ran and was right (helper-82)
    rng = np.random.default_rng(4)

    class Quadratic(tf.Module):
        def __init__(self) -> None:
            self.w = tf.Variable(rng.normal(size=(6, 6)).astype(np.float32))

        @tf.function(input_signature=[tf.TensorSpec((None, 6), name="x")])
        def __call__(self, x: Any) -> Any:
            return tf.einsum("bi,ij,bj->b", x, self.w, x)

    model = Quadratic()
    X = rng.normal(size=(200, 6)).astype(np.float32)
    conv = og.convert(model, opset=13)
    dims = conv.model.graph.output[0].type.tensor_type.shape.dim
    assert len(dims) == 1 and dims[0].dim_param == "N"
    report = og.validate(conv, reference=model, data=X)
    assert report.passed, str(report)


def test_float64_exact_gelu_runs_in_onnxruntime() -> None:
    """onnxruntime has no double Erf kernel: the rewrite computes Erf in float32 between Casts."""
    fn = tf.function(
        lambda x: tf.nn.gelu(x, approximate=False), input_signature=[tf.TensorSpec([None, 4], tf.float64, name="x")]
    )
    X = np.linspace(-3, 3, 80).reshape(20, 4)
    conv = og.convert(fn, X[:5], opset=13)
    assert conv.signature.inputs[0].elem_type == "float64"
    report = og.validate(conv, target="container", reference=fn, data=X)
    assert report.passed, str(report)


@pytest.fixture(scope="module")
def efficientnet() -> Any:
    keras.utils.set_random_seed(0)
    # weights=None builds the network without downloading; 32x32 is the smallest input it takes
    return keras.applications.EfficientNetB0(weights=None, input_shape=(32, 32, 3), classes=10)


@pytest.mark.slow
def test_efficientnet_b0_with_captured_normalization_constants_converts(efficientnet: Any) -> None:
    X = RNG.uniform(0, 255, size=(6, 32, 32, 3)).astype(np.float32)
    conv = og.convert(efficientnet, X[:2], opset=17)
    assert [i.name for i in conv.model.graph.input] == ["input"]  # mean/variance folded, not inputs
    assert not any("from_keras" in w for w in conv.warnings)  # the traced path did it
    report = og.validate(conv, target="container", reference=efficientnet, data=X)
    assert report.passed, str(report)


def test_from_keras_is_the_fallback_when_the_traced_path_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    from onnxgate.converters import keras as keras_module

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise og.UnsupportedModelError("the traced path failed on purpose")

    monkeypatch.setattr(keras_module, "convert_traced", broken)
    model = _gelu_dense()
    X = RNG.normal(size=(50, 8)).astype(np.float32)
    conv = og.convert(model, X[:5], opset=15)
    assert any("tf2onnx.convert.from_keras" in w and "failed on purpose" in w for w in conv.warnings)
    assert conv.signature.input_names == ["input"] and conv.signature.output_names == ["output"]
    assert list(conv.signature.inputs[0].shape) == ["N", 8]
    report = og.validate(conv, target="container", reference=model, data=X)
    assert report.passed, str(report)


def test_a_fallback_file_that_disagrees_with_keras_is_not_handed_back(monkeypatch: pytest.MonkeyPatch) -> None:
    import tf2onnx

    from onnxgate.converters import keras as keras_module

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise og.UnsupportedModelError("the traced path failed on purpose")

    other = _gelu_dense()
    keras.utils.set_random_seed(1)
    other.set_weights([w + 1.0 for w in other.get_weights()])
    real = tf2onnx.convert.from_keras

    def wrong_model(model: Any, **kwargs: Any) -> Any:  # a converter that writes another model's weights
        return real(keras.Model(other.inputs, other.outputs), **kwargs)

    monkeypatch.setattr(keras_module, "convert_traced", broken)
    monkeypatch.setattr(tf2onnx.convert, "from_keras", wrong_model)
    X = RNG.normal(size=(20, 8)).astype(np.float32)
    with pytest.raises(og.UnsupportedModelError, match=r"failed on purpose; tf2onnx.convert.from_keras wrote a "
                                                       r"model whose outputs differ from Keras' on the sample"):
        og.convert(_gelu_dense(), X[:5], opset=15)


def test_a_fallback_file_right_only_on_a_sample_of_zeros_is_not_handed_back(monkeypatch: pytest.MonkeyPatch) -> None:
    # the fallback's file was checked on the sample alone: a Keras 'area' resize, written as another
    # interpolation, matched a sample of zeros and was handed back. The sample moved by noise is checked too
    import tf2onnx

    from onnxgate.converters import keras as keras_module

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise og.UnsupportedModelError("the traced path failed on purpose")

    other = _gelu_dense()
    weights = other.get_weights()
    other.set_weights([weights[0] + 1.0, *weights[1:]])  # another first kernel: the same answer for zeros
    real = tf2onnx.convert.from_keras

    def wrong_model(model: Any, **kwargs: Any) -> Any:
        return real(keras.Model(other.inputs, other.outputs), **kwargs)

    monkeypatch.setattr(keras_module, "convert_traced", broken)
    monkeypatch.setattr(tf2onnx.convert, "from_keras", wrong_model)
    with pytest.raises(og.UnsupportedModelError, match=r"differ from Keras' on the sample moved by random noise"):
        og.convert(_gelu_dense(), np.zeros((5, 8), np.float32), opset=15)


def _group_max(values: Any, groups: Any) -> Any:
    # the largest value of each row's groups 0, 1, 2: one unsorted_segment_max over ids group + 3 * row
    rows = tf.shape(values)[0]
    ids = tf.reshape(groups + 3 * tf.range(rows)[:, None], [-1])
    return tf.reshape(tf.math.unsorted_segment_max(tf.reshape(values, [-1]), ids, 3 * rows), [rows, 3])


def test_an_empty_segment_answers_as_tensorflow_where_rows_filling_every_segment_validated() -> None:
    # tf2onnx answered -inf for a group a row lacks (TensorFlow: float32's lowest value); validate passed the file
    # on rows holding every group, and 117 of 200 rows of random groups differed (helper-153)
    fn = tf.function(_group_max, input_signature=[tf.TensorSpec([None, 4], tf.float32, name="v"),
                                                  tf.TensorSpec([None, 4], tf.int32, name="g")])
    values = RNG.normal(size=(200, 4)).astype(np.float32)
    every_group = np.array([RNG.permutation([0, 1, 2, 0]) for _ in range(200)], dtype=np.int32)
    conv = og.convert(fn, {"v": values[:5], "g": every_group[:5]}, opset=17)
    assert og.validate(conv, reference=fn, data={"v": values, "g": every_group}).passed
    groups = RNG.integers(0, 3, size=(200, 4)).astype(np.int32)
    import onnxruntime as ort

    session = ort.InferenceSession(conv.model.SerializeToString(), providers=["CPUExecutionProvider"])
    got = session.run(None, {"v": values, "g": groups})[0]
    np.testing.assert_array_equal(got, fn(values, groups).numpy())
    report = og.validate(conv, reference=fn, data={"v": values, "g": groups})
    assert report.passed, str(report)


@pytest.mark.parametrize("opset", (11, 17))
@pytest.mark.parametrize(("op", "ids", "segments"), [
    (tf.math.segment_max, [0, 0, 1, 1, 1, 3], None),  # segment 2 empty: 0 in TensorFlow (tf2onnx: -inf)
    (tf.math.segment_min, [0, 0, 1, 1, 1, 3], None),
    (tf.math.unsorted_segment_min, [3, 0, 0, 1, 1, 3], 5),  # empty: float32's highest (tf2onnx: inf)
    (tf.math.unsorted_segment_max, [-1, 0, 0, 4, 4, 2], 6),  # a negative id's value landed in empty segment 5
    (tf.math.unsorted_segment_sum, [-1, -1, 0, 0, 1, 2], 3),  # ... and in segment 2's slots: 8 for 6
    (tf.math.unsorted_segment_prod, [-1, -1, 0, 0, 1, 2], 3),
], ids=["segment_max", "segment_min", "unsorted_min", "unsorted_max_negative_id", "unsorted_sum_negative_ids",
        "unsorted_prod_negative_ids"])
def test_segment_reductions_answer_empty_segments_and_negative_ids_as_tensorflow(op: Any, ids: list[int],
                                                                                segments: int | None,
                                                                                opset: int) -> None:
    def columns(x: Any) -> Any:
        by_column = tf.transpose(x)
        return tf.transpose(op(by_column, ids) if segments is None else op(by_column, ids, segments))

    fn = tf.function(columns, input_signature=[tf.TensorSpec([None, 6], tf.float32, name="x")])
    X = np.array([[1, 2, 3, 4, 5, 6], [-1, -2, -3, -4, -5, -6], [-np.inf] * 6, [0, 1, -np.inf, 2, 3, np.inf]],
                 dtype=np.float32)
    conv = og.convert(fn, X, opset=opset)
    import onnxruntime as ort

    got = ort.InferenceSession(conv.model.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, {"x": X})
    np.testing.assert_array_equal(got[0], fn(X).numpy())


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("opset", (9, 13, 18))
def test_log1p_and_expm1_convert_as_precise_near_zero_as_tensorflow(opset: int, dtype: Any) -> None:
    # tf2onnx has neither: the model was refused ("Log1p ... is not supported"); helper-171
    import onnxruntime as ort

    x = np.array([0, 1e-30, -1e-12, 3e-8, -1e-6, 1e-4, 0.3, -0.5, -1, 5, 20, 89, 1e20, -30, -100, np.inf, -np.inf,
                  np.nan], dtype=dtype)
    spec = [tf.TensorSpec([None], tf.as_dtype(dtype), name="x")]
    for op in (tf.math.log1p, tf.math.expm1):
        fn = tf.function(op, input_signature=spec)
        conv = og.convert(fn, x[:4], opset=opset)
        got = ort.InferenceSession(conv.model.SerializeToString(), providers=["CPUExecutionProvider"]).run(
            None, {"x": x})[0]
        np.testing.assert_allclose(got, fn(x).numpy(), rtol=4 * np.finfo(dtype).eps, atol=0)  # NaN where TF's is


@pytest.mark.parametrize("opset", (10, 17))
def test_float64_log_and_logsumexp_stay_in_float64(opset: int) -> None:
    # tf2onnx wrote a float64 Log as Cast to float32, Log, Cast back: 3.3e-8 relative off TensorFlow (which
    # float64's rtol 1e-6 let pass) and -inf for log(1e-300), where TensorFlow answers -690.8
    import onnxruntime as ort
    from onnx import TensorProto

    x = np.array([[1e-300, 1 + 1e-12, 2.0000001, 3.3], [7e200, 0.1, 1e-5, 4.0], [0.0, np.inf, 1.0, np.nan]])
    x = np.concatenate([x, np.abs(RNG.normal(size=(30, 4))) * 5])
    fn = tf.function(lambda t: {"log": tf.math.log(t), "lse": tf.reduce_logsumexp(tf.math.log(t + 1.0), axis=1)},
                     input_signature=[tf.TensorSpec([None, 4], tf.float64, name="x")])
    conv = og.convert(fn, x[3:6], opset=opset)
    narrowing = [n.name for n in conv.model.graph.node if n.op_type == "Cast"
                 and any(a.name == "to" and a.i == TensorProto.FLOAT for a in n.attribute)]
    assert not narrowing
    got = dict(zip(conv.signature.output_names, ort.InferenceSession(
        conv.model.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, {"x": x})))
    want = fn(x)
    for name in ("log", "lse"):
        np.testing.assert_allclose(got[name], want[name].numpy(), rtol=4 * np.finfo(np.float64).eps, atol=0,
                                   err_msg=name)


def test_a_float64_log1p_and_where_for_sql_edge_1_0_compute_in_float32_where_its_runtime_has_no_double_kernel(
) -> None:
    # onnxruntime 1.5 (SQL Edge 1.0) has no double Log, Where nor Sigmoid: the file convert wrote for it passed
    # validate on the installed 1.32 and the database refused it at PREDICT time
    from onnxgate._kernels import kernel_gaps

    x = np.abs(RNG.normal(size=(40, 1))) + 0.01
    fn = tf.function(lambda t: tf.where(t > 1.0, tf.math.log1p(t), tf.math.sigmoid(t)),
                     input_signature=[tf.TensorSpec([None, 1], tf.float64, name="x")])
    edge1 = og.convert(fn, x[:5], target="sql-edge-1.0")
    assert not kernel_gaps(edge1.model, "onnxruntime 1.5.3")
    assert any("compute in float32 between Casts" in w and "(Where)" in w and "(Sigmoid)" in w
               for w in edge1.warnings)
    report = og.validate(edge1, target="sql-edge-1.0", reference=fn, data=x)
    assert report.passed, str(report)
    # SQL Edge 2.0's 1.12.1 has all three in double: they stay double there
    edge2 = og.convert(fn, x[:5], target="sql-edge-2.0")
    assert not [w for w in edge2.warnings if "float32 between Casts" in w]
    assert og.validate(edge2, target="sql-edge-2.0").passed


def test_keras_lambda_undoing_a_log_target_converts_with_parity() -> None:
    keras.utils.set_random_seed(0)
    inputs = keras.Input((6,))
    hidden = keras.layers.Dense(4)(inputs)
    outputs = keras.layers.Lambda(lambda t: tf.math.expm1(t) + tf.math.log1p(tf.nn.relu(t)))(hidden)
    model = keras.Model(inputs, outputs)
    X = RNG.normal(size=(200, 6)).astype(np.float32)
    conv = og.convert(model, X[:5], opset=13)
    report = og.validate(conv, target="container", reference=model, data=X)
    assert report.passed, str(report)


# ties with a boundary (upper bucket), below the first, above the last, -0.0 at 0, +-inf
_BUCKET_EDGES = [-1.0, 0.0, 0.5, 2.0]
_BUCKET_VALUES = [-5.0, -1.0, -0.9999, -0.0, 0.0, 0.25, 0.5, 1.0, 2.0, 3.0, 1e30, np.inf, -np.inf]


def _bucket_data() -> np.ndarray:
    ties = np.array(_BUCKET_VALUES * 3, dtype=np.float32)[:36].reshape(12, 3)
    return np.concatenate([ties, RNG.normal(size=(188, 3)).astype(np.float32) * 2])


@pytest.mark.parametrize("opset", (13, 18))
def test_keras_discretization_then_category_encoding_converts_with_parity(opset: int) -> None:
    # tf2onnx has no Bucketize: the model was refused ("Bucketize ... is not supported"); helper-174
    import onnxruntime as ort

    inputs = keras.Input((3,))
    bins = keras.layers.Discretization(bin_boundaries=_BUCKET_EDGES)(inputs)
    outputs = keras.layers.CategoryEncoding(num_tokens=len(_BUCKET_EDGES) + 1, output_mode="count")(bins)
    model = keras.Model(inputs, outputs)
    X = _bucket_data()
    conv = og.convert(model, X[:5], opset=opset)
    assert "Bucketize" not in {n.op_type for n in conv.model.graph.node}
    name = conv.model.graph.input[0].name
    got = ort.InferenceSession(conv.model.SerializeToString(), providers=["CPUExecutionProvider"]).run(
        None, {name: X})[0]
    np.testing.assert_array_equal(got, model.predict(X, verbose=0))
    report = og.validate(conv, target="container", reference=model, data=X)
    assert report.passed, str(report)


@pytest.mark.parametrize("opset", (13, 18))
def test_keras_adapted_discretization_then_embedding_and_dense_converts_with_parity(opset: int) -> None:
    import onnxruntime as ort

    keras.utils.set_random_seed(0)
    X = _bucket_data()
    bins = keras.layers.Discretization(num_bins=6)
    bins.adapt(RNG.normal(size=(500, 1)).astype(np.float32))
    edges = np.asarray(bins.bin_boundaries, dtype=np.float32)
    X[12:12 + len(edges), 0] = edges  # each learned boundary itself: the bucket above it
    inputs = keras.Input((3,))
    ids = bins(inputs)
    embedded = keras.layers.Flatten()(keras.layers.Embedding(6, 4)(ids))
    as_float = keras.layers.Lambda(lambda t: tf.cast(t, tf.float32))(ids)
    outputs = keras.layers.Dense(2)(keras.layers.Concatenate()([embedded, as_float]))
    model = keras.Model(inputs, outputs)
    conv = og.convert(model, X[:5], opset=opset)
    name = conv.model.graph.input[0].name
    got = ort.InferenceSession(conv.model.SerializeToString(), providers=["CPUExecutionProvider"]).run(
        None, {name: X})[0]
    np.testing.assert_allclose(got, model.predict(X, verbose=0), rtol=1e-6, atol=1e-6)
    assert np.array_equal(bins(X).numpy(), np.searchsorted(edges, X, side="right"))  # ties go up
    report = og.validate(conv, target="container", reference=model, data=X)
    assert report.passed, str(report)


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int32, np.int64])
@pytest.mark.parametrize("opset", (9, 13, 18))
def test_raw_bucketize_answers_as_tensorflow_for_ties_nan_inf_and_large_integers(opset: int, dtype: Any) -> None:
    import onnxruntime as ort

    if np.issubdtype(dtype, np.floating):
        x = np.array([*_BUCKET_VALUES, np.nan, 0.1], dtype=dtype)  # float64 0.1 is below float32 0.1
        edges = sorted([*_BUCKET_EDGES, 0.1 if dtype == np.float64 else 3.0])
    else:  # TensorFlow compares an integer with the float32 boundaries in float32: 33554435 -> 33554436
        x = np.array([-5, -1, 0, 1, 2, 3, 33554433, 33554435, -33554435], dtype=dtype)
        edges = [-1.0, 0.0, 2.0, 33554434.0, 33554436.0]
    spec = [tf.TensorSpec([None], tf.as_dtype(dtype), name="x")]
    for boundaries in (edges, []):
        fn = tf.function(lambda t, b=boundaries: tf.raw_ops.Bucketize(input=t, boundaries=b), input_signature=spec)
        conv = og.convert(fn, x[:4], opset=opset)
        got = ort.InferenceSession(conv.model.SerializeToString(), providers=["CPUExecutionProvider"]).run(
            None, {"x": x})[0]
        want = fn(x).numpy()
        assert got.dtype == want.dtype == np.int32
        np.testing.assert_array_equal(got, want)


def _integer_lookup(**options: Any) -> Any:
    width = 1 if options.get("output_mode") == "one_hot" else 3
    inputs = keras.Input((width,), dtype="int64")
    layer = keras.layers.IntegerLookup(**options)
    if "vocabulary" not in options:
        layer.adapt(np.array([12, 36, 36, 1138, 42, 42, 42, 7]))
    return keras.Model(inputs, layer(inputs))


_LOOKUPS = {
    "vocabulary": dict(vocabulary=[12, 36, 1138, 42]),
    "adapted_mask_two_oov": dict(mask_token=0, num_oov_indices=2),
    "invert_mask": dict(vocabulary=[12, 36, 1138, 42], invert=True, mask_token=0),
    "one_hot": dict(vocabulary=[12, 36, 1138, 42], output_mode="one_hot"),
    "multi_hot_mask": dict(vocabulary=[12, 36, 1138, 42], output_mode="multi_hot", mask_token=0),
}


@pytest.mark.parametrize("opset", (13, 17))
@pytest.mark.parametrize("options", list(_LOOKUPS.values()), ids=list(_LOOKUPS))
def test_keras_integer_lookup_converts_with_oov_and_mask_as_keras(options: dict[str, Any], opset: int) -> None:
    # refused: "layer 'integer_lookup' (IntegerLookup) computes TensorFlow operations tf2onnx cannot write ...
    # LookupTableFindV2": tf2onnx maps text-keyed tables only, and only on the from_keras path (helper-181)
    import onnxruntime as ort

    model = _integer_lookup(**options)
    if options.get("invert"):  # indices: the mask's, the OOV's, the vocabulary's, past it, negative
        X = np.array([[0, 1, 2], [5, 6, -1], [3, 4, 99]], dtype=np.int64)
    else:  # the vocabulary, the mask token 0, unseen values (negative ones take floormod's bucket)
        X = np.array([[12, 36, 1138], [42, 0, 7], [-5, 99, 2**40], [-1, 42, 0]], dtype=np.int64)
        X = X[:, :1] if options.get("output_mode") == "one_hot" else X
    conv = og.convert(model, X[:2], opset=opset)
    assert "LookupTableFindV2" not in {n.op_type for n in conv.model.graph.node}
    assert not any("from_keras" in w for w in conv.warnings), conv.warnings
    session = ort.InferenceSession(conv.to_bytes(), providers=["CPUExecutionProvider"])
    got = session.run(None, {session.get_inputs()[0].name: X})[0]
    want = model.predict(X, verbose=0)
    assert got.shape == want.shape and got.dtype == want.dtype
    np.testing.assert_array_equal(got, want)
    report = og.validate(conv, target="container", reference=model, data=X)
    assert report.passed, str(report)


@pytest.mark.parametrize(("keys", "values", "default", "rows"), [
    (tf.constant([3, -7, 100], tf.int32), tf.constant([0.5, -1.25, 7.0]), -2.5,
     np.array([[3, 1], [-7, 100]], np.int32)),
    (tf.constant([3, -7, 100], tf.int64), tf.constant([10, 20, 30], tf.int32), -1, np.array([[3, 1], [-7, 100]])),
    (tf.constant(["a", "b"]), tf.constant([5, 6], tf.int64), -9, np.array([["a", "zz"], ["b", ""]], dtype=object)),
], ids=["int32_to_float32", "int64_to_int32", "text_to_int64"])
def test_a_tf_lookup_table_a_function_captures_converts(keys: Any, values: Any, default: Any, rows: Any) -> None:
    import onnxruntime as ort

    table = tf.lookup.StaticHashTable(tf.lookup.KeyValueTensorInitializer(keys, values),
                                      tf.constant(default, values.dtype))
    fn = tf.function(lambda x: table.lookup(x), input_signature=[tf.TensorSpec([None, 2], keys.dtype, name="x")])
    conv = og.convert(fn, rows, opset=13)
    got = ort.InferenceSession(conv.to_bytes(), providers=["CPUExecutionProvider"]).run(None, {"x": rows})[0]
    want = fn(tf.constant(rows.astype(str) if rows.dtype == object else rows)).numpy()
    assert got.dtype == want.dtype
    np.testing.assert_array_equal(got, want)


def test_the_fallback_note_says_why_without_the_advice_of_a_refusal(monkeypatch: pytest.MonkeyPatch) -> None:
    # the note quoted the traced path's refusal: "... LookupTableFindV2 comes from a Keras IntegerLookup, StringLookup
    # or TextVectorization layer ...: do an IntegerLookup ... in the input pipeline", on a model that converted.
    # Without the tables the traced path reads, it refuses a StringLookup and from_keras converts it (helper-181)
    from onnxgate.converters import tensorflow as tensorflow_module

    monkeypatch.setattr(tensorflow_module, "_lookup_tables", lambda tf, concrete: {}, raising=False)
    words = keras.Input((1,), dtype="string")
    model = keras.Model(words, keras.layers.StringLookup(vocabulary=["a", "b", "c"])(words))
    X = np.array([["a"], ["c"], ["zz"]], dtype=object)
    conv = og.convert(model, X, opset=17)
    note = next(w for w in conv.warnings if "tf2onnx.convert.from_keras" in w)
    assert "LookupTableFindV2 (x1)" in note, note
    assert "input pipeline" not in note and "IntegerLookup" not in note and "comes from" not in note, note


def test_an_integer_lookup_without_oov_indices_is_refused_as_keras_raises_on_unseen_values() -> None:
    # num_oov_indices=0: Keras raises on a value outside the vocabulary, through an Assert freezing drops; the file
    # answered [[0, -1]] for [[3, 5]] where Keras raised (helper-181)
    model = _integer_lookup(vocabulary=[3, 7], num_oov_indices=0)
    with pytest.raises(og.UnsupportedModelError, match=r"num_oov_indices=0.*Use num_oov_indices=1"):
        og.convert(model, np.array([[3, 7, 3]]), opset=17)


def test_a_lookup_answering_text_converts_and_its_text_is_compared_as_text() -> None:
    # StringLookup(invert=True): Keras answers bytes, onnxruntime str. The from_keras check raised a bare TypeError
    # from np.allclose, and parity read b'a' and 'a' as two answers (every row failed) (helper-181)
    import onnxruntime as ort

    ids = keras.Input((3,), dtype="int64")
    model = keras.Model(ids, keras.layers.StringLookup(vocabulary=["a", "b", "c"], invert=True)(ids))
    X = np.array([[1, 2, 3], [0, 1, 4], [5, 3, 3]], dtype=np.int64)
    conv = og.convert(model, X[:2], opset=17)
    session = ort.InferenceSession(conv.model.SerializeToString(), providers=["CPUExecutionProvider"])
    (texts,) = session.run(None, {session.get_inputs()[0].name: X})
    assert texts.tolist() == [[t.decode() for t in row] for row in model.predict(X, verbose=0).tolist()]
    assert og.validate(conv, reference=model, data=X).passed
    # the same file answering 'z' for 'b' is caught: text is compared exactly
    broken = type(conv.model)()
    broken.CopyFrom(conv.model)
    (attribute,) = [a for n in broken.graph.node for a in n.attribute if a.name == "cats_strings"]
    attribute.strings[:] = [b"z" if s == b"b" else s for s in attribute.strings]
    report = og.validate(broken, reference=model, data=X)
    assert not report.check("prediction_parity").passed


_FLOATS = np.array([0.0, -0.0, 0.5, -0.5, 2.0, np.nan, np.inf, -np.inf], np.float32)


@pytest.mark.parametrize("opset", (9, 10, 11, 13))
def test_float_comparisons_answer_as_tensorflow_with_fractions_zeros_and_nan(opset: int) -> None:
    # below opset 11 tf2onnx compared floats for equality as their int32 casts: x == 0 was true for 0.5 and -0.5,
    # and NaN == NaN held (helper-198); below opset 12 NaN >= 1 held, written as not (NaN < 1)
    import onnxruntime as ort

    a, b = np.repeat(_FLOATS, 8).reshape(-1, 1), np.tile(_FLOATS, 8).reshape(-1, 1)

    def compare(x: Any, y: Any) -> Any:
        return tf.stack([x == y, x != y, x >= y, x <= y, x > y, x < y], axis=1)

    fn = tf.function(compare, input_signature=[tf.TensorSpec([None, 1], tf.float32)] * 2)
    conv = og.convert(fn, (a[:4], b[:4]), opset=opset)
    (got,) = ort.InferenceSession(conv.to_bytes()).run(None, dict(zip(conv.signature.input_names, (a, b))))
    np.testing.assert_array_equal(got, fn(a, b).numpy())


@pytest.mark.parametrize("opset", (9, 10, 13))
def test_a_keras_model_testing_floats_for_zero_answers_as_keras(opset: int) -> None:
    import onnxruntime as ort

    inp = keras.Input((1,))
    model = keras.Model(inp, keras.layers.Lambda(lambda t: tf.cast(tf.equal(t, 0.0), tf.float32))(inp))
    x = _FLOATS.reshape(-1, 1)
    conv = og.convert(model, x[:2], opset=opset)
    (got,) = ort.InferenceSession(conv.to_bytes()).run(None, {conv.signature.input_names[0]: x})
    np.testing.assert_array_equal(got.ravel(), [1, 1, 0, 0, 0, 0, 0, 0])
    np.testing.assert_array_equal(got, model.predict(x, verbose=0))


@pytest.mark.parametrize("opset", (9, 13, 18))
@pytest.mark.parametrize("dtype", ("int32", "int64", "uint32"))
def test_integer_comparisons_hold_past_float32_precision(dtype: str, opset: int) -> None:
    # tf2onnx compared integers as their float32 casts at every opset: 16777217 > 16777216 was false, as was any
    # comparison of int64 ids or timestamps closer than float32's step
    import onnxruntime as ort

    values = np.array([0, 1, 16_777_216, 16_777_217, 2_147_483_646, 2_147_483_647], dtype)
    a, b = np.repeat(values, 6).reshape(-1, 1), np.tile(values, 6).reshape(-1, 1)

    def compare(x: Any, y: Any) -> Any:
        return tf.stack([x > y, x < y, x >= y, x <= y, x == y, x != y], axis=1)

    fn = tf.function(compare, input_signature=[tf.TensorSpec([None, 1], getattr(tf, dtype))] * 2)
    conv = og.convert(fn, (a[:4], b[:4]), opset=opset)
    (got,) = ort.InferenceSession(conv.to_bytes()).run(None, dict(zip(conv.signature.input_names, (a, b))))
    np.testing.assert_array_equal(got, fn(a, b).numpy())


@pytest.mark.parametrize("opset", (9, 11, 13))
@pytest.mark.parametrize("dtype", ("int32", "int64"))
def test_integer_maximum_minimum_and_clip_keep_every_digit(dtype: str, opset: int) -> None:
    # below opset 12 tf2onnx wrote them as Max/Min of float32 casts: tf.minimum(x, 16777217) answered 16777216
    import onnxruntime as ort

    x = np.array([[16_777_217, -16_777_217, 2_147_483_647, 5]], dtype)

    def extremes(v: Any) -> Any:
        return tf.concat([tf.maximum(v, 16_777_215), tf.minimum(v, 16_777_217),
                          tf.clip_by_value(v, -16_777_217, 2_147_483_646)], axis=1)

    fn = tf.function(extremes, input_signature=[tf.TensorSpec([None, 4], getattr(tf, dtype))])
    conv = og.convert(fn, x, opset=opset)
    (got,) = ort.InferenceSession(conv.to_bytes()).run(None, {conv.signature.input_names[0]: x})
    np.testing.assert_array_equal(got, fn(x).numpy())


def _top_k_answers(fn: Any, x: np.ndarray, opset: int) -> list[np.ndarray]:
    import onnxruntime as ort

    conv = og.convert(fn, x[:1], opset=opset)
    return list(ort.InferenceSession(conv.to_bytes()).run(None, {conv.signature.input_names[0]: x}))


@pytest.mark.parametrize("opset", (9, 10, 11, 13, 18))
def test_top_k_of_int32_keeps_the_extremes_and_answers_ties_in_index_order(opset: int) -> None:
    # tf2onnx ordered a float32 cast and cast the values back: 2147483647 came back -2147483648, and 16777217
    # tied with 16777216 (helper-202)
    x = np.array([[2_147_483_647, -2_147_483_648, 16_777_216, 16_777_217, 5, 16_777_217, 5],
                  [5, 5, -2_147_483_648, 2_147_483_646, 2_147_483_647, 0, 5]], np.int32)
    fixed = tf.function(lambda v: tf.math.top_k(v, 5), input_signature=[tf.TensorSpec([None, 7], tf.int32)])
    values, indices = _top_k_answers(fixed, x, opset)
    np.testing.assert_array_equal(values, [[2_147_483_647, 16_777_217, 16_777_217, 16_777_216, 5],
                                           [2_147_483_647, 2_147_483_646, 5, 5, 5]])
    np.testing.assert_array_equal(indices, [[0, 3, 5, 2, 4], [4, 3, 0, 1, 6]])
    assert values.dtype == np.int32 and indices.dtype == np.int32
    # k read from the input's width, as the graph computes it
    counted = tf.function(lambda v: tf.math.top_k(v, tf.shape(v)[1] - 1),
                          input_signature=[tf.TensorSpec([None, None], tf.int32)])
    if opset >= 10:
        for got, want in zip(_top_k_answers(counted, x, opset), counted(x)):
            np.testing.assert_array_equal(got, want.numpy())


@pytest.mark.parametrize("opset", (11, 13, 18))
def test_top_k_of_int64_and_float64_keeps_every_digit(opset: int) -> None:
    ids = np.array([[2**53 + 1, 2**53, 2**62 + 1, 2**62, -(2**63), 2**53 + 1]], np.int64)
    fn = tf.function(lambda v: tf.math.top_k(v, 4), input_signature=[tf.TensorSpec([None, 6], tf.int64)])
    values, indices = _top_k_answers(fn, ids, opset)
    np.testing.assert_array_equal(values, [[2**62 + 1, 2**62, 2**53 + 1, 2**53 + 1]])
    np.testing.assert_array_equal(indices, [[2, 3, 0, 5]])
    floats = np.array([[1 + 2**-40, 1.0, 1e300, 1 + 2**-40, -1e300]])
    fn = tf.function(lambda v: tf.math.top_k(v, 3), input_signature=[tf.TensorSpec([None, 5], tf.float64)])
    values, indices = _top_k_answers(fn, floats, opset)
    np.testing.assert_array_equal(values, [[1e300, 1 + 2**-40, 1 + 2**-40]])
    np.testing.assert_array_equal(indices, [[2, 0, 3]])


def test_top_k_of_int64_below_opset_11_is_refused_with_the_opset_to_ask_for() -> None:
    # onnxruntime's TopK takes no integer type below opset 11, and float64 does not hold int64
    fn = tf.function(lambda v: tf.math.top_k(v, 2), input_signature=[tf.TensorSpec([None, 3], tf.int64)])
    with pytest.raises(og.UnsupportedModelError, match=r"top_k on int64 at opset 10.*Ask for opset 11"):
        og.convert(fn, np.array([[2**53 + 1, 2**53, 1]], np.int64), opset=10)


def test_top_k_with_k_computed_in_the_graph_at_opset_9_says_to_ask_for_opset_10() -> None:
    # was "tf2onnx could not convert these TensorFlow operations and left them in the graph: TopKV2 (x1). Rewrite that
    # part of the model ... or register a tf2onnx custom op handler", where the fix is an opset (Keras: the same,
    # then "from_keras failed as well")
    x = np.random.default_rng(0).normal(size=(2, 6)).astype(np.float32)
    fn = tf.function(lambda v: tf.math.top_k(v, tf.shape(v)[1] - 1),
                     input_signature=[tf.TensorSpec([None, None], tf.float32)])
    inp = keras.Input((None,), dtype="float32")
    model = keras.Model(inp, keras.layers.Lambda(lambda v: keras.ops.top_k(v, keras.ops.shape(v)[1] - 1)[0])(inp))
    for subject in (fn, model):
        with pytest.raises(og.UnsupportedModelError) as info:
            og.convert(subject, x, opset=9)
        message = str(info.value)
        assert message.startswith("the function calls tf.math.top_k with k computed in the graph at opset 9: ONNX "
                                  "TopK at opset 9 needs k as a fixed attribute"), message
        assert "Ask for opset 10 or higher" in message and "could not convert" not in message, message
    for got, want in zip(_top_k_answers(fn, x, 10), fn(x)):  # and opset 10 converts it
        np.testing.assert_allclose(got, want.numpy(), rtol=1e-6)


def test_keras_top_k_of_int64_ids_in_a_loop_answers_as_keras() -> None:
    inp = keras.Input((4,), dtype="int64")

    def twice(v: Any) -> Any:
        def body(i: Any, acc: Any) -> Any:
            return i + 1, acc + keras.ops.top_k(v, 2)[0]
        return tf.while_loop(lambda i, acc: i < 2, body, [tf.constant(0), tf.zeros_like(v[:, :2])])[1]

    model = keras.Model(inp, [*keras.ops.top_k(inp, 3), keras.layers.Lambda(twice)(inp)])
    x = np.array([[2**53 + 1, 2**53, 7, 2**53 + 1]], np.int64)
    got = _top_k_answers(model, x, 13)
    for g, want in zip(got, model.predict(x, verbose=0)):
        np.testing.assert_array_equal(g, want)
    np.testing.assert_array_equal(got[0], [[2**53 + 1, 2**53 + 1, 2**53]])


@pytest.mark.parametrize("layer", ["GRU", "LSTM", "SimpleRNN"])
def test_keras_recurrent_layers_load_and_answer_as_keras_with_exact_integer_comparisons(layer: str) -> None:
    # the recurrent layers' while loops compare their int32 step with a bound tf2onnx retypes to int64 after the
    # comparison is written: Less(int32, int64), which onnxruntime refused in every Keras GRU
    model = keras.Sequential([keras.Input((5, 3)), getattr(keras.layers, layer)(4)])
    x = np.random.default_rng(0).normal(size=(20, 5, 3)).astype(np.float32)
    conv = og.convert(model, x, opset=13)
    report = og.validate(conv, reference=model, data=x)
    assert report.passed, report.summary()


# onnxruntime has no double kernel for Conv or AveragePool, and its LSTM refuses double when it runs: convert handed
# back a float64 model's file, and only validate's operators_supported (or parity, for the LSTM) said no target loads it

_FLOAT32_FIX = r"Build the model in float32.*dtype='float32'"


def test_a_float64_keras_conv2d_is_refused_at_convert_naming_the_layer_and_float32() -> None:
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((8, 8, 3), dtype="float64"), keras.layers.Conv2D(4, 3, dtype="float64",
                                                                                            name="edges"),
                              keras.layers.Flatten(dtype="float64"), keras.layers.Dense(2, dtype="float64")])
    X = RNG.normal(size=(5, 8, 8, 3))
    with pytest.raises(og.UnsupportedModelError, match=r"layer 'edges' \(Conv2D\) computes Conv in float64.*no double "
                                                       r"kernel.*no target could load the file\. " + _FLOAT32_FIX):
        og.convert(model, X, opset=17)


@pytest.mark.parametrize("sample", (True, False), ids=("sample", "signature-only"))
def test_a_float64_function_with_an_lstm_is_refused_at_convert(sample: bool) -> None:
    # onnxruntime loads a double LSTM and refuses it when it runs ("LSTM operator does not support double yet"): the
    # file is run, on the sample or on a row of zeros
    keras.utils.set_random_seed(0)
    lstm = keras.layers.LSTM(4, dtype="float64")
    lstm.build((None, 5, 3))
    fn = tf.function(lambda x: lstm(x), input_signature=[tf.TensorSpec([None, 5, 3], tf.float64)])
    with pytest.raises(og.UnsupportedModelError, match=r"the TensorFlow function computes LSTM in float64.*no double "
                                                       r"kernel.*Compute the operation in float32.*tf\.cast"):
        og.convert(fn, RNG.normal(size=(5, 5, 3)) if sample else None, opset=17)


def test_a_float64_keras_lstm_is_refused_naming_the_layer_not_its_cell() -> None:
    model = keras.Sequential([keras.Input((5, 3), dtype="float64"), keras.layers.LSTM(4, dtype="float64", name="seq")])
    with pytest.raises(og.UnsupportedModelError, match=r"the Keras model's layer 'seq' \(LSTM\) computes LSTM in "
                                                       r"float64.*" + _FLOAT32_FIX) as refused:
        og.convert(model, RNG.normal(size=(5, 5, 3)), opset=17)
    assert "Cell" not in str(refused.value)


def _float64_lstm_in_columns(floatx: bool) -> Any:
    """An LSTM over 5 steps of 3 values read from 15 columns (PREDICT feeds [N, k]) and a Dense head, in float64:
    by keras.config.set_floatx('float64') or by each layer's dtype."""
    keras.utils.set_random_seed(0)
    kind = {} if floatx else {"dtype": "float64"}
    inp = keras.Input((15,), dtype="float64")
    x = keras.layers.Reshape((5, 3), **kind)(inp)
    x = keras.layers.LSTM(4, name="seq", **kind)(x)
    return keras.Model(inp, keras.layers.Dense(1, **kind)(x))


def _sql_target_judges_it(model: Any, rows: Any, target: str) -> None:
    import re

    conv = og.convert(model, rows[:2], target=target)
    assert any(re.search(r"float32 between Casts.*'LSTM__\d+' \(LSTM\)", w) for w in conv.warnings), conv.warnings
    report = og.validate(conv, target=target, reference=model, data=rows)
    assert report.check("operators_supported").passed and report.check("prediction_parity").passed, str(report)
    tight = og.validate(conv, target=target, reference=model, data=rows, atol=1e-12, rtol=1e-12)
    assert not tight.check("prediction_parity").passed  # float32 keeps about 7 digits, and parity says so


@pytest.mark.slow
@pytest.mark.parametrize(("target", "floatx"), [("sql-edge-2.0", False), ("synapse", True)])
def test_a_float64_keras_lstm_for_a_sql_target_converts_computing_it_in_float32(target: str, floatx: bool) -> None:
    # convert for a SQL target computes a double LSTM in float32 between Casts (its onnxruntime has no double one, nor
    # any onnxruntime); a Keras model never got there: the file's test run refused it ("no target could load the file")
    previous, policy = keras.config.floatx(), keras.config.dtype_policy()
    if floatx:  # the global policy too: once read (an earlier test), it no longer follows floatx
        keras.config.set_floatx("float64")
        keras.config.set_dtype_policy("float64")
    try:
        model = _float64_lstm_in_columns(floatx)
    finally:
        keras.config.set_floatx(previous)
        keras.config.set_dtype_policy(policy)
    assert model.get_layer("seq").compute_dtype == "float64"
    _sql_target_judges_it(model, RNG.normal(size=(16, 15)), target)


@pytest.mark.slow
def test_a_float64_function_with_an_lstm_cell_for_a_sql_target_converts_computing_it_in_float32() -> None:
    keras.utils.set_random_seed(0)
    lstm = keras.layers.RNN(keras.layers.LSTMCell(4, dtype="float64"), dtype="float64")
    lstm.build((None, 5, 3))
    head = keras.layers.Dense(1, dtype="float64")
    head.build((None, 4))
    fn = tf.function(lambda x: head(lstm(tf.reshape(x, [-1, 5, 3]))),
                     input_signature=[tf.TensorSpec([None, 15], tf.float64)])
    _sql_target_judges_it(fn, RNG.normal(size=(16, 15)), "sql-edge-2.0")


@pytest.mark.slow
def test_a_float64_keras_lstm_on_the_from_keras_path_for_a_sql_target_answers_as_the_traced_paths(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # the from_keras fallback kept the double LSTM and refused the model ('no target could load the file') where the
    # traced path's file of the same model computes it in float32 between Casts and converts
    import onnxruntime as ort

    from onnxgate.converters import keras as keras_module

    model, rows = _float64_lstm_in_columns(False), RNG.normal(size=(16, 15))
    traced = og.convert(model, rows[:2], target="sql-edge-2.0")

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise og.UnsupportedModelError("the traced path failed on purpose")

    monkeypatch.setattr(keras_module, "convert_traced", broken)
    _sql_target_judges_it(model, rows, "sql-edge-2.0")
    fallback = og.convert(model, rows[:2], target="sql-edge-2.0")
    assert any("from_keras" in w for w in fallback.warnings), fallback.warnings
    assert "LSTM" in {n.op_type for n in fallback.model.graph.node}
    assert fallback.signature.input_names == traced.signature.input_names == [f"f{k}" for k in range(15)]
    feeds = {f"f{k}": rows[:, k:k + 1] for k in range(15)}  # a column each, as PREDICT feeds them
    got = [ort.InferenceSession(c.to_bytes(), providers=["CPUExecutionProvider"]).run(None, feeds)[0]
           for c in (fallback, traced)]
    assert got[0].dtype == got[1].dtype == np.float64
    np.testing.assert_allclose(got[0], got[1], rtol=1e-6, atol=1e-7)


def test_a_float64_keras_lstm_is_still_refused_for_a_target_whose_onnxruntime_convert_does_not_rewrite() -> None:
    # the container runs the installed onnxruntime, which has no double LSTM either: refused, as without a target
    model = keras.Sequential([keras.Input((5, 3), dtype="float64"), keras.layers.LSTM(4, dtype="float64", name="seq")])
    with pytest.raises(og.UnsupportedModelError, match=r"layer 'seq' \(LSTM\) computes LSTM in float64"):
        og.convert(model, RNG.normal(size=(5, 5, 3)), target="container")


def _float64_scores_then_words(layer: Any, shape: tuple[int, ...]) -> Any:
    """A float64 model the traced path cannot write (a lookup answering text): it goes through from_keras."""
    x = keras.Input(shape, dtype="float64")
    scores = keras.layers.Flatten(dtype="float64")(layer(x))
    words = keras.layers.StringLookup(vocabulary=["a", "b", "c"], invert=True)(keras.ops.argmax(scores, axis=-1))
    return keras.Model(x, {"score": scores, "word": words})


def test_a_float64_model_on_the_from_keras_path_gets_its_activations_in_double() -> None:
    # from_keras' file kept Elu on double, which onnxruntime has no kernel for: convert refused the model
    model = _float64_scores_then_words(keras.layers.Activation("elu", dtype="float64"), (3,))
    X = RNG.normal(size=(40, 3)) * 4
    conv = og.convert(model, X[:5], opset=17)
    assert any("from_keras" in w for w in conv.warnings)
    assert "Elu" not in {n.op_type for n in conv.model.graph.node}
    report = og.validate(conv, reference=model, data=X, atol=1e-12, rtol=1e-12)
    assert report.passed, str(report)


def test_a_float64_model_on_the_from_keras_path_is_refused_naming_the_layer_without_a_double_kernel() -> None:
    model = _float64_scores_then_words(keras.layers.AveragePooling2D(2, dtype="float64", name="pool"), (4, 4, 3))
    with pytest.raises(og.UnsupportedModelError, match=r"layer 'pool' \(AveragePooling2D\) computes AveragePool in "
                                                       r"float64.*" + _FLOAT32_FIX):
        og.convert(model, RNG.normal(size=(5, 4, 4, 3)), opset=17)


# tf2onnx has no mapping for Xlogy, Xlog1py, Xdivy, TruncateMod or CumulativeLogsumexp: a model holding one was refused
# ("tf2onnx could not convert these TensorFlow operations ... register a tf2onnx custom op handler")

_INF, _NAN = np.inf, np.nan
# x = 0 whatever y is (xlogy(0, 0) = xdivy(0, 0) = 0), a NaN x, y = 0 and infinite y, tiny values, and signed operands
# for truncatemod (its sign is x's: truncatemod(-7, 3) = -1, floormod's is 2)
_X_EDGES = [0, 0, 0, 0, 0, -0.0, _NAN, 2, 2, -2, 3, 1e-30, -7, 7, -7, 7, 7.5, -2.5, 1e30, 5, 0.3, -0.7, 1e-6, 40]
_Y_EDGES = [0, _NAN, _INF, -1, -_INF, 5, 0, 0, -1, 0, _INF, 1e-30, 3, -3, -3, 3, -2, 1, 7, 0, 1e-6, 0.4, -0.5, 1e3]


@pytest.mark.parametrize("opset", (13, 18))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_xlogy_xlog1py_xdivy_and_truncatemod_convert_and_match_tensorflow_at_their_edges(dtype: Any,
                                                                                          opset: int) -> None:
    import onnxruntime as ort

    spec = [tf.TensorSpec([None, 4], tf.as_dtype(dtype), name="x"), tf.TensorSpec([None, 4], tf.as_dtype(dtype),
                                                                                    name="y")]
    fn = tf.function(lambda x, y: {"xlogy": tf.math.xlogy(x, y), "xlog1py": tf.math.xlog1py(x, y),
                                   "xdivy": tf.math.xdivy(x, y), "truncatemod": tf.truncatemod(x, y)},
                     input_signature=spec)
    x = np.array(_X_EDGES, dtype=dtype).reshape(-1, 4)
    y = np.array(_Y_EDGES, dtype=dtype).reshape(-1, 4)
    conv = og.convert(fn, {"x": x[:3], "y": y[:3]}, opset=opset)
    got = ort.InferenceSession(conv.model.SerializeToString(), providers=["CPUExecutionProvider"]).run(
        None, {"x": x, "y": y})
    want = fn(x, y)
    for name, value in zip(conv.signature.output_names, got):
        assert value.dtype == dtype, name
        # NaN where TensorFlow's is; 0 for every x = 0. A few ulps apart at most: onnxruntime's and TensorFlow's log
        # and exp are each vectorized per CPU (AVX2 or not), so the bound is loose enough for any x86-64 machine
        eps = np.finfo(dtype).eps
        np.testing.assert_allclose(value, want[name].numpy(), rtol=64 * eps, atol=64 * eps, err_msg=name)
    assert np.all(got[conv.signature.output_names.index("xlogy")][:1] == 0)  # xlogy(0, 0), (0, nan), (0, inf)...
    report = og.validate(conv, reference=fn, data={"x": x, "y": y})
    assert report.passed, str(report)


@pytest.mark.parametrize("dtype", [np.int32, np.int64])
def test_integer_truncatemod_converts_exactly_with_the_dividends_sign(dtype: Any) -> None:
    # the lowest integer mod -1 (its quotient overflows) and, in int64, values past 2**53 (a double rounds them)
    import onnxruntime as ort

    fn = tf.function(tf.truncatemod, input_signature=[tf.TensorSpec([None], tf.as_dtype(dtype), name="x"),
                                                      tf.TensorSpec([None], tf.as_dtype(dtype), name="y")])
    low, high = int(np.iinfo(dtype).min), int(np.iinfo(dtype).max)
    big = 2**53 + 1 if dtype == np.int64 else 2**30 + 1
    x = np.array([-7, 7, -7, 7, 0, low, low, high, big, -big], dtype=dtype)
    y = np.array([3, -3, -3, 3, -5, -1, 3, 7, big - 4, 10], dtype=dtype)
    conv = og.convert(fn, {"x": x, "y": y}, opset=13)
    got = ort.InferenceSession(conv.model.SerializeToString(), providers=["CPUExecutionProvider"]).run(
        None, {"x": x, "y": y})[0]
    np.testing.assert_array_equal(got, fn(x, y).numpy())


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_cumulative_logsumexp_converts_with_every_flag_and_matches_tensorflow_far_from_the_maximum(dtype: Any) -> None:
    # a prefix 1000 below the axis' maximum is answered (m + log(cumsum(exp(x - m))) would give -inf there), -inf
    # entries and an exclusive scan's -inf start, large values without overflow, along the middle and the last axis
    import onnxruntime as ort

    def scans(x: Any) -> dict[str, Any]:
        return {f"{'ex' if exclusive else 'in'}_{'rev' if reverse else 'fwd'}_{axis}": tf.math.cumulative_logsumexp(
            x, axis=axis, exclusive=exclusive, reverse=reverse)
            for exclusive in (False, True) for reverse in (False, True) for axis in (1, -1)}

    fn = tf.function(scans, input_signature=[tf.TensorSpec([None, 5, 3], tf.as_dtype(dtype), name="x")])
    rows = np.array([[-1000, 0, 1000, -_INF, 2], [-_INF, -_INF, 1, -3, 3], [1e30, -1e30, 5, 5, 5],
                     [80, -80, 0, 300, -300], [0.5, 0.25, -0.125, 3, 4]])
    x = np.stack([rows, rows[::-1] * 0.5, rows[:, ::-1] + 1], axis=-1).astype(dtype)  # (5, 5, 3)
    x = np.concatenate([x, RNG.normal(size=(20, 5, 3)).astype(dtype) * 50])
    conv = og.convert(fn, x[:3], opset=17)
    got = ort.InferenceSession(conv.model.SerializeToString(), providers=["CPUExecutionProvider"]).run(
        None, {"x": x})
    want = fn(x)
    for name, value in zip(conv.signature.output_names, got):
        expected = want[name].numpy()
        assert np.isfinite(expected[0, 0, 0]) or name.startswith("ex_fwd")  # -1000 answered, not lost against 1000
        np.testing.assert_array_equal(np.isneginf(value), np.isneginf(expected), err_msg=name)
        # the scan's sums reach 300 and cancel to near 0: an ulp of 300 in absolute terms (either side's exp and
        # log1p are vectorized per CPU), a formula gone wrong is off by whole units
        np.testing.assert_allclose(value, expected, rtol=64 * np.finfo(dtype).eps,
                                   atol=1e-3 if dtype == np.float32 else 1e-11, err_msg=name)
    report = og.validate(conv, reference=fn, data=x)
    assert report.passed, str(report)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_cumulative_logsumexp_takes_a_nan_as_tensorflow_does(dtype: Any) -> None:
    # TensorFlow 2.21's kernel keeps the running value against a NaN ([1, nan, 2] answers 1, 1.69, 2.55); the
    # file's Max/Min made the rest of the row NaN, and parity failed a file TensorFlow answered finite values for.
    # Compared with the installed TensorFlow's own answers, whichever way its kernel takes a NaN
    import onnxruntime as ort

    nan, inf = np.nan, _INF
    x = np.array([[1, nan, 2, 3], [nan, 1, 2, 3], [1, 2, nan, nan], [-inf, nan, 1, 0], [nan, -inf, -inf, 5],
                  [inf, nan, 1, 2], [5, 1, nan, -inf], [nan, nan, nan, nan], [inf, inf, 1, 2]], dtype=dtype)
    fn = tf.function(lambda t: {f"{'ex' if exclusive else 'in'}_{'rev' if reverse else 'fwd'}":
                                tf.math.cumulative_logsumexp(t, axis=1, exclusive=exclusive, reverse=reverse)
                                for exclusive in (False, True) for reverse in (False, True)},
                     input_signature=[tf.TensorSpec([None, 4], tf.as_dtype(dtype), name="x")])
    conv = og.convert(fn, np.zeros((2, 4), dtype), opset=13)
    got = ort.InferenceSession(conv.model.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, {"x": x})
    want = fn(x)
    for name, value in zip(conv.signature.output_names, got):
        np.testing.assert_allclose(value, want[name].numpy(), rtol=16 * np.finfo(dtype).eps, atol=0, err_msg=name)
    report = og.validate(conv, reference=fn, data=x)
    assert report.passed, str(report)


def test_cumulative_logsumexp_below_opset_10_is_refused_naming_the_opset() -> None:
    fn = tf.function(lambda x: tf.math.cumulative_logsumexp(x, axis=1), input_signature=[tf.TensorSpec([None, 4])])
    with pytest.raises(og.UnsupportedModelError, match=r"cumulative_logsumexp .* from opset 10 on, but opset 9 was "
                                                       r"asked for: ask for opset 10 or above"):
        og.convert(fn, np.zeros((2, 4), np.float32), opset=9)


def test_a_float64_keras_model_is_refused_naming_every_layer_without_a_double_kernel() -> None:
    # onnxruntime stops at the first node it has no kernel for: the refusal named the Conv2D only, then, once it was
    # fixed and the model converted again, the pooling, then the LSTM
    keras.utils.set_random_seed(0)
    model = keras.Sequential([
        keras.Input((8, 8, 3), dtype="float64"), keras.layers.Conv2D(4, 3, dtype="float64", name="edges"),
        keras.layers.AveragePooling2D(2, dtype="float64", name="pool"), keras.layers.Reshape((9, 4), dtype="float64"),
        keras.layers.LSTM(3, dtype="float64", name="seq"), keras.layers.Dense(2, dtype="float64", name="head")])
    every_layer = (r"layer 'edges' \(Conv2D\) computes Conv, layer 'pool' \(AveragePooling2D\) computes AveragePool "
                   r"and layer 'seq' \(LSTM\) computes LSTM in float64.*")
    with pytest.raises(og.UnsupportedModelError, match=every_layer + _FLOAT32_FIX) as refused:
        og.convert(model, RNG.normal(size=(5, 8, 8, 3)), opset=17)
    assert "'head'" not in str(refused.value)


@pytest.mark.parametrize(("target", "in_float32"), [("sql-edge-1.0", True), ("sql-edge-2.0", False), ("synapse", True)])
def test_float64_log_for_a_sql_target_runs_in_float32_between_casts_where_its_runtime_has_no_double_log(
        target: str, in_float32: bool) -> None:
    # f1e72a5 wrote a float64 Log in float64 for every target: onnxruntime 1.5 (SQL Edge 1.0, Synapse) had no double
    # Log kernel (tf2onnx's Casts were for it), and validate, which loads the file in onnxruntime 1.32, passed it.
    # SQL Edge 2.0's onnxruntime 1.12.1 has one (onnxgate/_kernels.json): its Log keeps float64's digits
    from onnx import TensorProto

    x = np.abs(RNG.normal(size=(8, 4))) + 0.1
    fn = tf.function(lambda t: {"y": tf.math.log(t)}, input_signature=[tf.TensorSpec([None, 4], tf.float64, name="x")])
    conv = og.convert(fn, x, target=target)
    nodes = conv.model.graph.node
    (log,) = [n for n in nodes if n.op_type == "Log"]
    before = [n for n in nodes if log.input[0] in n.output]
    to_float = [n for n in before if n.op_type == "Cast" and [a.i for a in n.attribute if a.name == "to"] == [
        TensorProto.FLOAT]]
    assert bool(to_float) == in_float32
    assert og.validate(conv, target=target, data=x).passed
