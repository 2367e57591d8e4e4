"""Small ONNX models built by hand, each breaking one rule on purpose."""

from __future__ import annotations

from collections.abc import Sequence

import onnx
from onnx import TensorProto, helper

Dims = Sequence[int | str | None]


def vi(name: str, elem: int, shape: Dims | None) -> onnx.ValueInfoProto:
    return helper.make_tensor_value_info(name, elem, None if shape is None else list(shape))


def model(
    nodes: list[onnx.NodeProto],
    inputs: list[onnx.ValueInfoProto],
    outputs: list[onnx.ValueInfoProto],
    *,
    opset: int = 13,
    ml_opset: int | None = None,
    ir_version: int | None = None,
    initializers: list[onnx.TensorProto] | None = None,
) -> onnx.ModelProto:
    opsets = [helper.make_opsetid("", opset)]
    if ml_opset is not None:
        opsets.append(helper.make_opsetid("ai.onnx.ml", ml_opset))
    graph = helper.make_graph(nodes, "broken", inputs, outputs, initializer=initializers or [])
    m = helper.make_model(graph, opset_imports=opsets)
    m.ir_version = ir_version if ir_version is not None else 7
    return m


def identity_model(
    name: str = "x", elem: int = TensorProto.FLOAT, shape: Dims = ("N", 1), *, opset: int = 13, ir_version: int = 7
) -> onnx.ModelProto:
    """y = Identity(x): passes every SQL rule with the defaults."""
    return model(
        [helper.make_node("Identity", [name], ["y"], name="id")],
        [vi(name, elem, shape)],
        [vi("y", elem, shape)],
        opset=opset,
        ir_version=ir_version,
    )


def typed_inputs_model(types: dict[str, int]) -> onnx.ModelProto:
    """One [N,1] input per entry, each cast to float and summed into 'y'."""
    nodes = []
    names = []
    for name in types:
        nodes.append(helper.make_node("Cast", [name], [f"{name}_f"], to=TensorProto.FLOAT, name=f"cast_{name}"))
        names.append(f"{name}_f")
    nodes.append(helper.make_node("Sum", names, ["y"], name="sum"))
    return model(nodes, [vi(n, e, ("N", 1)) for n, e in types.items()], [vi("y", TensorProto.FLOAT, ("N", 1))])


def wide_input_model(width: int = 3) -> onnx.ModelProto:
    """One [N,width] input 'features' reduced to one [N,1] output."""
    return model(
        [helper.make_node("ReduceSum", ["features", "axes"], ["y"], keepdims=1, name="rs")],
        [vi("features", TensorProto.FLOAT, ("N", width))],
        [vi("y", TensorProto.FLOAT, ("N", 1))],
        initializers=[helper.make_tensor("axes", TensorProto.INT64, [1], [1])],
    )


def reduce_mean_18() -> onnx.ModelProto:
    """Opset 18: ReduceMean-18 (axes as an input) is newer than opset 17."""
    return model(
        [
            helper.make_node("ReduceMean", ["x", "axes"], ["m"], keepdims=1, name="mean18"),
            helper.make_node("Relu", ["m"], ["y"], name="relu"),
        ],
        [vi("x", TensorProto.FLOAT, ("N", 1))],
        [vi("y", TensorProto.FLOAT, ("N", 1))],
        opset=18,
        ir_version=8,
        initializers=[helper.make_tensor("axes", TensorProto.INT64, [1], [1])],
    )


def unsupported_nodes_model() -> onnx.ModelProto:
    """Three nodes onnxruntime rejects (Cos and Sin on int32, an unknown op), one it accepts."""
    return model(
        [
            helper.make_node("Identity", ["x"], ["a"], name="fine_identity"),
            helper.make_node("Cos", ["a"], ["b"], name="cos_int"),
            helper.make_node("Sin", ["b"], ["c"], name="sin_int"),
            helper.make_node("NoSuchOp", ["c"], ["y"], name="mystery"),
        ],
        [vi("x", TensorProto.INT32, ("N", 1))],
        [vi("y", TensorProto.INT32, ("N", 1))],
    )


