"""``validate`` on Spark: the target's checks on the driver, prediction parity on the executors.

Each partition scores its rows with the ONNX model (its bytes broadcast once; a model above 2 GiB with its
external data, given by its path, is not broadcast: each executor opens onnxruntime on its absolute path, as
:func:`onnxgate.spark.predict`'s do, see :func:`model_for_spark`) and the reference
(pickled once and broadcast), in Arrow batches (``mapInArrow``), and sends back one partial result
per output: row and mismatch counts, max and sum of the absolute and relative errors, the smallest
passing tolerances, label flips, the mismatching row numbers (up to
:data:`~onnxgate.validators.parity.MISMATCH_INDEX_LIMIT`), the worst rows with their inputs, and the
errors' quantile sketch (:class:`onnxgate.sketch.LogHistogram`). The driver merges them in partition
order with :meth:`~onnxgate.validators.parity.OutputAccumulator.merge` and builds the verdict with
:func:`~onnxgate.validators.parity.parity_result`, the function local parity uses: the same check
name, evidence fields and messages. The driver never collects rows. A pass's ``details["not_checked"]`` is local
parity's for the same rows (:func:`_merged_not_checked`): each partition says in which columns a row held a missing
value where the file reads one its own way, which of the models' text categories its rows held, and why its large batch
was not compared; the search, which Spark's validate does not run, is pointed to on one machine.

What differs from local parity, and says so in ``details["engine"]``:

* the median and p99 always come from the histogram (``"quantiles": "histogram"``: within 2.33% of
  the order statistic, see :mod:`onnxgate.sketch`); counts, max and mean are exact;
* row numbers count rows in partition order (partition 0's rows first): the file order when the
  workers read the Parquet files themselves (:mod:`onnxgate.spark._files`); with a DataFrame Spark
  reads, only when Spark reads the files in that order (it packs the largest first). A worker, which
  does not know where its partition starts, names a row "row R of partition P"; the driver, which
  knows every partition's row count once the job has run, renames it by its place in the table
  (:func:`_in_table`), at no cost: counting the partitions' rows before the job would be a pass over
  the data. A partition that stops at a failing row counts its remaining rows without scoring them (only
  then), so the start of each later partition is known too, and the failing run is named as local parity
  names it: its batch of RUN_ROWS rows of the table holding the first failing row;
* for a traced reference (PyTorch, TensorFlow, Keras), the first rows of a partition, repeated into
  one large batch (:func:`onnxgate.validators.parity.large_batch_disagrees`, also for a file that reads its batch
  size or mixes its rows whatever the reference, :func:`onnxgate.validators.parity.batch_cause`), are scored once per
  Python worker and job, in the first partition it scores, not in every partition: local parity
  scores that batch once, and per partition it cost as much as the partition itself where partitions
  are smaller than the batch;
* ``data_sha256`` hashes the partitions' own hashes in partition order, so it is stable for the same
  files and partitioning but differs from local parity's hash;
* the ``sample`` of (reference, ONNX) values is drawn in each partition and merged by row number: a
  uniform sample, not always the rows local parity picks;
* the first rows scored with their text varied outside ASCII
  (:func:`onnxgate.validators.parity.non_ascii_text_disagrees`) are the first partition's holding rows: local
  parity's when the files are read in order;
* the values of a text input only one of the two models knows (a category or a word the data lacks, renamed in the
  file: :func:`onnxgate.validators.parity.known_values_disagree`) are scored on the driver, once the partitions'
  rows passed, in the table's first row: local parity's when the files are read in order. Only those few rows come
  to the driver (:func:`_first_rows`), and only for a model with a text input;
* a failed parity's tree flips (:func:`onnxgate.validators.tree_flips.tree_flip_finding`: rows whose value a tree reads
  sits on a split, and that the file answers as the reference does once it is moved one step across) are measured on
  the driver on the worst rows the executors send with their inputs and the reference's answers, not on every row
  that differs (:func:`_with_worst_tree_flips`): the message says so, and keeps the precision hint local parity drops
  once every row that differs is a flip. The ONNX model alone is scored again; the reference is not loaded there.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import os
import pickle
import re
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from onnxgate.errors import InvalidDataError, InvalidModelError, OnnxGateError, ParityError, UnsupportedModelError
from onnxgate.spark._session import spark_error, worker_input_error
from onnxgate.validators.report import CheckResult

if TYPE_CHECKING:
    from onnxgate.spark._files import Rows
    from onnxgate.spark._predict import ModelFile
    from onnxgate.validators.report import Report

__all__ = ["model_for_spark", "validate"]

PARITY = "prediction_parity"
_PARTIAL_SCHEMA = "partition int, partial binary"
#: Set up per Python worker and reused by its next partitions: token -> (session, signature, reference fn).
_SCORERS: dict[str, Any] = {}
#: The job (one per validation) whose large-batch probe this Python worker has run: once per worker and job.
_LARGE_BATCH_JOB: set[str] = set()
#: How a passing report's ``not_checked`` notes say to run the search, which validate on Spark does not run
#: (:func:`onnxgate.validators.parity.no_search_item`, :func:`onnxgate.validators.parity.parity_not_checked`).
SPARK_NO_SEARCH_ADVICE = ("validate on Spark runs none: onnxgate.validate with search=N (CLI validate --search N, "
                          "without --spark) on a sample of the rows tries generated rows too")
SPARK_SEARCH_ADVICE = ("onnxgate.validate with search=N on a sample of the rows (CLI validate --search N, "
                       "without --spark)")
#: How a worker names a row, or a run of rows, of its partition.
_PARTITION_ROWS = re.compile(r"\b(rows?) (\d+)(?:\.\.(\d+))? of partition (\d+)\b")
#: How a worker names a run of its partition that failed, and the first row failing in it.
_FAILING_RUN = re.compile(r"\brows \d+\.\.\d+ of partition (\d+) \(first at row (\d+) of partition (\d+)\b")


def validate(
    model: Any,
    df: Any,
    *,
    reference: Any = None,
    spark: Any = None,
    target: Any = "onnxruntime",
    atol: float | Mapping[str, float] | None = None,
    rtol: float | Mapping[str, float] | None = None,
    infinities_compare_equal: bool = True,
    fail_fast: bool = False,
    text_variants: bool = True,
) -> Report:
    """Check ``model`` against ``target`` on the driver and prove parity on ``df``'s rows on the executors.

    Parameters
    ----------
    model : Conversion, onnx.ModelProto, path or bytes
        The ONNX model. One above 2 GiB with its weights in external data files, given by its ``.onnx`` file's
        path, is checked on the driver from its path as :func:`onnxgate.validate` checks it, and each executor
        loads it from its absolute path (no broadcast carries its weights), which must be readable, with the same
        files, from every executor (:func:`model_for_spark`).
    df : pyspark.sql.DataFrame, or the path of Parquet files
        The rows: one column per model input (SQL-adapted models and models with ``[N,1]`` inputs),
        the feature columns of a single ``[N,k]`` input, or one array column. A local Parquet file
        or folder of them is read by the Python workers themselves, without Spark's row conversion
        (see :mod:`onnxgate.spark._files`), as is a DataFrame that is exactly ``spark.read.parquet``
        of such files (nothing picked, filtered or set).
    reference : object
        The native model (scikit-learn, XGBoost, LightGBM, CatBoost, a PyTorch module or a Keras
        model: anything that pickles), a second ONNX model, or a picklable callable. ``None`` with a
        ``Conversion`` uses its source model.
    spark : SparkSession, optional
        The session that reads a path (default: the active one); unused with a DataFrame.
    target : str or Target
        Where the model will run (default ``"onnxruntime"``).
    atol, rtol : float or mapping of output name to float, optional
        As in :func:`onnxgate.validate`.
    infinities_compare_equal : bool
        Treat equal infinities as matching (the default, as :func:`onnxgate.validate` does).
    fail_fast : bool
        Stop at the first failed check (parity is then skipped, and no Spark job runs).
    text_variants : bool
        As in :func:`onnxgate.validate`: for a model whose text a tokenizer reads, also score the first rows with
        their text varied (non-ASCII letters and spaces); False for a model that only ever scores ASCII text.

    Returns
    -------
    Report
        The same checks, in the same order and with the same evidence fields, as
        :func:`onnxgate.validate` gives for these rows.

    Raises
    ------
    InvalidDataError
        The rows do not fit the model's inputs, there are none, or a tolerance is invalid.
    UnsupportedModelError
        The reference cannot be sent to the executors (it does not pickle).
    InvalidModelError
        The model is not a readable ONNX model, or a model above 2 GiB is refused: for a SQL target, or with a data
        file missing or truncated; on an executor, one it cannot read from its path as the driver did.

    Examples
    --------
    >>> import onnxgate.spark
    >>> spark = onnxgate.spark.session("local[2]")  # doctest: +SKIP
    >>> report = onnxgate.spark.validate("model.onnx", spark.read.parquet("rows/"), reference=clf)  # doctest: +SKIP
    >>> report.passed  # doctest: +SKIP
    True
    """
    from onnxgate.converters import Conversion
    from onnxgate.signature import Signature
    from onnxgate.validators import validate as local_validate

    if not isinstance(text_variants, bool):
        raise InvalidDataError(f"text_variants: expected True or False, found {text_variants!r}")
    if isinstance(model, Conversion):
        if reference is None:
            reference = model.source
        model = model.model
    from onnxgate.targets import resolve_target

    proto, by_path = model_for_spark(model, resolve_target(target))
    signature = Signature.from_model(proto)
    from onnxgate.validators.parity import scalar_inputs_finding
    from onnxgate.validators.structure import loads_here
    from onnxgate.validators.tolerances import atol_defaulted, model_tolerances, reference_reads_float32

    if reference is None:
        raise InvalidDataError("reference= is needed: the native model (or another .onnx) to compare with")
    payload = _pickle_reference(reference)
    # The target's checks (parity is skipped there: no reference), then parity here, in its place.
    report = local_validate(model, target, fail_fast=fail_fast)
    loads = next((c for c in report.checks if c.name == "operators_supported"), None)
    failed = next((c for c in report.checks if not c.passed and not c.skipped), None)
    start = time.perf_counter()  # parity's duration, as the local pipeline measures each check's
    if fail_fast and failed is not None:
        parity = CheckResult.skip(PARITY, f"not run: fail_fast stopped after {failed.name!r} failed")
    elif loads is not None and not loads.passed and not loads.skipped and not loads_here(loads):
        parity = CheckResult.skip(PARITY, "not run: onnxruntime cannot load the model (see operators_supported)")
    elif (scalars := scalar_inputs_finding(signature)) is not None:  # as local parity: no rows to compare
        parity = CheckResult(PARITY, False, f"parity was not run: {scalars}", {"error": scalars})
    else:
        from onnxgate._data import check_parquet_data
        from onnxgate.spark._files import rows_of
        from onnxgate.spark._predict import feed_columns, refuse_mistyped_columns, refuse_wrong_width
        from onnxgate.validators.parity import refuse_reordered_columns
        from onnxgate.validators.reference import inputs_the_file_lacks

        if isinstance(df, (str, os.PathLike)) and _reads_here(spark):
            # a local folder's files as validate reads them on one machine: the same columns of the same types,
            # and rows (Spark's readers took one file's columns, and a feature another file lacked as NaN)
            check_parquet_data(df)
        rows = rows_of(df, spark)
        # the checks local parity makes of the data's columns, before a row is read (helper-268): a feature the
        # reference reads but the file has no input for fails the check; the fitted columns in another order
        # feeding one [N,k] input are refused naming the reference's columns
        header = _header(rows.columns)
        lacking = inputs_the_file_lacks(reference, signature, header)
        if lacking is not None:
            parity = CheckResult(PARITY, False, f"parity was not run: {lacking}", {"error": lacking},
                                 duration=time.perf_counter() - start)
            return replace(report, checks=[parity if c.name == PARITY else c for c in report.checks])
        refuse_reordered_columns(reference, signature, header)
        from onnxgate.validators.parity import codes_off_reference_result

        off_reference = codes_off_reference_result(reference, proto)
        if off_reference is not None:  # as local parity: a record of category codes edited (validate --spark passed)
            parity = replace(off_reference, duration=time.perf_counter() - start)
            return replace(report, checks=[parity if c.name == PARITY else c for c in report.checks])
        fed = feed_columns(rows.columns, signature)
        refuse_mistyped_columns(rows.fields, fed, signature)
        # as predict: a column too many or too few for the one input is refused here, from the schema; the
        # workers refused it naming one partition's shape ("shape [400, 8]" of 800 rows; helper-226)
        refuse_wrong_width(rows.fields, fed, signature)
        float32_rows = _float32_fields(rows) and not _integer_nulls(rows, df)
        tolerances = model_tolerances(proto, signature.outputs, atol, rtol, reference_float32=reference_reads_float32(
            reference, signature.inputs, float32_rows,
            lambda: _rounding_shows(reference, proto, signature, df, rows.spark)))
        guarded = {o.name for o in signature.outputs if atol_defaulted(o.name, atol)}
        from onnxgate.validators.parity import traces_forward
        from onnxgate.validators.reference import reference_classes

        known = _known_values_probe(reference, proto, signature, rows, tolerances, float32_rows)
        unchecked = _unchecked(reference, proto, signature, rows, resolve_target(target).allow_nan)
        parity = _spark_parity(proto, payload, rows, tolerances, infinities_compare_equal, guarded, float32_rows,
                               resolve_target(target).allow_nan, text_variants, classes=reference_classes(reference),
                               by_path=by_path, known_values=known, unchecked=unchecked,
                               typed_reference=traces_forward(reference))
        from onnxgate.validators.parity import no_search_item, with_not_checked

        # as local validate without search=: only the data's rows were compared (Spark's validate runs no search)
        parity = with_not_checked(parity, [no_search_item(parity.details.get("rows"), SPARK_NO_SEARCH_ADVICE)])
    parity = replace(parity, duration=time.perf_counter() - start)
    checks = [parity if c.name == PARITY else c for c in report.checks]
    return replace(report, checks=checks)


def model_for_spark(model: Any, target: Any) -> tuple[Any, ModelFile | None]:
    """The model :func:`validate` checks on Spark, loaded, and how its executors load it: None for a model held
    whole (its bytes are broadcast), or a :class:`~onnxgate.spark._predict.ModelFile` for one above 2 GiB with its
    external data, given by its path and loaded here without its weights (:func:`onnxgate._onnx.weights_by_path`):
    the driver's checks run it from its path as :func:`onnxgate.validate` does, and each executor opens
    onnxruntime on the same absolute path (which must be readable, with the same files, from every executor). A
    SQL target's ``PREDICT`` reads a model from one ``varbinary(max)``: such a model is refused for it, as
    :func:`onnxgate.validate` refuses it (:func:`onnxgate._onnx.too_large_message`).

    Raises
    ------
    InvalidModelError
        The model is not a readable ONNX model, a data file is missing or truncated, or it is above 2 GiB for a SQL
        target (or held in memory).
    """
    from onnxgate._onnx import load_model, weights_by_path
    from onnxgate.spark._predict import ModelFile

    with weights_by_path(enabled=not target.is_sql):
        proto = load_model(model)
        return proto, ModelFile.of(proto)


def _reads_here(spark: Any) -> bool:
    """Whether ``spark`` (default: the active session) reads paths on this machine: a classic session, not
    Spark Connect, whose server reads them on its own."""
    if spark is None:
        from pyspark.sql import SparkSession

        spark = SparkSession.getActiveSession()
    try:
        return spark is not None and spark.sparkContext is not None
    except Exception:  # Spark Connect has no SparkContext
        return False


def _header(columns: list[str]) -> Any:
    """A pandas DataFrame of ``columns`` and no rows: the data's columns, as local parity's checks of them read
    a frame."""
    import pandas as pd

    return pd.DataFrame(columns=columns)


def _pickle_reference(reference: Any) -> bytes:
    from onnxgate._onnx import load_model, weights_by_path, weights_left_in_files

    if isinstance(reference, (str, os.PathLike)) and os.fspath(reference).lower().endswith(".onnx"):
        with weights_by_path():  # a reference above 2 GiB is named as such, before its weights are read
            reference = load_model(reference)  # a path may not exist on the executors: send the model
            held = weights_left_in_files(reference)
        if held is not None:
            from onnxgate.errors import InvalidModelError

            raise InvalidModelError(
                f"the reference {str(held[0])!r} with its external data is {held[1]:,} bytes, above 2 GiB: parity on "
                "Spark pickles the reference and broadcasts it to the executors, and protobuf cannot write an ONNX "
                "model that large as one. Give the native model it was converted from as the reference, or validate "
                "without --spark (onnxgate.validate), which runs an .onnx reference above 2 GiB from its path",
                path=str(held[0]),
            )
    try:
        from pyspark import cloudpickle
    except ImportError:  # pragma: no cover - pyspark always ships it
        import pickle as cloudpickle  # type: ignore[no-redef]

    if any(k.__name__ == "ExportedProgram" for k in type(reference).__mro__):
        # a torch.export program (a .pt2 reference) pickles, and loads back here, but not in an executor's
        # process ("KeyError: 'val'" on every partition, reported as the rows' fault; helper-76): it travels
        # as its .pt2 bytes, loaded again by torch.export.load on each executor
        reference = _ExportedProgramBytes(reference)
    try:
        # not loaded back here: that took longer than pickling (236 ms against 133 ms for a 34.7 MB forest) and held a
        # second copy of the model; an executor that cannot load it says so in these words (_unpickled_reference)
        return bytes(cloudpickle.dumps(reference))
    except Exception as err:
        raise _unsendable(f" ({type(reference).__module__}.{type(reference).__name__})", err, "pickling it") from err


def _unsendable(kind: str, err: Exception, step: str) -> UnsupportedModelError:
    return UnsupportedModelError(
        f"the reference{kind} cannot be sent to the Spark executors: {step} failed "
        f"({type(err).__name__}: {err}). Spark parity ships scikit-learn, XGBoost, LightGBM and CatBoost models, "
        "PyTorch modules and Keras models by pickle; pass the eager nn.Module (not a TorchScript or torch.export .pt2 "
        "program), or validate this model with onnxgate.validate on one machine."
    )


def _unpickled_reference(payload: bytes) -> Any:
    """On an executor: the reference, unpickled, or the driver's refusal of one that does not load back
    (:func:`_unsendable`), which the driver raises as such."""
    try:
        return pickle.loads(payload)
    except Exception as err:
        raise _unsendable("", err, "loading it back on an executor") from err


class _ExportedProgramBytes:
    """A torch.export program pickled as its ``torch.export.save`` bytes: unpickled, the program again."""

    def __init__(self, program: Any) -> None:
        import io

        import torch

        buffer = io.BytesIO()
        torch.export.save(program, buffer)
        self.data = buffer.getvalue()

    def __reduce__(self) -> tuple[Any, tuple[bytes]]:
        return _load_exported_program, (self.data,)


def _load_exported_program(data: bytes) -> Any:
    import io

    import torch

    return torch.export.load(io.BytesIO(data))


def _release(*shared: Any) -> None:
    """Destroy the broadcasts of a parity job once it is done. Each is a file of the model's or the reference's bytes
    in the driver's temporary folder, and blocks in its JVM, kept until the session stopped: every validate of a
    54.6 MB forest (30.2 MB as ONNX) left 85 MB behind in a long-lived session (a notebook, a service), and the
    workers kept the bytes too. A job broadcasts them again anyway, each validation its own."""
    from pyspark import Broadcast

    for value in shared:
        if isinstance(value, Broadcast):
            with contextlib.suppress(Exception):  # a session stopped meanwhile: nothing is left to free
                value.destroy()


class _Shared:
    """``.value`` like a broadcast variable, for Spark Connect (no SparkContext): sent with the function."""

    def __init__(self, value: bytes) -> None:
        self.value = value


def _rounding_shows(reference: Any, proto: Any, signature: Any, df: Any, spark: Any = None) -> bool:
    """Local parity's test of whether the reference rounds float32 rows
    (:func:`onnxgate.validators.reference.float32_rounding_shows`), on the first rows (of the DataFrame, or
    of the Parquet path read by Spark) collected to the driver; rows that cannot be collected count as
    rounding (the wider tolerances). A path counted as rounding without a look, and float32's tolerances,
    1000 times wider, passed a reference local parity failed (helper-125)."""
    from onnxgate.validators.reference import ROUNDING_PROBE_ROWS, float32_rounding_shows

    try:
        frame = df if hasattr(df, "limit") else _read_path(df, spark)
        head = frame.limit(ROUNDING_PROBE_ROWS).toPandas()
    except Exception:
        return True
    return float32_rounding_shows(reference, proto, signature, head)


def _read_path(data: Any, spark: Any) -> Any:
    import os

    from onnxgate.spark._session import read_parquet

    return read_parquet(spark, os.fspath(data))


_INTEGER_TYPES = ("byte", "short", "integer", "long")


def _integer_nulls(rows: Any, df: Any) -> bool:
    """Whether an integer column of the rows holds a null. Local parity reads such a column as pandas does,
    float64 with NaN, so its rows are not all float32; on the same file Spark's schema said bigint, the
    reference was given float32 rows and float32's tolerances, and the verdict flipped (helper-125). One pass
    over those columns, only when the rows' floating columns are all float32 and an integer one may be null."""
    names = [f.name for f in rows.fields if f.dataType.typeName() in _INTEGER_TYPES and f.nullable]
    if not names:
        return False
    from pyspark.sql import functions as F

    try:
        frame = df if hasattr(df, "select") else _read_path(df, rows.spark)
        quoted = ["`" + n.replace("`", "``") + "`" for n in names]
        found = frame.select(*(F.max(F.col(q).isNull().cast("int")) for q in quoted)).first()
    except Exception:  # counted as none: the schema's answer, as before
        return False
    return any(v == 1 for v in (found or ()))


