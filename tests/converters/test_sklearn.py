"""scikit-learn conversion: every zoo entry at every opset, DataFrame inputs, ZipMap off, honest opsets."""

from __future__ import annotations

import re
import warnings
from typing import Any

import numpy as np
import pytest

import onnxgate as og
from onnxgate._data import as_feeds
from onnxgate._onnx import ir_version_for_opset, model_opsets
from onnxgate.converters import registry

SKLEARN_ENTRIES = og.zoo.names("sklearn")
OPSETS = (9, 11, 13, 15, 17, 18, 21)


@pytest.fixture(scope="module")
def built() -> dict[str, tuple[Any, Any, Any]]:
    return {name: og.zoo.get(name).build() for name in SKLEARN_ENTRIES}


def _run(conv: og.Conversion, X: Any) -> list[np.ndarray]:
    import onnxruntime as ort

    sess = ort.InferenceSession(conv.model.SerializeToString(), providers=["CPUExecutionProvider"])
    return sess.run(None, as_feeds(X, conv.signature))


def _max_err(a: np.ndarray, b: np.ndarray) -> float:
    a = np.asarray(a, dtype=np.float64).reshape(len(a), -1)
    b = np.asarray(b, dtype=np.float64).reshape(len(b), -1)
    return float(np.max(np.abs(a - b)))


@pytest.mark.parametrize("opset", OPSETS)
@pytest.mark.parametrize("name", SKLEARN_ENTRIES)
def test_zoo_entry_converts_and_matches(built: dict[str, Any], name: str, opset: int) -> None:
    entry = og.zoo.get(name)
    if opset not in entry.opsets:
        pytest.skip(f"{name} is not declared to convert at opset {opset}")
    model, X, _y = built[name]
    conv = og.convert(model, X[:5], opset=opset)
    assert conv.framework == "sklearn"
    assert conv.requested_opset == opset
    assert conv.opset <= opset
    assert model_opsets(conv.model)[""] == conv.opset
    assert conv.ir_version == ir_version_for_opset(conv.opset)
    # a batch size different from the 5-row sample
    rows = X[:37]
    got = _run(conv, rows)
    want = registry.get("sklearn").predict(model, as_feeds(rows, conv.signature), conv.signature)
    assert len(got) == len(want)
    for spec, g, w in zip(conv.signature.outputs, got, want):
        assert g.shape[0] == 37
        if spec.elem_type.startswith("int"):
            np.testing.assert_array_equal(np.asarray(g).reshape(-1), np.asarray(w).reshape(-1))
        else:
            assert _max_err(g, w) <= entry.atol + entry.rtol * float(np.max(np.abs(w)))


def test_classifier_outputs_plain_tensors_not_zipmap(built: dict[str, Any]) -> None:
    model, X, _ = built["sklearn-iris-logreg"]
    conv = og.convert(model, X[:5], opset=15)
    assert [o.kind for o in conv.signature.outputs] == ["tensor", "tensor"]
    assert conv.signature.output_names == ["label", "probabilities"]
    assert conv.signature.output("probabilities").shape[1] == 3  # type: ignore[index]


def test_zipmap_on_request(built: dict[str, Any]) -> None:
    model, X, _ = built["sklearn-iris-logreg"]
    conv = og.convert(model, X[:5], opset=15, options={"zipmap": True})
    assert conv.signature.outputs[1].kind == "sequence"


def test_dataframe_gives_one_typed_input_per_column(built: dict[str, Any]) -> None:
    model, X, _ = built["sklearn-wine-columntransformer"]
    conv = og.convert(model, X.head(), opset=13)
    assert conv.signature.input_names == list(X.columns)
    types = {s.name: s.elem_type for s in conv.signature.inputs}
    assert types["alcohol"] == "float64" and types["proline"] == "int64"
    assert all(s.shape is not None and s.shape[1] == 1 for s in conv.signature.inputs)
    # precision='auto' keeps the float64 columns in double; float32 casts them inside the graph
    assert not any("cast to float32" in w for w in conv.warnings)
    conv32 = og.convert(model, X.head(), opset=13, precision="float32")
    assert {s.name: s.elem_type for s in conv32.signature.inputs}["alcohol"] == "float64"
    assert any("cast to float32" in w for w in conv32.warnings)


def test_ml_opset_follows_the_default_opset(built: dict[str, Any]) -> None:
    model, X, _ = built["sklearn-iris-logreg"]
    assert og.convert(model, X[:5], opset=12).ml_opset in (None, 1, 2)
    assert (og.convert(model, X[:5], opset=17).ml_opset or 0) <= 3
    # asked at 22, stamped 13 (nothing needs more): the ml opset of 13's time, not 22's 5, which a runtime of
    # opset 13's time (SQL Edge 2.0: ml 3) refuses, against the warning's word (helper-91)
    lower = og.convert(model, X[:5], opset=22)
    assert lower.opset == 13 and (lower.ml_opset or 0) <= 2, lower.opsets
    assert og.validate(lower, target="sql-edge-2.0").check("opset_within_caps").passed


@pytest.mark.parametrize("opset", [23, 28])
def test_opsets_beyond_skl2onnx_raise_with_the_max(built: dict[str, Any], opset: int) -> None:
    model, X, _ = built["sklearn-diabetes-rf"]
    with pytest.raises(og.OpsetError, match="at most opset 22") as info:
        og.convert(model, X[:5], opset=opset)
    assert info.value.max_opset == 22 and info.value.opset == opset


@pytest.mark.parametrize("opset", [0, -1, 99])
def test_opset_out_of_range(built: dict[str, Any], opset: int) -> None:
    model, X, _ = built["sklearn-iris-logreg"]
    with pytest.raises(og.OpsetError, match="between 1 and"):
        og.convert(model, X[:5], opset=opset)


def test_opset_above_target_cap(built: dict[str, Any]) -> None:
    model, X, _ = built["sklearn-iris-logreg"]
    with pytest.raises(og.OpsetError, match=r"'sql-edge-1\.0' runs at most opset 12"):
        og.convert(model, X[:5], opset=15, target="sql-edge-1.0")


def test_unfitted_estimator() -> None:
    from sklearn.linear_model import LogisticRegression

    with pytest.raises(og.UnsupportedModelError, match="LogisticRegression is not fitted"):
        og.convert(LogisticRegression(), np.zeros((2, 3)))


def test_wrong_sample_width(built: dict[str, Any]) -> None:
    model, X, _ = built["sklearn-iris-logreg"]
    with pytest.raises(og.InvalidDataError, match="fitted on 4 features; the sample has 3"):
        og.convert(model, X[:5, :3])


def test_dataframe_with_missing_column(built: dict[str, Any]) -> None:
    model, X, _ = built["sklearn-wine-columntransformer"]
    with pytest.raises(og.InvalidDataError, match=r"missing \['proline'\]"):
        og.convert(model, X.drop(columns="proline").head())


def test_estimator_without_converter_names_it() -> None:
    from sklearn.decomposition import LatentDirichletAllocation

    model = LatentDirichletAllocation(n_components=2, random_state=0).fit(np.arange(20.0).reshape(-1, 2))
    with pytest.raises(og.UnsupportedModelError, match="no converter for LatentDirichletAllocation"):
        og.convert(model, np.arange(6.0).reshape(-1, 2))


def test_unknown_model_type() -> None:
    with pytest.raises(og.UnsupportedModelError, match="expected a scikit-learn, XGBoost, LightGBM, CatBoost, "
                                                       "PyTorch, TensorFlow or Keras model"):
        og.convert(object(), None)


def test_conversion_does_not_mutate_the_model(built: dict[str, Any]) -> None:
    import pickle

    model, X, _ = built["sklearn-breast-cancer-gbc-pipeline"]
    before = pickle.dumps(model)
    og.convert(model, X[:5], opset=15)
    assert pickle.dumps(model) == before


def test_save_is_atomic_and_refuses_to_overwrite(built: dict[str, Any], tmp_path: Any) -> None:
    model, X, _ = built["sklearn-iris-logreg"]
    conv = og.convert(model, X[:5])
    path = tmp_path / "m.onnx"
    conv.save(path)
    first = path.read_bytes()
    with pytest.raises(og.OutputExistsError, match="refusing to overwrite"):
        conv.save(path)
    assert path.read_bytes() == first
    conv.save(path, overwrite=True)
    assert [p.name for p in tmp_path.iterdir()] == ["m.onnx"]


def test_float64_precision_keeps_double_end_to_end(built: dict[str, Any]) -> None:
    model, X, _ = built["sklearn-diabetes-ridge"]
    conv = og.convert(model, X[:5], options={"precision": "float64"})
    assert [s.elem_type for s in conv.signature.inputs + conv.signature.outputs] == ["float64", "float64"]
    assert not any("cast to" in w for w in conv.warnings)
    report = og.validate(conv, reference=model, data=X, atol=1e-9, rtol=1e-9)  # float32 could not meet this
    assert report.passed, str(report)


def test_float64_tree_ensemble_keeps_double_around_float32_comparisons(built: dict[str, Any]) -> None:
    # ai.onnx.ml declares tree outputs float only: the trees read float32 (as scikit-learn's do) and
    # the rest of the graph stays double, so the file type-checks and onnxruntime runs it.
    model, X, _ = built["sklearn-diabetes-rf"]
    conv = og.convert(model, np.asarray(X[:5], dtype=np.float64), options={"precision": "float64"})
    assert [s.elem_type for s in conv.signature.inputs + conv.signature.outputs] == ["float64", "float64"]
    assert og.validate(conv, reference=model, data=X).passed


def test_float64_precision_ill_typed_is_refused_at_conversion() -> None:
    from sklearn.naive_bayes import CategoricalNB

    X = np.random.default_rng(0).integers(0, 4, size=(40, 3)).astype(np.float64)
    model = CategoricalNB().fit(X, (X[:, 0] > 1).astype(int))
    with pytest.raises(og.UnsupportedModelError, match=r"CategoricalNB in double precision.*ill-typed"):
        og.convert(model, X[:5], options={"precision": "float64"})


@pytest.mark.parametrize("options", [{"degree": 2}, {"degree": 3, "include_bias": False},
                                     {"degree": 2, "interaction_only": True}])
@pytest.mark.parametrize("dtype", ["float64", "int64"])
def test_polynomial_features_on_float64_or_integer_rows_answer_in_float64(options: dict[str, Any],
                                                                          dtype: str) -> None:
    """skl2onnx wrote PolynomialFeatures' bias column float32 beside double products, an ill-typed double
    graph: a float64 or integer sample computed the pipeline in float32 (wine's probabilities 1.6e-7 off
    scikit-learn's, integer rows 1.2e-7)."""
    from sklearn.datasets import load_wine
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import PolynomialFeatures, StandardScaler

    X, y = load_wine(return_X_y=True)
    X = X if dtype == "float64" else np.round(X * 10).astype(np.int64)
    model = make_pipeline(PolynomialFeatures(**options), StandardScaler(), LogisticRegression(max_iter=5000))
    model.fit(X, y)
    conv = og.convert(model, X[:20])
    assert conv.signature.input("input").elem_type == dtype
    assert conv.signature.output("probabilities").elem_type == "float64"
    assert _max_err(_run(conv, X)[1], model.predict_proba(X)) < 1e-12
    report = og.validate(conv, data=X, atol=1e-12, rtol=0)
    assert report.passed, report.summary()


