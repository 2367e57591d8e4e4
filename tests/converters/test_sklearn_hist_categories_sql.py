"""HistGradientBoosting fitted on pandas ``category`` text columns (``categorical_features="from_dtype"``, or an
OrdinalEncoder in front of it) for SQL Edge, which takes no text: each category column is an int32 input of its
codes among the model's categories (scikit-learn sorts them, whatever the frame's order), mapped from a category
column by value by validate, the package and the DuckDB dry run; an unseen and a missing category score as
scikit-learn scores them (both as missing). An encoder that raises on an unknown category is refused, saying
why."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

import onnxgate as og

pd = pytest.importorskip("pandas")
pytest.importorskip("duckdb")

BANDS = [f"band {c}" for c in "abcdef"]
TARGET = "sql-edge-2.0"


def _frame() -> tuple[Any, np.ndarray]:
    """Two measured wine columns and a text category (a strong column binned into bands named out of value
    order, so the trees need category splits) whose pandas categories are in reverse order: the model's are
    sorted, so the frame's .cat.codes are not the model's codes."""
    from sklearn.datasets import load_wine

    data = load_wine(as_frame=True)
    frame = data.data[["alcohol", "hue"]].copy()
    named = pd.cut(data.data["flavanoids"], len(BANDS), labels=list(np.random.default_rng(1).permutation(BANDS)))
    frame.insert(1, "band", pd.Categorical(named.astype(str), categories=BANDS[::-1]))
    return frame, data.target.to_numpy()


def _unseen_and_missing(frame: Any) -> Any:
    """``frame`` with rows 0-5 missing their band and rows 6-11 a band none of the model's."""
    rows = frame.copy()
    rows["band"] = rows["band"].cat.add_categories("band x")
    rows.iloc[:6, 1] = np.nan
    rows.iloc[6:12, 1] = "band x"
    return rows


@pytest.fixture(scope="module")
def fitted() -> dict[str, tuple[Any, Any]]:
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor

    frame, y = _frame()
    return {"classifier": (HistGradientBoostingClassifier(max_iter=20, random_state=0).fit(frame, y), frame),
            "regressor": (HistGradientBoostingRegressor(max_iter=20, random_state=0).fit(frame, y * 1.5), frame)}


def _dry_run_matches(conv: og.Conversion, model: Any, rows: Any, out: Path, **package: Any) -> None:
    """Package for SQL Edge, run the DuckDB dry run on ``rows`` and compare its table with the model's answers."""
    from onnxgate.deploy.duckdb_dryrun import dry_run

    og.package(conv, target=TARGET, out=out, reference=model, data=rows, **package)
    result = dry_run(out, rows, reference=model)
    assert result.passed, str(result)
    table = result.result
    if hasattr(model, "predict_proba"):
        assert np.array_equal(table.column("label").to_numpy(), model.predict(rows))
        found = np.stack([table.column(f"p_{k}").to_numpy() for k in range(3)], axis=1)
        np.testing.assert_allclose(found, model.predict_proba(rows), atol=1e-5)
    else:
        outputs = [n for n in table.column_names if n not in rows.columns]
        np.testing.assert_allclose(table.column(outputs[-1]).to_numpy(), model.predict(rows), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("kind", ["classifier", "regressor"])
def test_a_text_category_for_sql_edge_is_its_codes_as_scikit_learn_scores_them(fitted: dict[str, Any], kind: str,
                                                                                tmp_path: Path) -> None:
    """The file took the codes, but validate fed the model those codes (an int column) and it refused them ("the
    reference model failed on rows 0..177 ... ufunc 'isnan'"): nothing was compared, and package failed. The
    codes are now the category column again for the model, a missing and an unseen band scored as missing."""
    model, frame = fitted[kind]
    rows = _unseen_and_missing(frame)
    conv = og.convert(model, frame.head(20), target=TARGET)
    band = conv.signature.input("band")
    assert (band.elem_type, band.codes, band.unseen_missing) == ("int32", ((0, tuple(BANDS)),), True)
    report = og.validate(conv, target=TARGET, reference=model, data=rows)
    assert report.passed, str(report)
    _dry_run_matches(conv, model, rows, tmp_path / "p")


def test_a_conversion_without_a_target_is_adapted_to_the_codes_for_sql_edge(fitted: dict[str, Any],
                                                                            tmp_path: Path) -> None:
    model, frame = fitted["classifier"]
    rows = _unseen_and_missing(frame)
    conv = og.convert(model, frame.head(20))
    assert conv.signature.input("band").elem_type == "string"
    assert og.adapt(conv, TARGET).signature.input("band").elem_type == "int32"
    _dry_run_matches(conv, model, rows, tmp_path / "p", adapt=True)


def test_an_ordinal_encoder_before_the_model_gives_the_codes_for_sql_edge(tmp_path: Path) -> None:
    """scikit-learn's own recipe for HistGradientBoosting's categories: an OrdinalEncoder whose unknown category
    is NaN, in a ColumnTransformer, the encoded column declared categorical."""
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OrdinalEncoder

    frame, y = _frame()
    rows = _unseen_and_missing(frame)
    encoder = OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=np.nan)
    model = make_pipeline(ColumnTransformer([("codes", encoder, ["band"])], remainder="passthrough"),
                          HistGradientBoostingClassifier(max_iter=20, categorical_features=[0], random_state=0))
    model.fit(frame, y)
    conv = og.convert(model, frame.head(20), target=TARGET)
    assert conv.signature.input("band").elem_type == "int32"
    assert og.validate(conv, target=TARGET, reference=model, data=rows).passed
    _dry_run_matches(conv, model, rows, tmp_path / "p")