def _float32_fields(rows: Any) -> bool:
    """Whether the rows' floating columns are all float32, as local parity decides it
    (:func:`onnxgate._data.float32_rows`)."""
    kinds = [f.dataType.typeName() for f in rows.fields]
    floats = [kind for kind in kinds if kind in ("float", "double")]
    # an int or bigint column is computed on in float64 beside float32 ones, and float32 rounds its values
    return bool(floats) and all(kind == "float" for kind in floats) and not any(k in ("integer", "long") for k in kinds)


def _known_values_probe(reference: Any, proto: Any, signature: Any, rows: Rows,
                        tolerances: dict[str, tuple[float, float, Any]], float32_rows: bool,
                        ) -> Callable[[], tuple[str | None, dict[str, Any]]] | None:
    """Local parity's known-values probe (:func:`onnxgate.validators.parity.known_values_disagree`), to run on the
    driver once the partitions' rows passed: the values of a text input only one of the two models knows (a category
    or a vocabulary word the data lacks, renamed in the file), each scored in the first of the table's first
    :data:`~onnxgate.validators.parity.ROWS_ALONE` rows, the rows local parity's probe scores when the files are
    read in order (:func:`_first_rows`: those rows alone come to the driver, never the table), also an integer
    input's categories. None for a model with no text or integer input: nothing to try, and no Spark job. A file
    with a OneHotEncoder category renamed ('teal' -> 'purple') on data lacking it failed validate and passed
    validate --spark (issue #15)."""
    if not any(spec.elem_type == "string" or spec.elem_type.startswith(("int", "uint")) for spec in signature.inputs):
        return None

    def disputes(feeds: Mapping[str, Any]) -> bool:
        from onnxgate.validators.known_values import known_text_values

        try:
            return any(k.disputed() for k in known_text_values(reference, proto, feeds))
        except Exception:  # as local parity: reading the two sides never fails parity itself
            return False

    def probe() -> tuple[str | None, dict[str, Any]]:
        from onnxgate.validators.parity import ROWS_ALONE, known_values_disagree

        # what the two sides know does not depend on the rows: a model whose sides know the same values (a file
        # as converted) costs no Spark job, and no onnxruntime session on the driver
        shaped = _blank_feeds(signature)
        if shaped is not None and not disputes(shaped):
            return None, {}
        feeds = _first_rows(rows, signature, ROWS_ALONE)
        if feeds is None or not disputes(feeds):
            return None, {}
        from onnxgate import runtime
        from onnxgate._onnx import runnable
        from onnxgate.validators.reference import prepare_reference

        try:
            session = runtime.session(runnable(proto), spinning=False)
            run_reference = prepare_reference(reference, proto, signature, float32_rows=float32_rows)
        except Exception:  # the executors ran both: a driver that cannot is not the file's fault
            return None, {}
        return known_values_disagree(session, proto, reference, feeds, signature, tolerances, run_reference)

    return probe


