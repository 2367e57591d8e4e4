"""Every model the installed onnx package ships or builds, validated for three targets.

The corpus: each ``model.onnx`` under ``onnx/backend/test/data/`` and each single-operator model from
``onnx.backend.test.case.node.collect_testcases()``. For every model and target, ``og.validate``
must return a Report or raise a documented :class:`OnnxGateError`; anything else is a crash.

The outcome of every (model, target) is compared with ``expected_corpus_counts.json``, so a change
in what onnxgate accepts shows up as a named diff. Regenerate it after an intended change with::

    ONNXGATE_UPDATE_EXPECTED=1 .venv/bin/pytest tests/robustness/test_onnx_corpus.py

The corpus is split into chunks so pytest-xdist spreads it over workers. Building the node models
takes ~10 s, so they are cached on disk (keyed by the onnx version) the first time.
"""

from __future__ import annotations

import collections
import fcntl
import json
import os
import shutil
import tempfile
import time
import traceback
import warnings
from pathlib import Path
from typing import Any

import pytest

from onnxgate.errors import InvalidModelError, OnnxGateError

TARGETS = ("onnxruntime", "sql-edge-2.0", "container")
CHUNKS = 8
EXPECTED = Path(__file__).with_name("expected_corpus_counts.json")
UPDATE = os.environ.get("ONNXGATE_UPDATE_EXPECTED") == "1"
#: Outcome codes stored per (model, target).
PASSED, FAILED, INVALID = "P", "F", "I"
# How long one validate call takes on these models is measured by bench/bench_robustness.py (a
# wall-clock bound in a test would depend on the machine).

pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings("ignore")]


def _onnx_version() -> str:
    import onnx

    return str(onnx.__version__)


def _node_cache_dir() -> Path:
    """Single-operator models written once per onnx version, shared by every xdist worker."""
    import onnx

    root = Path(tempfile.gettempdir()) / f"onnxgate-corpus-{os.getuid()}" / f"node-onnx-{_onnx_version()}"
    if (root / "DONE").exists():
        return root
    from onnx.backend.test.case.node import collect_testcases

    root.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".node-", dir=root.parent))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the reference outputs overflow on purpose in a few cases
            cases = collect_testcases(None)
        for case in cases:
            if case.model is not None:
                onnx.save_model(case.model, staging / f"{case.name}.onnx")
        (staging / "DONE").write_text(str(len(cases)))
        try:
            os.rename(staging, root)  # atomic; another worker may have won the race
        except OSError:
            if not (root / "DONE").exists():
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return root


def corpus() -> list[tuple[str, Path]]:
    """(id, path) for every corpus model, in a stable order."""
    import onnx

    data_root = Path(onnx.__file__).parent / "backend" / "test" / "data"
    items = [
        (f"data/{p.parent.relative_to(data_root).as_posix()}", p) for p in sorted(data_root.rglob("model.onnx"))
    ]
    node_root = _node_cache_dir()
    items += [(f"node/{p.stem}", p) for p in sorted(node_root.glob("*.onnx"))]
    return items


def _outcome(path: Path, target: str) -> str:
    """P/F for a Report, I for InvalidModelError, E:<class> for another OnnxGateError; crashes propagate."""
    import onnxgate as og
    from onnxgate.validators import Report

    try:
        report = og.validate(str(path), target=target)
    except InvalidModelError:
        return INVALID
    except OnnxGateError as err:
        return f"E:{type(err).__name__}"
    assert isinstance(report, Report), f"validate returned {type(report).__name__}"
    report.summary()
    return PASSED if report.passed else FAILED


def _load_expected() -> dict[str, Any]:
    """The stored expectation, with each model's line ``"P F F"`` unpacked to ``{target: code}``."""
    if not EXPECTED.exists():
        return {"models": {}, "totals": {}}
    data = dict(json.loads(EXPECTED.read_text()))
    targets = data.get("targets", list(TARGETS))
    data["models"] = {name: dict(zip(targets, line.split())) for name, line in data.get("models", {}).items()}
    return data


def _totals(models: dict[str, dict[str, str]]) -> dict[str, dict[str, int]]:
    totals: dict[str, dict[str, int]] = {}
    for target in TARGETS:
        counter = collections.Counter(outcomes.get(target, "?") for outcomes in models.values())
        totals[target] = {code: counter[code] for code in sorted(counter)}
    return totals


