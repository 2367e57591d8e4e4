"""CatBoost fitted with ``cat_features``: converted from its JSON export (CatBoost's ONNX export refuses
such models), each categorical column an input of its own type mapped to the CTR values and one-hot codes
the trees split on; parity with CatBoost's own predictions on the training rows, unseen categories and
missing floats; validate catches a wrong mapping; what cannot be reproduced is refused by name."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import onnxgate as og
from onnxgate._data import as_feeds

catboost = pytest.importorskip("catboost")
pd = pytest.importorskip("pandas")

CAT = ["band", "grade", "two"]
#: Small and quiet; CTRs of single features (the combinations are refused, tested below).
PARAMS: dict[str, Any] = {"iterations": 40, "depth": 4, "verbose": 0, "allow_writing_files": False,
                          "thread_count": 1, "max_ctr_complexity": 1, "cat_features": CAT}


def _frame(dataset: str) -> tuple[Any, np.ndarray]:
    """Two measured columns, a text category (a strong column binned into 8 named bands, out of value order),
    an integer category (another column binned into grades 0, 7, ...) and a two-valued text column (one-hot)."""
    from sklearn import datasets

    data = getattr(datasets, f"load_{dataset}")(as_frame=True)
    strong, other, keep = {"breast_cancer": ("worst concave points", "mean smoothness",
                                             ["mean radius", "mean texture"]),
                           "wine": ("flavanoids", "proline", ["alcohol", "hue"]),
                           "diabetes": ("bmi", "s5", ["age", "bp"])}[dataset]
    rng = np.random.default_rng(1)
    frame = data.data[keep].copy()
    names = [f"band {c}" for c in rng.permutation(list("abcdefgh"))]
    frame.insert(1, "band", pd.cut(data.data[strong], len(names), labels=names).astype(str))
    frame["grade"] = pd.cut(data.data[other], 5, labels=False).astype(np.int64) * 7
    frame["two"] = np.where((data.data[other] > data.data[other].median()) ^ (rng.random(len(frame)) > 0.8), "hi", "lo")
    return frame, data.target.to_numpy()


def _unseen(frame: Any) -> Any:
    """The rows with categories the model never saw, and a missing float, in some of them."""
    out = frame.copy()
    rows = np.arange(len(out))
    out["band"] = np.where(rows % 3 == 0, "band z", out["band"])
    out["grade"] = np.where(rows % 4 == 0, 99, out["grade"])
    out["two"] = np.where(rows % 5 == 0, "neither", out["two"])
    out.iloc[::7, 0] = np.nan
    return out


def _splits(model: Any, frame: Any, tmp_path: Path) -> set[str]:
    path = tmp_path / "model.json"
    model.save_model(str(path), format="json", pool=catboost.Pool(frame, cat_features=CAT))
    trees = json.loads(path.read_text())["oblivious_trees"]
    return {s["split_type"] for t in trees for s in t.get("splits") or []}


def _run(conv: og.Conversion, frame: Any) -> list[np.ndarray]:
    import onnxruntime as ort

    session = ort.InferenceSession(conv.model.SerializeToString(), providers=["CPUExecutionProvider"])
    return session.run(None, as_feeds(frame, conv.signature))


CASES = {
    "binary": ("breast_cancer", "classifier", {}),
    "binary-text-labels": ("breast_cancer", "classifier", {"boost_from_average": True}),
    "multiclass": ("wine", "classifier", {}),
    "multiclass-buckets-counter": ("wine", "classifier", {"simple_ctr": ["Buckets", "Borders", "Counter"]}),
    "regressor": ("diabetes", "regressor", {}),
    # a Counter with a prior: an unseen category gets Calc(0, denominator), not Calc(0, 0) (static_ctr_provider.cpp)
    "regressor-counter-mean": ("diabetes", "regressor",
                               {"simple_ctr": ["Counter:Prior=0.5/1", "BinarizedTargetMeanValue"]}),
    "one-hot-only": ("wine", "classifier", {"one_hot_max_size": 255}),
}


@pytest.mark.filterwarnings("ignore")
@pytest.mark.parametrize("case", list(CASES))
def test_a_catboost_model_with_categorical_features_matches_catboost(case: str, tmp_path: Path) -> None:
    dataset, kind, extra = CASES[case]
    frame, y = _frame(dataset)
    if case == "binary-text-labels":
        y = np.where(y == 1, "benign", "malignant")
    klass = catboost.CatBoostClassifier if kind == "classifier" else catboost.CatBoostRegressor
    model = klass(**{**PARAMS, **extra}).fit(frame, y)
    wanted = {"OneHotFeature"} if case == "one-hot-only" else {"OnlineCtr"}
    assert wanted <= _splits(model, frame, tmp_path)  # the trees do split on the categories
    conv = og.convert(model, frame)
    assert [s.elem_type for s in conv.signature.inputs][1:] == ["string", "float64", "int64", "string"]
    for rows in (frame, _unseen(frame)):
        outputs = _run(conv, rows)
        if kind == "classifier":
            assert outputs[0].tolist() == model.predict(rows).reshape(-1).tolist()
            np.testing.assert_allclose(outputs[1], model.predict_proba(rows), rtol=0, atol=1e-6)
        else:
            raw = model.predict(rows, prediction_type="RawFormulaVal")
            # float32 output: within a float32 step of CatBoost's double (values up to ~300)
            np.testing.assert_allclose(outputs[0].reshape(-1), raw, rtol=1e-6, atol=1e-6)
    assert og.validate(conv, reference=model, data=_unseen(frame))


def test_a_float_feature_missing_in_training_takes_catboosts_side_of_each_split() -> None:
    # nan_mode="Max": CatBoost sends NaN past every border (AsTrue), "Min" below every one
    frame, y = _frame("breast_cancer")
    frame.iloc[::5, 0] = np.nan
    for mode in ("Max", "Min"):
        model = catboost.CatBoostClassifier(**PARAMS, nan_mode=mode).fit(frame, y)
        outputs = _run(og.convert(model, frame), frame)
        np.testing.assert_allclose(outputs[1], model.predict_proba(frame), rtol=0, atol=1e-6)


def test_validate_fails_a_file_whose_categories_map_elsewhere(tmp_path: Path) -> None:
    frame, y = _frame("breast_cancer")
    model = catboost.CatBoostClassifier(**PARAMS).fit(frame, y)
    conv = og.convert(model, frame)
    assert og.validate(conv, reference=model, data=frame)
    for node in conv.model.graph.node:
        if node.op_type == "LabelEncoder" and "ctr" in node.output[0]:
            values = next(a for a in node.attribute if a.name == "values_floats")
            values.floats[:] = list(reversed(values.floats))  # each band given another band's CTR
    report = og.validate(conv, reference=model, data=frame)
    assert not report
    assert "prediction_parity" in str(report)


@pytest.mark.parametrize(("params", "sample", "error", "match"), [
    ({"max_ctr_complexity": 3}, "frame", og.UnsupportedModelError,
     r"CTR over the combination \[.*\].*max_ctr_complexity=1.*one_hot_max_size=255"),
    ({}, "head", og.InvalidDataError,
     r"does not hold every category the model's trees read \('band' lacks \d, 'grade' lacks \d, 'two' lacks 1\).*"
     r"convert\(model, X_train\)"),
    ({}, "array", og.InvalidDataError, r"reads categorical features \(\['band', 'grade', 'two'\]\).*DataFrame sample"),
    # was KeyError: 'oblivious_trees' (the CLI: "unexpected KeyError ... please report it")
    ({"grow_policy": "Depthwise"}, "frame", og.UnsupportedModelError,
     r"not symmetric \(grow_policy='Depthwise'\).*grow_policy='SymmetricTree'"),
    ({"grow_policy": "Lossguide"}, "frame", og.UnsupportedModelError, r"not symmetric \(grow_policy='Lossguide'\)"),
], ids=["combination", "sample-without-every-category", "array-sample", "depthwise", "lossguide"])
def test_what_cannot_be_converted_exactly_is_refused_with_the_fix(params: dict[str, Any], sample: str,
                                                                  error: type[Exception], match: str) -> None:
    frame, y = _frame("breast_cancer")
    model = catboost.CatBoostClassifier(**{**PARAMS, **params}).fit(frame, y)
    given = {"frame": frame, "head": frame.head(3), "array": frame.to_numpy()}[sample]
    with pytest.raises(error, match=match):
        og.convert(model, given)


def test_opsets_the_graph_can_be_written_at_and_the_one_it_cannot() -> None:
    frame, y = _frame("wine")
    model = catboost.CatBoostClassifier(**PARAMS).fit(frame, y)
    for opset, ml in ((11, 2), (21, 3)):  # TreeEnsembleRegressor is deprecated at ai.onnx.ml 5: written at 3
        conv = og.convert(model, frame, opset=opset)
        assert conv.opsets == {"": opset, "ai.onnx.ml": ml}
        assert _run(conv, frame)[0].tolist() == model.predict(frame).reshape(-1).tolist()
    with pytest.raises(og.OpsetError, match=r"LabelEncoders with float values, which need ai.onnx.ml opset 2.*11"):
        og.convert(model, frame, opset=9)


@pytest.mark.parametrize("threshold", [0.2, 0.9, 0.0])
def test_a_binary_classifier_labels_by_its_probability_threshold(threshold: float, tmp_path: Path) -> None:
    # set_probability_threshold moves predict's class (kept in the .cbm); the file answered by 0.5: at 0.2, 13
    # of 569 breast-cancer labels differed, convert silent
    frame, y = _frame("breast_cancer")
    model = catboost.CatBoostClassifier(**PARAMS).fit(frame, y)
    model.set_probability_threshold(threshold)
    model.save_model(str(tmp_path / "model.cbm"))
    loaded = catboost.CatBoost().load_model(str(tmp_path / "model.cbm"))
    for native in (model, loaded):
        conv = og.convert(native, frame)
        for rows in (frame, _unseen(frame)):
            expected = native.predict(rows, prediction_type="Class").reshape(-1)
            assert _run(conv, rows)[0].tolist() == expected.tolist()
        assert og.validate(conv, reference=native, data=frame)


def test_a_csv_sample_that_read_text_codes_as_numbers_is_refused_naming_the_csv(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    # text codes '007' and '7' are two categories; the CSV reader made both the number 7, and the refusal only
    # said the sample lacked categories (of the very training file); Parquet keeps the text and converts
    from onnxgate.cli import main

    monkeypatch.chdir(tmp_path)
    frame, y = _frame("breast_cancer")
    codes = dict(zip(sorted(set(frame["band"])), ["007", "7", "12", "012", "3", "0003", "44", "044"]))
    frame["band"] = frame["band"].map(codes)
    catboost.CatBoostClassifier(**PARAMS).fit(frame, y).save_model("model.cbm")
    frame.to_csv("train.csv", index=False)
    frame.to_parquet("train.parquet", index=False)
    assert main(["convert", "model.cbm", "--sample", "train.csv", "-o", "model.onnx"]) == 2
    err = capsys.readouterr().err
    assert "'band' lacks" in err and "CSV reader" in err and "dtype={'band': str}" in err and "Parquet" in err
    assert main(["convert", "model.cbm", "--sample", "train.parquet", "-o", "model.onnx"]) == 0
    assert main(["validate", "model.onnx", "--reference", "model.cbm", "--data", "train.parquet"]) == 0


@pytest.mark.parametrize(("dataset", "scale", "bias"), [("diabetes", 2.0, 5.0), ("breast_cancer", -0.5, 0.4),
                                                          ("wine", 0.6, [0.5, -1.0, 2.0])])
def test_a_scaled_model_with_categorical_features_converts(dataset: str, scale: float, bias: Any) -> None:
    # set_scale_and_bias(scale != 1): refused as CatBoost's ONNX export refuses it, though the graph built for
    # categories is onnxgate's own: its leaves are scaled
    frame, y = _frame(dataset)
    klass = catboost.CatBoostRegressor if dataset == "diabetes" else catboost.CatBoostClassifier
    model = klass(**PARAMS).fit(frame, y)
    model.set_scale_and_bias(scale, bias)
    conv = og.convert(model, frame)
    rows = _unseen(frame)
    outputs = _run(conv, rows)
    if dataset == "diabetes":
        np.testing.assert_allclose(outputs[0].reshape(-1), model.predict(rows), rtol=1e-6, atol=1e-4)
    else:
        assert outputs[0].tolist() == model.predict(rows).reshape(-1).tolist()
        np.testing.assert_allclose(outputs[1], model.predict_proba(rows), rtol=0, atol=1e-6)
    assert og.validate(conv, reference=model, data=rows)


def test_a_model_with_text_features_is_refused_naming_them() -> None:
    # was InvalidDataError "CatBoost could not read the sample ... Cannot convert 'bad cells seen here' to float"
    # (exit 2, as if the data were wrong): the export's pool read the text column as numbers
    frame, y = _frame("breast_cancer")
    frame["note"] = np.where(y == 1, "good looking cells today", "bad cells seen here")
    model = catboost.CatBoostClassifier(**PARAMS, text_features=["note"]).fit(frame, y)
    with pytest.raises(og.UnsupportedModelError, match=r"text or embedding features \(text_features=.*"):
        og.convert(model, frame)


def test_an_integer_category_given_as_text_that_is_not_its_plain_form_is_refused() -> None:
    # CatBoost hashes the text '07' as a category of its own (7 is another); the feed read '07' as 7 for the
    # file and the reference alike, and validate passed while the model, given '07', differed on 2 of 569
    # labels (helper-140)
    frame, y = _frame("breast_cancer")
    model = catboost.CatBoostClassifier(**PARAMS).fit(frame, y)
    conv = og.convert(model, frame)
    padded = frame.assign(grade=frame["grade"].map("{:02d}".format))
    assert (model.predict(padded).ravel().astype(int) != model.predict(frame).ravel().astype(int)).any()
    with pytest.raises(og.InvalidDataError, match=r"holds the text '0\d' for the int64 input 'grade'"):
        og.validate(conv, reference=model, data=padded)
    plain = frame.assign(grade=frame["grade"].astype(str))  # the integers' plain text: read as them
    assert og.validate(conv, reference=model, data=plain).passed


@pytest.mark.parametrize("text", [" {}", "{} "], ids=["leading space", "trailing space"])
def test_an_integer_category_given_as_text_with_spaces_is_refused(text: str) -> None:
    # CatBoost hashes ' 7' as a category other than 7 (an unseen one); the feed read past the space for the file
    # and the reference alike, and validate passed while the model, given ' 7', differed (helper-145)
    frame, y = _frame("breast_cancer")
    model = catboost.CatBoostClassifier(**PARAMS).fit(frame, y)
    conv = og.convert(model, frame)
    spaced = frame.assign(grade=frame["grade"].map(text.format))
    differ = int((model.predict(spaced).ravel().astype(int) != model.predict(frame).ravel().astype(int)).sum())
    assert differ > 0
    with pytest.raises(og.InvalidDataError, match=r"holds the text ' ?\d+ ?' for the int64 input 'grade'"):
        og.validate(conv, reference=model, data=spaced)
    assert og.validate(conv, reference=model, data=frame.assign(grade=frame["grade"].astype(str))).passed


@pytest.mark.parametrize("steps", ["column transformer", "alone in a pipeline"])
def test_catboost_categories_inside_a_pipeline_are_refused_naming_the_cause(steps: str) -> None:
    # skl2onnx hands a pipeline's step one matrix: refused by skl2onnx's type check ("got an input
    # transformed_column with a wrong type StringTensorType...") or as text to encode, naming neither CatBoost's
    # categories nor the way out (helper-145)
    from sklearn.compose import ColumnTransformer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    frame, y = _frame("breast_cancer")
    params = {**PARAMS, "iterations": 5}
    if steps == "column transformer":
        numbers = [c for c in frame.columns if c not in CAT]
        before = [("ct", ColumnTransformer([("keep", "passthrough", CAT), ("scale", StandardScaler(), numbers)]))]
        params["cat_features"] = [0, 1, 2]
    else:
        before = []
    pipe = Pipeline([*before, ("cb", catboost.CatBoostClassifier(**params))]).fit(frame, y)
    with pytest.raises(og.UnsupportedModelError,
                       match=r"CatBoostClassifier inside a scikit-learn pipeline reads categorical features .*"
                             r"convert it alone: og\.convert\(model, X_train\)"):
        og.convert(pipe, frame.head())


def _converts_as_catboost_answers(model: Any, rows: Any) -> None:
    """The model converted from ``rows`` answers them as CatBoost does (labels exactly, probabilities within
    1e-5), and validate passes."""
    conv = og.convert(model, rows)
    label, proba = _run(conv, rows)
    assert int((label != model.predict(rows).ravel()).sum()) == 0
    np.testing.assert_allclose(proba, model.predict_proba(rows), atol=1e-5)
    assert og.validate(conv, reference=model, data=rows).passed


@pytest.mark.parametrize("one_hot_max_size", [2, 1], ids=["one-hot", "ctr"])
def test_a_boolean_category_converts_as_catboost_reads_it(one_hot_max_size: int) -> None:
    # a bool cat_feature was refused ("neither all text nor all integers"); CatBoost reads True as the category
    # 1 (its hash of '1'; the text 'True' is an unseen category), which the file now does (helper-145)
    frame, y = _frame("breast_cancer")
    frame = frame.assign(two=frame["two"] == frame["two"].iloc[0])
    model = catboost.CatBoostClassifier(**{**PARAMS, "one_hot_max_size": one_hot_max_size}).fit(frame, y)
    _converts_as_catboost_answers(model, frame)


@pytest.mark.parametrize("fitted_on", ["array", "numbered frame"])
def test_categories_of_a_model_fitted_without_column_names_convert_by_position(fitted_on: str) -> None:
    # fitted on an array (or a frame of numbered columns), CatBoost names the features '0', '1'...: the model was
    # refused ("Fit the model on a DataFrame"), though an array of its columns holds every category (helper-145)
    frame, y = _frame("breast_cancer")
    rows = frame.to_numpy(dtype=object) if fitted_on == "array" else frame.set_axis(range(frame.shape[1]), axis=1)
    positions = [list(frame.columns).index(c) for c in CAT]
    model = catboost.CatBoostClassifier(**{**PARAMS, "cat_features": positions}).fit(rows, y)
    _converts_as_catboost_answers(model, rows)
