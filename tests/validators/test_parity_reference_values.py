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
