"""A ``OneHotEncoder`` over pandas ``category`` text columns in a ``ColumnTransformer`` (named, or picked with
``make_column_selector(dtype_include="category")``) for SQL Edge, which takes no text: each such column is an int32
input of its codes among the encoder's categories (``categories_``, in its order, recorded in the file), mapped from
a category column by value by validate, the package and the DuckDB dry run. The file sets the one-hot column of
the code's category; a missing value (code -1) and an unseen one read as the encoder reads them (all zeros with
``handle_unknown='ignore'``, the column of a missing category it learnt), and a file that maps a code to another
column fails validate. It was refused ("the model reads string values ... Encode it as numbers before
training"), though it converted and validated for a container."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from _tampering import category_records_edited

import onnxgate as og

pd = pytest.importorskip("pandas")
pytest.importorskip("duckdb")

TARGET = "sql-edge-2.0"
COLOURS = ["red", "green", "blue", "amber"]  # the frame's order; the encoder's is sorted


def _frame(missing: bool = False) -> tuple[Any, np.ndarray]:
    """Two category columns whose categories are out of the encoder's (sorted) order, so the frame's .cat.codes
    are not the model's codes, and a number column; the label depends on the colour, so each colour's one-hot
    column moves the probabilities. With ``missing``, every 7th colour is missing when the encoder is fitted."""
    rng = np.random.default_rng(3)
    n = 400
    colour = rng.choice(COLOURS, n).astype(object)
    if missing:
        colour[::7] = None
    frame = pd.DataFrame({"x": rng.normal(size=n),
                          "colour": pd.Categorical(colour, categories=COLOURS),
                          "size": pd.Categorical(rng.choice(["S", "M", "L"], n), categories=["S", "M", "L"])})
    weight = frame["colour"].map({"red": 2.0, "green": -1.0, "blue": 0.5, "amber": -2.0}).astype(float).fillna(1.5)
    y = (weight + frame["x"] + rng.normal(scale=0.3, size=n) > 0).astype(int).to_numpy()
    return frame, y


def _pipeline(frame: Any, y: np.ndarray, selector: bool, **encoder: Any) -> Any:
    from sklearn.compose import ColumnTransformer, make_column_selector
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder

    columns = make_column_selector(dtype_include="category") if selector else ["colour", "size"]
    transformer = ColumnTransformer([("oh", OneHotEncoder(**encoder), columns), ("num", "passthrough", ["x"])])
    return make_pipeline(transformer, LogisticRegression()).fit(frame, y)


def _with_unseen_and_missing(frame: Any, missing: bool = True, unseen: bool = True) -> Any:
    """``frame`` with rows 0-5 missing their colour and rows 6-11 a colour the model never saw."""
    rows = frame.copy()
    rows["colour"] = rows["colour"].cat.add_categories("violet")
    if missing:
        rows.iloc[:6, 1] = np.nan
    if unseen:
        rows.iloc[6:12, 1] = "violet"
    return rows


def _dry_run_matches(conv: og.Conversion, model: Any, rows: Any, out: Path, **package: Any) -> None:
    """Package for SQL Edge, run the DuckDB dry run on ``rows`` and compare its table with the model's answers."""
    from onnxgate.deploy.duckdb_dryrun import dry_run

    og.package(conv, target=TARGET, out=out, reference=model, data=rows, **package)
    result = dry_run(out, rows, reference=model)
    assert result.passed, str(result)
    table = result.result
    assert np.array_equal(table.column("label").to_numpy(), model.predict(rows))
    found = np.stack([table.column(f"p_{k}").to_numpy() for k in range(2)], axis=1)
    np.testing.assert_allclose(found, model.predict_proba(rows), atol=1e-5)


@pytest.mark.parametrize("selector", [False, True], ids=["named columns", "make_column_selector"])
@pytest.mark.parametrize("encoder", [{"handle_unknown": "ignore"}, {"handle_unknown": "ignore", "drop": "first"},
                                     {"handle_unknown": "infrequent_if_exist", "min_frequency": 100}],
                         ids=["ignore", "drop first", "infrequent"])
