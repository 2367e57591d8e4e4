"""The ``--spark MASTER`` side of ``onnxgate validate`` and ``onnxgate score``: a session, Parquet, a clean stop."""

from __future__ import annotations

import argparse
import contextlib
import warnings
from collections.abc import Iterator
from typing import Any

from onnxgate.errors import InvalidDataError

__all__ = ["check_spark_validate_args", "score_on_spark", "validate_on_spark"]


def check_spark_validate_args(args: argparse.Namespace) -> None:
    """``validate --spark``: refuse the options that only apply on one machine, before Spark starts."""
    if not args.reference:
        raise InvalidDataError("--spark runs the parity check: it needs --reference MODEL and --data PARQUET")
    if args.search:
        raise InvalidDataError("--search runs on one machine; drop --spark for it, or --search with --spark")
    if args.batch_size is not None:
        raise InvalidDataError("--batch-size sets parity batches on one machine; with --spark, Spark's "
                               "spark.sql.execution.arrow.maxRecordsPerBatch does")


def validate_on_spark(args: argparse.Namespace, reference: Any, target: Any, atol: Any, rtol: Any) -> Any:
    """``onnxgate validate --spark MASTER``: the target's checks here, parity on Spark."""
    from onnxgate._data import check_parquet_data
    from onnxgate.signature import Signature
    from onnxgate.spark import check_parquet_path, model_for_spark, session, validate
    from onnxgate.targets import resolve_target

    check_parquet_path(args.data)  # a missing path or a .csv, refused here rather than after a JVM start
    check_parquet_data(args.data)  # a folder's files as validate reads them without --spark, in its words
    # a model above 2 GiB with its external data: loaded by path (refused for a SQL target), its data files checked
    proto, _ = model_for_spark(args.model, resolve_target(target))
    _check_local_files(args.data, Signature.from_model(proto), command="validate")
    owned = _no_session()
    with _without_pandas_warning():
        spark = session(args.spark)
        if owned:
            _quiet(spark)
        try:
            # the path, not a DataFrame: local Parquet is read by the workers themselves where it can be
            return validate(args.model, args.data, reference=reference, spark=spark, target=target, atol=atol,
                            rtol=rtol, fail_fast=args.fail_fast, text_variants=not args.no_text_variants)
        finally:
            if owned:
                spark.stop()


def score_on_spark(args: argparse.Namespace, outputs: list[str] | None) -> int:
    """``onnxgate score --spark MASTER``: Spark reads, scores and writes a folder of Parquet files. A package's data
    files are hashed once, before Spark starts (:func:`onnxgate._package_rules.data_files_checked_once`), not again
    by :func:`onnxgate.spark.predict`."""
    from onnxgate._package_rules import data_files_checked_once

    with data_files_checked_once():
        return _score_on_spark(args, outputs)


