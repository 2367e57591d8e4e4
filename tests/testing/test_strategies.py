"""``model_inputs`` draws only inputs onnxruntime accepts, for every zoo model, and honours its options."""

from __future__ import annotations

import re
from functools import cache
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, find, given, settings

import onnxgate as og
from onnxgate.errors import InvalidDataError, UnsupportedModelError
from onnxgate.testing import assert_parity
from onnxgate.testing.strategies import model_inputs

SETTINGS = settings(max_examples=10, deadline=None, database=None, derandomize=True,
                    suppress_health_check=list(HealthCheck))


@cache
def _conversion(name: str) -> tuple[Any, Any]:
    model, X, _y = og.zoo.get(name).build()
    sample = X
    return og.convert(model, sample), X


def _zoo_params() -> list[Any]:
    params = []
    for name in og.zoo.names():
        marks = [] if name.startswith("sklearn-") else [pytest.mark.slow]
        params.append(pytest.param(name, marks=marks, id=name))
    return params


def _session(conv: Any) -> Any:
    import onnxruntime as ort

    return ort.InferenceSession(conv.model.SerializeToString(), providers=["CPUExecutionProvider"])


@pytest.mark.parametrize("name", _zoo_params())
def test_every_draw_runs_in_onnxruntime(name: str) -> None:
    conv, X = _conversion(name)
    session = _session(conv)

    @SETTINGS
    @given(model_inputs(conv, ranges=X, extremes=True, batch_size=(1, 3)))
    def accepted(feeds: dict[str, np.ndarray]) -> None:
        outputs = session.run(None, feeds)
        rows = {len(v) for v in feeds.values()}
        assert len(rows) == 1  # every input got the same rows
        assert outputs

    accepted()


def test_shapes_and_types_follow_the_signature() -> None:
    conv, _X = _conversion("sklearn-wine-columntransformer")
    sig = conv.signature

    @SETTINGS
    @given(model_inputs(conv, batch_size=3))
    def check(feeds: dict[str, np.ndarray]) -> None:
        assert set(feeds) == set(sig.input_names)
        for spec in sig.inputs:
            array = feeds[spec.name]
            assert array.dtype == spec.numpy_dtype
            assert array.shape == (3, 1)

    check()


def test_values_stay_in_the_data_range_plus_room() -> None:
    conv, X = _conversion("sklearn-planted-scaler-tree")
    lo, hi = X.min(axis=0), X.max(axis=0)
    room = np.maximum(np.maximum(hi - lo, np.maximum(abs(hi), abs(lo))), 1.0) * 0.1

    @SETTINGS
    @given(model_inputs(conv, ranges=X))
    def check(feeds: dict[str, np.ndarray]) -> None:
        values = feeds["input"]
        assert np.isfinite(values).all()
        assert (values >= lo - room - 1e-6).all() and (values <= hi + room + 1e-6).all()

    check()


def test_finite_by_default_and_nan_on_request() -> None:
    conv, _X = _conversion("sklearn-iris-logreg")
    has_nan = find(model_inputs(conv, allow_nan=True), lambda f: bool(np.isnan(f["input"]).any()),
                   settings=settings(database=None, max_examples=500))
    assert np.isnan(has_nan["input"]).any()

    @SETTINGS
    @given(model_inputs(conv))
    def finite(feeds: dict[str, np.ndarray]) -> None:
        assert np.isfinite(feeds["input"]).all()

    finite()


def test_extremes_reach_the_dtype_limits() -> None:
    conv, _X = _conversion("sklearn-iris-logreg")  # float64 input
    limit = np.finfo(np.float64).max
    big = find(model_inputs(conv, extremes=True, batch_size=1), lambda f: bool((np.abs(f["input"]) == limit).any()),
               settings=settings(database=None, max_examples=300))
    assert (np.abs(big["input"]) == limit).any()


