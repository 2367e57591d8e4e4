"""Columns of dtype object that scikit-learn reads as numbers: True/False/None (a polars Boolean column with nulls,
as ``to_pandas`` gives it) and :class:`decimal.Decimal` (a polars Decimal column, a Parquet decimal128 one read by
``load_data``). A numeric model converted from such a sample was refused ("column(s) ['c'] hold text") where
scikit-learn fits and scores it (helper-154). Also: a column-order refusal of a frame of thousands of columns listed
each of them, twice (96,000 characters for 3,000 columns)."""

from __future__ import annotations

import decimal
import json
import time
import warnings
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pandas as pd
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from sklearn.datasets import load_breast_cancer, load_iris
from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
from sklearn.linear_model import LinearRegression, LogisticRegression

import onnxgate as og
from onnxgate._data import as_feeds
from onnxgate.cli import main
from onnxgate.errors import InvalidDataError


def _iris() -> tuple[pd.DataFrame, np.ndarray]:
    X, y = load_iris(return_X_y=True, as_frame=True)
    frame = pd.DataFrame({"a": X.iloc[:, 0], "b": X.iloc[:, 1], "c": (X.iloc[:, 2] > 3).astype(float)})
    return frame, y.to_numpy()


def _polars(frame: pd.DataFrame) -> pl.DataFrame:
    """``a`` as a polars Decimal, ``c`` as a polars Boolean with a null every 7th row."""
    c = [None if i % 7 == 0 else bool(v) for i, v in enumerate(frame["c"])]
    return pl.DataFrame({"a": pl.Series([decimal.Decimal(str(v)) for v in frame["a"]], dtype=pl.Decimal(6, 2)),
                         "b": frame["b"].to_numpy(), "c": pl.Series(c, dtype=pl.Boolean)})


def _probabilities(conv: og.Conversion, data: object) -> np.ndarray:
    session = ort.InferenceSession(conv.model.SerializeToString(), providers=["CPUExecutionProvider"])
    names = [o.name for o in session.get_outputs()]
    return np.asarray(session.run(None, as_feeds(data, conv.signature))[names.index("probabilities")])


@pytest.mark.parametrize("kind", ["hgb", "forest"])
def test_a_polars_boolean_with_nulls_and_a_decimal_column_convert_and_score_as_scikit_learn(kind: str) -> None:
    # before: convert refused "HistGradientBoostingClassifier reads one matrix of numbers, but the sample's
    # column(s) ['a', 'c'] hold text", where scikit-learn fits and scores the frame (None as NaN)
    frame = _polars(_iris()[0])
    y = _iris()[1]
    model = (HistGradientBoostingClassifier(max_iter=20, random_state=0) if kind == "hgb"
             else RandomForestClassifier(n_estimators=10, random_state=0)).fit(frame, y)
    conv = og.convert(model, frame)
    assert {s.name: s.elem_type for s in conv.signature.inputs} == {"a": "float64", "b": "float64", "c": "float64"}
    assert np.abs(_probabilities(conv, frame) - model.predict_proba(frame)).max() < 1e-5
    assert og.validate(conv, reference=model, data=frame).passed


def test_a_pandas_object_column_of_booleans_or_decimals_converts_for_a_linear_model() -> None:
    frame, y = _iris()
    model = LogisticRegression(max_iter=1000).fit(frame, y)
    flags = frame.assign(c=pd.Series([bool(v) for v in frame["c"]], dtype=object))
    money = frame.assign(a=pd.Series([decimal.Decimal(str(v)) for v in frame["a"]], dtype=object))
    for data in (flags, money):
        conv = og.convert(model, data)
        assert np.abs(_probabilities(conv, data) - model.predict_proba(data)).max() < 1e-5
        assert og.validate(conv, reference=model, data=data).passed
    # fitted on an array: a frame's Decimal column is a number column too
    on_array = LogisticRegression(max_iter=1000).fit(frame.to_numpy(), y)
    conv = og.convert(on_array, money)
    got = _probabilities(conv, money.to_numpy(dtype=float))
    assert np.abs(got - on_array.predict_proba(frame.to_numpy())).max() < 1e-5


@pytest.mark.parametrize("values", [["5", True, None], [True, "x", False], ["1.5", decimal.Decimal("2"), None]])
def test_an_object_column_holding_text_is_still_refused(values: list[object]) -> None:
    frame, y = _iris()
    model = LogisticRegression(max_iter=1000).fit(frame, y)
    text = frame.assign(c=pd.Series((values * 50)[:150], dtype=object))
    with pytest.raises(InvalidDataError, match=r"column 'c' holds (numbers as )?text where the model reads numbers"):
        og.convert(model, text)


