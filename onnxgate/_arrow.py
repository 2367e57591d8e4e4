"""Arrow record batches in and out: batches as onnxgate data, model outputs as typed Arrow columns.

Used by batch scoring on one machine (``onnxgate score``) and on Spark (:mod:`onnxgate.spark`), so
both read the same columns the same way and write the same column types.
"""

from __future__ import annotations

import dataclasses
import math
from typing import TYPE_CHECKING, Any

from onnxgate._data import FLOATING, MAP_FIX, RETYPE_FIX, STRUCT_FIX, map_type_name, shown_names
from onnxgate.errors import InvalidDataError, UnsupportedModelError

__all__ = ["SPARK_TYPES", "arrow_type", "batch_data", "batch_feeds", "check_columns_typed_as_inputs",
           "is_bytes_type", "is_list_type", "is_text_type", "leaf_type", "list_to_2d", "plain_feeds", "spark_type",
           "to_arrow", "without_views"]

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

#: Input element types whose column may hold nulls: each is read as NaN, as pandas reads a Parquet
#: float null (and writes a float NaN: ``df.to_parquet`` stores it as a null).


def is_text_type(arrow_type: Any) -> bool:
    """Arrow text of any layout: ``string``, ``large_string`` (64-bit offsets: what pandas 3 writes for a ``str``
    column, and polars for every text column) and ``string_view`` (pyarrow reads it back from a file it wrote so).
    The same values whichever: every check that takes one takes the others."""
    import pyarrow.types as pt

    return bool(pt.is_string(arrow_type) or pt.is_large_string(arrow_type) or _is_view(arrow_type, "string"))


def is_bytes_type(arrow_type: Any) -> bool:
    """Arrow bytes of any layout: ``binary``, ``large_binary``, ``binary_view`` (see :func:`is_text_type`)."""
    import pyarrow.types as pt

    return bool(pt.is_binary(arrow_type) or pt.is_large_binary(arrow_type) or _is_view(arrow_type, "binary"))


def without_views(schema: pa.Schema) -> pa.Schema:
    """``schema`` with its ``string_view`` and ``binary_view`` columns as ``large_string`` and ``large_binary``:
    the same values in the layout Spark's Arrow conversion and pyarrow's text functions (``utf8_length``...) take;
    ``schema`` itself when it has none."""
    import pyarrow as pa

    for i, field in enumerate(schema):
        for kind, wide in (("string", pa.large_string()), ("binary", pa.large_binary())):
            if _is_view(field.type, kind):
                schema = schema.set(i, field.with_type(wide))
    return schema


def _is_view(arrow_type: Any, kind: str) -> bool:
    """A ``string_view`` or ``binary_view``: types of pyarrow 16 and later (the data extra takes 15)."""
    import pyarrow.types as pt

    test = getattr(pt, f"is_{kind}_view", None)
    return bool(test is not None and test(arrow_type))


def is_list_type(arrow_type: Any) -> bool:
    import pyarrow.types as pt

    return bool(pt.is_list(arrow_type) or pt.is_large_list(arrow_type) or pt.is_fixed_size_list(arrow_type))


def leaf_type(arrow_type: Any) -> Any:
    """The element type of a (nested) list type, the value type of a dictionary, else the type itself."""
    while hasattr(arrow_type, "value_type"):
        arrow_type = arrow_type.value_type
    return arrow_type