def test_explicit_ranges_by_input_name() -> None:
    conv, _X = _conversion("sklearn-iris-logreg")

    @SETTINGS
    @given(model_inputs(conv, ranges={"input": (2.0, 3.0)}))
    def check(feeds: dict[str, np.ndarray]) -> None:
        assert ((feeds["input"] >= 2.0) & (feeds["input"] <= 3.0)).all()

    check()
    with pytest.raises(InvalidDataError, match="does not have"):
        model_inputs(conv, ranges={"nope": (0.0, 1.0)})


def test_bad_batch_size_and_non_tensor_inputs_are_refused() -> None:
    from onnxgate.signature import Signature, TensorSpec

    conv, _X = _conversion("sklearn-iris-logreg")
    with pytest.raises(InvalidDataError, match="batch_size"):
        model_inputs(conv, batch_size=0)
    seq = Signature(inputs=(TensorSpec("s", "float32", None, kind="sequence", type_str="seq(tensor(float))"),),
                    outputs=())
    with pytest.raises(UnsupportedModelError, match="not a tensor"):
        model_inputs(seq)


def _sig(*inputs: tuple[str, str, tuple[Any, ...]]) -> Any:
    from onnxgate.signature import Signature, TensorSpec

    return Signature(inputs=tuple(TensorSpec(n, t, s) for n, t, s in inputs), outputs=())


def test_explicit_bounds_take_numpy_numbers_and_refuse_reversed_ones() -> None:
    # (X.min(), X.max()) of float32 data are np.float32: they were read as two rows of data
    sig = _sig(("x", "float32", ("N", 1)))
    low, high = np.float32(0.0), np.float32(1.0)

    @SETTINGS
    @given(model_inputs(sig, ranges={"x": (low, high)}))
    def check(feeds: dict[str, np.ndarray]) -> None:
        assert ((feeds["x"] >= 0.0) & (feeds["x"] <= 1.0)).all()

    check()
    with pytest.raises(InvalidDataError, match="low <= high"):
        model_inputs(sig, ranges={"x": (7.0, 2.0)})


def test_strings_come_from_the_observed_values_only() -> None:
    sig = _sig(("colour", "string", ("N", 1)))
    observed = {"colour": np.array([["red"], ["green"], ["blue"]], dtype=object)}

    @settings(max_examples=50, deadline=None, database=None, derandomize=True)
    @given(model_inputs(sig, ranges=observed))
    def check(feeds: dict[str, np.ndarray]) -> None:
        assert set(feeds["colour"].ravel()) <= {"red", "green", "blue"}

    check()


def test_a_batch_name_on_another_axis_is_the_same_size() -> None:
    # "N" on axis 0 of a and axis 1 of b: b got its own size from (1, 4)
    sig = _sig(("a", "float32", ("N", 3)), ("b", "float32", (3, "N")))

    @SETTINGS
    @given(model_inputs(sig, batch_size=(2, 6)))
    def check(feeds: dict[str, np.ndarray]) -> None:
        assert feeds["a"].shape[0] == feeds["b"].shape[1] >= 2

    check()


def test_an_image_sized_input_passes_hypothesis_health_checks() -> None:
    # one value per list element made the smallest example too large: FailedHealthCheck large_base_example
    sig = _sig(("pixels", "float32", (1, 784)))

    @settings(max_examples=5, deadline=None, database=None)
    @given(model_inputs(sig))
    def check(feeds: dict[str, np.ndarray]) -> None:
        assert feeds["pixels"].shape == (1, 784) and np.isfinite(feeds["pixels"]).all()

    check()


def test_integer_bounds_draw_only_the_whole_numbers_inside_them() -> None:
    # (0.5, 2.5) drew 0 and 3: the bounds were widened to floor and ceil
    sig = _sig(("x", "int64", ("N", 2)))
    seen: set[int] = set()

    @settings(max_examples=60, deadline=None, database=None, derandomize=True)
    @given(model_inputs(sig, ranges={"x": (0.5, 2.5)}))
    def check(feeds: dict[str, np.ndarray]) -> None:
        seen.update(feeds["x"].ravel().tolist())
        assert ((feeds["x"] >= 1) & (feeds["x"] <= 2)).all(), feeds["x"]

    check()
    assert seen == {1, 2}
    with pytest.raises(InvalidDataError, match="hold no whole number"):
        model_inputs(sig, ranges={"x": (0.2, 0.8)})