@pytest.mark.parametrize("method", ["yeo-johnson", "box-cox"])
@pytest.mark.parametrize("standardize", [True, False])
@pytest.mark.parametrize("dtype", ["float64", "int64"])
def test_a_power_transformer_on_float64_or_integer_rows_answers_in_float64(method: str, standardize: bool,
                                                                           dtype: str) -> None:
    """skl2onnx's PowerTransformer multiplied double values by float32 masks, an ill-typed double graph: float64
    rows computed in float32 (diabetes 2.2e-6 off scikit-learn's), and integer rows failed to convert
    ("Conflicted constraint 'T'"). A missing value stays missing (skl2onnx's float32 form answers 0)."""
    from sklearn.datasets import load_diabetes
    from sklearn.preprocessing import PowerTransformer

    X, _ = load_diabetes(return_X_y=True)
    X = X if dtype == "float64" else np.round(X * 10).astype(np.int64)
    if method == "box-cox":
        X = X - X.min(axis=0) + 1  # Box-Cox takes positive values
    model = PowerTransformer(method=method, standardize=standardize).fit(X)
    conv = og.convert(model, X[:20])
    assert conv.signature.input("input").elem_type == dtype
    got = _run(conv, X)[0]
    assert got.dtype == np.float64
    assert _max_err(got, model.transform(X)) < 1e-12
    report = og.validate(conv, data=X, atol=1e-12, rtol=0)
    assert report.passed, report.summary()
    if dtype == "float64":
        holes = X[:5].copy()
        holes[0, 2] = np.nan
        np.testing.assert_allclose(_run(conv, holes)[0], model.transform(holes), rtol=0, atol=1e-12)


def test_a_power_transformer_over_int64_and_float64_columns_answers_in_float64() -> None:
    # a DataFrame's int64 and float64 columns, each an input: skl2onnx's converter failed on the int64 one
    # ("Conflicted constraint 'T'") in double and in float32
    import pandas as pd
    from sklearn.datasets import load_diabetes
    from sklearn.linear_model import Ridge
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import PowerTransformer

    X, y = load_diabetes(return_X_y=True)
    frame = pd.DataFrame(np.round(X[:, :4] * 10).astype(np.int64), columns=["a", "b", "c", "d"])
    frame["e"] = X[:, 4]
    model = make_pipeline(PowerTransformer(), Ridge()).fit(frame, y)
    conv = og.convert(model, frame.head(20))
    got = _run(conv, frame)[0]
    assert got.dtype == np.float64
    assert _max_err(got, model.predict(frame)) < 1e-10


@pytest.mark.parametrize("kind", ["PowerTransformer", "KNNImputer"])
def test_integer_rows_computed_in_float32_enter_the_graph_as_floats(kind: str) -> None:
    """Where the graph computes in float32 (asked for, or the fallback where no double graph can be written),
    integer rows were handed to skl2onnx as int64, which its
    PowerTransformer and KNNImputer refused: convert failed where float64 rows converted. They are cast to
    float32 inside the graph now, the input staying int64."""
    from sklearn.datasets import load_diabetes
    from sklearn.impute import KNNImputer
    from sklearn.preprocessing import PowerTransformer

    X, _ = load_diabetes(return_X_y=True)
    X = np.round(X * 10).astype(np.int64)
    model = (PowerTransformer() if kind == "PowerTransformer" else KNNImputer()).fit(X)
    conv = og.convert(model, X[:20], precision="float32")
    assert conv.signature.input("input").elem_type == "int64"
    got = _run(conv, X)[0]
    assert got.dtype == np.float32
    assert _max_err(got, model.transform(X)) < 1e-5
    assert any("cast to float32 inside the graph" in w for w in conv.warnings), conv.warnings


@pytest.mark.parametrize("step", ["SimpleImputer(mean)", "SimpleImputer(median)", "Binarizer"])
def test_integer_rows_a_step_reads_as_numbers_convert_in_float64(step: str) -> None:
    """scikit-learn reads integer rows as float64 for a SimpleImputer of the mean or median and compares them
    with a Binarizer's float threshold; onnxgate took both for category readers and handed skl2onnx int64:
    the mean imputer and the Binarizer failed to convert ("takes integer as input but nan values are replaced
    by float", "should have the same type") and the median imputer answered int64."""
    from sklearn.datasets import load_diabetes
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import Ridge
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import Binarizer

    X, y = load_diabetes(return_X_y=True)
    X = np.round(X * 10).astype(np.int64)
    first = (Binarizer(threshold=0.01) if step == "Binarizer"
             else SimpleImputer(strategy="median" if "median" in step else "mean"))
    model = make_pipeline(first, Ridge()).fit(X, y)
    conv = og.convert(model, X[:20])
    got = _run(conv, X)[0]
    assert got.dtype == np.float64
    assert _max_err(got, model.predict(X)) < 1e-10
    if step != "Binarizer":  # the imputer alone answers float64 as scikit-learn's does
        alone = og.convert(model[0], X[:20])
        assert _run(alone, X)[0].dtype == model[0].transform(X).dtype == np.float64


def test_an_imputer_of_the_most_frequent_integer_keeps_integers() -> None:
    # scikit-learn keeps integer rows as they are for most_frequent and constant: so does the graph
    from sklearn.impute import SimpleImputer

    X = np.random.default_rng(0).integers(0, 50, size=(60, 3))
    model = SimpleImputer(strategy="most_frequent").fit(X)
    conv = og.convert(model, X[:20])
    got = _run(conv, X)[0]
    assert got.dtype == np.int64
    np.testing.assert_array_equal(got, model.transform(X))


def test_float64_precision_the_runtime_cannot_run_is_refused_at_conversion() -> None:
    from sklearn.datasets import load_diabetes
    from sklearn.ensemble import AdaBoostRegressor

    X, y = load_diabetes(return_X_y=True)
    # below opset 11 skl2onnx writes the weighted median's cumulative sum as an RNN, which onnxruntime has no
    # double kernel for
    model = AdaBoostRegressor(n_estimators=5, random_state=0).fit(X, y)
    with pytest.raises(og.UnsupportedModelError,
                       match=r"AdaBoostRegressor in double precision uses operators onnxruntime has no double kernel "
                             r"for .*RNN"):
        og.convert(model, X[:5], opset=10, options={"precision": "float64"})


@pytest.mark.parametrize("in_pipeline", [False, True])
def test_raw_scores_asked_of_a_classifier_are_compared_with_its_decision_function(in_pipeline: bool) -> None:
    # skl2onnx's raw_scores option writes decision scores where the probabilities are, and parity compared them
    # with predict_proba: every such file failed ("max_abs=8.5e+01"), a right one as a wrong one. They are compared
    # with decision_function as skl2onnx lays it out now ([-d, d]), and scores off fail saying what they hold
    from onnx import numpy_helper
    from sklearn.datasets import load_breast_cancer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X, y = load_breast_cancer(return_X_y=True)
    model = (make_pipeline(StandardScaler(), LogisticRegression()) if in_pipeline
             else LogisticRegression(max_iter=5000)).fit(X, y)
    conv = og.convert(model, X[:5], options={LogisticRegression: {"raw_scores": True}})
    report = og.validate(conv, data=X)
    assert report.passed, str(report)
    decision = model.decision_function(X)
    np.testing.assert_allclose(_run(conv, X)[1], np.column_stack([-decision, decision]), rtol=0, atol=1e-10)
    (coef,) = [t for t in conv.model.graph.initializer if t.name.startswith("coef")]
    coef.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(coef) * 1.01, coef.name))  # scores 1% off
    report = og.validate(conv, data=X)
    assert not report.passed
    assert re.search(r"'probabilities' holds LogisticRegression's raw scores .decision_function; two classes as "
                     r"\[-d, d\]\): .*compared by its decision_function", str(report)), str(report)


@pytest.mark.parametrize("zipmap", [False, True])
def test_raw_scores_of_an_svc_with_probabilities_are_its_decision_function(zipmap: bool) -> None:
    # with probability=True and the user's raw_scores the file holds decision_function, which parity compared with
    # predict_proba (1.5 off on wine); zipmap=True computed it all in float32 and precision="float64" was refused
    # (ai.onnx.ml's ZipMap takes float32 only): the double scores are now cast to float32 right before the ZipMap
    import warnings

    from sklearn.datasets import load_wine
    from sklearn.svm import SVC

    X, y = load_wine(return_X_y=True)
    X = (X - X.mean(axis=0)) / X.std(axis=0)
    with warnings.catch_warnings():  # scikit-learn 1.9 deprecates probability=True (and skl2onnx reads probA_)
        warnings.simplefilter("ignore", FutureWarning)
        model = SVC(probability=True, random_state=0).fit(X, y)
        options: dict[Any, Any] = {"zipmap": zipmap, SVC: {"raw_scores": True}}
        conv = og.convert(model, X[:5], options=options)
        forced = og.convert(model, X[:5], options={**options, "precision": "float64"})
    assert og.validate(conv, reference=model, data=X).passed
    assert not any("float32" in w for w in conv.warnings), conv.warnings
    scores = _run(conv, X)[1]
    if zipmap:
        scores = np.array([[row[c] for c in model.classes_] for row in scores])
    decision = model.decision_function(X)
    # the maps hold the double scores rounded to float32 (half a float32 step), not float32's arithmetic
    np.testing.assert_allclose(scores, decision, rtol=2**-24 if zipmap else 0, atol=0 if zipmap else 1e-10)
    np.testing.assert_array_equal(_run(forced, X)[0], model.predict(X))


def _zipmap_case(case: str) -> tuple[Any, Any]:
    from sklearn.datasets import load_breast_cancer, load_iris, load_wine
    from sklearn.discriminant_analysis import QuadraticDiscriminantAnalysis
    from sklearn.ensemble import GradientBoostingClassifier, HistGradientBoostingClassifier, RandomForestClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.multiclass import OneVsOneClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    if case == "forest-breast_cancer":
        X, y = load_breast_cancer(return_X_y=True)
        # seed 268: a row of exactly tied votes, which the forest's float32 sums labelled otherwise than predict
        return make_pipeline(StandardScaler(), RandomForestClassifier(100, random_state=268)).fit(X, y), X
    if case == "hist-breast_cancer":
        X, y = load_breast_cancer(return_X_y=True)
        return HistGradientBoostingClassifier(max_iter=30, random_state=0).fit(X, y), X
    if case == "boosting-wine":
        X, y = load_wine(return_X_y=True)
        return GradientBoostingClassifier(n_estimators=20, random_state=0).fit(X, y), X
    if case == "quadratic-wine":
        X, y = load_wine(return_X_y=True)
        return QuadraticDiscriminantAnalysis(reg_param=0.1).fit(X, y), X
    if case == "one-vs-one-text-labels-wine":
        X, y = load_wine(return_X_y=True)
        X = StandardScaler().fit_transform(X)
        return OneVsOneClassifier(LogisticRegression(max_iter=1000)).fit(X, np.array(["a", "b", "c"])[y]), X
    X, y = load_iris(return_X_y=True)
    labels = np.array(["setosa", "versicolor", "virginica"])[y] if case == "text-labels-iris" else y
    return LogisticRegression(max_iter=1000).fit(X, labels), X


@pytest.mark.parametrize("case", ["logistic-iris", "text-labels-iris", "boosting-wine", "hist-breast_cancer",
                                  "forest-breast_cancer", "quadratic-wine", "one-vs-one-text-labels-wine"])
