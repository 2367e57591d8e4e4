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
  slowest sessions (a model that makes validate hang shows there), goal <= 10x each;
* ``large-model``: ``onnxgate validate --target sql-edge-2.0`` (the target whose checks load the model most) on
  a model of :data:`LARGE_MODEL_MB` MB of weights (4 one-column inputs, 2048-wide MatMuls; made with
  onnx.helper), its peak RSS and wall time against the least a gate must do, in a process of its own:
  ``onnx.load``, ``onnx.checker.check_model``, one onnxruntime session from the serialized bytes, one run.
  Goal <= 1.25x for memory: the model as a proto, as bytes and onnxruntime's copy are the baseline's too, and
  validate held 2x the baseline's (8 copies of the weights) when it serialized, parsed and copied the model in
  each check. Wall time is informational.

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
#: Megabytes of weights of the ``large-model`` case (``--quick``: :data:`QUICK_LARGE_MODEL_MB`).
LARGE_MODEL_MB = 200
QUICK_LARGE_MODEL_MB = 40
#: The baseline of ``large-model``, run as ``python -c`` with the model's path as its argument.
_LOAD_CHECK_RUN = (
    "import sys, numpy as np, onnx, onnxruntime as ort\n"
    "model = onnx.load(sys.argv[1])\n"
    "onnx.checker.check_model(model)\n"
    "session = ort.InferenceSession(model.SerializeToString(), providers=['CPUExecutionProvider'])\n"
    "session.run(None, {i.name: np.zeros((8, 1), np.float32) for i in session.get_inputs()})\n"
)


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


def _large_model(megabytes: int) -> Any:
    """A model of about ``megabytes`` MB of float32 weights: 4 one-column inputs concatenated, then 2048-wide
    MatMuls with a Relu between them, one output column."""
    import numpy as np
    from onnx import TensorProto, helper, numpy_helper

    width = 2048
    rng = np.random.default_rng(0)
    inputs = [helper.make_tensor_value_info(f"x{i}", TensorProto.FLOAT, ["N", 1]) for i in range(4)]
    nodes = [helper.make_node("Concat", [i.name for i in inputs], ["c"], axis=1),
             helper.make_node("MatMul", ["c", "w_in"], ["h0"])]
    weights = [numpy_helper.from_array(rng.standard_normal((4, width)).astype(np.float32), "w_in")]
    layers = max(1, round(megabytes * 2**20 / (width * width * 4)))
    for k in range(layers):
        weights.append(numpy_helper.from_array(
            (rng.standard_normal((width, width)) / np.sqrt(width)).astype(np.float32), f"w{k}"))
        nodes += [helper.make_node("MatMul", [f"h{k}", f"w{k}"], [f"m{k}"]),
                  helper.make_node("Relu", [f"m{k}"], [f"h{k + 1}"])]
    weights.append(numpy_helper.from_array(rng.standard_normal((width, 1)).astype(np.float32), "w_out"))
    nodes.append(helper.make_node("MatMul", [f"h{layers}", "w_out"], ["y"]))
    output = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 1])
    graph = helper.make_graph(nodes, "large", inputs, [output], weights)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 12)], ir_version=7)


def measure_large_model(quick: bool = False) -> dict[str, Any]:
    """Peak RSS and wall time of ``onnxgate validate --target sql-edge-2.0`` and of the baseline on a large model,
    each in a process of its own (medians of 3, 1 with ``quick``)."""
    from bench._util import onnxgate_command, python, time_command

    repeat = 1 if quick else 3
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "large.onnx"
        path.write_bytes(_large_model(QUICK_LARGE_MODEL_MB if quick else LARGE_MODEL_MB).SerializeToString())
        size_mb = path.stat().st_size / 2**20
        gate = time_command([*onnxgate_command(), "validate", str(path), "--target", "sql-edge-2.0"],
                            repeat=repeat, warmup=0)
        floor = time_command([python(), "-c", _LOAD_CHECK_RUN, str(path)], repeat=repeat, warmup=0)
    for name, run in (("validate", gate), ("baseline", floor)):
        if run["exit_codes"] != [0]:
            raise RuntimeError(f"large-model {name} exited {run['exit_codes']}: {run['stderr']}")
    return {"size_mb": size_mb, "validate": gate, "baseline": floor}


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
    large = measure_large_model(quick)
    note = f"{large['size_mb']:.0f} MB model"
    return [
        row(BENCHMARK, "corrupt-file", "refusal vs validating the intact file", data["corrupt_s"],
            data["intact_s"], "<= 1.5", "s"),
        row(BENCHMARK, "huge-dims", "validate 2**40 rows vs dynamic N", data["huge_dims_s"], data["dynamic_dims_s"],
            "<= 2", "s"),
        row(BENCHMARK, "onnx-corpus", "validate (3 targets) vs onnxruntime sessions, all models",
            data["corpus_total_s"], data["corpus_sessions_s"], "<= 10", "s", models=data["corpus_models"]),
        row(BENCHMARK, "onnx-corpus", "slowest validate vs slowest onnxruntime sessions",
            data["corpus_slowest_s"], data["corpus_slowest_session_s"], "<= 10", "s", model=data["corpus_slowest"]),
        row(BENCHMARK, "large-model", "validate sql-edge-2.0 peak RSS vs load + checker + session + run",
            large["validate"]["peak_rss_mb"], large["baseline"]["peak_rss_mb"], "<= 1.25", "MB", note=note),
        row(BENCHMARK, "large-model", "validate sql-edge-2.0 wall vs load + checker + session + run",
            large["validate"]["seconds"], large["baseline"]["seconds"], None, "s", note=note),
    ]


if __name__ == "__main__":
    for r in main("--quick" in sys.argv[1:]):
        print(r)
