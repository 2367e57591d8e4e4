"""Rows for ``validate`` and ``predict``: a DataFrame, or local Parquet files the Python workers read themselves.

Through a DataFrame, Spark's JVM reads the Parquet files, turns the columns into rows, and the rows
into Arrow batches for the Python workers: on 2 cores that conversion alone costs more CPU than
scoring a small MLP (bench/bench_spark.py). Given the files' path instead, Spark distributes only
``(file, row group)`` pairs, in file order, and each worker reads its row groups with pyarrow
straight into the batches it scores: the same rows, in the same order, as ``spark.read.parquet``.
A DataFrame that is exactly ``spark.read.parquet`` of such a file or folder, or such a read with
columns picked, dropped or reordered (Spark's ``sameSemantics`` finds it equal to a fresh read with
the same columns picked: no filter, cast, alias, option or schema), is read that way too, the
workers reading only those columns.

That path is taken only where it reads exactly what Spark would, in a classic session (not Spark
Connect, whose server reads paths on its own machine): a local ``.parquet`` file, or a
local folder holding only ``.parquet`` files (names starting with ``_`` or ``.`` skipped, as Spark
skips them) that all have the same schema, of booleans, signed integers, floats and text (``string``, the
``large_string`` pandas 3 writes, ``string_view``).
Anything else (a URL, partition folders ``key=value/``, subfolders, other files, differing schemas,
other types) is read by Spark into a DataFrame, as before. The files must be readable at the same
path by every executor: true on one machine (``local[*]``, a standalone cluster on it) and on a
shared filesystem.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from onnxgate.errors import InvalidDataError

__all__ = ["PREDICT_BATCH_ROWS", "Rows", "fragment_batches", "named_batches", "parquet_fragments", "rows_of",
           "worker_batches"]

#: A fragment: a row group of a file, with the file's size and time of last change when the driver planned the job.
_FRAGMENT_DDL = "path string, row_group int, size long, mtime_ns long"
#: Rows per batch a ``predict`` worker reads and hands back to Spark. Its JVM turns every batch it
#: gets back into rows, at a cost per batch: on 10,000,000 rows of the 64x64 MLP (2 cores) the JVM
#: took 1.6-1.8 s of CPU for batches of 262,144 rows and 1.7-2.3 s for 16,384. The model still runs
#: on runs of onnxgate.runtime.RUN_ROWS rows within a batch.
PREDICT_BATCH_ROWS = 131_072


@dataclass(frozen=True)
class Rows:
    """What ``mapInArrow`` runs over: ``frame`` holds the rows, or ``(path, row_group)`` pairs when
    ``fragments``; ``columns`` and ``fields`` (Spark ``StructField`` objects) describe the rows either way;
    ``wide``: the text columns the workers read as ``large_string`` from every file (:func:`fragment_batches`)."""

    spark: Any
    frame: Any
    fragments: bool
    columns: list[str]
    fields: list[Any]
    wide: tuple[str, ...] = ()


def parquet_fragments(data: str | os.PathLike[str]) -> tuple[list[tuple[str, int, int, int]], Any] | None:
    """``(path, row group, size, mtime_ns)`` of each row group in file order (the file's size and time of last change,
    which the workers check: :func:`fragment_batches`), and the files' shared pyarrow schema; None when the workers
    could not read exactly what ``spark.read.parquet(data)`` would."""
    import pyarrow.parquet as pq

    files = _parquet_files(data)
    if not files:
        return None
    schema = None
    fragments: list[tuple[str, int, int, int]] = []
    for file in files:
        try:
            meta = pq.ParquetFile(file).metadata
            stamp = file.stat()
        except Exception:
            return None  # Spark names what is wrong with it
        own = meta.schema.to_arrow_schema().remove_metadata()
        if schema is None:
            if not all(_same_in_spark(field.type) for field in own):
                return None
            schema = own
        elif not own.equals(schema):
            widened = _text_widened(schema, own)
            if widened is None:
                _refuse_type_conflict(schema, own, files[0], file)
                return None  # Spark reads one file's schema (mergeSchema off): leave the choice to it
            schema = widened
        path = str(file.resolve())
        fragments.extend((path, group, stamp.st_size, stamp.st_mtime_ns) for group in range(meta.num_row_groups))
    return fragments, schema


def _text_widened(schema: Any, other: Any) -> Any:
    """``schema`` with its text columns that ``other`` lays out otherwise as ``large_string``, when the two differ in
    nothing else (names, order, nullability, other types); else None. pandas 3 writes text as ``large_string``, Spark
    and pandas 2 as ``string``: a folder holding both went through Spark's reader, which packs the largest files
    first, and the rows came out of the file order (row numbers in validate's evidence, the scored rows' order).
    The workers read such a column as ``large_string`` from every file (:func:`fragment_batches`), as ``score`` on one
    machine reads it: one Arrow type per column in the batches a task hands Spark."""
    import pyarrow as pa

    from onnxgate._arrow import is_text_type

    if schema.names != other.names:
        return None
    for i, (a, b) in enumerate(zip(schema, other)):
        if a.equals(b):
            continue
        if a.nullable != b.nullable or not (is_text_type(a.type) and is_text_type(b.type)):
            return None
        schema = schema.set(i, a.with_type(pa.large_string()))
    return schema


def _refuse_type_conflict(first: Any, other: Any, first_file: Path, other_file: Path) -> None:
    """Refuse two files that type one column differently (text widths aside): Spark reads one file's
    schema and failed on the other deep in the job, with a Java stack trace (``onnxgate score`` on one
    machine refuses them too).

    Raises
    ------
    InvalidDataError
        Naming the column, both files and both types.
    """
    import pyarrow as pa

    from onnxgate._arrow import is_bytes_type, is_text_type

    for field in other:
        if field.name not in first.names:
            continue
        a, b = first.field(field.name).type, field.type
        widths = (is_text_type(a) and is_text_type(b)) or (is_bytes_type(a) and is_bytes_type(b))
        if a.equals(b) or widths or pa.types.is_null(a) or pa.types.is_null(b):
            continue  # a column of nulls only (pandas writes all-None as Arrow null) takes the other's type
        raise InvalidDataError(
            f"{other_file.name!r} types column {field.name!r} as {b}, but {first_file.name!r} as {a}: Spark reads "
            "one file's types and fails on the other's rows; write every file with one type per column",
            column=field.name,
        )


def _parquet_files(data: str | os.PathLike[str]) -> list[Path] | None:
    """The ``.parquet`` file, or the folder's ``.parquet`` files in name order (``_`` and ``.`` names
    skipped, as Spark skips them); None for a URL, a missing path, or a folder holding anything else."""
    text = os.fspath(data)
    if "://" in text or not Path(text).exists():
        return None
    root = Path(text)
    if root.is_file():
        return [root] if root.suffix.lower() == ".parquet" else None
    entries = sorted(p for p in root.iterdir() if not p.name.startswith(("_", ".")))
    if any(not p.is_file() or p.suffix.lower() != ".parquet" for p in entries):
        return None  # partition folders, subfolders or other files: Spark's own rules apply
    return entries


def _same_in_spark(kind: Any) -> bool:
    """Arrow types a worker can read and hand to Spark as Spark's own reader types them (booleans,
    signed integers, floats, text of any layout: :func:`onnxgate._arrow.is_text_type`, ``large_string`` being what
    pandas 3 writes); dates, times, decimals, unsigned and nested types go through Spark."""
    import pyarrow.types as t

    from onnxgate._arrow import is_text_type

    return bool(t.is_boolean(kind) or t.is_signed_integer(kind) or (t.is_floating(kind) and not t.is_float16(kind))
                or is_text_type(kind))


def rows_of(data: Any, spark: Any = None) -> Rows:
    """The rows of a DataFrame, or of a Parquet path (read by the workers where :func:`parquet_fragments`
    allows, else by ``spark.read.parquet``); a DataFrame that is a plain ``spark.read.parquet`` of such
    files is read by the workers too. ``spark`` defaults to the active session.

    Raises
    ------
    InvalidDataError
        A path with no active session and no ``spark=``, or one Spark cannot read as Parquet.
    """
    if isinstance(data, Rows):
        return data
    if hasattr(data, "mapInArrow"):
        folded = [str(c).lower() for c in data.columns]
        repeated = sorted({c for c in data.columns if folded.count(str(c).lower()) > 1})
        if repeated:  # after a join: Spark's "[AMBIGUOUS_REFERENCE] Reference 'f0' is ambiguous" (helper-125)
            raise InvalidDataError(
                f"the DataFrame has several columns named {', '.join(map(repr, repeated))} (Spark tells names apart "
                "whatever their case); every column needs a name of its own: select or rename them first (after a "
                "join, alias one side's columns)", column=repeated[0],
            )
        read = _plain_parquet_read(data)
        found = parquet_fragments(read[0]) if read is not None else None
        if found is None or read is None:
            return _spark_rows(data)
        fragments, schema = found
        picked = read[1]
        if picked is not None:
            if len(set(picked)) != len(picked) or not set(picked) <= set(schema.names):
                return _spark_rows(data)  # a column twice, or named in another case than the files'
            import pyarrow as pa

            schema = pa.schema([schema.field(name) for name in picked])
        return _fragment_rows(data.sparkSession, fragments, schema)
    if not isinstance(data, (str, os.PathLike)):
        raise InvalidDataError(
            f"expected a Spark DataFrame or the path of Parquet files, found a {type(data).__name__}"
        )
    if spark is None:
        from pyspark.sql import SparkSession

        spark = SparkSession.getActiveSession()
        if spark is None:
            raise InvalidDataError(
                f"reading {os.fspath(data)!r} needs a Spark session: pass spark=onnxgate.spark.session(...) or a "
                "DataFrame"
            )
    try:
        context = spark.sparkContext
    except Exception:  # Spark Connect: the server reads the path, which may not be this machine's
        context = None
    found = parquet_fragments(data) if context is not None else None
    if found is None:
        from onnxgate.spark._session import read_parquet

        return _spark_rows(read_parquet(spark, os.fspath(data)))
    return _fragment_rows(spark, *found)


def _spark_rows(frame: Any) -> Rows:
    """Rows Spark reads and feeds: the DataFrame as it is, its columns renamed ``_c0``, ``_c1``... when
    a name holds a backtick or a dot, which pyspark's ``mapInArrow`` cannot look up (it resolves each
    column by name, unquoted); the workers give the batches their names back (:func:`named_batches`)."""
    columns, fields = list(frame.columns), list(frame.schema.fields)
    if any("`" in name or "." in name for name in columns):
        frame = frame.toDF(*[f"_c{i}" for i in range(len(columns))])
    return Rows(frame.sparkSession, frame, False, columns, fields)


def worker_batches(batches: Iterator[Any], fragment_rows: int, columns: list[str] | None,
                   wide: tuple[str, ...] = ()) -> Iterator[Any]:
    """Inside a worker: the batches it scores, of the columns ``columns``: read from the ``(path, row
    group)`` pairs it is given in runs of ``fragment_rows`` rows when that is set (:func:`fragment_batches`, the
    text columns ``wide`` as ``large_string``), else Spark's own batches, named back (:func:`named_batches`)."""
    if fragment_rows:
        return fragment_batches(batches, fragment_rows, columns, wide)
    return batches if columns is None else named_batches(batches, columns)


