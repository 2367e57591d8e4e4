"""run_rows: a batch scored in runs of at most RUN_ROWS rows gives what one run gives."""

from __future__ import annotations

from typing import Any

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from onnxgate.runtime import RUN_ROWS, run_rows, session


def _model(nodes: list[Any], outputs: list[Any], inputs: list[Any] | None = None) -> bytes:
    graph = helper.make_graph(
        nodes, "g", inputs or [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3])], outputs,
        initializer=[helper.make_tensor("w", TensorProto.FLOAT, [3, 2], [0.5, -1.0, 2.0, 0.25, -0.75, 1.5])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    onnx.checker.check_model(model)
    return model.SerializeToString()


class _Recording:
    """A real session that records the rows of every run."""

    def __init__(self, model: bytes) -> None:
        self.inner = session(model)
        self.sizes: list[int] = []

    def run(self, outputs: Any, feeds: dict[str, np.ndarray]) -> Any:
        self.sizes.append(len(next(iter(feeds.values()))))
        return self.inner.run(outputs, feeds)

    def get_inputs(self) -> Any:
        return self.inner.get_inputs()


def test_rows_are_scored_in_runs_and_joined_in_order() -> None:
    model = _model(
        [helper.make_node("MatMul", ["x", "w"], ["y"]), helper.make_node("ArgMax", ["y"], ["label"], axis=1)],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 2]),
         helper.make_tensor_value_info("label", TensorProto.INT64, ["N", 1])],
    )
    x = np.random.default_rng(0).normal(size=(2 * RUN_ROWS + 123, 3)).astype(np.float32)
    recording = _Recording(model)
    got = run_rows(recording, None, {"x": x})
    assert recording.sizes == [RUN_ROWS, RUN_ROWS, 123]
    whole = session(model).run(None, {"x": x})
    assert [g.shape for g in got] == [w.shape for w in whole]
    np.testing.assert_array_equal(got[1], whole[1])
    np.testing.assert_allclose(got[0], whole[0], rtol=1e-6)
    assert run_rows(session(model), ["label"], {"x": x})[0].shape == (len(x), 1)


def test_a_batch_within_one_run_is_one_call() -> None:
    model = _model([helper.make_node("MatMul", ["x", "w"], ["y"])],
                   [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 2])])
    recording = _Recording(model)
    run_rows(recording, None, {"x": np.ones((RUN_ROWS, 3), np.float32)})
    assert recording.sizes == [RUN_ROWS]


@pytest.mark.parametrize("keepdims", [0, 1])
def test_outputs_not_one_per_row_are_computed_on_the_whole_batch(keepdims: int) -> None:
    # a sum over all rows: in runs it would give one partial sum per run; run_rows must not
    model = _model(
        [helper.make_node("ReduceSum", ["x"], ["total"], keepdims=keepdims)],
        [helper.make_tensor_value_info("total", TensorProto.FLOAT, [1, 1] if keepdims else [])],
    )
    x = np.ones((RUN_ROWS + 10, 3), np.float32)
    got = run_rows(session(model), None, {"x": x})
    assert float(np.asarray(got[0]).reshape(-1)[0]) == x.size


def test_a_model_of_one_row_columns_is_run_row_by_row() -> None:
    # [1,1] inputs (the PREDICT samples' form): onnxruntime refuses 5 rows at once ("Got: 5 Expected: 1")
    model = _model([helper.make_node("MatMul", ["x", "w"], ["y"])],
                   [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 2])],
                   inputs=[helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3])])
    x = np.random.default_rng(0).normal(size=(5, 3)).astype(np.float32)
    recording = _Recording(model)
    got = run_rows(recording, None, {"x": x})
    assert recording.sizes == [1, 1, 1, 1, 1]
    want = np.concatenate([session(model).run(None, {"x": x[i:i + 1]})[0] for i in range(5)])
    np.testing.assert_array_equal(got[0], want)


