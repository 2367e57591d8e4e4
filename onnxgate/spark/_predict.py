"""``predict`` on Spark: the input columns plus one column per model output (the analogue of SQL PREDICT)."""

from __future__ import annotations

import contextlib
import functools
import os
import re
import threading
import weakref
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from onnxgate.errors import InvalidDataError, OnnxGateError

if TYPE_CHECKING:
    import onnx

    from onnxgate.signature import Signature

__all__ = [
    "SHARED_PATH_RULE",
    "ModelFile",
    "columns_named_like_outputs",
    "feed_columns",
    "job_errors",
    "load_scoring_model",
    "predict",
    "refuse_outputs_named_like_columns",
    "release",
]

_SESSIONS: dict[str, Any] = {}

#: Per SparkContext, the broadcast of each model :func:`predict` scored with in it, by the SHA-256 of its bytes.
_BROADCASTS: weakref.WeakKeyDictionary[Any, dict[str, Any]] = weakref.WeakKeyDictionary()
_BROADCASTS_LOCK = threading.Lock()
#: Per SparkContext, the ids of the broadcasts :func:`release` destroyed (:func:`job_errors` names them).
_RELEASED: weakref.WeakKeyDictionary[Any, set[int]] = weakref.WeakKeyDictionary()
#: Spark's refusal to run a plan holding a destroyed broadcast, which names the broadcast's id.
_DESTROYED = re.compile(r"Attempted to use Broadcast\((\d+)\) after it was destroyed")


def load_scoring_model(model_or_package: Any) -> onnx.ModelProto:
    """The ONNX model of a path, bytes, ModelProto or Conversion, or of a package folder (its ``model.onnx``).

    Raises
    ------
    InvalidModelError
        Not an ONNX model, or a folder without ``model.onnx``.
    """
    from onnxgate._onnx import load_model
    from onnxgate.converters import Conversion
    from onnxgate.errors import InvalidModelError

    if isinstance(model_or_package, Conversion):
        return model_or_package.model
    if isinstance(model_or_package, (str, os.PathLike)) and Path(model_or_package).is_dir():
        inside = Path(model_or_package) / "model.onnx"
        if not inside.is_file():
            held = sorted(f.name for f in Path(model_or_package).glob("*.onnx") if f.is_file())
            fix = (f"; it holds {held[:3]}: give {'that file' if len(held) == 1 else 'one of them'}" if held
                   else "; give the .onnx file, or the folder 'onnxgate package MODEL.onnx --target container -o DIR' "
                        "wrote")
            raise InvalidModelError(
                f"{os.fspath(model_or_package)!r} is a folder without model.onnx: expected an .onnx file or a "
                f"package written by 'onnxgate package'{fix}"
            )
        model_or_package = inside
    return load_model(model_or_package)


def refuse_repeated_outputs(wanted: Sequence[str]) -> None:
    """Refuse outputs named more than once: the scored rows cannot hold two columns of one name (a Parquet
    file no reader opens; Spark's ``COLUMN_ALREADY_EXISTS``). ``score`` and :func:`predict` share it.

    Raises
    ------
    InvalidDataError
        Naming the repeated outputs.
    """
    repeated = sorted({o for o in wanted if list(wanted).count(o) > 1})
    if repeated:
        raise InvalidDataError(f"output(s) {repeated} named more than once in {list(wanted)}; name each output once")


