"""A model above the 2 GiB limit with its external data, for the tests of its validation, packaging and scoring
(tests/test_external_data_above_limit.py, tests/spark/test_spark_external_data.py): ``MODEL_BYTES_LIMIT`` is lowered to
1 MB so that a 3 MB model stands for one of several GB, and reading its weights into memory raises."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import onnx.external_data_helper
import pytest
from onnx import TensorProto, helper, numpy_helper

from onnxgate import _onnx

LIMIT = 1_000_000
COLUMNS, WIDTH = 3000, 256  # w_in: 3000 x 256 float32, 3 MB
LOCATION = "weights/big.bin"  # a data file in a folder beside the model: the package keeps the name


def model(seed: int = 0) -> onnx.ModelProto:
    rng = np.random.default_rng(seed)
    nodes = [helper.make_node("MatMul", ["x", "w_in"], ["h"]), helper.make_node("Relu", ["h"], ["r"]),
             helper.make_node("MatMul", ["r", "w_out"], ["y"])]
    weights = [numpy_helper.from_array((rng.standard_normal((COLUMNS, WIDTH)) / 50).astype(np.float32), "w_in"),
               numpy_helper.from_array(rng.standard_normal((WIDTH, 1)).astype(np.float32), "w_out")]
    graph = helper.make_graph(nodes, "big", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", COLUMNS])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 1])], weights)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)


def native(x: np.ndarray, seed: int = 0) -> np.ndarray:
    weights = {t.name: numpy_helper.to_array(t) for t in model(seed).graph.initializer}
    return np.maximum(x @ weights["w_in"], 0) @ weights["w_out"]


def above_limit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, np.ndarray]:
    """The model saved with its weights in ``weights/big.bin``, the limit lowered below it, and rows to score; the
    weights are never read into the model in memory (in this process)."""
    folder = tmp_path / "model"
    (folder / "weights").mkdir(parents=True)
    path = folder / "model.onnx"
    onnx.save_model(model(), str(path), save_as_external_data=True, location=LOCATION, size_threshold=1024)
    assert path.stat().st_size < 1000 and (folder / LOCATION).stat().st_size > 3 * LIMIT
    monkeypatch.setattr(_onnx, "MODEL_BYTES_LIMIT", LIMIT)

    def refused(*args: object, **kwargs: object) -> None:
        raise AssertionError("the weights of a model above the limit were read into memory")

    monkeypatch.setattr(onnx.external_data_helper, "load_external_data_for_model", refused)
    return path, np.random.default_rng(1).standard_normal((40, COLUMNS)).astype(np.float32)


def rows_parquet(path: Path, x: np.ndarray, ids: bool = True) -> None:
    """``x`` as a Parquet file: an ``id`` column (unless not ``ids``: validation's rows) and the array column ``x``
    (the model's one input)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.table({"id": pa.array(range(len(x)), pa.int64()),
                      "x": pa.FixedSizeListArray.from_arrays(pa.array(x.ravel()), COLUMNS)})
    if not ids:
        table = table.drop_columns(["id"])
    pq.write_table(table, path)


def onnxruntime_answers(path: Path, x: np.ndarray) -> np.ndarray:
    """The model's output ``y`` on ``x``, onnxruntime reading it from its path with its data files."""
    import onnxruntime as ort

    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return np.asarray(session.run(["y"], {"x": x})[0])
