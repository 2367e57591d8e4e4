"""``onnxgate validate FILE`` on ONNX files onnxgate did not write: the verdict per target is what the target's
runtime does with the file (built here, in tmp_path, as the exporters users bring write them)."""

from __future__ import annotations

import numpy as np
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

from onnxgate.cli import main


def _local_function_model(*, function_opset=17, model_opset=17, ir_version=8):
    """Y = X * 3 through a model-local function ``local.Triple`` (what torch's exporters write for a module
    exported as a function), inputs and outputs [N,1] float32 as PREDICT reads them."""
    three = numpy_helper.from_array(np.array(3.0, dtype=np.float32))
    function = helper.make_function(
        "local", "Triple", ["x"], ["y"],
        [helper.make_node("Constant", [], ["c"], value=three), helper.make_node("Mul", ["x", "c"], ["y"])],
        opset_imports=[helper.make_opsetid("", function_opset)],
    )
    graph = helper.make_graph(
        [helper.make_node("Triple", ["X"], ["Y"], domain="local", name="triple")], "g",
        [helper.make_tensor_value_info("X", TensorProto.FLOAT, ["N", 1])],
        [helper.make_tensor_value_info("Y", TensorProto.FLOAT, ["N", 1])],
    )
    model = helper.make_model(graph, functions=[function],
                              opset_imports=[helper.make_opsetid("", model_opset), helper.make_opsetid("local", 1)])
    model.ir_version = ir_version
    return model


def _validate(capsys, path, target):
    code = main(["validate", str(path), "--target", target])
    return code, capsys.readouterr().out


def test_a_model_local_function_passes_where_the_runtime_reads_them(tmp_path, capsys):
    path = tmp_path / "triple.onnx"
    path.write_bytes(_local_function_model().SerializeToString())
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    assert session.run(None, {"X": np.ones((2, 1), np.float32)})[0].tolist() == [[3.0], [3.0]]
    # onnxruntime 1.12 (SQL Edge 2.0) reads model-local functions (IR 8, onnxruntime 1.9 on); the file's
    # own domain is no runtime's operator set: it was refused as "not available there"
    code, out = _validate(capsys, path, "sql-edge-2.0")
    assert code == 0, out
    assert "not available there" not in out
    assert "all 2 nodes exist at the target's opsets" in out  # the function's Constant and Mul, checked


def test_a_function_importing_a_newer_opset_than_the_target_has_fails(tmp_path, capsys):
    # the checker takes a function importing ai.onnx 18 in a model stamped 17; its nodes resolve at 18
    path = tmp_path / "triple18.onnx"
    path.write_bytes(_local_function_model(function_opset=18).SerializeToString())
    code, out = _validate(capsys, path, "sql-edge-2.0")
    assert code == 1, out
    assert "ai.onnx opset 18 > 17 (imported by function local.Triple)" in out


def test_model_local_functions_fail_where_the_runtime_reads_ir_7(tmp_path, capsys):
    # stamped IR 7 with functions: onnxruntime 1.32 runs it, SQL Edge 1.0's 1.5.3 ignores the functions
    path = tmp_path / "triple_ir7.onnx"
    path.write_bytes(_local_function_model(model_opset=12, function_opset=12, ir_version=7).SerializeToString())
    code, out = _validate(capsys, path, "sql-edge-1.0")
    assert code == 1, out
    assert "domain 'local' holds the model's own functions, which a runtime reads from IR version 8 on" in out
    assert "inline_local_functions" in out


@pytest.mark.parametrize("target", ["sql-edge-1.0", "sql-edge-2.0"])
def test_a_function_node_newer_than_the_target_opset_is_named(tmp_path, capsys, target):
    path = tmp_path / "triple.onnx"
    path.write_bytes(_local_function_model().SerializeToString())
    code, out = _validate(capsys, path, target)
    if target == "sql-edge-2.0":
        assert code == 0, out
    else:
        assert code == 1
        assert "'local.Triple/<unnamed>' (Mul) needs ai.onnx opset 14 > 12" in out


def _bfloat16_identity():
    graph = helper.make_graph(
        [helper.make_node("Identity", ["X"], ["Y"])], "g",
        [helper.make_tensor_value_info("X", TensorProto.BFLOAT16, ["N", 1])],
        [helper.make_tensor_value_info("Y", TensorProto.BFLOAT16, ["N", 1])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 7
    return model


@pytest.mark.parametrize("target", ["container", "mlflow"])
def test_a_bfloat16_model_fails_the_serving_targets_their_package_refuses(tmp_path, capsys, monkeypatch, target):
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "half.onnx"
    path.write_bytes(_bfloat16_identity().SerializeToString())
    # onnxruntime loads it, but a JSON service holds its values in numpy, which has no bfloat16: validate
    # passed it for the container, then `onnxgate package` refused it (exit 2)
    code, out = _validate(capsys, path, target)
    assert code == 1, out
    assert "'X' is bfloat16 (use float32)" in out and "'Y' is bfloat16 (use float32)" in out
    assert main(["package", str(path), "--target", target, "-o", "pkg"]) != 0
    assert not (tmp_path / "pkg").exists()