@dataclasses.dataclass(frozen=True)
class _Unchecked:
    """What the driver knows before the job of what a passing parity may not have checked (local parity's
    ``details["not_checked"]``, :func:`onnxgate.validators.parity.parity_not_checked`): the columns of the inputs a
    missing value is read its own way in (``reads``), the text category columns the models know (``categories``)
    and the values of each the partitions look for (``look_for``), and one row of the inputs' types and widths
    (``probe``, None where a width is not declared: the partitions' own then)."""

    reads: Any  # onnxgate.validators.parity.MissingValueReads
    categories: list[Any]
    look_for: dict[tuple[str, int], frozenset[Any]]
    probe: dict[str, Any] | None
    #: the columns of ``look_for`` a vectorizer reads: "words" (its values are its vocabulary's words) or "chars"
    #: (character n-grams), looked for in the texts as local parity does
    #: (:func:`~onnxgate.validators.parity.note_text_values`)
    tokens: dict[tuple[str, int], str] = dataclasses.field(default_factory=dict)


def _unchecked(reference: Any, proto: Any, signature: Any, rows: Rows, holds_nan: bool) -> _Unchecked:
    """The driver's side of a Spark parity's ``not_checked`` notes (:class:`_Unchecked`). The categories are read
    from the two models, given one blank row of the inputs' declared types and widths (no Spark job), or, for a text
    input whose width is not declared, the table's first rows (:func:`_first_rows`: those few rows alone); each
    partition then says which of those values its rows hold, and whether a row holds a missing value where the file
    reads one its own way: the driver never sees the rows."""
    from onnxgate.validators.parity import ROWS_ALONE, category_columns, missing_value_reads, vocabulary_tokens

    reads = missing_value_reads(proto, signature, holds_nan)
    probe = _blank_feeds(signature)
    categories: list[Any] = []
    # text categories and vocabularies, and integer categories (an encoder's, those a tree splits on), as locally
    if any(spec.elem_type == "string" or spec.elem_type.startswith(("int", "uint")) for spec in signature.inputs):
        categories = category_columns(reference, proto, probe if probe is not None else
                                      _first_rows(rows, signature, ROWS_ALONE), words=True)
    words, grams = vocabulary_tokens(categories)
    look_for: dict[tuple[str, int], frozenset[Any]] = {(k.input, k.column): frozenset(k.agreed()) for k in categories}
    look_for.update({**words, **grams})
    tokens = {**{key: "words" for key in words}, **{key: "chars" for key in grams}}
    return _Unchecked(reads, categories, look_for, probe, tokens)


