"""A large model is validated in about the memory it takes to load, check and run it once: ``validate`` held 8 copies
of a model's weights at its peak (the file read again for its hash, a copy per check, one serialization per check,
shape inference's four), 4 GB for a 500 MB model where onnx and onnxruntime alone take 2 GB, and a 1.5 GB model
needed 12.5 GB. Measured in processes of their own (their peak RSS), so the ratio holds on any machine."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
#: float32 weights of the model: 6 MatMuls of 2048 x 2048, 96 MiB
MEGABYTES = 96
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
    """The benchmark's large model (``bench.bench_robustness._large_model``): 4 one-column inputs (as PREDICT feeds
    them), concatenated, through 2048-wide MatMuls and Relus, one column; written in a process of its own."""
    code = ("import sys; sys.path.insert(0, sys.argv[1]); from bench.bench_robustness import _large_model; "
            f"open(sys.argv[2], 'wb').write(_large_model({MEGABYTES}).SerializeToString())")
    subprocess.run([sys.executable, "-c", code, str(REPO), str(path)], check=True)


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
