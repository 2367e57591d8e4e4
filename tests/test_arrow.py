"""``plain_feeds``: one array straight from Arrow columns, only where the general route gives the same feeds;
``check_columns_typed_as_inputs``: no column is read as another kind of value."""

from __future__ import annotations

import re

import numpy as np
import pyarrow as pa
import pytest
from onnx import TensorProto, helper

from onnxgate._arrow import batch_data, batch_feeds, check_columns_typed_as_inputs, plain_feeds
from onnxgate._data import as_feeds
from onnxgate.columns import ColumnMap
from onnxgate.errors import InvalidDataError
from onnxgate.signature import Signature


def _signature(inputs: list[tuple[str, int, list[object]]]) -> Signature:
    ins = [helper.make_tensor_value_info(name, elem, shape) for name, elem, shape in inputs]
    out = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 1])
    graph = helper.make_graph([], "g", ins, [out])
    return Signature.from_model(helper.make_model(graph))


def _batch(dtype: object = np.float32, names: tuple[str, ...] = ("a", "b", "c"), nulls: bool = False) -> pa.RecordBatch:
    rng = np.random.default_rng(0)
    columns = [pa.array(rng.normal(size=50).astype(dtype)) for _ in names]
    if nulls:
        columns[1] = pa.array([None, *rng.normal(size=49).astype(dtype).tolist()], type=columns[1].type)
    return pa.RecordBatch.from_arrays(columns, names=list(names))


@pytest.mark.parametrize(("elem", "dtype"), [(TensorProto.FLOAT, np.float32), (TensorProto.DOUBLE, np.float64)])
def test_plain_columns_give_the_feeds_of_the_general_route(elem: int, dtype: object) -> None:
    signature = _signature([("input", elem, ["N", 3])])
    batch = _batch(dtype)
    fast = plain_feeds(batch, signature)
    assert fast is not None
    general = as_feeds(batch_data(batch), signature)
    assert fast.keys() == general.keys()
    np.testing.assert_array_equal(fast["input"], general["input"])
    assert fast["input"].dtype == general["input"].dtype and fast["input"].flags.c_contiguous


def test_anything_else_takes_the_general_route() -> None:
    one = _signature([("input", TensorProto.FLOAT, ["N", 3])])
    assert plain_feeds(_batch(np.float64), one) is None  # a cast to make: as_feeds checks it
    assert plain_feeds(_batch(nulls=True), one) is None  # a null: as_feeds decides what it means
    assert plain_feeds(_batch(names=("input", "b", "c")), one) is None  # a column named like the input
    assert plain_feeds(_batch(names=("a", "b")), one) is None  # the wrong width: as_feeds names it
    columns = _signature([("a", TensorProto.FLOAT, ["N", 1]), ("b", TensorProto.FLOAT, ["N", 1])])
    assert plain_feeds(_batch(names=("a", "b")), columns) is None  # one input per column
    mapped = Signature(inputs=one.inputs, outputs=one.outputs, columns=ColumnMap.from_pairs([("a b", "input")]))
    assert plain_feeds(_batch(), mapped) is None  # the user's column names recorded at conversion


@pytest.mark.parametrize("kind", [pa.int64(), pa.uint8(), pa.float64(), pa.decimal128(5, 2), pa.string()], ids=str)
def test_numbers_are_not_read_as_booleans(kind: pa.DataType) -> None:
    signature = _signature([("flag", TensorProto.BOOL, ["N", 1]), ("x", TensorProto.FLOAT, ["N", 1])])
    check_columns_typed_as_inputs(pa.schema([("flag", pa.bool_()), ("x", pa.float32())]), signature)
    says = f"input 'flag' expects bool; column 'flag' is {kind}: cast it"
    with pytest.raises(InvalidDataError, match=re.escape(says)):
        check_columns_typed_as_inputs(pa.schema([("flag", kind), ("x", pa.float32())]), signature)


def test_booleans_feed_a_number_input_as_0_and_1_numbers_never_a_boolean_one() -> None:
    # as validate reads them (the SQL adaptation types a boolean column as bigint)
    signature = _signature([("n", TensorProto.INT64, ["N", 1]), ("x", TensorProto.FLOAT, ["N", 1])])
    flags = pa.RecordBatch.from_pydict({"n": pa.array([True, False, True]),
                                        "x": pa.array([1.0, 2.0, 3.0], pa.float32())})
    check_columns_typed_as_inputs(flags.schema, signature)
    assert batch_feeds(flags, signature)["n"].ravel().tolist() == [1, 0, 1]
    check_columns_typed_as_inputs(pa.schema([("n", pa.int64()), ("x", pa.bool_())]), signature)
    with pytest.raises(InvalidDataError, match=re.escape("input 'b' expects bool; column 'b' is int64")):
        check_columns_typed_as_inputs(pa.schema([("b", pa.int64())]), _signature([("b", TensorProto.BOOL, ["N", 1])]))


def _rank3_spec() -> object:
    out = helper.make_tensor_value_info("out", TensorProto.FLOAT, ["N", 2, "M"])
    graph = helper.make_graph([], "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 2])], [out])
    return Signature.from_model(helper.make_model(graph)).output("out")


def test_an_output_of_rank_3_is_written_as_lists_of_lists_one_per_row() -> None:
    # before: each row's [2,3] answer was written as one list of 6 values (Parquet list<float>, Spark array<float>),
    # losing which values belonged together
    from onnxgate._arrow import arrow_type, spark_type, to_arrow

    spec = _rank3_spec()
    answer = np.arange(12, dtype=np.float32).reshape(2, 2, 3)
    column = to_arrow(answer, spec)
    assert column.type == arrow_type(spec) == pa.list_(pa.list_(pa.float32()))
    assert spark_type(spec) == "array<array<float>>"
    assert column.to_pylist() == answer.tolist()
    assert to_arrow(answer[:0], spec).to_pylist() == []


def test_a_column_of_arrays_of_arrays_feeds_a_rank_3_input_and_one_of_different_lengths_is_named() -> None:
    # before: a row of arrays of lengths 2, 3, 1 (6 values) was refused as "holds arrays (a list column) among other
    # columns", for a file of that one column
    signature = _signature([("x", TensorProto.FLOAT, ["N", 3, 2])])
    rows = np.arange(12, dtype=np.float32).reshape(2, 3, 2)
    feeds = batch_feeds(pa.record_batch({"x": pa.array(rows.tolist(), type=pa.list_(pa.list_(pa.float32())))}),
                        signature)
    np.testing.assert_array_equal(feeds["x"], rows)
    ragged = pa.array([[[0.0, 1.0], [2.0, 3.0, 4.0], [5.0]], [[6.0, 7.0], [8.0, 9.0], [10.0, 11.0]]])
    with pytest.raises(InvalidDataError, match="column 'x' holds arrays of different lengths"):
        batch_feeds(pa.record_batch({"x": ragged}), signature)