def _blank_feeds(signature: Any) -> dict[str, Any] | None:
    """One row of blank values (empty text, zeros) per input, of the input's type and declared width: what
    :func:`~onnxgate.validators.known_values.known_text_values` reads the inputs' types and widths from; None where
    an input's width is not declared."""
    import numpy as np

    from onnxgate.signature import numpy_dtype_for

    feeds = {}
    for spec in signature.inputs:
        dims = spec.shape[1:] if spec.shape else None
        if dims is None or not all(isinstance(d, int) for d in dims):
            return None
        try:
            kind = numpy_dtype_for(spec.elem_type)
        except Exception:
            return None
        feeds[spec.name] = np.full((1, *dims), "" if kind.kind == "O" else 0, dtype=kind)
    return feeds


def _first_rows(rows: Rows, signature: Any, count: int) -> dict[str, Any] | None:
    """The model's feeds for the table's first ``count`` rows (fewer when it has fewer), read as the workers read
    them (:func:`onnxgate._arrow.batch_feeds`): a Spark job taking ``count`` rows of the DataFrame, or the first
    row groups of the Parquet files the workers read (pyarrow, on the driver). None where they cannot be read."""
    import pyarrow as pa

    from onnxgate._arrow import batch_feeds

    try:
        if rows.fragments:
            from onnxgate.spark._files import fragment_batches

            pairs = rows.frame.limit(count).collect()  # a row group may hold fewer rows, or none
            read = pa.RecordBatch.from_pylist([p.asDict() for p in pairs])  # the fragments, as the workers get them
            batches: list[Any] = []
            held = 0
            for batch in fragment_batches(iter([read]), count, rows.columns, rows.wide):  # as the workers read them
                batches.append(batch.slice(0, count - held))
                held += batches[-1].num_rows
                if held >= count:
                    break
            table = pa.Table.from_batches(batches) if batches else None
        else:
            table = rows.frame.limit(count).toArrow()
        if table is None or table.num_rows == 0:
            return None
        batch = table.combine_chunks().to_batches()[0]
        if batch.schema.names != rows.columns:  # named back (onnxgate.spark._files.named_batches)
            batch = pa.RecordBatch.from_arrays(batch.columns, names=rows.columns)
        return batch_feeds(batch, signature, plain_categories=True)
    except Exception:  # rows the executors scored, which the driver cannot read: nothing tried here
        return None


def _share(spark: Any, value: bytes) -> Any:
    try:
        context = spark.sparkContext
    except Exception:  # Spark Connect has no SparkContext
        return _Shared(value)
    return context.broadcast(value)


def _spark_parity(
    proto: Any,
    reference_bytes: bytes,
    data: Rows,
    tolerances: dict[str, tuple[float, float, Any]],
    inf_equal: bool,
    guarded: set[str] | frozenset[str] = frozenset(),
    float32_rows: bool = False,
    holds_nan: bool = True,
    text_variants: bool = True,
    merged: bool = False,
    classes: list[Any] | None = None,
    by_path: ModelFile | None = None,
    known_values: Callable[[], tuple[str | None, dict[str, Any]]] | None = None,
    unchecked: _Unchecked | None = None,
    typed_reference: bool = False,
) -> CheckResult:
    """Parity on the executors of ``proto``, its bytes broadcast, or with ``by_path`` (a model above 2 GiB held
    without its weights: :func:`model_for_spark`) loaded by each executor from its path, nothing carrying its
    weights; ``guarded``: the outputs whose atol is the default (the scale guard of
    :class:`~onnxgate.validators.accumulator.OutputAccumulator` applies to them); ``float32_rows``: the rows'
    floating columns are all float32 (:func:`_float32_fields`); ``holds_nan``: the target's tables hold NaN
    (else the rows holding it are counted, as local parity counts them); ``text_variants``: a tokenizer's text
    is also tried varied (:func:`~onnxgate.validators.parity.non_ascii_text_disagrees`); ``merged``: ``data`` is
    the partitions joined into one (:func:`_batch_size_suspected`); ``classes``: a classifier reference's, for the
    classes the data shows (:func:`~onnxgate.validators.parity.classes_seen`); ``known_values``: the
    driver's known-values probe (:func:`_known_values_probe`), run when the rows pass as local parity runs it;
    ``unchecked``: what the partitions look for, for the ``not_checked`` notes of a pass (:func:`_unchecked`);
    ``typed_reference``: a traced framework's reference, whose outputs' kinds must agree
    (:func:`~onnxgate.validators.parity.traces_forward`)."""
    from onnxgate.runtime import RUN_ROWS
    from onnxgate.signature import Signature
    from onnxgate.validators.parity import (
        OutputAccumulator,
        class_order_finding,
        parity_result,
        with_class_order,
        with_rounding_measured,
        with_rows_holding_nan,
        with_tied_rows,
    )
    from onnxgate.validators.rows_mixed import scan_rows

    spark = data.spark
    model_b: Any
    if by_path is not None:  # each executor opens onnxruntime on the path (ModelFile.graph_checked)
        model_b, model_token = by_path, by_path.token.encode()
    else:
        model_token = proto.SerializeToString()
        model_b = _share(spark, model_token)
    token = hashlib.sha256(model_token + reference_bytes + bytes([float32_rows])).hexdigest()
    ref_b = _share(spark, reference_bytes)
    # Workers reading the files read runs of RUN_ROWS rows: validating the 64x64 MLP of
    # bench/bench_spark.py on 5,000,000 rows ran at 1.07-1.24x the local rate with 16,384-row reads
    # and 0.94-1.00x with 65,536 (3 runs each, 2 cores).
    run = _partition_parity(token, model_b, ref_b, tolerances, inf_equal, RUN_ROWS if data.fragments else 0,
                            data.columns, float32_rows, holds_nan, job=os.urandom(8).hex(), guarded=frozenset(guarded),
                            text_variants=text_variants, reads=unchecked.reads if unchecked else None,
                            look_for=unchecked.look_for if unchecked else None, wide=data.wide,
                            tokens=unchecked.tokens if unchecked else None)
    try:
        rows = data.frame.mapInArrow(run, _PARTIAL_SCHEMA).collect()
    except Exception as err:
        refused = worker_input_error(err)  # the rows' fault, as local parity says it: exit 2
        if refused is not None:
            raise refused from None
        raise OnnxGateError(f"the Spark parity job failed: {spark_error(err)}") from err
    finally:
        _release(model_b, ref_b)
    partials = sorted((pickle.loads(r["partial"]) for r in rows), key=lambda p: p["partition"])
    starts = _row_starts(partials)
    # as local parity, which stops at its first batch that fails: the first partition that stopped says why
    stopped = next((p for p in partials if p.get("error") or p.get("raise")), None)
    batch = _local_batches(proto, partials)
    if stopped is not None and stopped.get("raise"):
        kind, message = stopped["raise"]
        kinds = {"InvalidDataError": InvalidDataError, "InvalidModelError": InvalidModelError,
                 "UnsupportedModelError": UnsupportedModelError}  # exit 2, as locally
        raise kinds.get(kind, OnnxGateError)(_in_table(message, starts, batch))
    if not merged and _batch_size_suspected(partials):
        # as local parity, whose batch holds the rows of several of these partitions: scored again as one partition
        # (the first of its runs fails quickly where the model fails on every batch)
        return _spark_parity(proto, reference_bytes, replace(data, frame=data.frame.coalesce(1)), tolerances,
                             inf_equal, guarded, float32_rows, holds_nan, text_variants, merged=True, classes=classes,
                             by_path=by_path, known_values=known_values, unchecked=unchecked,
                             typed_reference=typed_reference)
    done = 0
    for part in partials:
        if part.get("error"):  # the first partition that stopped (one that raised raised above)
            details: dict[str, Any] = {"rows_done": done + part["rows"]}
            failing = part.get("failing_row")
            if failing is not None and part["partition"] in starts:  # numbered in the table, as local parity's
                row = starts[part["partition"]] + failing["row"]
                details["failing_row"] = {**failing, "row": row}
                if batch is not None:  # the rows before local parity's batch that fails
                    details["rows_done"] = row // batch[0] * batch[0]
            return CheckResult(PARITY, False, _in_table(part["error"], starts, batch), details)
        done += part["rows"]
    if done == 0:
        raise InvalidDataError("the parity data has no rows; pass at least one row")
    names = Signature.from_model(proto).output_names
    accs = [OutputAccumulator(n, *tolerances[n], infinities_compare_equal=inf_equal, exact_limit=0,
                              scale_guard=n in guarded) for n in names]
    missing: set[str] = set()
    hasher = hashlib.sha256()
    offset = 0
    for part in partials:
        for acc, theirs in zip(accs, part["accs"]):
            acc.merge(theirs, row_offset=offset)
        missing |= part["missing"]
        hasher.update(part["sha256"].encode())
        offset += part["rows"]
    details = {
        "batches": sum(p["batches"] for p in partials),
        "batch_size": RUN_ROWS,
        "data_sha256": hasher.hexdigest(),
        "engine": {
            "name": "spark",
            "reader": "pyarrow in the Python workers" if data.fragments else "Spark",
            "partitions": len(partials),
            "row_numbers": "in partition order",
            "data_sha256": "sha256 of each partition's sha256, in partition order",
            "sample": "drawn in each partition, then the smallest keys of the union by row number",
        } | ({"merged": "the partitions, each failing as one batch smaller than local parity's, were scored "
                        "again as one partition"} if merged else {}),
    }
    result = parity_result(
        accs, names, missing=missing, rows=done, details=details, infinities_compare_equal=inf_equal, model=proto,
        rows_float32=float32_rows, classes=classes, typed_reference=typed_reference,
    )
    rounded = _merged_rounding(partials, tolerances, inf_equal, guarded)
    if not result.passed and rounded is not None:
        # as local parity: measured on the executors, on the batches that differ, whether the reference given the
        # rows rounded to the file's input type answers what the file answers (the hint was local parity's alone)
        result = with_rounding_measured(result, rounded, next(p["narrow"] for p in partials if "narrow" in p))
    if not result.passed and by_path is None:
        # as local parity: are the rows that differ tree flips? Measured on the worst rows, which the executors send
        # with their inputs and the reference's answers: the ONNX model alone is scored again, here
        result = _with_worst_tree_flips(result, proto, accs, partials, tolerances)
    # as local parity: a class table reordered against the reference's classes_ fails whatever rows the data holds,
    # and a node mixing the rows is named whatever the verdict (Spark passed both on data that did not show them)
    reordered = class_order_finding(proto, classes)
    if reordered is not None:
        return with_class_order(result, reordered)
    scan = scan_rows(proto)
    if scan.mixed:
        result = replace(result, details={**result.details, "rows_mixed": list(scan.mixed)})
    result = with_tied_rows(result, sum(p.get("tied", 0) for p in partials), done,
                            sum(p.get("tied_untried", 0) for p in partials))
    result = with_rows_holding_nan(result, sum(p.get("with_nan", 0) for p in partials), done)
    probe_failed = next((p["probe_failed"] for p in partials if p.get("probe_failed")), None)
    if probe_failed is not None and probe_failed[0] != done:
        # as local parity: the first rows fail as a batch of their own while the data's batches run
        from onnxgate.validators.parity import fixed_batch_finding

        fixed = fixed_batch_finding(*probe_failed)
        message = fixed if result.passed else f"{result.message}; {fixed}"
        return CheckResult(PARITY, False, message, {**result.details, "rows_alone": fixed})
    alone = next((p["alone"] for p in partials if p.get("alone")), None)
    if alone is None and result.passed:
        alone = next((p["reference_alone"] for p in partials if p.get("reference_alone")), None)
    if alone is not None or not result.passed:
        # as local parity: a model drawing random numbers is named as random, not as batch-dependent
        alone = next((p["unrepeated"] for p in partials if p.get("unrepeated")), None) or alone
    if alone is None and result.passed and known_values is not None:
        # as local parity: the data's rows agree; do the values only one of the two models knows (a category or a
        # word the data lacks, renamed in the file)? The same probe, on the driver
        known, disputed = known_values()
        if known is not None:
            return CheckResult(PARITY, False, known, {**result.details, "known_values_disputed": disputed})
        if disputed:
            result = replace(result, details={**result.details, "known_values_disputed": disputed})
    if alone is None:
        return _with_text_variants(result, partials, starts, text_variants, _merged_not_checked(result, partials,
                                                                                                unchecked))
    alone = _in_table(alone, starts)
    message = alone if result.passed else f"{result.message}; {alone}"
    return CheckResult(PARITY, False, message, {**result.details, "rows_alone": alone})