def test_a_one_hot_encoded_category_column_for_sql_edge_is_its_codes(selector: bool, encoder: dict[str, Any],
                                                                     tmp_path: Path) -> None:
    """Convert, validate and the DuckDB dry run on rows holding a missing and an unseen colour: every answer is
    the pipeline's, an unseen and a missing colour alike read as the encoder reads an unknown category."""
    frame, y = _frame()
    model = _pipeline(frame, y, selector, **encoder)
    rows = _with_unseen_and_missing(frame)
    conv = og.convert(model, frame.head(20), target=TARGET)
    colour = conv.signature.input("colour")
    assert (colour.elem_type, colour.codes, colour.unseen_missing) == (
        "int32", ((0, tuple(sorted(COLOURS))),), True)
    assert conv.signature.input("size").codes == ((0, ("L", "M", "S")),)
    report = og.validate(conv, target=TARGET, reference=model, data=rows)
    assert report.passed, str(report)
    _dry_run_matches(conv, model, rows, tmp_path / "p")


def test_a_missing_category_the_encoder_learnt_is_the_code_minus_one(tmp_path: Path) -> None:
    """Fitted on a colour column with gaps, the encoder has a column for a missing colour: pandas' code -1 sets
    it, as scikit-learn's NaN does; an unseen colour (all zeros for scikit-learn) is refused, not scored as
    missing, and a code outside the categories in a table reads as scikit-learn reads an unknown colour."""
    import onnxruntime as ort

    frame, y = _frame(missing=True)
    model = _pipeline(frame, y, True, handle_unknown="ignore")
    conv = og.convert(model, frame.head(20), target=TARGET)
    colour = conv.signature.input("colour")
    assert (colour.codes, colour.unseen_missing) == (((0, tuple(sorted(COLOURS))),), False)
    rows = _with_unseen_and_missing(frame, unseen=False)
    assert og.validate(conv, target=TARGET, reference=model, data=rows).passed
    _dry_run_matches(conv, model, rows, tmp_path / "p")
    with pytest.raises(og.InvalidDataError, match=r"'colour'.*none of the model's categories.*'violet'"):
        og.validate(conv, target=TARGET, reference=model, data=_with_unseen_and_missing(frame, missing=False))
    session = ort.InferenceSession(conv.model.SerializeToString(), providers=["CPUExecutionProvider"])
    three = frame.head(3)
    unknown = three.assign(colour=pd.Categorical(["violet"] * 3))  # scikit-learn: all zeros, not the missing column
    feeds = {"x": three[["x"]].to_numpy(), "colour": np.array([[7], [4], [-5]], np.int32),
             "size": np.array([[["L", "M", "S"].index(v)] for v in three["size"]], np.int32)}
    np.testing.assert_allclose(session.run(["p_1"], feeds)[0].ravel(), model.predict_proba(unknown)[:, 1],
                               atol=1e-5)
    missing = three.assign(colour=pd.Categorical([None] * 3, categories=COLOURS))
    feeds["colour"] = np.full((3, 1), -1, np.int32)
    np.testing.assert_allclose(session.run(["p_1"], feeds)[0].ravel(), model.predict_proba(missing)[:, 1],
                               atol=1e-5)
    assert not np.allclose(model.predict_proba(unknown)[:, 1], model.predict_proba(missing)[:, 1], atol=1e-3)


def test_an_encoder_that_raises_on_an_unknown_category_raises_on_an_unknown_code() -> None:
    """handle_unknown='error': the rows it scores pass for SQL Edge; an unseen colour is refused before scoring,
    and a code outside the categories (or -1) in a table makes onnxruntime raise, as scikit-learn raises on it."""
    import onnxruntime as ort

    frame, y = _frame()
    model = _pipeline(frame, y, False)
    conv = og.convert(model, frame.head(20), target=TARGET)
    assert og.validate(conv, target=TARGET, reference=model, data=frame).passed
    assert conv.signature.input("colour").unseen_missing is False
    with pytest.raises(og.InvalidDataError, match=r"'colour'.*refuses a category it was not fitted on") as said:
        og.validate(conv, target=TARGET, reference=model, data=_with_unseen_and_missing(frame, missing=False))
    # a null is no way out: the code -1 makes onnxruntime raise as an unknown category does (below)
    assert "null for a missing value" not in str(said.value)
    assert "which a OneHotEncoder with handle_unknown='error' fitted without missing values refuses too" \
        in str(said.value)
    session = ort.InferenceSession(conv.model.SerializeToString(), providers=["CPUExecutionProvider"])
    feeds = {"x": np.zeros((1, 1)), "size": np.zeros((1, 1), np.int32), "colour": np.array([[-1]], np.int32)}
    with pytest.raises(Exception, match="Unknown Category"):
        session.run(None, feeds)