def refuse_outputs_named_like_columns(
    columns: Sequence[str], outputs: Sequence[str], signature: Signature, renamed: dict[str, str], pick: str
) -> None:
    """Refuse outputs named like a data column, whatever its case, other than the columns ``renamed``
    (:func:`columns_named_like_outputs`): the scored rows cannot hold both, and no column of the user's is
    overwritten or renamed unsaid. Case is ignored as Spark resolves names (``COLUMN_ALREADY_EXISTS``), and as DuckDB
    and SQL read them: ``onnxgate score`` wrote ``LABEL`` beside the output ``label``, which DuckDB read back as
    ``label_1`` and Spark refused. ``score``, ``score --spark`` and :func:`predict` share it; ``pick`` is how the
    caller leaves outputs out (``--outputs``, ``outputs=``).

    Raises
    ------
    InvalidDataError
        Naming each such output and its column, and the fixes.
    """
    by_folded = {c.casefold(): c for c in reversed(list(columns)) if c not in renamed}
    clash = {o: by_folded[o.casefold()] for o in outputs if o.casefold() in by_folded}
    if not clash:
        return
    cased = ", ".join(f"{o!r} is the column {c!r}" for o, c in clash.items() if c != o)
    cased = f" ({cased}: Spark, DuckDB and SQL resolve names ignoring their case)" if cased else ""
    others = [o for o in signature.output_names if o not in clash]
    leave = (f", or score only the other outputs with {pick}{','.join(others) if pick.startswith('--') else others}"
             if others else "")
    raise InvalidDataError(
        f"output(s) {list(clash)} have the name of a data column{cased}, and the scored rows cannot hold two columns "
        f"of one name; rename {'that column' if len(set(clash.values())) == 1 else 'those columns'} "
        f"({', '.join(repr(c) for c in dict.fromkeys(clash.values()))}) in the data{leave} (the model has "
        f"{signature.output_names})",
        column=next(iter(clash.values())),
    )


def feed_columns(columns: Sequence[str], signature: Signature) -> list[str]:
    """The columns fed to the model: one per input when every input has one, else all of them.

    Columns named like the inputs, or with the user's own names the model recorded for them
    (:class:`onnxgate.columns.ColumnMap`: ``mean radius`` for the input ``mean_radius``), are fed by
    name and other columns pass through: SQL-adapted models, models with one ``[N,1]`` input per
    feature, an array column named like the single input. Otherwise the model has one input and
    every column is a feature, in order.

    Raises
    ------
    InvalidDataError
        Several inputs and some have no column.
    """
    names = list(columns)
    mapping = signature.columns
    as_inputs = list(mapping.to_inputs(dict.fromkeys(names)))
    column_of = dict(zip(as_inputs, names))
    inputs = signature.input_names
    if all(n in column_of for n in inputs):
        return [column_of[n] for n in inputs]
    if len(inputs) > 1:
        from onnxgate._data import lacking_columns_error

        # in validate's words on one machine (it listed neither the inputs nor the names LightGBM writes; helper-268)
        raise lacking_columns_error([n for n in inputs if n not in column_of], signature, names)
    return names


def columns_named_like_outputs(
    names: list[str], signature: Any, outputs: Any, *, any_case: bool = False
) -> dict[str, str]:
    """The data's columns named like one of ``outputs`` (``any_case``: whatever its case) that feed an input of
    another name, each with that input's name (``{"p_0": "p_0_1"}``): a SQL adaptation renames a column named like
    an output, ignoring case, so the output keeps the name PREDICT's docs give it (helper-200); the scored rows
    hold the column under its table column's name. Empty when the data does not feed every input by name."""
    fold = str.casefold if any_case else str
    wanted = {fold(o) for o in outputs}
    if not any(fold(n) in wanted for n in names):
        return {}
    try:
        fed = feed_columns(names, signature)
    except InvalidDataError:
        return {}  # said by the checks of the fed columns
    if len(fed) != len(signature.inputs):
        return {}
    taken = {n.casefold() for n in [*names, *outputs]}
    found: dict[str, str] = {}
    for column, name in zip(fed, signature.input_names):
        if column != name and fold(column) in wanted and name.casefold() not in taken:
            found[column] = name
            taken.add(name.casefold())
    return found