def _with_worst_tree_flips(result: CheckResult, proto: Any, accs: list[Any], partials: list[dict[str, Any]],
                           tolerances: dict[str, tuple[float, float, Any]]) -> CheckResult:
    """A failed ``result`` saying which of its worst rows are tree flips, as local parity says it of the rows that
    differ (:func:`onnxgate.validators.tree_flips.tree_flip_finding`): for a file whose trees read computed values,
    the mismatching worst rows of the merged ``accs`` (each output's, numbered in the table, with the inputs the file
    read and the reference's answers) are scored again on the driver with the value on a split moved one step across
    it, and compared with the reference's answers they hold. Neither the rows nor the reference come to the driver
    for it: a local run flips 79 of diabetes's 442 training rows, and the driver holds the worst few alone. A row
    whose inputs the evidence cut (above ``ROW_VALUES_LIMIT`` values) is not scored again. The measure's step is the
    float step at the largest value of the feature among the rows scored: on a few worst rows all near one split it is
    finer than local parity's over every row that differs, and a flip local parity names may not be named here (the
    zoo's planted scaler tree: its 5 worst rows all sit on feature 3 at -0.53)."""
    import numpy as np

    from onnxgate.signature import Signature, numpy_dtype_for
    from onnxgate.validators.parity import values_differ, with_tree_flips
    from onnxgate.validators.reference import maps_to_array, side_by_side
    from onnxgate.validators.tree_flips import computed_tree_inputs, tree_flip_finding

    trees = computed_tree_inputs(proto)
    if not trees:
        return result
    signature = Signature.from_model(proto)
    shapes: dict[str, Any] = next((p["shapes"] for p in partials if "shapes" in p), {})
    renamed = signature.columns.renamed
    held: dict[int, dict[str, Any]] = {}  # row -> its feeds and the reference's answer per output
    for j, acc in enumerate(accs):
        for _, entry in acc.worst:
            if not entry.get("mismatch") or "inputs" not in entry:
                continue
            row = held.setdefault(entry["row"], {"inputs": entry["inputs"], "answers": {}})
            row["answers"][j] = entry["reference"]
    rows: list[int] = []
    feeds: dict[str, list[Any]] = {spec.name: [] for spec in signature.inputs}
    for number, row in sorted(held.items()):
        values = {}
        for spec in signature.inputs:
            shown = row["inputs"].get(signature.columns.column_for(spec.name) if renamed else spec.name)
            if shown is None or any(isinstance(v, str) and v.startswith("... ") for v in shown):
                break  # not shown, or cut: the row cannot be fed again
            if spec.missing and spec.missing.startswith("\x00"):  # shown as None, fed as the file's text
                shown = [spec.missing if v is None else v for v in shown]
            try:
                value = np.asarray(shown, dtype=numpy_dtype_for(spec.elem_type))
                values[spec.name] = value.reshape(1, *shapes.get(spec.name, value.shape))
            except Exception:
                break
        else:
            rows.append(number)
            for name, value in values.items():
                feeds[name].append(value)
    if not rows:
        return result
    answers = [held[number]["answers"] for number in rows]

    def agree(outputs: Any, positions: Any) -> Any:
        # per row: the file's answer is the reference's on every output whose answer to that row the driver holds
        ok = np.ones(len(positions), dtype=bool)
        compared = np.zeros(len(positions), dtype=bool)
        for j, (spec, mine) in enumerate(zip(signature.outputs, outputs)):
            if signature.row_axis(spec.name) != 0 or j >= len(accs):
                continue
            if isinstance(mine, list):
                if not mine or not isinstance(mine[0], Mapping):
                    continue
                mine = maps_to_array(mine)
            ours = np.asarray(side_by_side(mine))
            if not ours.shape or ours.shape[0] != len(positions):
                continue
            ours = ours.reshape(len(positions), -1)
            atol, rtol, mode = tolerances[accs[j].name]
            for k, at in enumerate(positions):
                expected = answers[at].get(j)
                if expected is None or any(isinstance(v, str) and v.startswith("... ") for v in expected):
                    continue
                expected = np.asarray(expected)
                if expected.size != ours[k].size:
                    continue
                ok[k] &= not values_differ(expected, ours[k], mode == "exact", atol, rtol)
                compared[k] = True
        return ok & compared

    differ = max(acc.mismatched_rows for acc in accs)
    return with_tree_flips(result, tree_flip_finding(
        proto, trees, {name: np.concatenate(parts) for name, parts in feeds.items()}, rows, agree, worst_of=differ))


