"""``output_after``: a node appended after a graph output, the tensor that was the output renamed, also where an
If/Loop/Scan body reads that output by name from the main graph (its outer scope)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper

from onnxgate._graph import output_after

_ROWS = [None, 3]


def _float(name: str) -> onnx.ValueInfoProto:
    return helper.make_tensor_value_info(name, TensorProto.FLOAT, _ROWS)


def _if(reads: str, out: str) -> onnx.NodeProto:
    """An If on ``x``'s smallest value being negative (it is, in ``_X``), each branch reading ``reads``."""
    then = helper.make_graph([helper.make_node("Neg", [reads], [f"{out}_then"])], f"{out}_then",
                             [], [_float(f"{out}_then")])
    other = helper.make_graph([helper.make_node("Abs", [reads], [f"{out}_else"])], f"{out}_else",
                              [], [_float(f"{out}_else")])
    return helper.make_node("If", ["negative"], [out], then_branch=then, else_branch=other)


def _loop(body_nodes: list[onnx.NodeProto], carried: str, out: str) -> onnx.NodeProto:
    """A one-trip Loop over ``n`` (``-x``), its carried value named ``carried`` in the body, which writes it
    as ``{out}_next``."""
    body = helper.make_graph(
        [helper.make_node("Identity", ["go"], ["go_on"]), *body_nodes], f"{out}_body",
        [helper.make_tensor_value_info("trip", TensorProto.INT64, []),
         helper.make_tensor_value_info("go", TensorProto.BOOL, []), _float(carried)],
        [helper.make_tensor_value_info("go_on", TensorProto.BOOL, []), _float(f"{out}_next")])
    return helper.make_node("Loop", ["one_trip", "", "n"], [out], body=body)


def _if_branches() -> list[onnx.NodeProto]:
    return [_if("y", "z")]


def _if_in_a_loop_body() -> list[onnx.NodeProto]:
    # the body adds y, read through the If it holds, to its carried value
    return [_loop([_if("y", "picked"), helper.make_node("Add", ["carried", "picked"], ["z_next"])], "carried", "z")]


def _a_loop_body_s_own_y_beside_an_if() -> list[onnx.NodeProto]:
    # the Loop body's carried value is named y too: there ``y`` is the body's own (``-x``), not the output
    return [_if("y", "z"), _loop([helper.make_node("Abs", ["y"], ["w_next"])], "y", "w")]


def _a_branch_writing_the_renamed_name() -> list[onnx.NodeProto]:
    # the name the output's tensor is renamed to is taken inside a branch: it must not be the one chosen
    then = helper.make_graph([helper.make_node("Neg", ["y"], ["y_positive"]),
                              helper.make_node("Identity", ["y_positive"], ["z_then"])], "z_then",
                             [], [_float("z_then")])
    other = helper.make_graph([helper.make_node("Abs", ["y"], ["z_else"])], "z_else", [], [_float("z_else")])
    return [helper.make_node("If", ["negative"], ["z"], then_branch=then, else_branch=other)]


def _model(consumers: Callable[[], list[onnx.NodeProto]]) -> onnx.ModelProto:
    """Output ``y`` (``Relu(x)``), read by name in the bodies of ``consumers``, whose outputs follow it."""
    nodes = [helper.make_node("Relu", ["x"], ["y"]), helper.make_node("Neg", ["x"], ["n"]),
             helper.make_node("ReduceMin", ["x"], ["smallest"], keepdims=0),
             helper.make_node("Less", ["smallest", "zero"], ["negative"]), *consumers()]
    outputs = [out for node in nodes if node.op_type in ("If", "Loop") for out in node.output]
    graph = helper.make_graph(nodes, "g", [_float("x")], [_float("y"), *map(_float, outputs)],
                              [helper.make_tensor("zero", TensorProto.FLOAT, [], [0.0]),
                               helper.make_tensor("one_trip", TensorProto.INT64, [], [1])])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


_X = np.array([[1.0, -2.0, 3.0], [-0.5, 0.0, 4.0]], dtype=np.float32)


def _run(model: onnx.ModelProto) -> list[np.ndarray]:
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return session.run(None, {"x": _X})


@pytest.mark.parametrize("consumers", [_if_branches, _if_in_a_loop_body, _a_loop_body_s_own_y_beside_an_if,
                                       _a_branch_writing_the_renamed_name],
                         ids=["if_branches", "if_in_a_loop_body", "a_loop_body_s_own_y_beside_an_if",
                              "a_branch_writing_the_renamed_name"])
def test_a_body_reading_the_output_keeps_reading_the_value_it_read(consumers: Callable[[], list[onnx.NodeProto]]
                                                                   ) -> None:
    # the branches read the output by name and were left reading it: the Neg appended after the If wrote it, the
    # checker refused the order, and onnxruntime gave the branches the negated value (z came back as Relu(x))
    model = _model(consumers)
    onnx.checker.check_model(model, full_check=True)
    before = _run(model)
    output_after(model.graph, "y", "Neg", was="positive", node="negated")
    onnx.checker.check_model(model, full_check=True)
    after = _run(model)
    # Relu, Neg, Abs and one Add of these values are exact in float32: the answers are the same bits
    np.testing.assert_array_equal(after[0], -before[0])
    for got, want in zip(after[1:], before[1:]):
        np.testing.assert_array_equal(got, want)