def predict(
    df: Any,
    model_or_package: Any,
    *,
    outputs: Sequence[str] | None = None,
    columns: Sequence[str] | None = None,
    spark: Any = None,
) -> Any:
    """``df``'s columns plus one column per model output, scored on the executors in Arrow batches.

    Parameters
    ----------
    df : pyspark.sql.DataFrame, or the path of Parquet files
        The rows (see :func:`feed_columns` for which columns are fed). A local Parquet file or folder
        of them is read by the Python workers themselves, without Spark's row conversion (see
        :mod:`onnxgate.spark._files`); the result is the same DataFrame as from
        ``spark.read.parquet(path)``, faster. A DataFrame that is exactly ``spark.read.parquet`` of
        such files, with nothing picked, filtered or set, is read the same way.
    model_or_package : path, bytes, onnx.ModelProto, Conversion or package folder
        The ONNX model, or a folder written by ``onnxgate package``. One above 2 GiB with its external data (an
        .onnx file's path, or a container package of one) is not broadcast: each executor loads it from its
        absolute path, which must be readable, with the same files, from every executor (:class:`ModelFile`).
    outputs : sequence of str, optional
        The outputs to add (default: all), in this order.
    columns : sequence of str, optional
        The feature columns of a single-input model, in order; other columns pass through.
    spark : SparkSession, optional
        The session that reads a path (default: the active one); unused with a DataFrame.

    Returns
    -------
    pyspark.sql.DataFrame
        Typed from the model's signature: ``[N]`` and ``[N,1]`` outputs are scalar columns
        (float32 -> float, int64 -> bigint, string -> string...), ``[N,k]`` ones arrays, ``[N,k,m]`` ones
        arrays of arrays; output columns are ``NOT NULL`` (a model writes NaN, never null). The input columns
        keep the schema of ``df``
        (or of ``spark.read.parquet`` of the path, which reads Parquet's unsigned integers as the signed types
        that hold them: uint32 as bigint, uint64 as decimal(20,0)), nullability included; a column named like an output
        whatever its case, that feeds an input of another name (``LABEL`` and ``p_0`` feed a SQL-adapted
        model's ``LABEL_1`` and ``p_0_1``, beside its outputs ``label`` and ``p_0``), is named as that input,
        as ``onnxgate score`` writes it.

    Raises
    ------
    InvalidDataError
        An unknown output, an output named like an input column, missing input columns.
    UnsupportedModelError
        An output that is not a tensor (ZipMap): convert without it.
    PackagingError
        A package whose ``model.onnx``, or one of its data files, is not the one its manifest records.
    InvalidModelError
        A model above 2 GiB whose data file is missing or truncated; on an executor, a model it loads by path and
        cannot read as the driver did (a failed job whose error names :data:`SHARED_PATH_RULE`).

    A container package's rows are checked on the workers as its service checks them: NaN in a
    float input the package was not made to take it in, or infinity in any, fails the job with an
    :class:`InvalidDataError` naming the columns (its message ends Spark's error).

    Examples
    --------
    >>> scored = onnxgate.spark.predict(spark.read.parquet("rows/"), "package/")  # doctest: +SKIP
    >>> scored.columns  # doctest: +SKIP
    ['f0', 'f1', 'label', 'probabilities']
    """
    import hashlib

    from onnxgate._arrow import arrow_type
    from onnxgate._onnx import weights_by_path
    from onnxgate._package_rules import (
        check_package_data_files,
        check_package_model,
        is_sql_package,
        package_nan_inputs,
    )
    from onnxgate.signature import Signature

    check_package_model(model_or_package)
    with weights_by_path():  # a model above 2 GiB: its weights stay in their files, read by path on the executors
        proto = load_scoring_model(model_or_package)
        check_package_data_files(model_or_package)
        by_path = ModelFile.of(proto)
    signature = Signature.from_model(proto)
    # a container package's service refuses NaN in the inputs not made to take it: so do its workers
    takes_nan = package_nan_inputs(model_or_package)
    wanted = list(outputs) if outputs is not None else signature.output_names
    refuse_repeated_outputs(wanted)  # two columns of one name: Spark's AnalysisException [COLUMN_ALREADY_EXISTS]
    unknown = [o for o in wanted if o not in signature.output_names]
    if unknown or not wanted:
        raise InvalidDataError(
            f"outputs {unknown or wanted} are not outputs of the model; it has {signature.output_names}"
        )
    from onnxgate.spark._files import PREDICT_BATCH_ROWS, rows_of

    rows = rows_of(df, spark)
    present = rows.columns
    # a column named like an output whatever its case, fed to an input of another name (a SQL-adapted model's
    # LABEL_1 and p_0_1, so its outputs keep the names label and p_0), is returned under that input's name, as
    # `onnxgate score` writes it; it was refused as a clash with the output (helper-209)
    renamed = columns_named_like_outputs(present, signature, wanted, any_case=True) if columns is None else {}
    refuse_outputs_named_like_columns(present, wanted, signature, renamed, "outputs=")
    if columns is not None:
        absent = [c for c in columns if c not in present]
        if absent:
            raise InvalidDataError(f"columns {absent} are not in the data (it has {present})", column=absent[0])
        fed = list(columns)
    else:
        fed = feed_columns(present, signature)
    refuse_mistyped_columns(rows.fields, fed, signature)
    refuse_wrong_width(rows.fields, fed, signature)
    from pyspark.sql.pandas.types import from_arrow_type
    from pyspark.sql.types import StructField, StructType

    # A schema of fields, not a DDL string: any column name goes through as it is (a backtick too).
    # An output is never null (a model writes NaN, not null): NOT NULL spares Spark a null test per value.
    scored = [StructField(o, from_arrow_type(arrow_type(signature.output(o))), False) for o in wanted]
    kept = [StructField(renamed.get(f.name, f.name), f.dataType, f.nullable, f.metadata) for f in rows.fields]
    schema = StructType([*kept, *scored])
    spark = rows.spark
    shared: Any
    if by_path is not None:  # no broadcast carries 2 GiB: each executor loads the model from its path
        shared, token = by_path, by_path.token
    else:
        model_bytes = proto.SerializeToString()
        token = hashlib.sha256(model_bytes).hexdigest()
        try:
            shared = _broadcast_once(spark.sparkContext, model_bytes, token)
        except Exception:  # Spark Connect: no SparkContext; the bytes travel with the function
            from onnxgate.spark._validate import _Shared

            shared = _Shared(model_bytes)
    threads = int(spark.conf.get("spark.task.cpus", "1") or 1)
    fragment_rows = PREDICT_BATCH_ROWS if rows.fragments else 0
    run = _partition_predict(token, shared, fed, wanted, threads, fragment_rows, present, takes_nan,
                             is_sql_package(model_or_package), [renamed.get(c, c) for c in present], rows.wide)
    return rows.frame.mapInArrow(run, schema)


