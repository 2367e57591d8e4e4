"""docs/report-schema.md is the contract of ``Report.to_json()``: a real report carries no field the page leaves out.

An audit (helper-355) found a passing report carrying ``classes_seen`` (parity), ``repairs`` (model_wellformed),
``local_function_domains`` (opset_within_caps) and every field of ``search_divergences``, none of which the page
listed.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
PAGE = (REPO / "docs" / "report-schema.md").read_text(encoding="utf-8")


def _rows(heading: str) -> list[list[str]]:
    """The body rows of the first table after ``heading``, split into cells (``\\|`` inside a cell kept)."""
    lines = PAGE.split(heading + "\n", 1)[1].splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("|"))
    end = next((i for i in range(start, len(lines)) if not lines[i].startswith("|")), len(lines))
    lines = lines[start:end]
    return [[cell.strip() for cell in re.split(r"(?<!\\)\|", line)[1:-1]] for line in lines[2:]]


def _names(text: str) -> set[str]:
    """The field names a cell spells in backticks (``"field"`` inside a JSON-like object too)."""
    found = set()
    for code in re.findall(r"`([^`]+)`", text):
        found.update(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", code))
    return found


def _first_cell(heading: str) -> set[str]:
    return set().union(*(_names(row[0]) for row in _rows(heading)))


@pytest.fixture(scope="module")
def report() -> dict[str, Any]:
    import onnxgate as og

    model, X, _ = og.zoo.get("sklearn-iris-logreg").build()
    conv = og.convert(model, X[:5], target="sql-edge-2.0")
    return json.loads(og.validate(conv, target="sql-edge-2.0", reference=model, data=X, search=40).to_json())


def test_every_field_of_a_report_is_on_the_schema_page(report: dict[str, Any]) -> None:
    assert set(report) == _first_cell("## Top level")
    assert set(report["model"]) <= _first_cell("### `model`")
    checks = {c["name"]: c for c in report["checks"]}
    assert set(checks) >= {"model_wellformed", "opset_within_caps", "outputs_one_value_per_row",
                           "prediction_parity", "search_divergences"}
    for check in checks.values():
        assert set(check) == _first_cell("### A check"), check["name"]
    per_check = {name: _names(row[1]) for row in _rows("## `details` per check") for name in _names(row[0])}
    for name, check in checks.items():
        if name in ("prediction_parity", "search_divergences"):
            continue
        assert set(check["details"]) <= per_check[name], (name, sorted(set(check["details"]) - per_check[name]))
    parity = checks["prediction_parity"]["details"]
    assert set(parity) <= _first_cell("### `prediction_parity`"), sorted(
        set(parity) - _first_cell("### `prediction_parity`"))
    for output in parity["outputs"]:
        assert set(output) <= _first_cell("Per output:"), (output["name"], sorted(
            set(output) - _first_cell("Per output:")))
    search = checks["search_divergences"]["details"]
    assert set(search) <= _first_cell("### `search_divergences`"), sorted(
        set(search) - _first_cell("### `search_divergences`"))
