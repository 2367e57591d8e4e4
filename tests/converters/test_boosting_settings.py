"""Boosting settings that once were refused or converted wrong and now convert faithfully: XGBoost ``missing=v``,
``multi:softmax`` and ``multi:*`` on two classes, LightGBM ``multiclassova`` and ``boosting_type='rf'``; each with a
broken file that validate must fail."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from onnx import numpy_helper

import onnxgate as og
from onnxgate._data import as_feeds
from onnxgate.converters._boosting import set_post_transform

xgboost = pytest.importorskip("xgboost")
lightgbm = pytest.importorskip("lightgbm")
pytest.importorskip("onnxmltools")


def _data(name: str) -> tuple[np.ndarray, np.ndarray]:
    from sklearn import datasets

    X, y = getattr(datasets, f"load_{name}")(return_X_y=True)
    return X.astype(np.float32), y


def _run(conv: og.Conversion, X: Any) -> list[np.ndarray]:
    import onnxruntime as ort

    sess = ort.InferenceSession(conv.model.SerializeToString(), providers=["CPUExecutionProvider"])
    return sess.run(None, as_feeds(X, conv.signature))


def _answers_as(model: Any, sample: Any, rows: Any, labels: Any, proba: Any) -> None:
    """The file converted from ``sample`` validates against ``model`` on ``rows`` and answers ``labels`` and
    ``proba`` there."""
    conv = og.convert(model, sample)
    report = og.validate(conv, target="container", reference=model, data=rows)
    assert report.passed, str(report)
    out = _run(conv, rows)
    assert (out[0] == labels).all()
    np.testing.assert_allclose(out[1], proba, atol=1e-6)


def _with_missing(value: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """breast_cancer with a fifth of its values replaced by ``value``; the same rows with half of those as NaN."""
    X, y = _data("breast_cancer")
    marked = X.copy()
    marked[np.random.default_rng(0).random(X.shape) < 0.2] = value
    mixed = marked.copy()
    odd = mixed[1::2]
    odd[odd == np.float32(value)] = np.nan
    return X, y, marked, mixed


# --- XGBoost missing=v ------------------------------------------------------------------------------


@pytest.mark.parametrize("in_pipeline", [False, True], ids=["alone", "pipeline"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(("kind", "value"), [("classifier", -999.0), ("regressor", -999.0), ("classifier", 0.0)])
def test_xgboost_missing_value_goes_down_the_missing_branch_as_xgboost_sends_it(kind: str, value: float, dtype: Any,
                                                                               in_pipeline: bool) -> None:
    """missing=-999 (or 0.0) was refused; XGBoost reads a value equal to it, and a NaN, as missing (the same
    probabilities on rows holding -999 or NaN, measured): the file maps it to NaN in front of the trees."""
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer

    _X, y, marked, mixed = _with_missing(value)
    make = xgboost.XGBClassifier if kind == "classifier" else xgboost.XGBRegressor
    estimator = make(n_estimators=20, max_depth=3, missing=value, n_jobs=1)
    model = make_pipeline(FunctionTransformer(), estimator) if in_pipeline else estimator
    model.fit(marked, y)
    conv = og.convert(model, marked[:5].astype(dtype))
    rows = np.vstack([marked, mixed]).astype(dtype)
    report = og.validate(conv, target="container", reference=model, data=rows)
    assert report.passed, str(report)
    out = _run(conv, rows)
    if kind == "classifier":
        assert (out[0].reshape(-1) == model.predict(rows)).all()
        np.testing.assert_allclose(out[1], model.predict_proba(rows), atol=1e-6)
    else:
        np.testing.assert_allclose(out[0].reshape(-1), model.predict(rows), rtol=1e-5, atol=1e-5)
    assert not any("missing" in w for w in conv.warnings)


def test_an_xgboost_file_with_its_missing_value_left_unmapped_fails_validate() -> None:
    """The check catches the fault the mapping fixes: the trees fed the raw features (-999 not mapped to NaN)."""
    _X, y, marked, _mixed = _with_missing(-999.0)
    model = xgboost.XGBClassifier(n_estimators=20, max_depth=3, missing=-999.0, n_jobs=1).fit(marked, y)
    conv = og.convert(model, marked[:5])
    graph = conv.model.graph
    mapped = {n.output[0]: n.input[1] for n in graph.node if n.op_type == "Where"}
    trees = [n for n in graph.node if n.op_type.startswith("TreeEnsemble")]
    assert all(t.input[0] in mapped for t in trees)
    for tree in trees:
        tree.input[0] = mapped[tree.input[0]]  # the raw features
    assert (_run(conv, marked)[0] != model.predict(marked)).sum() > 0
    report = og.validate(conv, target="container", reference=model, data=marked)
    assert not report.passed


def _booster_with_missing(value: float) -> tuple[Any, np.ndarray, np.ndarray]:
    """A Booster trained on breast_cancer through DMatrix(..., missing=value); rows holding value, and NaN
    in half of them, with the probabilities of class 1 XGBoost answers there under that DMatrix."""
    _X, y, marked, mixed = _with_missing(value)
    booster = xgboost.train({"objective": "binary:logistic", "max_depth": 3, "nthread": 1},
                            xgboost.DMatrix(marked, label=y, missing=value), 20)
    rows = np.vstack([marked, mixed])
    return booster, rows, booster.predict(xgboost.DMatrix(rows, missing=value))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_a_booster_given_its_missing_value_reads_it_as_xgboost_does(dtype: Any) -> None:
    """A Booster does not record its DMatrix's missing=-999: it converted with -999 read as a number, 56 of 1138
    labels off (0.92 in probability), and parity passed. options={'missing': -999} now says it: the file reads -999 as
    missing, validate's reference predicts with DMatrix(missing=-999), and the user's Booster is left as it was."""
    booster, rows, p1 = _booster_with_missing(-999.0)
    before = booster.save_raw("json")
    conv = og.convert(booster, rows[:5].astype(dtype), options={"missing": -999})
    np.testing.assert_allclose(_run(conv, rows.astype(dtype))[1][:, 1], p1, atol=1e-6)
    assert not any("missing" in w for w in conv.warnings)
    report = og.validate(conv, target="container", reference=booster, data=rows.astype(dtype))
    assert report.passed, str(report)
    parity = report.check("prediction_parity")
    assert parity.passed
    # the report says the reference took the value from the file: parity cannot tell a wrong value given
    assert "the file reads -999.0 as missing (convert's option missing)" in parity.message
    assert booster.save_raw("json") == before and not hasattr(booster, "_onnxgate_missing")


def test_a_file_converted_with_another_missing_value_fails_validate() -> None:
    """The reference follows the value the file records, not the one in the file's graph: a graph mapping 0.0
    to NaN under a record of -999 is caught."""
    booster, rows, _p1 = _booster_with_missing(-999.0)
    conv = og.convert(booster, rows[:5], options={"missing": -999})
    (value,) = [i for i in conv.model.graph.initializer if i.name.endswith("missing_value")]
    value.CopyFrom(numpy_helper.from_array(np.asarray(0.0, dtype=np.float32), value.name))
    assert not og.validate(conv, target="container", reference=booster, data=rows).passed


def test_the_missing_option_on_the_command_line_reaches_convert_and_validate(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """A Booster's model file, and one saved by XGBClassifier(missing=-999) (whose missing is not saved):
    convert --option missing=-999 writes a file that answers XGBoost's probabilities, and validate --reference
    on the model file passes (its reference reads the value the file records). The option was refused as unknown."""
    import onnxruntime as ort

    from onnxgate.cli import main

    monkeypatch.chdir(tmp_path)
    booster, rows, p1 = _booster_with_missing(-999.0)
    booster.save_model("booster.ubj")
    estimator = xgboost.XGBClassifier(n_estimators=20, max_depth=3, missing=-999.0, n_jobs=1)
    estimator.fit(rows[: len(rows) // 2], _data("breast_cancer")[1])
    estimator.save_model("estimator.json")
    np.save("rows.npy", rows)
    for model, expected in [("booster.ubj", p1), ("estimator.json", estimator.predict_proba(rows)[:, 1])]:
        assert main(["convert", model, "--sample", "rows.npy", "--option", "missing=-999", "-o", "m.onnx",
                     "--force"]) == 0
        assert "missing" not in capsys.readouterr().err
        out = ort.InferenceSession("m.onnx", providers=["CPUExecutionProvider"]).run(None, {"input": rows})
        np.testing.assert_allclose(out[1][:, 1], expected, atol=1e-6)
        assert main(["validate", "m.onnx", "--reference", model, "--data", "rows.npy", "-t", "container"]) == 0, (
            capsys.readouterr().out)
    # converted in memory, where the estimator holds its missing, the file records it too: validated against the
    # saved estimator (missing not saved), parity failed on the rows holding -999 (11 of 569 labels on breast_cancer)
    og.convert(estimator, rows[:5]).save("memory.onnx")
    assert main(["validate", "memory.onnx", "--reference", "estimator.json", "--data", "rows.npy", "-t",
                 "container"]) == 0, capsys.readouterr().out


def test_xgboost_missing_value_with_category_columns_passes_validate_on_codes() -> None:
    """XGBClassifier(missing=-999, enable_categorical=True) on a frame with a category column: the file was right
    (1.8e-07 off predict_proba) but validate's reference, its booster on the codes, read -999 as a number: 3 of 178
    wine labels "differed" and validate failed."""
    import pandas as pd
    from sklearn.datasets import load_wine

    wine = load_wine(as_frame=True)
    frame = wine.data[["alcohol", "hue", "flavanoids"]].copy()
    frame.loc[np.random.default_rng(0).random(len(frame)) < 0.3, "hue"] = -999.0
    frame["colour"] = pd.cut(wine.data["color_intensity"], 4, labels=["pale", "light", "deep", "dark"])
    model = xgboost.XGBClassifier(n_estimators=20, max_depth=3, n_jobs=1, missing=-999.0,
                                  enable_categorical=True).fit(frame, wine.target)
    codes = frame.assign(colour=frame.colour.cat.codes)
    conv = og.convert(model, codes.head())
    report = og.validate(conv, target="container", reference=model, data=codes)
    assert report.passed, str(report)
    np.testing.assert_allclose(_run(conv, codes)[1], model.predict_proba(frame), atol=1e-6)


@pytest.mark.parametrize(("make", "options", "match"), [
    (lambda: xgboost.XGBClassifier(n_estimators=3, missing=-999.0), {"missing": 0},
     r"options missing=0 contradicts XGBClassifier\(missing=-999.0\)"),
    (lambda: xgboost.XGBClassifier(n_estimators=3), {"missing": -999},
     r"options missing=-999 contradicts XGBClassifier\(missing=nan\)"),
    (None, {"missing": "n/a"}, r"option missing expects a number.*found 'n/a'"),
], ids=["other-than-the-estimator's", "estimator-reads-nan", "not-a-number"])
def test_a_missing_option_the_model_contradicts_or_that_is_no_number_is_refused(make: Any, options: dict[str, Any],
                                                                               match: str) -> None:
    X, y = _data("breast_cancer")
    model = (make().fit(X, y) if make is not None
             else xgboost.train({"objective": "binary:logistic", "nthread": 1}, xgboost.DMatrix(X, label=y), 3))
    with pytest.raises(og.UnsupportedModelError, match=match):
        og.convert(model, X[:5], options=options)


# --- XGBoost multi:softmax --------------------------------------------------------------------------


@pytest.mark.parametrize("data", ["iris", "wine"])
@pytest.mark.parametrize("how", ["alone", "pipeline", "booster"])
def test_xgboost_multi_softmax_answers_its_labels_and_the_softmax_of_its_margins(how: str, data: str) -> None:
    """multi:softmax was refused; it grows the trees multi:softprob does, XGBClassifier.predict_proba answers the
    softmax of their margins (xgboost 3.2) and predict (a Booster's too) the class of the largest margin."""
    from scipy.special import softmax
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X, y = _data(data)
    rows = np.vstack([X, X * 3 - X.mean(axis=0)])  # past the training range too
    if how == "booster":
        model = xgboost.train({"objective": "multi:softmax", "num_class": 3, "max_depth": 3, "nthread": 1},
                              xgboost.DMatrix(X, label=y), 10)
        matrix = xgboost.DMatrix(rows)
        labels = model.predict(matrix)
        proba = softmax(model.predict(matrix, output_margin=True).astype(np.float64), axis=1)
    else:
        estimator = xgboost.XGBClassifier(objective="multi:softmax", n_estimators=10, max_depth=3, n_jobs=1)
        model = (make_pipeline(StandardScaler(), estimator) if how == "pipeline" else estimator).fit(X, y)
        labels, proba = model.predict(rows), model.predict_proba(rows)
    assert np.allclose(proba.sum(axis=1), 1.0)
    _answers_as(model, X[:5], rows, labels, proba)


@pytest.mark.parametrize("how", ["alone", "booster"])
def test_an_xgboost_multi_softmax_file_answering_its_margins_fails_validate(how: str) -> None:
    """The check catches what onnxmltools wrote: the margins (post_transform NONE) as probabilities."""
    X, y = _data("iris")
    if how == "booster":
        model = xgboost.train({"objective": "multi:softmax", "num_class": 3, "max_depth": 3, "nthread": 1},
                              xgboost.DMatrix(X, label=y), 10)
    else:
        model = xgboost.XGBClassifier(objective="multi:softmax", n_estimators=10, max_depth=3, n_jobs=1).fit(X, y)
    conv = og.convert(model, X[:5])
    set_post_transform(conv.model.graph.node, "NONE")
    assert not og.validate(conv, target="container", reference=model, data=X).passed


# --- XGBoost multi:softprob / multi:softmax on two classes ---------------------------------------------


def _two_class_model(how: str, objective: str) -> Any:
    """breast_cancer with a tree per class and round: a Booster (with 3 parallel trees for "forest"), or the
    scikit-learn API (which refuses to fit multi:* on two classes without num_class=2)."""
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X, y = _data("breast_cancer")
    if how in ("booster", "forest"):
        params = {"objective": objective, "num_class": 2, "max_depth": 3, "nthread": 1}
        if how == "forest":
            params.update(num_parallel_tree=3, subsample=0.8)
        return xgboost.train(params, xgboost.DMatrix(X, label=y), 10)
    estimator = xgboost.XGBClassifier(objective=objective, num_class=2, n_estimators=10, max_depth=3, n_jobs=1)
    return (make_pipeline(StandardScaler(), estimator) if how == "pipeline" else estimator).fit(X, y)


@pytest.mark.parametrize(("how", "objective"), [
    ("booster", "multi:softprob"), ("booster", "multi:softmax"), ("forest", "multi:softprob"),
    ("alone", "multi:softmax"), ("pipeline", "multi:softmax"),
])
def test_xgboost_two_class_multi_objective_answers_the_softmax_of_its_two_margins(how: str, objective: str) -> None:
    """A multi:* model on two classes grows a tree per class and round; the file onnxmltools wrote kept them
    as two classes, which onnxruntime reads as binary (scores[1] = base[1] + scores[0]): 565 of breast_cancer's
    569 labels were off and convert said nothing. The file answers the softmax of the two margins, the argmax
    for label, as XGBoost does."""
    from scipy.special import softmax

    X, _y = _data("breast_cancer")
    rows = np.vstack([X, X * 3 - X.mean(axis=0)])  # past the training range too
    model = _two_class_model(how, objective)
    if how in ("booster", "forest"):
        margins = model.predict(xgboost.DMatrix(rows), output_margin=True).astype(np.float64)
        proba, labels = softmax(margins, axis=1), margins.argmax(axis=1)
        answer = model.predict(xgboost.DMatrix(rows))
        if objective == "multi:softprob":
            np.testing.assert_allclose(answer, proba, atol=1e-6)
        else:
            assert (answer == labels).all()
    else:
        proba, labels = model.predict_proba(rows), model.predict(rows)
    assert 0 < labels.sum() < len(labels)
    _answers_as(model, X[:5], rows, labels, proba)


@pytest.mark.parametrize("how", ["alone", "pipeline"])
def test_an_xgboost_classifier_multi_softprob_on_two_classes_is_refused_at_convert(how: str) -> None:
    """XGBClassifier.predict reads two softprob columns as multi-label (a [N, 2] matrix of 0/1): no file of one
    label per row answers it; convert says so in one line, with the objective that answers labels."""
    X, _y = _data("breast_cancer")
    model = _two_class_model(how, "multi:softprob")
    assert np.shape(model.predict(X[:3])) == (3, 2)
    with pytest.raises(og.UnsupportedModelError, match=r"multi:softprob.*2 classes.*objective='multi:softmax'"):
        og.convert(model, X[:5])


@pytest.mark.parametrize("objective", ["multi:softprob", "multi:softmax"])
def test_an_xgboost_two_class_multi_file_as_onnxmltools_wrote_it_fails_validate(
        objective: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The check catches the file onnxmltools wrote (two classes, which onnxruntime reads as binary)."""
    from onnxgate.converters import xgboost as converter

    X, _y = _data("breast_cancer")
    model = _two_class_model("booster", objective)
    monkeypatch.setattr(converter, "two_classes_as_one_margin", lambda nodes: None)
    conv = og.convert(model, X[:5])
    margins = model.predict(xgboost.DMatrix(X), output_margin=True)
    assert (_run(conv, X)[0] != margins.argmax(axis=1)).sum() > 500
    assert not og.validate(conv, target="container", reference=model, data=X).passed


# --- LightGBM multiclassova -------------------------------------------------------------------------


@pytest.mark.parametrize("data", ["iris", "wine"])
@pytest.mark.parametrize("how", ["alone", "pipeline", "booster"])
def test_lightgbm_one_vs_all_answers_each_classs_sigmoid_unnormalised_as_lightgbm(how: str, data: str) -> None:
    """multiclassova was refused; LightGBM's predict_proba answers each class's sigmoid of its score, whose rows
    need not sum to 1 (onnxmltools wrote a softmax): the file answers the same, and the label of the largest."""
    from scipy.special import expit
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X, y = _data(data)
    rows = np.vstack([X, X * 3 - X.mean(axis=0)])
    if how == "booster":
        model = lightgbm.train({"objective": "multiclassova", "num_class": 3, "verbose": -1, "num_threads": 1},
                               lightgbm.Dataset(X, y), 10)
        proba = model.predict(rows)
        labels = proba.argmax(axis=1)
        np.testing.assert_allclose(proba, expit(model.predict(rows, raw_score=True)), rtol=1e-12)
    else:
        estimator = lightgbm.LGBMClassifier(objective="multiclassova", n_estimators=10, verbose=-1, n_jobs=1)
        model = (make_pipeline(StandardScaler(), estimator) if how == "pipeline" else estimator).fit(X, y)
        labels, proba = model.predict(rows), model.predict_proba(rows)
    assert np.abs(proba.sum(axis=1) - 1).max() > 0.01  # unnormalised: a softmax would not answer these
    _answers_as(model, X[:5], rows, labels, proba)


def test_a_lightgbm_one_vs_all_file_answering_a_softmax_fails_validate() -> None:
    """The check catches what onnxmltools wrote: a softmax over the classes' scores."""
    X, y = _data("wine")
    model = lightgbm.LGBMClassifier(objective="multiclassova", n_estimators=10, verbose=-1, n_jobs=1).fit(X, y)
    conv = og.convert(model, X[:5])
    set_post_transform(conv.model.graph.node, "SOFTMAX")
    assert not og.validate(conv, target="container", reference=model, data=X).passed


def test_lightgbm_one_vs_all_with_another_sigmoid_is_refused() -> None:
    X, y = _data("iris")
    model = lightgbm.LGBMClassifier(objective="multiclassova", sigmoid=2.0, n_estimators=3, verbose=-1).fit(X, y)
    with pytest.raises(og.UnsupportedModelError, match=r"^LightGBM sigmoid=2: .*Train with sigmoid=1\.0"):
        og.convert(model, X[:5])


# --- LightGBM boosting_type='rf' --------------------------------------------------------------------

RF: dict[str, Any] = {"boosting_type": "rf", "n_estimators": 7, "subsample": 0.8, "subsample_freq": 1, "verbose": -1,
                      "n_jobs": 1}


def _forest_booster(X: np.ndarray, y: np.ndarray, objective: str) -> Any:
    params = {"boosting": "rf", "bagging_fraction": 0.8, "bagging_freq": 1, "verbose": -1, "num_threads": 1,
              "objective": objective, **({"num_class": 3} if objective == "multiclass" else {})}
    return lightgbm.train(params, lightgbm.Dataset(X, y), 7)


@pytest.mark.parametrize(("data", "how"), [
    ("breast_cancer", "alone"), ("breast_cancer", "pipeline"), ("breast_cancer", "booster"),
    ("wine", "alone"), ("wine", "booster"), ("diabetes", "alone"), ("diabetes", "pipeline"), ("diabetes", "booster"),
    ("diabetes", "poisson"),
])
def test_lightgbm_random_forest_answers_the_mean_of_its_trees_as_lightgbm(data: str, how: str) -> None:
    """boosting_type='rf' was refused; LightGBM predicts with the mean of its trees (then the objective's sigmoid,
    softmax or exp), where onnxmltools adds them up (its own rf form divides by 100 whatever their number)."""
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X, y = _data(data)
    rows = np.vstack([X, X * 3 - X.mean(axis=0)])
    classifier = data != "diabetes"
    objective = {"breast_cancer": "binary", "wine": "multiclass", "diabetes": "regression"}[data]
    if how == "booster":
        model = _forest_booster(X, y, objective)
    else:
        make = lightgbm.LGBMClassifier if classifier else lightgbm.LGBMRegressor
        estimator = make(**RF, **({"objective": "poisson"} if how == "poisson" else {}))
        model = (make_pipeline(StandardScaler(), estimator) if how == "pipeline" else estimator).fit(X, y)
    conv = og.convert(model, X[:5])
    report = og.validate(conv, target="container", reference=model, data=rows)
    assert report.passed, str(report)
    out = _run(conv, rows)
    if how == "booster":
        truth = model.predict(rows)
        if objective == "binary":
            truth = np.stack([1 - truth, truth], axis=1)
        if classifier:
            assert (out[0] == truth.argmax(axis=1)).all()
            np.testing.assert_allclose(out[1], truth, atol=1e-6)
        else:
            np.testing.assert_allclose(out[0].reshape(-1), truth, rtol=1e-5, atol=1e-4)
    elif classifier:
        assert (out[0] == model.predict(rows)).all()
        np.testing.assert_allclose(out[1], model.predict_proba(rows), atol=1e-6)
    else:
        np.testing.assert_allclose(out[0].reshape(-1), model.predict(rows), rtol=1e-5, atol=1e-4)


def test_a_lightgbm_random_forest_file_adding_up_its_trees_fails_validate() -> None:
    """The check catches the sum of the trees (what onnxmltools wrote for a Booster) in place of their mean."""
    X, y = _data("breast_cancer")
    model = lightgbm.LGBMClassifier(**RF).fit(X, y)
    conv = og.convert(model, X[:5])
    node = next(n for n in conv.model.graph.node if n.op_type == "TreeEnsembleClassifier")
    weights = next(a for a in node.attribute if a.name == "class_weights")
    summed = [w * RF["n_estimators"] for w in weights.floats]
    del weights.floats[:]
    weights.floats.extend(summed)
    assert np.abs(_run(conv, X)[1] - model.predict_proba(X)).max() > 0.1  # the same signs: labels alike
    assert not og.validate(conv, target="container", reference=model, data=X).passed


# --- LightGBM rankers, XGBoost bool beside category columns, CatBoost text features (helper-187) --------------


def _ranked_diabetes() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """diabetes in queries of 17 rows, the target as four relevance grades; the queries' sizes."""
    X, y = _data("diabetes")
    grades = np.digitize(y, np.quantile(y, [0.25, 0.5, 0.75]))
    sizes = np.bincount(np.arange(len(X)) // 17)
    return X, grades, sizes


@pytest.mark.parametrize("how", ["LGBMRanker", "rank_xendcg", "booster", "pipeline", "frame"])
def test_a_lightgbm_ranker_answers_the_scores_lightgbm_predicts(how: str) -> None:
    """Rankers were refused ("onnxmltools writes no faithful ONNX form") where onnxmltools' file answers
    LightGBM's scores: the trees' raw sum, a regression's value."""
    import pandas as pd
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X, grades, sizes = _ranked_diabetes()
    rows = np.vstack([X, X * 3 - X.mean(axis=0)])
    rows[::7, 2] = np.nan
    if how == "booster":
        model = lightgbm.train({"objective": "lambdarank", "verbose": -1},
                               lightgbm.Dataset(X, grades, group=sizes), 20)
    elif how == "pipeline":
        model = make_pipeline(StandardScaler(), lightgbm.LGBMRanker(n_estimators=20, verbose=-1))
        model.fit(X, grades, lgbmranker__group=sizes)
    else:
        objective = "rank_xendcg" if how == "rank_xendcg" else "lambdarank"
        model = lightgbm.LGBMRanker(n_estimators=20, objective=objective, verbose=-1)
        if how == "frame":
            X, rows = (pd.DataFrame(a, columns=[f"c{i}" for i in range(a.shape[1])]) for a in (X, rows))
        model.fit(X, grades, group=sizes)
    conv = og.convert(model, X[:5])
    assert og.validate(conv, target="container", reference=model, data=rows).passed
    scores = _run(conv, rows)[0].reshape(-1)
    np.testing.assert_allclose(scores, model.predict(rows), rtol=1e-5, atol=1e-5)


def test_a_lightgbm_ranker_file_with_other_scores_fails_validate() -> None:
    X, grades, sizes = _ranked_diabetes()
    model = lightgbm.LGBMRanker(n_estimators=20, verbose=-1).fit(X, grades, group=sizes)
    conv = og.convert(model, X[:5])
    node = next(n for n in conv.model.graph.node if n.op_type == "TreeEnsembleRegressor")
    weights = next(a for a in node.attribute if a.name == "target_weights")
    halved = [w / 2 for w in weights.floats]
    del weights.floats[:]
    weights.floats.extend(halved)
    assert not og.validate(conv, target="container", reference=model, data=X).passed


@pytest.mark.parametrize("onehot", [None, 8])
def test_xgboost_bool_column_beside_a_category_column_converts_and_validates(onehot: int | None) -> None:
    """A frame of numbers, a bool column and a pandas category column (enable_categorical=True) was refused with
    "onnxmltools could not convert XGBClassifier: 'split_condition'": XGBoost dumps a split on a bool column
    (an indicator) with no threshold while the category types are kept."""
    import pandas as pd

    X, y = _data("breast_cancer")
    frame = pd.DataFrame(X[:, :4], columns=["a", "b", "c", "d"])
    frame["flag"] = X[:, 7] > np.median(X[:, 7])
    thirds = np.digitize(X[:, 8], np.quantile(X[:, 8], [0.3, 0.6]))
    frame["size"] = pd.Categorical(np.array(["lo", "mid", "hi"])[thirds])
    model = xgboost.XGBClassifier(n_estimators=20, max_depth=3, enable_categorical=True,
                                  **({} if onehot is None else {"max_cat_to_onehot": onehot})).fit(frame, y)
    conv = og.convert(model, frame)
    report = og.validate(conv, target="container", reference=model, data=frame)
    assert report.passed, str(report)
    label, proba = _run(conv, frame)
    assert (label == model.predict(frame)).all()
    np.testing.assert_allclose(proba, model.predict_proba(frame), atol=1e-6)


@pytest.mark.parametrize("how", ["text", "embedding", "Depthwise", "Lossguide"])
def test_catboost_text_embedding_and_non_symmetric_models_are_refused_naming_the_parameter(how: str) -> None:
    """A text feature was refused as "the model reads no categorical features (cat_features)", and an embedding
    one the same; a Depthwise model with "ONNX-ML export is available only for models on oblivious trees"."""
    catboost = pytest.importorskip("catboost")
    import pandas as pd

    X, y = _data("breast_cancer")
    quiet = {"iterations": 5, "verbose": False, "thread_count": 1, "allow_writing_files": False}
    if how == "text":
        frame = pd.DataFrame({"x": X[:, 0], "note": np.where(y == 1, "good fine", "bad poor")})
        model = catboost.CatBoostClassifier(**quiet).fit(frame, y, text_features=["note"])
        match = r"reads text or embedding features \(text_features=\['note'\]\), which have no ONNX form"
    elif how == "embedding":
        frame = pd.DataFrame({"x": X[:, 0], "vec": list(X[:, 1:5])})
        model = catboost.CatBoostClassifier(**quiet).fit(catboost.Pool(frame, y, embedding_features=["vec"]))
        match = r"reads text or embedding features \(embedding_features=\['vec'\]\), which have no ONNX form"
    else:
        frame = X
        model = catboost.CatBoostClassifier(**quiet, grow_policy=how).fit(X, y)
        match = rf"not symmetric \(grow_policy='{how}'\) have no ONNX form.*grow_policy='SymmetricTree'"
    with pytest.raises(og.UnsupportedModelError, match=match):
        og.convert(model, frame[:5])


# --- LightGBM use_missing / zero_as_missing ------------------------------------------------------------------------


def _zeros_and_nan(kind: str) -> tuple[np.ndarray, np.ndarray]:
    """breast_cancer (classifier) or diabetes (regressor), a fifth of the values 0.0 and a tenth NaN, as float64."""
    from sklearn.datasets import load_breast_cancer, load_diabetes

    X, y = (load_breast_cancer if kind == "classifier" else load_diabetes)(return_X_y=True)
    rng = np.random.default_rng(0)
    X = X.copy()
    X[rng.random(X.shape) < 0.2] = 0.0
    X[rng.random(X.shape) < 0.1] = np.nan
    return X, y


def _lightgbm_answers(model: Any, rows: np.ndarray) -> list[np.ndarray]:
    if hasattr(model, "predict_proba"):
        return [model.predict(rows), model.predict_proba(rows)]
    return [model.predict(rows).reshape(-1, 1)]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("zero_as_missing", [False, True], ids=["plain", "zero-as-missing-overridden"])
@pytest.mark.parametrize("kind", ["classifier", "regressor"])
def test_lightgbm_use_missing_false_reads_nan_as_zero_as_lightgbm_does(kind: str, zero_as_missing: bool,
                                                                        dtype: Any) -> None:
    """use_missing=False: LightGBM reads a NaN as 0 and nothing as missing (every split's missing_type None), which
    overrides zero_as_missing=True (refused by name before, though the trees are the same). On rows holding 0.0
    and NaN the file answers as LightGBM, and a file sending NaN down the other branches fails validate."""
    X, y = _zeros_and_nan(kind)
    make = lightgbm.LGBMClassifier if kind == "classifier" else lightgbm.LGBMRegressor
    model = make(n_estimators=30, verbose=-1, n_jobs=1, use_missing=False, zero_as_missing=zero_as_missing).fit(X, y)
    rows = X.astype(dtype)
    conv = og.convert(model, rows[:5])
    report = og.validate(conv, target="container", reference=model, data=rows)
    assert report.passed, str(report)
    got, want = _run(conv, rows), _lightgbm_answers(model, rows)
    if kind == "classifier":
        assert (got[0] == want[0]).all()
    np.testing.assert_allclose(got[-1], want[-1], atol=1e-4 if kind == "regressor" else 1e-5)
    # the rows exercise the NaN branches: sent the other way, the file answers otherwise and validate says so
    for node in conv.model.graph.node:
        for attr in node.attribute:
            if attr.name == "nodes_missing_value_tracks_true":
                attr.ints[:] = [1 - v for v in attr.ints]
    assert not og.validate(conv, target="container", reference=model, data=rows).passed


def test_a_lightgbm_zero_as_missing_file_written_by_onnxmltools_fails_validate_on_rows_holding_zeros() -> None:
    """zero_as_missing=True is refused at convert; a file converted by onnxmltools itself reads 0 as a number
    (39 of 569 labels flipped, measured), and validate on rows holding zeros fails it."""
    from onnxmltools import convert_lightgbm
    from onnxmltools.convert.common.data_types import FloatTensorType

    X, y = _data("breast_cancer")
    X[np.random.default_rng(0).random(X.shape) < 0.2] = 0.0
    model = lightgbm.LGBMClassifier(n_estimators=30, verbose=-1, n_jobs=1, zero_as_missing=True).fit(X, y)
    with pytest.raises(og.UnsupportedModelError, match=r"zero_as_missing=True: .*Train with zero_as_missing=False"):
        og.convert(model, X[:5])
    proto = convert_lightgbm(model, initial_types=[("input", FloatTensorType([None, X.shape[1]]))], zipmap=False,
                             target_opset=15)
    report = og.validate(proto, reference=model, data=X)  # target onnxruntime: onnxmltools' [1] label shape passes
    assert [c.name for c in report.checks if not c.passed] == ["prediction_parity"], str(report)


# --- XGBoost integer categories not seen in training ---------------------------------------------------------------


def _months_model() -> tuple[Any, Any]:
    import pandas as pd

    rng = np.random.default_rng(0)
    month = rng.choice([10, 20, 30, 40], 600)
    x = rng.normal(size=600)
    frame = pd.DataFrame({"month": pd.Categorical(month), "x": x})
    y = (np.isin(month, [20, 40]) ^ (x > 0.5)).astype(int)
    model = xgboost.XGBClassifier(n_estimators=20, max_depth=3, n_jobs=1, enable_categorical=True).fit(frame, y)
    return model, frame


def test_xgboost_integer_categories_known_or_missing_score_as_xgboost_in_any_category_order() -> None:
    """A category column whose dtype lists the categories in another order, or holds a missing value: XGBoost reads
    each by value (3.1+ re-codes the frame), and so do the file's feeds."""
    import pandas as pd

    model, frame = _months_model()
    conv = og.convert(model, frame.head())
    rows = pd.DataFrame({"month": pd.Categorical([10, 20, 30, 40, None, 40], categories=[40, 30, 20, 10]),
                         "x": [0.0, 0.0, 1.0, 1.0, 0.0, -1.0]})
    want = model.predict_proba(rows)
    assert len(set(model.predict(rows))) == 2
    np.testing.assert_allclose(_run(conv, rows)[1], want, atol=1e-6)
    report = og.validate(conv, target="container", reference=model, data=rows)
    assert report.passed, str(report)


def test_an_xgboost_integer_category_unseen_in_training_is_refused_as_xgboost_refuses_it() -> None:
    """XGBoost raises on a category it was not fitted on ("Found a category not in the training set"); validate
    and the file's feeds refuse it too, naming the column, the categories and the value, rather than score it as
    a missing value or as another category's code."""
    import pandas as pd

    model, frame = _months_model()
    conv = og.convert(model, frame.head())
    rows = pd.DataFrame({"month": pd.Categorical([10, 50, 20]), "x": [0.0, 0.0, 0.0]})
    with pytest.raises(xgboost.core.XGBoostError, match="not in the training set"):
        model.predict_proba(rows)
    refused = r"column 'month' holds 1 value\(s\) that are none of the model's categories \[10, 20, 30, 40\] .*50"
    with pytest.raises(og.InvalidDataError, match=refused):
        og.validate(conv, target="container", reference=model, data=rows)
    with pytest.raises(og.InvalidDataError, match=refused):
        as_feeds(rows, conv.signature)


# --- settings found by an outside-style audit (helper-391) -------------------------------------------------


@pytest.mark.parametrize("how", ["alone", "pipeline", "file"])
def test_an_xgboost_multi_output_tree_model_is_refused_naming_the_setting(how: str, tmp_path: Path) -> None:
    """Vector-leaf trees: the refusal was XGBoost's own C++ check passed through ('onnxmltools could not convert
    XGBClassifier: [21:33:09] /workspace/src/tree/tree_model.cc:779: Check failed: !with_stats ...')."""
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X, y = _data("iris")
    model = xgboost.XGBClassifier(multi_strategy="multi_output_tree", tree_method="hist", n_estimators=2,
                                  max_depth=2, n_jobs=1)
    subject: Any = model
    if how == "pipeline":
        subject = make_pipeline(StandardScaler(), model)
    subject.fit(X, y)
    if how == "file":
        model.save_model(tmp_path / "m.json")
        subject = xgboost.Booster(model_file=str(tmp_path / "m.json"))
    refusal = r"multi_strategy='multi_output_tree'.*one_output_per_tree"
    with pytest.raises(og.UnsupportedModelError, match=refusal) as err:
        og.convert(subject, X[:5])
    assert "tree_model.cc" not in str(err.value)


def test_a_lightgbm_text_label_classifier_of_float32_rows_converts_validates_and_runs_for_sql_edge() -> None:
    """An opset-8 file (float32 rows) is IR 3 for sql-edge-2.0, whose initializers are graph inputs: the rewrite's
    constants were not, and convert failed ('adapting the model for PREDICT produced a graph the ONNX checker
    rejects: one in initializer but not in graph input. Please report this with the model')."""
    X, y = _data("iris")
    labels = np.array(["setosa", "versicolor", "virginica"])[y]
    model = lightgbm.LGBMClassifier(n_estimators=3, num_leaves=4, verbose=-1, n_jobs=1).fit(X, labels)
    conv = og.convert(model, X[:5], target="sql-edge-2.0")
    assert [i.name for i in conv.signature.inputs] == ["f0", "f1", "f2", "f3"]  # no constant to feed
    report = og.validate(conv, target="sql-edge-2.0", reference=model, data=X)
    assert report.passed, str(report)
    out = dict(zip(conv.signature.output_names, _run(conv, X)))
    proba = model.predict_proba(X)
    for k, name in enumerate(["setosa", "versicolor", "virginica"]):
        np.testing.assert_allclose(out[f"p_{name}"].ravel(), proba[:, k], atol=1e-5)
