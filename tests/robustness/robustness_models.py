"""Small real models the robustness tests damage on purpose."""

from __future__ import annotations

from typing import Any


def tiny_mlp_model() -> Any:
    """A two-layer float MLP built with onnx.helper: real initializers, a dynamic batch axis."""
    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    w1 = numpy_helper.from_array(rng.normal(size=(4, 8)).astype(np.float32), "W1")
    b1 = numpy_helper.from_array(rng.normal(size=(8,)).astype(np.float32), "B1")
    w2 = numpy_helper.from_array(rng.normal(size=(8, 1)).astype(np.float32), "W2")
    nodes = [
        helper.make_node("MatMul", ["X", "W1"], ["H0"]),
        helper.make_node("Add", ["H0", "B1"], ["H1"]),
        helper.make_node("Relu", ["H1"], ["H2"]),
        helper.make_node("MatMul", ["H2", "W2"], ["Y"]),
    ]
    graph = helper.make_graph(
        nodes,
        "tiny_mlp",
        [helper.make_tensor_value_info("X", TensorProto.FLOAT, ["N", 4])],
        [helper.make_tensor_value_info("Y", TensorProto.FLOAT, ["N", 1])],
        [w1, b1, w2],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], ir_version=8)
    onnx.checker.check_model(model)
    return model