def test_a_file_mapping_a_code_to_another_one_hot_column_fails_validate() -> None:
    """The codes of 'amber' and 'blue' swapped in the file's OneHotEncoder: parity fails on SQL Edge."""
    from onnx import helper

    frame, y = _frame()
    model = _pipeline(frame, y, False, handle_unknown="ignore")
    conv = og.convert(model, frame.head(20), target=TARGET)
    tampered = type(conv.model)()
    tampered.CopyFrom(conv.model)
    node = next(n for n in tampered.graph.node if n.op_type == "OneHotEncoder"
                and any(a.name == "cats_int64s" and len(a.ints) == len(COLOURS) for a in n.attribute))
    attr = next(a for a in node.attribute if a.name == "cats_int64s")
    assert list(attr.ints) == [0, 1, 2, 3]
    attr.CopyFrom(helper.make_attribute("cats_int64s", [1, 0, 2, 3]))
    report = og.validate(tampered, target=TARGET, reference=model, data=frame)
    assert not report.passed
    assert not next(c for c in report.checks if c.name == "prediction_parity").passed
    assert og.validate(conv, target=TARGET, reference=model, data=frame).passed


def test_a_conversion_without_a_target_is_adapted_to_the_codes_for_sql_edge(tmp_path: Path) -> None:
    frame, y = _frame()
    model = _pipeline(frame, y, True, handle_unknown="ignore")
    rows = _with_unseen_and_missing(frame)
    conv = og.convert(model, frame.head(20))
    assert conv.signature.input("colour").elem_type == "string"
    assert og.adapt(conv, TARGET).signature.input("colour").elem_type == "int32"
    _dry_run_matches(conv, model, rows, tmp_path / "p", adapt=True)


def test_convert_says_when_the_samples_categories_are_not_the_encoders() -> None:
    """A colour column re-cast after fitting (green dropped, violet added): its .cat.codes are not the model's,
    and convert names the categories on each side and the model's order, rather than scoring a guess."""
    frame, y = _frame()
    model = _pipeline(frame, y, False, handle_unknown="ignore")
    sample = frame.head(20).copy()
    sample["colour"] = sample["colour"].astype(str).replace("green", "red").astype(
        pd.CategoricalDtype(["amber", "blue", "red", "violet"]))
    said = next(w for w in og.convert(model, sample, target=TARGET).warnings if "take their codes" in w)
    assert "other categories than the model was fitted on" in said
    assert "{'colour': {'sample only': ['violet'], 'model only': ['green']}}" in said
    assert "{'colour': ['amber', 'blue', 'green', 'red']}" in said
    said = next(w for w in og.convert(model, frame.head(20), target=TARGET).warnings if "take their codes" in w)
    assert "other categories" not in said


def test_a_file_whose_recorded_codes_swap_two_categories_fails_validate() -> None:
    """The file's record of the codes (onnxgate.category_codes: the categories in code order, by which validate,
    score and the dry run write a table's codes) with 'amber' and 'blue' swapped: every amber row is scored as
    blue. Parity read the codes back into categories by the copy of them written when the file was adapted, so
    the reference got the category the file scored, not the row's, and it passed."""
    import json

    frame, y = _frame()
    model = _pipeline(frame, y, False, handle_unknown="ignore")
    conv = og.convert(model, frame.head(20), target=TARGET)
    tampered = type(conv.model)()
    tampered.CopyFrom(conv.model)
    prop = next(p for p in tampered.metadata_props if p.key == "onnxgate.category_codes")
    codes = json.loads(prop.value)
    assert codes["colour"] == [[0, ["amber", "blue", "green", "red"]]]
    codes["colour"] = [[0, ["blue", "amber", "green", "red"]]]
    prop.value = json.dumps(codes)
    report = og.validate(tampered, target=TARGET, reference=model, data=frame)
    assert not next(c for c in report.checks if c.name == "prediction_parity").passed, str(report)
    assert og.validate(conv, target=TARGET, reference=model, data=frame).passed