def _broadcast_once(context: Any, model_bytes: bytes, token: str) -> Any:
    """The broadcast of ``model_bytes`` (SHA-256 ``token``) in ``context``, made on its first :func:`predict` and
    shared by every later one, for as long as the context runs. The DataFrame :func:`predict` returns is lazy: each
    use of it (or of a DataFrame made from it) reads the broadcast again, so none can be destroyed while such a
    DataFrame may be used, and Python cannot tell when that is (one made from it outlives it). A broadcast is a file
    of the model's bytes in the driver's temporary folder, plus blocks in its JVM and on each executor, kept until
    the session stops: one per call piled up in a long-lived session (a notebook, a service scoring batch after
    batch), 5 of a 1.8 MB forest after 5 calls; now one per model."""
    with _BROADCASTS_LOCK:
        held = _BROADCASTS.setdefault(context, {})
        if token not in held:
            held[token] = context.broadcast(model_bytes)
        return held[token]


def release(model_or_package: Any = None, *, spark: Any = None) -> int:
    """Free what :func:`predict` keeps for a model in a session: its bytes broadcast to the executors, a file in the
    driver's temporary folder and blocks in every JVM, which stay until the session stops so that each lazily
    evaluated result of ``predict`` can still be used. A session scoring many models (a notebook, a service scoring
    batch after batch) holds one per model; ``release`` frees them once none of those results will be used again.

    Parameters
    ----------
    model_or_package : path, bytes, onnx.ModelProto, Conversion or package folder, optional
        The model whose broadcast to free, as given to :func:`predict`; default: every model's.
    spark : SparkSession, optional
        The session (default: the active one).

    Returns
    -------
    int
        How many broadcasts were freed (0 when ``predict`` holds none for the model: one above 2 GiB, which it
        loads by path, or any once the session stopped, which freed them).

    A DataFrame ``predict`` returned for a freed model, or one made from it, fails when used: Spark refuses the plan
    with a Java stack trace ("Attempted to use Broadcast(N) after it was destroyed"), which :func:`job_errors` turns
    into onnxgate's error saying so; ``predict`` it again. A later ``predict`` of the model broadcasts it anew. The
    executors' onnxruntime sessions are not freed here: each Python worker keeps the one of the last model it scored
    until it scores another model or Spark stops it (``spark.python.worker.reuse``).

    Examples
    --------
    >>> scored = onnxgate.spark.predict(df, "package/")  # doctest: +SKIP
    >>> scored.write.parquet("scored/")  # doctest: +SKIP
    >>> onnxgate.spark.release("package/")  # doctest: +SKIP
    1
    """
    import hashlib

    if spark is None:
        from pyspark.sql import SparkSession

        spark = SparkSession.getActiveSession()
        if spark is None:
            return 0
    try:
        context = spark.sparkContext
    except Exception:  # Spark Connect: no SparkContext, and nothing broadcast (the bytes travel with the function)
        return 0
    token = None
    if model_or_package is not None:
        from onnxgate._onnx import weights_by_path

        with weights_by_path():  # as predict loads it: one above 2 GiB is held without its weights, never broadcast
            proto = load_scoring_model(model_or_package)
            if ModelFile.of(proto) is not None:
                return 0
        token = hashlib.sha256(proto.SerializeToString()).hexdigest()
    with _BROADCASTS_LOCK:
        held = _BROADCASTS.get(context, {})
        if getattr(context, "_jsc", None) is None:
            # a stopped session freed its broadcasts with it: destroying one again raised Py4JJavaError
            # (java.lang.NullPointerException, SparkEnv.blockManager() ... is null)
            held.clear()
            return 0
        tokens = list(held) if token is None else [token] if token in held else []
        freed = [held.pop(token) for token in tokens]
        _RELEASED.setdefault(context, set()).update(shared._jbroadcast.id() for shared in freed)
    for shared in freed:
        shared.destroy()
    return len(freed)