def test_parquet_decimal128_and_nullable_boolean_columns_convert_validate_and_score(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    # before: 'onnxgate convert --sample' exited 2 ("column(s) ['a', 'c'] hold text")
    import joblib

    monkeypatch.chdir(tmp_path)
    frame, y = _iris()
    model = HistGradientBoostingClassifier(max_iter=20, random_state=0).fit(frame, y)
    joblib.dump(model, "model.joblib")
    c = [None if i % 7 == 0 else bool(v) for i, v in enumerate(frame["c"])]
    pq.write_table(pa.table({"a": pa.array([decimal.Decimal(str(v)) for v in frame["a"]], pa.decimal128(6, 2)),
                             "b": frame["b"].to_numpy(), "c": pa.array(c, pa.bool_())}), "rows.parquet")
    assert main(["convert", "model.joblib", "--trust-pickle", "--sample", "rows.parquet", "-o", "m.onnx"]) == 0, (
        capsys.readouterr().err)
    assert main(["validate", "m.onnx", "--reference", "model.joblib", "--trust-pickle", "--data", "rows.parquet"]) == 0
    assert main(["score", "m.onnx", "--data", "rows.parquet", "--out", "scored.parquet"]) == 0
    scored = pd.read_parquet("scored.parquet")
    rows = pd.read_parquet("rows.parquet")
    assert scored["label"].tolist() == model.predict(rows).tolist()


def _load_score(folder: Path, name: str) -> object:
    import importlib.util

    spec = importlib.util.spec_from_file_location(f"{name}_{abs(hash(str(folder)))}", folder / "score.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.init()  # type: ignore[attr-defined]
    return module


def test_the_service_scores_null_in_a_boolean_column_as_scikit_learn_or_names_it_missing(tmp_path: Path) -> None:
    X, y = load_breast_cancer(return_X_y=True, as_frame=True)
    big = [None if i % 9 == 0 else bool(v > 600) for i, v in enumerate(X["mean area"])]
    frame = pl.DataFrame({"radius": X["mean radius"].to_numpy(), "big": pl.Series(big, dtype=pl.Boolean)})
    rows = frame[[0, 1, 9, 300]]
    request = {"data": {"radius": rows["radius"].to_list(), "big": rows["big"].to_list()}}
    # a model that reads NaN there (fitted with the nulls): the null is scored as scikit-learn scores None
    hgb = HistGradientBoostingClassifier(max_iter=20, random_state=0).fit(frame, y)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        folder = og.package(og.convert(hgb, frame), target="container", out=tmp_path / "hgb", reference=hgb,
                            data=frame)
    status, body = _load_score(folder, "hgb").score(request)  # type: ignore[attr-defined]
    assert status == 200, body
    assert np.abs(np.asarray(body["probabilities"]) - hgb.predict_proba(rows)).max() < 1e-5
    # a model fitted on booleans without nulls (a bool input): the null is refused as a missing value
    full = frame.with_columns(pl.col("big").fill_null(False))
    linear = LogisticRegression().fit(full, y)
    folder = og.package(og.convert(linear, full), target="container", out=tmp_path / "lr", reference=linear,
                        data=full)
    assert json.loads((folder / "manifest.json").read_text())["service"]["allow_nan_inputs"] == []
    status, body = _load_score(folder, "lr").score(request)  # type: ignore[attr-defined]
    assert status == 400 and "found null (a missing value), which a bool input cannot hold" in body["message"], body


def test_a_column_order_refusal_of_thousands_of_columns_is_short_and_names_the_misplaced_column() -> None:
    # before: 96,214 characters, every one of the 3,000 names listed twice
    rng = np.random.default_rng(0)
    columns = [f"feature_{i:04d}" for i in range(3000)]
    X = pd.DataFrame(rng.normal(size=(20, 3000)), columns=columns)
    model = LinearRegression().fit(X, rng.normal(size=20))
    conv = og.convert(model, X.to_numpy())
    moved = ["renamed", *columns[2:], columns[0]]
    for data, named in ((X[columns[::-1]], "column 'feature_2999' at position 0"),
                        (X.set_axis(moved, axis=1), "column 'feature_0002' at position 1")):
        for check in (lambda d: as_feeds(d, conv.signature), lambda d: og.validate(conv, reference=model, data=d)):
            with pytest.raises(InvalidDataError) as err:
                check(data)
            message = str(err.value)
            assert len(message) < 1200 and named in message and "(3,000 columns)" in message, message
    positions = X.set_axis([f"input_{i}" for i in range(3000)][::-1], axis=1)
    with pytest.raises(InvalidDataError, match=r"column 'input_2999' at position 0") as err:
        as_feeds(positions, conv.signature)
    assert len(str(err.value)) < 800, str(err.value)


def test_a_refusal_of_thousands_of_missing_columns_comes_at_once() -> None:
    # the hint for columns named as the model's with a space for '_' paired every missing name with every column:
    # 7 s for 3,000 columns before the refusal came, 10 s when every column was such a name
    from onnxgate.signature import Signature, TensorSpec

    names = [f"mean_radius_{i}" for i in range(3000)]
    sig = Signature(inputs=tuple(TensorSpec(n, "float", ("N", 1)) for n in names),
                    outputs=(TensorSpec("variable", "float", ("N", 1)),))
    for columns, said in (([f"other {i}" for i in range(3000)], "lacks"),
                          ([n.replace("_", " ") for n in names], "3000 of the data's columns are the model's names")):
        frame = pd.DataFrame(np.zeros((2, 3000)), columns=columns)
        started = time.perf_counter()
        with pytest.raises(InvalidDataError, match=said):
            as_feeds(frame, sig)
        assert time.perf_counter() - started < 2.0
