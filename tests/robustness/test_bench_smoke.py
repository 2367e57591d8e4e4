"""The benchmark harness and its cheap benchmarks still run (``bench/run.py --quick``).

Only the figures' presence and shape are checked: timings on a shared CI box are not asserted.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
#: Cheap in quick mode (well under a minute each); parity trains models and stays out.
CHEAP = ("cli", "convert")


@pytest.mark.slow
def test_bench_quick_runs_and_writes_json(tmp_path: Path) -> None:
    out = tmp_path / "latest.json"
    proc = subprocess.run(
        [sys.executable, str(REPO / "bench" / "run.py"), "--quick", "--only", ",".join(CHEAP), "--out", str(out)],
        cwd=str(REPO),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(out.read_text())
    assert not result["errors"], result["errors"]
    rows = result["rows"]
    keys = {"benchmark", "case", "metric", "value", "baseline", "ratio", "goal", "unit"}
    assert rows and all(keys <= set(r) for r in rows)
    assert {r["benchmark"] for r in rows} == {"cli-start", "convert-overhead"}
    timed = [r for r in rows if r["metric"] in ("wall", "convert_time")]
    assert all(r["value"] and r["value"] > 0 and r["baseline"] for r in timed), timed
    assert "| benchmark" in proc.stdout, "the table was not printed"
    assert result["machine"]["cores"] >= 1


def test_run_reports_a_failing_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A benchmark that raises is reported as an error row and the exit code is 1; others still run."""
    sys.path.insert(0, str(REPO))
    try:
        import bench.run as run
    finally:
        sys.path.remove(str(REPO))
    monkeypatch.setattr(
        run, "run_module",
        lambda module, quick, timeout: {"error": "RuntimeError: boom"} if module == "bench_cli"
        else {"rows": [{"benchmark": "b", "case": "c", "metric": "m", "value": 2.0, "baseline": 1.0,
                        "ratio": 2.0, "goal": "<= 1.5", "unit": "s"}]},
    )
    out = tmp_path / "latest.json"
    code = run.main(["--only", "cli,convert", "--out", str(out)])
    result = json.loads(out.read_text())
    assert code == 1
    assert [e["module"] for e in result["errors"]] == ["bench_cli"]
    assert len(result["rows"]) == 1
    assert run.table(result["rows"], result["errors"]).count("ERROR") == 1
    assert " NO " in run.table(result["rows"], [])