def _batch_size_suspected(partials: list[dict[str, Any]]) -> bool:
    """Whether the first partition that stopped at an error stopped because onnxruntime failed on a run smaller than
    local parity's batches (a partition's first or last run: its rows up to RUN_ROWS, or those past a multiple of
    it), with its first rows failing as a batch too, while other partitions hold rows: local parity, whose batches
    hold RUN_ROWS rows of the table, may score them where these runs fail (a graph that fixes its batch size, or
    takes only multiples of it). A partition of 25,000 rows ran 16,384 + 8,616 rows, and a graph taking multiples
    of 16 was said to fail on a row of the second run where local parity said it fixes its batch size."""
    from onnxgate.runtime import RUN_ROWS
    from onnxgate.validators.parity import ROWS_ALONE

    stopped = next((p for p in partials if p.get("error") or p.get("raise")), None)
    if stopped is None or "failed_run" not in stopped or len(partials) < 2:
        return False
    done, rows = stopped["failed_run"]
    return rows < RUN_ROWS and ("probe_failed" in stopped or (done == 0 and rows <= ROWS_ALONE))


def _merged_rounding(partials: list[dict[str, Any]], tolerances: dict[str, tuple[float, float, Any]],
                     inf_equal: bool, guarded: set[str] | frozenset[str]) -> list[Any] | None:
    """The partitions' measures of the file against the reference given the rows rounded to the file's input
    (:func:`~onnxgate.validators.parity.rounded_rows_agree`), merged as local parity's over its batches: None where
    no partition had a batch that differs, [] where the reference refused a partition's rounded rows."""
    from onnxgate.validators.parity import OutputAccumulator

    parts = [p["rounded"] for p in partials if p.get("rounded") is not None]
    if not parts or any(not accs for accs in parts):
        return [] if parts else None
    merged = [OutputAccumulator(a.name, *tolerances[a.name], infinities_compare_equal=inf_equal, exact_limit=0,
                                scale_guard=a.name in guarded) for a in parts[0]]
    for accs in parts:
        for acc, theirs in zip(merged, accs):
            acc.merge(theirs)
    return merged


def _with_text_variants(result: CheckResult, partials: list[dict[str, Any]], starts: Mapping[int, int],
                        text_variants: bool, unchecked: list[dict[str, str]] | None = None) -> CheckResult:
    """``result`` (a passed parity, nothing found of rows alone) with local parity's try of the first rows' text
    varied (:func:`~onnxgate.validators.parity.non_ascii_text_disagrees`): the first partition holding rows tried
    its first rows, the rows local parity tries when the files are read in order. Spark parity did not try them,
    and passed a text vectorizer local parity fails on 'café'. A pass carries ``unchecked``
    (:func:`_merged_not_checked`) in ``details["not_checked"]``, with the text not tried, as local parity's."""
    from onnxgate.validators.parity import TEXT_VARIANTS_OFF, not_checked_item, with_not_checked

    items = list(unchecked or ())
    if not result.passed:
        return result
    first = next((p for p in partials if p["rows"]), None)
    if first is None or not first.get("tokenized"):
        return with_not_checked(result, items)
    if not text_variants:
        items.append(not_checked_item("non_ascii_text", "text outside ASCII", f"not tried: {TEXT_VARIANTS_OFF}"))
        return with_not_checked(replace(result, details={**result.details,
                                                         "non_ascii_text": "not tried (text_variants=False)"}), items)
    text, tried = first.get("text", (None, ""))
    if text is not None:
        text = _in_table(text, starts)
        return CheckResult(PARITY, False, text, {**result.details, "non_ascii_text": text})
    if tried:
        return with_not_checked(replace(result, details={**result.details, "non_ascii_text": tried}), items)
    return with_not_checked(result, items)


def _merged_not_checked(result: CheckResult, partials: list[dict[str, Any]],
                        unchecked: _Unchecked | None) -> list[dict[str, str]]:
    """Local parity's ``not_checked`` notes (:func:`onnxgate.validators.parity.parity_not_checked`) from what the
    partitions said of their rows: the columns where one held a missing value and the file reads one its own way,
    which of the models' text categories they held (a set no larger than the models' own), and why a large batch was not
    compared; the classes seen come from the merged counts (``details["classes_seen"]``), as locally."""
    import numpy as np

    from onnxgate.validators.parity import parity_not_checked, rows_mixed_item

    if unchecked is None or not result.passed:
        return []
    held: dict[tuple[str, int], set[str]] = {key: set() for key in unchecked.look_for}
    for part in partials:
        for key, values in part.get("held", {}).items():
            held.setdefault(key, set()).update(values)
    probe = unchecked.probe
    if probe is None:  # an input's width not declared: as the partitions read it
        shapes: dict[str, Any] = next((p["shapes"] for p in partials if p.get("shapes")), {})
        probe = {name: np.zeros((1, *shape)) for name, shape in shapes.items()}
    unscored: list[str] = next((p["unscored_batch"] for p in partials if p.get("unscored_batch")), [])
    found: dict[str, set[int]] = {}  # the union of the partitions' columns holding a missing value
    for part in partials:
        for name, columns in part.get("missing_found", {}).items():
            found.setdefault(name, set()).update(columns)
    items = parity_not_checked(unchecked.reads, found, unchecked.categories,
                               held, result.details.get("classes_seen"), unscored, probe, search=SPARK_SEARCH_ADVICE)
    if result.details.get("rows_mixed"):  # as local parity: named, checked by the batches alone
        items.append(rows_mixed_item(result.details["rows_mixed"]))
    return items


def _looks_failed(part: dict[str, Any]) -> bool:
    """Whether a partition's own rows fail parity, or one of its checks of rows alone found something: a value
    out of tolerance, outputs of the wrong shape or missing, or a guarded output within atol of zero whose
    differences the driver's scale guard may fail once every partition's scale is known."""
    return bool(part["missing"] or part.get("alone") or part.get("reference_alone") or any(
        acc.mismatched_values or acc.shape_status == "mismatch" or acc.scale_guard_may_fail() for acc in part["accs"]))


def _row_starts(partials: list[dict[str, Any]]) -> dict[int, int]:
    """The row each partition starts at in the table (rows in partition order: the sum of the earlier partitions'
    row counts), for the partitions after which every earlier one's count is known: a partition scored to its end
    counted its rows, and one that stopped at an error counted the rest without scoring them (only then: the
    passing job pays nothing). A partition that failed before it read its rows leaves the later ones unknown."""
    starts, start = {}, 0
    for part in partials:
        starts[part["partition"]] = start
        if part.get("count") is None:
            break
        start += part["count"]
    return starts


def _local_batches(proto: Any, partials: list[dict[str, Any]]) -> tuple[int, int] | None:
    """Local parity's rows per batch for this model and the table's row count, where every partition counted its
    rows (:func:`_row_starts`); None otherwise, and where no partition stopped (nothing to name)."""
    if not any(p.get("error") or p.get("raise") for p in partials) or any(p.get("count") is None for p in partials):
        return None
    from onnxgate._onnx import rows_per_batch
    from onnxgate.validators.parity import DEFAULT_BATCH_SIZE

    return rows_per_batch(proto, DEFAULT_BATCH_SIZE), sum(p["count"] for p in partials)


def _in_table(message: str, starts: Mapping[int, int], batch: tuple[int, int] | None = None) -> str:
    """``message`` with each row a worker named "row R of partition P" (or "rows R..S of partition P") named by
    its number in the table, as local parity names it, for the partitions in ``starts`` (:func:`_row_starts`).
    With ``batch`` (local parity's rows per batch, the table's rows: :func:`_local_batches`), the run a worker
    names with the first row failing in it ("rows R..S of partition P (first at row F of partition P") is named
    as local parity names it: its batch holding that row, which the worker's run need not be (partitions do not
    start where local parity's batches do)."""
    if batch is not None:
        size, total = batch

        def as_local(found: re.Match[str]) -> str:
            partition = int(found[1])
            if partition not in starts or int(found[3]) != partition:
                return found[0]
            row = starts[partition] + int(found[2])
            first = row // size * size
            return f"rows {first}..{min(first + size, total) - 1} (first at row {row}"

        message = _FAILING_RUN.sub(as_local, message)

    def in_table(found: re.Match[str]) -> str:
        partition = int(found[4])
        if partition not in starts:
            return found[0]
        start = starts[partition]
        first = f"{found[1]} {start + int(found[2])}"
        return first if found[3] is None else f"{first}..{start + int(found[3])}"

    return _PARTITION_ROWS.sub(in_table, message)