def named_batches(batches: Iterator[Any], columns: list[str]) -> Iterator[Any]:
    """Inside a worker: Spark's batches with the columns named ``columns`` (see :func:`_spark_rows`)."""
    import pyarrow as pa

    for batch in batches:
        if batch.schema.names != columns:
            batch = pa.RecordBatch.from_arrays(batch.columns, names=columns)
        yield batch


def _fragment_rows(spark: Any, fragments: list[tuple[str, int, int, int]], schema: Any) -> Rows:
    """Rows read by the workers: a DataFrame of ``(path, row group)`` pairs, in file order."""
    import pyarrow as pa
    from pyspark.sql.pandas.types import from_arrow_schema
    from pyspark.sql.types import StructField

    from onnxgate._arrow import without_views

    context = spark.sparkContext
    # nullable, as Spark's reader makes every Parquet column, whatever the file says
    fields = [StructField(f.name, f.dataType, True) for f in from_arrow_schema(without_views(schema)).fields]
    # parallelize slices the list into contiguous runs, partition 0 first: rows keep the file order,
    # which the row numbers in the evidence count in
    parts = max(1, min(len(fragments), int(context.defaultParallelism)))
    frame = spark.createDataFrame(context.parallelize(fragments, parts), _FRAGMENT_DDL)
    wide = tuple(f.name for f in schema if pa.types.is_large_string(f.type))
    return Rows(spark, frame, True, list(schema.names), fields, wide)


