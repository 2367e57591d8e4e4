"""How long onnxgate takes on hostile and unusual models: the wall-clock bounds the robustness tests
used to assert (a bound in a test depends on the machine; here it is a goal, printed as a ratio).

* ``corrupt-file``: refusing a truncated model (``load_model`` and ``validate``), bound 10 s a call;
* ``huge-dims``: validating a model whose input is fixed at 2**40 x 4 rows (nothing may allocate it),
  bound 60 s;
* ``onnx-corpus``: ``validate`` on every ``model.onnx`` shipped in onnx's backend test data (a
  sample with ``--quick``) for three targets; the slowest call, bound 30 s.

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
#: Seconds: the bounds the tests asserted before they moved here.
BOUND_CORRUPT_S = 10.0
BOUND_HUGE_S = 60.0
BOUND_CORPUS_CALL_S = 30.0
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


def measure(quick: bool = False) -> dict[str, Any]:
    import onnx

    import onnxgate as og
    from onnxgate._onnx import load_model

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        whole = _identity(["N", 4]).SerializeToString()
        corrupt = folder / "truncated.onnx"
        corrupt.write_bytes(whole[: len(whole) // 2])
        corrupt_times = [_timed(lambda: load_model(corrupt))]
        corrupt_times += [_timed(lambda t=t: og.validate(str(corrupt), target=t)) for t in TARGETS]
        huge = folder / "huge.onnx"
        huge.write_bytes(_identity([2**40, 4]).SerializeToString())
        huge_s = _timed(lambda: og.validate(str(huge), target="onnxruntime"))
    data_root = Path(onnx.__file__).parent / "backend" / "test" / "data"
    models = sorted(data_root.rglob("model.onnx"))
    if quick:
        models = models[:QUICK_CORPUS]
    slowest = (0.0, "")
    total = 0.0
    for path in models:
        for target in TARGETS:
            seconds = _timed(lambda p=path, t=target: og.validate(str(p), target=t))
            total += seconds
            if seconds > slowest[0]:
                slowest = (seconds, f"{path.parent.relative_to(data_root).as_posix()} [{target}]")
    return {
        "corrupt_max_s": max(corrupt_times),
        "huge_dims_s": huge_s,
        "corpus_models": len(models),
        "corpus_total_s": total,
        "corpus_slowest_s": slowest[0],
        "corpus_slowest": slowest[1],
    }


def main(quick: bool = False) -> list[dict[str, Any]]:
    data = measure(quick)
    return [
        row(BENCHMARK, "corrupt-file", "slowest_refusal", data["corrupt_max_s"], BOUND_CORRUPT_S, "<= 1", "s"),
        row(BENCHMARK, "huge-dims", "validate_2**40_rows", data["huge_dims_s"], BOUND_HUGE_S, "<= 1", "s"),
        row(BENCHMARK, "onnx-corpus", "slowest_validate_call", data["corpus_slowest_s"], BOUND_CORPUS_CALL_S,
            "<= 1", "s", model=data["corpus_slowest"], models=data["corpus_models"],
            total_s=round(data["corpus_total_s"], 2)),
    ]


if __name__ == "__main__":
    for r in main("--quick" in sys.argv[1:]):
        print(r)
