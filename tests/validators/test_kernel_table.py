"""A SQL target's own onnxruntime (SQL Edge 1.0: 1.5.3, 2.0: 1.12.1, Synapse: assumed 1.5) lacks kernels the installed
one has: a node it has no CPU kernel for in the file's types fails the target's operators_supported check, though
onnxruntime here loads the file (the database refused it at PREDICT time)."""

from __future__ import annotations

import onnx
import pytest
from onnx import TensorProto, helper

import onnxgate as og
from onnxgate.validators import structure
from onnxgate.validators.report import CheckResult


def _one_node(op: str, elem: int, *, out_elem: int | None = None) -> onnx.ModelProto:
    """``[N,1]`` column in, ``op`` on it, one ``[N,1]`` output, at opset 12: a file as a SQL target takes it."""
    node = helper.make_node(op, ["x"], ["y"], name=f"{op.lower()}_node")
    graph = helper.make_graph([node], "g", [helper.make_tensor_value_info("x", elem, ["N", 1])],
                              [helper.make_tensor_value_info("y", out_elem or elem, ["N", 1])])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 12)], ir_version=7)


def _where(elem: int) -> onnx.ModelProto:
    """``Where(x > 0, x, -x)`` on a column of ``elem``."""
    x = helper.make_tensor_value_info("x", elem, ["N", 1])
    zero = helper.make_tensor("zero", elem, [], [0])
    nodes = [helper.make_node("Greater", ["x", "zero"], ["positive"], name="greater_node"),
             helper.make_node("Neg", ["x"], ["minus"], name="neg_node"),
             helper.make_node("Where", ["positive", "x", "minus"], ["y"], name="where_node")]
    graph = helper.make_graph(nodes, "g", [x], [helper.make_tensor_value_info("y", elem, ["N", 1])], [zero])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 12)], ir_version=7)


def _supported(model: onnx.ModelProto, target: str) -> CheckResult:
    return structure.check_operators_supported(model, og.targets.get(target))


@pytest.mark.parametrize(("op", "target"), [("Log", "sql-edge-1.0"), ("Sigmoid", "sql-edge-1.0"),
                                            ("Tanh", "synapse")])
def test_a_double_operator_the_target_runtime_lacks_fails_it_naming_node_type_runtime_and_fix(op: str,
                                                                                              target: str) -> None:
    result = _supported(_one_node(op, TensorProto.DOUBLE), target)
    assert not result.passed
    assert f"'{op.lower()}_node' ({op}-6, T=double)" in result.message
    assert "onnxruntime 1.5" in result.message and "PREDICT" in result.message
    assert "--precision float32" in result.message
    assert result.details["offenders"][0]["types"] == {"T": "double"}
    # the installed onnxruntime (1.32) has the kernel: the plain target passes the same file
    assert _supported(_one_node(op, TensorProto.DOUBLE), "onnxruntime").passed
    # and the float32 twin passes every SQL target
    for sql in ("sql-edge-1.0", "sql-edge-2.0", "synapse"):
        assert _supported(_one_node(op, TensorProto.FLOAT), sql).passed, sql


def test_a_double_where_fails_sql_edge_1_0_only_and_names_only_that_node() -> None:
    result = _supported(_where(TensorProto.DOUBLE), "sql-edge-1.0")
    assert not result.passed
    assert [o["node"] for o in result.details["offenders"]] == ["where_node"]  # Greater and Neg take double there
    assert "B=bool, T=double" in result.message
    assert _supported(_where(TensorProto.DOUBLE), "sql-edge-2.0").passed  # 1.12.1 has a double Where
    assert _supported(_where(TensorProto.FLOAT), "sql-edge-1.0").passed


def test_a_double_isnan_fails_sql_edge_2_0_whose_runtime_lacks_it_too() -> None:
    model = _one_node("IsNaN", TensorProto.DOUBLE, out_elem=TensorProto.BOOL)
    result = _supported(model, "sql-edge-2.0")
    assert not result.passed
    assert "onnxruntime 1.12.1" in result.message and "IsNaN-9, T1=double, T2=bool" in result.message
    assert _supported(model, "onnxruntime").passed


def test_validate_fails_the_target_and_a_profile_naming_a_runtime_without_a_table_is_not_held_to_one() -> None:
    model = _one_node("Log", TensorProto.DOUBLE)
    assert "operators_supported" in [c.name for c in og.validate(model, target="sql-edge-1.0").failures]
    later = og.targets.get("sql-edge-1.0").with_(name="edge-ort-1-32", runtime="onnxruntime 1.32.0")
    assert structure.check_operators_supported(model, later).passed


def test_parity_still_runs_when_only_the_target_runtime_lacks_a_kernel() -> None:
    # onnxruntime here loads the file: the report says what the target refuses and whether the answers are right
    import numpy as np

    model = _one_node("Log", TensorProto.DOUBLE)
    data = np.linspace(0.5, 4.0, 20).reshape(-1, 1)
    report = og.validate(model, target="sql-edge-1.0", reference=model, data=data)
    assert [c.name for c in report.failures] == ["operators_supported"]
    assert report.check("prediction_parity").passed