def _score_on_spark(args: argparse.Namespace, outputs: list[str] | None) -> int:
    from onnxgate._onnx import staged_folder, weights_by_path
    from onnxgate._package_rules import check_package_data_files
    from onnxgate.cli import EXIT_OK
    from onnxgate.signature import Signature
    from onnxgate.spark import job_errors, load_scoring_model, predict, session, spark_path

    with weights_by_path():  # a model above 2 GiB: read by path, here and on the executors (predict)
        signature = Signature.from_model(load_scoring_model(args.model))  # a bad model is refused before Spark starts
        check_package_data_files(args.model)
    schemas, common = _check_local_files(args.data, signature, outputs or signature.output_names)
    if schemas:  # local files: refused as without --spark (data elsewhere is Spark's to read)
        from onnxgate._commands.score import refuse_no_rows

        refuse_no_rows(args.data, list(schemas))
    unsigned = _unsigned_columns(common, signature, outputs or signature.output_names)
    required = _required_columns(schemas, common, signature, outputs or signature.output_names)
    restored = _restored_columns(common, signature, outputs or signature.output_names, required)
    owned = _no_session()
    with _without_pandas_warning():
        spark = session(args.spark)
        if owned:
            _quiet(spark)
        try:
            scored = _not_null(predict(args.data, args.model, outputs=outputs, spark=spark), required)
            remote = _remote(args.out)
            with job_errors():  # a null feeding an integer input, met by a worker: exit 2
                if remote:  # another filesystem (hdfs://, s3a://): Spark's own rules
                    scored.write.mode("overwrite" if args.force else "errorifexists").parquet(args.out)
                else:  # a job that fails half-way leaves no folder, and an old one stays until the new is whole
                    from onnxgate._commands.score import _local_path  # file:/x is the folder /x, not ./file:/x

                    with staged_folder(_local_path(args.out), overwrite=args.force) as staged:
                        scored.write.parquet(str(staged))
                        _restore_types(staged, restored)
            print(f"scored the rows of {args.data!r} into the Parquet folder {args.out!r} (Spark {args.spark})")
            if remote:
                _say_types_lost(unsigned, restored)
            from onnxgate._commands.score import say_non_finite
            from onnxgate._package_rules import package_nan_inputs

            if package_nan_inputs(args.model) is None:  # a package with a rule refused such rows already
                say_non_finite(args.model, _non_finite_rows(spark, spark_path(args.out), signature, outputs))
        finally:
            if owned:
                spark.stop()
    return EXIT_OK


def _remote(out: str) -> bool:
    """Whether ``score --spark`` writes ``out`` with Spark's writer as it is: a URL of another filesystem (``hdfs://``,
    ``s3a://``). A path or a ``file:`` URL of this machine (``file:///x``, ``file:/x``) is the folder it names,
    written beside it and renamed, and given ``score``'s types (:func:`_restore_types`): written as a URL,
    ``file:///x`` lost the time zones and nested NOT NULL fields that ``--out /x`` kept."""
    from onnxgate._commands.score import _local_path

    return "://" in out and _local_path(out) == out


def _say_types_lost(unsigned: dict[str, Any], restored: dict[str, Any]) -> None:
    """The notes on stderr naming the columns that Spark's writer, writing a URL of another filesystem, gives another
    type than ``score`` writes: unsigned integers (``unsigned``), and the rest of ``restored``
    (:func:`_restored_columns`): time-zoned timestamps, nested NOT NULL fields."""
    import sys

    tell = "'onnxgate score' without --spark, or --spark with a local --out (a path or a file: URL), keeps their types"
    if unsigned:
        widened = ", ".join(f"{name!r} ({kind})" for name, kind in unsigned.items())
        print(f"note: Spark has no unsigned integer types: the column(s) {widened} are written as the signed "
              "type that holds every value (uint8 as int16, uint16 as int32, uint32 as int64, uint64 as "
              f"decimal(20,0)), values kept; {tell}", file=sys.stderr)
    others = {name: field for name, field in restored.items() if name not in unsigned}
    if others:
        named = ", ".join(f"{name!r} ({field.type}{'' if field.nullable else ' not null'})"
                          for name, field in others.items())
        print(f"note: Spark's writer keeps no time zone on a timestamp (read back as a naive timestamp, the instant "
              "kept), no NOT NULL on a struct's, list's or map's fields or on such a column, and no unsigned type "
              f"within them: the column(s) {named} are written without them, values kept; {tell}", file=sys.stderr)