def test_zipmap_keeps_the_double_graph_and_rounds_only_its_maps(case: str) -> None:
    # ai.onnx.ml's ZipMap takes float32 scores only, and zipmap=True computed the whole graph in float32 (a
    # LogisticRegression 2.5e-7 off iris, GradientBoosting 1.1e-7 off wine) or kept a forest's float32 sums (4.2e-7
    # off breast_cancer, 1 label of 569 flipped, validate failed): the graph is now the double one, its
    # probabilities cast to float32 right before the ZipMap
    model, X = _zipmap_case(case)
    conv = og.convert(model, X, options={"zipmap": True})
    assert not any("float32" in w for w in conv.warnings), conv.warnings
    assert conv.signature.output_names == ["output_label", "output_probability"]
    assert conv.signature.outputs[1].type_str == (
        f"seq(map({'string' if 'text' in case else 'int64'},tensor(float32)))")
    labels, maps = _run(conv, X)
    np.testing.assert_array_equal(labels, model.predict(X))
    if not hasattr(model, "predict_proba"):  # a OneVsOneClassifier's maps hold its decision_function
        assert og.validate(conv, reference=model, data=X, atol=float(np.finfo(np.float32).smallest_subnormal),
                           rtol=2**-24).passed
        return
    probabilities = np.array([[row[c] for c in model.classes_] for row in maps])
    # each map value is the double probability rounded to float32: within half a float32 step (a subnormal's step
    # is absolute: QuadraticDiscriminantAnalysis answers 1e-42)
    tiny = float(np.finfo(np.float32).smallest_subnormal)
    np.testing.assert_allclose(probabilities, model.predict_proba(X), rtol=2**-24, atol=tiny)
    assert og.validate(conv, reference=model, data=X, atol=tiny, rtol=2**-24).passed
    assert og.validate(conv, target="onnxruntime", reference=model, data=X).passed
    # precision="float32" still computes all of it in float32
    conv32 = og.convert(model, X, options={"zipmap": True}, precision="float32")
    assert any("cast to float32 inside the graph" in w for w in conv32.warnings), conv32.warnings
    assert conv32.signature.outputs[1].type_str == conv.signature.outputs[1].type_str


def test_a_ridge_classifier_asked_for_zipmap_computes_in_double() -> None:
    # skl2onnx writes no ZipMap for a RidgeClassifier, but onnxgate's double form took zipmap=True for an option
    # it does not write and fell back to float32 (decision scores 1.4e-6 off wine)
    from sklearn.datasets import load_wine
    from sklearn.linear_model import RidgeClassifier

    X, y = load_wine(return_X_y=True)
    model = RidgeClassifier().fit(X, y)
    conv = og.convert(model, X, options={"zipmap": True})
    assert not any("float32" in w for w in conv.warnings), conv.warnings
    np.testing.assert_allclose(_run(conv, X)[1], model.decision_function(X), rtol=1e-9, atol=1e-12)


def test_a_support_vector_model_fitted_on_sparse_rows_answers_in_double() -> None:
    """Sparse support vectors kept ai.onnx.ml's float32 SVMRegressor and SVMClassifier: an SVR on diabetes fell
    back to a float32 graph 6.4e-4 off ``predict`` (precision='float64' refused), a NuSVC on wine scored in float32
    inside the double graph (1.7e-7 off). They are written dense in double now."""
    import scipy.sparse
    from sklearn.datasets import load_diabetes, load_wine
    from sklearn.svm import SVR, NuSVC

    X, y = load_diabetes(return_X_y=True)
    model = SVR(C=100).fit(scipy.sparse.csr_matrix(X), y)
    conv = og.convert(model, X[:5], options={"precision": "float64"})
    assert not [w for w in conv.warnings if "float32" in w], conv.warnings
    np.testing.assert_allclose(_run(conv, X)[0].ravel(), model.predict(X), rtol=1e-12, atol=1e-9)
    X, y = load_wine(return_X_y=True)
    X = (X - X.mean(axis=0)) / X.std(axis=0)
    model = NuSVC(nu=0.1).fit(scipy.sparse.csr_matrix(X), y)
    conv = og.convert(model, X[:5])
    assert not [w for w in conv.warnings if "float32" in w], conv.warnings
    label, scores = _run(conv, X)
    np.testing.assert_array_equal(label.ravel(), model.predict(X))
    np.testing.assert_allclose(scores, model.decision_function(X), rtol=0, atol=1e-12)


def _linear_kernel(a: Any, b: Any) -> Any:
    return a @ b.T


@pytest.mark.parametrize("kernel", ["precomputed", "callable"])
def test_a_support_vector_model_of_a_precomputed_or_callable_kernel_is_refused_as_such(kernel: str) -> None:
    # both hold no support vectors: convert said every training row lay within the margin, refit with C larger
    from sklearn.datasets import load_iris
    from sklearn.svm import SVC

    X, y = load_iris(return_X_y=True)
    if kernel == "precomputed":
        model, rows = SVC(kernel="precomputed").fit(X @ X.T, y), X @ X.T
    else:
        model, rows = SVC(kernel=_linear_kernel).fit(X, y), X
    with pytest.raises(og.UnsupportedModelError, match=r"SVC\(kernel=.*is not converted.*(training rows|Python)"):
        og.convert(model, rows[:5])


@pytest.mark.parametrize("kernel", ["rbf", "linear", "poly", "sigmoid"])
@pytest.mark.parametrize("kind", ["SVR", "NuSVR", "OneClassSVM"])
def test_a_kernel_svm_on_float64_rows_answers_in_float64(kind: str, kernel: str) -> None:
    """ai.onnx.ml's SVMRegressor holds float32 support vectors and onnxruntime has no double kernel for it: an SVR,
    NuSVR or OneClassSVM on a float64 sample fell back to a float32 graph (SVR on diabetes 2.9e-5 off predict, the
    poly kernel 1.0e-4) and precision='float64' was refused. Their kernel sums are written in double now; a float32
    sample keeps the float32 graph."""
    import sklearn.svm
    from sklearn.datasets import load_diabetes

    X, y = load_diabetes(return_X_y=True)
    X = X * 20  # a spread of about 1: the poly and sigmoid kernels' sums far from 0
    model = getattr(sklearn.svm, kind)(kernel=kernel)
    model.fit(X) if kind == "OneClassSVM" else model.fit(X, y)
    for precision in ("auto", "float64"):
        conv = og.convert(model, X[:5], precision=precision)
        outputs = _run(conv, X)
        if kind == "OneClassSVM":
            assert [s.elem_type for s in conv.signature.outputs] == ["int64", "float64"]
            np.testing.assert_array_equal(outputs[0].ravel(), model.predict(X))
            np.testing.assert_allclose(outputs[1].ravel(), model.decision_function(X), rtol=0, atol=1e-11)
        else:
            assert [s.elem_type for s in conv.signature.outputs] == ["float64"]
            np.testing.assert_allclose(outputs[0].ravel(), model.predict(X), rtol=1e-13, atol=1e-11)
        report = og.validate(conv, reference=model, data=X, atol=1e-10, rtol=1e-12)
        assert report.passed, report.summary()
    narrow = og.convert(model, X[:5].astype(np.float32))
    assert {s.elem_type for s in narrow.signature.outputs} <= {"int64", "float32"}


def test_an_integer_column_beside_float64_columns_keeps_the_join_in_double() -> None:
    """skl2onnx casts an int64 column and joins every column with a float32 FeatureVectorizer: the
    float64 columns were rounded before the double scaler, whatever precision was asked, and the
    trees after it flipped rows (parity failed with precision="float64", the documented fix)."""
    import pandas as pd
    from sklearn.datasets import load_diabetes
    from sklearn.ensemble import HistGradientBoostingRegressor
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    data = load_diabetes(as_frame=True)
    frame = data.data.copy()
    frame["visits"] = np.arange(len(frame), dtype=np.int64) % 7
    model = make_pipeline(StandardScaler(), HistGradientBoostingRegressor(max_iter=20, random_state=0))
    model.fit(frame, data.target)
    conv = og.convert(model, frame.head(), precision="float64")
    assert "FeatureVectorizer" not in {n.op_type for n in conv.model.graph.node}
    assert conv.signature.input("visits").elem_type == "int64"
    report = og.validate(conv, reference=model, data=pd.DataFrame(frame))
    assert report.passed, report.summary()


@pytest.mark.parametrize("kind", ["VotingClassifier", "VotingRegressor"])
def test_integer_columns_a_voting_members_column_transformer_reads_compute_in_float64(kind: str) -> None:
    """A soft vote of pipelines, each a ColumnTransformer scaling int64 and int32 columns: skl2onnx got the
    columns as integers and wrote ai.onnx.ml's Scaler, float32 in a graph recorded as float64
    (probabilities 5.2e-7 off scikit-learn's). They enter as double, as for a plain ColumnTransformer."""
    import pandas as pd
    from sklearn.compose import ColumnTransformer
    from sklearn.datasets import load_wine
    from sklearn.ensemble import VotingClassifier, VotingRegressor
    from sklearn.linear_model import LogisticRegression, Ridge
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X, y = load_wine(return_X_y=True)
    frame = pd.DataFrame(np.round(X[:, :4] * 10).astype(np.int64), columns=["a", "b", "c", "d"])
    frame["e"] = np.round(X[:, 4]).astype(np.int32)
    frame["f"] = X[:, 5]

    def member(last: Any) -> Any:
        scale = ColumnTransformer([("ints", StandardScaler(), ["a", "b", "c", "e"]),
                                   ("rest", StandardScaler(), ["d", "f"])])
        return make_pipeline(scale, last)

    if kind == "VotingClassifier":
        model: Any = VotingClassifier([("a", member(LogisticRegression(max_iter=5000))),
                                       ("b", member(LogisticRegression(C=0.1, max_iter=5000)))], voting="soft")
    else:
        model = VotingRegressor([("a", member(Ridge())), ("b", member(Ridge(alpha=10.0)))])
    model.fit(frame, y)
    conv = og.convert(model, frame.head(20))
    assert "Scaler" not in {n.op_type for n in conv.model.graph.node}
    assert conv.signature.input("a").elem_type == "int64"
    got = _run(conv, frame)[1 if kind == "VotingClassifier" else 0]
    want = model.predict_proba(frame) if kind == "VotingClassifier" else model.predict(frame)
    assert got.dtype == np.float64
    assert _max_err(got, want) < 1e-12
    report = og.validate(conv, data=frame, atol=1e-12, rtol=0)
    assert report.passed, report.summary()


@pytest.mark.parametrize("estimator", ["HistGradientBoostingClassifier", "RandomForestClassifier",
                                       "LogisticRegression"])