def _fixed_batch_model(batch: int) -> bytes:
    """``y = x @ w`` and its argmax, for inputs of exactly ``batch`` rows (``[batch, 3]``), as a model exported with
    a fixed batch size declares them."""
    return _model(
        [helper.make_node("MatMul", ["x", "w"], ["y"]), helper.make_node("ArgMax", ["y"], ["label"], axis=1)],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [batch, 2]),
         helper.make_tensor_value_info("label", TensorProto.INT64, [batch, 1])],
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [batch, 3])],
    )


@pytest.mark.parametrize("rows", [5, 16, 40, 48])
def test_a_fixed_batch_size_is_scored_in_runs_of_that_size_and_the_filling_dropped(rows: int) -> None:
    # before: scoring (onnxgate score, onnxgate.spark.predict) ran the whole batch and onnxruntime refused it
    # ("Got: 40 Expected: 16"); now runs of exactly 16 rows, the last filled up, and one answer per row given
    model = _fixed_batch_model(16)
    x = np.random.default_rng(1).normal(size=(rows, 3)).astype(np.float32)
    recording = _Recording(model)
    y, label = run_rows(recording, None, {"x": x}, fill_fixed=True)
    # and a filled run twice more: filled again, and filled otherwise (fill_changes_answers)
    assert set(recording.sizes) == {16} and len(recording.sizes) == -(-rows // 16) + (2 if rows % 16 else 0)
    w = np.array([0.5, -1.0, 2.0, 0.25, -0.75, 1.5], dtype=np.float32).reshape(3, 2)
    np.testing.assert_allclose(y, x @ w, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(label[:, 0], np.argmax(x @ w, axis=1))
    if rows != 16:  # validation runs the data as it is: the fixed batch size is its finding, not filled up
        with pytest.raises(Exception, match="Expected: 16"):
            run_rows(session(model), None, {"x": x})


def _coupled_model(how: str) -> bytes:
    """A model taking runs of exactly 16 rows (``[16, 3]``) whose answer for a row depends on the other rows of the
    run: ``x - x.mean(axis=0)``, a Softmax over the rows, or the rows sorted (TopK over axis 0)."""
    nodes = {
        "centred": [helper.make_node("ReduceMean", ["x"], ["m"], axes=[0]), helper.make_node("Sub", ["x", "m"], ["y"])],
        "softmax over the rows": [helper.make_node("Softmax", ["x"], ["y"], axis=0)],
        "sorted over the rows": [helper.make_node("TopK", ["x", "k"], ["y", "i"], axis=0)],
    }[how]
    graph = helper.make_graph(
        nodes, "coupled", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [16, 3])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [16, 3])],
        initializer=[helper.make_tensor("k", TensorProto.INT64, [1], [16])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 15)])
    onnx.checker.check_model(model)
    return model.SerializeToString()


@pytest.mark.parametrize("rows", [40, 5, 1])
@pytest.mark.parametrize("how", ["centred", "softmax over the rows", "sorted over the rows"])
def test_a_fixed_batch_model_reading_the_other_rows_is_refused_a_run_to_fill(how: str, rows: int) -> None:
    # before: the last run filled up with copies of its last row, and its rows' answers written as they came out of
    # that run (x - x.mean(0) of rows 32..39 centred on a mean mostly of row 39), silently
    from onnxgate.errors import UnsupportedModelError

    model = session(_coupled_model(how))
    x = np.random.default_rng(2).normal(size=(rows, 3)).astype(np.float32)
    counts = "32 or 48" if rows == 40 else "16"
    with pytest.raises(UnsupportedModelError, match=rf"depends on the other rows of its run.*a multiple of 16 "
                                                    rf"\({counts} here\).*dynamic_axes=\{{'x': \{{0: 'batch'\}}\}}"):
        run_rows(model, None, {"x": x}, fill_fixed=True)
    # whole runs need no filling: scored as the model scores them
    whole = np.resize(x, (32, 3))
    got = run_rows(model, None, {"x": whole}, fill_fixed=True)[0]
    want = np.concatenate([model.run(None, {"x": whole[:16]})[0], model.run(None, {"x": whole[16:]})[0]])
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-7)
