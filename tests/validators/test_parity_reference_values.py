"""The reference answers the user's own rows, not the rows as the file's input type rounds them."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

import onnxgate as og


def test_a_float32_file_of_a_float64_model_fails_on_the_users_float64_rows() -> None:
    # converted with a float32 sample, the file reads float32; validate rounded the user's float64 rows for the
    # reference too, and passed a file whose labels differ from the model's on 50 of 3,000 rows (helper-129)
    model, narrow, rows = _gps()
    assert {s.elem_type for s in narrow.signature.inputs} == {"float32"}
    report = og.validate(narrow, reference=model, data=rows)
    assert not report.check("prediction_parity").passed, str(report)
    assert "label" in report.check("prediction_parity").message
    # the same model converted from its own float64 rows passes, and float32 rows pass the float32 file
    assert og.validate(og.convert(model, rows.head()), reference=model, data=rows).passed
    assert og.validate(narrow, reference=model, data=rows.astype(np.float32)).passed


@functools.cache
def _gps() -> tuple[Any, Any, pd.DataFrame]:
    from _column_frames import gps_float32_file

    return gps_float32_file()  # type: ignore[no-any-return]


def test_the_sql_adapted_float32_file_fails_validate_and_the_dry_run_on_the_users_float64_rows(
        tmp_path: Path) -> None:
    # adapted for SQL (real columns), the same file passed validate, package and the DuckDB dry run: the reference
    # was given the rows rounded to float32, the adapted model excluded from the user's values (helper-133)
    pytest.importorskip("duckdb", reason="the dry run needs duckdb")
    from onnxgate.deploy.duckdb_dryrun import dry_run

    model, narrow, rows = _gps()
    adapted = og.adapt(narrow, "sql-edge-2.0", columns=["lat", "lon"])
    parity = og.validate(adapted, reference=model, data=rows).check("prediction_parity")
    assert not parity.passed and "50/3000 rows differ" in parity.message, parity.message
    og.package(adapted, target="sql-edge-2.0", out=tmp_path / "sql")
    result = dry_run(tmp_path / "sql", rows, reference=model)
    assert not result.passed, str(result)
    assert any("'label'  50/3000 rows differ" in line for line in result.reference), result.reference
    # float32 rows, as the table holds them, pass both
    assert og.validate(adapted, reference=model, data=rows.astype(np.float32)).passed
    assert dry_run(tmp_path / "sql", rows.astype(np.float32), reference=model).passed


@functools.cache
def _epoch_seconds() -> tuple[Any, Any, pd.DataFrame]:
    """A HistGradientBoosting model of a float32 column beside an int64 column of epoch seconds, and its file
    converted with a float32 sample (which reads the seconds as float32, 128 s apart there: 324 of the 1,000
    labels flip on the user's own rows)."""
    from sklearn.ensemble import HistGradientBoostingClassifier

    rng = np.random.default_rng(0)
    rows = pd.DataFrame({"x": rng.random(1000).astype(np.float32),
                         "ts": 1_700_000_000 + rng.integers(0, 4_000, 1000)})
    y = ((rows["ts"] // 64) % 2).astype(int)
    model = HistGradientBoostingClassifier(max_iter=30, max_leaf_nodes=63, random_state=0).fit(rows, y)
    return model, og.convert(model, rows.astype(np.float32).head()), rows


def test_float32_columns_beside_an_int64_column_are_not_float32_rows(tmp_path: Path) -> None:
    # a frame of float32 columns and an int64 one counted as float32 rows: the reference was given the int64
    # column rounded to the file's float32 input, and validate passed (max_abs 7.9e-08) a file whose labels
    # differ from the model's on 324 of the user's 1,000 rows (helper-131)
    model, narrow, rows = _epoch_seconds()
    assert rows.dtypes.astype(str).tolist() == ["float32", "int64"]
    assert {s.elem_type for s in narrow.signature.inputs} == {"float32"}
    rows.to_parquet(tmp_path / "rows.parquet")
    for data in (rows, rows.astype({"ts": "Int64"}), str(tmp_path / "rows.parquet")):
        parity = og.validate(narrow, reference=model, data=data).check("prediction_parity")
        assert not parity.passed and "'label'  324/1000 rows differ" in parity.message, parity.message
    # the rows the file reads exactly (all float32) pass it
    assert og.validate(narrow, reference=model, data=rows.astype(np.float32)).passed


def test_float32_columns_beside_an_int64_column_fail_the_sql_adaptation_and_the_dry_run(tmp_path: Path) -> None:
    # adapted for SQL, the same file passed validate, package and the DuckDB dry run on the user's float32 + int64
    # frame, each giving the reference the epoch seconds rounded to float32 (helper-131)
    pytest.importorskip("duckdb", reason="the dry run needs duckdb")
    from onnxgate.deploy.duckdb_dryrun import dry_run
    from onnxgate.errors import ValidationFailedError

    model, narrow, rows = _epoch_seconds()
    adapted = og.adapt(narrow, "sql-edge-2.0")
    parity = og.validate(adapted, target="sql-edge-2.0", reference=model, data=rows).check("prediction_parity")
    assert not parity.passed and "'label'  324/1000 rows differ" in parity.message, parity.message
    with pytest.raises(ValidationFailedError, match="prediction_parity"):
        og.package(adapted, target="sql-edge-2.0", out=tmp_path / "checked", reference=model, data=rows)
    og.package(adapted, target="sql-edge-2.0", out=tmp_path / "sql")
    result = dry_run(tmp_path / "sql", rows, reference=model)
    assert not result.passed and any("'label'  324/1000 rows differ" in line for line in result.reference), \
        result.reference


def test_a_float16_file_fails_on_the_users_float32_rows() -> None:
    # converted with a float16 sample, the file reads float16; the user's float32 rows counted as the rows the file
    # reads, and the reference was given them rounded to float16 too: validate passed (max_abs 8.6e-08) a file
    # 0.27 off the model's probabilities, one label flipped, on those rows (helper-131)
    from sklearn.datasets import load_breast_cancer
    from sklearn.ensemble import HistGradientBoostingClassifier

    X, y = load_breast_cancer(return_X_y=True)
    model = HistGradientBoostingClassifier(max_iter=40, random_state=0).fit(X, y)
    half = og.convert(model, X[:5].astype(np.float16))
    assert {s.elem_type for s in half.signature.inputs} == {"float16"}
    for rows in (X.astype(np.float32), X):
        parity = og.validate(half, reference=model, data=rows).check("prediction_parity")
        assert not parity.passed and "'label'  1/569 rows differ" in parity.message, parity.message
    # the rows it reads exactly pass it
    assert og.validate(half, reference=model, data=X.astype(np.float16)).passed