def test_pandas_nullable_number_columns_convert_and_validate(estimator: str) -> None:
    """Int64 and Float64 columns (pandas' nullable numbers) were refused as columns that 'hold text'."""
    import pandas as pd
    import sklearn.ensemble
    import sklearn.linear_model
    from sklearn.datasets import load_breast_cancer

    data = load_breast_cancer(as_frame=True)
    frame = data.data.iloc[:, :4].copy()
    frame["cnt"] = pd.array(np.arange(len(frame)) % 5, dtype="Int64")
    frame["fl"] = data.data["mean smoothness"].astype("Float64")
    kind = getattr(sklearn.ensemble, estimator, None) or getattr(sklearn.linear_model, estimator)
    # seeded: an unseeded forest now and then ties a row's votes 50/50, where the file's float32 probabilities
    # (0.49999994, 0.50000006) pick the other label (seed 268 of 400 did)
    options = {"max_iter": 2000} if estimator == "LogisticRegression" else {"random_state": 0}
    model = kind(**options).fit(frame, data.target)
    conv = og.convert(model, frame.head())
    # float64 whether or not the sample holds <NA> (typed by the sample, a file converted from rows without
    # one refused the training frame's <NA>)
    assert conv.signature.input("cnt").elem_type == "float64"
    report = og.validate(conv, reference=model, data=frame)
    assert report.passed, report.summary()


@pytest.mark.parametrize("backing", ["nullable", "pyarrow"])
@pytest.mark.parametrize("estimator", ["LogisticRegression", "HistGradientBoostingClassifier"])
def test_nullable_and_pyarrow_columns_feed_a_model_fitted_on_an_array(backing: str, estimator: str) -> None:
    # the frame became an object matrix: "got an input input with a wrong type StringTensorType" (skl2onnx)
    import pandas as pd
    import sklearn.ensemble
    import sklearn.linear_model

    rng = np.random.default_rng(0)
    X = np.column_stack([np.round(rng.normal(size=300) * 10), rng.normal(size=300), rng.normal(size=300) > 0])
    kind = getattr(sklearn.ensemble, estimator, None) or getattr(sklearn.linear_model, estimator)
    model = kind().fit(X, X[:, 1] + X[:, 0] / 10 > 0)
    types = (["Int64", "Float64", "boolean"] if backing == "nullable"
             else ["int64[pyarrow]", "float64[pyarrow]", "bool[pyarrow]"])
    frame = pd.DataFrame(X, columns=["a", "b", "c"]).astype(dict(zip("abc", types)))
    conv = og.convert(model, frame.head(20))
    assert conv.signature.inputs[0].elem_type == "float64"  # scikit-learn reads these columns as float64
    report = og.validate(conv, reference=model, data=frame)
    assert report.passed, report.summary()
    if estimator.startswith("Hist"):  # a missing value in each column reads as NaN, as scikit-learn reads it
        holed = frame.copy()
        for row, column in enumerate("abc"):
            holed.loc[row, column] = pd.NA
        report = og.validate(conv, reference=model, data=holed)
        assert report.passed, report.summary()


def _rows_on_each_threshold(hist: Any, X: Any) -> Any:
    """Rows of X with one feature set on each split threshold of ``hist``, and one float64 step either side."""
    rows = []
    for predictors in hist._predictors:
        for predictor in predictors:
            for node in predictor.nodes:
                if node["is_leaf"] or not np.isfinite(node["num_threshold"]):
                    continue
                t = node["num_threshold"]
                for value in (np.nextafter(t, -np.inf), t, np.nextafter(t, np.inf)):
                    row = X[len(rows) % len(X)].copy()
                    row[node["feature_idx"]] = value
                    rows.append(row)
    return np.array(rows)


@pytest.mark.parametrize("kind", ["HistGradientBoostingClassifier", "HistGradientBoostingRegressor"])
def test_histgradientboosting_on_float64_rows_splits_as_scikit_learn_at_every_threshold(kind: str) -> None:
    """HistGradientBoosting compares float64 features with double thresholds, and ai.onnx.ml's trees compare
    float32: a value within a float32 step of a threshold took the other branch (the search found one on
    breast_cancer). Its features are fed as ranks counted in double, and the search still reads the splits."""
    import onnxruntime as ort
    import sklearn.ensemble
    from sklearn.datasets import load_breast_cancer

    from onnxgate.validators.search.trees import tree_splits

    X, y = load_breast_cancer(return_X_y=True)
    X = X.copy()
    X[np.random.default_rng(0).random(X.shape) < 0.05] = np.nan  # each split's missing side holds too
    model = getattr(sklearn.ensemble, kind)(max_iter=10, random_state=0).fit(X, y)
    conv = og.convert(model, X[:5])
    assert not any("double thresholds" in w for w in conv.warnings), conv.warnings
    rows = np.vstack([_rows_on_each_threshold(model, X), X])
    session = ort.InferenceSession(conv.model.SerializeToString(), providers=["CPUExecutionProvider"])
    outputs = session.run(None, {session.get_inputs()[0].name: rows})
    if kind.endswith("Classifier"):
        np.testing.assert_array_equal(outputs[0], model.predict(rows))
        np.testing.assert_allclose(outputs[1], model.predict_proba(rows), atol=1e-6)
    else:
        np.testing.assert_allclose(outputs[0].ravel(), model.predict(rows), rtol=1e-5, atol=1e-6)
    splits = [s for s in tree_splits(conv.model) if s.mode != "LEAF"]
    first = model._predictors[0][0].nodes[0]
    assert splits and all(s.raw_threshold is not None for s in splits)
    assert splits[0].column == first["feature_idx"] and splits[0].raw_threshold == first["num_threshold"]
    assert og.validate(conv, reference=model, data=X, search=300, seed=0).passed


def test_histgradientboosting_inside_an_ensemble_is_ranked_each() -> None:
    # a soft vote of two: each member's trees fed their own ranks, and no warning (the ensemble's unfitted
    # templates were counted as members not ranked)
    import onnxruntime as ort
    from sklearn.datasets import load_wine
    from sklearn.ensemble import HistGradientBoostingClassifier, VotingClassifier

    from onnxgate._graph import HIST_CODES

    X, y = load_wine(return_X_y=True)
    members = [("a", HistGradientBoostingClassifier(max_iter=10)), ("b", HistGradientBoostingClassifier(max_depth=2))]
    model = VotingClassifier(members, voting="soft").fit(X, y)
    conv = og.convert(model, X[:5])
    assert sum(n.op_type == "Concat" and n.name.startswith(HIST_CODES) for n in conv.model.graph.node) == 2
    assert not any("double thresholds" in w for w in conv.warnings), conv.warnings
    rows = np.vstack([_rows_on_each_threshold(member, X) for member in model.estimators_])
    session = ort.InferenceSession(conv.model.SerializeToString(), providers=["CPUExecutionProvider"])
    outputs = session.run(None, {session.get_inputs()[0].name: rows})
    np.testing.assert_allclose(outputs[1], model.predict_proba(rows), atol=1e-6)


def test_histgradientboosting_with_categories_on_float64_splits_exactly_too() -> None:
    # the ranks were written for models without categorical features only: with a category column
    # (categorical_features="from_dtype", scikit-learn's default) breast_cancer rows on each numeric threshold
    # +- one float64 step were 130 of 1,191 off (up to 0.28) and validate's search failed; float32 graphs
    # keep float32 comparisons and the warning
    import onnxruntime as ort
    import pandas as pd
    from sklearn.datasets import load_breast_cancer
    from sklearn.ensemble import HistGradientBoostingClassifier

    from onnxgate._data import as_feeds
    from onnxgate.validators.search.trees import tree_splits

    X, y = load_breast_cancer(return_X_y=True, as_frame=True)
    rng = np.random.default_rng(0)
    frame = X.iloc[:, :6].copy()
    frame.iloc[rng.random(frame.shape) < 0.05] = np.nan
    frame["grade"] = pd.Categorical(rng.choice(["lo", "mid", "hi"], len(frame)))
    model = HistGradientBoostingClassifier(max_iter=15, random_state=0).fit(frame, y)
    numeric = list(frame.columns[:6])  # the trees read the category codes first, then these
    rows = []
    for predictors in model._predictors:
        for node in (n for predictor in predictors for n in predictor.nodes):
            if node["is_leaf"] or node["is_categorical"] or not np.isfinite(node["num_threshold"]):
                continue
            t = node["num_threshold"]
            for value in (np.nextafter(t, -np.inf), t, np.nextafter(t, np.inf)):
                row = frame.iloc[len(rows) % len(frame)].copy()
                row[numeric[node["feature_idx"] - 1]] = value
                rows.append(row)
    on_thresholds = pd.concat([pd.DataFrame(rows).astype(frame.dtypes.to_dict()), frame], ignore_index=True)
    assert len(on_thresholds) > 1000
    conv = og.convert(model, frame.head())
    assert not any("double thresholds" in w for w in conv.warnings), conv.warnings
    session = ort.InferenceSession(conv.model.SerializeToString(), providers=["CPUExecutionProvider"])
    labels, probabilities = session.run(None, as_feeds(on_thresholds, conv.signature))[:2]
    np.testing.assert_array_equal(labels.ravel(), model.predict(on_thresholds))
    np.testing.assert_allclose(probabilities, model.predict_proba(on_thresholds), atol=1e-6)
    assert any(s.raw_threshold is not None for s in tree_splits(conv.model) if s.mode == "BRANCH_LEQ")
    assert og.validate(conv, reference=model, data=frame, search=300, seed=0).passed
    conv32 = og.convert(model, frame.head(), precision="float32")
    assert any("compares float64 features with double thresholds" in w for w in conv32.warnings), conv32.warnings


def _hist_model_and_rows(case: str) -> tuple[Any, Any]:
    """A HistGradientBoosting model fitted on float64 rows of a shipped data set, and rows to score: the data
    with missing values, plus rows on each numeric threshold and one float64 step either side."""
    import pandas as pd
    from sklearn.datasets import load_breast_cancer, load_diabetes, load_wine
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor

    rng = np.random.default_rng(0)
    if case == "multiclass-text-categories":
        X, y = load_wine(return_X_y=True, as_frame=True)
        frame = X.iloc[:, :6].copy()
        frame["grade"] = pd.Categorical(rng.choice(["lo", "mid", "hi"], len(frame)))
        return HistGradientBoostingClassifier(max_iter=20, random_state=0).fit(frame, y), frame
    if case in ("binary", "multiclass"):
        X, y = (load_breast_cancer if case == "binary" else load_wine)(return_X_y=True)
        settings: dict[str, Any] = {}
        kind: Any = HistGradientBoostingClassifier
    else:
        X, y = load_diabetes(return_X_y=True)
        X[:, 1] = X[:, 1] > 0  # sex, as the codes 0 and 1 for the categorical case
        settings = ({"categorical_features": [1]} if case == "categories"
                    else {"loss": case, **({"quantile": 0.3} if case == "quantile" else {})})
        kind = HistGradientBoostingRegressor
    X = X.copy()
    X[rng.random(X.shape) < 0.05] = np.nan
    model = kind(max_iter=20, random_state=0, **settings).fit(X, y)
    return model, np.vstack([_rows_on_each_threshold(model, X), X])


@pytest.mark.parametrize("case", ["squared_error", "absolute_error", "poisson", "gamma", "quantile", "categories",
                                  "binary", "multiclass", "multiclass-text-categories"])
def test_histgradientboosting_on_float64_rows_answers_in_float64(case: str) -> None:
    """ai.onnx.ml's tree ensembles hold their leaves and write their scores as float32: a regressor fitted on
    float64 diabetes rows answered 2.5e-5 off predict in a float64 graph (poisson 9.4e-5), probabilities were
    1.2e-7 off, and validate held them to float32's tolerances. The leaves' float64 values are summed in
    double, every loss and link, with and without categories, binary and multiclass."""
    import onnxruntime as ort

    model, rows = _hist_model_and_rows(case)
    conv = og.convert(model, rows[:5])
    session = ort.InferenceSession(conv.model.SerializeToString(), providers=["CPUExecutionProvider"])
    _assert_answers_in_float64(conv, model, rows, session.run(None, as_feeds(rows, conv.signature)))


