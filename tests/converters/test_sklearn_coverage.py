"""docs/coverage.md stays true: it is what docs/coverage.json renders to, it lists what scikit-learn lists,
and cases recorded ok are still ok (a representative subset re-run here; all of them under slow)."""

from __future__ import annotations

import importlib.util
import json
import os
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]

#: Re-run on every test run: one case per fix of issue 12 plus common estimators.
REPRESENTATIVE = (
    "RFE(LogisticRegression)",
    "LabelEncoder",
    "KMeans",
    "OneHotEncoder",
    "SVC",
    "HistGradientBoostingClassifier",
    "HistGradientBoostingRegressor",
    "RandomForestClassifier[DataFrame]",
    "Pipeline(StandardScaler, RandomForestClassifier)[breast_cancer]",
    "OneVsOneClassifier(LogisticRegression)",
    "LogisticRegression",
    "StandardScaler",
    "torch LSTM",
)


@pytest.fixture(scope="module")
def coverage() -> Any:
    spec = importlib.util.spec_from_file_location("onnxgate_coverage_script", ROOT / "scripts" / "coverage.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses resolve annotations through sys.modules
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def recorded(coverage: Any) -> dict[str, Any]:
    return json.loads(coverage.DOCS_JSON.read_text(encoding="utf-8"))  # type: ignore[no-any-return]


def test_markdown_is_what_the_json_renders_to(coverage: Any, recorded: dict[str, Any]) -> None:
    assert coverage.DOCS_MD.read_text(encoding="utf-8") == coverage.render(recorded), (
        "docs/coverage.md is stale: run python scripts/coverage.py"
    )


def test_the_table_lists_every_estimator_scikit_learn_lists(coverage: Any, recorded: dict[str, Any]) -> None:
    listed = {c.name for c in coverage.all_cases()}
    in_table = set(recorded["results"])
    assert listed - in_table == set(), "estimators missing from docs/coverage.md: run python scripts/coverage.py"
    # rows of libraries not installed here (a boosting extra) are kept, not listed
    sklearn_rows = {n for n in in_table if recorded["results"][n]["section"].startswith("scikit-learn")}
    assert sklearn_rows - listed == set(), "docs/coverage.md lists cases that no longer exist"


def test_the_table_was_made_with_these_versions(coverage: Any, recorded: dict[str, Any]) -> None:
    versions = coverage.versions()
    assert {k: versions.get(k) for k in ("sklearn", "skl2onnx")} == {
        k: recorded["versions"].get(k) for k in ("sklearn", "skl2onnx")
    }, "scikit-learn or skl2onnx changed since docs/coverage.md was made: run python scripts/coverage.py"


def test_onnxgate_is_never_worse_than_the_raw_converter(coverage: Any, recorded: dict[str, Any]) -> None:
    worse = [
        (name, opset)
        for name, item in recorded["results"].items()
        for opset, entry in item["opsets"].items()
        if coverage.OK in (entry["raw"], entry.get("raw64")) and entry["onnxgate"] != coverage.OK
    ]
    assert worse == []
    false_pass = [
        (name, opset)
        for name, item in recorded["results"].items()
        for opset, entry in item["opsets"].items()
        if entry["validate"] is True and entry["onnxgate"] != coverage.OK
    ]
    assert false_pass == []


def _rerun(coverage: Any, recorded: dict[str, Any], names: Any) -> None:
    cases = {c.name: c for c in coverage.all_cases()}
    regressed = []
    for name in names:
        was = recorded["results"][name]["opsets"]
        opsets = [int(o) for o, entry in was.items() if entry["onnxgate"] == coverage.OK]
        if not opsets:
            continue
        now = coverage.run_case(cases[name], opsets)
        regressed += [(name, o, entry["onnxgate"]) for o, entry in now.items() if entry["onnxgate"] != coverage.OK]
    assert regressed == [], "cases recorded ok in docs/coverage.md are no longer ok"


def test_representative_cases_recorded_ok_are_still_ok(coverage: Any, recorded: dict[str, Any]) -> None:
    assert set(REPRESENTATIVE) <= set(recorded["results"])
    _rerun(coverage, recorded, REPRESENTATIVE)


@pytest.mark.slow
def test_every_case_recorded_ok_is_still_ok(coverage: Any, recorded: dict[str, Any]) -> None:
    if not os.environ.get("ONNXGATE_COVERAGE_FULL"):
        pytest.skip("the whole table takes about 20 minutes on 2 cores; set ONNXGATE_COVERAGE_FULL=1 to run it")
    _rerun(coverage, recorded, sorted(recorded["results"]))


def test_the_checks_catch_a_stale_table_and_a_regression(coverage: Any, recorded: dict[str, Any]) -> None:
    """Built broken on purpose: a changed status no longer renders to the checked-in table, and a case
    recorded ok that is not (LatentDirichletAllocation: no converter writes its iterative transform) fails."""
    import copy

    broken = copy.deepcopy(recorded)
    name = "LatentDirichletAllocation"
    assert broken["results"][name]["opsets"]["17"]["onnxgate"] != coverage.OK
    broken["results"][name]["opsets"]["17"]["onnxgate"] = coverage.OK
    assert coverage.render(broken) != coverage.DOCS_MD.read_text(encoding="utf-8")
    broken["results"][name]["opsets"] = {"17": broken["results"][name]["opsets"]["17"]}
    with pytest.raises(AssertionError, match="no longer ok"):
        _rerun(coverage, broken, [name])