def _non_finite_rows(spark: Any, out: str, signature: Any, outputs: list[str] | None) -> dict[str, int]:
    """Per fed column of the scored folder, the rows holding NaN, null or infinity (an array column's row
    once), as ``score`` counts them on one machine, where a column is first cast to its input's type (a
    null read as NaN, from an integer column too): one Spark job over those columns of what was
    written."""
    from pyspark.sql import functions as F
    from pyspark.sql import types as T

    from onnxgate.spark import feed_columns

    written = spark.read.parquet(out)
    wanted = set(outputs or signature.output_names)
    fed = feed_columns([c for c in written.columns if c not in wanted], signature)
    inputs = signature.inputs
    # one column per input, in input order; else every column is a feature of the one input
    input_of = dict(zip(fed, inputs)) if len(fed) == len(inputs) else {c: inputs[0] for c in fed}
    floats = (T.DoubleType, T.FloatType)

    def bad(value: Any) -> Any:  # a null in a float column is scored as NaN, as on one machine
        return value.isNull() | F.isnan(value) | (F.abs(value) == F.lit(float("inf")))

    def null(value: Any) -> Any:
        return value.isNull()

    counted: list[str] = []
    sums: list[Any] = []
    for field in written.schema.fields:
        spec = input_of.get(field.name)
        if spec is None or not str(spec.elem_type).startswith("float"):
            continue  # a null fed to an integer or text input is refused, not scored
        column = F.col("`" + field.name.replace("`", "``") + "`")
        if isinstance(field.dataType, T.ArrayType):
            hit = F.exists(column, bad if isinstance(field.dataType.elementType, floats) else null)
            hit = column.isNull() | hit
        else:
            hit = bad(column) if isinstance(field.dataType, floats) else null(column)
        sums.append(F.sum(F.when(hit, 1).otherwise(0)).alias(f"c{len(sums)}"))
        counted.append(field.name)
    if not sums:
        return {}
    row = written.agg(*sums).collect()[0]
    return {repr(name): int(row[i] or 0) for i, name in enumerate(counted) if row[i]}


def _check_local_files(data: str, signature: Any, outputs: list[str] | None = None,
                       command: str = "score") -> tuple[dict[str, Any], Any]:
    """A local Parquet file or folder gets ``score``'s footer checks before Spark starts: Spark's reader
    would give a column that one file lacks as nulls, and fail deep in a job on a column typed
    differently in two files; a float16 column it cannot read at all (:func:`_refuse_float16`). Returns each file's
    Arrow schema and their common one, or ``({}, None)`` for data Spark reads from elsewhere."""
    from pathlib import Path

    from onnxgate._commands.score import check_parquet_files
    from onnxgate.spark import check_parquet_path

    check_parquet_path(data)  # a missing path or a .csv, refused here rather than after a JVM start
    path = Path(data)
    if "://" not in data and (path.is_dir() or path.suffix.lower() == ".parquet"):
        schemas, common = check_parquet_files(data, signature, outputs, any_case=True)
        _refuse_float16(schemas, command)
        return schemas, common
    return {}, None


def _refuse_float16(schemas: dict[str, Any], command: str) -> None:
    """Refuse the files (``schemas``: each file's Arrow schema) holding a float16 column, alone or inside a list or
    struct, fed or not: Spark's Parquet reader refuses the whole file ("[PARQUET_TYPE_ILLEGAL] Illegal Parquet type:
    FIXED_LEN_BYTE_ARRAY (FLOAT16)"), and said so only after its start-up, with no fix. One machine reads them."""
    import pyarrow as pa

    def holds_float16(kind: Any) -> bool:
        if pa.types.is_float16(kind):
            return True
        return any(holds_float16(kind.field(i).type) for i in range(kind.num_fields))

    for file, schema in schemas.items():
        halves = [field.name for field in schema if holds_float16(field.type)]
        if halves:
            from pathlib import Path

            named = ", ".join(map(repr, halves))
            raise InvalidDataError(
                f"{Path(file).name!r} has float16 column(s) {named}, and Spark cannot read float16 from Parquet "
                "([PARQUET_TYPE_ILLEGAL]): cast them to float32 when writing the file (pandas "
                f".astype('float32'), pyarrow table.cast), or run 'onnxgate {command}' without --spark, which "
                "reads them", path=file, column=halves[0])