def _first_large_batch(job: str) -> bool:
    """Whether this Python worker has not yet scored the large batch of ``job`` (and now counts it scored). A
    worker runs the partitions of a job one after another, so the batch is scored once per worker, whatever
    the number of partitions, and by every worker that scores rows (an empty partition 0 does not skip it)."""
    if job in _LARGE_BATCH_JOB:
        return False
    _LARGE_BATCH_JOB.clear()
    _LARGE_BATCH_JOB.add(job)
    return True


def _scorer(token: str, model_b: Any, ref_b: Any, tolerances: dict[str, tuple[float, float, Any]],
            float32_rows: bool = False) -> tuple[Any, Any, Any, Any, Any, bool, bool, str, Any]:
    """The worker's session, signature, reference, tie resolver (:mod:`onnxgate.validators.ties`), the
    signature the reference's feeds are read with where it differs (a native reference is given the
    user's own values: :func:`onnxgate.validators.parity.users_values_signature`), whether the reference
    is traced (:func:`onnxgate.validators.parity.traces_forward`), whether a tokenizer reads the model's text
    (:func:`onnxgate.validators.parity.tokenized_inputs`), where no exporter traced the reference, what in the file
    can make a row's answer depend on its batch (its batch size read, :func:`onnxgate.validators.parity.
    reads_batch_size`, or its rows mixed, :func:`onnxgate.validators.rows_mixed.scan_rows`: local parity's large-batch
    gate, :func:`onnxgate.validators.parity.batch_cause`; ``""`` for none), and the model (without
    its weights where it is loaded by path: a :class:`~onnxgate.spark._predict.ModelFile`, checked as
    :func:`onnxgate.spark.predict`'s executors check it, onnxruntime opened on the path), for one validation, made
    once per worker."""
    if token not in _SCORERS:
        import onnxruntime as ort

        from onnxgate._onnx import load_model
        from onnxgate.signature import Signature
        from onnxgate.spark._predict import ModelFile
        from onnxgate.validators.reference import prepare_reference

        # a model above 2 GiB: its graph, once its files are found as the driver read them, and no bytes to share
        proto = model_b.graph_checked() if isinstance(model_b, ModelFile) else load_model(model_b.value)
        signature = Signature.from_model(proto)
        options = ort.SessionOptions()
        options.log_severity_level = 4
        # onnxruntime's default thread count, as local parity: a tree ensemble sums its trees in an
        # order that depends on it, and parity must give the same numbers on the same machine.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        session = ort.InferenceSession(model_b.path if isinstance(model_b, ModelFile) else proto.SerializeToString(),
                                       options, providers=["CPUExecutionProvider"])
        from onnxgate.validators.parity import (
            batch_cause,
            reads_batch_size,
            tokenized_inputs,
            traces_forward,
            users_values_signature,
        )
        from onnxgate.validators.rows_mixed import RowsScan, scan_rows
        from onnxgate.validators.ties import prepare_tie_resolver

        reference = _unpickled_reference(ref_b.value)
        traced = traces_forward(reference)
        # as local parity: a file that reads its batch size, or mixes its rows (a count of them summed over axis 0,
        # with no Shape), is scored in one large batch whatever the reference; Spark gated it on Shape/Size/If/Loop/
        # Scan only, and passed a file halving its answers in batches above 100 rows on 5 rows (helper-352)
        scan = RowsScan() if traced else scan_rows(proto)
        sized = "" if traced or not (reads_batch_size(proto) or scan.mixed or scan.untraced) else batch_cause(proto,
                                                                                                                scan)
        _SCORERS.clear()  # one model at a time per worker: a long-lived worker does not pile them up
        _SCORERS[token] = (session, signature, prepare_reference(reference, proto, signature,
                                                                 float32_rows=float32_rows),
                           prepare_tie_resolver(reference, proto, signature, tolerances),
                           users_values_signature(reference, signature, float32_rows), traced,
                           bool(tokenized_inputs(proto)), sized, proto)
    return _SCORERS[token]  # type: ignore[no-any-return]


def _runs(batches: Iterator[Any]) -> Iterator[Any]:
    """Spark's batches (``spark.sql.execution.arrow.maxRecordsPerBatch`` rows), or the row groups a worker reads,
    as runs of onnxgate.runtime.RUN_ROWS rows, the batches local parity scores (the last one shorter): both
    models' activations then stay in cache, and a model that scores only some batch sizes is run on the batches
    local parity gives it. Consecutive batches of other column types are not joined."""
    from onnxgate.runtime import RUN_ROWS

    held: list[Any] = []
    count = 0
    for batch in batches:
        if held and not batch.schema.equals(held[0].schema, check_metadata=False):
            yield _joined(held)
            held, count = [], 0
        start = 0
        while start < batch.num_rows:
            take = min(RUN_ROWS - count, batch.num_rows - start)
            held.append(batch.slice(start, take))
            count += take
            start += take
            if count == RUN_ROWS:
                yield _joined(held)
                held, count = [], 0
    if held:
        yield _joined(held)


def _joined(batches: list[Any]) -> Any:
    """One Arrow batch of ``batches`` (of the same column types), with the first one's schema."""
    import pyarrow as pa

    if len(batches) == 1:
        return batches[0]
    first = batches[0]
    return pa.RecordBatch.from_arrays([pa.concat_arrays([b.column(j) for b in batches])
                                       for j in range(first.num_columns)], schema=first.schema)