@contextlib.contextmanager
def job_errors() -> Iterator[None]:
    """Within it, a Spark action failing for a reason onnxgate knows raises onnxgate's error instead of Spark's.

    :func:`predict` is lazy: the rows are read and scored when an action runs (``.collect()``, ``.count()``,
    ``.write.parquet(...)``), outside any onnxgate call. A row a worker refuses (a null feeding an integer input, a
    value an encoder does not know) then fails the action with pyspark's ``PythonException``, whose text ends in the
    worker's :class:`InvalidDataError` (:class:`UnsupportedModelError`, :class:`InvalidModelError`) and its message;
    a result used after :func:`release` freed its model fails with a Java stack trace. Around the action, this raises
    those as onnxgate's exceptions, with their one-line messages (``except InvalidDataError`` works); any other
    failure is raised as it was. ``onnxgate score --spark`` runs its write in it.

    Raises
    ------
    InvalidDataError, UnsupportedModelError, InvalidModelError
        Raised by a worker on the rows, the model's outputs, or a model it loads by path.
    OnnxGateError
        The result's model was freed by :func:`release` before the action.

    Examples
    --------
    >>> scored = onnxgate.spark.predict(df, "package/")  # doctest: +SKIP
    >>> with onnxgate.spark.job_errors():  # doctest: +SKIP
    ...     scored.write.parquet("scored/")
    """
    from onnxgate.spark._session import worker_input_error

    try:
        yield
    except Exception as err:
        known = (worker_input_error(err) or _released_error(err)) if _from_spark(err) else None
        if known is None:
            raise
        raise known from None


def _from_spark(err: BaseException) -> bool:
    """Whether ``err`` is Spark's (pyspark's ``PythonException``, py4j's Java error): only those carry a worker's
    refusal. An error of the user's own code inside :func:`job_errors` that quotes one (a message holding
    'onnxgate.errors.InvalidDataError: ...') stays the user's."""
    return any(kind.__module__.split(".")[0] in ("pyspark", "py4j") for kind in type(err).__mro__)


def _released_error(err: BaseException) -> OnnxGateError | None:
    """The error of a plan holding a model broadcast :func:`release` destroyed, in the active SparkContext; None
    when ``err`` is another failure (a broadcast of the user's own destroyed, say)."""
    found = _DESTROYED.search(str(err))
    if found is None:
        return None
    from pyspark import SparkContext

    context = SparkContext._active_spark_context
    with _BROADCASTS_LOCK:
        released = int(found.group(1)) in _RELEASED.get(context, set()) if context is not None else False
    if not released:
        return None
    return OnnxGateError(
        "this result of onnxgate.spark.predict (or a DataFrame made from it) scores with a model that "
        "onnxgate.spark.release freed before it was used: expected release after the last action on predict's "
        "results, found an action after it; call onnxgate.spark.predict again for a result to use, and release the "
        "model once its results are written"
    )


