"""A large model is validated in about the memory it takes to load, check and run it once: ``validate`` held 8 copies
of a model's weights at its peak (the file read again for its hash, a copy per check, one serialization per check,
shape inference's four), 4 GB for a 500 MB model where onnx and onnxruntime alone take 2 GB, and a 1.5 GB model
needed 12.5 GB. Measured in processes of their own (their peak RSS), so the ratio holds on any machine."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper

REPO = Path(__file__).resolve().parents[2]
#: float32 weights of the model: 6 MatMuls of 2048 x 2048, 96 MiB
LAYERS, WIDTH = 6, 2048
#: The least a gate must do with a model, in a process of its own: load it, run the ONNX checker, load it in
#: onnxruntime (from its bytes, as onnxgate does), run it once.
LOAD_CHECK_RUN = (
    "import sys, numpy as np, onnx, onnxruntime as ort\n"
    "model = onnx.load(sys.argv[1])\n"
    "onnx.checker.check_model(model)\n"
    "session = ort.InferenceSession(model.SerializeToString(), providers=['CPUExecutionProvider'])\n"
    "session.run(None, {i.name: np.zeros((8, 1), np.float32) for i in session.get_inputs()})\n"
)


def _large_model(path: Path) -> None:
    """4 one-column inputs (as PREDICT feeds them), concatenated, through 2048-wide MatMuls and Relus, one column."""
    rng = np.random.default_rng(0)
    inputs = [helper.make_tensor_value_info(f"x{i}", TensorProto.FLOAT, ["N", 1]) for i in range(4)]
    nodes = [helper.make_node("Concat", [i.name for i in inputs], ["c"], axis=1),
             helper.make_node("MatMul", ["c", "w_in"], ["h0"])]
    weights = [numpy_helper.from_array(rng.standard_normal((4, WIDTH)).astype(np.float32), "w_in")]
    for k in range(LAYERS):
        weights.append(numpy_helper.from_array(
            (rng.standard_normal((WIDTH, WIDTH)) / np.sqrt(WIDTH)).astype(np.float32), f"w{k}"))
        nodes += [helper.make_node("MatMul", [f"h{k}", f"w{k}"], [f"m{k}"]),
                  helper.make_node("Relu", [f"m{k}"], [f"h{k + 1}"])]
    weights.append(numpy_helper.from_array(rng.standard_normal((WIDTH, 1)).astype(np.float32), "w_out"))
    nodes.append(helper.make_node("MatMul", [f"h{LAYERS}", "w_out"], ["y"]))
    graph = helper.make_graph(nodes, "large", inputs, [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 1])],
                              weights)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 12)], ir_version=7)
    path.write_bytes(model.SerializeToString())


def _peak_rss_mb(argv: list[str], cwd: Path) -> tuple[float, int, str]:
    """(peak RSS in MB, exit code, stderr) of ``argv`` run in a process of its own."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.Popen(argv, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    assert proc.stderr is not None
    err = proc.stderr.read().decode(errors="replace")
    _pid, status, usage = os.wait4(proc.pid, 0)
    proc.stderr.close()
    return usage.ru_maxrss / 1024.0, os.waitstatus_to_exitcode(status), err[-2000:]


@pytest.mark.slow
@pytest.mark.parametrize("target", ["container", "sql-edge-2.0"])
def test_validate_takes_the_memory_of_loading_and_running_the_model_once(tmp_path, monkeypatch, target):
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "large.onnx"
    _large_model(path)
    floor, code, err = _peak_rss_mb([sys.executable, "-c", LOAD_CHECK_RUN, str(path)], tmp_path)
    assert code == 0, err
    peak, code, err = _peak_rss_mb([sys.executable, "-m", "onnxgate", "validate", str(path), "--target", target],
                                   tmp_path)
    assert code == 0, err
    # 1.00x measured (548 MB and 548 MB), 1.52x before (835 MB)
    assert peak <= 1.25 * floor, f"validate --target {target} peaked at {peak:.0f} MB, loading, checking and " \
        f"running the model once at {floor:.0f} MB"