def test_declared_shapes_are_drawn_as_declared() -> None:
    # a fixed 0 was drawn as 1 (onnxruntime: "Got: 1 Expected: 0"); an input of unknown rank ignored batch_size
    zero = _sig(("x", "float32", (0, 3)))
    unknown = _sig(("x", "float32", None))
    shapes: set[tuple[int, ...]] = set()

    @SETTINGS
    @given(model_inputs(zero))
    def fixed(feeds: dict[str, np.ndarray]) -> None:
        assert feeds["x"].shape == (0, 3)

    @settings(max_examples=30, deadline=None, database=None, derandomize=True)
    @given(model_inputs(unknown, batch_size=(3, 5)))
    def rows(feeds: dict[str, np.ndarray]) -> None:
        shapes.add(feeds["x"].shape)

    fixed()
    rows()
    assert shapes and all(3 <= s[0] <= 5 for s in shapes), shapes


@pytest.mark.parametrize("kind", ["float8e4m3fn", "int4", "uint4", "complex64"])
def test_an_element_type_with_no_values_to_draw_is_refused_at_once(kind: str) -> None:
    # float8 and int4 raised TypeError: data type 'elem17' not understood, at draw time
    from onnx import TensorProto, helper

    code = {"float8e4m3fn": TensorProto.FLOAT8E4M3FN, "int4": TensorProto.INT4, "uint4": TensorProto.UINT4,
            "complex64": TensorProto.COMPLEX64}[kind]
    graph = helper.make_graph([helper.make_node("Identity", ["x"], ["y"])], "g",
                              [helper.make_tensor_value_info("x", code, ["N", 2])],
                              [helper.make_tensor_value_info("y", code, ["N", 2])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 21)])
    with pytest.raises(UnsupportedModelError, match="cannot generate values for input 'x'"):
        model_inputs(model)


@pytest.mark.parametrize("batch_size", [2.5, "3", (1,), (1, 2, 3), True, (0, 2), (3, 2)])
def test_a_batch_size_that_is_not_whole_numbers_is_one_clear_error(batch_size: Any) -> None:
    # 2.5, "3" and (1,) crashed inside with TypeError / IndexError
    with pytest.raises(InvalidDataError, match="batch_size must be a whole number"):
        model_inputs(_sig(("x", "float32", ("N", 1))), batch_size=batch_size)


def test_ranges_that_mix_bounds_with_other_values_or_hold_no_rows_are_refused() -> None:
    sig = _sig(("x", "float32", ("N", 2)))
    with pytest.raises(InvalidDataError, match=r"ranges gives \(low, high\) bounds, so every entry must be one"):
        model_inputs(sig, ranges={"x": (0, 1), "zz": 3})
    with pytest.raises(InvalidDataError, match="ranges holds no rows"):
        model_inputs(sig, ranges=np.zeros((0, 2), dtype=np.float32))


@pytest.mark.parametrize(("shape", "batch"), [((1, 784), 1), (("N", 1, 28, 28), (1, 2)), (("N", 64), (100, 100))])
def test_data_ranges_on_wide_inputs_pass_hypothesis_health_checks(shape: tuple[Any, ...], batch: Any) -> None:
    # one strategy per column: a [1, 784] input with ranges= failed large_base_example, 100 rows of 64
    # columns data_too_large; every column must still stay inside its own range
    sig = _sig(("x", "float32", shape))
    width = int(np.prod([d for d in shape[1:]]))
    rng = np.random.default_rng(0)
    X = (rng.normal(size=(30, width)) * np.arange(1, width + 1)).astype(np.float32).reshape((30, *shape[1:]))
    lo, hi = X.reshape(30, -1).min(axis=0), X.reshape(30, -1).max(axis=0)
    room = np.maximum.reduce([hi - lo, abs(hi), abs(lo), np.ones_like(lo)]) * 0.1

    @settings(max_examples=10, deadline=None, database=None)
    @given(model_inputs(sig, ranges=X, batch_size=batch))
    def check(feeds: dict[str, np.ndarray]) -> None:
        flat = feeds["x"].reshape(len(feeds["x"]), -1)
        assert feeds["x"].dtype == np.float32 and feeds["x"].shape[1:] == tuple(shape[1:])
        assert ((flat >= lo - room) & (flat <= hi + room)).all()

    check()