def refuse_wrong_width(fields: Any, fed: list[str], signature: Any) -> None:
    """On the driver, from the schema: refuse number columns that cannot fill the one input's row (3 columns
    for an ``[N, 4]`` input). The workers refused them on the first batch, as a Spark task failure with
    Java stack traces on stderr, once the result was used (helper-106); an array column's length shows only
    in the rows. So are the named columns the model was fitted on in another order
    (:func:`onnxgate._data.refuse_shuffled_positions`), which the workers refused the same way (helper-146)."""
    if len(signature.inputs) != 1:
        return
    spec = signature.inputs[0]
    shape = spec.shape
    if shape is None or len(shape) != 2 or not isinstance(shape[1], int):
        return
    kinds = {field.name: type(field.dataType).__name__ for field in fields}
    if any(kinds.get(name) in ("ArrayType", "StructType", "MapType") for name in fed):
        return
    if len(fed) != shape[1]:
        raise InvalidDataError(
            f"input {spec.name!r} takes {shape[1]} values per row, and the data has {len(fed)} column(s) to feed "
            f"it ({fed}); select the model's {shape[1]} feature columns in the order it was fitted on",
            input=spec.name,
        )
    from onnxgate._data import refuse_shuffled_positions

    refuse_shuffled_positions(fed, spec)


def refuse_mistyped_columns(fields: Any, fed: list[str], signature: Any) -> None:
    """On the driver, from the schema: refuse the columns the workers would refuse on their first batch
    (a date or text for a number, a number for a boolean...: :func:`onnxgate._arrow.check_columns_typed_as_inputs`),
    and a Spark ML vector, which reaches Python as a struct of its parts.

    Raises
    ------
    InvalidDataError
        A fed column of a type its input would only reinterpret, or a vector column.
    """
    import pyarrow as pa
    from pyspark.sql.pandas.types import to_arrow_type

    from onnxgate._arrow import check_columns_typed_as_inputs

    arrow = []
    for field in fields:
        if field.name not in fed:
            continue
        if type(field.dataType).__name__ == "VectorUDT":
            raise InvalidDataError(
                f"column {field.name!r} is a Spark ML vector; the model reads numbers: turn it into an array "
                "column first (pyspark.ml.functions.vector_to_array), or feed the columns it was assembled from",
                column=field.name,
            )
        try:
            arrow.append(pa.field(field.name, to_arrow_type(field.dataType)))
        except Exception:  # no Arrow form here: the workers read what Spark sends them
            continue
    check_columns_typed_as_inputs(pa.schema(arrow), signature)


def _partition_predict(
    token: str, shared: Any, fed: list[str], wanted: list[str], threads: int, fragment_rows: int = 0,
    read: list[str] | None = None, takes_nan: list[str] | None = None, sql: bool = False,
    names: list[str] | None = None, wide: tuple[str, ...] = (),
) -> Any:
    """The function each partition runs; with ``fragment_rows``, its input is ``(path, row group)``
    pairs and it reads the columns ``read`` itself in batches of that many rows, else Spark's batches
    of the columns ``read``. With ``takes_nan`` (a container package's rule), a batch holding NaN in
    another float input, or infinity in any, is refused as the package's service refuses it. ``names``: what the
    columns ``read`` are called in the scored rows (:func:`columns_named_like_outputs`), default their own names;
    ``wide``: the text columns read as ``large_string`` from every file
    (:func:`onnxgate.spark._files.worker_batches`)."""

    def run(batches: Iterator[Any]) -> Iterator[Any]:
        try:
            yield from scored(batches)
        except OnnxGateError as err:
            # onnxgate's refusal says all (what, where, how to fix): pyspark's PythonException shows the worker's
            # traceback, here one frame and the message instead of the frames of onnxgate's data reading (17 lines
            # for a null feeding an integer input); an unexpected error keeps its whole traceback, to be reported
            raise err.with_traceback(None) from None

    def scored(batches: Iterator[Any]) -> Iterator[Any]:
        import pyarrow as pa

        from onnxgate._arrow import batch_feeds, to_arrow
        from onnxgate.runtime import check_outputs_one_row_per_input, run_rows
        from onnxgate.spark._files import worker_batches

        session, signature = _session(token, shared, threads)
        specs = [signature.output(o) for o in wanted]
        for batch in worker_batches(batches, fragment_rows, read, wide):
            if batch.num_rows == 0:
                continue
            feeds = batch_feeds(batch.select(fed), signature, plain_categories=True)
            if takes_nan is not None:
                from onnxgate._package_rules import check_feeds_finite

                check_feeds_finite(feeds, signature, takes_nan, fed, first_row=None, sql=sql)
            outs = run_rows(session, wanted, feeds, fill_fixed=True,
                            fill_advice=functools.partial(_spark_fill_advice, session, fragment_rows))
            check_outputs_one_row_per_input(outs, wanted, batch.num_rows)
            columns = [*batch.columns, *(to_arrow(v, s) for v, s in zip(outs, specs))]
            kept = names if names is not None else batch.schema.names
            yield pa.RecordBatch.from_arrays(columns, names=[*kept, *wanted])

    return run