def _assert_answers_in_float64(conv: Any, model: Any, rows: Any, outputs: list[Any]) -> None:
    """The file's outputs are float64 (labels int64) and agree with scikit-learn to 1e-12 (several outputs' side by
    side); validate passes at 1e-9, which a file computing float32 inside cannot, and the file records no float32
    inside (validate's default tolerances are float64's)."""
    assert {s.elem_type for s in conv.signature.outputs} <= {"float64", "int64"}, conv.signature.outputs
    assert "onnxgate.float32_inside" not in {p.key for p in conv.model.metadata_props}
    want = model.predict(rows)
    if hasattr(model, "classes_"):
        np.testing.assert_array_equal(outputs[0].reshape(want.shape), want)
        probabilities = model.predict_proba(rows)
        np.testing.assert_allclose(outputs[1], np.hstack(probabilities) if isinstance(probabilities, list)
                                   else probabilities, rtol=0, atol=1e-12)
    else:
        np.testing.assert_allclose(outputs[0].reshape(want.shape), want, rtol=1e-12,
                                   atol=1e-12 * float(np.max(np.abs(want))))
    # no float32 inside: validate holds the file to float64's tolerances, and a tight one passes
    report = og.validate(conv, reference=model, data=rows, atol=1e-9, rtol=1e-9)
    assert report.passed, report.summary()


def _rows_on_each_split(model: Any, X: Any) -> Any:
    """Rows of X with one feature set on each split threshold of a scikit-learn tree model, one float64 step
    either side, and the float32 values around it (its trees compare ``float32(x)``)."""
    members = np.ravel(getattr(model, "estimators_", [model]))
    rows = []
    for member in members:
        for f, t in zip(member.tree_.feature, member.tree_.threshold):
            if f < 0 or not np.isfinite(t):
                continue
            near = np.float32(t)
            for value in (np.nextafter(t, -np.inf), t, np.nextafter(t, np.inf), near,
                          np.nextafter(near, np.float32(-np.inf)), np.nextafter(near, np.float32(np.inf))):
                row = X[len(rows) % len(X)].copy()
                row[f] = value
                rows.append(row)
    return np.array(rows)


#: scikit-learn tree models fitted on float64 rows: (estimator, settings, data set), deep enough that their leaves
#: are added in double (DOUBLE_LEAVES_MIN_SPLITS: shallower ones keep float32 leaves, for the cost); those that
#: take missing values are fitted and scored with 5% NaN.
_TREE_CASES: dict[str, tuple[str, dict[str, Any], str]] = {
    "decision-tree-regressor": ("DecisionTreeRegressor", {"min_samples_leaf": 3}, "regression"),
    "extra-tree-regressor": ("ExtraTreeRegressor", {"min_samples_leaf": 3}, "regression"),
    "random-forest-regressor": ("RandomForestRegressor", {"n_estimators": 10}, "diabetes"),
    "extra-trees-regressor": ("ExtraTreesRegressor", {"n_estimators": 10}, "diabetes"),
    "gradient-boosting-regressor": ("GradientBoostingRegressor", {"n_estimators": 10, "max_depth": 10}, "regression"),
    "gradient-boosting-huber": ("GradientBoostingRegressor", {"n_estimators": 10, "max_depth": 10, "loss": "huber"},
                                "regression"),
    "decision-tree-binary": ("DecisionTreeClassifier", {"min_samples_leaf": 3}, "binary"),
    "extra-tree-multiclass": ("ExtraTreeClassifier", {"min_samples_leaf": 3}, "multiclass"),
    "random-forest-binary": ("RandomForestClassifier", {"n_estimators": 10, "min_samples_leaf": 3}, "binary"),
    "random-forest-multiclass": ("RandomForestClassifier", {"n_estimators": 10, "min_samples_leaf": 3},
                                 "multiclass"),
    "extra-trees-multiclass": ("ExtraTreesClassifier", {"n_estimators": 10, "min_samples_leaf": 3}, "multiclass"),
    "gradient-boosting-binary": ("GradientBoostingClassifier", {"n_estimators": 10, "max_depth": 10}, "binary"),
    "gradient-boosting-multiclass": ("GradientBoostingClassifier", {"n_estimators": 10, "max_depth": 10},
                                     "multiclass"),
    "gradient-boosting-exponential": ("GradientBoostingClassifier",
                                      {"n_estimators": 10, "max_depth": 10, "loss": "exponential"}, "binary"),
    "decision-tree-two-targets": ("DecisionTreeRegressor", {"min_samples_leaf": 3}, "two-targets"),
    "random-forest-two-targets": ("RandomForestRegressor", {"n_estimators": 10}, "two-targets"),
    "extra-trees-two-targets": ("ExtraTreesRegressor", {"n_estimators": 10}, "two-targets"),
    "random-forest-multilabel": ("RandomForestClassifier", {"n_estimators": 10, "min_samples_leaf": 3}, "multilabel"),
    # skl2onnx cast a single tree's probabilities to BOOL and back (0.9 off predict_proba) and refused targets
    # of different class counts ("The requested array has an inhomogeneous shape")
    "decision-tree-multilabel": ("DecisionTreeClassifier", {"min_samples_leaf": 3}, "multilabel"),
    "extra-tree-multilabel": ("ExtraTreeClassifier", {"min_samples_leaf": 3}, "multilabel"),
    "decision-tree-two-labels": ("DecisionTreeClassifier", {"min_samples_leaf": 3}, "two-labels"),
}


def _tree_model_and_rows(case: str) -> tuple[Any, Any, Any]:
    """The case's model fitted on float64 rows, rows to score (on each split and the data) and the data."""
    import sklearn.datasets
    import sklearn.ensemble
    import sklearn.tree

    kind, settings, data = _TREE_CASES[case]
    if data == "diabetes":
        X, y = sklearn.datasets.load_diabetes(return_X_y=True)
    elif data in ("regression", "two-targets"):
        X, y = sklearn.datasets.make_friedman1(n_samples=1500, noise=1.0, random_state=0)
        y = np.column_stack([y, y**2 / 10]) if data == "two-targets" else y
    else:  # noisy labels: trees grown deep, leaves of mixed classes
        X, y = sklearn.datasets.make_classification(n_samples=1500, n_features=8, n_informative=5, flip_y=0.2,
                                                    n_classes=2 if data in ("binary", "two-labels") else 3,
                                                    random_state=0)
        y = np.column_stack([y, X[:, 0] > 0]) if data in ("multilabel", "two-labels") else y  # 3 (or 2), then 2
    X = X.copy()
    if not kind.startswith("GradientBoosting"):  # the others take missing values
        X[np.random.default_rng(0).random(X.shape) < 0.05] = np.nan
    estimator = getattr(sklearn.ensemble, kind, None) or getattr(sklearn.tree, kind)
    model = estimator(random_state=0, **settings).fit(X, y)
    return model, np.vstack([_rows_on_each_split(model, X), X]), X


@pytest.mark.parametrize("opset", [9, 17])
@pytest.mark.parametrize("case", list(_TREE_CASES))
def test_tree_models_on_float64_rows_answer_in_float64(case: str, opset: int) -> None:
    """ai.onnx.ml's tree ensembles hold their leaves and write their scores as float32: a forest fitted on
    float64 diabetes rows answered 6.6e-5 off predict in a float64 graph (a decision tree 1.2e-5), probabilities
    1e-7 off, and validate held them to float32's tolerances. The leaves' float64 values are added in double,
    in scikit-learn's order (opset 11 on; before it in another order)."""
    model, rows, _ = _tree_model_and_rows(case)
    conv = og.convert(model, rows[:5], opset=opset)
    _assert_answers_in_float64(conv, model, rows, _run(conv, rows))


@pytest.mark.parametrize("method", ["sigmoid", "isotonic"])
def test_forests_calibrated_answer_in_float64(method: str) -> None:
    """A forest inside CalibratedClassifierCV kept float32 leaves in a float64 graph (its fitted forests, one per
    fold, were not read): probabilities 1.8e-8 off predict_proba on 3 classes, and validate held the file to
    float32's tolerances. Each fold's leaves are added in double, as on its own."""
    import sklearn.datasets
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.ensemble import RandomForestClassifier

    X, y = sklearn.datasets.make_classification(n_samples=1500, n_features=8, n_informative=5, flip_y=0.2,
                                                n_classes=3, random_state=0)
    forest = RandomForestClassifier(n_estimators=10, min_samples_leaf=3, random_state=0)
    model = CalibratedClassifierCV(forest, method=method, cv=3).fit(X, y)
    rows = np.vstack([*(_rows_on_each_split(c.estimator, X) for c in model.calibrated_classifiers_), X])
    conv = og.convert(model, X[:5])
    _assert_answers_in_float64(conv, model, rows, _run(conv, rows))


#: Tree models too shallow for a column per tree (DOUBLE_LEAVES_MIN_SPLITS): GradientBoosting's default depth 3,
#: forests of depth 4, on diabetes (a classifier: its target in 2 or 3 bins).
_SHALLOW_TREES: dict[str, tuple[str, dict[str, Any], int]] = {
    "gradient-boosting-regressor": ("GradientBoostingRegressor", {"n_estimators": 30}, 0),
    "gradient-boosting-binary": ("GradientBoostingClassifier", {"n_estimators": 30}, 2),
    "gradient-boosting-multiclass": ("GradientBoostingClassifier", {"n_estimators": 30}, 3),
    "gradient-boosting-exponential": ("GradientBoostingClassifier", {"n_estimators": 30, "loss": "exponential"}, 2),
    "random-forest-regressor": ("RandomForestRegressor", {"n_estimators": 10, "max_depth": 4}, 0),
    "extra-trees-regressor": ("ExtraTreesRegressor", {"n_estimators": 10, "max_depth": 4}, 0),
}


@pytest.mark.parametrize("precision", ["auto", "float64"])
@pytest.mark.parametrize("case", list(_SHALLOW_TREES))
def test_shallow_trees_add_their_leaves_in_double(case: str, precision: str) -> None:
    """Trees too shallow for a column per tree kept float32 leaves by default, for the cost: a
    GradientBoostingRegressor of depth 3 fitted on float64 diabetes rows answered 3.8e-5 off predict, forests of
    depth 5 4.9e-5 (RandomForest) and 7.2e-5 (ExtraTrees), probabilities 1.1e-7 off, and validate held the file
    to float32's tolerances. Their leaves are added in double by default now, as whole numbers float32 adds
    exactly (and, asked for float64, as before)."""
    import sklearn.datasets
    import sklearn.ensemble

    kind, settings, bins = _SHALLOW_TREES[case]
    X, y = sklearn.datasets.load_diabetes(return_X_y=True)
    if bins:
        y = np.digitize(y, np.percentile(y, np.linspace(0, 100, bins + 1)[1:-1]))
    model = getattr(sklearn.ensemble, kind)(random_state=0, **settings).fit(X, y)
    rows = np.vstack([_rows_on_each_split(model, X), X])
    conv = og.convert(model, X[:5], precision=precision)
    _assert_answers_in_float64(conv, model, rows, _run(conv, rows))