def test_each_column_is_drawn_across_its_own_range() -> None:
    # columns of very different scales: each reaches both of its bounds and its inside, none leaves it
    sig = _sig(("x", "float64", ("N", 3)))
    bounds = np.array([[0.0, 1.0], [-1e6, -1e3], [5.0, 5.0]])
    lows, highs = [], []

    @settings(max_examples=200, deadline=None, database=None, derandomize=True)
    @given(model_inputs(sig, ranges=bounds.T.copy(), batch_size=(1, 4)))
    def check(feeds: dict[str, np.ndarray]) -> None:
        x = feeds["x"]
        lows.append(x.min(axis=0))
        highs.append(x.max(axis=0))

    check()
    seen_lo, seen_hi = np.min(lows, axis=0), np.max(highs, axis=0)
    room = np.maximum.reduce([bounds[:, 1] - bounds[:, 0], abs(bounds[:, 0]), abs(bounds[:, 1]), np.ones(3)]) * 0.1
    assert (seen_lo >= bounds[:, 0] - room).all() and (seen_hi <= bounds[:, 1] + room).all()
    width = bounds[:, 1] - bounds[:, 0] + 2 * room  # each column comes near both ends of its own range
    assert (seen_lo <= bounds[:, 0] - room + 0.05 * width).all()
    assert (seen_hi >= bounds[:, 1] + room - 0.05 * width).all()


def test_observed_integer_ranges_are_not_widened_past_the_whole_numbers_seen() -> None:
    # indices seen as 0..9 (padded to [-0.9, 9.9]) drew -1 and 10: out of bounds for a 10-row embedding
    sig = _sig(("idx", "int64", ("N",)))
    seen: set[int] = set()

    @settings(max_examples=100, deadline=None, database=None, derandomize=True)
    @given(model_inputs(sig, ranges={"idx": np.arange(10)}, batch_size=(1, 5)))
    def check(feeds: dict[str, np.ndarray]) -> None:
        seen.update(feeds["idx"].tolist())

    check()
    assert seen <= set(range(10)) and {0, 9} <= seen


@pytest.mark.parametrize("ranges", [None, "data"], ids=["no-ranges", "data-ranges"])
def test_negative_zero_subnormals_and_the_smallest_normal_only_with_extremes(ranges: Any) -> None:
    # the documentation lists -0.0, subnormals and the smallest normal as extremes; plain draws had all three
    # (without ranges, -1.1754944e-38 108 times and +1.1754944e-38 49 times in 8601 float32 values)
    sig = _sig(("x", "float32", ("N", 3)))
    given_ranges = None if ranges is None else np.array([[-1e-30, -2.0, 0.0], [1e-30, 3.0, 1.0]], np.float32)

    def odd(x: np.ndarray) -> np.ndarray:
        tiny = np.finfo(np.float32).tiny
        return ((x != 0) & (np.abs(x) <= tiny)) | ((x == 0) & np.signbit(x))

    @settings(max_examples=300, deadline=None, database=None, derandomize=True)
    @given(model_inputs(sig, ranges=given_ranges))
    def plain(feeds: dict[str, np.ndarray]) -> None:
        assert not odd(feeds["x"]).any(), feeds["x"]

    plain()
    found = find(model_inputs(sig, ranges=given_ranges, extremes=True), lambda f: bool(odd(f["x"]).any()),
                 settings=settings(database=None, max_examples=500))
    assert odd(found["x"]).any()


