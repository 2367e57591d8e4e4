"""``onnxgate score``: batch scoring of Parquet rows, on one machine or on Spark.

The output holds the input columns plus one column per model output, typed from the model's
signature (``[N]`` and ``[N,1]`` outputs are scalar columns, ``[N,k]`` ones lists, ``[N,k,m]`` ones
lists of lists). On one machine the rows are read, scored and written batch by batch (memory bounded
by ``--batch-size``) into one Parquet file that appears complete or not at all; with ``--spark`` the
executors score and Spark writes a folder of Parquet files.

Exit codes: 0 scored, 2 usage or input error (an existing --out without --force, data that does not
fit the model).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from onnxgate._package_rules import (
    check_feeds_finite,
    check_package_data_files,
    check_package_model,
    counted_rows,
    is_sql_package,
    not_finite_rows,
    package_manifest,
    package_nan_inputs,
)
from onnxgate.errors import InvalidDataError, OnnxGateError, UnsupportedModelError

__all__ = ["DEFAULT_SCORE_BATCH", "register", "run", "score_parquet"]

#: Rows read and written at a time on one machine (one Parquet row group each); the model runs on
#: runs of onnxgate.runtime.RUN_ROWS rows within them.
DEFAULT_SCORE_BATCH = 65_536


def register(sub: Any) -> None:
    p = sub.add_parser(
        "score",
        help="score Parquet rows with a model or package and write them with the predictions",
        description=(
            "Read DATA (a Parquet file or a folder of them), score every row with MODEL (an .onnx file or a "
            "folder written by 'onnxgate package') and write the input columns plus one column per output to "
            "OUT; DATA without a row is refused (exit 2), as validate refuses it. Without --spark, one Parquet file "
            "written batch by batch; with --spark MASTER (local[*], spark://host:port, sc://host, yarn, "
            "k8s://host:port), a folder of Parquet files written by Spark. "
            "A package's rule for NaN and infinity applies (its service's, or a SQL table's); an .onnx file's "
            "rows are scored as they are, and the rows holding NaN or infinity are counted per column on stderr. "
            "A model with a fixed batch size (an input of [16, 10]) is scored in runs of that many rows, the last "
            "filled up with copies of its last row; when the filling changes the answers of its real rows (a model "
            "reading the other rows of its run: a batch statistic, a Softmax or a sort over the rows), score a "
            "multiple of that many rows or export the model with a dynamic batch axis. With --spark, each batch "
            "Spark makes is scored on its own: every batch must hold a multiple of that many rows (the refusal says "
            "which settings and files give that)."
        ),
    )
    p.add_argument("model", metavar="MODEL_OR_PACKAGE", help="an .onnx file or a package folder")
    p.add_argument("--data", required=True, metavar="PARQUET", help="a Parquet file or a folder of them")
    p.add_argument("--out", required=True, metavar="PARQUET", help="where to write the scored rows")
    p.add_argument("--outputs", metavar="A,B", help="the outputs to add, comma-separated (default: all)")
    p.add_argument("--spark", metavar="MASTER", help="score on Spark: local[*], spark://host:port, sc://host, yarn or k8s://host:port")
    p.add_argument("--batch-size", type=int, default=None, metavar="ROWS",
                   help=f"rows per batch on one machine (default {DEFAULT_SCORE_BATCH:,})")
    p.add_argument("--force", action="store_true", help="overwrite --out if it exists")
    p.set_defaults(run=run)


def score_parquet(
    model: Any,
    data: str | Path,
    out: str | Path,
    *,
    outputs: list[str] | None = None,
    batch_size: int = DEFAULT_SCORE_BATCH,
    overwrite: bool = False,
    non_finite: dict[str, int] | None = None,
) -> int:
    """Score a Parquet file (or folder) batch by batch into one Parquet file; returns the rows written.

    A package's rule for NaN and infinity is applied (:func:`check_feeds_finite`). An .onnx file has none:
    its rows are scored as they are, and ``non_finite``, when given, is filled with the rows holding
    NaN or infinity per column (as a message names it), for the caller to say so.

    Raises
    ------
    InvalidDataError
        The data does not fit the model (a file without an input column, a column of a type the input
        would only reinterpret, a null feeding an input that is not floating-point), a folder holding a
        file that is not Parquet or none at all or files typing a column differently, an unknown output
        or one named twice, an output named like a column.
    OutputExistsError
        ``out`` exists and ``overwrite`` is false.
    PackagingError
        ``model`` is a package whose ``model.onnx`` is not the one its manifest names (:func:`check_package_model`),
        or whose data file is not (:func:`check_package_data_files`: a model above 2 GiB, read by path).
    InvalidModelError
        A model above 2 GiB whose data file is missing or truncated, refused as validate refuses it.
    UnsupportedModelError
        An output without one row per input row (:func:`onnxgate.runtime.check_outputs_one_row_per_input`).
    """
    import pyarrow as pa
    import pyarrow.dataset as ds
    import pyarrow.parquet as pq

    from onnxgate._arrow import arrow_type, batch_feeds, leaf_type, to_arrow
    from onnxgate._onnx import atomic_write, runnable, weights_by_path
    from onnxgate.runtime import check_outputs_one_row_per_input, fixed_rows, run_rows
    from onnxgate.runtime import session as model_session
    from onnxgate.signature import Signature
    from onnxgate.spark import (
        columns_named_like_outputs,
        feed_columns,
        load_scoring_model,
        refuse_repeated_outputs,
    )

    check_package_model(model)
    # a model above 2 GiB with its external data (an .onnx file by its path, or a container package of one) is run
    # by onnxruntime from its path, its weights never read into memory here; a missing or truncated data file is
    # refused as validate refuses it, one whose SHA-256 is not the package's as its service refuses it
    with weights_by_path():
        proto = load_scoring_model(model)
        check_package_data_files(model)
        source = runnable(proto)
    signature = Signature.from_model(proto)
    takes_nan = package_nan_inputs(model)
    sql = is_sql_package(model)
    wanted = outputs or signature.output_names
    refuse_repeated_outputs(wanted)
    unknown = [o for o in wanted if o not in signature.output_names]
    if unknown:
        raise InvalidDataError(f"outputs {unknown} are not outputs of the model; it has {signature.output_names}: "
                               "name some of them in --outputs, or leave it out for all")
    schemas, common = check_parquet_files(data, signature, wanted)
    refuse_no_rows(data, list(schemas))
    fed = feed_columns(common.names, signature)
    # the files listed and their footers read once, above: the dataset is built from them, each file
    # cast to the common schema as it is read
    dataset = ds.dataset(list(schemas), format="parquet", schema=common)
    specs = [signature.output(o) for o in wanted]
    # a column named like an output, whatever its case (the user's p_0 or LABEL, fed to the input p_0_1 or LABEL_1
    # so the outputs p_0 and label keep their names), is written under its table column's name, as PREDICT's
    # SELECT d.*, p.* returns it and as --spark writes it: LABEL beside label was read back by DuckDB with the
    # output renamed label_1, and refused by Spark, which resolves names whatever their case
    kept_apart = columns_named_like_outputs(common.names, signature, wanted, any_case=True)
    data_fields = [f.with_name(kept_apart.get(f.name, f.name)) for f in dataset.schema]
    # an output is never null (onnxruntime answers every row; a row refused stops the command, nothing written):
    # written NOT NULL, as score --spark writes it (Spark's predict declares outputs non-nullable)
    schema = pa.schema([*data_fields, *(pa.field(o, arrow_type(s), nullable=False) for o, s in zip(wanted, specs))])
    session = model_session(source)
    batches = dataset.to_batches(batch_size=batch_size)
    size = fixed_rows(session)
    if size is not None:
        # a model taking runs of exactly `size` rows: runs of the data's rows 0..size-1, size..2*size-1, whatever its
        # row groups and --batch-size, so only the data's last run is filled up, and checked before a row is written
        batches = _runs_of(batches, size)
        _refuse_filled_run(dataset, fed, signature, session, wanted, size)
    rows = 0
    # Dictionary encoding for all but floating-point columns. Each batch is one row group, too small
    # for a float column's dictionary to outgrow the 1 MB page limit that makes the writer give up on
    # it, so every row group of distinct floats was stored as a dictionary of all its values plus
    # indices (10,000,000 x 11 float32 columns: 5.0 s and 569 MB, against 0.7 s and 382 MB without).
    dictionary = [f.name for f in schema if not pa.types.is_floating(leaf_type(f.type))]
    with (atomic_write(out, overwrite=overwrite) as handle,
          pq.ParquetWriter(handle, schema, use_dictionary=dictionary) as writer):
        for batch in batches:
            if batch.num_rows == 0:
                continue
            feeds = batch_feeds(batch.select(fed), signature)
            if takes_nan is not None:
                check_feeds_finite(feeds, signature, takes_nan, fed, first_row=rows, package=model, sql=sql)
            elif non_finite is not None:
                for shown, _column, n in not_finite_rows(feeds, signature, fed):
                    non_finite[shown] = non_finite.get(shown, 0) + n
            try:
                # a last run to fill was probed once, above, on the data's rows before it: not again here
                outs = run_rows(session, wanted, feeds, fill_fixed=True, fill_checked=size is not None)
            except OnnxGateError:
                raise
            except Exception as err:
                where = f"rows {rows}..{rows + batch.num_rows - 1}"
                raise InvalidDataError(f"onnxruntime failed on {where}: {err}") from err
            check_outputs_one_row_per_input(outs, wanted, batch.num_rows)
            columns = [*batch.columns, *(to_arrow(v, s) for v, s in zip(outs, specs))]
            writer.write_batch(pa.RecordBatch.from_arrays(columns, schema=schema))
            rows += batch.num_rows
    return rows


def _runs_of(batches: Any, size: int) -> Any:
    """``batches`` (Arrow record batches) cut again so that every one but the last holds a multiple of ``size``
    rows: the rows a batch leaves over start the next one."""
    import pyarrow as pa

    left = None
    for batch in batches:
        if left is not None:
            batch = _one_batch(pa.Table.from_batches([left, batch]))
        whole = batch.num_rows // size * size
        left = batch.slice(whole) if whole < batch.num_rows else None
        if whole:
            yield batch.slice(0, whole)
    if left is not None:
        yield left


def _one_batch(table: Any) -> Any:
    """The rows of an Arrow table (of at least one row) as one record batch (``pyarrow.concat_batches`` is 19's;
    the floor is 15)."""
    return table.combine_chunks().to_batches()[0]


def _refuse_filled_run(dataset: Any, fed: list[str], signature: Any, session: Any, wanted: list[str],
                       size: int) -> None:
    """Before a row is scored: refuse data whose last run of ``size`` rows (the model's fixed batch size) must be
    filled up when the model's answers for its real rows change with the filling
    (:func:`onnxgate.runtime.fill_changes_answers`, given the data's last ``size`` rows)."""
    from onnxgate._arrow import batch_feeds
    from onnxgate.runtime import fill_changes_answers, fill_fix

    total = dataset.count_rows()
    rows = total % size
    if not rows:
        return  # whole runs: nothing is filled up
    start = max(total - size, 0)
    feeds = batch_feeds(_one_batch(dataset.take(list(range(start, total)), columns=fed)), signature)
    found = fill_changes_answers(session, wanted, feeds, size, rows, first=total - rows)
    if found is not None:
        raise UnsupportedModelError(f"{found}; {fill_fix(session, total, size, 'the data')}",
                                    input=signature.input_names[0])


def check_parquet_files(
    data: str | Path, signature: Any, outputs: list[str] | None = None, *, any_case: bool = False
) -> tuple[dict[str, Any], Any]:
    """What ``score`` checks in a local Parquet file or folder before reading a row, from the files'
    footers: every file is Parquet and holds the fed columns, typed as the inputs take them and alike in
    every file, no file names two columns alike (``any_case``: whatever their case, as Spark resolves names), and no
    ``outputs`` is named like a data column whatever its case
    (:func:`onnxgate.spark.refuse_outputs_named_like_columns`). Returns each file's schema and the common one.
    ``--spark`` runs it too, on a local path: Spark's reader gives a column one file lacks as nulls.

    Raises
    ------
    InvalidDataError
        The first of those that fails, naming the file and the column.
    """
    import pyarrow.dataset as ds

    from onnxgate.spark import columns_named_like_outputs, feed_columns, refuse_outputs_named_like_columns

    schemas = _file_schemas(data, ds, partitions_read=any_case)
    fold = str.lower if any_case else str
    for file, schema in schemas.items():
        folded = [fold(n) for n in schema.names]
        repeated = sorted({n for n in schema.names if folded.count(fold(n)) > 1})
        if repeated:
            # a dataset cannot tell them apart, and the scored file would hold both; Spark resolves names
            # whatever their case ("unexpected AnalysisException [COLUMN_ALREADY_EXISTS]" after its start-up)
            case = " (Spark tells names apart whatever their case)" if any_case and len(set(repeated)) > 1 else ""
            raise InvalidDataError(
                f"{file!r} has several columns named {', '.join(map(repr, repeated))}{case}; every column needs a "
                "name of its own: rename or drop the repeated ones when writing the file", path=file,
                column=repeated[0],
            )
    first = next(iter(schemas.values()))  # a dataset's own schema is its first file's
    first_file = next(iter(schemas))
    for file, schema in schemas.items():
        extra = [n for n in schema.names if n not in first.names]
        if extra:  # a dataset reads its first file's columns: these were dropped from the scored rows, unsaid
            raise InvalidDataError(
                f"{Path(file).name!r} has column(s) {extra} that the first file {Path(first_file).name!r} lacks: the "
                "scored rows take the first file's columns and would drop them. Write every file with the same "
                "columns, or drop those", path=file, column=extra[0],
            )
    # whatever its case, with or without --spark: LABEL beside the output label is one name to Spark and DuckDB
    kept_apart = columns_named_like_outputs(first.names, signature, outputs or (), any_case=True)
    refuse_outputs_named_like_columns(first.names, outputs or (), signature, kept_apart, "--outputs ")
    _check_files(schemas, feed_columns(first.names, signature), signature)
    return schemas, _common_schema(first, schemas)


def refuse_no_rows(data: str | Path, files: list[str]) -> None:
    """Refuse Parquet ``files`` (of ``data``, a file or folder) that hold no row between them, as validate refuses
    data without rows: a CI gate scoring an export whose filter matched nothing said "scored 0 rows" and exited 0.
    Footers only; it stops at the first file holding a row.

    Raises
    ------
    InvalidDataError
        Naming ``data`` and how many files it holds.
    """
    import pyarrow.parquet as pq

    if any(pq.read_metadata(file).num_rows for file in files):
        return
    held = (f"its {len(files)} Parquet file{'s hold' if len(files) > 1 else ' holds'} columns but no rows"
            if Path(data).is_dir() else "the file holds columns but no rows")
    raise InvalidDataError(
        f"no rows to score in {str(data)!r}: {held}; expected at least one row. Give a Parquet file (or folder) "
        "with at least one row (an export whose filter matched none writes only the columns)", path=str(data),
    )


def _file_schemas(data: str | Path, ds: Any, partitions_read: bool = False) -> dict[str, Any]:
    """The schema of each file of a Parquet file or folder, by path, in the order a dataset lists them.

    Every file's footer is read here, before anything is scored: a file that is not Parquet is then
    named, not met halfway through (names starting with ``_`` or ``.`` are skipped, as Spark does). A
    folder holding folders is refused unless ``partitions_read`` (Spark reads ``key=value`` folders as
    columns; one machine's score would read their files and drop the key: helper-125).
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = Path(data)
    if not path.exists():
        from onnxgate._files import describe_unreachable

        found = describe_unreachable(path, "data")
        raise InvalidDataError(f"{found}; expected a Parquet file or a folder of them", path=str(path))
    folder = path.is_dir()
    inner = sorted(f.name for f in path.iterdir() if f.is_dir() and not f.name.startswith((".", "_"))) if folder else []
    if inner and not partitions_read:
        raise InvalidDataError(
            f"the folder {str(path)!r} holds the folder(s) {inner[:3]}: score on one machine reads the Parquet files "
            "of one folder, and would read theirs without the column a 'key=value' folder stands for. Score each "
            "folder, write the rows into one folder, or score with --spark, which reads 'key=value' folders as "
            "columns", path=str(path),
        )
    # listed with a schema given, so no file is opened yet
    files = ds.dataset(str(path), format="parquet", schema=pa.schema([])).files if folder else [str(path)]
    if not files:
        raise InvalidDataError(f"no Parquet files in {str(path)!r}; expected a Parquet file or a folder of them "
                               "(names starting with _ or . are skipped): write the rows into it as .parquet files, "
                               "or give the file or folder that holds them", path=str(path))
    schemas = {}
    for file in files:
        try:
            schemas[file] = pq.read_schema(file)
        except Exception as err:
            fix = ("a data folder must hold only Parquet files (names starting with _ or . are skipped)" if folder
                   else "expected a Parquet file or a folder of them")
            suffix = Path(file).suffix.lower()
            parquet = str(Path(file).with_suffix(".parquet"))
            if not folder and suffix == ".csv":  # validate reads CSV; score streams Parquet only
                fix += ("; score reads no CSV file: write it as Parquet first "
                        f"(pandas.read_csv({file!r}).to_parquet({parquet!r}))")
            elif not folder and suffix == ".npy":  # one column per feature, in order (feed_columns)
                fix += ("; score reads no .npy file: write it as Parquet first, one column per feature "
                        f"(pandas.DataFrame(numpy.load({file!r})).add_prefix('f').to_parquet({parquet!r}))"
                        f"{_npy_shape_note(file)}")
            elif not folder:
                fix += ": give the rows written as Parquet (pandas' to_parquet, pyarrow or Spark write one)"
            raise InvalidDataError(f"cannot read {file!r} as Parquet ({err}); {fix}", path=file) from err
    return schemas


def _npy_shape_note(file: str) -> str:
    """Said after the command writing a .npy file as Parquet when the array is not 2-D (a table's rows and
    columns), which pandas.DataFrame refuses; empty when it is (or 1-D: one column), or when it cannot be read."""
    import numpy as np

    try:
        shape = np.load(file, mmap_mode="r", allow_pickle=False).shape
    except Exception:
        return ""
    if 1 <= len(shape) <= 2:
        return ""
    return f", from a 2-D array of rows and features: this one has shape {list(shape)}"


def _check_files(schemas: dict[str, Any], fed: list[str], signature: Any) -> None:
    """Every file holds the columns ``fed``, of types the inputs take. A dataset takes its schema
    from one file and would give a column that another file lacks as nulls."""
    import pyarrow as pa

    from onnxgate._arrow import check_columns_typed_as_inputs

    first = next(iter(schemas))
    for file, schema in schemas.items():
        missing = [c for c in fed if c not in schema.names]
        if missing:
            raise InvalidDataError(
                f"{file!r} lacks the column(s) {missing} that feed the model ({first!r} has them); every file "
                "must hold the model's input columns: add them or move that file out of the folder",
                path=file, column=missing[0],
            )
        where = f" in {file!r}" if len(schemas) > 1 else ""
        check_columns_typed_as_inputs(pa.schema([schema.field(c) for c in fed]), signature, where)


def _common_schema(schema: Any, schemas: dict[str, Any]) -> Any:
    """``schema`` (the dataset's, taken from one file) with each column typed as every file types it.

    A dataset casts each file's column to the type its schema gives, which fails halfway through
    (text to a column all-null in the first file) or silently reads another file's values otherwise
    (numeric text as int64). So a column must have one type in every file holding it; a file where
    it is all-null (Arrow type null, as pandas writes a column of None) takes the others' type, the
    one difference read without loss besides text (or bytes) of another layout (pandas 3 writes
    ``large_string``, Spark and pandas 2 ``string``, pyarrow may write ``string_view``), read as the 64-bit kind.

    Raises
    ------
    InvalidDataError
        A column has different types in two files; the column, both files and both types are named.
    """
    import pyarrow as pa

    fields = []
    for field in schema:
        first: tuple[str, Any] | None = None  # the first file typing the column other than null, and its type
        common = field.type
        for file, file_schema in schemas.items():
            index = file_schema.get_field_index(field.name)
            kind = file_schema.field(index).type if index >= 0 else pa.null()
            if pa.types.is_null(kind):
                continue
            if first is None:
                first, common = (file, kind), kind
                continue
            common = _common_type(common, kind)
            if common is None:
                raise InvalidDataError(
                    f"column {field.name!r} is {first[1]} in {first[0]!r} but {kind} in {file!r}; every file of "
                    "the folder must give a column the same type: cast it to one type when writing the files, "
                    "or score them separately",
                    path=file, column=field.name,
                )
        fields.append(field.with_type(common))
    return pa.schema(fields, metadata=schema.metadata)


def _common_type(a: Any, b: Any) -> Any:
    """The type that holds the values of both Arrow types without loss, if they differ only in the
    layout of their text or bytes (32- or 64-bit offsets, or views: :func:`onnxgate._arrow.is_text_type`); None
    if they differ otherwise."""
    import pyarrow as pa

    from onnxgate._arrow import is_bytes_type, is_text_type

    if a.equals(b):
        return a
    if is_text_type(a) and is_text_type(b):
        return pa.large_string()
    if is_bytes_type(a) and is_bytes_type(b):
        return pa.large_binary()
    return None


def run(args: argparse.Namespace) -> int:
    from onnxgate.cli import EXIT_OK
    from onnxgate.errors import OutputExistsError

    outputs = [o.strip() for o in args.outputs.split(",") if o.strip()] if args.outputs is not None else None
    if outputs == []:  # "--outputs ," wrote the rows without a single prediction, and exited 0
        raise InvalidDataError(f"--outputs names no output (found {args.outputs!r}); name one or more, "
                               "comma-separated, or leave --outputs out for all")
    from onnxgate.spark import refuse_repeated_outputs

    refuse_repeated_outputs(outputs or [])  # before Spark starts: with --spark, an "unexpected AnalysisException"
    _refuse_out_not_parquet(args.out, spark=bool(args.spark))
    out = Path(_local_path(args.out))
    from onnxgate._commands._common import refuse_unwritable

    refuse_unwritable(_local_path(args.out), "--out")
    data = Path(_local_path(args.data))
    if data.exists() and (out.resolve() == data.resolve() or data.resolve() in out.resolve().parents):
        where = "is the --data file" if out.resolve() == data.resolve() else "is inside the --data folder"
        raise InvalidDataError(f"--out {str(args.out)!r} {where}: the scored rows would replace the data, or be "
                               "read back as data on the next run; write them outside it", path=str(out))
    from onnxgate._commands._common import refuse_outputs_on_inputs
    from onnxgate._files import link_note, occupied

    model_path = Path(_local_path(args.model))
    from onnxgate._commands._common import refuse_native_model

    refuse_native_model(str(model_path), "score")
    refuse_outputs_on_inputs({"--out": str(out)}, {"the model being scored": str(model_path)})
    if model_path.is_dir() and model_path.resolve() in out.resolve().parents:
        raise InvalidDataError(f"--out {str(args.out)!r} is inside the package {str(model_path)!r} being scored; "
                               "write the scored rows outside it", path=str(out))
    for what, given in (("--data", data), ("the model being scored", model_path)):
        if given.exists() and out.resolve() in given.resolve().parents:
            # --force replaces the --out folder whole: what it holds would be deleted
            raise InvalidDataError(f"--out {str(args.out)!r} holds {what} {str(given)!r}: writing it would delete "
                                   "that; write the scored rows elsewhere", path=str(out))
    if _same_remote(args.out, args.data):
        raise InvalidDataError(f"--out {args.out!r} is (or holds) the --data {args.data!r}: the scored rows would "
                               "replace the data; write them elsewhere", path=str(args.out))
    if occupied(out) and not args.force:
        # refused before any work is done, so a long scoring run is not wasted
        raise OutputExistsError(f"{str(out)!r}{link_note(out, folder=bool(args.spark))} exists; pass --force to "
                                "overwrite it or choose another path", path=str(out))
    if "://" not in str(args.out) and out.exists() and out.is_dir() != bool(args.spark):
        # --force replaces what score writes, a file (or a folder with --spark), never the other kind: a folder's
        # contents would go with it. Said before Spark starts, not after (helper-125)
        found, wanted = ("a folder", "a file") if out.is_dir() else ("a file", "a folder")
        raise OutputExistsError(
            f"{str(out)!r} is {found}, and score{' --spark' if args.spark else ''} writes {wanted}: --force replaces "
            f"{wanted} only. Remove it yourself or choose another --out", path=str(out))
    if args.batch_size is not None and (args.batch_size < 1):
        raise InvalidDataError(f"--batch-size must be a positive number of rows, found {args.batch_size}; give 1 or "
                               "more, or leave it out for the default")
    if args.spark:
        if args.batch_size is not None:
            raise InvalidDataError("--batch-size sets batches on one machine; with --spark, Spark's "
                                   "spark.sql.execution.arrow.maxRecordsPerBatch does")
        from onnxgate._commands._spark import score_on_spark

        check_package_model(args.model)
        return score_on_spark(args, outputs)
    non_finite: dict[str, int] = {}
    batch_size = min(args.batch_size or DEFAULT_SCORE_BATCH, 2**31 - 1)  # Arrow's batches count in 32 bits
    rows = score_parquet(args.model, args.data, out, outputs=outputs, batch_size=batch_size, overwrite=args.force,
                         non_finite=non_finite)
    print(f"scored {rows:,} rows into {str(out)!r}")
    say_non_finite(args.model, non_finite)
    return EXIT_OK


#: File endings of formats other than Parquet that a user may expect score to write.
_OTHER_FORMATS = (".csv", ".tsv", ".txt", ".json", ".jsonl", ".ndjson", ".xlsx", ".xls", ".feather", ".arrow", ".orc",
                  ".avro", ".pkl", ".pickle", ".npy")


def _refuse_out_not_parquet(text: str, spark: bool) -> None:
    """Refuse an ``--out`` score would not write as its user expects (an empty one is refused in cli.main): one
    ending in another format's suffix (``scored.csv`` held Parquet under a .csv name), and, on one machine, one
    ending in a slash (``scored/`` wrote a file named ``scored``)."""
    where = "a folder of Parquet files" if spark else "one Parquet file"
    suffix = Path(text.rstrip("/\\")).suffix.lower()
    if suffix in _OTHER_FORMATS:
        better = str(Path(text.rstrip("/\\")).with_suffix(".parquet"))
        raise InvalidDataError(f"--out {text!r} names a {suffix} file, and score writes {where} only (it would hold "
                               f"Parquet under a {suffix} name); write --out {better!r} and convert it afterwards if "
                               "you need another format (pandas.read_parquet(...).to_csv(...))")
    if not spark and "://" not in text and text.endswith(("/", "\\")) and text.strip("/\\"):
        raise InvalidDataError(f"--out {text!r} names a folder, and score writes one Parquet file; give a file path, "
                               f"e.g. --out {text.rstrip('/') + '/scored.parquet'!r} (score --spark writes a folder)")


def say_non_finite(model: Any, non_finite: dict[str, int]) -> None:
    """The note on stderr that rows holding NaN or infinity (rows per column, as ``non_finite`` counts
    them) were scored as they are, worded by what was scored; nothing when there were none."""
    import sys

    if not non_finite:
        return
    found = counted_rows([(shown, shown, n) for shown, n in non_finite.items()])
    if package_manifest(model) is None:
        why = "an .onnx file does not say whether its model handles missing values"
        fix = "score a container package, which refuses them unless packaged with --option allow_nan"
    else:  # a package with no rule for them: an MLflow package, whose pyfunc scores what it is given
        why = "this package sets no rule for them (an MLflow package's pyfunc scores them as they are too)"
        fix = "fill or drop them before scoring"
    print(f"note: NaN or infinity in {found}; they were scored as they are, since {why} (a model that does not "
          "handle them writes a class label picked from NaN probabilities). Check those rows' outputs, or "
          f"{fix}", file=sys.stderr)


def _local_path(text: str) -> str:
    """A ``file:`` URL as the local path it names (Spark writes it there); any other text as it is."""
    from urllib.parse import unquote, urlparse

    if text.lower().startswith("file:"):
        parsed = urlparse(text)
        if parsed.netloc in ("", "localhost"):
            return unquote(parsed.path) or "/"
    return text


def _same_remote(out: str, data: str) -> bool:
    """Whether a URL ``--out`` (``s3a://``, ``hdfs://``...) is the URL ``--data`` or a folder holding it."""
    if "://" not in out or out.lower().startswith("file:"):
        return False
    a, b = out.rstrip("/"), data.rstrip("/")
    return a == b or b.startswith(a + "/")
