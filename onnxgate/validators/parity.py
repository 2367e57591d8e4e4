"""Prediction parity: run the ONNX model and the reference on the same rows and compare every output.

Outputs are compared on three levels, each reported: names and order (every ONNX output has a
reference counterpart), shapes, then values.

The element-wise rule is Polygraphy's: a value mismatches when ``abs > atol`` **and** ``rel > rtol``,
with ``abs = |onnx - reference|`` and ``rel = abs / |reference|`` (``rel`` is ``inf`` where the
reference is 0 and the values differ, 0 where both are 0). NaN against a number mismatches, NaN
against NaN matches, and the same infinity on both sides matches (the file answers as the model does:
a masked ``-inf`` logit); ``infinities_compare_equal=False`` makes it mismatch, as Polygraphy does.

Default tolerances depend on the output's element type (:data:`DEFAULT_TOLERANCES`); integer, bool
and string outputs, and outputs named like labels (:data:`LABEL_NAME_HINTS`), are compared exactly,
and their mismatch rate is reported as the label flip rate. Tolerances can be given per output:
``atol={"": 1e-5, "probabilities": 1e-4}``; a scalar or the ``""`` default applies to floating-point
outputs only, while naming an output applies to it whatever its type.

Statistics are accumulated batch by batch: max, mean and counts are exact; the median and 99th
percentile are exact up to :data:`EXACT_QUANTILE_LIMIT` values per output and estimated from a
log-scale histogram beyond (relative error below 2.4%; the report says which).

For the report's plots each compared output also keeps bounded evidence of the whole distribution:
``histogram`` (counts of ``abs`` and ``rel`` in fixed log-spaced bins, :data:`HISTOGRAM_BINS_PER_DECADE`
a decade, summed from the quantile histogram's finer bins so both agree), ``sample`` (the reference
and ONNX values of :data:`SAMPLE_ROWS` rows drawn uniformly by a fixed hash of the row number, so the
same data gives the same sample) and, for one-value-per-row exact outputs, ``confusion`` (reference
label x ONNX label counts, up to :data:`CONFUSION_LABEL_LIMIT` distinct labels).
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
import re
import sys
from collections.abc import Callable, Collection, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from onnxgate._onnx import runnable
from onnxgate.errors import InvalidDataError, OnnxGateError, ParityError, first_line
from onnxgate.runtime import run_rows
from onnxgate.validators.accumulator import (
    CONFUSION_LABEL_LIMIT,
    SAMPLE_ROWS,
    WORST_ROWS,
    OutputAccumulator,
    OutputComparison,
    _Accumulator,  # noqa: F401 - the former private name, kept
    compare_arrays,
)
from onnxgate.validators.quantiles import EXACT_QUANTILE_LIMIT, HISTOGRAM_BINS_PER_DECADE
from onnxgate.validators.report import CheckResult
from onnxgate.validators.rule import (
    ElementMismatches,
    RowComparison,
    compare_rows,
    describe_row_evidence,
    element_mismatches,
)
from onnxgate.validators.tolerances import (
    DEFAULT_TOLERANCES,
    EXACT_TYPES,
    LABEL_NAME_HINTS,
    Tolerance,
    atol_defaulted,
    model_tolerances,
    reference_reads_float32,
    resolve_tolerances,
)

if TYPE_CHECKING:
    import numpy as np

    from onnxgate.signature import Signature


__all__ = [
    "CONFUSION_LABEL_LIMIT",
    "DEFAULT_BATCH_SIZE",
    "DEFAULT_TOLERANCES",
    "EXACT_QUANTILE_LIMIT",
    "HISTOGRAM_BINS_PER_DECADE",
    "LABEL_NAME_HINTS",
    "MISSING_VALUE_READERS",
    "NO_SEARCH_ADVICE",
    "SAMPLE_ROWS",
    "SEARCH_ADVICE",
    "WORST_ROWS",
    "ElementMismatches",
    "MissingValueReads",
    "OutputAccumulator",
    "OutputComparison",
    "RowComparison",
    "accumulate_batch",
    "batch_cause",
    "by_column",
    "category_columns",
    "check_batch_size",
    "check_prediction_parity",
    "class_order_finding",
    "classes_seen",
    "codes_off_reference_result",
    "compare_arrays",
    "compare_rows",
    "describe_row_evidence",
    "element_mismatches",
    "first_row_failing",
    "hash_feeds",
    "known_values_items",
    "missing_value_inputs",
    "missing_value_reads",
    "no_search_item",
    "not_checked_item",
    "note_missing_values",
    "note_text_values",
    "parity_not_checked",
    "parity_result",
    "reads_batch_size",
    "reference_failed",
    "resolve_tolerances",
    "row_inputs_shown",
    "rows_mixed_item",
    "rows_with_nan",
    "scalar_inputs_finding",
    "traced_rows_disagree",
    "traces_forward",
    "unheld_values",
    "unrepeated_answers",
    "vocabulary_tokens",
    "with_class_order",
    "with_not_checked",
    "with_rows_holding_nan",
    "without_searched_values",
]

#: Classes never answered on the data that ``details["classes_seen"]`` lists (:func:`classes_seen`).
CLASSES_NOT_SEEN_SHOWN = 10
#: Rows run per batch: bounds memory whatever the number of rows. The reference's and onnxruntime's
#: per-batch temporaries dominate the peak (an MLP's float64 hidden layers: rows x width x 8 bytes);
#: 16,384 rows kept a 1,000,000-row MLP check at about 1.2x the data (65,536: 3x) at no measured cost
#: in time (bench/bench_parity.py).
DEFAULT_BATCH_SIZE = 16_384
#: Rows of the first batch that parity also scores one at a time. A model whose answer for a row depends
#: on the other rows of its batch (a BatchNorm computing batch statistics, ``x - x.mean(0)``) matches its
#: reference on the very same batches, and answers otherwise where rows are batched otherwise: a service
#: gets requests of any size, PREDICT batches a table as it likes.
ROWS_ALONE = 4
#: Rows of the first batch, spread over it, that a traced reference (PyTorch, TensorFlow, Keras) and the file
#: also score one at a time. A ``forward`` branching on a batch-wide value (``if x.mean() > 0``) keeps the
#: sample's branch in the file: when 27 of 300 rows alone took the other branch, the first rows alone all
#: agreed and validate passed (helper-136). A small model scores 64 rows alone in milliseconds.
TRACED_ROWS_ALONE = 64
#: The least (atol, rtol) a row scored alone may differ by from the same row in a batch: onnxruntime's
#: kernels may sum in another order at another batch size (rounding, not a dependence on other rows).
ROWS_ALONE_FLOOR = (1e-5, 1e-4)
#: Rows of the one large batch parity also compares when the data has fewer (the data's rows repeated): the
#: container service's default ``max_rows``. A traced ``if x.shape[0] > 64`` keeps the sample's branch in the
#: file, and 50 rows of data passed while every row of a 200-row request was off by 1 (found by helper-86).
LARGE_BATCH_ROWS = 10_000
#: At most this many input values in that batch (fewer rows for wide inputs: images).
LARGE_BATCH_VALUES = 2**21
#: Operators that read a missing value (NaN) their own way: an imputer fills it, IsNaN tests it, a tree ensemble
#: sends it down a branch of its own (skl2onnx writes one for every scikit-learn tree; XGBoost, LightGBM and
#: HistGradientBoosting learnt where it goes). Data without a missing value says nothing of that branch.
MISSING_VALUE_READERS = frozenset({"Imputer", "IsNaN", "TreeEnsembleClassifier", "TreeEnsembleRegressor",
                                   "TreeEnsemble"})
#: Values a ``not_checked`` note names per column, at most (categories no row of the data holds).
NOT_CHECKED_VALUES_SHOWN = 5
#: How a ``not_checked`` note of the categories no row holds says to run the search that tries them
#: (:func:`parity_not_checked`); Spark's parity, which runs none, names the search on one machine (onnxgate.spark).
SEARCH_ADVICE = "search=N, CLI --search N"
#: How the ``not_checked`` note of a run without a search says to run one (:func:`no_search_item`).
NO_SEARCH_ADVICE = "add search=N (CLI --search N) to try generated rows too"
#: Operators through which a graph can read its batch size or branch on it (:func:`reads_batch_size`).
BATCH_SIZE_READERS = frozenset({"Shape", "Size", "If", "Loop", "Scan"})
#: The frameworks whose exporters trace a forward pass, and so can fix a branch on the batch size.
TRACED_FRAMEWORKS = frozenset({"pytorch", "tensorflow", "keras"})
#: Operators that draw random numbers: a file holding one answers otherwise at each run.
RANDOM_OPS = frozenset({"RandomNormal", "RandomNormalLike", "RandomUniform", "RandomUniformLike", "Multinomial",
                        "Bernoulli"})


# -- the parity check ------------------------------------------------------------------------------


class _Progress:
    """``rows done / total`` on stderr, only when stderr is a terminal (never in CI logs)."""

    def __init__(self, total: int, enabled: bool | Callable[[int, int], None] | None) -> None:
        self.total = total
        self.callback = enabled if callable(enabled) else None
        if enabled is None:
            enabled = sys.stderr.isatty()
        self.bar = bool(enabled) and self.callback is None

    def __call__(self, done: int) -> None:
        if self.callback is not None:
            self.callback(done, self.total)
        elif self.bar:
            pct = 100 * done / self.total if self.total else 100
            filled = int(pct // 5)
            sys.stderr.write(f"\rparity [{'#' * filled}{'.' * (20 - filled)}] {done:,}/{self.total:,} rows {pct:5.1f}%")
            sys.stderr.flush()

    def close(self) -> None:
        if self.bar:
            sys.stderr.write("\n")
            sys.stderr.flush()


def _kind_changed(acc: OutputAccumulator, model: Any, typed_reference: bool = False) -> str:
    """Why an output's values are another kind than the reference's ('' when they are not).

    Compared with ``==``, a label 0/1 equals False/True and 1 equals 1.0, so a model answering codes
    where the original answers booleans (or floats) passed, and its package served them. The kinds must
    agree for a bool on either side and for a label; a SQL-adapted model may give int for bool (a
    ``PREDICT`` column has no bool type). A ``typed_reference`` (PyTorch, TensorFlow, Keras: each output's
    dtype is its graph's) must agree on every output, compared exactly or within a tolerance: a file answering
    a ``topk``'s int64 indices or an argmax as floats (a float output, compared within the float tolerance)
    passed, where a client reads 2.0 for 2 (found by helper-381)."""
    if acc.kinds is None:
        return ""
    ref, ours = acc.kinds
    if ref == ours or "text" in (ref, ours):  # text against numbers already differs value by value
        return ""
    adapted = False
    if model is not None:
        from onnxgate.validators.reference import _adapt_metadata

        adapted = _adapt_metadata(model) is not None
    typed = typed_reference and not adapted  # an adapted model's outputs are the SQL contract's types
    if acc.mode != "exact" and not typed:
        return ""
    label = any(hint in acc.name.lower() for hint in LABEL_NAME_HINTS)
    if "bool" not in (ref, ours) and not label and not typed:
        return ""
    if ref == "bool" and ours == "int" and adapted:
        return ""
    return (f"its values are {ours} where the reference gives {ref} (equal as numbers, but a client reads "
            f"{'1 for True' if ref == 'bool' else 'another type'}): the converter changed the output's type")


def reference_failed(where: str, err: BaseException) -> str:
    """The one-line message for a reference model that raised on the data's ``where`` (exit 2 on the CLI)."""
    first = str(err).strip().splitlines()[0] if str(err).strip() else ""
    return (f"the reference model failed on {where} of the data: {type(err).__name__}: "
            f"{first[:300].rstrip('.')}; nothing was compared. Pass data the reference model itself predicts "
            "(drop or fill the rows it refuses, or use a reference that takes them)")


def hash_feeds(hasher: Any, feeds: Mapping[str, np.ndarray]) -> None:
    """Feed one batch's inputs (names, types, widths and values) to ``hasher`` (``data_sha256``)."""
    import numpy as np

    for key in sorted(feeds):
        value = np.asarray(feeds[key])
        hasher.update(f"{key}:{value.dtype.str}:{value.shape[1:]}".encode())
        if value.dtype.kind == "O":
            hasher.update("\x1f".join(map(str, value.reshape(-1))).encode("utf-8", "replace"))
        else:
            # the array's own buffer: the same bytes as tobytes() without copying them
            hasher.update(np.ascontiguousarray(value).reshape(-1).view(np.uint8))


def check_batch_size(batch_size: Any) -> None:
    """Refuse a number of rows per batch that is not a whole number >= 1.

    Raises
    ------
    InvalidDataError
        ``batch_size`` is below 1, or not an integer.
    """
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise InvalidDataError(f"batch_size must be a positive integer, found {batch_size!r}; give a number of rows "
                               "of 1 or more, or leave it out for the default")


def check_prediction_parity(
    model: Any,
    reference: Any,
    data: Any,
    *,
    atol: Tolerance = None,
    rtol: Tolerance = None,
    batch_size: int | None = None,
    progress: bool | Callable[[int, int], None] | None = None,
    infinities_compare_equal: bool = True,
    target_holds_nan: bool = True,
    text_variants: bool = True,
) -> CheckResult:
    """Run the ONNX model and ``reference`` on the same rows, in batches, and compare every output.

    Parameters
    ----------
    model : onnx.ModelProto, path, bytes or Conversion
        The ONNX model.
    reference : object
        The native model (any registered framework), an ONNX model, or a callable (see
        :func:`onnxgate.validators.reference.reference_outputs`).
    data : array, DataFrame, dict of arrays, or path (.csv, .parquet, .npy)
        The rows to compare on.
    atol, rtol : float or mapping, optional
        Tolerances; defaults by element type (:data:`DEFAULT_TOLERANCES`), exact for labels.
    batch_size : int, optional
        Rows per batch (default :data:`DEFAULT_BATCH_SIZE`, fewer for a graph recorded as computing wide rows:
        :func:`onnxgate._onnx.rows_per_batch`); memory stays bounded by it.
    progress : bool or callable, optional
        A progress bar on stderr (default: only when stderr is a terminal), or ``f(done, total)``.
    infinities_compare_equal : bool
        Treat equal infinities as matching (the default; False: Polygraphy's rule, where they mismatch).
    target_holds_nan : bool
        False for a target whose tables cannot hold NaN or infinity (SQL ``float`` columns): rows
        holding them are counted (``details["rows_with_nan"]``) and the message says that the target
        never scores them.
    text_variants : bool
        For a model whose text a tokenizer reads (a text vectorizer), also score the data's first rows with their
        text varied (:data:`TEXT_VARIANTS`: an 'é' after each word, no-break spaces, Greek capitals, the Turkish
        'İ'), which fails a file that reads text outside ASCII otherwise (the default); False for a model that
        only ever scores text like the data's (ASCII text by contract): ``details["non_ascii_text"]`` then says
        it was not tried.

    Returns
    -------
    CheckResult
        Named ``"prediction_parity"``; ``details["outputs"]`` has the evidence per output.

    Raises
    ------
    InvalidDataError
        The data does not fit the model's inputs, or a tolerance names an unknown output.
    InvalidModelError
        The model cannot be read.

    Examples
    --------
    >>> r = check_prediction_parity(conv.model, clf, X)  # doctest: +SKIP
    >>> print(r)  # doctest: +SKIP
    PASSED prediction_parity  2 outputs match on 150 rows (labels exact; max_abs 2.4e-07)
    """
    from onnxgate import runtime
    from onnxgate._data import as_feeds, float32_rows, iter_batches, num_rows, read_rows
    from onnxgate._onnx import load_model, rows_per_batch
    from onnxgate.signature import Signature
    from onnxgate.validators.reference import (
        float32_rounding_shows,
        inputs_the_file_lacks,
        prepare_reference,
        reference_classes,
    )
    from onnxgate.validators.ties import TieCount, prepare_tie_resolver

    name = "prediction_parity"
    if not isinstance(text_variants, bool):
        raise InvalidDataError(f"text_variants: expected True or False, found {text_variants!r}")
    proto = load_model(model)
    signature = Signature.from_model(proto)
    scalars = scalar_inputs_finding(signature)
    if scalars is not None:
        return CheckResult(name, False, f"parity was not run: {scalars}", {"error": scalars})
    data = read_rows(data)
    lacking = inputs_the_file_lacks(reference, signature, data)
    if lacking is not None:  # the file's fault, not the data's: no "drop them"
        return CheckResult(name, False, f"parity was not run: {lacking}", {"error": lacking})
    refuse_reordered_columns(reference, signature, data)
    off_reference = codes_off_reference_result(reference, proto)
    if off_reference is not None:
        return off_reference
    rows_float32 = float32_rows(data)
    tolerances = model_tolerances(proto, signature.outputs, atol, rtol, reference_float32=reference_reads_float32(
        reference, signature.inputs, rows_float32,
        lambda: float32_rounding_shows(reference, proto, signature, data)))
    if batch_size is None:
        batch_size = rows_per_batch(proto, DEFAULT_BATCH_SIZE)
    check_batch_size(batch_size)
    total = num_rows(data)
    if total == 0:
        raise InvalidDataError("the parity data has no rows; pass at least one row")

    try:
        session = runtime.session(runnable(proto), spinning=False)
    except Exception as err:
        return CheckResult(name, False, f"onnxruntime cannot load the model, so parity was not run: {err}", {})
    run_reference = prepare_reference(reference, proto, signature, float32_rows=rows_float32)
    user_values = users_values_signature(reference, signature, rows_float32)
    resolve_ties = prepare_tie_resolver(reference, proto, signature, tolerances)
    tied = TieCount()
    accs = [
        OutputAccumulator(o.name, *tolerances[o.name], infinities_compare_equal=infinities_compare_equal,
                          scale_guard=atol_defaulted(o.name, atol), row_axis=signature.row_axis(o.name))
        for o in signature.outputs
    ]
    missing: set[str] = set()
    hasher = hashlib.sha256()
    bar = _Progress(total, progress)
    done = 0
    batches = 0
    with_nan = 0
    # the first rows as a batch of their own, whatever batch_size is (batches of 1 row hide it)
    alone: str | None = None
    probe_failed: Exception | None = None
    # the first batch's rows, for the traced rows-alone check (kept only for a traced reference: a batch's memory)
    traced = traces_forward(reference)
    # a file that reads its batch size (edited by hand: an If on it) or mixes its rows (a count of them summed over
    # axis 0, with no Shape: helper-345) answers otherwise in larger batches whatever the reference, and the data's
    # own batches cannot show it: it is scored in one large batch too
    from onnxgate.validators.rows_mixed import scan_rows

    rows_scan = scan_rows(proto)
    sized = not traced and (reads_batch_size(proto) or bool(rows_scan.mixed or rows_scan.untraced))
    first_feeds: Mapping[str, Any] | None = None
    # the rows that differ, for a graph whose trees read computed values: are they tree flips? (helper-386) The rows
    # are kept for any graph with trees; which trees read computed values (every threshold read: 50 ms for a 500-tree
    # forest) is asked only of a failed parity, which alone is explained
    from onnxgate.validators.tree_flips import FLIP_ROWS, computed_tree_inputs, has_trees, tree_flip_finding

    trees = has_trees(proto)
    flip_rows: list[int] = []
    flip_feeds: list[Mapping[str, Any]] = []
    flip_answers: list[list[Any]] = []  # the reference's answers to those rows, as parity compared them
    # the file against the reference given the rows as the file's narrower input reads them, on the batches
    # that differ from the reference given the user's own rows (None: none differed, or not asked)
    rounded: list[OutputAccumulator] | None = None
    try:
        probe = as_feeds(next(iter_batches(data, ROWS_ALONE)), signature)
    except Exception:
        probe = None  # rows that do not fit: the loop below says which, over the whole batch
    if probe is not None:
        try:
            probe_out = run_rows(session, None, probe)
        except Exception as err:
            # a batch of the first rows fails: if the data's own batches run, the model fixes its batch
            # size to theirs although its input says otherwise (a time-major LSTM exported at opset 18
            # reshapes to [7, 4, 8]: data of 7 rows passed, a service scoring 20 rows fails)
            probe_failed = err
        else:
            alone = rows_alone_disagree(session, probe, probe_out, signature, tolerances)
    # what the data leaves unchecked (details["not_checked"] of a passing result): the columns a missing value
    # reaches the file in and is read its own way, which of them a row holds one in; the text values of each category
    # column the models know, against those the rows hold
    reads = missing_value_reads(proto, signature, target_holds_nan)
    found: dict[str, set[int]] = {}
    looking = bool(reads)
    categories = category_columns(reference, proto, probe, words=True)
    held: dict[tuple[str, int], set[Any]] = {(k.input, k.column): set() for k in categories}
    # a vectorizer's column: only the words (n-grams) of its vocabulary are noted (a text column holds many more)
    vocabulary, grams = vocabulary_tokens(categories)
    try:
        for chunk in iter_batches(data, batch_size):
            feeds = as_feeds(chunk, signature)
            if first_feeds is None and (traced or sized):
                first_feeds = feeds
            hash_feeds(hasher, feeds)
            if looking:
                looking = note_missing_values(found, feeds, signature, reads)
            if held:
                note_text_values(held, feeds, words=vocabulary, grams=grams)
            try:
                onnx_out = run_rows(session, None, feeds)
            except Exception as err:
                message, details = onnxruntime_failure(
                    session, feeds, signature, err, done, run_reference,
                    feeds if user_values is None else as_feeds(chunk, user_values))
                return CheckResult(name, False, message, details)
            if not target_holds_nan:
                with_nan += rows_with_nan(feeds)
            try:
                # the reference answers the rows as the user has them, not as the file's float32 input rounds
                # them: both sides given the rounded rows passed a file that flips labels on the user's own
                ref_feeds = feeds if user_values is None else as_feeds(chunk, user_values)
                ref_out = run_reference(ref_feeds)
            except ParityError as err:  # the reference's outputs are not the ONNX model's
                return CheckResult(name, False, str(err), {"rows_done": done})
            except OnnxGateError:
                raise
            except Exception as err:
                # the data is not what the reference takes (NaN for a LogisticRegression): nothing was
                # compared, so nothing is said of the ONNX model; the caller's input, as bad data is (exit 2)
                where = f"rows {done}..{done + num_rows(chunk) - 1}"
                bad = first_row_failing(run_reference, feeds)
                if bad is not None:
                    where += f" (first at row {done + bad}: {row_inputs_shown(feeds, signature, bad)})"
                raise InvalidDataError(reference_failed(where, err)) from err
            if resolve_ties is not None:
                # a tie is asked of the rows the reference answered: the user's float64 values, not the file's
                # float32 rounding of them. Asked of the rounded rows, 1-NN queries 0.002 past the midpoint of
                # two training values 1 apart (rounded onto it) were "ties", and 34 of 300 labels that differ
                # from the model's on the user's rows passed (helper-144)
                tied += resolve_ties(ref_feeds, onnx_out, ref_out)
            before = sum(acc.mismatched_rows for acc in accs)
            accumulate_batch(accs, onnx_out, ref_out, missing=missing, row_offset=done,
                             inputs=by_column(feeds, signature))
            if user_values is not None and sum(acc.mismatched_rows for acc in accs) > before:
                rounded = rounded_rows_agree(rounded, accs, onnx_out, feeds, run_reference)
            if trees and len(flip_rows) < FLIP_ROWS and sum(acc.mismatched_rows for acc in accs) > before:
                new = sorted({i for acc in accs for i in acc.indices if i >= done} - set(flip_rows))
                new = new[: FLIP_ROWS - len(flip_rows)]
                if new:
                    flip_rows.extend(new)
                    flip_feeds.append(rows_of(feeds, [i - done for i in new]))
                    flip_answers.append(answers_of(ref_out, signature, [i - done for i in new]))
            done += num_rows(feeds)
            batches += 1
            bar(done)
    finally:
        bar.close()

    result = parity_result(
        accs,
        signature.output_names,
        missing=missing,
        rows=done,
        details={"batches": batches, "batch_size": batch_size, "data_sha256": hasher.hexdigest()},
        infinities_compare_equal=infinities_compare_equal,
        model=proto,
        rows_float32=rows_float32,
        classes=reference_classes(reference),
        typed_reference=traces_forward(reference),
    )
    if not result.passed and rounded is not None and user_values is not None:
        result = with_rounding_measured(result, rounded, narrowed_type(signature, user_values))
    computed = computed_tree_inputs(proto) if not result.passed and flip_rows else []
    if computed:
        # the rows that differ beyond those kept (each output keeps the first MISMATCH_INDEX_LIMIT; FLIP_ROWS scored
        # again): said, so that flips among the first do not stand for the rest
        kept = {i for acc in accs for i in acc.indices}
        differ = max(len(kept) + any(acc.mismatched_rows > len(acc.indices) for acc in accs),
                     *(acc.mismatched_rows for acc in accs))
        result = with_tree_flips(result, tree_flip_finding(
            proto, computed, joined_rows(flip_feeds), flip_rows,
            reference_agrees(joined_answers(flip_answers), signature, tolerances), worst_of=differ,
            first=True))
    reordered = class_order_finding(proto, reference_classes(reference))
    if reordered is not None:  # whatever rows the data holds: a table reordered passed on rows of one class
        return with_class_order(result, reordered)
    if rows_scan.mixed:  # the evidence, whatever the verdict: which node reads across the rows, and how
        result = dataclasses.replace(result, details={**result.details, "rows_mixed": list(rows_scan.mixed)})
    result = with_tied_rows(result, tied.decided, done, tied.untried)
    result = with_rows_holding_nan(result, with_nan, done)
    if probe_failed is not None and probe is not None and num_rows(probe) != done:
        alone = fixed_batch_finding(num_rows(probe), probe_failed, session)
    unscored_batch: list[str] = []  # why the large batch was not compared, when it was not
    if alone is None and result.passed and probe is not None and probe_failed is None and resolve_ties is None:
        # the batches agree: do single rows too? (a nearest-neighbour tie, broken another way row by row, is
        # the tie resolver's to judge in the batches, not here)
        alone = reference_alone_disagrees(session, probe, signature, tolerances, run_reference,
                                          reference_feeds=None if user_values is None else as_feeds(
                                              next(iter_batches(data, ROWS_ALONE)), user_values))
        if alone is None and first_feeds is not None and traced:
            # fewer rows than a batch: the one batch compared holds them all, already as feeds; batches smaller than
            # the large one (batch_size=, a wide model's): its first rows
            every = (feeds if batches == 1 else as_feeds(next(iter_batches(data, LARGE_BATCH_ROWS)), signature)
                     ) if min(done, batch_size) < LARGE_BATCH_ROWS else None
            alone = traced_rows_disagree(session, first_feeds, signature, tolerances, run_reference, every,
                                         not_run=unscored_batch, batch_rows=batch_size)
    if (alone is None and result.passed and probe is not None and probe_failed is None and sized
            and min(done, batch_size) < LARGE_BATCH_ROWS):
        # the file against its own answers to the data's rows in the batches compared, which matched the reference:
        # so a nearest-neighbour tie the tie resolver accepted there is not judged again (a KNN file with an If on
        # the batch size passed)
        every = feeds if batches == 1 else as_feeds(next(iter_batches(data, LARGE_BATCH_ROWS)), signature)
        alone = large_batch_disagrees(session, every, signature, tolerances, run_reference, traced=False,
                                      not_run=unscored_batch, cause=batch_cause(proto, rows_scan),
                                      batch_rows=batch_size)
    unchecked = parity_not_checked(reads, found, categories, held, result.details.get("classes_seen"),
                                   unscored_batch, probe)
    if rows_scan.mixed:
        # the batches tried agree, yet a node reads across the rows: a batch's largest value compared with a
        # threshold the data's rows all lie below passes (helper-345). Named, not failed: a sort of the rows undone
        # after (pack_padded_sequence), a batch mean beside the per-row outputs (return y, y.mean()) and Keras'
        # bincount sizing its output by the batch's largest value answer each row from its own values
        unchecked.append(rows_mixed_item(rows_scan.mixed))
    if probe is not None and probe_failed is None and (alone is not None or not result.passed):
        # before blaming the batch (or the file): does either model answer the same rows the same twice? A
        # reference drawing noise (torch.randn_like, F.dropout(training=True), tf.random) failed as "depends on
        # the other rows of its batch". Asked of the 4 probe rows, and only of a check that failed
        alone = unrepeated_answers(session, proto, probe, signature, tolerances, run_reference) or alone
    if alone is None and result.passed and probe is not None and probe_failed is None:
        # the data's rows agree; do the values only one of the two models knows (a category or a word the data
        # lacks, renamed in the file)?
        known, disputed = known_values_disagree(session, proto, reference, probe, signature, tolerances,
                                                run_reference)
        if known is not None:
            return CheckResult(name, False, known, {**result.details, "known_values_disputed": disputed})
        if disputed:
            result = dataclasses.replace(result, details={**result.details, "known_values_disputed": disputed})
    if alone is None and result.passed and probe is not None and probe_failed is None and not text_variants:
        if tokenized_inputs(proto):
            unchecked.append(not_checked_item("non_ascii_text", "text outside ASCII",
                                              f"not tried: {TEXT_VARIANTS_OFF}"))
            return with_not_checked(dataclasses.replace(result, details={
                **result.details, "non_ascii_text": "not tried (text_variants=False)"}), unchecked)
    elif alone is None and result.passed and probe is not None and probe_failed is None:
        # the data's rows agree; does text the model will score in French, German or Greek? re2, the file's
        # tokenizer, read \w as ASCII and a TfidfVectorizer pipeline validated on English text answered 0.137 for
        # 'slowé slowé slowé', scikit-learn 0.145 (helper-245)
        text, tried = non_ascii_text_disagrees(session, proto, probe, signature, tolerances, run_reference)
        if text is not None:
            return CheckResult(name, False, text, {**result.details, "non_ascii_text": text})
        if tried:
            return with_not_checked(dataclasses.replace(result, details={**result.details, "non_ascii_text": tried}),
                                    unchecked)
    if alone is None:
        return with_not_checked(result, unchecked)
    message = alone if result.passed else f"{result.message}; {alone}"
    return CheckResult(name, False, message, {**result.details, "rows_alone": alone})


def codes_off_reference_result(reference: Any, model: Any) -> CheckResult | None:
    """The failed parity of a file whose record of the categories of its inputs of category codes is not the
    reference's own (:func:`onnxgate.validators.known_values.category_codes_off_reference`), before a row is
    compared: a table's codes are written by that record, and parity would read them back by it; else None. Local and
    Spark parity both ask it."""
    from onnxgate.validators.known_values import category_codes_off_reference

    off_reference = category_codes_off_reference(reference, model)
    if off_reference is None:
        return None
    return CheckResult("prediction_parity", False, f"parity was not run: {off_reference[0]}",
                       {"error": off_reference[0], "category_codes_off_reference": off_reference[1]})


def rounded_rows_agree(rounded: list[OutputAccumulator] | None, accs: list[OutputAccumulator],
                       onnx_out: list[Any], feeds: Mapping[str, Any],
                       run_reference: Callable[[Mapping[str, Any]], list[Any]],
                       exact_limit: int | None = None) -> list[OutputAccumulator] | None:
    """``rounded`` (made on the first call) with a batch added that differs from the reference on the user's
    wider rows: the file's answers against the reference's on the same rows as the file's float32 input reads
    them (``feeds``). Where every such row agrees, the differences are the rounding of the rows at the input,
    not the conversion: measured, not guessed from how the differences look (a float32 QuantileTransformer
    was 0.51 off on 131 of 133 diabetes rows and exact on them rounded; a HistGradientBoosting regressor 15.7
    off on 7 rows and exact on them rounded; neither failure said why, helper-254). An empty list: the
    reference refused the rounded rows, so nothing is measured. ``exact_limit=0``: the accumulators a Spark
    partition sends (:meth:`OutputAccumulator.merge` adds them up on the driver)."""
    if rounded == []:
        return rounded
    try:
        ref_rounded = run_reference(feeds)
    except Exception:
        return []
    if rounded is None:
        rounded = [OutputAccumulator(a.name, a.atol, a.rtol, a.mode, infinities_compare_equal=a.inf_equal,
                                     scale_guard=a.scale_guard, row_axis=a.row_axis, exact_limit=exact_limit)
                   for a in accs]
    accumulate_batch(rounded, onnx_out, ref_rounded, missing=set(), row_offset=0, inputs=None)
    return rounded


def rows_of(feeds: Mapping[str, Any], rows: Sequence[int]) -> dict[str, Any]:
    """The given rows of a batch's feeds (the first axis of each)."""
    import numpy as np

    index = np.asarray(rows, dtype=np.intp)
    return {name: np.asarray(value)[index] for name, value in feeds.items()}


def joined_rows(parts: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Feeds of several batches' rows joined along the first axis."""
    import numpy as np

    return {name: np.concatenate([np.asarray(p[name]) for p in parts]) for name in parts[0]} if parts else {}


def answers_of(outputs: Sequence[Any], signature: Signature, rows: Sequence[int]) -> list[Any]:
    """The given rows of a batch's outputs (per output, None where its answers are not laid out one row per row)."""
    import numpy as np

    index = np.asarray(rows, dtype=np.intp)
    kept: list[Any] = []
    for spec, out in zip(signature.outputs, outputs):
        value = None if out is None or isinstance(out, list) else np.asarray(out)
        if value is None or not value.shape or signature.row_axis(spec.name) != 0 or value.shape[0] <= index.max():
            kept.append(None)
        else:
            kept.append(value[index])
    return kept


def joined_answers(parts: Sequence[Sequence[Any]]) -> list[Any]:
    """Several batches' :func:`answers_of` joined along the first axis (None where a batch has none)."""
    import numpy as np

    if not parts:
        return []
    return [None if any(p[j] is None for p in parts) else np.concatenate([p[j] for p in parts])
            for j in range(len(parts[0]))]


def reference_agrees(answers: Sequence[Any], signature: Signature, tolerances: Mapping[str, tuple[float, float, str]],
                     ) -> Callable[[Sequence[Any], Sequence[int]], Any]:
    """``agree(outputs, positions)``: per row of ``outputs`` (the file's, in output order), whether parity's rule finds
    it equal to ``answers`` (:func:`joined_answers`: the reference's answers parity compared, row by row) at that
    position on every output compared (None: not compared; no output compared: no row agrees). The answers parity
    compared, not the reference run again on the rows that differ alone: a PCA's BLAS rounds a row by the batch it is
    in, and run again on 75 rows (OpenBLAS's SSE3 kernels, OPENBLAS_CORETYPE=Prescott) the reference put a row of
    diabetes one step across a split from where it had it in the 442-row batch, and called a tree flip not one."""
    import numpy as np

    def agree(outputs: Sequence[Any], positions: Sequence[int]) -> Any:
        index = np.asarray(positions, dtype=np.intp)
        ok = np.ones(len(index), dtype=bool)
        compared = False
        for spec, mine, ref in zip(signature.outputs, outputs, answers):
            if ref is None or isinstance(mine, list) or isinstance(ref, list):
                continue
            expected, ours = np.asarray(ref), np.asarray(mine)
            if not expected.shape or signature.row_axis(spec.name) != 0:
                continue
            expected = expected[index]
            if expected.size != ours.size or ours.shape[0] != len(index):
                continue
            atol, rtol, mode = tolerances[spec.name]
            differs = _differences(expected.reshape(len(index), -1), ours.reshape(len(index), -1), mode == "exact",
                                   atol, rtol)
            ok &= ~np.asarray(differs).reshape(len(index), -1).any(axis=1)
            compared = True
        return ok if compared else np.zeros(len(index), dtype=bool)

    return agree


def with_tree_flips(result: CheckResult, finding: tuple[str, dict[str, Any]] | None) -> CheckResult:
    """``result`` (a failed parity) saying which of its rows are tree flips
    (:func:`onnxgate.validators.tree_flips.tree_flip_finding`), in its message and ``details["tree_flips"]``; where
    every row scored again is one, without the unmeasured precision hint it replaces (kept where those are only the
    worst of the rows that differ, ``evidence["of_rows"]``: the others were not looked at)."""
    if finding is None:
        return result
    sentence, evidence = finding
    message, details = result.message, dict(result.details)
    earlier = details.get("precision_hint")
    if (earlier and "the conversion itself may be wrong" in earlier and evidence["flips"] == evidence["rows"]
            and "of_rows" not in evidence and message.endswith(f". {earlier}")):
        # every row that differs is a flip: "the conversion itself may be wrong" (rows broader than rounding) is not;
        # another hint stays (a double file fed float32 rows: 'convert with a float32 sample' is the fix)
        message = message[: -len(f". {earlier}")]
        del details["precision_hint"]
    return CheckResult(result.name, False, f"{message.rstrip('.')}. {sentence}",
                       {**details, "tree_flips": {**evidence, "sentence": sentence}})


def narrowed_type(signature: Signature, user_values: Signature) -> str:
    """The file's input type that rounds the user's values (``user_values``: :func:`users_values_signature`)."""
    return next(s.elem_type for s, wide in zip(signature.inputs, user_values.inputs) if s.elem_type != wide.elem_type)


def with_rounding_measured(result: CheckResult, rounded: list[OutputAccumulator], narrow: str) -> CheckResult:
    """``result`` (a failed parity) saying the rounding of the rows to the file's ``narrow`` input type explains
    it, where ``rounded`` shows the file agreeing with the reference on the rounded rows; as it was otherwise.
    It replaces the unmeasured hint of :func:`_float32_rows_hint`, and is said where that one was withheld (a
    graph of tree ensembles, differences broader than rounding usually makes)."""
    measured = [acc for acc in rounded if acc.rows]
    if not measured or not all(acc.result().passed for acc in measured):
        return result
    message = result.message
    earlier = result.details.get("precision_hint")
    if earlier and message.endswith(f". {earlier}"):
        message = message[: -len(f". {earlier}")]
    hint = (f"The file's input is {narrow} and these rows are wider: they are rounded to {narrow} before anything "
            "is computed, while the reference computed on them as given. Given the rows so rounded, the reference "
            "answers what the file answers on every row of the batches that differ: the differences are the "
            "rounding of the rows, not the conversion. If the deployment's rows are wider, convert with a sample "
            "of their type (a float64 sample keeps a scikit-learn model's input and graph double); if they are "
            f"{narrow}, validate with {narrow} rows")
    return CheckResult(result.name, False, f"{message}. {hint}", {**result.details, "precision_hint": hint})


def scalar_inputs_finding(signature: Signature) -> str | None:
    """Why rows cannot be compared on a model with scalar inputs (shape ``[]``), or None when it has none.

    Parity and the search feed batches of rows and compare the answers row by row; a scalar input has no
    batch axis to feed them on (a file written elsewhere, or a ``tf.TensorSpec([])``: the model takes one
    value). Feeding its one value alone would compare one call, not rows, so nothing is run; the container
    target's ``batch_axis_dynamic`` fails such an input as well.
    """
    scalars = [s.name for s in signature.inputs if s.kind == "tensor" and s.rank == 0]
    if not scalars:
        return None
    listed = ", ".join(repr(n) for n in scalars)
    return (f"input(s) {listed} are scalars (shape []), so the model takes one value, not rows: parity compares "
            "the model's answers row by row and needs a batch axis on every input. Re-export the model with a "
            "first axis of free size on every input (shape [N]: one value per row; tf.TensorSpec([None]), torch "
            "dynamic_shapes, or onnx.helper.make_tensor_value_info(name, type, ['N']))")


def refuse_reordered_columns(reference: Any, signature: Any, data: Any) -> None:
    """Refuse a frame holding the columns a native ``reference`` was fitted on in another order, when the
    model takes them as one ``[N,k]`` input (converted from an array sample): the frame's columns feed that
    input in the order they come, and the reference was given the same array, so both answered the
    shuffled rows alike and parity passed. Reversed iris columns changed 98 of 150 labels against the
    model fed by name, and validate and package passed them (a container's example request held them so);
    convert refuses such a sample with the same message.

    Raises
    ------
    InvalidDataError
        The frame's columns are the fitted ones, not in training order.
    """
    from onnxgate._data import is_dataframe, misplaced_column, shown_names
    from onnxgate.validators.reference import fitted_columns, is_native_reference

    inputs = signature.inputs
    if not is_dataframe(data) or len(inputs) != 1 or not is_native_reference(reference):
        return
    columns = [str(c) for c in data.columns]
    if inputs[0].name in columns or len(columns) < 2:
        return  # fed by name (a one-column frame under the input's name)
    fitted = fitted_columns(reference)
    misplaced = misplaced_column(columns, fitted)
    if fitted is None or misplaced is None:
        return
    where = f"column {misplaced[1]!r} at position {misplaced[0]}, where the reference reads {fitted[misplaced[0]]!r}"
    what = f"the same columns in another order ({where})" if sorted(fitted) == sorted(columns) else where
    raise InvalidDataError(
        f"the reference was fitted on columns {shown_names(fitted)}; the data has {shown_names(columns)}: {what}, "
        "which the model's one "
        f"input {inputs[0].name!r} would take in the order they come (the model reads them by position). Pass "
        "them in training order (data[model.feature_names_in_])",
        column=misplaced[1],
    )


def users_values_signature(reference: Any, signature: Any, rows_float32: bool = False) -> Any:
    """``signature`` with its float32 and float16 inputs made float64, for feeding a native reference the
    user's own values (float64 rows, integers past 2**24) where the file's input rounds them; None where no
    input is narrower than float64, or the reference is an ONNX model (its feeds keep the file's types). A
    SQL-adapted model's columns are widened too: :func:`onnxgate.adaptation.original_feeds` keeps them wide.

    A float64 model converted with a float32 sample reads float32: validate gave the reference the rows
    rounded to float32 too, and passed a file whose labels differed from the model's on the user's float64
    rows (61 of 3,000 GPS rows for a HistGradientBoosting model; 101 of 569 epoch-second rows for LightGBM,
    which failed when converted with an int64 sample; helper-129). The same file adapted for SQL passed
    validate, package and the SQL dry run, each giving the reference the rounded rows (50 of 3,000; helper-133).

    ``rows_float32``: the user's rows are float32 (:func:`onnxgate._data.float32_rows`), which a float32 input
    reads exactly: only float16 and bfloat16 inputs are widened, to float32, the user's own values. A file converted
    with a float16 sample passed on float32 rows while its probabilities were 0.27 off the model's (helper-131)."""
    import dataclasses

    from onnxgate.adaptation.mapping import NARROW_FLOATS
    from onnxgate.validators.reference import _as_onnx

    narrow = tuple(t for t in NARROW_FLOATS if t != "float32") if rows_float32 else NARROW_FLOATS
    wide = "float32" if rows_float32 else "float64"

    if not any(s.elem_type in narrow for s in signature.inputs):
        return None
    from onnxgate.conversion import Conversion

    native = not isinstance(reference, Conversion) and _as_onnx(reference) is None
    if not native or (callable(reference) and not hasattr(reference, "predict")):  # a function, a torch module
        return None
    inputs = tuple(dataclasses.replace(s, elem_type=wide) if s.elem_type in narrow else s
                   for s in signature.inputs)
    return dataclasses.replace(signature, inputs=inputs)


def rows_alone_without_reference(model: Any, data: Any, session: Any = None, *,
                                 fed: bool = False) -> tuple[str | None, bool]:
    """:func:`rows_alone_disagree` on the data's first rows, for a model validated without a reference
    (and the dry run's table): a model whose answer for a row depends on the other rows of its batch
    needs no reference to be caught. Returns the finding (None when the rows agree) and whether the
    check ran: not for one row, a model that scores one row per run or fixes its first axis, or one
    onnxruntime cannot run. ``session``: the model's, when the caller has one. ``fed``: ``data`` is
    already the model's feeds, input name to array (the dry run's table), given as they are: read again
    as a user's rows, a table of category codes 1..7 for categories 1..12 was refused as "both
    categories and codes", though the dry run had mapped a pandas category column to those codes.

    Raises
    ------
    InvalidDataError
        The data does not fit the model's inputs (as with a reference).
    """
    from onnxgate import runtime
    from onnxgate._data import as_feeds, iter_batches, num_rows, read_rows
    from onnxgate._onnx import load_model
    from onnxgate.runtime import run_rows
    from onnxgate.signature import Signature

    proto = load_model(model)
    signature = Signature.from_model(proto)
    if scalar_inputs_finding(signature) is not None:
        return None, False  # no rows to score alone: parity, given a reference, says why
    def first_rows(count: int) -> Any:
        if fed:
            return {name: array[:count] for name, array in data.items()}
        return as_feeds(next(iter_batches(data, count)), signature)

    if not fed:
        data = read_rows(data)
    probe = first_rows(ROWS_ALONE)
    try:
        if session is None:
            session = runtime.session(runnable(proto), spinning=False)
    except Exception:  # operators_supported says why
        return None, False
    try:
        outputs = run_rows(session, None, probe)
    except Exception as err:
        # the first rows fail as a batch: if the data's first batch runs, the model fixes its batch size
        first = first_rows(DEFAULT_BATCH_SIZE)
        if num_rows(first) == num_rows(probe):
            return None, False  # operators_supported, or the checks that run the model, say why
        try:
            run_rows(session, None, first)
        except Exception:
            return None, False
        return fixed_batch_finding(num_rows(probe), err, session), True
    if not _rows_to_score_alone(session, probe):
        return None, False
    tolerances = model_tolerances(proto, signature.outputs, None, None)
    return rows_alone_disagree(session, probe, outputs, signature, tolerances), True


def with_tied_rows(result: CheckResult, tied: int, rows: int, untried: int = 0) -> CheckResult:
    """``result`` saying how many of its ``rows`` were compared with a tie-break's answer
    (:mod:`onnxgate.validators.ties`), in ``details["tied_rows"]`` too, and how many differing rows hold a tie
    whose answers were not all tried (``details["tied_rows_untried"]``); as it is when neither."""
    message, details = result.message, dict(result.details)
    if tied:
        message += (
            f". {tied} of the {rows} rows hold a tie the model may break either way (training rows tied at the "
            "k-th neighbour's distance, a KNNImputer's donors tied at the n-th or, fitted on float32 rows and "
            "weighing by distance, nearer than float32 rounds, an SVC's pairwise vote at 0, equal values in a "
            "TopK): the file's answer there is the one the model gives with the tie broken another way (or "
            "computed in float64), and was compared with that answer"
            + ("; they are not counted as differing" if not result.passed else ""))
        details["tied_rows"] = tied
    if untried:
        message += (
            f". {untried} differing rows hold a tie whose tie-breaks were not all tried (too many rows differ to "
            "try each of their tie-breaks): they are counted as differing, though a tie broken another way may "
            "explain some")
        details["tied_rows_untried"] = untried
    if not tied and not untried:
        return result
    return CheckResult(result.name, result.passed, message, details)


def onnxruntime_failure(session: Any, feeds: Mapping[str, Any], signature: Signature, err: BaseException, done: int,
                        run_reference: Callable[[Mapping[str, Any]], Any], reference_feeds: Mapping[str, Any],
                        rows_of: str = "") -> tuple[str, dict[str, Any]]:
    """The failed parity's message and details where onnxruntime fails on a batch (``feeds``, the data's rows from
    ``done``): the batch's first row it fails on alone, with its inputs; ``rows_of`` follows each row number (a Spark
    partition's). Local and Spark parity say it alike.

    Raises
    ------
    InvalidDataError
        The reference (given ``reference_feeds``, the batch's rows as it reads them) refuses that row too: the
        caller's input, not the file's fault.
    """
    from onnxgate.runtime import dynamic_axis_fix, fixed_rows, fixed_rows_said

    rows = len(next(iter(feeds.values()))) if feeds else 0
    details: dict[str, Any] = {"rows_done": done}
    where = f"rows {done}..{done + rows - 1}{rows_of}"
    size = fixed_rows(session)
    if size is not None and rows != size:
        # said, not onnxruntime's first line: "Got invalid dimensions for input: x for the following indices" left
        # out the size it expects (the next line's "Expected: 16")
        return (f"onnxruntime failed on {where}: {fixed_rows_said(session, size)}, and a service or PREDICT scores "
                f"batches of any size: {dynamic_axis_fix(session)}"), details
    row = _first_failing_row(session, feeds)
    if row is not None:
        values = {key: _brief(value[row], 6, bare=True)[:80] for key, value in by_column(feeds, signature).items()}
        details["failing_row"] = {"row": done + row, "inputs": values}
        # text first: a category the model never saw is the usual cause
        order = sorted(values, key=lambda key: not values[key].startswith(("'", '"', "['")))
        shown = ", ".join(f"{key}={values[key]}" for key in order[:8]) + (", ..." if len(order) > 8 else "")
        where += f" (first at row {done + row}{rows_of}: {shown})"
    first = first_line(err, None)
    if row is not None:
        # a row the reference refuses too (an id past an embedding's table) compares nothing: the
        # caller's input, as for a row only the reference refuses, not a fault of the file
        try:
            run_reference({key: value[row:row + 1] for key, value in reference_feeds.items()})
        except OnnxGateError:
            pass
        except Exception as ref_err:
            raise InvalidDataError(f"{reference_failed(where, ref_err)}; onnxruntime refused it too: "
                                   f"{first}") from ref_err
    return f"onnxruntime failed on {where}: {first}", details


def fixed_batch_finding(rows: int, err: BaseException | str, session: Any = None) -> str:
    """The finding for a model that scores the data's batches but fails on a batch of its first ``rows``;
    ``session``: its onnxruntime session, which says whether its inputs declare the batch size they fix."""
    from onnxgate.runtime import fixed_rows, fixed_rows_said

    size = None if session is None else fixed_rows(session)
    cause = (f": {fixed_rows_said(session, size)}" if size is not None
             else f" ({first_line(err, 200)}): the model fixes its batch size though its inputs declare it free")
    return (f"onnxruntime scores the data's batches but fails on a batch of its first {rows} rows{cause}, so a "
            "service or PREDICT scoring batches of another size fails. Export it with a dynamic first axis (and the "
            "rows first: an RNN with batch_first=True)")


def _first_failing_row(session: Any, feeds: Mapping[str, Any]) -> int | None:
    """The first row of a batch onnxruntime fails on, found by halving the batch (a value the model
    cannot take, such as a category it never saw); None when every row runs alone (the batch as a whole
    fails) or the model scores one row per run."""
    from onnxgate.runtime import takes_one_row

    if takes_one_row(session):
        return None
    return first_row_failing(lambda part: session.run(None, part), feeds)


def row_inputs_shown(feeds: Mapping[str, Any], signature: Signature, row: int) -> str:
    """``row``'s inputs as a message shows the row the reference fails on (``f0=1.5, f1=nan``, 8 inputs at most):
    local and Spark parity say it alike."""
    shown = list(by_column(feeds, signature).items())[:8]
    return ", ".join(f"{key}={_brief(value[row], 6, bare=True)[:80]}" for key, value in shown)


def first_row_failing(run: Callable[[dict[str, Any]], Any], feeds: Mapping[str, Any]) -> int | None:
    """The first row of ``feeds`` on which ``run`` raises, found by halving the batch; None when no row
    fails alone (the batch as a whole does) or nothing fails."""
    rows = len(next(iter(feeds.values()))) if feeds else 0
    if rows == 0:
        return None

    def fails(lo: int, hi: int) -> bool:
        try:
            run({key: value[lo:hi] for key, value in feeds.items()})
        except Exception:
            return True
        return False

    lo, hi = 0, rows
    if not fails(lo, hi):
        return None
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if fails(lo, mid):
            hi = mid
        elif fails(mid, hi):
            lo = mid
        else:
            return None  # only the two halves together fail
    return lo


def with_rows_holding_nan(result: CheckResult, with_nan: int, done: int) -> CheckResult:
    """``result`` saying that ``with_nan`` of its ``done`` rows hold NaN or infinity, which a target whose tables
    cannot hold them never scores (``details["rows_with_nan"]``); ``result`` itself when none do."""
    if not with_nan:
        return result
    return CheckResult(
        result.name, result.passed,
        f"{result.message}. {with_nan} of the {done} rows hold NaN or infinity, which this target's tables "
        "cannot hold (a SQL float column has neither, and a missing value there is NULL, which the input "
        "table refuses): they were compared as onnxruntime scores them, but PREDICT never sees them",
        {**result.details, "rows_with_nan": with_nan},
    )


# -- what a passing parity did not check ------------------------------------------------------------


def not_checked_item(key: str, what: str, why: str) -> dict[str, str]:
    """One entry of ``details["not_checked"]``: ``key`` for a program (``"missing_values"``, ``"search"``,
    ``"known_values"``, ``"classes"``, ``"large_batch"``, ``"non_ascii_text"``), ``what`` was not checked and
    ``why``, read together as ``what (why)``."""
    return {"key": key, "what": what, "why": why}


def with_not_checked(result: CheckResult, items: Sequence[Mapping[str, str]]) -> CheckResult:
    """``result`` with ``items`` (:func:`not_checked_item`) added to ``details["not_checked"]``; ``result`` itself
    when there are none, or when it failed or was skipped (the failure is what to read then). The verdict and the
    message are left as they are."""
    if not items or not result.passed or result.skipped:
        return result
    earlier = list(result.details.get("not_checked", ()))
    return dataclasses.replace(result, details={**result.details, "not_checked": [*earlier, *map(dict, items)]})


def no_search_item(rows: Any, advice: str = NO_SEARCH_ADVICE) -> dict[str, str]:
    """The ``not_checked`` entry of a parity run without a search on its data's ``rows``: only they were compared;
    ``advice``: how to run one (:data:`NO_SEARCH_ADVICE`). Local and Spark parity both say it."""
    were = "one row was" if rows == 1 else f"{rows} rows were"
    return not_checked_item("search", "rows beyond the data's",
                            f"no search was run, so only the data's {were} compared; {advice}")


def missing_value_inputs(model: Any, signature: Signature, target_holds_nan: bool = True) -> dict[str, str]:
    """The inputs of ``model`` a missing value reaches it in and is read its own way: input name -> what reads it (a
    :data:`MISSING_VALUE_READERS` operator for a floating-point input, else "a missing-value text" for an input
    the signature records the text or code a missing value is fed as, :attr:`~onnxgate.signature.TensorSpec.missing`).
    Empty for a target whose tables hold no missing value (``target_holds_nan`` False: SQL refuses NULL and NaN)."""
    from onnxgate._graph import first_reader

    if not target_holds_nan:
        return {}
    out: dict[str, str] = {}
    for spec in signature.inputs:
        if spec.kind != "tensor":
            continue
        if spec.missing is not None:
            out[spec.name] = "a missing-value text" if spec.elem_type == "string" else "a missing-value code"
        elif spec.elem_type in ("float16", "bfloat16", "float32", "float64"):
            op = first_reader(model, spec.name, MISSING_VALUE_READERS)
            if op is not None:
                out[spec.name] = op
    return out


@dataclasses.dataclass(frozen=True)
class MissingValueReads:
    """Where a file reads a missing value its own way (:func:`missing_value_reads`), by input: ``ops``, what reads
    it (:func:`missing_value_inputs`); ``columns``, the columns of the input it is read in (positions in a row),
    None where that cannot be told per column (the input then counts as one, held when any of its columns holds
    one); ``names``, those columns as a note names them, in the same order (the user's column names where the file
    records them, else ``input[i]``); ``widths``, the input's columns per row. False when it reads one nowhere."""

    ops: dict[str, str]
    columns: dict[str, tuple[int, ...] | None]
    names: dict[str, tuple[str, ...]]
    widths: dict[str, int | None]

    def __bool__(self) -> bool:
        return bool(self.columns)


def missing_value_reads(model: Any, signature: Signature, target_holds_nan: bool = True) -> MissingValueReads:
    """The columns of the inputs of ``model`` (:func:`missing_value_inputs`) a missing value is read its own way in
    (:class:`MissingValueReads`): for a floating-point ``[N, k]`` input, the columns that reach an imputer or IsNaN
    and those a tree ensemble splits on (:func:`onnxgate._graph.columns_reaching`), per input where a reader is
    reached through anything else; an input of one column, that column; for another input the text or code a
    missing value is fed as is recorded for, the input as one."""
    from onnxgate._graph import columns_reaching

    ops = missing_value_inputs(model, signature, target_holds_nan)
    columns: dict[str, tuple[int, ...] | None] = {}
    names: dict[str, tuple[str, ...]] = {}
    widths: dict[str, int | None] = {}
    for spec in signature.inputs:
        if spec.name not in ops:
            continue
        dims = spec.shape[1:] if spec.shape is not None else None
        width = (math.prod(d for d in dims if isinstance(d, int))
                 if dims is not None and all(isinstance(d, int) for d in dims) else None)
        read: Any = None
        if width is not None and spec.missing is None and spec.shape is not None and len(spec.shape) == 2:
            read = columns_reaching(model, spec.name, width, MISSING_VALUE_READERS)
        if read is None and width == 1:
            read = frozenset({0})
        if read is not None and not read:
            continue  # its readers split on none of its columns
        columns[spec.name] = None if read is None else tuple(sorted(read))
        widths[spec.name] = width
        fitted = spec.fitted_columns if spec.fitted_columns is not None and len(spec.fitted_columns) == width else None
        if width == 1:
            names[spec.name] = (signature.columns.column_for(spec.name),)
        elif read is not None:
            names[spec.name] = tuple(fitted[c] if fitted else f"{spec.name}[{c}]" for c in sorted(read))
    return MissingValueReads({k: ops[k] for k in columns}, columns, names, widths)


def note_missing_values(found: dict[str, set[int]], feeds: Mapping[str, Any], signature: Signature,
                        reads: MissingValueReads) -> bool:
    """Add to ``found`` (input -> columns) the columns of ``feeds`` (a batch as the file's inputs) in which a row
    holds a missing value where ``reads`` (:func:`missing_value_reads`) says the file reads one: NaN, or the text
    or code a missing value is fed as. Whether a column is still looked for (False: every one was found)."""
    import numpy as np

    specs = {spec.name: spec for spec in signature.inputs}
    left = False
    for name, read in reads.columns.items():
        have = found.setdefault(name, set())
        if name in feeds and _looked_for(have, read):
            array = np.asarray(feeds[name])
            flat = array.reshape(len(array), -1) if array.ndim > 1 else array.reshape(-1, 1)
            have.update(int(c) for c in np.flatnonzero(_missing_by_column(flat, specs[name].missing)))
        left = left or _looked_for(have, read)
    return left


def _looked_for(found: set[int], read: tuple[int, ...] | None) -> bool:
    """Whether a column of an input read in ``read`` (None: any of them) holds no missing value ``found`` yet."""
    return not found if read is None else not found.issuperset(read)


def _missing_by_column(flat: Any, marker: str | None) -> Any:
    """Whether each column of the 2-D ``flat`` holds a missing value in some row: NaN, or ``marker`` (the text or
    code a missing value is fed as). A batch holding none costs one pass; else the columns are told from the
    positions of the values found (a reduction along the rows costs 3-6 times as much on 30 columns)."""
    import numpy as np

    width = flat.shape[1]
    if flat.dtype.kind == "f":
        where = np.isnan(flat)
    elif marker is not None and flat.dtype.kind in "iu":
        try:
            where = flat == int(marker)
        except ValueError:
            return np.zeros(width, dtype=bool)
    elif marker is not None and flat.dtype.kind in "OUS":
        if marker not in flat.ravel().tolist():  # in a C loop: 40 -> 14 ms a 1M rows
            return np.zeros(width, dtype=bool)
        return np.array([marker in flat[:, c].tolist() for c in range(width)], dtype=bool)
    else:
        return np.zeros(width, dtype=bool)
    if not where.any():
        return np.zeros(width, dtype=bool)
    return np.bincount(np.flatnonzero(where) % width, minlength=width) > 0


def category_columns(reference: Any, model: Any, probe: Mapping[str, Any] | None, *, words: bool = False
                     ) -> list[Any]:
    """The text or integer input columns whose values the models know as categories
    (:func:`onnxgate.validators.known_values.known_text_values` of ``kind`` "category": a OneHotEncoder's texts, a
    LightGBM or scikit-learn encoder's integer categories, the integer categories a tree ensemble splits on), and
    with ``words`` those a vectorizer reads (``kind`` "words" or "chars": its vocabulary of words or of character
    n-grams); none without ``probe`` (rows as the file's inputs) or when the two sides cannot be read."""
    if probe is None:
        return []
    from onnxgate.validators.known_values import known_text_values

    kinds = ("category", "words", "chars") if words else ("category",)
    try:
        return [k for k in known_text_values(reference, model, probe) if k.kind in kinds]
    except Exception:  # reading the two sides must never fail parity itself
        return []


def _words(text: str) -> list[str]:
    """The lower-case words of ``text`` as a vocabulary entry is compared with the data's (any run of word
    characters: a vectorizer's default pattern keeps words of two or more)."""
    return re.findall(r"\w+", text.lower())


def _char_text(text: str) -> str:
    """``text`` as a character vectorizer takes its n-grams from: lower-case, each run of white space one space
    (scikit-learn's ``_char_ngrams``)."""
    return re.sub(r"\s\s+", " ", text.lower())


#: Past this many n-grams still looked for, a batch's n-grams are listed once instead of each looked for in its text.
_GRAMS_LOOKED_UP = 64


#: Texts whose words (n-grams) are listed at a time, while more than :data:`_GRAMS_LOOKED_UP` are looked for.
_TEXTS_AT_A_TIME = 1024


def _tokens_held(texts: Sequence[str], wanted: set[str], chars: bool) -> set[str]:
    """Those of ``wanted`` (vocabulary words, or with ``chars`` character n-grams) that ``texts`` hold. The texts
    are read as one a run of :data:`_TEXTS_AT_A_TIME` (one lower() and one regex pass, not one a text), until
    every one is found. Each run's n-grams are listed while many are looked for; once few are left, each is looked
    for in the rest of the texts instead (a substring search in C): the data holds most n-grams of a vocabulary in
    its first texts, and listing every n-gram of 20,000 texts cost 8% of validate's time (2.8 s), against 2% so.
    Words are listed run by run (a word's substring search needs a word-boundary check, which cost more than the
    listing). A NUL, in no vocabulary entry, keeps one text's n-grams apart from the next's."""
    found: set[str] = set()
    for start in range(0, len(texts), _TEXTS_AT_A_TIME):
        if not wanted:
            break
        if chars and len(wanted) <= _GRAMS_LOOKED_UP:
            rest = "\0".join(_char_text(t) for t in texts[start:])
            found.update(g for g in wanted if g in rest)
            return found
        run = texts[start:start + _TEXTS_AT_A_TIME]
        if chars:
            joined = "\0".join(_char_text(t) for t in run)
            sizes = {len(g) for g in wanted}
            held = wanted.intersection(joined[i:i + n] for n in sizes for i in range(len(joined) - n + 1))
        else:
            held = wanted.intersection(_words("\n".join(run)))
        found |= held
        wanted -= held
    return found


def vocabulary_tokens(categories: Sequence[Any]) -> tuple[dict[tuple[str, int], frozenset[str]],
                                                          dict[tuple[str, int], frozenset[str]]]:
    """What :func:`note_text_values` looks for in each vectorizer column of ``categories`` (:func:`category_columns`):
    the words of its vocabulary's entries (``kind`` "words") and its character n-grams (``kind`` "chars")."""
    words = {(k.input, k.column): frozenset(w for v in k.agreed() for w in _words(str(v)))
             for k in categories if k.kind == "words"}
    grams = {(k.input, k.column): frozenset(str(v) for v in k.agreed()) for k in categories if k.kind == "chars"}
    return words, grams


def note_text_values(held: dict[tuple[str, int], set[Any]], feeds: Mapping[str, Any],
                     only: Mapping[tuple[str, int], frozenset[Any]] | None = None,
                     words: Mapping[tuple[str, int], frozenset[str]] | None = None,
                     grams: Mapping[tuple[str, int], frozenset[str]] | None = None) -> None:
    """Add to ``held`` the text or integer values each (input, column) of it holds in ``feeds``; with ``only``, of
    those values alone (the categories a model knows, :func:`category_columns`: a partition's set stays as small as
    they are, whatever else the column holds). A column of ``words`` (a vectorizer's, with the words of its
    vocabulary) gets the words of its texts that are in the vocabulary instead, lower-case; a column of ``grams``
    (a character vectorizer's n-grams) the n-grams its texts contain (:func:`_char_text`). Both are looked for only
    until every one is found: a batch costs one pass over its texts, no more (:func:`vocabulary_tokens`)."""
    import numpy as np

    for (name, column), values in held.items():
        vocabulary = None if words is None else words.get((name, column))
        ngrams = None if grams is None else grams.get((name, column))
        wanted = None if only is None else only.get((name, column), frozenset()) - values
        if vocabulary is not None:
            wanted = vocabulary - values
        elif ngrams is not None:
            wanted = ngrams - values
        array = np.asarray(feeds[name]) if name in feeds and (wanted is None or wanted) else None
        if array is None or not len(array):
            continue
        flat = array.reshape(len(array), -1)
        if column >= flat.shape[1]:
            continue
        if (vocabulary is not None or ngrams is not None) and wanted is not None:
            texts = [v for v in flat[:, column].tolist() if isinstance(v, str)]
            values.update(_tokens_held(texts, set(wanted), ngrams is not None))
        elif wanted is None:
            values.update(v for v in flat[:, column].tolist()
                          if isinstance(v, (str, int)) and not isinstance(v, bool))
        else:
            values.update(wanted.intersection(flat[:, column].tolist()))


def unheld_values(categories: Sequence[Any], held: Mapping[tuple[str, int], set[Any]],
                  probe: Mapping[str, Any] | None) -> list[dict[str, Any]]:
    """The values the models know alike (:meth:`~onnxgate.validators.known_values.KnownValues.agreed`) that no row
    holds, per column of ``categories`` (:func:`category_columns`; ``held``: :func:`note_text_values`): one
    ``{"input", "column", "label", "kind", "values"}`` each with some (``label``: ``input[column]`` for a wider
    input, else the input; ``kind``: "category" or "words"; at most
    :data:`~onnxgate.validators.known_values.MAX_VALUES_PER_COLUMN` values, as many as a search tries)."""
    import numpy as np

    from onnxgate.validators.known_values import MAX_VALUES_PER_COLUMN

    out: list[dict[str, Any]] = []
    for k in categories:
        have = held.get((k.input, k.column), set())
        if k.kind == "words":
            absent = [v for v in k.agreed() if any(w not in have for w in _words(str(v)))]
        else:
            absent = [v for v in k.agreed() if (str(v) if k.kind == "chars" else v) not in have]
        if absent:
            wide = probe is not None and np.shape(probe[k.input])[1:] not in ((), (1,))
            entry = {"input": k.input, "column": k.column, "label": f"{k.input}[{k.column}]" if wide else k.input,
                     "kind": k.kind if k.kind in ("words", "chars") else "category",
                     "values": [k.shown(v) for v in absent[:MAX_VALUES_PER_COLUMN]], "count": len(absent)}
            # a column of codes: its categories named, as the data's rows hold them
            out.append({**entry, "codes": True} if k.categories is not None else entry)
    return out


def known_values_items(unheld: Sequence[Mapping[str, Any]], search: str = SEARCH_ADVICE,
                       searched: int | None = None) -> list[dict[str, str]]:
    """The ``known_values`` (categories) and ``vocabulary`` (a vectorizer's words) entries of
    :func:`parity_not_checked` from :func:`unheld_values`: up to :data:`NOT_CHECKED_VALUES_SHOWN` values per column
    named, with how many there are; each entry carries them in ``values`` too (what a search that followed
    scored is taken out of them, :func:`without_searched_values`). ``searched``: the budget of a search that ran
    and scored none of them."""
    items: list[dict[str, Any]] = []
    for kinds, key in ((("category",), "known_values"), (("words", "chars"), "vocabulary")):
        these = [u for u in unheld if u["kind"] in kinds and u["count"]]
        if not these:
            continue
        total = sum(int(u["count"]) for u in these)
        lacking = []
        for u in these:
            shown = ", ".join(repr(v) for v in u["values"][:NOT_CHECKED_VALUES_SHOWN])
            left = int(u["count"]) - NOT_CHECKED_VALUES_SHOWN
            lacking.append(f"{u['label']!r}: {shown}{f' and {left} more' if left > 0 else ''}")
        held = {u["kind"] for u in these}
        noun = (f"categor{'y' if total == 1 else 'ies'}" if key == "known_values" else
                f"vocabulary word{'' if total == 1 else 's'}" if held == {"words"} else
                f"vocabulary character n-gram{'' if total == 1 else 's'}" if held == {"chars"} else
                f"vocabulary entr{'y' if total == 1 else 'ies'}")
        how = (f"the search tries them: {search}" if searched is None else
               f"the search (budget {searched}) did not reach {'it' if total == 1 else 'them'}: a larger one tries "
               f"more ({search})")
        item = not_checked_item(
            key, f"{total} {noun} no row holds",
            f"{'; '.join(lacking)}: the model knows {'it' if total == 1 else 'them'}, and parity scores only the "
            f"data's rows and the values one model alone knows; {how}")
        items.append({**item, "values": [dict(u) for u in these]})
    return items


def without_searched_values(result: CheckResult, tried: Sequence[Sequence[Any]], budget: int) -> CheckResult:
    """A passing parity ``result`` whose ``known_values`` and ``vocabulary`` notes leave out the values a search of
    ``budget`` that followed scored (``tried``: its ``details["known_values_tried"]``, ``[input, column, value]``
    each): a search tries the known values no row holds, the disputed ones first, at most one row each within its
    budget, so those it did not reach stay named (a search of 5 rows named none of 40 categories, and the note of
    them was dropped)."""
    items = list(result.details.get("not_checked", ()))
    keys = ("known_values", "vocabulary")
    if not any(i.get("key") in keys for i in items):
        return result
    scored = {(str(i), int(c), v) for i, c, v in tried}
    unheld = []
    for item in items:
        for u in item.get("values", ()) if item.get("key") in keys else ():
            # a word is scored as a whole text set to it, as a category is
            gone = [v for v in u["values"] if (u["input"], u["column"], v) in scored]
            unheld.append({**u, "values": [v for v in u["values"] if v not in gone],
                           "count": int(u["count"]) - len(gone)})
    kept = [i for i in items if i.get("key") not in keys]
    rebuilt = known_values_items(unheld, searched=budget)
    at = next(n for n, i in enumerate(items) if i.get("key") in keys)
    merged = [*kept[:at], *rebuilt, *kept[at:]]
    details = {k: v for k, v in result.details.items() if k != "not_checked"}
    return dataclasses.replace(result, details={**details, "not_checked": merged} if merged else details)


def parity_not_checked(reads: MissingValueReads, found: Mapping[str, set[int]], categories: Sequence[Any],
                       held: Mapping[tuple[str, int], set[Any]], seen: Mapping[str, Any] | None,
                       unscored_batch: Sequence[str], probe: Mapping[str, Any] | None,
                       search: str = SEARCH_ADVICE) -> list[dict[str, Any]]:
    """The ``not_checked`` entries (:func:`not_checked_item`) a passing parity says of its data: missing values
    in the columns no row holds one in though the file reads them its own way there (``reads``:
    :func:`missing_value_reads`; ``found``: :func:`note_missing_values` of every batch); the categories the models
    know that no row holds (``categories``: :func:`category_columns`; ``held``: :func:`note_text_values`; parity
    scores only those one of the two alone knows); the classes never answered (``seen``: :func:`classes_seen`); a
    large batch made but not compared. ``probe``: the data's first rows as the file's inputs (the widths of the
    inputs not declared); ``search``: how to run the search that tries the categories. Local and Spark parity
    both ask it."""
    items: list[dict[str, Any]] = []
    missing = _missing_values_item(reads, found, probe)
    if missing is not None:
        items.append(missing)
    items += known_values_items(unheld_values(categories, held, probe), search)
    if seen is not None and seen.get("seen", 0) < seen.get("classes", 0):
        never = ", ".join(repr(c) for c in seen.get("not_seen", ())[:NOT_CHECKED_VALUES_SHOWN])
        left = seen["classes"] - seen["seen"]
        more = f" and {left - NOT_CHECKED_VALUES_SHOWN} more" if left > NOT_CHECKED_VALUES_SHOWN else ""
        items.append(not_checked_item(
            "classes", f"{left} of {seen['classes']} classes as a label",
            f"the reference answers none of the data's rows with {never}{more}; add rows of "
            f"{'that class' if left == 1 else 'those classes'} to compare {seen.get('output', 'the label')!r} on them"))
    if unscored_batch:
        items.append(not_checked_item("large_batch", "one large batch", f"{unscored_batch[0]}; the data's own batches "
                                      "cannot show an answer that depends on the batch size"))
    return items


def _missing_values_item(reads: MissingValueReads, found: Mapping[str, set[int]],
                         probe: Mapping[str, Any] | None) -> dict[str, str] | None:
    """The ``missing_values`` entry of :func:`parity_not_checked`: the columns the file reads a missing value in
    (an input as one where that is not told per column) that no row holds one in; None when every one holds one.
    Named as when none holds one anywhere (any of the inputs, any of an input's columns) or, when some do, by
    column, up to :data:`NOT_CHECKED_VALUES_SHOWN` of them."""
    import numpy as np

    def width(name: str) -> int:
        known = reads.widths.get(name)
        if known is None and probe is not None and name in probe:
            return int(np.prod(np.shape(probe[name])[1:], dtype=np.int64))
        return 1 if known is None else known

    # per input: the read columns no row holds one in, or None for an input counted as one that holds none
    lacking: dict[str, list[int] | None] = {}
    for name, read in reads.columns.items():
        have = found.get(name, set())
        if read is None:
            if not have:
                lacking[name] = None
        elif not have.issuperset(read):
            lacking[name] = [c for c in read if c not in have]
    if not lacking:
        return None
    ops = ", ".join(sorted({reads.ops[name] for name in lacking}))
    # the places the file reads one in (a column, or an input as one) and those of them no row holds one in
    places = sum(1 if read is None else len(read) for read in reads.columns.values())
    unheld = sum(1 if columns is None else len(columns) for columns in lacking.values())
    # no row holds one anywhere the file reads one, and it reads one in every column of its inputs: said as before
    if unheld == places and all(read is None or len(read) == width(name) for name, read in reads.columns.items()):
        names = list(reads.columns)
        where = (f"any of the {len(names)} inputs the file reads one in" if len(names) > 1
                 else f"any of the {width(names[0])} columns of input {names[0]!r}" if width(names[0]) > 1
                 else f"input {names[0]!r}")
        what = "missing values"
    else:
        singles: list[str] = []  # the inputs of one column (a frame's), named together first
        wide: list[tuple[str, list[str]]] = []  # then each wider input's columns
        for name, columns in lacking.items():
            if columns is None and width(name) > 1:
                wide.append(("", [f"any of the {width(name)} columns of input {name!r}"]))
            elif columns is None:
                singles.append(f"input {name!r}")
            elif width(name) > 1:
                by_column = dict(zip(reads.columns[name] or (), reads.names[name], strict=True))
                wide.append((f" of input {name!r}", [repr(by_column[c]) for c in columns]))
            else:
                singles.append(repr(reads.names[name][0]))
        parts: list[str] = []
        room = NOT_CHECKED_VALUES_SHOWN
        left = 0
        for suffix, named in [("", singles), *wide]:
            left += max(len(named) - room, 0)
            if named[:room]:
                parts.append(", ".join(named[:room]) + suffix)
            room = max(room - len(named), 0)
        where = "; ".join(parts) + (f" and {left} more" if left else "")
        inputs = any(read is None and width(name) > 1 for name, read in reads.columns.items())
        what = f"missing values in {unheld} of {places} {'columns or inputs' if inputs else 'columns'}"
    return not_checked_item(
        "missing_values", what,
        f"the data holds none in {where}, and the file gives a missing value a meaning of its own there: "
        f"{ops}; add rows with missing values to the data to compare them")


def rows_with_nan(feeds: Mapping[str, Any]) -> int:
    """Rows of a batch holding NaN or infinity in a float input."""
    import numpy as np

    bad: Any = None
    for value in feeds.values():
        arr = np.asarray(value)
        if arr.dtype.kind != "f" or arr.ndim == 0:
            continue
        rows = ~np.isfinite(arr).reshape(len(arr), -1).all(axis=1)
        bad = rows if bad is None else bad | rows
    return 0 if bad is None else int(bad.sum())


def _rows_to_score_alone(session: Any, feeds: Mapping[str, Any], least: int = 2) -> int:
    """The rows in ``feeds``, or 0 where scoring them one at a time says nothing: fewer than ``least`` rows (one
    row is its own batch; the large batch repeats it), a model that scores one row per run, or inputs that fix their
    first axis."""
    from onnxgate.runtime import takes_one_row

    rows = len(next(iter(feeds.values()))) if feeds else 0
    if rows < least or takes_one_row(session):
        return 0
    if any(not i.shape or isinstance(i.shape[0], int) for i in session.get_inputs()):
        return 0
    return rows


def rows_alone_disagree(
    session: Any,
    feeds: Mapping[str, Any],
    outputs: list[Any],
    signature: Any,
    tolerances: Mapping[str, tuple[float, float, str]],
    rows_of: str = "",
) -> str | None:
    """Score the first :data:`ROWS_ALONE` rows of a batch one at a time; a sentence saying how a row's
    answer differs from its answer in the batch (or that it cannot be scored alone), else None. ``rows_of``
    follows each row number in the sentence (Spark's workers: ``" of partition 3"``).

    Not run for a model that scores one row per run or whose inputs fix their first axis. Values are
    compared by the output's tolerance, at least :data:`ROWS_ALONE_FLOOR`; labels and text exactly.
    """
    import numpy as np

    from onnxgate.validators.reference import maps_to_array

    rows = _rows_to_score_alone(session, feeds)
    if not rows:
        return None

    def array(value: Any) -> Any:
        if isinstance(value, list):  # ZipMap: a list of {class: probability}
            return maps_to_array(value) if value and isinstance(value[0], Mapping) else None
        return np.asarray(value)

    for row in range(min(ROWS_ALONE, rows)):
        single = {key: value[row:row + 1] for key, value in feeds.items()}
        try:
            answers = session.run(None, single)
        except Exception as err:
            first = first_line(err, None)
            return (f"onnxruntime scores row {row}{rows_of} in a batch of {rows} rows but fails on it alone ({first}); "
                    "a service or PREDICT scores batches of any size, one row among them")
        for spec, whole, one in zip(signature.outputs, outputs, answers):
            batch, single_out = array(whole), array(one)
            if batch is None or single_out is None or batch.ndim != single_out.ndim:
                continue
            axes = [a for a in range(batch.ndim) if batch.shape[a] == rows and single_out.shape[a] == 1
                    and batch.shape[:a] + batch.shape[a + 1:] == single_out.shape[:a] + single_out.shape[a + 1:]]
            if not axes:
                continue  # no axis of rows (a value for the whole batch): outputs_one_value_per_row's case
            expected = np.take(batch, [row], axis=axes[0])
            atol, rtol, mode = tolerances[spec.name]
            if values_differ(expected, single_out, mode == "exact", max(atol, ROWS_ALONE_FLOOR[0]),
                       max(rtol, ROWS_ALONE_FLOOR[1])):
                return (f"output {spec.name!r} of row {row}{rows_of} is {_brief(single_out)} scored alone and "
                        f"{_brief(expected)} in a batch of {rows} rows: the model's answer for a row depends on "
                        "the other rows of its batch (a BatchNorm computing batch statistics, a layer reading the "
                        "whole batch, or a first axis that is not the rows: a time-major RNN), so a service or "
                        "PREDICT, batching rows otherwise, answers otherwise. Export the model in inference mode "
                        "(PyTorch: model.eval(); BatchNorm1d with track_running_stats=True), remove what reads "
                        "the whole batch, or put the rows first (an RNN with batch_first=True)")
    return None


def reference_alone_disagrees(
    session: Any,
    feeds: Mapping[str, Any],
    signature: Any,
    tolerances: Mapping[str, tuple[float, float, str]],
    run_reference: Any,
    row_numbers: Sequence[int] | None = None,
    rows_of: str = "",
    reference_feeds: Mapping[str, Any] | None = None,
) -> str | None:
    """Score the first :data:`ROWS_ALONE` rows one at a time with both models (every row of ``feeds`` when
    ``row_numbers`` gives their numbers in the data); a sentence saying how the
    reference's answer for a row alone differs from the file's, else None (also when the reference cannot
    score a row alone: a BatchNorm left in training mode). ``rows_of`` follows the row number in the sentence.
    ``reference_feeds``: the same rows as the reference takes them in the batches, the user's own values where
    the file's input rounds them (default ``feeds``). Given the file's float32 rows, the reference answered
    otherwise than in the batches: a float32 QuantileTransformer whose batches agreed on float64 diabetes rows
    failed "scored alone", 0.53 off, its reference given rows it never saw in them (helper-256).

    The batches parity compares can agree while single rows do not: a PyTorch ``forward`` branching on a
    batch-wide value (``if y.sum() > 0``) is traced with the sample's branch fixed in the file; 300 rows in one
    batch took that branch in both, and 104 of them scored alone did not (found by helper-79).
    """
    import numpy as np

    rows = _rows_to_score_alone(session, feeds)
    if not rows:
        return None
    for row in range(rows if row_numbers is not None else min(ROWS_ALONE, rows)):
        single = {key: value[row:row + 1] for key, value in feeds.items()}
        theirs_single = single if reference_feeds is None else {
            key: value[row:row + 1] for key, value in reference_feeds.items()}
        try:
            answers = session.run(None, single)
            theirs = run_reference(theirs_single)
        except Exception:
            return None  # rows_alone_disagree names a file that cannot; a reference that cannot is the user's
        for spec, mine, ref in zip(signature.outputs, answers, theirs):
            if ref is None or isinstance(mine, list):
                continue
            ours, expected = np.asarray(mine), np.asarray(ref)
            if ours.size != expected.size or ours.size == 0:
                continue
            atol, rtol, mode = tolerances[spec.name]
            flat_ours, flat_expected = ours.reshape(-1), expected.reshape(-1)
            found = np.flatnonzero(_differences(flat_expected, flat_ours, mode == "exact",
                                                max(atol, ROWS_ALONE_FLOOR[0]), max(rtol, ROWS_ALONE_FLOOR[1])))
            if found.size:
                at = int(found[0])
                where = (f" (element {at}: {_brief(flat_ours[at:at + 1], bare=True)} in the file, "
                         f"{_brief(flat_expected[at:at + 1], bare=True)} in the reference)")
                # the first elements shown alone can agree: an empty segment's -inf against TensorFlow's
                # -3.4e38 sat further on, and the message showed two equal lists (helper-82)
                number = row if row_numbers is None else row_numbers[row]
                return (f"output {spec.name!r} of row {number}{rows_of} scored alone is {_brief(ours)} in the file and "
                        f"{_brief(expected)} in the reference{where}, though the batches agree. Either the "
                        "reference's answer for a row depends on its batch (a branch on a batch-wide value, such as "
                        "`if x.sum() > 0`, which the exported file fixed at conversion: the tracer's warning says "
                        "so; write the model so each row's answer depends on that row alone, in PyTorch torch.where "
                        "per row instead of a Python if), or the two models answer otherwise for a batch of one row "
                        "(an empty segment, a reduction over the rows); either way a service scoring rows one at a "
                        "time answers otherwise")
    return None


#: An ASCII word, which :data:`TEXT_VARIANTS` ends with a non-ASCII letter.
_ASCII_WORD = re.compile(r"[A-Za-z]+")
#: A Greek letter, and a letter of Turkish alone (dotless 'ı', 'ğ', 'ş', the dotted capital 'İ'): text
#: :data:`TEXT_VARIANTS` writes in Greek or Turkish capitals.
_GREEK, _TURKISH = re.compile("[\u0370-\u03ff\u1f00-\u1fff]"), re.compile("[ıİğĞşŞ]")
#: The data's text as :func:`non_ascii_text_disagrees` varies it: each ASCII word with a letter 'é' after it; each
#: space a no-break space; Greek text in capitals, where a word's last sigma is 'Σ', which Python lower-cases as 'ς'
#: and onnx's StringNormalizer as 'σ'; Turkish text with each 'i' its capital 'İ', which Python lower-cases as 'i'
#: and a combining dot and the StringNormalizer as 'i'. Without the last two, validate passed a TfidfVectorizer
#: pipeline on its own lower-case Greek and Turkish text, and 5 of 8 rows such as 'ΟΔΟΣ good' and 'İstanbul film'
#: scored otherwise (a label flipped, probabilities 0.26 off; helper-250). Those two vary the text of those scripts
#: only: every 'i' of English text made 'İ' failed any lower-casing vectorizer validated on English text, for a
#: letter it is never sent.
TEXT_VARIANTS: tuple[tuple[str, Callable[[str], str]], ...] = (
    ("each word ending in 'é'", lambda text: _ASCII_WORD.sub(r"\g<0>é", text) if text else "é"),
    ("its spaces no-break spaces", lambda text: text.replace(" ", "\u00a0")),
    ("its Greek in capitals (a word's last sigma 'Σ')", lambda text: text.upper() if _GREEK.search(text) else text),
    ("its Turkish in capitals (each 'i' an 'İ')",
     lambda text: text.replace("i", "\u0130") if _TURKISH.search(text) else text),
)
#: The setting that leaves :data:`TEXT_VARIANTS` out, as the API and the CLI name it.
TEXT_VARIANTS_OFF = "text_variants=False (CLI --no-text-variants)"


def non_ascii_text_disagrees(session: Any, model: Any, feeds: Mapping[str, Any], signature: Any,
                             tolerances: Mapping[str, tuple[float, float, str]],
                             run_reference: Any, rows_of: str = "") -> tuple[str | None, str]:
    """For a model whose text input a tokenizer reads (a text vectorizer's com.microsoft ``Tokenizer``): the rows of
    ``feeds`` with their text varied (:data:`TEXT_VARIANTS`), scored by both models. A sentence naming the first
    that differs (or None), and one saying what was compared ("" when nothing was: no tokenizer, or a reference
    that refuses the varied text). Data in ASCII alone hid a tokenizer reading 'café' as 'caf'. ``rows_of`` follows
    the row number in the sentence (Spark parity's " of partition P")."""
    import numpy as np

    tokenized = tokenized_inputs(model)
    names = [spec.name for spec in signature.inputs
             if spec.name in tokenized and np.asarray(feeds.get(spec.name)).dtype.kind in "OU"]
    compared, labels = 0, []
    for name in names:
        original = np.asarray(feeds[name])
        for label, vary in TEXT_VARIANTS:
            varied = np.array([vary(v) if isinstance(v, str) else v for v in original.reshape(-1)],
                              dtype=object).reshape(original.shape)
            if (varied == original).all():
                continue
            rows = {**feeds, name: varied.astype(original.dtype if original.dtype.kind == "O" else object)}
            try:
                answers, theirs = session.run(None, rows), run_reference(rows)
            except Exception:
                continue  # a category column the varied text is unknown to: the search's to try
            compared += len(original)
            labels += [label] if label not in labels else []
            differing = _rows_that_differ(signature, answers, theirs, tolerances, len(original))
            if differing:
                spec, ours, expected, bad = differing
                row = int(bad[0])
                return (f"the data's rows agree, but not its text with non-ASCII letters or spaces: row "
                        f"{row}{rows_of}'s {name!r} with {label} ({_brief(varied[row:row + 1], bare=True)[:80]}) gives "
                        f"{spec.name!r} {_brief(ours[row])} in the file and {_brief(expected[row])} in the "
                        "reference. The file's text vectorizer reads such text otherwise (convert's warning names "
                        "the setting): a service scoring such text answers otherwise. Refit with a setting "
                        "convert does not warn of, or validate with text like the model will score; for a model "
                        f"that never scores such text (ASCII text by contract), pass {TEXT_VARIANTS_OFF}"), ""
    tried = f"{compared} rows of the data's text varied ({'; '.join(labels)}) agree" if compared else ""
    return None, tried



#: Disputed values (:meth:`onnxgate.validators.known_values.KnownValues.disputed`) parity scores a row with, at most.
MAX_DISPUTED_ROWS = 256


def known_values_disagree(session: Any, model: Any, reference: Any, feeds: Mapping[str, Any], signature: Any,
                          tolerances: Mapping[str, tuple[float, float, str]], run_reference: Any,
                          ) -> tuple[str | None, dict[str, Any]]:
    """The values of a text input that one model knows and the other does not (a category, a vocabulary word:
    :func:`onnxgate.validators.known_values.known_text_values`), each scored in the first row of ``feeds`` by both
    models. A sentence naming the first that differs (or None), and what the two models know otherwise (``{}``
    when they know the same). A category renamed in the file ('teal' -> 'purple') passed on data holding neither:
    the reference scores 'teal' as teal, the file as unknown (the OH03b audit case). A value is never failed for
    being known otherwise, only for an answer that differs: a value the converter writes otherwise (a NaN category
    written as a text no data holds) gives the same answer in both and passes; a row the reference refuses (an
    unknown category with handle_unknown='error') is not compared."""
    import numpy as np

    from onnxgate.validators.known_values import known_text_values

    try:
        known = known_text_values(reference, model, feeds)
    except Exception:  # reading the two sides must never fail parity itself
        return None, {}
    each = [(k, k.disputed()) for k in known]
    picks = [(k, value) for k, values in each for value in values][:MAX_DISPUTED_ROWS]
    if not picks or not feeds:
        return None, {}
    disputed: dict[str, dict[str, list[Any]]] = {}
    for k, values in each:
        if values:
            column = k.input if np.shape(feeds[k.input])[1:] in ((), (1,)) else f"{k.input}[{k.column}]"
            own = set(k.reference)
            disputed[column] = {"only_reference": [v for v in values if v in own],
                                "only_file": [v for v in values if v not in own]}
    rows = {name: np.repeat(np.asarray(values)[:1], len(picks), axis=0) for name, values in feeds.items()}
    for name in {k.input for k, _ in picks}:  # text set in place: once per input, not a copy per value
        if rows[name].dtype.kind in "OUS":  # (an integer input keeps its type: its categories are integers)
            rows[name] = rows[name].astype(object)
    for i, (k, value) in enumerate(picks):
        cell = rows[k.input][i].reshape(-1) if rows[k.input].ndim > 1 else None
        if cell is None:
            rows[k.input][i] = value
        else:
            cell[k.column] = value
            rows[k.input][i] = cell.reshape(rows[k.input].shape[1:])
    for i in range(-1, len(picks)):  # the rows at once, else one at a time (a row the reference refuses)
        part = {name: values if i < 0 else values[i:i + 1] for name, values in rows.items()}
        try:
            theirs = run_reference(part)
        except Exception:
            continue
        try:
            answers = session.run(None, part)
        except Exception as err:
            if i < 0:
                continue
            k, value = picks[i]
            return (f"the data's rows agree, but not a row holding {value!r} in {k.input!r}, {_knows(k, value)}: "
                    f"onnxruntime refuses it ({first_line(err, None)}) where the reference answers. The file is "
                    "not this model's conversion: convert it again"), disputed
        differing = _rows_that_differ(signature, answers, theirs, tolerances, len(next(iter(part.values()))))
        if differing:
            spec, ours, expected, bad = differing
            k, value = picks[int(bad[0]) if i < 0 else i]
            row = int(bad[0])
            lacks = "The data holds no such row; a service scoring one answers otherwise" if value not in k.data else (
                "A service scoring such a row answers otherwise")
            return (f"the data's rows agree, but not a row holding {value!r} in {k.input!r} (the data's first row "
                    f"with {k.input!r} set to it), {_knows(k, value)}: {spec.name!r} is {_brief(ours[row])} in the "
                    f"file and {_brief(expected[row])} in the reference. {lacks}. The file is not this model's "
                    "conversion (its categories or vocabulary were changed): convert it again"), disputed
        if i < 0:
            break
    return None, disputed


def _knows(k: Any, value: Any) -> str:
    """Which model knows ``value`` of :class:`~onnxgate.validators.known_values.KnownValues` ``k``, in words."""
    what, holds, lacks = (("vocabulary", "holds", "does not") if k.kind != "category"
                          else ("categories", "hold", "do not"))
    if value in set(k.reference):
        return f"which the reference's {what} {holds} and the file's {lacks}"
    return f"which the file's {what} {holds} and the reference's {lacks}"


def tokenized_inputs(model: Any) -> set[str]:
    """The inputs of ``model`` whose text a tokenizer reads (what :func:`non_ascii_text_disagrees` varies)."""
    return _inputs_reaching(model, "Tokenizer")


def _inputs_reaching(model: Any, op_type: str) -> set[str]:
    """The graph inputs of ``model`` that a node of ``op_type`` reads, through any nodes before it."""
    graph = model.graph
    made_by = {out: node for node in graph.node for out in node.output}
    inputs = {i.name for i in graph.input}
    reached: set[str] = set()
    todo = [name for node in graph.node if node.op_type == op_type for name in node.input]
    seen: set[str] = set()
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        if name in inputs:
            reached.add(name)
        elif name in made_by:
            todo.extend(made_by[name].input)
    return reached


def unrepeated_answers(
    session: Any,
    model: Any,
    feeds: Mapping[str, Any],
    signature: Any,
    tolerances: Mapping[str, tuple[float, float, str]],
    run_reference: Any,
    rows_of: str = "",
) -> str | None:
    """Score ``feeds`` (a few rows) twice with the reference, then twice with the file; a sentence naming the one
    whose answers for the same rows differ between the two calls (a model drawing random numbers), else None (also
    when a model cannot score them). Values are compared by the output's tolerance, at least
    :data:`ROWS_ALONE_FLOOR`. Neither model can be held to the other then, and a difference between them, or
    between a row alone and in a batch, says nothing of a batch. ``rows_of`` follows the row number in the
    sentence (Spark parity's " of partition P")."""
    # a Dropout given its training_mode input may drop (one without it, or exported in eval mode, never does)
    drawn = sorted({node.op_type for node in model.graph.node if node.op_type in RANDOM_OPS
                    or (node.op_type == "Dropout" and len(node.input) > 2 and node.input[2])}) if model else []
    in_file = f" (it holds {', '.join(drawn)})" if drawn else ""
    reference = _first_change(run_reference, feeds, signature, tolerances, rows_of)
    if reference is not None:
        also = ("; the file does too" + in_file
                if _first_change(lambda f: session.run(None, f), feeds, signature, tolerances) else "")
        return (f"the reference gives different answers on the same rows (random?): {reference}{also}. No file "
                "can match a model that answers otherwise each time; fix: put it in eval mode (PyTorch "
                "model.eval(), Keras training=False) or remove the randomness (torch.randn_like noise, "
                "F.dropout(x, training=True), tf.random); a seed makes the reference repeat itself, but a file "
                "does not draw the framework's random numbers")
    file = _first_change(lambda f: session.run(None, f), feeds, signature, tolerances, rows_of)
    if file is not None:
        return (f"the file gives different answers on the same rows{in_file}: {file}, where the reference repeats "
                "its own; convert the model without its randomness (in eval mode: PyTorch model.eval(), Keras "
                "training=False)")
    return None


def _first_change(run: Callable[[Mapping[str, Any]], Sequence[Any]], feeds: Mapping[str, Any], signature: Any,
                  tolerances: Mapping[str, tuple[float, float, str]], rows_of: str = "") -> str | None:
    """Where ``run`` answers ``feeds`` otherwise on a second call, as ``output 'name' of row r{rows_of} is ... then
    ...``; None when its answers repeat or it cannot score them."""
    import numpy as np

    try:
        first, second = run(feeds), run(feeds)
    except Exception:
        return None
    for spec, one, two in zip(signature.outputs, first, second):
        if one is None or two is None or isinstance(one, list) or isinstance(two, list):
            continue
        a, b = np.asarray(one), np.asarray(two)
        if a.shape != b.shape or a.size == 0:
            continue
        atol, rtol, mode = tolerances[spec.name]
        differs = np.asarray(_differences(a, b, mode == "exact", max(atol, ROWS_ALONE_FLOOR[0]),
                                          max(rtol, ROWS_ALONE_FLOOR[1])))
        if differs.any():
            rows = differs.reshape(len(a), -1).any(axis=1) if a.ndim else differs.reshape(1)
            row = int(np.flatnonzero(rows)[0])
            return (f"output {spec.name!r} of row {row}{rows_of} is {_brief(a[row] if a.ndim else a)} on one call and "
                    f"{_brief(b[row] if b.ndim else b)} on the next")
    return None


def _recorded_missing_note(model: Any) -> str:
    """A note when the file records the value an XGBoost ``Booster`` or model file reads as missing (convert's
    ``missing`` option), which such a reference was given too (``Converter.reference_for``): parity then holds the
    file to that value, not to the one the model was trained with, which nothing in a Booster records."""
    if model is None:
        return ""
    from onnxgate.converters.xgboost import recorded_missing

    value = recorded_missing(model)
    return "" if value is None else (f"the file reads {value} as missing (convert's option missing), and an XGBoost "
                                     "Booster or model file as reference was given the same")


def _half_precision_note(model: Any, compared: list[Any]) -> str:
    """A note when a float32 or float64 output was compared with float16's or bfloat16's default tolerances,
    the model computing its matrix products in that type (:func:`onnxgate.validators.tolerances.model_tolerances`)."""
    from onnxgate.validators.tolerances import DEFAULT_TOLERANCES, _half_precision_inside

    narrow = _half_precision_inside(model) if model is not None else None
    if narrow is None:
        return ""
    atol, rtol = DEFAULT_TOLERANCES[narrow]
    if not any(r.mode == "tolerance" and (r.atol, r.rtol) == (atol, rtol) for r in compared):
        return ""  # tolerances given by the user
    return (f"compared with {narrow}'s tolerances, atol {atol:g} and rtol {rtol:g}: the model computes its matrix "
            f"products in {narrow}")


def traces_forward(reference: Any) -> bool:
    """Whether ``reference`` is a native model of a framework whose exporter traces a forward pass (PyTorch,
    TensorFlow, Keras): the file may keep the branch its sample took (:func:`traced_rows_disagree`)."""
    from onnxgate.converters import registry
    from onnxgate.errors import OnnxGateError
    from onnxgate.validators.reference import is_native_reference

    if not is_native_reference(reference):
        return False
    try:
        return registry.for_model(reference).framework in TRACED_FRAMEWORKS
    except OnnxGateError:
        return False


def traced_rows_disagree(
    session: Any,
    first: Mapping[str, Any],
    signature: Any,
    tolerances: Mapping[str, tuple[float, float, str]],
    run_reference: Any,
    every: Mapping[str, Any] | None = None,
    rows_of: str = "",
    not_run: list[str] | None = None,
    batch_rows: int | None = None,
) -> str | None:
    """For a traced reference (:func:`traces_forward`) whose batches agreed: :data:`TRACED_ROWS_ALONE` rows spread
    over the first batch ``first`` scored one at a time with both models, then, with ``every`` (the rows, for
    data smaller than :data:`LARGE_BATCH_ROWS`), one large batch of them (:func:`large_batch_disagrees`). A
    sentence saying how the file answers otherwise, else None; ``rows_of`` follows its row numbers; ``not_run`` and
    ``batch_rows``, as for :func:`large_batch_disagrees`. Local and Spark parity both ask it."""
    import numpy as np

    count = len(next(iter(first.values())))
    picks = np.unique(np.linspace(0, count - 1, min(TRACED_ROWS_ALONE, count)).round().astype(np.int64))
    spread = {key: np.asarray(value)[picks] for key, value in first.items()}
    alone = reference_alone_disagrees(session, spread, signature, tolerances, run_reference,
                                      row_numbers=[int(p) for p in picks], rows_of=rows_of)
    if alone is None and every is not None:
        alone = large_batch_disagrees(session, every, signature, tolerances, run_reference, rows_of, not_run=not_run,
                                      batch_rows=batch_rows)
    return alone


def reads_batch_size(model: Any) -> bool:
    """Whether ``model`` holds a node that can read or act on a batch's size (``Shape``, ``Size``, ``If``, ``Loop``,
    ``Scan``): its answers may depend on the batch size, as a converter's own graphs of row-wise operators do not.
    Its main graph, every subgraph at any depth (an If's branches, a Loop's or Scan's body, any node's graph
    attribute) and the body of each model-local function a node calls, and the functions those call: a file that
    branched on the batch size inside a function its main graph only calls passed on 5 rows (helper-335). A file
    without such a node (most converters' files) is not scored in the large batch for it."""
    from onnxgate._onnx import canonical_domain, node_subgraphs

    functions = {(canonical_domain(f.domain), f.name, getattr(f, "overload", "")): f for f in model.functions}
    pending: list[Any] = [model.graph]  # graphs and function bodies: both hold ``node``
    called: set[tuple[str, str, str]] = set()
    while pending:
        for node in pending.pop().node:
            if node.op_type in BATCH_SIZE_READERS:
                return True
            pending.extend(sub for _, sub in node_subgraphs(node))
            key = (canonical_domain(node.domain), node.op_type, getattr(node, "overload", ""))
            if key in functions and key not in called:  # a function calling itself is read once
                called.add(key)
                pending.append(functions[key])
    return False


def large_batch_disagrees(
    session: Any,
    feeds: Mapping[str, Any],
    signature: Any,
    tolerances: Mapping[str, tuple[float, float, str]],
    run_reference: Any,
    rows_of: str = "",
    traced: bool = True,
    not_run: list[str] | None = None,
    cause: str = "its graph reads the batch size, through Shape, Size or control flow",
    batch_rows: int | None = None,
) -> str | None:
    """Score the data's rows repeated into one batch of :data:`LARGE_BATCH_ROWS` rows (fewer for wide
    inputs) with both models; a sentence saying how the file answers otherwise there, else None (also when
    the reference cannot score that batch); ``rows_of`` follows the data's row number in it. For data smaller
    than that batch, whose own batches cannot show a branch the exporter fixed on the batch size, or (``traced``
    False: no exporter traced the reference) one the file's graph takes on it (:func:`reads_batch_size`). Then the
    file's answers there are compared with its own answers to the data's rows, which parity matched to the reference,
    and the reference is not run. Where the batch was made but not compared (the machine's memory, a reference that
    cannot score it), the reason is appended to ``not_run`` when given. ``cause``: what in the graph makes a row's
    answer depend on its batch, for the sentence of a file (``traced`` False) that answers otherwise
    (:func:`batch_cause`). ``batch_rows``: the rows of the batches parity compared ``feeds`` in, when fewer than
    ``feeds`` holds (``validate(batch_size=)``, a wide model's smaller batches): the file's own answers are scored in
    those batches, and data of as many rows as the large batch gives it its first rows. Scored as one batch, a file
    halving its answers above 1,000 rows passed 5,000 rows compared in batches of 100: it answered alike in both
    large batches. One row is enough: repeated, it makes the large batch too (a file validated on one row passed)."""
    import numpy as np

    rows = _rows_to_score_alone(session, feeds, least=1)
    if not rows:
        return None
    width = max(sum(int(np.prod(np.shape(value)[1:], dtype=np.int64)) for value in feeds.values()),
                _row_width(signature.outputs), 1)
    size = min(LARGE_BATCH_ROWS, max(LARGE_BATCH_VALUES // width, 1))
    scored = rows if batch_rows is None else min(rows, batch_rows)  # the largest batch parity compared
    if size <= scored:
        return None
    rows = min(rows, size)  # data as large as the batch: its first rows, not repeated
    picks = np.resize(np.arange(rows), size)
    large = {key: np.asarray(value)[picks] for key, value in feeds.items()}
    shown = (f"the data's {rows} row{'s' if rows > 1 else ''} repeated" if rows < size
             else f"the data's first {size} rows")
    try:
        answers = session.run(None, large)
    except Exception as err:
        first = first_line(err, None)
        if "failed to allocate memory" in first.lower():
            if not_run is not None:
                not_run.append(f"onnxruntime could not allocate the memory for a batch of {size} rows here")
            return None  # the machine's memory, not the file: nothing to say of it
        return (f"onnxruntime scores the data's batches but fails on a batch of {size} rows ({first}): the model "
                "fixes something to the batch sizes it was converted or checked at, and a service or PREDICT "
                "sends larger batches")
    if not traced:
        # the file's own answers to the data's rows, which parity matched to the reference, repeated as the batch is
        step = rows if batch_rows is None else max(1, min(rows, batch_rows))
        runs = [session.run(None, {key: np.asarray(value)[start:start + step] for key, value in feeds.items()})
                for start in range(0, rows, step)]
        own = [np.concatenate(parts) if all(isinstance(a, np.ndarray) and a.ndim for a in parts) else None
               for parts in zip(*runs)]
        theirs = [np.asarray(a)[picks] if isinstance(a, np.ndarray) and a.ndim and len(a) == rows else None
                  for a in own]
        differing = _rows_that_differ(signature, answers, theirs, tolerances, size)
        if not differing:
            return None
        spec, ours, expected, bad = differing
        row = int(bad[0])
        return (f"in one batch of {size} rows ({shown}), output {spec.name!r} answers "
                f"otherwise than in the data's own batches on {bad.size} rows (row {row}, data row "
                f"{int(picks[row])}{rows_of}: {_brief(ours[row])} in the large batch, {_brief(expected[row])} in "
                f"the data's batch, where it matches the reference): the file's answer depends on the batch size ("
                f"{cause}), so a service or PREDICT sent larger batches answers otherwise. Convert the model again "
                "rather than edit the file, or validate with more rows")
    try:
        theirs = run_reference(large)
    except Exception as err:
        if not_run is not None:
            not_run.append(f"the reference could not score a batch of {size} rows ({type(err).__name__})")
        return None  # the reference cannot score it: nothing to say of the file
    differing = _rows_that_differ(signature, answers, theirs, tolerances, size)
    if differing:
        spec, ours, expected, bad = differing
        row = int(bad[0])
        return (f"in one batch of {size} rows ({shown}), output {spec.name!r} differs "
                f"from the reference on {bad.size} rows (row {row}, data row {int(picks[row])}{rows_of}: "
                f"{_brief(ours[row])} in the file, {_brief(expected[row])} in the reference), though the data's "
                "own batches agree: the model's answer depends on the batch size (a branch on x.shape[0], "
                "which the exporter fixed at the sample's size: the tracer's warning says so), so a service "
                "sent larger batches answers otherwise. Write forward() without branching on the batch size "
                "(torch.where per row), or validate with more rows")
    return None


#: Attributes of a node that list a classifier's classes in the order of its scores.
CLASS_TABLES = ("classlabels_int64s", "classlabels_strings")


#: Operators a class table's positions pass through unchanged from the ArgMax choosing them.
_POSITION_PASSTHROUGH = ("Cast", "Reshape", "Identity", "Squeeze", "Unsqueeze", "Flatten")


def class_order_finding(model: Any, classes: Sequence[Any] | None) -> tuple[str, dict[str, Any]] | None:
    """A sentence and its evidence when a class table of ``model`` holds exactly a native classifier reference's
    ``classes`` (its ``classes_``) in another order, else None. A class table: a ``classlabels_*`` attribute (a
    classifier node's, a ZipMap's), or a constant vector a ``Gather`` or ``ArrayFeatureExtractor`` picks labels from
    (the converters' ``classes[argmax(scores)]``, positions an ``ArgMax`` chose). Such a file labels rows of one
    class with another and gives each score to another class: on data of one class, where both models answered that
    class alike, it passed (helper-318's audit). A table of other values (a converter's codes 0..k-1, mapped to the
    classes after) is not compared."""
    from onnx import helper, numpy_helper

    from onnxgate.validators.structure import iter_nodes, node_label

    if not classes:
        return None
    wanted = [c.decode() if isinstance(c, bytes) else c for c in classes]
    constants = {t.name: t for t in model.graph.initializer}
    for node in model.graph.node:
        if node.op_type == "Constant" and node.output:
            value = next((a.t for a in node.attribute if a.name == "value"), None)
            if value is not None:
                constants[node.output[0]] = value
    producers = {name: node for _, node in iter_nodes(model.graph) for name in node.output}

    def by_argmax(name: str) -> bool:  # the pick's positions are an ArgMax's, through casts and reshapes
        node = producers.get(name)
        while node is not None and node.op_type in _POSITION_PASSTHROUGH and node.input:
            node = producers.get(node.input[0])
        return node is not None and node.op_type == "ArgMax"

    for path, node in iter_nodes(model.graph):
        tables: list[tuple[str, list[Any]]] = [
            (attr.name, list(helper.get_attribute_value(attr))) for attr in node.attribute if attr.name in CLASS_TABLES]
        # a pick by other positions (a threshold classifier's ``classes[p >= t]`` for pos_label=0 reads [1, 0]) is
        # the converter's own mapping, not a class table
        picks = (node.op_type == "ArrayFeatureExtractor" or (node.op_type == "Gather" and not any(
            a.name == "axis" and a.i != 0 for a in node.attribute))) and len(node.input) > 1 and by_argmax(
            node.input[1])
        if picks and node.input and node.input[0] in constants:
            array = numpy_helper.to_array(constants[node.input[0]])
            if array.ndim == 1:
                tables.append((f"constant {node.input[0]!r}", array.tolist()))
        for where, values in tables:
            table = [v.decode("utf-8", "replace") if isinstance(v, bytes) else v for v in values]
            as_text = [str(c) for c in wanted] if table and isinstance(table[0], str) else wanted
            try:
                same_values = len(table) == len(as_text) and sorted(table) == sorted(as_text)
            except TypeError:  # classes of mixed types: not one table to compare
                continue
            if same_values and table != as_text:
                label = node_label(path, node)
                return (f"node {label} lists the classes as {table} (its {where}), where the reference's classes_ "
                        f"are {as_text}: the file gives labels and scores to other classes than the reference, "
                        "whatever rows the data holds. Convert the model again rather than edit the class table",
                        {"node": label, "table": where, "file": table, "reference": as_text})
    return _class_codes_finding(model, [str(c) for c in wanted])


def with_class_order(result: CheckResult, finding: tuple[str, Mapping[str, Any]]) -> CheckResult:
    """``result`` failed by a :func:`class_order_finding` (its sentence after the failure's own, its evidence in
    ``details["class_order"]``; a passing result's notes of what it did not check dropped). Local and Spark parity
    both ask it."""
    message = finding[0] if result.passed else f"{result.message}; {finding[0]}"
    details = {k: v for k, v in result.details.items() if k != "not_checked"}
    return CheckResult(result.name, False, message, {**details, "class_order": dict(finding[1])})


def _class_codes_finding(model: Any, classes: Sequence[str]) -> tuple[str, dict[str, Any]] | None:
    """:func:`class_order_finding` of the outputs that return a classifier's text labels as the codes of its
    classes (:func:`onnxgate.signature.output_class_labels`): the record of the text of each code must be the
    reference's ``classes`` in order (code ``i`` is ``classes_[i]``, the class of probability column ``i``), and the
    ``LabelEncoder`` computing the codes must give each recorded text its code. Parity compares the reference's
    labels by the record, so a record or encoder permuted on classes the data never answers passed, and the
    package's label table then named rows of one class with another."""
    from onnxgate.signature import CLASS_LABELS_METADATA_KEY, output_class_labels

    for output, labels in output_class_labels(model).items():
        recorded = list(labels)
        if recorded != list(classes):
            code = next((i for i, (a, b) in enumerate(zip(recorded, classes)) if a != b), min(len(recorded),
                                                                                               len(classes)))
            said = (f"code {code} as {recorded[code]!r} where the reference's class {code} is {classes[code]!r}"
                    if code < min(len(recorded), len(classes)) else f"{len(recorded)} codes for {len(classes)} classes")
            return (f"output {output!r} returns the code of each class, and the model records the labels of its codes "
                    f"as {recorded} (metadata {CLASS_LABELS_METADATA_KEY}), where the reference's classes_, in the "
                    f"order of the codes, are {list(classes)}: the record names {said}, so the SQL package's label "
                    "table would give rows of one class another's label, whatever rows the data holds. Convert the "
                    "classifier again for the target rather than edit the record",
                    {"node": None, "table": f"metadata {CLASS_LABELS_METADATA_KEY} of output {output!r}",
                     "file": recorded, "reference": list(classes)})
        coded = _label_encoder_codes(model, output)
        if coded is None:
            continue
        node, codes = coded
        wrong = next(((i, text) for i, text in enumerate(recorded) if codes.get(text) != i), None)
        if wrong is not None:
            code, text = wrong
            return (f"node {node} codes the label {text!r} as {codes.get(text)}, where the model records code {code} "
                    f"as {text!r} (metadata {CLASS_LABELS_METADATA_KEY}, the reference's classes_ in order): output "
                    f"{output!r} returns other codes than the SQL package's label table names, whatever rows the "
                    "data holds. Convert the classifier again for the target rather than edit the label codes",
                    {"node": node, "table": "LabelEncoder keys", "file": [t for t, _ in sorted(
                        codes.items(), key=lambda kv: kv[1])], "reference": list(classes)})
    return None


def _label_encoder_codes(model: Any, output: str) -> tuple[str, dict[str, int]] | None:
    """The ai.onnx.ml ``LabelEncoder`` whose codes graph output ``output`` returns (through Cast, Identity and
    reshapes), named as a report names a node, with the code it gives each text; None where none computes them
    (the codes a text none of its keys is given, its default, are not listed)."""
    from onnx import helper

    producers = {out: node for node in model.graph.node for out in node.output}
    node = producers.get(output)
    while node is not None and node.op_type in ("Cast", "Identity", "Reshape", "Squeeze", "Unsqueeze", "Flatten"):
        node = producers.get(node.input[0]) if node.input else None
    if node is None or node.op_type != "LabelEncoder" or node.domain != "ai.onnx.ml":
        return None
    from onnxgate.validators.structure import node_label

    attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
    if "keys_strings" in attrs:  # ai.onnx.ml 2 on: each key's value
        texts, values = list(attrs["keys_strings"]), list(attrs.get("values_int64s", []))
    else:  # ai.onnx.ml 1: a text's position among classes_strings
        texts = list(attrs.get("classes_strings", []))
        values = list(range(len(texts)))
    if not texts or len(values) != len(texts):
        return None
    return node_label("", node), {t.decode("utf-8", "replace"): int(v) for t, v in zip(texts, values)}


def batch_cause(model: Any, scan: Any) -> str:
    """What in ``model``'s graph can make a row's answer depend on its batch, for :func:`large_batch_disagrees`'s
    sentence: the nodes that mix the rows (``scan``: :func:`onnxgate.validators.rows_mixed.scan_rows`), a node
    reading the batch size (:func:`reads_batch_size`), or the nodes across the rows the scan could not follow."""
    from onnxgate.validators.rows_mixed import rows_mixing_sentence

    if scan.mixed:
        return f"its graph mixes the rows of a batch: {rows_mixing_sentence(scan.mixed)}"
    if scan.untraced and not reads_batch_size(model):
        return f"its graph computes across the rows of a batch, at {', '.join(scan.untraced[:3])} or after it"
    return "its graph reads the batch size, through Shape, Size or control flow"


def rows_mixed_item(mixed: Sequence[Mapping[str, Any]]) -> dict[str, str]:
    """The ``not_checked`` entry of a passing parity whose file's graph mixes the rows of a batch
    (:func:`onnxgate.validators.rows_mixed.scan_rows`): the batches scored agreed, and a batch size or rows they
    did not hold could still answer otherwise. Local and Spark parity both say it."""
    from onnxgate.validators.rows_mixed import rows_mixing_sentence

    count = len(mixed)
    return not_checked_item(
        "rows_mixed", f"{count} node{'s' if count > 1 else ''} computing over the batch's rows",
        f"{rows_mixing_sentence(mixed)}: a row's answer may depend on the other rows scored with it; the batches "
        "scored here agreed (and a batch of 10000 rows where it was scored), so score rows in the batch sizes the "
        "deployment uses, with the values it will see")


def _row_width(specs: Sequence[Any]) -> int:
    """The values one row takes in the tensors of ``specs`` whose other axes are known: a large batch is sized by its
    outputs too (a HashingVectorizer's 2**20 columns: 10,000 rows of them are 42 GB)."""
    import numpy as np

    widths = [int(np.prod(spec.shape[1:], dtype=np.int64)) for spec in specs
              if spec.shape and all(isinstance(d, int) and d > 0 for d in spec.shape[1:])]
    return sum(widths)


def _rows_that_differ(
    signature: Any, answers: Sequence[Any], theirs: Sequence[Any], tolerances: Mapping[str, tuple[float, float, str]],
    rows: int,
) -> tuple[Any, Any, Any, Any] | None:
    """The first output of ``signature`` whose answers to ``rows`` rows (``answers`` the file's, ``theirs`` the
    reference's) differ by parity's rule on some row: its spec, the two answers as arrays and the numbers of the rows
    that differ; or None. An output the reference does not give, a sequence, or answers of another shape or with no
    row per row are not compared."""
    import numpy as np

    for spec, mine, ref in zip(signature.outputs, answers, theirs):
        if ref is None or isinstance(mine, list):
            continue
        ours, expected = np.asarray(mine), np.asarray(ref)
        if ours.shape != expected.shape or not ours.shape or ours.shape[0] != rows:
            continue
        atol, rtol, mode = tolerances[spec.name]
        differs = _differences(expected, ours, mode == "exact", atol, rtol)
        bad = np.flatnonzero(np.asarray(differs).reshape(rows, -1).any(axis=1))
        if bad.size:
            return spec, ours, expected, bad
    return None


def _differences(expected: Any, actual: Any, exact: bool, atol: float, rtol: float) -> Any:
    """Where two answers differ by parity's own rule (:func:`element_mismatches`), element by element; text
    compared as text. An infinity both times is the same answer."""
    if expected.dtype.kind not in "biufc" or actual.dtype.kind not in "biufc":
        from onnxgate.validators.accumulator import _as_text

        return _as_text(expected) != _as_text(actual)  # bytes (TensorFlow's text) read as UTF-8 text
    import numpy as np

    # where no element can mismatch, said without the rule's 20 numpy calls (a row scored alone, 64 of them for a
    # traced reference: 5 of 37 ms validating a small MLP): compared exactly, the same values (NaN never is); else
    # values all within atol of each other, as a mismatch is over atol (as the rule computes it, in float64)
    if exact:
        if np.array_equal(expected, actual):
            return np.zeros(np.shape(expected), dtype=bool)
    else:
        ef, af = np.asarray(expected, dtype=np.float64), np.asarray(actual, dtype=np.float64)
        if ef.shape == af.shape:
            with np.errstate(invalid="ignore", over="ignore"):
                within = np.abs(af - ef) <= atol  # False where either is NaN or infinite (inf - inf is NaN)
            if within.all():
                return np.zeros(ef.shape, dtype=bool)
    return element_mismatches(expected, actual, atol=atol, rtol=rtol, exact=exact,
                              infinities_compare_equal=True).mismatch


def values_differ(expected: Any, actual: Any, exact: bool, atol: float, rtol: float) -> bool:
    """Whether a row's answers differ (:func:`_differences`)."""
    import numpy as np

    return bool(np.any(_differences(expected, actual, exact, atol, rtol)))


def _brief(value: Any, digits: int = 4, bare: bool = False) -> str:
    """Up to four of ``value``'s elements for a message, in brackets (``bare``: a single one without)."""
    import numpy as np

    flat = np.asarray(value).reshape(-1)
    shown = [f"{v:.{digits}g}" if isinstance(v, float) else repr(v) for v in flat[:4].tolist()]
    if bare and flat.size == 1:
        return shown[0]
    return "[" + ", ".join(shown) + (", ..." if flat.size > 4 else "") + "]"


def by_column(feeds: Mapping[str, Any], signature: Signature) -> Mapping[str, Any]:
    """``feeds`` keyed by the user's column names where the model records them, as the evidence shows
    inputs (a worst row reads ``sepal length (cm)``, not the exporter's ``sepal_length__cm_``), and a missing
    value fed as a text no data holds (a one-hot category learnt from None: ``"\\x00missing"``) shown as None,
    the value the user had."""
    import numpy as np

    fed_for_missing = {s.name: s.missing for s in signature.inputs if s.missing and s.missing.startswith("\x00")}
    if fed_for_missing:
        feeds = {key: np.where(value == fed_for_missing[key], None, value) if key in fed_for_missing else value
                 for key, value in feeds.items()}
    columns = signature.columns
    if not columns.renamed:
        return feeds
    return {columns.column_for(key): value for key, value in feeds.items()}


def accumulate_batch(
    accs: list[OutputAccumulator],
    onnx_out: list[Any],
    ref_out: list[Any],
    *,
    missing: set[str],
    row_offset: int,
    inputs: Mapping[str, np.ndarray] | None,
) -> None:
    """Add one batch's outputs to the accumulators (one per ONNX output, in output order).

    Outputs the reference has no counterpart for (``None``) are added to ``missing``; ZipMap
    outputs (a list of ``{class: probability}``) are compared as arrays.
    """
    from onnxgate.validators.reference import maps_to_array, side_by_side

    for acc, ours, theirs in zip(accs, onnx_out, ref_out):
        if theirs is None:
            missing.add(acc.name)
            continue
        if isinstance(ours, list):  # ZipMap: a list of {class: probability}
            ours = maps_to_array(ours) if ours and isinstance(ours[0], Mapping) else ours
        # the reference's side went through reference._as_array, which lays a sequence out the same way
        acc.update(theirs, side_by_side(ours), row_offset=row_offset, inputs=inputs)


def parity_result(
    accs: list[OutputAccumulator],
    output_names: list[str],
    *,
    missing: set[str],
    rows: int,
    details: Mapping[str, Any],
    infinities_compare_equal: bool = True,
    model: Any = None,
    rows_float32: bool = False,
    classes: Sequence[Any] | None = None,
    typed_reference: bool = False,
) -> CheckResult:
    """The ``prediction_parity`` verdict from accumulated statistics, one per ONNX output.

    Shared by :func:`check_prediction_parity` and the distributed check (:mod:`onnxgate.spark`), so
    both give the same evidence, messages and verdicts.

    Parameters
    ----------
    accs : list of OutputAccumulator
        One per ONNX output, in output order, holding every row's statistics.
    output_names : list of str
        The ONNX model's output names.
    missing : set of str
        Outputs the reference has no counterpart for.
    rows : int
        Rows compared.
    details : mapping
        Evidence on how the rows were read (``batches``, ``batch_size``, ``data_sha256``...), placed
        after ``rows`` in ``details``.
    infinities_compare_equal : bool
        Whether equal infinities matched.
    model : onnx.ModelProto, optional
        The ONNX model, for the hint a failure carries when it computes in float32 from float64 data;
        an adapted model whose outputs are not the ones its adaptation recorded fails
        (:func:`onnxgate.adaptation.mapping.outputs_off_record`).
    rows_float32 : bool
        The rows were float32 (:func:`onnxgate._data.float32_rows`), for the hint a failure carries when
        the model takes them as double.
    classes : sequence, optional
        The classes a classifier reference answers (:func:`onnxgate.validators.reference.reference_classes`):
        ``details["classes_seen"]`` counts those the reference answered on the data, and a passing message says
        when some were never answered (:func:`classes_seen`).
    typed_reference : bool
        The reference is a traced framework's model (:func:`traces_forward`), whose every output has its graph's
        dtype: an output of another kind (int, float, bool) fails, whatever its tolerance.

    Returns
    -------
    CheckResult
    """
    name = "prediction_parity"
    done = rows
    results: list[OutputComparison] = []
    for acc in accs:
        if acc.name in missing and acc.rows == 0:
            acc.shape_status = "not compared"
            acc.note = "the reference has no counterpart for this output"
        result = acc.result()
        retyped = _kind_changed(acc, model, typed_reference)
        if retyped and result.shape_status != "not compared":
            import dataclasses

            result = dataclasses.replace(result, passed=False, note=retyped)
        results.append(result)
    results = _without_argmax_of_several_labels(results)
    compared = [r for r in results if r.shape_status != "not compared"]
    evidence: dict[str, Any] = {
        "rows": done,
        **details,
        "infinities_compare_equal": infinities_compare_equal,
        "names": {
            "onnx_outputs": output_names,
            "compared": [r.name for r in compared],
            "not_compared": sorted(missing),
            "matched_by": "order",
        },
        "outputs": [r.to_dict() for r in results],
        "policy": {
            "rule": "mismatch when abs > atol and rel > rtol; rel = abs / |reference|; against a reference of "
                    "whole numbers, also when abs > atol and abs >= 0.5",
            "default_tolerances": {k: list(v) for k, v in DEFAULT_TOLERANCES.items()},
            "exact_types": sorted(EXACT_TYPES),
            "label_name_hints": list(LABEL_NAME_HINTS),
        },
    }
    from onnxgate.adaptation.mapping import split_outputs
    from onnxgate.signature import output_class_labels

    seen = classes_seen(accs, classes, None if model is None else output_class_labels(model),
                        split=frozenset() if model is None else split_outputs(model))
    if seen is not None:
        evidence["classes_seen"] = seen
    off_record = None
    if model is not None:
        from onnxgate.adaptation.mapping import outputs_off_record

        off_record = outputs_off_record(model)
    if off_record is not None:  # what was compared was laid out by a record the outputs no longer follow
        return CheckResult(name, False, off_record, {**evidence, "outputs_off_record": off_record})
    if not compared:
        return CheckResult(
            name,
            False,
            f"no output could be compared: the reference has no counterpart for {output_names}",
            evidence,
        )
    failed = [r for r in compared if not r.passed]
    inside, edited = _float32_inside_double(model)
    if inside:
        evidence["float32_in_double"] = inside
    if failed or edited:
        message = "; ".join(r.line() for r in failed)
        hint = _precision_hint(model, failed, rows_float32) if model is not None and failed else ""
        hint = " ".join(h for h in (_class_labels_hint(model, failed), _raw_scores_hint(model, failed), hint,
                                    _quantized_step_hint(model, failed), edited) if h)
        if hint:
            evidence["precision_hint"] = hint
            message = f"{message}. {hint}" if message else hint
        return CheckResult(name, False, message, evidence)
    exact = [r for r in compared if r.mode == "exact"]
    numeric_max = max((r.abs["max"] for r in compared if r.abs is not None and r.mode == "tolerance"), default=None)
    extra = []
    if exact:
        extra.append(f"{len(exact)} exact")
    if numeric_max is not None:
        extra.append(f"max_abs {numeric_max:.1e}")
    if missing:
        extra.append(f"not compared: {sorted(missing)}")
    if seen is not None and seen["seen"] < seen["classes"]:
        # a label output right on the classes the data shows says nothing of the others: a file with its class
        # table reordered passed on rows of one class (helper-318's audit)
        extra.append(f"labels seen: {seen['seen']} of {seen['classes']} classes")
    recorded = _recorded_missing_note(model)
    if recorded:  # the reference predicted with a setting it took from the file, which parity cannot check
        extra.append(recorded)
        evidence["reference_note"] = recorded
    if inside:  # a file that says double computing in float32, its rounding under float64's tolerances (FP05)
        extra.append(_inside_clause(inside))
    narrow = _half_precision_note(model, compared)
    if narrow:
        # a mixed_float16 Keras model passed on float16's tolerances without a word (helper-82)
        extra.append(narrow)
        evidence["tolerance_note"] = narrow
    return CheckResult(
        name,
        True,
        f"{len(compared)} output(s) match on {done} row{'' if done == 1 else 's'}"
        + (f" ({'; '.join(extra)})" if extra else ""),
        evidence,
    )


def _inside_clause(inside: Sequence[Mapping[str, Any]]) -> str:
    computed = [c for n in inside for c in (n["computes"] or [n["node"]])]
    shown = ", ".join(f"'{c}'" for c in computed[:3]) + (f" and {len(computed) - 3} more" if len(computed) > 3 else "")
    types = " or ".join(sorted({n["to"] for n in inside}))
    return (f"the file computes node{'s' if len(computed) > 1 else ''} {shown} in {types} between double input and "
            "output")


def _float32_inside_double(model: Any) -> tuple[list[dict[str, Any]], str]:
    """The narrowings (:mod:`onnxgate._narrowing`) of a file with float64 inputs and outputs that its conversion
    did not record, as evidence; and, where the file holds that record (:data:`onnxgate._narrowing.FLOAT32_NODES_KEY`,
    written by :func:`onnxgate.convert`), the failure saying so: the file was changed after conversion to compute
    in float32, whose rounding (6e-8 on a LogisticRegression's probabilities) float64's tolerances do not show."""
    if model is None or not hasattr(model, "graph"):
        return [], ""
    from onnxgate._narrowing import FLOAT32_NODES_KEY, declared, undeclared_narrowings
    from onnxgate._onnx import model_fact
    from onnxgate.converters.sklearn import PRECISION_METADATA_KEY

    found, recorded = model_fact(model, "undeclared_narrowings", undeclared_narrowings)  # shape inference: once
    if not found:
        return [], ""
    inside = [n.to_dict() for n in found]
    if not recorded:
        return inside, ""
    precision = next((p.value for p in model.metadata_props if p.key == PRECISION_METADATA_KEY), None)
    said = f"{PRECISION_METADATA_KEY}={precision}, " if precision else ""
    wrote = sorted(declared(model) or ())
    atol, rtol = DEFAULT_TOLERANCES["float64"]
    clause = _inside_clause(inside)
    return inside, (
        f"{clause[0].upper()}{clause[1:]} (node {found[0].label!r} narrows {found[0].source!r} to {found[0].to}), "
        f"which its conversion did not write (metadata {said}"
        f"{FLOAT32_NODES_KEY}={wrote}): the file was changed after conversion, and its answers carry float32 "
        f"rounding that float64's tolerances (atol {atol:g}, rtol {rtol:g}) do not show. Convert the model again; "
        "if float32 is meant, convert to a file whose outputs are float32 (scikit-learn: precision='float32') so "
        "its types say so"
    )


#: Failed outputs that float32 rounding rarely explains: more than this share of the rows off...
ROUNDING_ROWS = 0.1
#: ...with a median relative error above this (rounding leaves ~1e-7, flipped branches move few rows)...
ROUNDING_MEDIAN_REL = 1e-3
#: ...or a largest one above this: rounding that moves that many rows moves each by far less.
ROUNDING_MAX_REL = 1e-2


def _without_argmax_of_several_labels(results: list[OutputComparison]) -> list[OutputComparison]:
    """``results`` without the argmax evidence ("argmax differs on N rows") when a label output holds several values
    per row: a multi-label classifier's [N,k] of 0/1 (CatBoost MultiLogloss, OneVsRestClassifier or ClassifierChain
    on a [N,k] y), a multi-output classifier's [N,t]. Its probabilities are k independent ones, or t distributions
    side by side, never one distribution per row, so the column of the largest is no answer of the model's; the
    label output's own rows that differ tell which labels flipped.

    The rule reads the label, not the probabilities: a multi-class classifier's label is one value per row, whatever
    its probabilities sum to (raw scores, a calibration's), so it keeps its argmax. A model beside whose scores an
    integer output holds several values per row (a top-k) loses it too: less is said, nothing false."""
    several = any(r.mode == "exact" and r.shape_status != "not compared" and r.expected_shape is not None
                  and math.prod(r.expected_shape[1:]) > 1 for r in results)
    if not several:
        return results
    return [dataclasses.replace(r, argmax_disagreements=None) if r.argmax_disagreements is not None else r
            for r in results]


def classes_seen(accs: Sequence[OutputAccumulator], classes: Sequence[Any] | None,
                 labels: Mapping[str, Sequence[str]] | None = None,
                 split: Collection[str] = ()) -> dict[str, Any] | None:
    """How many of a classifier reference's ``classes`` it answered on the data: ``{"classes": n, "seen": k,
    "output": name, "not_seen": [...]}`` (the first :data:`CLASSES_NOT_SEEN_SHOWN` classes never answered), read
    from the first label output's confusion table whose reference labels are all among ``classes``; None without
    classes or such a table. ``labels``: the text of each code of the outputs that return text labels as codes
    (:func:`onnxgate.signature.output_class_labels`), whose table counts the codes. ``split``: the outputs that
    each hold one column of a wider output (:func:`onnxgate.adaptation.mapping.split_outputs`), never read.

    Only a label of one value per row answers one of ``classes``. A multi-label classifier's label is [N,k], k
    labels of 0 or 1, and its ``classes_`` names the k labels (OneVsRestClassifier's, CatBoost's MultiLogloss):
    read as classes, its 0/1 looked like 2 of 4 classes answered. Its own confusion table is not kept (several
    values per row), but a SQL target splits it into k outputs of one value each, told by ``split``."""
    if not classes:
        return None
    known = set(classes)
    for acc in accs:
        counts = acc.confusion
        if acc.mode != "exact" or not counts or not acc.rows or acc.name in split:
            continue
        answered = {theirs for theirs, _ in counts}  # each reference label counted was answered at least once
        texts = (labels or {}).get(acc.name)
        if texts is not None:  # codes: a SQL target's text labels
            answered = {texts[int(c)] if 0 <= int(c) < len(texts) else c for c in answered}
        if not answered <= known:
            continue
        not_seen = [c for c in classes if c not in answered]
        return {"output": acc.name, "classes": len(classes), "seen": len(classes) - len(not_seen),
                "not_seen": not_seen[:CLASSES_NOT_SEEN_SHOWN]}
    return None


def _precision_hint(model: Any, failed: Sequence[OutputComparison] = (), rows_float32: bool = False) -> str:
    """The setting that removes float32 rounding, for a model converted from float64 data in float32;
    said with a warning where the failures are broader than rounding makes (the conversion itself may be
    wrong: OneVsRestClassifier(LinearSVC) scores off by 7.8 had been put down to rounding)."""
    from onnxgate.converters.sklearn import PRECISION_METADATA_KEY

    if any(r.shape_status == "mismatch" for r in failed):
        return ""  # rounding changes values, never the rows answered (BaggingClassifier(SVC()); helper-89)
    # float32 rounding moves many rows only a little, or a few (a flipped branch) a lot; a moved tree threshold
    # moved 152 of 442 rows by up to 19.9, and the hint sent the user to precision='float64' (helper-76)
    broad = [r for r in failed if r.mismatch_rate > ROUNDING_ROWS and (
        r.mode == "exact" or (r.rel is not None and (r.rel.get("median", 0.0) > ROUNDING_MEDIAN_REL
                                                     or r.rel.get("max", 0.0) > ROUNDING_MAX_REL)))]
    for prop in model.metadata_props:
        if prop.key == PRECISION_METADATA_KEY and prop.value == "float32":
            return _float32_rows_hint(broad, model, rows_float32)
        if prop.key == PRECISION_METADATA_KEY and prop.value == "float64" and rows_float32:
            return _double_model_hint(broad)
        if prop.key != PRECISION_METADATA_KEY or not prop.value.startswith("float32-from-float64"):
            continue
        head = (
            "The model computes in float32 while its inputs and the reference are float64 (metadata "
            f"{PRECISION_METADATA_KEY}={prop.value}): float32 rounding can flip a label or a tree branch "
            "near a threshold."
        )
        if broad:
            worst = max(broad, key=lambda r: r.mismatch_rate)
            head += (f" It rarely moves {100 * worst.mismatch_rate:.0f}% of the rows ({worst.name!r}) this far: "
                     "the conversion itself may be wrong, and wider tolerances would hide it.")
            return head  # a double graph is no answer to a wrong file
        if prop.value.endswith(":no-double"):
            return (f"{head} skl2onnx cannot convert this model in double (the conversion's warning says why), so "
                    "precision='float64' is no fix: if the differences above are acceptable, pass atol/rtol "
                    "for these outputs")
        return f"{head} Convert with precision='float64' (CLI: --precision float64) to keep double"
    return ""


def _class_labels_hint(model: Any, failed: Sequence[OutputComparison]) -> str:
    """How a failed output of class codes (a classifier's text labels, on a target that returns no text) was
    compared: by the labels the file records for its codes, which its SQL package's label table holds, so a record
    that names them otherwise than the graph computes them fails, as its table would answer other labels."""
    from onnxgate.signature import CLASS_LABELS_METADATA_KEY, output_class_labels

    if model is None:
        return ""
    recorded = output_class_labels(model)
    coded = [r.name for r in failed if r.name in recorded]
    if not coded:
        return ""
    labels = recorded[coded[0]]
    shown = ", ".join(f"{code} {text!r}" for code, text in enumerate(labels[:10])) + (", ..." if len(labels) > 10
                                                                                      else "")
    return (f"Output {coded[0]!r} returns the code of each class, and the reference's text labels were compared as "
            f"the codes the model records for them (metadata {CLASS_LABELS_METADATA_KEY}: {shown}), the labels its "
            "SQL package's table gives back: a record edited, or a graph that codes the classes otherwise, fails "
            "every row of the classes concerned. Convert the classifier again for the target.")


def _raw_scores_hint(model: Any, failed: Sequence[OutputComparison]) -> str:
    """What a classifier's failed probabilities hold when skl2onnx's ``raw_scores`` option was asked at conversion
    (recorded as :data:`onnxgate.converters.sklearn.RAW_SCORES_METADATA_KEY`): decision scores, which a
    scikit-learn reference answers by its ``decision_function`` and a reference callable must return so."""
    from onnxgate.converters.sklearn import RAW_SCORES_METADATA_KEY

    asked = next((p.value for p in getattr(model, "metadata_props", ()) if p.key == RAW_SCORES_METADATA_KEY), None)
    scores = [r.name for r in failed if "prob" in r.name.lower()]
    if asked is None or not scores:
        return ""
    return (f"The file's {scores[0]!r} holds {asked}'s raw scores (decision_function; two classes as [-d, d]): "
            f"skl2onnx's raw_scores option was asked for at conversion (metadata {RAW_SCORES_METADATA_KEY}). A "
            "scikit-learn reference is compared by its decision_function laid out so; a reference callable must "
            "return the label and the scores so.")


def _quantized_step_hint(model: Any, failed: Sequence[OutputComparison]) -> str:
    """Why a quantized output failed, when it did by steps of its ``DequantizeLinear``'s scale: a static-quantized
    torch model failed float32's atol 1e-4 on 1 value of 192, off by exactly one step (0.00864), the file rounding
    in float where torch rounds in integers, and the report said no more (helper-261). No wider tolerance is taken
    on its own: a zero point one off moves every value by one step too."""
    from onnxgate.validators.tolerances import _quantized_steps

    steps = _quantized_steps(model) if model is not None else {}
    said = []
    for r in failed:
        step = steps.get(r.name)
        if step is None or not step or r.mode != "tolerance" or r.abs is None or r.nonfinite_mismatches:
            continue
        most = r.abs.get("max", 0.0) / step
        if most <= 1.001:
            # one step as the output holds it differs from the scale by rounding: suggest a tolerance that passes
            # (the scale itself failed a value 0.00864 off by a hair); 3 digits rounded up, at most 1% above
            exponent = math.floor(math.log10(step * 1.001)) - 2
            suggested = f"{math.ceil(step * 1.001 / 10**exponent) * 10**exponent:.3g}"
            said.append(f"output {r.name!r} is quantized in steps of {step:.3g} (the scale of the DequantizeLinear "
                        f"that writes it) and its {r.mismatched_values} mismatched value(s) of {r.values} are one step "
                        "off: the file computes between QuantizeLinear and DequantizeLinear in float, the framework "
                        "in integers, and a value on a step's boundary rounds to the next step in one of them. If "
                        f"one step is acceptable, pass atol={suggested} (CLI: --atol {suggested}); a share of values "
                        "far above the data's few boundary cases points at a wrong scale or zero point instead")
        else:
            said.append(f"output {r.name!r} is quantized in steps of {step:.3g} and is up to {most:.1f} steps off: "
                        "more than rounding on a step's boundary makes")
    return ". ".join(said)


def _double_model_hint(broad: Sequence[OutputComparison]) -> str:
    """The hint for a scikit-learn model converted from float64 rows and validated on float32 ones: the
    reference computes on the rows as given (a float64-fitted MinMaxScaler on float32 rows computes in
    float32), the file widens them and computes in double (helper-85)."""
    if broad:
        return ""
    return ("The rows are float32 while the model takes double (metadata onnxgate.precision=float64): scikit-learn "
            "computed on the float32 rows as given (its scalers compute in float32 on them), the file in double. "
            "If the deployment's rows are float32, convert with a float32 sample so the file reads them as "
            "scikit-learn does; if they are double, validate with float64 rows")


def _float32_rows_hint(broad: Sequence[OutputComparison], model: Any, rows_float32: bool = True) -> str:
    """The hint for a scikit-learn model converted from float32 rows, which computes in float32 where
    scikit-learn may compute parts in float64 (a KMeans fitted on float32 wine widens the rows for its
    distances: the float32 file was 1.3e-3 off on one of 178 rows, the float64 one within float64's
    tolerances). Not said for a graph of tree ensembles, which compare float32 whatever the precision (a
    PCA before XGBoost failed the same in both; helper-75), nor for failures broader than rounding."""
    if broad or any(node.op_type.startswith("TreeEnsemble") for node in model.graph.node):
        return ""
    if not any(i.type.tensor_type.elem_type == 1 for i in model.graph.input):
        return ""  # no float32 rows: a text model's sample asked nothing of the kind (helper-108)
    if not rows_float32:
        # wider rows into the float32 input: a double graph behind it reads them rounded all the same (a
        # float32 KNN file rounding float64 prices onto a neighbour tie; helper-144)
        return ("The model was converted from a float32 sample, so its input is float32: these wider rows are "
                "rounded to float32 before anything is computed, while scikit-learn computed on them as given. If "
                "the deployment's rows are float64, convert with a float64 sample (the input and the graph stay "
                "double); if they are float32, validate with float32 rows")
    return ("The model computes in float32, as its float32 sample asked; where scikit-learn computes in float64 "
            "(KMeans' distances do), converting with precision='float64' (CLI: --precision float64) computes in "
            "double inside the graph, its inputs staying float32, and may match it")