def _partition_parity(
    token: str,
    model_b: Any,
    ref_b: Any,
    tolerances: dict[str, tuple[float, float, Any]],
    inf_equal: bool,
    fragment_rows: int = 0,
    read: list[str] | None = None,
    float32_rows: bool = False,
    holds_nan: bool = True,
    job: str = "",
    guarded: frozenset[str] = frozenset(),
    text_variants: bool = True,
    reads: Any = None,
    look_for: Mapping[tuple[str, int], frozenset[Any]] | None = None,
    wide: tuple[str, ...] = (),
    tokens: Mapping[tuple[str, int], str] | None = None,
) -> Any:
    """The function each partition runs; with ``fragment_rows``, its input is ``(path, row group)``
    pairs and it reads the columns ``read`` itself in batches of that many rows, else Spark's batches
    of the columns ``read``; without ``holds_nan``, it counts the rows holding NaN or infinity; ``job``
    tells one validation's partitions from the next (:func:`_first_large_batch`); ``guarded``: the outputs whose
    atol is the default (:func:`_looks_failed`); ``text_variants``: try the first rows' text varied; ``reads``
    and ``look_for``: the columns whose missing values and the text categories a partition says it holds
    (:func:`_unchecked`), as local parity notes them batch by batch for its ``not_checked`` notes; ``wide``: the text
    columns read as ``large_string`` from every file (:func:`onnxgate.spark._files.worker_batches`); ``tokens``: the
    columns of ``look_for`` whose values are a vectorizer's words or n-grams, looked for in its texts."""

    def run(batches: Iterator[Any]) -> Iterator[Any]:
        import pyarrow as pa
        from pyspark import TaskContext

        from onnxgate._arrow import batch_feeds
        from onnxgate.validators.parity import OutputAccumulator, accumulate_batch, by_column, hash_feeds

        context = TaskContext.get()
        part: dict[str, Any] = {
            "partition": context.partitionId() if context is not None else 0,
            "rows": 0,
            "count": None,  # all its rows, scored or not, where known (_row_starts)
            "batches": 0,
            "missing": set(),
            "accs": [],
            "tied": 0,
            "tied_untried": 0,
            "with_nan": 0,
            "missing_found": {},  # the columns a row holds a missing value in where the file reads one (reads)
            "held": {key: set() for key in look_for or {}},  # the values of look_for its rows hold
            "unscored_batch": [],  # why the large batch was made but not compared
        }
        # the categories still looked for: none once every one was seen; whether a column where the file reads a
        # missing value its own way holds none yet
        looking = dict(look_for or {})
        looking_missing = bool(reads)
        hasher = hashlib.sha256()
        try:
            session, signature, run_reference, resolve_ties, user_values, traced, tokenized, sized, proto = _scorer(
                token, model_b, ref_b, tolerances, float32_rows)
            accs = [
                OutputAccumulator(o.name, *tolerances[o.name], infinities_compare_equal=inf_equal, exact_limit=0,
                                  row_axis=signature.row_axis(o.name), scale_guard=o.name in guarded)
                for o in signature.outputs
            ]
            part["tokenized"] = tokenized
            if user_values is not None:
                from onnxgate.validators.parity import narrowed_type

                part["narrow"] = narrowed_type(signature, user_values)
            part["accs"] = accs
            probe: dict[str, Any] | None = None
            from onnxgate.runtime import run_rows
            from onnxgate.spark._files import worker_batches

            runs = _runs(worker_batches(batches, fragment_rows, read, wide))
            for batch in runs:
                n = batch.num_rows
                if n == 0:
                    continue
                done = part["rows"]
                feeds = batch_feeds(batch, signature, plain_categories=True)
                hash_feeds(hasher, feeds)
                if "shapes" not in part:
                    part["shapes"] = {key: value.shape[1:] for key, value in feeds.items() if hasattr(value, "shape")}
                if looking_missing:  # as local parity, for its not_checked notes
                    from onnxgate.validators.parity import note_missing_values

                    looking_missing = note_missing_values(part["missing_found"], feeds, signature, reads)
                if looking:
                    from onnxgate.validators.parity import note_text_values

                    kinds = tokens or {}
                    note_text_values(part["held"], feeds, looking,
                                     words={k: v for k, v in looking.items() if kinds.get(k) == "words"},
                                     grams={k: v for k, v in looking.items() if kinds.get(k) == "chars"})
                    looking = {key: values for key, values in looking.items() if len(part["held"][key]) < len(values)}
                if probe is None:  # as local parity's probe: the first rows, asked again if the partition fails
                    from onnxgate.validators.parity import ROWS_ALONE

                    probe = {key: value[:ROWS_ALONE] for key, value in feeds.items()}
                    if n > ROWS_ALONE:
                        # as local parity: the first rows scored as a batch of their own; failing there while the
                        # batches run, the model fixes its batch size (Spark said a row failed alone; helper-268)
                        try:
                            run_rows(session, None, probe)
                        except Exception as err:
                            part["probe_failed"] = (ROWS_ALONE, str(err))
                where = f"rows {done}..{done + n - 1} of partition {part['partition']}"
                of = f" of partition {part['partition']}"  # the driver names the rows in the table (_in_table)
                try:
                    onnx_out = run_rows(session, None, feeds)  # row by row for [1,1] columns
                except Exception as err:
                    from onnxgate.validators.parity import onnxruntime_failure

                    # a run smaller than local parity's batches (a partition's first or last): where the first rows
                    # fail as a batch too, the model may fix its batch size (_batch_size_suspected)
                    part["failed_run"] = (done, n)

                    try:  # as local parity: the first row failing alone, with its inputs
                        part["error"], failure = onnxruntime_failure(
                            session, feeds, signature, err, done, run_reference,
                            feeds if user_values is None else batch_feeds(batch, user_values, plain_categories=True),
                            rows_of=of)
                    except InvalidDataError as refused:  # the reference refuses that row too: exit 2, as locally
                        part["raise"] = ("InvalidDataError", str(refused))
                        break
                    if "failing_row" in failure:
                        part["failing_row"] = failure["failing_row"]
                    break
                if not holds_nan:  # as local parity: rows a SQL target's tables cannot hold
                    from onnxgate.validators.parity import rows_with_nan

                    part["with_nan"] += rows_with_nan(feeds)
                if "alone" not in part and n >= 2 and "probe_failed" not in part:
                    # as local parity: the first rows scored one at a time
                    from onnxgate.validators.parity import ROWS_ALONE, rows_alone_disagree

                    head = {key: value[:ROWS_ALONE] for key, value in feeds.items()}
                    part["alone"] = rows_alone_disagree(session, head, [o[:ROWS_ALONE] for o in onnx_out],
                                                        signature, tolerances, rows_of=of)
                try:
                    # as local parity: the user's own values, not the file's float32 rounding of them (given
                    # those, a file flipping 50 of 3,000 labels passed here and failed locally; helper-133)
                    ref_feeds = feeds if user_values is None else batch_feeds(batch, user_values, plain_categories=True)
                    ref_out = run_reference(ref_feeds)
                except ParityError as err:  # the reference's outputs are not the ONNX model's: as locally
                    part["error"] = str(err)
                    break
                except OnnxGateError:
                    raise
                except Exception as err:
                    from onnxgate.validators.parity import first_row_failing, reference_failed

                    bad = first_row_failing(run_reference, feeds)
                    if bad is not None:  # the row and its inputs, as local parity names them (in the table: _in_table)
                        from onnxgate.validators.parity import row_inputs_shown

                        where += (f" (first at row {done + bad} of partition {part['partition']}: "
                                  f"{row_inputs_shown(feeds, signature, bad)})")
                    part["raise"] = ("InvalidDataError", reference_failed(where, err))  # as locally: exit 2
                    break
                if resolve_ties is not None:  # as local parity: a k-th neighbour's tie broken another way
                    ties = resolve_ties(ref_feeds, onnx_out, ref_out)  # of the rows it answered
                    part["tied"] += ties.decided
                    part["tied_untried"] += ties.untried
                before = sum(acc.mismatched_rows for acc in accs)
                accumulate_batch(accs, onnx_out, ref_out, missing=part["missing"], row_offset=done,
                                 inputs=by_column(feeds, signature))
                if user_values is not None and sum(acc.mismatched_rows for acc in accs) > before:
                    # as local parity: does the reference, given these rows as the file's input rounds them, answer
                    # what the file answers? Merged on the driver, it says whether rounding explains a failure
                    from onnxgate.validators.parity import rounded_rows_agree

                    part["rounded"] = rounded_rows_agree(part.get("rounded"), accs, onnx_out, feeds, run_reference,
                                                         exact_limit=0)
                if ("reference_alone" not in part and (n >= 2 or sized or traced) and (resolve_ties is None or sized)
                        and "probe_failed" not in part):
                    # as local parity: the batches may agree while single rows do not (a reference branching
                    # on a batch-wide value); the driver reads it only when the batches passed. A run of one row
                    # is scored alone already, and repeated it makes the large batch (a file halving its answers
                    # above 100 rows passed validate --spark on one row)
                    from onnxgate.validators.parity import ROWS_ALONE, large_batch_disagrees, reference_alone_disagrees

                    head = {key: value[:ROWS_ALONE] for key, value in feeds.items()}
                    found = None if resolve_ties is not None else reference_alone_disagrees(
                        session, head, signature, tolerances, run_reference, rows_of=of,
                        reference_feeds={key: value[:ROWS_ALONE] for key, value in ref_feeds.items()})
                    if found is None and sized and _first_large_batch(job):
                        # as local parity: a file whose graph reads its batch size (an If on it, edited by hand),
                        # whatever the reference, against its own answers to these rows (an If(rows > 100) passed
                        # validate --spark on 5 rows, helper-319)
                        found = large_batch_disagrees(session, feeds, signature, tolerances, run_reference,
                                                      rows_of=of, traced=False, not_run=part["unscored_batch"],
                                                      cause=sized)
                    elif found is None and traced and resolve_ties is None:
                        # as local parity for a PyTorch, TensorFlow or Keras reference: rows spread over the first
                        # run scored alone, and one large batch of them (a traced `if x.mean() > 0` or
                        # `if x.shape[0] > 64` keeps the sample's branch in the file; Spark passed both, helper-212);
                        # the large batch once per worker and job, not per partition: in each partition smaller than
                        # it, it cost 7-10 ms of CPU, several times the partition's own model runs (helper-237)
                        from onnxgate.validators.parity import traced_rows_disagree

                        every = feeds if _first_large_batch(job) else None
                        found = traced_rows_disagree(session, feeds, signature, tolerances, run_reference, every,
                                                     rows_of=of, not_run=part["unscored_batch"])
                    part["reference_alone"] = found
                if tokenized and text_variants and "text" not in part and n >= 1 and "probe_failed" not in part:
                    # as local parity: the first rows' text varied; the driver reads the first partition's
                    from onnxgate.validators.parity import ROWS_ALONE, non_ascii_text_disagrees

                    head = {key: value[:ROWS_ALONE] for key, value in feeds.items()}
                    part["text"] = non_ascii_text_disagrees(session, proto, head, signature,
                                                            tolerances, run_reference, rows_of=of)
                part["rows"] += n
                part["batches"] += 1
            if part.get("error") or part.get("raise"):
                # stopped early: its other rows are counted, not scored, so that the driver knows where every
                # partition starts and names a row by its place in the table, as local parity does; on this path only
                with contextlib.suppress(Exception):  # unreadable further: where later partitions start is not known
                    part["count"] = part["rows"] + n + sum(run.num_rows for run in runs)
            else:
                part["count"] = part["rows"]
            if (probe is not None and not part.get("error") and not part.get("raise") and "probe_failed" not in part
                    and _looks_failed(part)):
                # as local parity, before the batch (or the file) is blamed: does either model answer the same
                # rows the same twice? 2 reference and 2 onnxruntime calls on 4 rows, only in a partition that
                # mismatched; the driver reads it only when the merged check failed
                from onnxgate.validators.parity import unrepeated_answers

                part["unrepeated"] = unrepeated_answers(session, proto, probe, signature,
                                                        tolerances, run_reference,
                                                        rows_of=f" of partition {part['partition']}")
        except OnnxGateError as err:
            part["raise"] = (type(err).__name__, str(err))
        part["sha256"] = hasher.hexdigest()
        yield pa.RecordBatch.from_pydict(
            {"partition": [part["partition"]], "partial": [pickle.dumps(part)]},
            schema=pa.schema([("partition", pa.int32()), ("partial", pa.binary())]),
        )

    return run