def _spark_fill_advice(session: Any, fragment_rows: int, rows: int, size: int) -> str:
    """How a Spark user leaves no run to fill for a model taking runs of exactly ``size`` rows whose answers change
    with the filling (:func:`onnxgate.runtime.fill_changes_answers`), said of a batch of ``rows`` rows on an
    executor. "Score a multiple of 16 rows" is no fix there: Spark makes the batches, each scored on its own. They
    are whole runs when each is a multiple of ``size`` rows: Spark cuts each partition into batches of
    ``spark.sql.execution.arrow.maxRecordsPerBatch`` rows (and of ``maxBytesPerBatch`` bytes when that is set);
    the files ``predict`` reads itself (``fragment_rows``) are read row group by row group, in batches of
    ``fragment_rows`` rows. Measured on local[2]: partitions of 32 rows with maxRecordsPerBatch 16 or 32 and row
    groups of 32 rows score a [16, 4] model; 24 leaves a run of 8 and is refused."""
    axes = ", ".join(f"{i.name!r}: {{0: 'batch'}}" for i in session.get_inputs())
    if fragment_rows:
        most = fragment_rows // size * size
        cap = "" if most == fragment_rows else f", at most {most:,} each"
        aligned = (f"write each Parquet file with a multiple of {size:,} rows, in row groups of a multiple of "
                   f"{size:,} rows{cap} (pyarrow.parquet.write_table(..., row_group_size="
                   f"{size * max(1, 65_536 // size)})): the executors read each row group on its own, in batches of "
                   f"up to {fragment_rows:,} rows")
    else:
        aligned = (f"give every partition a multiple of {size:,} rows and set "
                   f"spark.sql.execution.arrow.maxRecordsPerBatch to a multiple of {size:,}: Spark cuts each "
                   "partition into batches of that many rows (and of spark.sql.execution.arrow.maxBytesPerBatch "
                   "bytes, when that is set)")
    return (f"Spark hands the rows to the executors in batches of its own making, each scored on its own, and this "
            f"one of {rows:,} row{'s' if rows != 1 else ''} leaves a last run of {rows % size:,}. Export the model "
            f"with a dynamic batch axis (PyTorch: torch.onnx.export(..., dynamic_axes={{{axes}}})); or score on one "
            "machine ('onnxgate score' without --spark), which cuts the data's rows into runs from its first row, "
            f"so only its last run is filled, and none when the data holds a multiple of {size:,} rows; or "
            f"{aligned}")


def _session(token: str, shared: Any, threads: int) -> tuple[Any, Signature]:
    if token not in _SESSIONS:
        import onnxruntime as ort

        from onnxgate.signature import Signature

        options = ort.SessionOptions()
        options.log_severity_level = 4
        options.intra_op_num_threads = threads
        _SESSIONS.clear()
        if isinstance(shared, ModelFile):
            proto = shared.graph_checked()
            _SESSIONS[token] = (ort.InferenceSession(shared.path, options, providers=["CPUExecutionProvider"]),
                                Signature.from_model(proto))
        else:
            _SESSIONS[token] = (
                ort.InferenceSession(shared.value, options, providers=["CPUExecutionProvider"]),
                Signature.from_model(shared.value),
            )
    return _SESSIONS[token]  # type: ignore[no-any-return]