def _plain_parquet_read(frame: Any) -> tuple[str, list[str] | None] | None:
    """The local file or folder ``frame`` is exactly ``spark.read.parquet(...)`` of, and the columns it
    picks from it (None: all, in the files' order); else None.

    Exactly: Spark's own ``sameSemantics`` finds the plans equal to a fresh read, or to a fresh read
    with ``frame``'s columns picked (no filter, cast, alias, option or schema given), and the folder
    holds the same files Spark lists. Then the workers read the same rows as the DataFrame, in file
    order.
    """
    try:
        if frame.sparkSession.sparkContext is None:
            return None
        files = list(frame.inputFiles())
    except Exception:  # Spark Connect, or a plan without files
        return None
    if not files or not all(f.startswith("file:") for f in files):
        return None
    from urllib.parse import unquote, urlparse

    paths = {str(Path(unquote(urlparse(f).path)).resolve()) for f in files}
    candidates = [next(iter(paths))] if len(paths) == 1 else []
    parents = {str(Path(p).parent) for p in paths}
    if len(parents) == 1:
        candidates.append(parents.pop())
    for candidate in candidates:
        listed = _parquet_files(candidate)
        if not listed or {str(p.resolve()) for p in listed} != paths:
            continue
        try:
            fresh = frame.sparkSession.read.parquet(candidate)
            if frame.sameSemantics(fresh):
                return candidate, None  # its footers decide next whether the workers can read it
            columns = list(frame.columns)
            # picked by name, quoted: a dot in a name is part of it, not a struct field
            picked = fresh.select(*[fresh["`" + name.replace("`", "``") + "`"] for name in columns])
            if frame.sameSemantics(picked):
                return candidate, columns
        except Exception:  # a column the fresh read has not (an alias, a computed column)
            continue
    return None