def batch_sum_model(rank1: bool = False, declared: Dims | None = None) -> onnx.ModelProto:
    """'y' = the sum over the batch of x[N,1]: one value for all rows, declared [1,1] (or [1] when ``rank1``),
    or ``declared``."""
    nodes = [helper.make_node("ReduceSum", ["x", "axes"], ["s"], keepdims=1, name="sum_rows")]
    inits = [helper.make_tensor("axes", TensorProto.INT64, [1], [0])]
    if rank1:
        nodes.append(helper.make_node("Reshape", ["s", "flat"], ["y"], name="flat"))
        inits.append(helper.make_tensor("flat", TensorProto.INT64, [1], [1]))
    else:
        nodes.append(helper.make_node("Identity", ["s"], ["y"], name="id"))
    return model(nodes, [vi("x", TensorProto.FLOAT, ("N", 1))],
                 [vi("y", TensorProto.FLOAT, declared or ((1,) if rank1 else (1, 1)))], initializers=inits)


def doubled_rows_model(declared: Dims = ("M", 1), batch: int | str | None = "N") -> onnx.ModelProto:
    """'y' = Concat(x, x) on axis 0: 2N rows for N rows of x[batch,1], declared ``declared``."""
    return model(
        [helper.make_node("Concat", ["x", "x"], ["y"], axis=0, name="twice")],
        [vi("x", TensorProto.FLOAT, (batch, 1))],
        [vi("y", TensorProto.FLOAT, declared)],
    )


def own_symbol_model() -> onnx.ModelProto:
    """'y' = the rows of x[N,1] above 0 (Compress): as many rows as pass, declared [M,1]."""
    return model(
        [
            helper.make_node("Greater", ["x", "zero"], ["keep2d"], name="gt"),
            helper.make_node("Reshape", ["keep2d", "flat"], ["keep"], name="flat"),
            helper.make_node("Compress", ["x", "keep"], ["y"], axis=0, name="filter"),
        ],
        [vi("x", TensorProto.FLOAT, ("N", 1))],
        [vi("y", TensorProto.FLOAT, ("M", 1))],
        initializers=[helper.make_tensor("zero", TensorProto.FLOAT, [1, 1], [0.0]),
                      helper.make_tensor("flat", TensorProto.INT64, [1], [-1])],
    )


def squeeze_rows_model() -> onnx.ModelProto:
    """'y' = Squeeze(x[?,1], axes) with the axes computed, so no row count is known; fails on 2 rows."""
    return model(
        [
            helper.make_node("Identity", ["axes0"], ["axes"], name="axes"),
            helper.make_node("Squeeze", ["x", "axes"], ["y"], name="squeeze_rows"),
        ],
        [vi("x", TensorProto.FLOAT, (None, 1))],
        [vi("y", TensorProto.FLOAT, (None,))],
        initializers=[helper.make_tensor("axes0", TensorProto.INT64, [1], [0])],
    )


def centred_rows_model() -> onnx.ModelProto:
    """'y' = x - mean(x over the batch), x [N,3]: a row's answer depends on the other rows of its batch
    (what a BatchNorm computing batch statistics does)."""
    nodes = [helper.make_node("ReduceMean", ["x"], ["m"], axes=[0], keepdims=1, name="batch_mean"),
             helper.make_node("Sub", ["x", "m"], ["y"], name="centre")]
    return model(nodes, [vi("x", TensorProto.FLOAT, ("N", 3))], [vi("y", TensorProto.FLOAT, ("N", 3))])


def halves_model() -> onnx.ModelProto:
    """'y' = x, through a Split of the batch in two halves and a Concat: onnxruntime fails on one row."""
    nodes = [helper.make_node("Split", ["x"], ["a", "b"], axis=0, name="halves"),
             helper.make_node("Concat", ["a", "b"], ["y"], axis=0, name="join")]
    return model(nodes, [vi("x", TensorProto.FLOAT, ("N", 3))], [vi("y", TensorProto.FLOAT, ("N", 3))])