@pytest.mark.parametrize("precision", ["auto", "float64"])
@pytest.mark.parametrize("data", ["breast_cancer", "wine"])
def test_adaboost_of_linear_members_on_float64_rows_answers_in_float64(data: str, precision: str) -> None:
    """skl2onnx wrote AdaBoostClassifier's votes in a double graph with a float32 1 and float32 member weights: the
    file was ill-typed, so a float64 sample fell back to a float32 graph (probabilities declared float32, 7.4e-8 off
    predict_proba on breast_cancer, "computed in float32" said) and precision='float64' was refused. The votes are
    double now; equal weights (wine's members: skl2onnx shares one float32 constant between them) each keep theirs."""
    import sklearn.datasets
    from sklearn.ensemble import AdaBoostClassifier
    from sklearn.linear_model import LogisticRegression

    X, y = getattr(sklearn.datasets, f"load_{data}")(return_X_y=True)
    model = AdaBoostClassifier(LogisticRegression(max_iter=5000), random_state=0).fit(X, y)
    conv = og.convert(model, X[:5], precision=precision)
    assert not [w for w in conv.warnings if "computed in float32" in w], conv.warnings
    _assert_answers_in_float64(conv, model, X, _run(conv, X))


@pytest.mark.parametrize("member", ["ridge", "linear-svc"])
def test_bagging_of_voting_linear_members_on_float64_rows_answers_in_float64(member: str) -> None:
    """A BaggingClassifier whose members have no predict_proba averages their votes; skl2onnx counted them in
    float32 under probabilities declared double: the file was ill-typed, so a float64 sample fell back to a float32
    graph (probabilities declared float32, "computed in float32" said) and precision='float64' was refused."""
    import sklearn.datasets
    from sklearn.ensemble import BaggingClassifier
    from sklearn.linear_model import RidgeClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import LinearSVC

    X, y = sklearn.datasets.load_wine(return_X_y=True)
    estimator = RidgeClassifier() if member == "ridge" else make_pipeline(StandardScaler(), LinearSVC())
    model = BaggingClassifier(estimator, n_estimators=7, random_state=0).fit(X, y)
    conv = og.convert(model, X[:5])
    assert not [w for w in conv.warnings if "computed in float32" in w], conv.warnings
    _assert_answers_in_float64(conv, model, X, _run(conv, X))


#: (data, settings) of the support vector classifiers below, the four kernels among them
_SVC_SETTINGS = {
    "binary": ("breast_cancer", {"kernel": "rbf"}),
    "binary-platt": ("breast_cancer", {"kernel": "poly", "probability": True}),
    "ovr": ("wine", {"kernel": "sigmoid"}),
    "ovo": ("wine", {"kernel": "linear", "decision_function_shape": "ovo"}),
    "break-ties": ("wine", {"kernel": "sigmoid", "break_ties": True}),
    "platt": ("wine", {"kernel": "rbf", "probability": True}),
}


@pytest.mark.parametrize("setting", list(_SVC_SETTINGS))
@pytest.mark.parametrize("kind", ["SVC", "NuSVC"])
def test_a_kernel_svm_classifier_on_float64_rows_answers_in_float64(kind: str, setting: str) -> None:
    """SVC and NuSVC scored with ai.onnx.ml's SVMClassifier, float32 only (float32 support vectors, no double kernel
    in onnxruntime): in a float64 graph their decision_function was up to 4.6e-5 off scikit-learn (NuSVC, poly, on
    iris; 5.5e-3 on unscaled breast_cancer, 2 labels of 20,000 rows near it flipped), predict_proba up to 4.4e-6, and
    break_ties=True was ignored (98 of 20,000 rows near wine labelled otherwise: validate failed). convert warned of
    float32. The kernels, the one-against-one decisions, libsvm's votes and its coupled Platt probabilities are
    computed in double now."""
    import sklearn.datasets
    import sklearn.svm

    data, settings = _SVC_SETTINGS[setting]
    X, y = getattr(sklearn.datasets, f"load_{data}")(return_X_y=True)
    X = (X - X.mean(axis=0)) / X.std(axis=0)
    rng = np.random.default_rng(0)
    rows = np.vstack([X, X[rng.integers(0, len(X), 2000)] + rng.normal(size=(2000, X.shape[1])) * 0.3])
    extra = {"nu": 0.1} if kind == "NuSVC" else {}
    with warnings.catch_warnings():  # scikit-learn 1.9 deprecates probability=True
        warnings.simplefilter("ignore", FutureWarning)
        model = getattr(sklearn.svm, kind)(random_state=0, **settings, **extra).fit(X, y)
    for precision in ("auto", "float64"):
        conv = og.convert(model, X[:5], precision=precision)
        assert not [w for w in conv.warnings if "float32" in w], conv.warnings
        assert [s.elem_type for s in conv.signature.outputs] == ["int64", "float64"]
        assert "onnxgate.float32_inside" not in {p.key for p in conv.model.metadata_props}
        label, scores = _run(conv, rows)
        np.testing.assert_array_equal(label.ravel(), model.predict(rows))
        if settings.get("probability"):
            np.testing.assert_allclose(scores, model.predict_proba(rows), rtol=0, atol=1e-12)
        else:
            decision = model.decision_function(rows)
            expected = np.c_[-decision, decision] if decision.ndim == 1 else decision
            np.testing.assert_allclose(scores, expected, rtol=0, atol=1e-11)
        report = og.validate(conv, reference=model, data=rows, atol=1e-10, rtol=1e-12)
        assert report.passed, report.summary()
    narrow = og.convert(model, X[:5].astype(np.float32))
    assert [s.elem_type for s in narrow.signature.outputs] == ["int64", "float32"]


def test_an_svm_classifier_left_to_svmclassifier_says_it_scores_in_float32() -> None:
    """An SVC given skl2onnx's nocl option keeps ai.onnx.ml's SVMClassifier, float32 only: convert says so, naming
    it."""
    import sklearn.datasets
    from sklearn.svm import NuSVC

    X, y = sklearn.datasets.load_wine(return_X_y=True)
    conv = og.convert(NuSVC().fit(X, y), X[:5], options={NuSVC: {"nocl": True}})
    assert [w for w in conv.warnings if "float32" in w and "SVMClassifier" in w], conv.warnings


@pytest.mark.parametrize("precision", ["auto", "float64"])
def test_an_isolation_forest_on_float64_rows_answers_in_float64(precision: str) -> None:
    """skl2onnx could not write IsolationForest in double ("Conflicted constraint 'T'"): a float64 sample fell
    back to a float32 graph (decision_function 1.2e-7 off on breast_cancer), precision='float64' was refused,
    and its score_samples option wrote a file the ONNX checker refused. Its depths are added in double now,
    from trees that compare float32(x) as scikit-learn's do (rows on each split, a column of each tree's own
    feature subset)."""
    import sklearn.datasets
    from sklearn.ensemble import IsolationForest

    X, _ = sklearn.datasets.load_breast_cancer(return_X_y=True)
    model = IsolationForest(n_estimators=30, max_features=0.6, random_state=0).fit(X)
    rows = []
    for tree, features in zip(model.estimators_, model.estimators_features_):
        for f, t in zip(tree.tree_.feature, tree.tree_.threshold):
            if f >= 0:
                for value in (t, np.nextafter(t, np.inf), np.float32(t), np.nextafter(np.float32(t), np.float32(1e9))):
                    row = X[len(rows) % len(X)].copy()
                    row[features[f]] = value
                    rows.append(row)
    rows = np.vstack([np.array(rows), X])
    conv = og.convert(model, X[:5], precision=precision, options={IsolationForest: {"score_samples": True}})
    assert {s.elem_type for s in conv.signature.outputs} == {"float64", "int64"}, conv.signature.outputs
    assert "onnxgate.float32_inside" not in {p.key for p in conv.model.metadata_props}
    label, scores, samples = _run(conv, rows)
    np.testing.assert_array_equal(label.ravel(), model.predict(rows))
    np.testing.assert_allclose(scores.ravel(), model.decision_function(rows), rtol=0, atol=1e-12)
    np.testing.assert_allclose(samples.ravel(), model.score_samples(rows), rtol=0, atol=1e-12)
    report = og.validate(conv, reference=model, data=rows, atol=1e-9, rtol=1e-9)
    assert report.passed, report.summary()


@pytest.mark.parametrize("kind", ["LinearSVC", "RidgeClassifier", "RidgeClassifierCV"])
@pytest.mark.parametrize("data", ["breast_cancer", "wine"])
def test_linear_svc_and_ridge_classifier_on_float64_rows_answer_in_float64(kind: str, data: str) -> None:
    """skl2onnx refused LinearSVC and RidgeClassifier in double ("post_transform 'NONE' is not supported with
    double"): a float64 sample fell back to a float32 graph (decision scores 5.8e-6 off scikit-learn's on
    breast_cancer) and precision='float64' was refused. Their scores are X @ coef_.T + intercept_ in double now,
    in skl2onnx's layout (one column for two classes); a float32 sample keeps the float32 graph."""
    import sklearn.datasets
    import sklearn.linear_model
    import sklearn.svm

    X, y = getattr(sklearn.datasets, f"load_{data}")(return_X_y=True)
    estimator = getattr(sklearn.svm, kind, None) or getattr(sklearn.linear_model, kind)
    model = estimator(max_iter=20000) if kind == "LinearSVC" else estimator()
    model.fit(X, y)
    for precision in ("auto", "float64"):
        conv = og.convert(model, X[:5], precision=precision)
        assert [s.elem_type for s in conv.signature.outputs] == ["int64", "float64"], conv.signature.outputs
        label, scores = _run(conv, X)
        assert scores.shape == (len(X), 1 if data == "breast_cancer" else 3)
        np.testing.assert_array_equal(label, model.predict(X))
        np.testing.assert_allclose(scores, model.decision_function(X).reshape(len(X), -1), rtol=0, atol=1e-12)
        report = og.validate(conv, reference=model, data=X, atol=1e-12, rtol=0)
        assert report.passed, report.summary()
    narrow = og.convert(model, X[:5].astype(np.float32))
    assert [s.elem_type for s in narrow.signature.outputs] == ["int64", "float32"]


@pytest.mark.parametrize("kind, data", [("GradientBoostingClassifier", "breast_cancer"),
                                        ("GradientBoostingClassifier", "wine"),
                                        ("HistGradientBoostingClassifier", "breast_cancer"),
                                        ("HistGradientBoostingClassifier", "wine"),
                                        ("CalibratedClassifierCV", "breast_cancer")])