#: What a worker says when it cannot load a model by path: the one requirement of :class:`ModelFile`.
SHARED_PATH_RULE = (
    "a model above 2 GiB with its external data is not broadcast (no broadcast carries 2 GiB): each executor loads "
    "it from the absolute path the driver read it from, so that path must be readable, with the same files, from "
    "every executor (local[*], executors on this machine, or a filesystem shared at the same path). Copy the .onnx "
    "file and its data files there on every executor, or score on one machine ('onnxgate score' without --spark), "
    "which reads the model by path too"
)


class ModelFile:
    """A model the executors load from its path instead of its broadcast bytes: one above 2 GiB with its external
    data, held by the driver without its weights (:func:`onnxgate._onnx.weights_by_path`), has no one serialization,
    and a broadcast of gigabytes would be held whole by the driver and by every executor anyway.

    What travels is the ``.onnx`` file's absolute path, its SHA-256 and each data file's name and size. A worker
    checks the ``.onnx`` file's bytes and the data files' sizes against them before onnxruntime reads the model from
    the path (the data files' contents are not hashed again on every worker: the driver checked a package's, and a
    copy of other weights of the same size is not detected), and refuses a path it cannot read in the words of
    :data:`SHARED_PATH_RULE`."""

    def __init__(self, path: str, sha256: str, data: list[tuple[str, int]], stamps: tuple[int, ...] = ()) -> None:
        self.path = path
        self.sha256 = sha256
        self.data = data
        self.stamps = stamps

    @classmethod
    def of(cls, proto: Any) -> ModelFile | None:
        """The file ``proto`` was loaded from without its weights (in :func:`onnxgate._onnx.weights_by_path`), or
        None for a model held whole (broadcast as its bytes)."""
        import hashlib

        from onnxgate._onnx import load_model_and_data_files, weights_path

        path = weights_path(proto)
        if path is None:
            return None
        path = Path(os.path.abspath(path))
        files = load_model_and_data_files(path)[1]  # its graph again (small); the data files checked, not read
        found = [f.stat() for f in files]
        data = [(os.path.relpath(f, path.parent), stat.st_size) for f, stat in zip(files, found)]
        return cls(str(path), hashlib.sha256(path.read_bytes()).hexdigest(), data,
                   tuple(stat.st_mtime_ns for stat in found))

    @property
    def token(self) -> str:
        """What a worker's session is kept under: the file, its bytes, and its data files' sizes and times of last
        change on the driver. A long-lived Python worker keeps its session; a data file rewritten with other
        weights of the same size, then validated or scored again in the same Spark session, was run with the
        session of the weights it had replaced (a validation that fails without Spark passed)."""
        import hashlib

        return hashlib.sha256(repr((self.path, self.sha256, self.data, self.stamps)).encode()).hexdigest()

    def graph_checked(self) -> Any:
        """On an executor: the model's graph (without its weights), once the files are found as the driver read
        them.

        Raises
        ------
        InvalidModelError
            The ``.onnx`` file cannot be read or holds other bytes, or a data file is missing or of another size.
        """
        import hashlib
        import socket

        import onnx

        from onnxgate.errors import InvalidModelError

        where = f"the Spark executor on {socket.gethostname()!r}"
        try:
            blob = Path(self.path).read_bytes()
        except OSError as err:
            raise InvalidModelError(f"{where} cannot read the model {self.path!r} ({err.strerror}): "
                                    f"{SHARED_PATH_RULE}", path=self.path) from None
        if hashlib.sha256(blob).hexdigest() != self.sha256:
            raise InvalidModelError(f"{where} reads another model at {self.path!r} than the driver did (sha256 "
                                    f"differs): {SHARED_PATH_RULE}", path=self.path)
        folder = Path(self.path).parent
        for name, size in self.data:
            try:
                found = (folder / name).stat().st_size
            except OSError as err:
                raise InvalidModelError(f"{where} cannot read {str(folder / name)!r}, which holds the weights of "
                                        f"{self.path!r} ({err.strerror}): {SHARED_PATH_RULE}", path=self.path) from None
            if found != size:
                raise InvalidModelError(f"{where} finds {str(folder / name)!r}, which holds the weights of "
                                        f"{self.path!r}, {found:,} bytes long where the driver read {size:,}: "
                                        f"{SHARED_PATH_RULE}", path=self.path)
        proto = onnx.ModelProto()
        proto.ParseFromString(blob)  # its tensors name their data files; nothing is read from them here
        return proto
