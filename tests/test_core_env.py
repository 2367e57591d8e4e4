"""What must work with only the core dependencies (numpy, onnx, onnxruntime, protobuf).

``scripts/test.sh`` also runs this file in ``.venv-core``, a virtualenv with no framework, no pandas
and no scikit-learn installed (tox env ``core`` does the same).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

FRAMEWORKS = ("torch", "tensorflow", "keras", "sklearn", "skl2onnx", "tf2onnx", "pandas")


def _tiny_model(path: Path) -> None:
    import onnx
    from onnx import TensorProto, helper

    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 1])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 1])
    graph = helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "tiny", [x], [y])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 7
    onnx.save(model, path)


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, timeout=120)


def test_help_works_and_imports_no_framework() -> None:
    proc = _run("-m", "onnxgate", "--help")
    assert proc.returncode == 0 and "validate" in proc.stdout


def test_validate_an_onnx_file_without_frameworks(tmp_path: Path) -> None:
    model = tmp_path / "tiny.onnx"
    _tiny_model(model)
    code = f"""
import sys, json
import onnxgate as og
report = og.validate({str(model)!r}, target="sql-edge-2.0")
print(json.dumps({{"passed": report.passed,
                  "loaded": sorted(m for m in {list(FRAMEWORKS)!r} if m in sys.modules)}}))
"""
    proc = _run("-c", code)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result == {"passed": True, "loaded": []}


def test_cli_validate_without_frameworks(tmp_path: Path) -> None:
    model = tmp_path / "tiny.onnx"
    _tiny_model(model)
    proc = _run("-m", "onnxgate", "validate", str(model), "--target", "sql-edge-2.0")
    assert proc.returncode == 0, proc.stderr


def test_converting_without_the_framework_names_the_extra(tmp_path: Path) -> None:
    import importlib.util

    if importlib.util.find_spec("skops") is not None:
        pytest.skip("only meaningful without the sklearn extra (scripts/test.sh runs it in .venv-core)")
    model = tmp_path / "model.skops"
    model.write_bytes(b"PK\x05\x06" + bytes(18))  # an empty zip: never opened, the extra is missing first
    proc = _run("-m", "onnxgate", "convert", str(model), "-o", str(tmp_path / "m.onnx"))
    assert proc.returncode == 2
    err = proc.stderr.strip().splitlines()
    assert len(err) == 1 and "pip install 'onnxgate[sklearn]'" in err[0], err