def test_bounds_keyed_by_the_users_column_names_bound_the_inputs_made_from_them() -> None:
    # a SQL-adapted model renames 'sepal length (cm)' to the input sepal_length__cm_; its user keeps
    # writing their own names, as validate and assert_parity take them
    import pandas as pd
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    frame = load_iris(as_frame=True)
    X: pd.DataFrame = frame.data
    conv = og.convert(LogisticRegression(max_iter=500).fit(X, frame.target), X.head(), target="sql-edge-2.0")
    bounds = {column: (float(X[column].min()), float(X[column].max())) for column in X.columns}

    @SETTINGS
    @given(model_inputs(conv, ranges=bounds))
    def check(feeds: dict[str, np.ndarray]) -> None:
        assert set(feeds) == set(conv.signature.input_names)
        for column, (lo, hi) in bounds.items():
            values = feeds[conv.signature.columns.input_for(column)]
            assert ((values >= lo) & (values <= hi)).all(), (column, values)

    check()


def test_a_failing_example_shows_the_values_fed_not_the_numbers_drawn_for_them() -> None:
    # Hypothesis prints the falsifying example; it must show the row the model got
    conv, X = _conversion("sklearn-iris-logreg")  # column 0 observed in [4.3, 7.9]

    @settings(max_examples=50, deadline=None, database=None, derandomize=True)
    @given(model_inputs(conv, ranges=X, batch_size=1))
    def prop(feeds: dict[str, np.ndarray]) -> None:
        assert feeds["input"][0, 0] < 6.0

    with pytest.raises(AssertionError) as info:
        prop()
    shown = "\n".join(getattr(info.value, "__notes__", []))
    row = re.search(r"array\(\[\[([^\]]*)\]\]", shown)
    assert row is not None, shown
    first = float(row.group(1).split(",")[0])
    assert 6.0 <= first <= 9.0, shown  # the value fed, in the data's range; not a unit number in [-1, 1]


def test_observed_indices_of_a_larger_table_stay_inside_it() -> None:
    # ids seen as 0..49 (all 50 rows of an embedding) were padded to [-4.9, 53.9] and drew 53: onnxruntime's
    # Gather refused it ("indices element out of data bounds") for a correct model, a false alarm
    sig = _sig(("ids", "int64", ("N", 1)))
    seen: set[int] = set()

    @settings(max_examples=200, deadline=None, database=None, derandomize=True)
    @given(model_inputs(sig, ranges=np.arange(50).reshape(-1, 1), batch_size=(1, 5)))
    def check(feeds: dict[str, np.ndarray]) -> None:
        seen.update(feeds["ids"].ravel().tolist())

    check()
    assert seen <= set(range(50)) and {0, 49} <= seen


@pytest.mark.parametrize("allow_nan", [False, True], ids=["codes", "codes-and-missing"])
def test_an_input_of_category_codes_draws_only_its_codes(allow_nan: bool) -> None:
    # an XGBoost model's category column is an input of codes 0..3; without ranges it drew -1000..1000, and
    # the first code past 3 was refused by assert_parity as a category value: a false alarm on a correct model
    import pandas as pd
    import xgboost

    rng = np.random.default_rng(0)
    X = pd.DataFrame({"x": rng.normal(size=200),
                      "region": pd.Categorical(rng.choice(["east", "north", "south", "west"], 200))})
    y = ((X["x"] > 0) ^ X["region"].isin(["north", "east"])).astype(int)
    model = xgboost.XGBClassifier(n_estimators=5, max_depth=2, enable_categorical=True, tree_method="hist")
    conv = og.convert(model.fit(X, y), X.head(20))
    seen: set[int] = set()

    @settings(max_examples=60, deadline=None, database=None, derandomize=True,
              suppress_health_check=[HealthCheck.too_slow])
    @given(model_inputs(conv, allow_nan=allow_nan))
    def check(feeds: dict[str, np.ndarray]) -> None:
        seen.update(feeds["region"].ravel().tolist())
        assert_parity(model, conv, feeds)

    check()
    assert seen == ({-1} if allow_nan else set()) | {0, 1, 2, 3}


