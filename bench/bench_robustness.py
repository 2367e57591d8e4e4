"""How long onnxgate takes on hostile and unusual models, against the same work on a sound model in
the same run (the wall-clock bounds the robustness tests used to assert depend on the machine; a
ratio to a baseline measured here does not):

* ``corrupt-file``: refusing a truncated model (``load_model`` and ``validate`` for three targets),
  against validating the intact file for the same targets; goal <= 1.5x (a refusal must not cost
  more than the work it refuses);
* ``huge-dims``: validating a model whose input is fixed at 2**40 x 4 rows (nothing may allocate
  it) against the same graph with a dynamic ``N``; goal <= 2x;
* ``onnx-corpus``: ``validate`` on every ``model.onnx`` shipped in onnx's backend test data (a
  sample with ``--quick``) for three targets, against creating an onnxruntime session for the same
  files (the least a gate must do: load the model): the totals, and the slowest validate against the
  slowest sessions (a model that makes validate hang shows there), goal <= 10x each.

Run: ``.venv/bin/python bench/bench_robustness.py [--quick]``; ``bench/run.py`` calls :func:`main`.
The correctness side of these cases stays in tests/robustness/ (refused cleanly, bounded memory).
"""

from __future__ import annotations

import contextlib
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._util import row

BENCHMARK = "robustness"
TARGETS = ("onnxruntime", "sql-edge-2.0", "container")
QUICK_CORPUS = 40


def _timed(fn: Any) -> float:
    start = time.perf_counter()
    # a clean refusal (OnnxGateError) is what the tests check; here only the time counts
    with contextlib.suppress(Exception):
        fn()
    return time.perf_counter() - start


def _identity(dims: list[int | str]) -> Any:
    from onnx import TensorProto, helper

    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, dims)
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, dims)
    graph = helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "g", [x], [y])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], ir_version=7)


def _session_time(path: Path) -> float:
    """Seconds to create one onnxruntime session for ``path`` per target (what validate must at least do)."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.log_severity_level = 4
    return _timed(lambda: [ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
                           for _ in TARGETS])


def measure(quick: bool = False) -> dict[str, Any]:
    import onnx

    import onnxgate as og
    from onnxgate._onnx import load_model

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        whole = _identity(["N", 4]).SerializeToString()
        intact = folder / "intact.onnx"
        intact.write_bytes(whole)
        corrupt = folder / "truncated.onnx"
        corrupt.write_bytes(whole[: len(whole) // 2])
        for target in TARGETS:  # warm-up: the first call of each target imports its checks
            _timed(lambda t=target: og.validate(str(intact), target=t))
        corrupt_s = _timed(lambda: load_model(corrupt))
        corrupt_s += sum(_timed(lambda t=t: og.validate(str(corrupt), target=t)) for t in TARGETS)
        intact_s = _timed(lambda: load_model(intact))
        intact_s += sum(_timed(lambda t=t: og.validate(str(intact), target=t)) for t in TARGETS)
        huge = folder / "huge.onnx"
        huge.write_bytes(_identity([2**40, 4]).SerializeToString())
        huge_s = _timed(lambda: og.validate(str(huge), target="onnxruntime"))
        dynamic_s = _timed(lambda: og.validate(str(intact), target="onnxruntime"))
    data_root = Path(onnx.__file__).parent / "backend" / "test" / "data"
    models = sorted(data_root.rglob("model.onnx"))
    if quick:
        models = models[:QUICK_CORPUS]
    slowest = (0.0, "")
    total = sessions = slowest_session = 0.0
    for path in models:
        seconds = sum(_timed(lambda p=path, t=target: og.validate(str(p), target=t)) for target in TARGETS)
        baseline = _session_time(path)
        total += seconds
        sessions += baseline
        slowest_session = max(slowest_session, baseline)
        if seconds > slowest[0]:
            slowest = (seconds, path.parent.relative_to(data_root).as_posix())
    return {
        "corrupt_s": corrupt_s,
        "intact_s": intact_s,
        "huge_dims_s": huge_s,
        "dynamic_dims_s": dynamic_s,
        "corpus_models": len(models),
        "corpus_total_s": total,
        "corpus_sessions_s": sessions,
        "corpus_slowest_s": slowest[0],
        "corpus_slowest_session_s": slowest_session,
        "corpus_slowest": slowest[1],
    }


def main(quick: bool = False) -> list[dict[str, Any]]:
    data = measure(quick)
    return [
        row(BENCHMARK, "corrupt-file", "refusal vs validating the intact file", data["corrupt_s"],
            data["intact_s"], "<= 1.5", "s"),
        row(BENCHMARK, "huge-dims", "validate 2**40 rows vs dynamic N", data["huge_dims_s"], data["dynamic_dims_s"],
            "<= 2", "s"),
        row(BENCHMARK, "onnx-corpus", "validate (3 targets) vs onnxruntime sessions, all models",
            data["corpus_total_s"], data["corpus_sessions_s"], "<= 10", "s", models=data["corpus_models"]),
        row(BENCHMARK, "onnx-corpus", "slowest validate vs slowest onnxruntime sessions",
            data["corpus_slowest_s"], data["corpus_slowest_session_s"], "<= 10", "s", model=data["corpus_slowest"]),
    ]


if __name__ == "__main__":
    for r in main("--quick" in sys.argv[1:]):
        print(r)