def test_boosting_raw_scores_on_float64_rows_answer_in_float64(kind: str, data: str) -> None:
    """The raw scores of a boosting model (skl2onnx's raw_scores option: decision_function) kept float32 leaves in
    a float64 graph, also with precision='float64': 1.2e-6 off decision_function (HistGradientBoosting on
    breast_cancer), 8.5e-7 (GradientBoosting); a GradientBoostingClassifier inside CalibratedClassifierCV reads
    its folds' raw scores so, its probabilities 2.7e-8 off predict_proba. Their leaves are added in double now."""
    import sklearn.datasets
    import sklearn.ensemble
    from sklearn.calibration import CalibratedClassifierCV

    X, y = getattr(sklearn.datasets, f"load_{data}")(return_X_y=True)
    if kind == "CalibratedClassifierCV":
        boosting = sklearn.ensemble.GradientBoostingClassifier(n_estimators=20, random_state=0)
        model: Any = CalibratedClassifierCV(boosting, cv=3).fit(X, y)
        options: dict[Any, Any] = {}
    else:
        estimator = getattr(sklearn.ensemble, kind)
        model = estimator(random_state=0, **({"n_estimators": 20} if kind.startswith("Gradient") else {})).fit(X, y)
        options = {estimator: {"raw_scores": True}}
    conv = og.convert(model, X[:5], precision="float64", options=options)
    assert {s.elem_type for s in conv.signature.outputs} == {"float64", "int64"}, conv.signature.outputs
    assert "onnxgate.float32_inside" not in {p.key for p in conv.model.metadata_props}
    label, scores = _run(conv, X)
    np.testing.assert_array_equal(label.ravel(), model.predict(X))
    if kind == "CalibratedClassifierCV":
        want = model.predict_proba(X)
    else:  # onnxruntime's binary raw scores: [-score, score]
        decision = model.decision_function(X)
        want = np.column_stack([-decision, decision]) if decision.ndim == 1 else decision
    np.testing.assert_allclose(scores, want, rtol=0, atol=1e-12)


def _assert_probabilities_as_scikit_learn(conv: Any, model: Any, rows: Any) -> None:
    """The file labels every row as ``predict`` (a tie: the first class) and answers float64 probabilities within
    1e-15 of ``predict_proba`` (float32's were 6e-8 off), recording no float32 inside."""
    label, probabilities = _run(conv, rows)
    np.testing.assert_array_equal(label.ravel(), model.predict(rows))
    assert probabilities.dtype == np.float64, probabilities.dtype
    assert "onnxgate.float32_inside" not in {p.key for p in conv.model.metadata_props}
    np.testing.assert_allclose(probabilities, model.predict_proba(rows), rtol=0, atol=1e-15)


def test_a_shallow_forest_on_a_float64_frame_labels_a_tied_row_as_scikit_learn() -> None:
    """A default RandomForestClassifier (its trees about 5 splits deep) on a float64 frame kept float32 leaves in a
    float64 graph: row 297, which 50 of its 100 trees vote each way (predict_proba [0.5, 0.5], predict the first
    class), answered [0.49999994, 0.50000006] as float32 and label 1, and validate failed 1 of 569 labels. Its
    proportions are added in double now at any depth: label 0, probabilities float64 as predict_proba."""
    import pandas as pd
    import sklearn.datasets
    from sklearn.ensemble import RandomForestClassifier

    X, y = sklearn.datasets.load_breast_cancer(return_X_y=True, as_frame=True)
    frame = X.iloc[:, :4].copy()
    frame["cnt"] = pd.array(np.arange(len(frame)) % 5, dtype="Int64")
    frame["fl"] = X["mean smoothness"].astype("Float64")
    model = RandomForestClassifier(random_state=268).fit(frame, y)
    assert model.predict_proba(frame.iloc[[297]]).tolist() == [[0.5, 0.5]], "the tie this test is about"
    conv = og.convert(model, frame.head())
    report = og.validate(conv, reference=model, data=frame)
    assert report.passed, report.summary()
    label, probabilities = _run(conv, frame)
    assert label[297] == 0
    assert probabilities.dtype == np.float64
    np.testing.assert_allclose(probabilities, model.predict_proba(frame), rtol=0, atol=1e-15)


@pytest.mark.parametrize("kind", ["RandomForestClassifier", "ExtraTreesClassifier"])
def test_forests_label_exactly_tied_votes_as_scikit_learn(kind: str) -> None:
    """20 trees on 60 rows of one noisy feature, scored between each pair of their thresholds: where 10 trees vote
    each way, scikit-learn's average is exactly [0.5, 0.5] and predict takes the first class; the file's float32
    sums of 1/20 broke such a tie the other way (and its probabilities were 6e-8 off). They are scikit-learn's."""
    import sklearn.ensemble

    rng = np.random.default_rng(0)
    X = rng.random((60, 1))
    y = (X[:, 0] > 0.5) ^ (rng.random(60) < 0.3)  # trees about 6 splits deep, leaves pure
    settings = {"max_samples": 0.2} if kind == "RandomForestClassifier" else {}
    model = getattr(sklearn.ensemble, kind)(n_estimators=20, random_state=0, **settings).fit(X, y)
    cuts = np.unique(np.concatenate([t.tree_.threshold[t.tree_.feature >= 0] for t in model.estimators_]))
    rows = ((cuts[:-1] + cuts[1:]) / 2)[:, np.newaxis]  # one row in each stretch the forest answers alike
    proba = model.predict_proba(rows)
    assert np.any(proba[:, 0] == proba[:, 1]), "no tied row to check"
    _assert_probabilities_as_scikit_learn(og.convert(model, X[:5]), model, rows)


def test_a_shallow_decision_tree_answers_a_third_in_double() -> None:
    """A one-split DecisionTreeClassifier whose leaf holds three duplicate rows, two of class 0 and one of class 1,
    answered 0.33333334 (float32) for predict_proba's 1/3 in a float64 graph. A tree of any depth picks its
    leaf's float64 proportions now."""
    from sklearn.tree import DecisionTreeClassifier

    X = np.array([[0.0], [0.0], [0.0], [1.0], [1.0]])
    y = np.array([0, 0, 1, 1, 1])
    model = DecisionTreeClassifier(random_state=0).fit(X, y)
    rows = np.array([[0.0], [0.25], [1.0]])
    assert model.predict_proba(rows)[0, 1] == 1 / 3
    _assert_probabilities_as_scikit_learn(og.convert(model, X), model, rows)


def test_a_shallow_exponential_boosting_model_on_float64_rows_keeps_a_float64_graph() -> None:
    """GradientBoostingClassifier(loss="exponential") of the default depth, converted from float64 rows: skl2onnx's
    link (Sigmoid(2 * scores), its 2 a float32) made the double graph ill-typed, so the whole file fell back to
    float32 (float64 rows cast to float32, probabilities declared float32, "computed in float32" said) where
    the log-loss keeps a float64 graph. It keeps one now, as the log-loss does, its leaves added in double."""
    import sklearn.datasets
    from sklearn.ensemble import GradientBoostingClassifier

    X, y = sklearn.datasets.load_breast_cancer(return_X_y=True)
    model = GradientBoostingClassifier(loss="exponential", n_estimators=30, random_state=0).fit(X, y)
    conv = og.convert(model, X[:5])
    assert {s.elem_type for s in conv.signature.outputs} == {"float64", "int64"}, conv.signature.outputs
    assert not [w for w in conv.warnings if "computed in float32" in w], conv.warnings
    metadata = {p.key: p.value for p in conv.model.metadata_props}
    assert metadata.get("onnxgate.precision") == "float64" and not metadata.get("onnxgate.float32_inside")
    label, probabilities = _run(conv, X)
    np.testing.assert_array_equal(label.ravel(), model.predict(X))
    np.testing.assert_allclose(probabilities, model.predict_proba(X), rtol=0, atol=1e-12)
    assert og.validate(conv, reference=model, data=X).passed


@pytest.mark.parametrize("opset", [9, 17])
@pytest.mark.parametrize("fitted", ["forest", "tree"])
def test_a_multi_label_tree_of_one_leaf_scores_rows_holding_nan(fitted: str, opset: int) -> None:
    """skl2onnx found the leaf of a one-node tree (a multi-label forest's tree that did not split, a multi-label
    tree too) as ``sum(input * 0)``: a row holding NaN made the index INT64_MIN, and onnxruntime refused the
    whole batch ("index is out of range") that scikit-learn scores. The leaf is found for every row now."""
    from sklearn.base import clone
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.tree import DecisionTreeClassifier

    model, _, X = _tree_model_and_rows("random-forest-multilabel")  # 5% NaN
    y = model.predict(X)
    if fitted == "forest":  # one of its trees a single leaf
        model.estimators_[0] = clone(model.estimators_[0]).set_params(min_impurity_decrease=1.0).fit(X, y)
    else:  # two labels of two classes (skl2onnx refused a tree of 3 and 2 classes)
        model = DecisionTreeClassifier(min_impurity_decrease=1.0).fit(X, np.c_[y[:, 0] == 0, y[:, 1]])
    leaves = [tree.tree_.node_count for tree in getattr(model, "estimators_", [model])]
    assert leaves[0] == 1 and isinstance(model, RandomForestClassifier) == (fitted == "forest")
    conv = og.convert(model, X[:5], opset=opset)
    _assert_answers_in_float64(conv, model, X, _run(conv, X))


@pytest.mark.parametrize("case, shift", [("random-forest-regressor", 0.01), ("gradient-boosting-binary", 1e-4)])
def test_validate_fails_a_forest_whose_leaf_differs_from_the_files(case: str, shift: float) -> None:
    """A float64 forest's file recorded float32 inside, so validate allowed it float32's tolerances: a
    reference whose busiest leaf differs (the forest's answer 0.01 off, a boosting score 1e-4 off) passed.
    The file answers the float64 leaves now, and validate holds it to float64's tolerances."""
    model, _, X = _tree_model_and_rows(case)
    conv = og.convert(model, X[:5])
    assert og.validate(conv, reference=model, data=X).passed
    first = np.ravel(model.estimators_)[0]
    busiest = np.bincount(first.apply(X.astype(np.float32))).argmax()
    step = shift * len(model.estimators_) if case.startswith("random-forest") else shift / model.learning_rate
    first.tree_.value[busiest, 0, 0] += step  # the reference is planted; the file keeps the leaf it was given
    report = og.validate(conv, reference=model, data=X)
    assert not report.passed, report.summary()


@pytest.mark.parametrize("categories", [[0.1, 0.3, 0.7, 2.0], [100000001.0, 100000002.0, 100000003.0, 100000004.0]],
                         ids=["one-step-off", "beyond-float32"])
@pytest.mark.parametrize("fitted", ["histgradientboosting", "ordinal-encoder-pipeline"])
def test_float64_categories_are_matched_in_double(categories: list[float], fitted: str) -> None:
    # skl2onnx's OrdinalEncoder matched a double value as float32: 0.1 + 0.2 took the category 0.3's branch
    # (199 of 200 labels off, validate passed), and ids 100000001..100000004 shared one code (helper-126)
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OrdinalEncoder

    rng = np.random.default_rng(5)
    cats = np.asarray(categories)
    X = np.column_stack([rng.normal(size=3000), rng.choice(cats, 3000), rng.normal(size=3000)])
    y = (np.isin(X[:, 1], cats[1::2]) ^ (X[:, 0] > 0)).astype(int)
    if fitted == "histgradientboosting":
        model = HistGradientBoostingClassifier(max_iter=30, random_state=0, categorical_features=[1]).fit(X, y)
    else:
        encode = ColumnTransformer([("codes", OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1),
                                     [1])], remainder="passthrough")
        model = make_pipeline(encode, HistGradientBoostingClassifier(max_iter=30, random_state=0,
                                                                     categorical_features=[0])).fit(X, y)
    conv = og.convert(model, X[:20])
    near = X[:200].copy()
    near[:, 1] = np.nextafter(near[:, 1], np.inf)  # a category for none: 0.1 + 0.2 is 0.3's next double
    rows = np.vstack([X, near])
    labels, probabilities = _run(conv, rows)[:2]
    np.testing.assert_array_equal(labels.ravel(), model.predict(rows))
    np.testing.assert_allclose(probabilities, model.predict_proba(rows), atol=1e-6)
    assert og.validate(conv, reference=model, data=rows).passed