def _unsigned_columns(common: Any, signature: Any, outputs: list[str]) -> dict[str, Any]:
    """The data columns of unsigned integer type (``common``, the local files' schema), by their name in the scored
    rows (:func:`onnxgate.spark.columns_named_like_outputs`), with their Arrow type. Spark has no unsigned type: it
    reads uint8, uint16 and uint32 as smallint, int and bigint and uint64 as decimal(20,0), and writes them so, where
    ``score`` on one machine writes them as they are."""
    import pyarrow as pa

    from onnxgate.spark import columns_named_like_outputs

    if common is None:
        return {}
    renamed = columns_named_like_outputs(common.names, signature, outputs, any_case=True)
    return {renamed.get(f.name, f.name): f.type for f in common if pa.types.is_unsigned_integer(f.type)}


def _required_columns(schemas: dict[str, Any], common: Any, signature: Any, outputs: list[str]) -> list[str]:
    """The data columns that every file (``schemas``, each file's Arrow schema) holds and declares NOT NULL, by their
    name in the scored rows (:func:`onnxgate.spark.columns_named_like_outputs`): ``score`` on one machine writes
    them NOT NULL, and Spark's reader makes every Parquet column nullable."""
    from onnxgate.spark import columns_named_like_outputs

    if common is None:
        return []
    renamed = columns_named_like_outputs(common.names, signature, outputs, any_case=True)
    return [renamed.get(f.name, f.name) for f in common
            if all(f.name in s.names and not s.field(f.name).nullable for s in schemas.values())]


def _not_null(scored: Any, required: list[str]) -> Any:
    """``scored`` with its columns ``required`` (:func:`_required_columns`) NOT NULL, as ``score`` on one machine
    writes them: each is ``coalesce(column, a value of its type)``, which Spark knows is never null, and which is
    the column itself, since no file holds a null there. A column of a type given no such value here (arrays,
    structs, maps) stays nullable."""
    from pyspark.sql import functions as F

    if not required:
        return scored
    picked = []
    for field in scored.schema.fields:
        column = scored["`" + field.name.replace("`", "``") + "`"]
        filler = _some_value(field.dataType) if field.name in required and field.nullable else None
        if filler is not None:
            column = F.coalesce(column, filler).alias(field.name, metadata=field.metadata)
        picked.append(column)
    return scored.select(*picked)


def _some_value(kind: Any) -> Any:
    """A non-null Spark literal of the atomic type ``kind``; None for another type."""
    from pyspark.sql import functions as F
    from pyspark.sql import types as T

    if isinstance(kind, T.BooleanType):
        return F.lit(False)
    if isinstance(kind, (T.NumericType, T.StringType, T.BinaryType)):
        return F.lit("0" if isinstance(kind, T.BinaryType) else 0).cast(kind)
    if isinstance(kind, (T.DateType, T.TimestampType, T.TimestampNTZType)):
        return F.lit("1970-01-01").cast(kind)
    return None


def _restored_columns(common: Any, signature: Any, outputs: list[str], required: list[str]) -> dict[str, Any]:
    """The data columns (``common``, the local files' schema) that Spark writes in another Arrow form than ``score`` on
    one machine writes them, by their name in the scored rows, each with the field ``score`` writes (type and
    nullability): an unsigned integer (:func:`_unsigned_columns`); a timestamp with a time zone, which Spark keeps as
    an instant and writes as INT96, read back as a naive ``timestamp[ns]``; a struct, list or map with a field declared
    NOT NULL, which Spark's reader makes nullable; and a struct, list or map column every file declares NOT NULL
    (``required``), which :func:`_not_null` cannot mark. Alone or nested, as the column holds them."""
    import pyarrow as pa

    from onnxgate.spark import columns_named_like_outputs

    if common is None:
        return {}

    def lost(kind: Any) -> bool:
        if pa.types.is_unsigned_integer(kind) or (pa.types.is_timestamp(kind) and kind.tz is not None):
            return True
        if pa.types.is_map(kind):  # a map's keys are NOT NULL in Arrow, as in Spark: its items say
            return lost(kind.key_type) or not kind.item_field.nullable or lost(kind.item_type)
        children = [kind.field(i) for i in range(kind.num_fields)] if pa.types.is_nested(kind) else []
        return any(not child.nullable or lost(child.type) for child in children)

    renamed = columns_named_like_outputs(common.names, signature, outputs, any_case=True)
    found: dict[str, Any] = {}
    for field in common:
        name = renamed.get(field.name, field.name)
        if lost(field.type) or (pa.types.is_nested(field.type) and name in required):
            found[name] = pa.field(name, field.type, name not in required)
    return found