@cache
def _text_category_model() -> tuple[Any, Any, Any]:
    """A HistGradientBoosting model with the text category column ``colour`` (its input reads a missing value as the
    text ``TensorSpec.missing``), the frame it was fitted on (missing colours in it) and its conversion."""
    import pandas as pd
    from sklearn.ensemble import HistGradientBoostingClassifier

    rng = np.random.default_rng(0)
    X = pd.DataFrame({"x": rng.normal(size=300), "colour": rng.choice(["red", "green", "blue", None], 300)})
    y = ((X["x"] > 0) ^ (X["colour"] == "red")).astype(int)
    model = HistGradientBoostingClassifier(max_iter=10, categorical_features=["colour"], random_state=0).fit(X, y)
    return model, X, og.convert(model, X.head(50))


@pytest.mark.parametrize("ranges", ["no-missing-rows", None], ids=["data-ranges", "no-ranges"])
def test_allow_nan_draws_the_missing_text_of_a_text_input_that_takes_one(ranges: Any) -> None:
    # allow_nan drew NaN for float inputs only: a text input that reads a missing value (TensorSpec.missing) never
    # got it, so a model's handling of a missing category went untested
    model, X, conv = _text_category_model()
    missing = conv.signature.inputs[1].missing
    assert missing is not None
    seen: set[str] = set()

    @settings(max_examples=80, deadline=None, database=None, derandomize=True,
              suppress_health_check=[HealthCheck.too_slow])
    @given(model_inputs(conv, allow_nan=True, ranges=X.dropna() if ranges else None))
    def check(feeds: dict[str, np.ndarray]) -> None:
        seen.update(feeds["colour"].ravel().tolist())
        assert_parity(model, conv, feeds)

    check()
    assert missing in seen
    if ranges:
        assert seen == {"red", "green", "blue", missing}


def test_no_missing_text_without_allow_nan_nor_for_a_text_input_that_takes_none() -> None:
    # rows holding missing colours gave their missing text as an observed value, drawn without allow_nan; an input
    # with no missing text (a OneHotEncoder's) is drawn its observed texts only, with allow_nan too
    _model, X, conv = _text_category_model()
    missing = conv.signature.inputs[1].missing
    seen: set[str] = set()

    @SETTINGS
    @given(model_inputs(conv, ranges=X))
    def check(feeds: dict[str, np.ndarray]) -> None:
        seen.update(feeds["colour"].ravel().tolist())

    check()
    assert missing not in seen and seen <= {"red", "green", "blue"}
    sig = _sig(("colour", "string", ("N", 1)))
    texts: set[Any] = set()

    @SETTINGS
    @given(model_inputs(sig, ranges={"colour": np.array([["red"], ["blue"]], dtype=object)}, allow_nan=True))
    def plain(feeds: dict[str, np.ndarray]) -> None:
        texts.update(feeds["colour"].ravel().tolist())

    plain()
    assert texts == {"red", "blue"}


@pytest.mark.parametrize("options", [{"extremes": True},
                                     {"extremes": True, "allow_infinity": True, "allow_nan": True, "ranges": "data"}],
                         ids=["extremes", "extremes-nan-infinity-ranges"])
