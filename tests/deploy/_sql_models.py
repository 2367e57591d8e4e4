"""Small hand-built ONNX models for the SQL deployment tests (no framework needed)."""

from __future__ import annotations

from typing import Any

import numpy as np

HOSTILE = "x]; DROP TABLE models;--"


def mlp(opset: int = 17, *, features: int = 10, outputs: int = 1, rank1_output: bool = False,
        name: str = "mlp", seed: int = 0) -> Any:
    """A float32 MLP ``input[N,features] -> output[N,outputs]`` (or ``[N]``), deterministic weights.

    ``outputs > 1`` adds a second output ``label`` (int64 ``[N]``, the argmax) like a classifier.
    """
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(seed)
    w1 = numpy_helper.from_array(rng.normal(size=(features, 8)).astype(np.float32), "w1")
    b1 = numpy_helper.from_array(rng.normal(size=(8,)).astype(np.float32), "b1")
    w2 = numpy_helper.from_array(rng.normal(size=(8, outputs)).astype(np.float32), "w2")
    nodes = [
        helper.make_node("MatMul", ["input", "w1"], ["h0"], name="mm1"),
        helper.make_node("Add", ["h0", "b1"], ["h1"], name="add1"),
        helper.make_node("Relu", ["h1"], ["h2"], name="relu"),
        helper.make_node("MatMul", ["h2", "w2"], ["out2d"], name="mm2"),
    ]
    inits = [w1, b1, w2]
    graph_outputs = []
    if rank1_output:
        shape = numpy_helper.from_array(np.array([-1], dtype=np.int64), "flat")
        inits.append(shape)
        nodes.append(helper.make_node("Reshape", ["out2d", "flat"], ["output"], name="flatten"))
        graph_outputs.append(helper.make_tensor_value_info("output", TensorProto.FLOAT, ["N"]))
    else:
        nodes.append(helper.make_node("Identity", ["out2d"], ["output"], name="out"))
        graph_outputs.append(helper.make_tensor_value_info("output", TensorProto.FLOAT, ["N", outputs]))
    if outputs > 1:
        nodes.append(helper.make_node("ArgMax", ["out2d"], ["label"], axis=1, keepdims=0, name="argmax"))
        graph_outputs.insert(0, helper.make_tensor_value_info("label", TensorProto.INT64, ["N"]))
    graph = helper.make_graph(
        nodes, name, [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", features])],
        graph_outputs, initializer=inits,
    )
    from onnxgate._onnx import ir_version_for_opset

    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)],
                              producer_name="onnxgate-tests")
    model.ir_version = ir_version_for_opset(opset)
    onnx.checker.check_model(model)
    return model


def run(model: Any, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
    import onnxruntime as ort

    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return list(sess.run(None, feeds))


def columns(X: np.ndarray, names: list[str] | None = None) -> dict[str, np.ndarray]:
    names = names or [f"f{i}" for i in range(X.shape[1])]
    return {n: np.ascontiguousarray(X[:, i]).reshape(-1, 1) for i, n in enumerate(names)}
