"""Arrow record batches in and out: batches as onnxgate data, model outputs as typed Arrow columns.

Used by batch scoring on one machine (``onnxgate score``) and on Spark (:mod:`onnxgate.spark`), so
both read the same columns the same way and write the same column types.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from onnxgate.errors import InvalidDataError, UnsupportedModelError

__all__ = ["SPARK_TYPES", "arrow_type", "batch_data", "batch_feeds", "is_list_type", "list_to_2d", "plain_feeds",
           "spark_type", "to_arrow"]

if TYPE_CHECKING:
    import numpy as np
    import pyarrow as pa

    from onnxgate.signature import Signature, TensorSpec

#: ONNX element type -> Spark SQL type name (as in a DDL schema string).
SPARK_TYPES = {
    "float16": "float",
    "float32": "float",
    "float64": "double",
    "int8": "tinyint",
    "int16": "smallint",
    "int32": "int",
    "int64": "bigint",
    "uint8": "smallint",
    "uint16": "int",
    "uint32": "bigint",
    "bool": "boolean",
    "string": "string",
}

#: Element types Spark has no column type for, widened to one that holds every value.
_WIDER = {"float16": "float32", "uint8": "int16", "uint16": "int32", "uint32": "int64"}


def is_list_type(arrow_type: Any) -> bool:
    import pyarrow.types as pt

    return bool(pt.is_list(arrow_type) or pt.is_large_list(arrow_type) or pt.is_fixed_size_list(arrow_type))


def list_to_2d(column: Any, name: str) -> np.ndarray:
    """An Arrow list column of equal-length rows as a ``[rows, width]`` numpy array."""
    import numpy as np

    n = len(column)
    if column.null_count:
        raise InvalidDataError(f"column {name!r} has {column.null_count} missing array(s); fill or drop those rows")
    values = column.flatten()
    if values.null_count:
        raise InvalidDataError(f"column {name!r} has {values.null_count} missing value(s) inside its arrays")
    flat = values.to_numpy(zero_copy_only=False)
    if n == 0:
        return flat.reshape(0, 0)
    width = flat.size // n
    offsets = getattr(column, "offsets", None)
    if flat.size != width * n or (offsets is not None and not np.all(np.diff(offsets.to_numpy()) == width)):
        raise InvalidDataError(f"column {name!r} holds arrays of different lengths; every row needs the same width")
    return flat.reshape(n, width)


def batch_data(batch: pa.RecordBatch) -> Any:
    """What :func:`onnxgate._data.as_feeds` takes for one batch, read as a local Parquet file would be.

    Scalar columns give a pandas DataFrame (as ``onnxgate.validate`` reads a Parquet file); array
    columns give a ``[rows, width]`` array (one column) or a dict by column name (several).
    """
    names = batch.schema.names
    if not any(is_list_type(t) for t in batch.schema.types):
        return batch.to_pandas()
    arrays = {
        name: list_to_2d(col, name) if is_list_type(col.type) else col.to_numpy(zero_copy_only=False)
        for name, col in zip(names, batch.columns)
    }
    if len(arrays) == 1:
        return next(iter(arrays.values()))
    return arrays


def batch_feeds(batch: pa.RecordBatch, signature: Signature) -> dict[str, np.ndarray]:
    """The model's feeds for one Arrow batch, read as a local Parquet file would be: :func:`plain_feeds`
    where it applies, else :func:`batch_data` + :func:`onnxgate._data.as_feeds`."""
    from onnxgate._data import as_feeds

    return plain_feeds(batch, signature) or as_feeds(batch_data(batch), signature)


def plain_feeds(batch: pa.RecordBatch, signature: Signature) -> dict[str, np.ndarray] | None:
    """The feeds of a model with one ``[N,k]`` input from ``k`` columns already of its element type
    and without nulls, built straight into one array; None for anything else.

    It gives what :func:`batch_data` + :func:`onnxgate._data.as_feeds` give in that case (the whole
    frame feeds the one input, in column order, with nothing to cast), without the pandas frame in
    between. A recorded column map, a column named like the input, another type or a null all take
    that general route.
    """
    import numpy as np

    inputs = signature.inputs
    if len(inputs) != 1 or signature.columns.pairs:
        return None
    spec = inputs[0]
    if spec.rank != 2 or spec.width != batch.num_columns or spec.name in batch.schema.names:
        return None
    dtype = spec.numpy_dtype
    if dtype.kind != "f" or any(t.to_pandas_dtype() != dtype for t in batch.schema.types):
        return None
    if any(c.null_count for c in batch.columns):
        return None
    matrix = np.empty((batch.num_rows, batch.num_columns), dtype=dtype)
    for j, column in enumerate(batch.columns):
        matrix[:, j] = column.to_numpy()
    return {spec.name: matrix}


def spark_type(spec: TensorSpec) -> str:
    """The Spark SQL type of one row's value of an output: a scalar for ``[N]``/``[N,1]``, else an array."""
    base = SPARK_TYPES.get(spec.elem_type)
    if base is None or not spec.is_tensor:
        raise UnsupportedModelError(
            f"output {spec.name!r} is {spec.describe()}, which has no Spark column type; Spark columns take "
            f"tensors of {sorted(SPARK_TYPES)} (convert without ZipMap for probabilities)"
        )
    return base if _scalar(spec) else f"array<{base}>"


def arrow_type(spec: TensorSpec) -> pa.DataType:
    """The Arrow type :func:`to_arrow` gives an output (the Spark type's Arrow counterpart)."""
    import pyarrow as pa

    spark_type(spec)  # refuses outputs that are not tensors of a known type
    names = {"float": pa.float32(), "double": pa.float64(), "tinyint": pa.int8(), "smallint": pa.int16(),
             "int": pa.int32(), "bigint": pa.int64(), "boolean": pa.bool_(), "string": pa.string()}
    base = names[SPARK_TYPES[spec.elem_type]]
    return base if _scalar(spec) else pa.list_(base)


def _scalar(spec: TensorSpec) -> bool:
    return spec.rank == 1 or (spec.rank == 2 and spec.width == 1)


def to_arrow(values: Any, spec: TensorSpec) -> pa.Array:
    """One output of one batch as an Arrow array of the type :func:`spark_type` announces."""
    import numpy as np
    import pyarrow as pa

    array = np.asarray(values)
    n = array.shape[0] if array.ndim else 1
    cast = _WIDER.get(spec.elem_type)
    if cast is not None:
        array = array.astype(cast)
    if spec.elem_type == "string":
        array = array.astype(object)
    if _scalar(spec):
        return pa.array(array.reshape(n), type=arrow_type(spec))
    flat = array.reshape(n, -1)
    width = flat.shape[1]
    offsets = np.arange(0, n * width + 1, width, dtype=np.int32)
    return pa.ListArray.from_arrays(pa.array(offsets), pa.array(flat.reshape(-1), type=arrow_type(spec).value_type))
