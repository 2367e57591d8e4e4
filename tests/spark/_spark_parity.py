"""What the Spark tests compare: Spark's parity report against local parity on the same rows."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

import onnxgate as og


def parity(report: Any) -> Any:
    """The report's prediction_parity check."""
    return next(c for c in report.checks if c.name == "prediction_parity")


def assert_parity_as_local(report: Any, conv: Any, model: Any, path: Path, rows: int) -> None:
    """``report`` (Spark's) passed on the ``rows`` rows of ``path``, with the row count, mismatch counts and
    maximum errors of local parity on the same file."""
    local = og.validate(conv, data=pd.read_parquet(path), reference=model)
    assert report.passed, str(report)
    ours, theirs = parity(report), parity(local)
    assert ours.details["rows"] == theirs.details["rows"] == rows
    for a, b in zip(ours.details["outputs"], theirs.details["outputs"]):
        assert a["mismatched_rows"] == b["mismatched_rows"]
        assert (a["abs"] or {}).get("max") == (b["abs"] or {}).get("max")