@pytest.mark.parametrize("kind", ["DBSCAN", "LedoitWolf", "LocalOutlierFactor"])
def test_an_estimator_that_answers_nothing_for_new_rows_is_refused_as_such(kind: str) -> None:
    # the message blamed skl2onnx's missing converter and told the user to register one
    from sklearn import cluster, covariance, neighbors

    X = np.random.default_rng(0).normal(size=(60, 3))
    model = {"DBSCAN": cluster.DBSCAN, "LedoitWolf": covariance.LedoitWolf,
             "LocalOutlierFactor": neighbors.LocalOutlierFactor}[kind]().fit(X)
    match = "novelty=True" if kind == "LocalOutlierFactor" else "answers nothing for new rows"
    with pytest.raises(og.UnsupportedModelError, match=match):
        og.convert(model, X[:5])


def test_histgradientboosting_with_categories_and_a_nullable_integer_column_converts() -> None:
    # a pandas Int64 column holding <NA> beside a category column: scikit-learn fits and predicts, and convert
    # raised scikit-learn's own ValueError ("uses pandas.NA to represent null values") from its encoding front
    import pandas as pd
    from sklearn.ensemble import HistGradientBoostingClassifier

    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"num": rng.normal(size=400), "cnt": pd.array(rng.integers(0, 5, 400), dtype="Int64"),
                          "city": pd.Categorical(rng.choice(["Oslo", "Rome", "Lima"], 400))})
    frame.loc[::17, "cnt"] = pd.NA
    model = HistGradientBoostingClassifier(max_iter=10).fit(frame, (frame.num > 0) ^ (frame.city == "Rome"))
    conv = og.convert(model, frame.head(20))
    report = og.validate(conv, reference=model, data=frame)
    assert report.passed, report.summary()


def test_the_shared_operator_version_table_is_read_again_for_an_operator_it_lacks() -> None:
    # skl2onnx's table of operator versions is built once per process for onnxgate's conversions; an
    # operator missing from it (a schema registered later) makes it read onnx.defs again, not version 1
    from skl2onnx.common._container import ModelComponentContainer
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X, y = load_iris(return_X_y=True)
    og.convert(make_pipeline(StandardScaler(), LogisticRegression(max_iter=500)).fit(X, y), X[:20])
    first = ModelComponentContainer(17)
    assert first._get_op_version("", "Cast") == 13
    del first._op_versions[("", "Cast")]
    second = ModelComponentContainer(17)
    assert second._get_op_version("", "Cast") == 13
    assert ("", "Cast") in second._op_versions


@pytest.mark.parametrize("dtype", [np.int64, np.int32])
@pytest.mark.parametrize("strategy", ["most_frequent", "constant", "most_frequent+indicator"])
def test_an_imputer_of_an_integer_missing_value_converts_and_answers_integers(dtype: Any, strategy: str) -> None:
    """``SimpleImputer(strategy="most_frequent", missing_values=-1)`` on integer rows failed inside skl2onnx
    ("Unsupported proposed value '-1'"). It is written with ``Equal`` and ``Where`` on the integers now, and
    answers scikit-learn's integers."""
    from sklearn.impute import SimpleImputer

    X = np.random.default_rng(0).integers(-1, 4, size=(200, 3)).astype(dtype)
    model = SimpleImputer(strategy=strategy.split("+")[0], fill_value=7, missing_values=-1,
                          add_indicator=strategy.endswith("indicator")).fit(X)
    conv = og.convert(model, X[:5])
    got = _run(conv, X)[0]
    assert got.dtype == model.transform(X).dtype == dtype
    np.testing.assert_array_equal(got, model.transform(X))
    assert og.validate(conv, data=X, reference=model).passed


@pytest.mark.parametrize("kind", ["Binarizer", "SelectKBest"])
def test_a_transformer_answering_integers_on_integer_rows_answers_them(kind: str) -> None:
    """scikit-learn's Binarizer and feature selectors keep an integer row's type; the graph, which reads
    integer rows as double, answered float64 where ``transform`` answers int64 (a service's JSON said 1.0)."""
    from sklearn.feature_selection import SelectKBest
    from sklearn.preprocessing import Binarizer

    X = np.random.default_rng(0).integers(0, 5, size=(200, 4)).astype(np.int64)
    y = (X[:, 0] > 2).astype(int)
    model = (Binarizer(threshold=1.5) if kind == "Binarizer" else SelectKBest(k=2)).fit(X, y)
    conv = og.convert(model, X[:5])
    got = _run(conv, X)[0]
    assert got.dtype == model.transform(X).dtype == np.int64
    np.testing.assert_array_equal(got, model.transform(X))
    assert conv.signature.outputs[0].elem_type == "int64"
    assert og.validate(conv, data=X, reference=model).passed


def _every_missing_pattern(rows: np.ndarray) -> np.ndarray:
    """Each of ``rows`` with every subset of its features missing (none to all)."""
    import itertools

    n = rows.shape[1]
    subsets = [list(s) for r in range(n + 1) for s in itertools.combinations(range(n), r)]
    out = np.repeat(rows, len(subsets), axis=0)
    for i, subset in enumerate(subsets * len(rows)):
        out[i, subset] = np.nan
    return out


@pytest.mark.parametrize("precision", ["float64", "float32"])
@pytest.mark.parametrize("weights", ["uniform", "distance"])
def test_a_knn_imputer_answers_every_missing_pattern(weights: str, precision: str) -> None:
    """skl2onnx's KNNImputer failed inside onnxruntime on a batch holding a row whose missing column no donor
    shares a feature with (imputed with the column's mean) beside one imputed from neighbours ("GatherElements
    op: Out of range value in index tensor"), and on a batch of rows all taking the mean (TopK "k argument [1]
    should not be greater than specified axis dim value [0]"); weights='distance' was refused. Every subset of
    missing features answers as scikit-learn does now, row by row and in one batch."""
    from sklearn.impute import KNNImputer

    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 4))
    X[rng.random(X.shape) < 0.1] = np.nan
    X[:290, 3] = np.nan  # 10 donors for feature 3, none of them with feature 0: fewer than n_neighbors=12 remain
    X[290:, 0] = np.nan
    model = KNNImputer(n_neighbors=12, weights=weights).fit(X)
    rows = _every_missing_pattern(rng.normal(size=(3, 4)))
    conv = og.convert(model, X[:20], precision=precision)
    expected = model.transform(rows)
    tolerance = 1e-8 if precision == "float64" else 1e-4  # 1 / distance weighs a near donor's rounding
    assert _max_err(_run(conv, rows)[0], expected) < tolerance
    assert _max_err(np.vstack([_run(conv, row[None])[0] for row in rows]), expected) < tolerance
    report = og.validate(conv, data=rows, reference=model)
    assert report.passed, [c.message for c in report.checks if not c.passed]


@pytest.mark.parametrize("options", [{}, {"keep_empty_features": True}, {"add_indicator": True}])
def test_a_knn_imputer_with_a_feature_no_training_row_has(options: dict[str, Any]) -> None:
    """A feature missing in every training row: skl2onnx's graph looked for its donors too and failed on every
    row (TopK "k argument [1] should not be greater than specified axis dim value [0]"); add_indicator's
    columns were left out ([N, 4] where scikit-learn answers [N, 7]). Dropped, zeros under keep_empty_features,
    and the indicator columns appended, as scikit-learn does."""
    from sklearn.impute import KNNImputer

    rng = np.random.default_rng(1)
    X = rng.normal(size=(200, 4))
    X[rng.random(X.shape) < 0.1] = np.nan
    X[:, 1] = np.nan
    model = KNNImputer(**options).fit(X)
    rows = _every_missing_pattern(rng.normal(size=(2, 4)))
    conv = og.convert(model, X[:20])
    got, expected = _run(conv, rows)[0], model.transform(rows)
    assert got.shape == expected.shape
    assert _max_err(got, expected) < 1e-10


def test_a_knn_imputer_on_float64_rows_imputes_in_double() -> None:
    """skl2onnx's KNNImputer shape calculator refused a double input, so a float64 sample was imputed in
    float32 inside the graph (1.2e-7 off scikit-learn here, float32 answers). Its graph is written in double
    now: float64 answers within 1e-12."""
    from sklearn.impute import KNNImputer

    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 4))
    X[rng.random(X.shape) < 0.1] = np.nan
    model = KNNImputer().fit(X)
    conv = og.convert(model, X[:5])
    got = _run(conv, X)[0]
    assert got.dtype == np.float64
    assert _max_err(got, model.transform(X)) < 1e-12
    assert not any("float32" in w for w in conv.warnings), conv.warnings


def test_a_conversion_installs_onnxgate_s_skl2onnx_fixes_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """Checking that every fix onnxgate makes to skl2onnx is in place takes 0.3-0.7 ms: a small model's conversion
    did it twice (1.37x skl2onnx's own time for an SVR, 1.29x once)."""
    from sklearn.svm import SVR

    import onnxgate.converters.sklearn as sklearn_converter

    X = np.random.default_rng(0).normal(size=(30, 3))
    model = SVR().fit(X, X.sum(axis=1))
    calls = []
    original = sklearn_converter.register_hashing_vectorizer  # the last of the fixes _skl2onnx installs
    monkeypatch.setattr(sklearn_converter, "register_hashing_vectorizer", lambda: calls.append(1) or original())
    og.convert(model, X[:5])
    assert len(calls) == 1


@pytest.mark.parametrize("key", ["estimator", "pipeline", "id(pipeline)", "Pipeline"])
@pytest.mark.parametrize("kind", ["LogisticRegression", "LinearSVC", "RidgeClassifier"])
def test_raw_scores_asked_by_the_estimator_or_its_pipeline_are_written_and_recorded(kind: str, key: str) -> None:
    # keyed by the estimator itself skl2onnx ignored the option and onnxgate recorded it (every row failed); keyed
    # by the pipeline skl2onnx dropped it unsaid; a LinearSVC's or RidgeClassifier's went unrecorded, its two
    # columns [-d, d] compared with one (validate failed, onnxruntime warned of the declared shape)
    import sklearn.linear_model
    import sklearn.svm
    from sklearn.datasets import load_breast_cancer
    from sklearn.pipeline import Pipeline, make_pipeline
    from sklearn.preprocessing import StandardScaler

    X, y = load_breast_cancer(return_X_y=True)
    final = getattr(sklearn.linear_model, kind, None) or getattr(sklearn.svm, kind)
    model = make_pipeline(StandardScaler(), final()).fit(X, y)
    keys = {"estimator": model.steps[-1][1], "pipeline": model, "id(pipeline)": id(model), "Pipeline": Pipeline}
    conv = og.convert(model, X[:5], options={keys[key]: {"raw_scores": True}})
    assert {p.key: p.value for p in conv.model.metadata_props}.get("onnxgate.raw_scores") == kind
    assert [d.dim_value for d in conv.model.graph.output[1].type.tensor_type.shape.dim][1:] == [2]
    decision = model.decision_function(X)
    np.testing.assert_allclose(_run(conv, X)[1], np.column_stack([-decision, decision]), rtol=0, atol=1e-6)
    assert og.validate(conv, reference=model, data=X).passed