def _store(results: dict[str, dict[str, str]]) -> None:
    """Merge this chunk's outcomes into the expectation file under a lock (xdist writes concurrently)."""
    lock_path = Path(tempfile.gettempdir()) / f"onnxgate-corpus-{os.getuid()}.lock"
    with open(lock_path, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        data = _load_expected()
        models = dict(data.get("models", {}))
        models.update(results)
        header = {
            "about": "Outcome per corpus model for each target in 'targets' order: P report passed, F report "
            "failed, I InvalidModelError, E:<class> another OnnxGateError. Regenerate: "
            "ONNXGATE_UPDATE_EXPECTED=1 pytest tests/robustness/test_onnx_corpus.py",
            "onnx": _onnx_version(),
            "targets": list(TARGETS),
            "totals": _totals(models),
        }
        # One line per model keeps the file small and its diffs readable.
        lines = [json.dumps(header, indent=1)[:-2] + ',\n "models": {']
        lines.append(",\n".join(
            f"  {json.dumps(name)}: {json.dumps(' '.join(outcomes[t] for t in TARGETS))}"
            for name, outcomes in sorted(models.items())
        ))
        lines.append(" }\n}\n")
        tmp = EXPECTED.with_name(f".{EXPECTED.name}.tmp")
        tmp.write_text("\n".join(lines))
        os.replace(tmp, EXPECTED)


@pytest.mark.parametrize("chunk", range(CHUNKS), ids=lambda c: f"chunk{c}of{CHUNKS}")
def test_corpus_chunk_validates_without_crashing(chunk: int) -> None:
    items = corpus()[chunk::CHUNKS]
    results: dict[str, dict[str, str]] = {}
    crashes: list[str] = []
    start = time.perf_counter()
    for name, path in items:
        outcomes: dict[str, str] = {}
        for target in TARGETS:
            try:
                outcomes[target] = _outcome(path, target)
            except Exception as err:
                crashes.append(f"{name} [{target}]: {type(err).__name__}: {str(err)[:200]}\n"
                               + "".join(traceback.format_exception(err)[-3:]))
                outcomes[target] = f"CRASH:{type(err).__name__}"
        results[name] = outcomes
    elapsed = time.perf_counter() - start
    counts = _totals(results)
    print(f"\ncorpus chunk {chunk}: {len(items)} models x {len(TARGETS)} targets in {elapsed:.1f}s; {counts}")

    assert not crashes, f"{len(crashes)} validate call(s) raised something else than OnnxGateError:\n" + "\n".join(
        crashes[:20]
    )
    if UPDATE:
        _store(results)
        return
    expected = _load_expected().get("models", {})
    assert expected, f"{EXPECTED.name} is missing; create it with ONNXGATE_UPDATE_EXPECTED=1"
    changed = [
        f"{name} [{target}]: expected {expected.get(name, {}).get(target, 'absent')}, got {code}"
        for name, outcomes in results.items()
        for target, code in outcomes.items()
        if expected.get(name, {}).get(target) != code
    ]
    assert not changed, (
        f"{len(changed)} corpus outcome(s) changed (rerun with ONNXGATE_UPDATE_EXPECTED=1 if intended):\n"
        + "\n".join(changed[:40])
    )


def test_corpus_expectation_covers_the_corpus() -> None:
    """The stored expectation names exactly the corpus models, and its totals add up; print them."""
    if UPDATE:
        pytest.skip("the expectation file is being regenerated in this run")
    data = _load_expected()
    names = {name for name, _ in corpus()}
    stored = set(data.get("models", {}))
    assert names == stored, (
        f"corpus and {EXPECTED.name} differ: new {sorted(names - stored)[:10]}, gone {sorted(stored - names)[:10]}; "
        "rerun with ONNXGATE_UPDATE_EXPECTED=1"
    )
    assert data["totals"] == _totals(data["models"])
    assert len(names) > 1900, f"the corpus shrank to {len(names)} models"
    assert data.get("onnx") == _onnx_version(), "regenerate the expectation for this onnx version"
    for target, counts in data["totals"].items():
        print(f"corpus {target}: {counts}")
    # Every target accepts some models and rejects others: a gate that does only one is broken.
    for target in TARGETS:
        counts = data["totals"][target]
        assert counts.get(PASSED, 0) > 0 or target != "onnxruntime", counts
        assert not any(code.startswith("CRASH") for code in counts), counts