def _encoder_on_text() -> tuple[Any, Any, Any]:
    """An OrdinalEncoder (unknown value NaN) in a ColumnTransformer before HistGradientBoosting, fitted on a plain
    text column 'band' (object, not a pandas category), with the frame it was fitted on and rows of it whose rows
    0-5 miss their band and rows 6-11 hold one the model never saw."""
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OrdinalEncoder

    frame, y = _frame()
    frame["band"] = frame["band"].astype(object)
    rows = frame.copy()
    rows.iloc[:6, 1] = None
    rows.iloc[6:12, 1] = "band x"
    encoder = OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=np.nan)
    model = make_pipeline(ColumnTransformer([("codes", encoder, ["band"])], remainder="passthrough"),
                          HistGradientBoostingClassifier(max_iter=20, categorical_features=[0], random_state=0))
    return model.fit(frame, y), frame, rows


def test_an_ordinal_encoder_fitted_on_text_reads_text_rows_by_value_for_sql_edge(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The same pipeline fitted on a plain text column (object, not a pandas category): the file took the codes,
    but validate refused the text rows ("holds the category 'band c' as text ... Feed the codes ... or a pandas
    category column"), the dry run could not load them ("Could not convert string ... to INT32") and score refused
    their nulls; each text is read as its category's code, an unseen and a missing band as missing, as the
    pipeline scores them."""
    import pyarrow.parquet as pq

    from onnxgate.cli import main

    model, frame, rows = _encoder_on_text()
    conv = og.convert(model, frame.head(20), target=TARGET)
    assert conv.signature.input("band").elem_type == "int32"
    report = og.validate(conv, target=TARGET, reference=model, data=rows)
    assert report.passed, str(report)
    _dry_run_matches(conv, model, rows, tmp_path / "p")
    monkeypatch.chdir(tmp_path)
    conv.save("m.onnx")
    for name, part in (("rows", rows), ("missing", rows.head(6))):  # a Parquet column of only nulls: type null
        part.to_parquet(f"{name}.parquet")
        assert main(["score", "m.onnx", "--data", f"{name}.parquet", "--out", f"{name}-scored.parquet"]) == 0
        scored = pq.read_table(f"{name}-scored.parquet").to_pandas()
        found = np.stack([scored[f"p_{k}"].to_numpy() for k in range(3)], axis=1)
        np.testing.assert_allclose(found, model.predict_proba(part), atol=1e-5)


def _ordinal_before_hist(encoder: Any) -> tuple[Any, Any]:
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.pipeline import make_pipeline

    frame, y = _frame()
    model = make_pipeline(ColumnTransformer([("codes", encoder, ["band"])], remainder="passthrough"),
                          HistGradientBoostingClassifier(max_iter=5, categorical_features=[0], random_state=0))
    return model.fit(frame, y), frame


def test_an_ordinal_encoder_that_raises_on_an_unknown_category_is_refused_saying_why() -> None:
    """Its text input was refused with "Encode it as numbers before training", though refitting the encoder with
    handle_unknown='use_encoded_value' is all it takes: the code -1 for a missing value would read as a value where
    scikit-learn raises."""
    from sklearn.preprocessing import OrdinalEncoder

    model, frame = _ordinal_before_hist(OrdinalEncoder())
    with pytest.raises(og.UnsupportedModelError, match=r"\['band'\].*cannot read its codes.*raises on an unknown "
                                                       r"or missing category \(handle_unknown='error'\).*"
                                                       r"use_encoded_value"):
        og.convert(model, frame.head(20), target=TARGET)


def test_an_ordinal_encoder_whose_unknown_value_is_minus_one_reads_the_codes(tmp_path: Path) -> None:
    """unknown_value=-1 was refused too ("the file would read a missing value as that unknown value, where
    scikit-learn reads it as missing"), but scikit-learn gives a missing band -1 as well, as the file gives the code
    -1: it converts, and validate and the dry run answer as the pipeline on missing and unseen bands."""
    from sklearn.preprocessing import OrdinalEncoder

    model, frame = _ordinal_before_hist(OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1))
    rows = _unseen_and_missing(frame)
    conv = og.convert(model, frame.head(20), target=TARGET)
    assert (conv.signature.input("band").elem_type, conv.signature.input("band").unseen_missing) == ("int32", True)
    report = og.validate(conv, target=TARGET, reference=model, data=rows)
    assert report.passed, str(report)
    _dry_run_matches(conv, model, rows, tmp_path / "p")


def test_convert_says_the_codes_follow_the_models_order_not_the_frames(fitted: dict[str, Any]) -> None:
    """The frame's categories run band f..a, the model's a..f: the frame's .cat.codes are not the input's codes,
    and the warning only said "the position of each value among the categories"."""
    model, frame = fitted["classifier"]
    conv = og.convert(model, frame.head(20), target=TARGET)
    said = next(w for w in conv.warnings if "take their codes" in w)
    assert f"{{'band': {BANDS!r}}}, not the sample's category order" in said
    # the frame's categories in the model's order: nothing to say
    ordered = frame.assign(band=frame["band"].cat.reorder_categories(BANDS))
    said = next(w for w in og.convert(model, ordered.head(20), target=TARGET).warnings if "take their codes" in w)
    assert "category order" not in said


@pytest.mark.parametrize("form", ["object array", "arrays by input"])
def test_text_categories_in_arrays_pass_for_sql_edge_as_in_the_frame(form: str) -> None:
    """The rows of a frame that passes, given as one object array (columns in input order) or one array per input:
    validate refused them, "column 1 ('band') holds text ('band x') but input 'band' is int32: a number was
    expected", where the frame, and a dict of the same arrays, passed. Each column is read as the frame's is, the
    text by value as its code, a missing and an unseen band as missing: the same checks pass on the same rows."""
    model, frame, rows = _encoder_on_text()
    conv = og.convert(model, frame.head(20), target=TARGET)
    assert [s.name for s in conv.signature.inputs] == list(rows.columns)
    arrays = rows.to_numpy() if form == "object array" else [rows[c].to_numpy().reshape(-1, 1) for c in rows]
    if form == "object array":
        assert arrays.dtype == object
    by_frame = og.validate(conv, target=TARGET, reference=model, data=rows)
    by_arrays = og.validate(conv, target=TARGET, reference=model, data=arrays)
    assert by_frame.passed and by_arrays.passed, str(by_arrays)
    assert [(c.name, c.passed) for c in by_arrays.checks] == [(c.name, c.passed) for c in by_frame.checks]
    parity = next(c for c in by_arrays.checks if c.name == "prediction_parity")
    assert f"on {len(rows)} rows" in parity.message


def test_a_npy_file_of_text_categories_passes_validate_for_sql_edge(tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """The same rows saved with numpy.save as text (the form a .npy file holds text in: an object array is refused
    as unsafe to load) validated with exit 2, "column 1 ('band') holds text (np.str_('band b')) but input 'band'
    is int32"; the frame's Parquet file passed. Now exit 0, parity on every row."""
    import pickle

    from onnxgate.cli import main

    model, frame, _ = _encoder_on_text()
    monkeypatch.chdir(tmp_path)
    og.convert(model, frame.head(20), target=TARGET).save("m.onnx")
    Path("m.pkl").write_bytes(pickle.dumps(model))
    np.save("rows.npy", frame.to_numpy().astype(str))
    assert main(["validate", "m.onnx", "--target", TARGET, "--reference", "m.pkl", "--trust-pickle",
                 "--data", "rows.npy"]) == 0