def list_to_2d(column: Any, name: str) -> np.ndarray:
    """An Arrow list column of equal-length rows as a ``[rows, width]`` numpy array; of arrays of arrays, each
    level of one length, as a ``[rows, width, ...]`` one."""
    import numpy as np
    import pyarrow.types as pt

    n = len(column)
    if column.null_count:
        raise InvalidDataError(f"column {name!r} has {column.null_count} missing array(s); fill or drop those rows")
    values = column.flatten()
    if values.null_count and not (pt.is_floating(values.type) or pt.is_integer(values.type)):
        raise InvalidDataError(f"column {name!r} has {values.null_count} missing value(s) inside its arrays of "
                               f"{values.type}; fill or drop those rows")
    # a missing number inside an array is a NaN, as validate reads it (pandas) and as a null in a number column is
    # read: score, predict and validate --spark refused ("1 missing value(s) inside its arrays") the rows validate
    # passed for a HistGradientBoosting model, which takes NaN; an integer input still refuses it, in validate's words
    offsets = getattr(column, "offsets", None)
    if n and offsets is not None and not np.all(np.diff(offsets.to_numpy()) == (len(values) // n)):
        raise InvalidDataError(f"column {name!r} holds arrays of different lengths; every row needs the same width")
    if is_list_type(values.type):
        # arrays of arrays (a [N,3,2] input): each level of the same width, read as one [rows, 3, 2] array; read as
        # rows of arrays, one of different lengths was refused as "arrays (a list column) among other columns"
        inner = list_to_2d(values, name)
        return inner.reshape(n, -1, *inner.shape[1:]) if n else inner.reshape(0, 0, *inner.shape[1:])
    flat = values.to_numpy(zero_copy_only=False)
    if n == 0:
        return flat.reshape(0, 0)
    width = flat.size // n
    if flat.size != width * n:
        raise InvalidDataError(f"column {name!r} holds arrays of different lengths; every row needs the same width")
    return flat.reshape(n, width)


def batch_data(batch: pa.RecordBatch) -> Any:
    """What :func:`onnxgate._data.as_feeds` takes for one batch, read as a local Parquet file would be.

    Scalar columns give a pandas DataFrame (as ``onnxgate.validate`` reads a Parquet file); array
    columns give a ``[rows, width]`` array (one column) or a dict by column name (several).
    """
    names = batch.schema.names
    if not any(is_list_type(t) for t in batch.schema.types):
        from onnxgate._data import parquet_category_nulls

        return parquet_category_nulls(batch.to_pandas())
    arrays = {
        name: list_to_2d(col, name) if is_list_type(col.type) else col.to_numpy(zero_copy_only=False)
        for name, col in zip(names, batch.columns)
    }
    if len(arrays) == 1:
        return next(iter(arrays.values()))
    return arrays


def batch_feeds(batch: pa.RecordBatch, signature: Signature, *, plain_categories: bool = False
                ) -> dict[str, np.ndarray]:
    """The model's feeds for one Arrow batch (every column of which feeds the model), read as a local
    Parquet file would be: :func:`plain_feeds` where it applies, else :func:`batch_data` +
    :func:`onnxgate._data.as_feeds`, once the columns pass :func:`check_columns_typed_as_inputs`. A null feeding a
    floating-point input is a NaN, as pandas reads it; one feeding an integer, boolean or text input is refused
    by ``as_feeds`` in local validate's words (it is the NaN or None pandas reads it as).
    ``plain_categories`` (Spark, which has no category type): a text or number column feeding an input of
    category codes holds the category values and nulls, read as their codes (:func:`_plain_categories`).

    Raises
    ------
    InvalidDataError
        A column of the wrong type, a null feeding an input that is not floating-point, or data that
        does not fit the inputs.
    """
    # no refusal of nulls of its own: Spark and score said "has 1 null (missing) value(s) among 4 rows read at once"
    # where validate, on the same file, said "column 'k' has 1 missing or non-finite value(s) but input 'k' is
    # int64; fill or drop them first"
    from onnxgate._data import as_feeds

    specs = _inputs_fed(batch.schema.names, signature)  # once per batch, for the three steps below
    _refuse_retyped(batch.schema, specs)
    batch = _pandas_categories(batch, specs)
    if plain_categories:
        batch, coded = _plain_categories(batch, specs)
        if coded:  # those columns hold the codes now, not values to be read again (helper-233)
            signature = dataclasses.replace(signature, inputs=tuple(
                dataclasses.replace(s, codes=tuple(c for c in s.codes or () if (s.name, c[0]) not in coded) or None)
                for s in signature.inputs))
    return plain_feeds(batch, signature) or as_feeds(batch_data(_nulls_as_nan(batch, specs)), signature)


def _nulls_as_nan(batch: pa.RecordBatch, specs: list[TensorSpec | None]) -> pa.RecordBatch:
    """The batch with each all-null column (Arrow type null, as pandas writes a column of only None)
    that feeds a floating-point input typed as that input, so pandas reads its nulls as NaN, not None."""
    import pyarrow as pa

    columns, cast = list(batch.columns), False
    for j, spec in enumerate(specs):
        if spec is not None and _floating(spec) and pa.types.is_null(columns[j].type):
            columns[j], cast = columns[j].cast(pa.from_numpy_dtype(spec.numpy_dtype)), True
    return pa.RecordBatch.from_arrays(columns, names=batch.schema.names) if cast else batch


def _floating(spec: TensorSpec | None) -> bool:
    return spec is not None and spec.elem_type in FLOATING


def _inputs_fed(names: list[str], signature: Signature) -> list[TensorSpec | None]:
    """The input each column feeds, paired as :func:`onnxgate._data.as_feeds` pairs them: by name
    (the user's name recorded at conversion, or the input's own), else the model's single input;
    None where neither applies (as_feeds then names the column that fits no input)."""
    keys = list(signature.columns.to_inputs(dict.fromkeys(names)))
    by_name = {s.name: s for s in signature.inputs}
    single = signature.inputs[0] if len(signature.inputs) == 1 else None
    unread = set(signature.columns.unread)  # a column the model never reads feeds nothing
    return [None if n in unread else by_name.get(k, single) for n, k in zip(names, keys)]


def check_columns_typed_as_inputs(schema: pa.Schema, signature: Signature, where: str = "") -> None:
    """Refuse columns a numeric or boolean input would take only by reinterpreting them: dates, times
    and durations (as integer counts), structs and maps (read as no number), text for a boolean, and numbers
    for a boolean (any value but 0 as true: 2 and -7 would score as 1). Booleans feed a number input as 0/1, as
    :func:`onnxgate._data.as_feeds` reads them. A number column of only 0 and 1 is refused too, as the HTTP
    service refuses numbers for a bool input: whether 0/1 meant false/true is the user's to say, by
    casting the column.

    Text for a number input passes here, as ``onnxgate validate`` and the dry run read it: each batch's
    cells must then be plain decimal numerals (``'5'``, ``' -1.5e3 '``), which a database loads into
    a number column; :func:`onnxgate._data.as_feeds` refuses any other text, naming the cell.

    Every offending column is named in one message; ``where`` (`` in 'part-1.parquet'``) follows them.
    A string input takes any column here: :func:`onnxgate._data.as_feeds` refuses what is not text.

    Raises
    ------
    InvalidDataError
        At least one column is of such a type.
    """
    _refuse_arrays_among_columns(schema, signature, where)
    _refuse_retyped(schema, _inputs_fed(schema.names, signature), where)


def _refuse_arrays_among_columns(schema: pa.Schema, signature: Signature, where: str = "") -> None:
    """Refuse a list column fed to a single input beside other columns (an ``id`` beside the array ``x``), in
    local validate's words (:func:`onnxgate._data.as_feeds`). Spark and ``score`` said "expected the inputs
    ['input']; missing ['input'], unknown ['id', 'x']" where validate on one machine says to keep the array
    column alone, and ``onnxgate.spark.predict`` failed only on the executors (helper-310)."""
    if len(signature.inputs) != 1 or len(schema) < 2:
        return
    arrays = [f.name for f in schema if is_list_type(f.type)]
    if arrays:
        spec = signature.inputs[0]
        others = shown_names([n for n in schema.names if n != arrays[0]])
        raise InvalidDataError(
            f"column {arrays[0]!r} holds arrays (a list column) among other columns ({others}){where} for input "
            f"{spec.name!r} ({spec.elem_type}); a column of arrays feeds an input alone: keep only that column, "
            f"named {spec.name!r}, or give one number column per feature",
            input=spec.name, column=arrays[0],
        )


def _refuse_retyped(schema: pa.Schema, specs: list[TensorSpec | None], where: str = "") -> None:
    """:func:`check_columns_typed_as_inputs` with the input each column feeds already found."""
    import pyarrow.types as pt

    faults: dict[str, list[tuple[str, str]]] = {"retype": [], "struct": [], "map": []}
    for field, spec in zip(schema, specs):
        if spec is None or spec.elem_type == "string":
            continue
        kind = leaf_type(field.type)
        text = is_text_type(kind) or is_bytes_type(kind)
        number = pt.is_integer(kind) or pt.is_floating(kind) or pt.is_decimal(kind)
        # booleans feed a number input as 0/1, as onnxgate._data.as_feeds reads them
        for_bool = spec.elem_type == "bool"
        # a map read from Parquet names its entries group too: "map<string, double ('b')>"
        shown = map_type_name(field.type) if pt.is_map(field.type) else field.type
        fault = f"input {spec.name!r} expects {spec.elem_type}; column {field.name!r} is {shown}"
        if pt.is_temporal(kind) or ((text or number) and for_bool):
            faults["retype"].append((field.name, fault))
        elif pt.is_struct(kind) or pt.is_union(kind):
            # a struct's values reached float() as dicts: "found text values (... not 'dict')"
            faults["struct"].append((field.name, fault))
        elif pt.is_map(kind):  # the struct's fix (struct_field) fails on a map
            faults["map"].append((field.name, fault))
    parts = [f"{'; '.join(f for _, f in found)}{where}: {fix.format(it='it' if len(found) == 1 else 'them')}"
             for found, fix in ((faults["retype"], RETYPE_FIX), (faults["struct"], STRUCT_FIX),
                                (faults["map"], MAP_FIX)) if found]
    if parts:
        raise InvalidDataError("; ".join(parts), column=(faults["retype"] or faults["struct"] or faults["map"])[0][0])


def _pandas_categories(batch: pa.RecordBatch, specs: list[TensorSpec | None]) -> pa.RecordBatch:
    """``batch`` with each column that pandas wrote from a ``category`` column (the file's pandas metadata says
    so) and that feeds an input reading category codes as a dictionary column again, as pandas reads it back:
    Parquet keeps no dictionary type for numbers, so the values (7, 12, ... of an XGBoost model's categories) came
    back as plain integers, which were refused as values where codes go, and their nulls as missing values an
    integer input cannot hold. :func:`onnxgate._data.as_feeds` maps such a column to the codes by value."""
    import pyarrow as pa
    import pyarrow.compute as pc

    meta = batch.schema.pandas_metadata or {}
    written = {c.get("name") for c in meta.get("columns", ()) if c.get("pandas_type") == "categorical"}
    found = [j for j, (name, column, spec) in enumerate(zip(batch.schema.names, batch.columns, specs))
             if name in written and spec is not None and spec.codes and not pa.types.is_dictionary(column.type)
             and (0 if spec.width == 1 else j) in dict(spec.codes)]
    if not found:
        return batch
    columns = [pc.dictionary_encode(c) if j in found else c for j, c in enumerate(batch.columns)]
    return pa.RecordBatch.from_arrays(columns, names=batch.schema.names)


def _plain_categories(batch: pa.RecordBatch, specs: list[TensorSpec | None]
                      ) -> tuple[pa.RecordBatch, set[tuple[str, int]]]:
    """``batch`` with each text or number column that feeds an input of category codes at its place, and whose
    categories the model recorded, as those codes: a Spark column has no category type, so the values the model
    was fitted on (``'red'``, 7) and nulls came as plain text or numbers, and were refused ("... null (missing)
    value(s) ... int32 input", or "these look like the category values"). Read as the container service reads
    JSON (:func:`onnxgate._category_codes.category_codes` with ``plain``): a category by value, a null as
    missing; a number is the category of that value where the categories are numbers (months 1..12: batch by
    batch, Spark's split of the rows decided it), else a code; a value that is none of the categories is refused,
    saying what to send (a text one is missing where the model reads it so, LightGBM). Returns the batch and the
    places it mapped (an input's name and the column's position in it)."""
    import numpy as np
    import pyarrow as pa

    from onnxgate._category_codes import category_codes

    columns, coded = list(batch.columns), set[tuple[str, int]]()
    for j, (name, column, spec) in enumerate(zip(batch.schema.names, batch.columns, specs)):
        if spec is None or not spec.codes or pa.types.is_dictionary(column.type) or pa.types.is_nested(column.type):
            continue
        place = 0 if spec.width == 1 else j
        recorded = dict(spec.codes).get(place)
        if recorded is None:
            continue  # no categories recorded: as_feeds takes the codes only, and says so
        try:
            codes = category_codes(column.to_pylist(), recorded, spec.unseen_missing, plain=True,
                                   missing_refused=spec.missing_refused, missing_learnt=spec.missing_learnt)
        except ValueError as err:
            raise InvalidDataError(f"column {name!r} (feeding input {spec.name!r}, which reads the codes of its "
                                   f"categories) {err}", column=name) from None
        columns[j] = (pa.array(np.where(codes < 0, np.nan, codes)) if spec.numpy_dtype.kind == "f"
                      else pa.array(codes.astype(np.int32)))
        coded.add((spec.name, place))
    return (pa.RecordBatch.from_arrays(columns, names=batch.schema.names) if coded else batch), coded


def plain_feeds(batch: pa.RecordBatch, signature: Signature) -> dict[str, np.ndarray] | None:
    """The feeds of a model with one ``[N,k]`` input from ``k`` columns already of its element type
    and without nulls, built straight into one array; None for anything else.

    It gives what :func:`batch_data` + :func:`onnxgate._data.as_feeds` give in that case (the whole
    frame feeds the one input, in column order, with nothing to cast), without the pandas frame in
    between. A recorded column map, a column named like the input, another type or a null all take
    that general route.
    """
    import numpy as np
    import pyarrow as pa

    inputs = signature.inputs
    if len(inputs) != 1 or signature.columns.pairs:
        return None
    spec = inputs[0]
    if spec.rank != 2 or spec.width != batch.num_columns or spec.name in batch.schema.names:
        return None
    from onnxgate._data import refuse_shuffled_positions

    refuse_shuffled_positions(batch.schema.names, spec)
    dtype = spec.numpy_dtype
    # only a floating-point column can be of the input's type; a category column (an Arrow dictionary) has no
    # numpy dtype, and asking for one raised NotImplementedError (helper-165)
    if dtype.kind != "f" or any(not pa.types.is_floating(t) or t.to_pandas_dtype() != dtype
                                for t in batch.schema.types):
        return None
    if any(c.null_count for c in batch.columns):
        return None
    matrix = np.empty((batch.num_rows, batch.num_columns), dtype=dtype)
    for j, column in enumerate(batch.columns):
        matrix[:, j] = column.to_numpy()
    return {spec.name: matrix}


def spark_type(spec: TensorSpec) -> str:
    """The Spark SQL type of one row's value of an output: a scalar for ``[N]``/``[N,1]``, an array for ``[N,k]``,
    arrays of arrays for ``[N,k,m]`` (one level per axis after the first, as a list column feeds such an input)."""
    base = SPARK_TYPES.get(spec.elem_type)
    if base is not None and _labelled(spec):
        base = "string"
    if base is None or not spec.is_tensor:
        raise UnsupportedModelError(
            f"output {spec.name!r} is {spec.describe()}, which has no column type in a scored table (Parquet's, as "
            "`onnxgate score` writes it, and Spark's); those columns take "
            f"tensors of {sorted(SPARK_TYPES)} (convert without ZipMap for probabilities)"
        )
    levels = _list_levels(spec)
    return base if not levels else "array<" * levels + base + ">" * levels


def arrow_type(spec: TensorSpec) -> pa.DataType:
    """The Arrow type :func:`to_arrow` gives an output (the Spark type's Arrow counterpart)."""
    import pyarrow as pa

    spark_type(spec)  # refuses outputs that are not tensors of a known type
    names = {"float": pa.float32(), "double": pa.float64(), "tinyint": pa.int8(), "smallint": pa.int16(),
             "int": pa.int32(), "bigint": pa.int64(), "boolean": pa.bool_(), "string": pa.string()}
    base = pa.string() if _labelled(spec) else names[SPARK_TYPES[spec.elem_type]]
    for _ in range(_list_levels(spec)):
        base = pa.list_(base)
    return base


def _scalar(spec: TensorSpec) -> bool:
    return spec.rank == 1 or (spec.rank == 2 and spec.width == 1)


def _list_levels(spec: TensorSpec) -> int:
    """How deep one row's value of an output is nested: 0 (a scalar), 1 for ``[N,k]`` or an unknown rank, else one
    per axis after the first. A ``[N,2,3]`` output written as one list of 6 values per row lost which values
    belonged together (score and Spark wrote it so, where onnxruntime answers each row as 2 rows of 3)."""
    if _scalar(spec):
        return 0
    return max(1, (spec.rank or 2) - 1)


def _labelled(spec: TensorSpec) -> bool:
    """Whether ``spec`` returns a classifier's text labels as the codes of its classes (a file converted for a SQL
    target, :attr:`TensorSpec.labels`): a scored table holds the text labels, as ``09_predict_labels.sql`` returns
    them and as the classifier (and a container or MLflow package of it) answers."""
    return bool(spec.labels) and spec.elem_type in ("int32", "int64") and _scalar(spec)


def _as_labels(array: np.ndarray, spec: TensorSpec) -> np.ndarray:
    """The codes ``array`` holds as the text labels ``spec`` records for them; a code none of them is refused."""
    import numpy as np

    labels = np.asarray(spec.labels, dtype=object)
    codes = array.astype(np.int64)
    bad = np.flatnonzero((codes < 0) | (codes >= len(labels)))
    if bad.size:
        raise UnsupportedModelError(
            f"output {spec.name!r} answered code {int(codes.flat[bad[0]])} (row {int(bad[0])}), which the model's "
            f"record of its class labels (onnxgate.class_labels: codes 0 to {len(labels) - 1}) names no label of, so "
            "the row has no text label to write. Convert the classifier again for the target (onnxgate convert "
            "--target), or score the file as it was converted before its record was edited",
            output=spec.name,
        )
    return labels[codes]


def to_arrow(values: Any, spec: TensorSpec) -> pa.Array:
    """One output of one batch as an Arrow array of the type :func:`spark_type` announces: the text labels of an
    output of class codes (:func:`_labelled`), each code's label as the model records it."""
    import numpy as np
    import pyarrow as pa

    array = np.asarray(values)
    n = array.shape[0] if array.ndim else 1
    cast = _WIDER.get(spec.elem_type)
    if cast is not None:
        array = array.astype(cast)
    if spec.elem_type == "string":
        array = array.astype(object)
    if _labelled(spec):
        array = _as_labels(array, spec)
    row = [d for d in (spec.shape or ())[1:] if isinstance(d, int)]  # the declared shape of one row
    levels = _list_levels(spec)
    if (spec.rank is not None and len(row) == spec.rank - 1 and array.size != n * math.prod(row)) or (
            levels > 1 and array.ndim != levels + 1):
        raise UnsupportedModelError(
            f"output {spec.name!r} is declared {spec.shape_str()} but the model answered shape {list(array.shape)}; "
            "its values cannot be written as the declared column. Fix the model's declared output shape (or "
            "score only the other outputs with --outputs)",
            output=spec.name,
        )
    if _scalar(spec):
        return pa.array(array.reshape(n), type=arrow_type(spec))
    sizes = [n, *array.shape[1:]] if levels > 1 else [n, array.size // n if n else 0]
    leaf = leaf_type(arrow_type(spec))
    nested = pa.array(array.reshape(-1), type=leaf)
    # innermost axis first: each level's lists hold `size` entries of the level below
    for depth in range(len(sizes) - 1, 0, -1):
        count, size = math.prod(sizes[:depth]), sizes[depth]
        offsets = np.arange(0, count * size + 1, size, dtype=np.int32)
        nested = pa.ListArray.from_arrays(pa.array(offsets), nested)
    return nested