def _numeric_text_model() -> tuple[Any, Any]:
    """A OneHotEncoder fitted on a text column whose categories look like numbers ('1', '01', '2', '10'), each
    moving the label its own way, and the frame (the column as text) it was fitted on."""
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder

    rng = np.random.default_rng(0)
    n = 300
    frame = pd.DataFrame({"x": rng.normal(size=n), "code": rng.choice(["1", "01", "2", "10"], n).astype(object)})
    y = (frame["code"].map({"1": 2.0, "01": -1.0, "2": 1.5, "10": -2.0}) + frame["x"] > 0).astype(int)
    model = make_pipeline(ColumnTransformer([("oh", OneHotEncoder(handle_unknown="ignore"), ["code"]),
                                             ("num", "passthrough", ["x"])]), LogisticRegression()).fit(frame, y)
    return model, frame


def test_numbers_for_categories_that_look_like_numbers_are_refused_as_ambiguous(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """A CSV of the rows, without category '10': its cells 1, 01, 2 are read as the integers 1, 1, 2, which were
    taken as codes (code 2 is category '10'), and the reference given the categories of those codes, so validate
    and the dry run passed while every '2' row was scored as '10'. validate, score and sql-dryrun now refuse the
    column (exit 2), naming the categories that look like numbers and how to give the column as text; the same
    rows as text pass, and a number column for categories that look like no number stays codes."""
    import joblib

    from onnxgate.cli import main

    monkeypatch.chdir(tmp_path)
    model, frame = _numeric_text_model()
    rows = frame[frame["code"] != "10"].reset_index(drop=True)
    rows.to_csv("rows.csv", index=False)
    assert pd.read_csv("rows.csv")["code"].dtype.kind == "i"
    pd.read_csv("rows.csv").to_parquet("numbers.parquet")
    # a float32 sample: the reference is given the user's float64 rows, the dry run's text column mapped to codes
    conv = og.convert(model, frame.head(20).astype({"x": "float32"}), target=TARGET)
    assert conv.signature.input("code").codes == ((0, ("01", "1", "10", "2")),)
    assert conv.signature.input("x").elem_type == "float32"
    conv.save("m.onnx")
    joblib.dump(model, "m.joblib")
    og.package(conv, target=TARGET, out=tmp_path / "p", reference=model, data=frame)
    capsys.readouterr()
    said = r"'code'.*\['01', '1', '10', '2'\] look like numbers.*could be codes.*or the categories.*as text"
    for argv in (["validate", "m.onnx", "-t", TARGET, "--reference", "m.joblib", "--trust-pickle",
                  "--data", "rows.csv"],
                 ["sql-dryrun", "p", "--data", "rows.csv", "--reference", "m.joblib", "--trust-pickle"],
                 ["score", "m.onnx", "--data", "numbers.parquet", "--out", "scored.parquet"]):
        assert main(argv) == 2, argv
        err = capsys.readouterr().err
        assert re.search(said, err, re.S), err
        assert "Traceback" not in err
    assert not Path("scored.parquet").exists()
    # the same rows read as text pass, and so do the codes given as such
    text = pd.read_csv("rows.csv", dtype={"code": str}, keep_default_na=False)
    assert og.validate(conv, target=TARGET, reference=model, data=text).passed
    codes = text.assign(code=pd.Categorical.from_codes(
        [["01", "1", "10", "2"].index(v) for v in text["code"]], categories=["01", "1", "10", "2"]))
    assert og.validate(conv, target=TARGET, reference=model, data=codes).passed
    _dry_run_matches(conv, model, text, tmp_path / "q")
    # categories that look like no number: a number column is their codes, as rows exported from the table
    frame2, y = _frame()
    model2 = _pipeline(frame2, y, False, handle_unknown="ignore")
    conv2 = og.convert(model2, frame2.head(20), target=TARGET)
    as_codes = frame2.assign(colour=frame2["colour"].map({c: i for i, c in enumerate(sorted(COLOURS))}).astype(int),
                             size=frame2["size"].map({"L": 0, "M": 1, "S": 2}).astype(int))
    assert og.validate(conv2, target=TARGET, reference=model2, data=as_codes).passed


def _record_edited(model: Any, column: str, categories: list[str]) -> Any:
    """A copy of ``model`` whose record of the codes of ``column`` (onnxgate.category_codes) is ``categories``."""
    import json

    edited = type(model)()
    edited.CopyFrom(model)
    prop = next(p for p in edited.metadata_props if p.key == "onnxgate.category_codes")
    codes = json.loads(prop.value)
    codes[column] = [[0, categories]]
    prop.value = json.dumps(codes)
    return edited


@pytest.mark.parametrize("record", [["amber", "blue", "green"], ["amber", "blue", "red", "green"]],
                         ids=["red dropped", "reordered"])
def test_a_record_of_codes_other_than_the_encoders_categories_fails_validate(record: list[str]) -> None:
    """The file's record of the codes with 'red' dropped: red rows are unknown to it (all zeros with
    handle_unknown='ignore'), the reference was given a missing value for them, which it scores as zeros too, and
    parity passed. Reordered, codes of 'green' and 'red' read as each other. validate fails, naming the categories
    on each side."""
    frame, y = _frame()
    model = _pipeline(frame, y, False, handle_unknown="ignore")
    conv = og.convert(model, frame.head(20), target=TARGET)
    report = og.validate(_record_edited(conv.model, "colour", record), target=TARGET, reference=model, data=frame)
    parity = next(c for c in report.checks if c.name == "prediction_parity")
    assert not parity.passed, str(report)
    assert "not the reference's" in parity.message and "'colour'" in parity.message
    assert "['amber', 'blue', 'green', 'red']" in parity.message
    assert ("reference only ['red']" in parity.message) == (len(record) == 3)
    assert og.validate(conv, target=TARGET, reference=model, data=frame).passed


@pytest.mark.parametrize("kind", ["lightgbm", "hist"])
def test_a_record_of_codes_dropping_a_boosters_category_fails_validate(kind: str) -> None:
    """The same for a booster reading a pandas category column (LightGBM, HistGradientBoosting): its categories
    are those the adaptation wrote when it made the input of codes."""
    frame, y = _frame()
    frame = frame.drop(columns=["size"])
    if kind == "lightgbm":
        lgb = pytest.importorskip("lightgbm")
        model = lgb.LGBMClassifier(n_estimators=20, min_child_samples=5, verbose=-1).fit(frame, y)
    else:
        from sklearn.ensemble import HistGradientBoostingClassifier

        model = HistGradientBoostingClassifier(categorical_features="from_dtype", max_iter=20).fit(frame, y)
    conv = og.convert(model, frame.head(20), target=TARGET)
    recorded = list(dict(conv.signature.input("colour").codes or ())[0])
    edited = _record_edited(conv.model, "colour", recorded[:-1])
    report = og.validate(edited, target=TARGET, reference=model, data=frame)
    parity = next(c for c in report.checks if c.name == "prediction_parity")
    assert not parity.passed and f"reference only {recorded[-1:]}" in parity.message, str(report)
    assert og.validate(conv, target=TARGET, reference=model, data=frame).passed


def test_a_missing_value_for_an_encoder_that_raises_is_refused_first_on_every_route(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """handle_unknown='error', fitted without missing values: a null colour (pandas' code -1) made onnxruntime fail
    ("Unknown Category and zeros = 0") inside validate, score and the DuckDB dry run, which blamed the model
    ("PREDICT returns one row per table row ..."). Each refuses it first, naming the column and what to do, exit 2,
    and the package's scripts say PREDICT fails on a NULL there."""
    import skops.io as sio

    from onnxgate.cli import main
    from onnxgate.deploy.duckdb_dryrun import dry_run

    monkeypatch.chdir(tmp_path)
    frame, y = _frame()
    model = _pipeline(frame, y, False)
    conv = og.convert(model, frame.head(20), target=TARGET)
    assert conv.signature.input("colour").missing_refused
    said = (r"'colour' holds 3 missing value\(s\).*refuses a missing value there.*handle_unknown='error'"
            r".*drop those rows")
    rows = _with_unseen_and_missing(frame.head(40), missing=False, unseen=False)
    rows.iloc[:3, 1] = np.nan
    with pytest.raises(og.InvalidDataError, match=said):
        og.validate(conv, target=TARGET, reference=model, data=rows)
    conv.save("model.onnx")
    sio.dump(model, "model.skops")
    og.package(conv, target=TARGET, out="sql", reference=model, data=frame)
    query = Path("sql/07_predict_from_text.sql").read_text(encoding="utf-8")
    assert "a NULL text is -1, which the model refuses" in query and "PREDICT fails on it" in query
    assert "the model refuses a missing value in `colour`" in Path("sql/README.md").read_text(encoding="utf-8")
    with pytest.raises(og.InvalidDataError, match=said):
        dry_run("sql", rows.assign(colour=rows["colour"].astype(object)), reference=model)
    rows.to_parquet("rows.parquet")
    rows.to_csv("rows.csv", index=False)
    # the codes themselves, -1 for the missing colour, as pandas gives them
    rows.assign(colour=pd.Categorical(rows["colour"], categories=sorted(COLOURS)).codes).to_parquet("codes.parquet")
    capsys.readouterr()
    for argv in (["score", "model.onnx", "--data", "rows.parquet", "--out", "scored.parquet"],
                 ["score", "model.onnx", "--data", "codes.parquet", "--out", "scored.parquet"],
                 ["validate", "model.onnx", "--target", TARGET, "--reference", "model.skops", "--data", "rows.csv"],
                 ["sql-dryrun", "sql", "--data", "rows.csv"],
                 ["sql-dryrun", "sql", "--data", "codes.parquet"]):
        assert main(argv) == 2, argv
        err = capsys.readouterr().err
        assert re.search(said, err) and "Traceback" not in err and "ONNXRuntimeError" not in err, (argv, err)
        assert len(err.strip().splitlines()) == 1, err
    assert not Path("scored.parquet").exists()
    frame.head(40).to_parquet("full.parquet")  # the rows without the gaps still score
    assert main(["score", "model.onnx", "--data", "full.parquet", "--out", "scored.parquet"]) == 0


@pytest.mark.parametrize("change", ["dropped", "reordered"])
@pytest.mark.parametrize("kind", ["lightgbm", "hist", "xgboost"])
def test_a_boosters_record_of_codes_edited_in_both_copies_fails_validate_against_the_booster(
        kind: str, change: str) -> None:
    """validate compared the file's record of a booster's categories with the adaptation's copy of it, which the file
    carries too: with both edited alike (the last category dropped, or the first two swapped), LightGBM's file
    passed either way, as did HistGradientBoosting's with one dropped, and a table written by those codes is scored
    as other categories. It now compares with the booster's own (LightGBM's pandas_categorical, the
    HistGradientBoosting model's encoder) and fails, naming both."""
    frame, y = _frame()
    frame = frame.drop(columns=["size"])
    if kind == "lightgbm":
        lgb = pytest.importorskip("lightgbm")
        model = lgb.LGBMClassifier(n_estimators=20, min_child_samples=5, verbose=-1).fit(frame, y)
        own = list(model.booster_.pandas_categorical[0])
    elif kind == "xgboost":  # its own record: the categories XGBoost 3.1+ keeps (both copies, swapped, passed)
        xgboost = pytest.importorskip("xgboost")
        model = xgboost.XGBClassifier(n_estimators=5, max_depth=3, enable_categorical=True, n_jobs=1).fit(frame, y)
        own = model.get_booster().get_categories(export_to_arrow=True).to_arrow()[1][1].to_pylist()
    else:
        from sklearn.ensemble import HistGradientBoostingClassifier

        model = HistGradientBoostingClassifier(categorical_features="from_dtype", max_iter=20).fit(frame, y)
        own = list(model._preprocessor.named_transformers_["encoder"].categories_[0])
    conv = og.convert(model, frame.head(20), target=TARGET)
    assert og.validate(conv, target=TARGET, reference=model, data=frame).passed
    recorded = own[:-1] if change == "dropped" else [own[1], own[0], *own[2:]]
    edited = category_records_edited(conv.model, "colour", recorded)
    report = og.validate(edited, target=TARGET, reference=model, data=frame)
    parity = next(c for c in report.checks if c.name == "prediction_parity")
    assert not parity.passed, str(report)
    assert "not the reference's" in parity.message and f"the reference's are {own}" in parity.message, parity.message
    assert (f"reference only {own[-1:]}" if change == "dropped" else "in another order") in parity.message


def _encoded(frame: Any, y: np.ndarray, *parts: tuple[str, Any]) -> Any:
    """A pipeline of ``parts`` (each an encoder of the colour column) and the x column, then a logistic regression
    (a ridge regression for a continuous ``y``)."""
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression, Ridge
    from sklearn.pipeline import make_pipeline

    steps = [(name, encoder, ["colour"]) for name, encoder in parts] + [("num", "passthrough", ["x"])]
    final = Ridge() if y.dtype.kind == "f" else LogisticRegression(max_iter=1000)
    return make_pipeline(ColumnTransformer(steps), final).fit(frame, y)


def _reads_the_codes(model: Any, frame: Any, rows: Any, out: Path, target: str) -> None:
    """``model`` converted for ``target`` takes the colour column as int32 codes, an unseen and a missing colour
    read as missing; validate passes it on ``rows``, it answers as the pipeline (:func:`_answers_match`), and the
    record of the codes with two categories swapped (amber rows scored as blue) fails validate."""
    conv = og.convert(model, frame.head(20), target=target)
    colour = conv.signature.input("colour")
    assert (colour.elem_type, colour.codes, colour.unseen_missing) == ("int32", ((0, tuple(sorted(COLOURS))),), True)
    report = og.validate(conv, target=target, reference=model, data=rows)
    assert report.passed, str(report)
    _answers_match(conv, model, rows, out, target)
    tampered = category_records_edited(conv.model, "colour", ["blue", "amber", "green", "red"])
    assert not og.validate(tampered, target=target, reference=model, data=rows).passed

def _answers_match(conv: og.Conversion, model: Any, rows: Any, out: Path, target: str) -> None:
    """onnxruntime fed the codes (as the package's join writes them, -1 for a missing or unseen colour), and the
    DuckDB dry run of the package, answer as the pipeline's predict and predict_proba."""
    import onnxruntime as ort

    from onnxgate.deploy.duckdb_dryrun import dry_run

    session = ort.InferenceSession(conv.model.SerializeToString(), providers=["CPUExecutionProvider"])
    codes = pd.Categorical(rows["colour"], categories=sorted(COLOURS)).codes.astype(np.int32)[:, None]
    found = dict(zip([o.name for o in session.get_outputs()],
                     session.run(None, {"colour": codes, "x": rows[["x"]].to_numpy()})))
    og.package(conv, target=target, out=out, reference=model, data=rows)
    result = dry_run(out, rows, reference=model)
    assert result.passed and result.joined == ["colour"], str(result)
    table = result.result
    if hasattr(model, "predict_proba"):
        for answers in (found, {n: table.column(n).to_numpy() for n in table.column_names}):
            assert np.array_equal(np.ravel(answers["label"]), model.predict(rows))
            np.testing.assert_allclose(np.column_stack([np.ravel(answers[f"p_{k}"]) for k in model.classes_]),
                                       model.predict_proba(rows), atol=1e-5)
    else:
        name = session.get_outputs()[0].name
        for answer in (found[name], table.column(name).to_numpy()):
            np.testing.assert_allclose(np.ravel(answer), model.predict(rows), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize(("kind", "target"), [("binary", "sql-edge-2.0"), ("multiclass", "sql-edge-1.0"),
                                              ("continuous", "sql-edge-2.0")])
def test_a_target_encoded_category_column_for_sql_edge_is_its_codes(kind: str, target: str, tmp_path: Path) -> None:
    """A TargetEncoder over a text column was refused for SQL Edge ("the model reads string values ... Encode it
    as numbers before training"). It takes the codes now, its encodings keyed by them: an unseen and a missing
    colour (code -1, no key) read as the encoder's target mean, as scikit-learn reads both."""
    from sklearn.preprocessing import TargetEncoder

    frame, y = _frame()
    targets = {"binary": y, "multiclass": (y + (frame["x"].to_numpy() > 1)).astype(np.int64) % 3 + (y == 0),
               "continuous": y * 2.5 + frame["x"].to_numpy()}
    model = _encoded(frame, targets[kind], ("te", TargetEncoder()))
    _reads_the_codes(model, frame, _with_unseen_and_missing(frame), tmp_path / "p", target)


def test_an_ordinal_encoder_with_values_of_its_own_for_sql_edge_reads_the_codes(tmp_path: Path) -> None:
    """OrdinalEncoder(handle_unknown='use_encoded_value', unknown_value=-1), fitted on a colour column with gaps
    and encoded_missing_value=-2, before a logistic regression: refused for SQL Edge, it takes the codes now; the
    code -1 of a missing colour reads as the -2 scikit-learn gives it, and an unseen colour (-1 for scikit-learn,
    not -2) is refused, not scored as missing. Without gaps, an unseen and a missing colour both read as -1."""
    from sklearn.preprocessing import OrdinalEncoder

    for gaps, unseen_missing in ((True, False), (False, True)):
        frame, y = _frame(missing=gaps)
        model = _encoded(frame, y, ("oe", OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1,
                                                         encoded_missing_value=-2)))
        conv = og.convert(model, frame.head(20), target=TARGET)
        colour = conv.signature.input("colour")
        assert (colour.elem_type, colour.unseen_missing) == ("int32", unseen_missing)
        rows = _with_unseen_and_missing(frame, unseen=not gaps)
        assert og.validate(conv, target=TARGET, reference=model, data=rows).passed
        _answers_match(conv, model, rows, tmp_path / f"p{gaps}", TARGET)
        if gaps:
            with pytest.raises(og.InvalidDataError, match=r"'colour'.*none of the model's categories.*'violet'"):
                og.validate(conv, target=TARGET, reference=model, data=_with_unseen_and_missing(frame, missing=False))


@pytest.mark.parametrize("encoder", ["TargetEncoder", "OrdinalEncoder", "OneHotEncoder(handle_unknown='ignore')"])
def test_an_unseen_category_where_minus_one_is_the_learnt_missing_one_is_refused_saying_so(encoder: str) -> None:
    """Fitted on a colour column with gaps, the encoder learnt a missing category, whose code -1 is for SQL Edge:
    an unseen colour, which scikit-learn scores (the target mean, the unknown value, zeros), has no code. Its
    refusal blamed handle_unknown='error' ("the model refuses a category it was not fitted on"), which none of
    these has; it says the code -1 is taken, and how to score unseen colours."""
    from sklearn.preprocessing import OneHotEncoder, OrdinalEncoder, TargetEncoder

    frame, y = _frame(missing=True)
    fitted = {"TargetEncoder": TargetEncoder(random_state=0),
              "OrdinalEncoder": OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1,
                                               encoded_missing_value=-2),
              "OneHotEncoder(handle_unknown='ignore')": OneHotEncoder(handle_unknown="ignore")}[encoder]
    model = _encoded(frame, y, ("enc", fitted))
    conv = og.convert(model, frame.head(20), target=TARGET)
    colour = conv.signature.input("colour")
    assert (colour.unseen_missing, colour.missing_learnt) == (False, True)
    assert og.Signature.from_dict(conv.signature.to_dict()).input("colour").missing_learnt  # a package's record
    with pytest.raises(og.InvalidDataError, match=r"'colour'.*none of the model's categories.*'violet'") as said:
        og.validate(conv, target=TARGET, reference=model, data=_with_unseen_and_missing(frame, missing=False))
    message = str(said.value)
    assert "code -1 is the missing category the encoder learnt from missing values" in message
    assert "handle_unknown='error'" not in message and "refuses a category it was not fitted on" not in message
    assert "null for a missing value" in message and "synapse" in message and "(e.g. 'missing')" in message
    assert og.validate(conv, target=TARGET, reference=model, data=_with_unseen_and_missing(frame, unseen=False)).passed


@pytest.mark.parametrize("second", ["OrdinalEncoder", "TargetEncoder"])
def test_a_column_two_encoders_read_for_sql_edge_is_its_codes(second: str, tmp_path: Path) -> None:
    """The colour column one-hot encoded and ordinal (or target) encoded in one ColumnTransformer was refused for
    SQL Edge ("reads string values"), and without a target validate refused its rows with a missing colour (fill
    them first). Every encoder now reads the codes, and a missing and an unseen colour as scikit-learn does."""
    from sklearn.preprocessing import OneHotEncoder, OrdinalEncoder, TargetEncoder

    frame, y = _frame()
    other = (OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1) if second == "OrdinalEncoder"
             else TargetEncoder())
    model = _encoded(frame, y, ("oh", OneHotEncoder(handle_unknown="ignore")), ("two", other))
    rows = _with_unseen_and_missing(frame)
    assert og.validate(og.convert(model, frame.head(20)), reference=model, data=rows).passed
    _reads_the_codes(model, frame, rows, tmp_path / "p", TARGET)


def test_a_column_an_encoder_that_raises_reads_beside_another_is_refused_saying_why() -> None:
    """A OneHotEncoder with handle_unknown='error' beside an OrdinalEncoder of the same colour column: the file
    would score a missing colour's code -1 as an unknown value where scikit-learn raises; refused naming the
    setting, not with "Encode it as numbers before training"."""
    from sklearn.preprocessing import OneHotEncoder, OrdinalEncoder

    frame, y = _frame()
    model = _encoded(frame, y, ("oh", OneHotEncoder()),
                     ("oe", OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1)))
    with pytest.raises(og.UnsupportedModelError, match=r"\['colour'\].*handle_unknown='error'.*synapse"):
        og.convert(model, frame.head(20), target=TARGET)