def _restore_types(folder: Any, restored: dict[str, Any]) -> None:
    """Give the columns ``restored`` (:func:`_restored_columns`) of the Parquet files Spark wrote into ``folder`` the
    type and nullability ``score`` writes, row group by row group, so that ``score --spark`` writes the schema
    ``score`` writes (the values fit: Spark read them from those types; a timestamp's instant is kept, its zone named
    again). Spark's checksum of each file rewritten is removed: a stale one fails Spark's reading of the folder, none
    is not checked."""
    import os

    import pyarrow.parquet as pq

    if not restored:
        return
    for file in sorted(folder.glob("*.parquet")):
        source = pq.ParquetFile(file)
        schema = source.schema_arrow
        for name, field in restored.items():
            index = schema.get_field_index(name)
            if index >= 0:
                schema = schema.set(index, field)
        fixed = file.with_name(f".{file.name}.restored")
        with pq.ParquetWriter(fixed, schema) as writer:
            for group in range(source.num_row_groups):
                writer.write_table(source.read_row_group(group).cast(schema))
        source.close()
        os.replace(fixed, file)
        (folder / f".{file.name}.crc").unlink(missing_ok=True)


def _quiet(spark: Any) -> None:
    """A session this command started logs nothing below FATAL: a task that fails on the rows (a null
    feeding an integer input) is reported in one line, and Spark's own log of it was a Java stack trace
    of about 200 lines on stderr. Ctrl-C, which pyspark answers by cancelling the jobs, also silences
    Python's logging: py4j logged four tracebacks of its cut-off gateway before "interrupted"."""
    import logging
    import signal
    import threading

    if threading.current_thread() is threading.main_thread():
        cancel = signal.getsignal(signal.SIGINT)  # pyspark's, installed with the SparkContext
        if callable(cancel):

            def quietly(signum: int, frame: Any) -> None:
                logging.disable(logging.CRITICAL)  # the CLI puts logging back when the command returns
                cancel(signum, frame)

            signal.signal(signal.SIGINT, quietly)
    with contextlib.suppress(Exception):  # Spark Connect has no SparkContext
        spark.sparkContext.setLogLevel("FATAL")
        # setLogLevel sets the root logger; the org.apache.spark logger onnxgate's log4j2.properties
        # configures keeps its own level, and printed a task's failure ("ERROR Executor", "ERROR Utils")
        jvm = spark.sparkContext._jvm
        fatal = jvm.org.apache.logging.log4j.Level.FATAL
        jvm.org.apache.logging.log4j.core.config.Configurator.setLevel("org.apache.spark", fatal)


@contextlib.contextmanager
def _without_pandas_warning() -> Iterator[None]:
    """pyspark 4 warns that it 'does not yet fully support pandas >= 3' at start-up and again at the
    first ``mapInArrow``, two FutureWarnings per run; onnxgate moves rows with Arrow and its Spark
    tests run on the pandas it installs, so the command's output leaves them out."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="PySpark does not yet fully support pandas", category=FutureWarning)
        yield


def _no_session() -> bool:
    """True when no SparkSession runs in this process: the command starts one, and stops it at the end."""
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        return True
    return SparkSession.getActiveSession() is None