def test_extremes_keep_an_input_of_category_codes_to_its_codes(options: dict[str, Any]) -> None:
    # extremes=True drew the int32 min and max for an XGBoost category input of codes 0..3, which assert_parity
    # refused as category values: a false alarm in a user's test on a correct model. With ranges of rows holding no
    # missing value, allow_nan never drew -1, the missing code (a float input's NaN is drawn whatever the ranges)
    import pandas as pd
    import xgboost

    rng = np.random.default_rng(0)
    X = pd.DataFrame({"region": pd.Categorical(rng.choice(["east", "north", "south", "west"], 200))})
    y = X["region"].isin(["north", "east"]).astype(int)
    model = xgboost.XGBClassifier(n_estimators=5, max_depth=2, enable_categorical=True, tree_method="hist")
    conv = og.convert(model.fit(X, y), X.head(20))
    seen: set[int] = set()

    @settings(max_examples=60, deadline=None, database=None, derandomize=True,
              suppress_health_check=[HealthCheck.too_slow])
    @given(model_inputs(conv, **{**options, **({"ranges": X} if "ranges" in options else {})}))
    def check(feeds: dict[str, np.ndarray]) -> None:
        seen.update(feeds["region"].ravel().tolist())
        assert_parity(model, conv, feeds)

    check()
    assert seen == {0, 1, 2, 3} | ({-1} if options.get("allow_nan") else set())


@pytest.mark.parametrize("options", [{}, {"allow_nan": True}, {"allow_nan": True, "ranges": "data"}],
                         ids=["plain", "allow-nan", "allow-nan-data-ranges"])
def test_an_input_of_number_category_codes_draws_the_category_values(options: dict[str, Any]) -> None:
    # an XGBoost category column of numbers (10, 20, 30) is an input of codes read by value: drawn its codes 0..2,
    # every draw was refused by assert_parity ("a number is read as the category of that value, not as a code")
    import pandas as pd
    import xgboost

    rng = np.random.default_rng(0)
    X = pd.DataFrame({"x": rng.normal(size=200), "shop": pd.Categorical(rng.choice([10, 20, 30], 200))})
    y = ((X["x"] > 0) ^ (X["shop"] == 20)).astype(int)
    model = xgboost.XGBClassifier(n_estimators=5, max_depth=2, enable_categorical=True, tree_method="hist")
    conv = og.convert(model.fit(X, y), X.head(20))
    assert conv.signature.inputs[1].codes == ((0, (10, 20, 30)),)
    seen: set[int] = set()

    @settings(max_examples=60, deadline=None, database=None, derandomize=True,
              suppress_health_check=[HealthCheck.too_slow])
    @given(model_inputs(conv, **{**options, **({"ranges": X} if "ranges" in options else {})}))
    def check(feeds: dict[str, np.ndarray]) -> None:
        seen.update(feeds["shop"].ravel().tolist())
        assert_parity(model, conv, feeds)

    check()
    assert seen == {10, 20, 30} | ({-1} if options.get("allow_nan") else set())


@pytest.mark.parametrize("options", [{}, {"extremes": True}, {"allow_nan": True}],
                         ids=["plain", "extremes", "allow-nan"])
def test_an_input_of_integer_categories_draws_only_its_categories(options: dict[str, Any]) -> None:
    # LightGBM's integer category column is an input read by value (categories 7, 11, 23): drawn -1000..1000 it
    # was fed 0, which assert_parity refused as a category the model was not fitted on
    import lightgbm
    import pandas as pd

    rng = np.random.default_rng(0)
    X = pd.DataFrame({"x": rng.normal(size=300), "shop": pd.Categorical(rng.choice([7, 11, 23], 300))})
    y = ((X["x"] > 0) ^ (X["shop"] == 7)).astype(int)
    model = lightgbm.LGBMClassifier(n_estimators=5, min_child_samples=5, verbose=-1).fit(X, y)
    conv = og.convert(model, X.head(50))
    shop = conv.signature.inputs[1]
    assert shop.categories == (7, 11, 23) and shop.missing is not None
    seen: set[int] = set()

    @settings(max_examples=60, deadline=None, database=None, derandomize=True,
              suppress_health_check=[HealthCheck.too_slow])
    @given(model_inputs(conv, **options))
    def check(feeds: dict[str, np.ndarray]) -> None:
        seen.update(feeds["shop"].ravel().tolist())
        assert_parity(model, conv, feeds)

    check()
    assert seen == {7, 11, 23} | ({int(shop.missing)} if options.get("allow_nan") else set())