def fragment_batches(fragments: Iterator[Any], batch_rows: int, columns: list[str] | None = None,
                     wide: tuple[str, ...] = ()) -> Iterator[Any]:
    """Inside a worker: the Arrow record batches of each ``(path, row_group, size, mtime_ns)`` fragment, read with
    pyarrow; only ``columns``, in that order, when given; the text columns ``wide`` as ``large_string`` whatever layout
    each file gives them (a folder of ``string`` and ``large_string`` files: :func:`_text_widened`), so that the
    batches of one task, which Spark reads as one Arrow stream, have one schema.

    A file whose size or time of last change is not the one the driver planned the job with is refused
    (:func:`_check_unchanged`): its row groups are not the ones planned.

    On one thread, as a Spark task has one core (``spark.task.cpus``): pyarrow's own thread pool
    took a third more CPU for the same read (10,000,000 x 10 float32 rows: 0.47 against 0.35 s).
    """
    import pyarrow.parquet as pq

    from onnxgate._arrow import without_views

    for pairs in fragments:
        paths, groups, sizes, times = (pairs.column(i).to_pylist() for i in range(4))
        for path, group, size, mtime_ns in zip(paths, groups, sizes, times):
            try:
                opened = pq.ParquetFile(path, memory_map=True)
            except FileNotFoundError as err:  # was "unexpected PythonException" and a worker traceback
                raise InvalidDataError(
                    f"the data file {path!r} is gone on an executor ({err.strerror or err}): it was removed or "
                    f"replaced while the job ran, or the executors do not see the driver's files; {_READ_AGAIN}"
                ) from None
            _check_unchanged(path, size, mtime_ns)  # after opening: a file replaced before or since is found
            for batch in opened.iter_batches(
                batch_size=batch_rows, row_groups=[group], columns=columns, use_threads=False
            ):
                batch = batch if columns is None or batch.schema.names == columns else batch.select(columns)
                plain = _widened(without_views(batch.schema), wide)  # pyspark's Arrow types have no string_view
                yield batch if plain.equals(batch.schema) else batch.cast(plain)


#: What to do about a data file that changed after the driver planned the job.
_READ_AGAIN = ("score it again once the folder stops changing (a result of predict reads the files at each use: "
               "call predict again after rewriting them), or give a path every executor reads (a shared filesystem)")


def _check_unchanged(path: str, size: int, mtime_ns: int) -> None:
    """Refuse a data file whose size or time of last change differs from the driver's when it planned the job.

    The workers read row groups by number: a file replaced by another with as many row groups (a rewrite of the
    folder while ``score --spark`` ran, or before a lazy result of ``predict`` was used again) was read whole, its
    new rows scored as if they were the planned ones, and a file with fewer row groups failed in pyarrow. One
    ``stat`` per row group; a rewrite keeping both the size and the time to the nanosecond is not detected.

    Raises
    ------
    InvalidDataError
        Naming the file and what changed.
    """
    try:
        found = os.stat(path)
    except OSError as err:
        raise InvalidDataError(f"the data file {path!r} is gone on an executor ({err.strerror}): it was removed "
                               f"while the job ran; {_READ_AGAIN}") from None
    if (found.st_size, found.st_mtime_ns) != (size, mtime_ns):
        changed = (f"{size:,} bytes when the job was planned, {found.st_size:,} now" if found.st_size != size
                   else "the same size, changed since the job was planned")
        raise InvalidDataError(f"the data file {path!r} changed on an executor ({changed}): it was rewritten "
                               f"after the driver planned which row groups to read; {_READ_AGAIN}")


def _widened(schema: Any, wide: tuple[str, ...]) -> Any:
    """``schema`` with its columns ``wide`` as ``large_string`` (see :func:`fragment_batches`)."""
    import pyarrow as pa

    for name in wide:
        index = schema.get_field_index(name)
        if index >= 0 and not pa.types.is_large_string(schema.field(index).type):
            schema = schema.set(index, schema.field(index).with_type(pa.large_string()))
    return schema
