"""``assert_parity``: one line in a user's test that fails with the evidence when ONNX and the original disagree."""

from __future__ import annotations

import importlib
import json
import numbers
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from onnxgate.errors import InvalidDataError, OnnxGateError, ParityError
from onnxgate.targets import resolve_target
from onnxgate.testing.checks import refusal
from onnxgate.validators.core import check_run_settings
from onnxgate.validators.parity import check_prediction_parity
from onnxgate.validators.search import check_search_divergences

if TYPE_CHECKING:
    from onnxgate.targets import Target
    from onnxgate.validators.report import CheckResult

__all__ = ["assert_parity", "format_evidence"]

#: Worst rows per output, and divergent rows from the search, quoted in the error message.
EVIDENCE_ROWS = 3
#: Longest rendering of one row in the message (the full row is in ``err.extra["results"]``).
ROW_CHARS = 300
#: What a comparison imports when it first runs, imported with this module instead: in a test module's
#: ``from onnxgate.testing import assert_parity``, at collection. Inside a Hypothesis test those imports fell in the
#: first example, which Hypothesis times: assert_parity on a 5-tree forest took 0.25-1.4 s there (0.45-0.73 s for a
#: pickled model against its .onnx file, onnx itself imported) and 20-60 ms in the next ones, and a correct model
#: failed "Unreliable test timings" under the default 200 ms deadline (helper-411). The reference's framework and its
#: converter module are imported by the first call still: which one is known only then.
COMPARISON_MODULES = (
    "onnx",
    "onnxruntime",
    "onnxgate._data",
    "onnxgate._files",
    "onnxgate._narrowing",
    "onnxgate._onnx",
    "onnxgate.converters",
    "onnxgate.validators.known_values",
    "onnxgate.validators.reference",
    "onnxgate.validators.rows_mixed",
    "onnxgate.validators.ties",
    "onnxgate.validators.tree_flips",
)
for _module in COMPARISON_MODULES:
    importlib.import_module(_module)


def _short(value: Any) -> str:
    text = json.dumps(value, default=str)
    return text if len(text) <= ROW_CHARS else text[: ROW_CHARS - 3] + "..."


def format_evidence(result: CheckResult) -> str:
    """The lines of evidence for a failed parity or search result (stats, then the worst rows)."""
    lines = [f"  {result}"]
    details: Mapping[str, Any] = result.details
    for out in details.get("outputs", []) or []:
        if not isinstance(out, Mapping):  # structural checks list output names, not parity evidence
            continue
        if out.get("passed", True):
            continue
        shape = out.get("shape") or {}
        if shape.get("status") == "mismatch":  # no value was compared: "0/0 rows" said nothing
            lines.append(f"    output {out.get('name')!r}: shape {shape.get('reference')} (reference) against "
                         f"{shape.get('onnx')} (onnx)")
            continue
        stats = out.get("abs") or {}
        head = (
            f"    output {out.get('name')!r} ({out.get('mode')}): "
            f"{out.get('mismatched_rows')}/{out.get('rows')} rows"
        )
        if stats and out.get("mode") == "exact":  # labels: no tolerance makes a wrong label right (helper-95)
            head += f", max_abs={stats.get('max'):.3g}; compared exactly (no tolerance applies)"
        elif stats and out.get("nonfinite_mismatches"):  # the stats cover finite pairs: 0 read as "nearly right"
            head += (
                f", max_abs={stats.get('max'):.3g} mean_abs={stats.get('mean'):.3g} over the finite values "
                f"(atol {out.get('atol'):g}, rtol {out.get('rtol'):g}); no atol passes a NaN or infinity "
                "against a number"
            )
        elif stats:
            head += (
                f", max_abs={stats.get('max'):.3g} mean_abs={stats.get('mean'):.3g} "
                f"(atol {out.get('atol'):g}, rtol {out.get('rtol'):g}); "
                f"smallest passing atol {out.get('min_atol')}"
            )
        lines.append(head)
        if out.get("nonfinite_mismatches"):
            # a count of values under a head counting rows ("18 of them" under "6/150 rows"), and the clause on
            # infinities_compare_equal=False read where it was not given (helper-158)
            same_inf = ("" if details.get("infinities_compare_equal", True) else
                        ", or the same infinity on both sides, which mismatches with infinities_compare_equal=False")
            lines.append(f"      {out['nonfinite_mismatches']} mismatched value(s) in them NaN or infinity against "
                         f"another value{same_inf}")
        for row in list(out.get("worst_rows", []))[:EVIDENCE_ROWS]:
            if not row.get("mismatch"):
                continue
            lines.append(
                f"      row {row.get('row')}: inputs {_short(row.get('inputs'))} reference "
                f"{_short(row.get('reference'))} onnx {_short(row.get('onnx'))}"
            )
    for div in list(details.get("divergences", []) or [])[:EVIDENCE_ROWS]:
        outs = "; ".join(
            f"{o.get('output')!r} reference {o.get('expected')!r} onnx {o.get('actual')!r}"
            + (f" (abs {o['abs_diff']:.3g})" if "abs_diff" in o else "")
            for o in div.get("outputs", [])
        )
        lines.append(f"    divergent row ({div.get('phase')}): {_short(div.get('row'))}: {outs}")
        if div.get("explanation"):
            lines.append(f"      why: {div['explanation']}")
    if "seed" in details and "rows_tried" in details:
        lines.append(f"    search: seed {details['seed']}, {details['rows_tried']} rows tried")
    return "\n".join(lines)


def _not_run(result: CheckResult) -> bool:
    """Whether a failed parity or search compared nothing (the file lacks an input the reference reads, a scalar
    input...): its ``details["error"]`` says why, and no tolerance changes it."""
    return bool(result.details.get("error"))


def _tolerance_may_pass(failed: Sequence[CheckResult]) -> bool:
    """Whether a larger atol/rtol could make some failed output pass: a compared-by-tolerance output with
    a mismatch that is not NaN or infinity against a number (a search's divergences always count)."""
    for result in failed:
        outputs = [o for o in result.details.get("outputs", []) or [] if isinstance(o, Mapping)]
        if result.name == "prediction_parity" and result.message.startswith("onnxruntime failed"):
            continue  # nothing to compare: the file did not run on the rows
        if _not_run(result):
            continue
        if result.name != "prediction_parity" or not outputs:
            return True
        for out in outputs:
            if out.get("passed", True) or out.get("mode") == "exact":
                continue
            if (out.get("shape") or {}).get("status") == "mismatch":
                continue
            nonfinite = out.get("nonfinite_mismatches") or 0
            if out.get("mismatched_values") is not None:
                # a finite value mismatches (abs > atol and rel > rtol): a tolerance can pass it. The largest finite
                # difference alone said so for outputs near 1e5 whose only mismatches were NaN (rel 1e-7, helper-158)
                if out["mismatched_values"] > nonfinite:
                    return True
                continue
            finite_max = (out.get("abs") or {}).get("max") or 0.0
            if (out.get("mismatched_rows") or 0) > nonfinite or finite_max > (out.get("atol") or 0.0):
                return True
    return False


def assert_parity(
    reference: Any,
    onnx_model: Any,
    data: Any,
    *,
    atol: float | Mapping[str, float] | None = None,
    rtol: float | Mapping[str, float] | None = None,
    search: int = 0,
    seed: int = 0,
    target: str | Target | None = None,
    search_time_limit: float | None = None,
    infinities_compare_equal: bool = True,
) -> tuple[CheckResult, ...]:
    """Assert that ``onnx_model`` predicts what ``reference`` predicts on ``data`` (and on searched rows).

    Parameters
    ----------
    reference : object
        The original model (scikit-learn, PyTorch, TensorFlow, Keras), a second ONNX model, or a
        callable ``f(feeds) -> outputs``.
    onnx_model : onnx.ModelProto, path, bytes or Conversion
        The converted model.
    data : array, DataFrame, dict of arrays or path
        Rows to compare on.
    atol, rtol : float or mapping, optional
        Tolerances, per output with a ``""`` default; defaults by element type, labels exact.
    search : int
        Budget of searched rows (:func:`onnxgate.validators.search.check_search_divergences`);
        0 compares on ``data`` only.
    seed : int
        Seed of the search, quoted in the message so a failure can be replayed.
    target : str or Target, optional
        Whether the search may try NaN and infinity (``Target.allow_nan``).
    search_time_limit : float, optional
        Seconds the search may take.
    infinities_compare_equal : bool
        Let the same infinity on both sides match (the default, as ``validate`` compares); False
        mismatches an infinity even against the same one, as Polygraphy does.

    Returns
    -------
    tuple of CheckResult
        The parity result, then the search result when ``search > 0``.

    Raises
    ------
    ParityError
        The outputs differ beyond tolerance. The message has the statistics per output, the worst
        rows (inputs and both predictions) and any divergent row the search found, with its
        explanation; ``err.extra["results"]`` holds the CheckResults.
    InvalidDataError
        No data, or a ``search`` budget that is not a whole number >= 0.

    Examples
    --------
    >>> from onnxgate.testing import assert_parity
    >>> assert_parity(clf, conv, X_test, search=500)  # doctest: +SKIP
    """
    __tracebackhide__ = True  # pytest shows the user's line and the evidence, not this function's body
    if data is None:
        raise InvalidDataError("assert_parity needs data: the rows to compare the two models on")
    if not isinstance(search, numbers.Integral) or isinstance(search, bool) or search < 0:
        raise InvalidDataError(f"search must be a whole number of rows >= 0 (0: no search), found {search!r}")
    if not isinstance(infinities_compare_equal, bool):
        raise InvalidDataError(f"infinities_compare_equal: expected True or False, found {infinities_compare_equal!r}")
    refused: OnnxGateError | None = None
    try:
        # refused before parity runs, not only when the search (which reads them) does: target="contaner" passed
        check_run_settings(atol=atol, rtol=rtol, seed=seed, search_time_limit=search_time_limit)
        resolve_target(target)
        results = [check_prediction_parity(onnx_model, reference, data, atol=atol, rtol=rtol, progress=False,
                                           infinities_compare_equal=infinities_compare_equal)]
        if search > 0:
            results.append(
                check_search_divergences(
                    onnx_model, reference, data, budget=search, seed=seed, atol=atol, rtol=rtol,
                    target=target, time_limit=search_time_limit,
                )
            )
    except OnnxGateError as err:
        if refusal(err) is None:
            raise
        refused = err
    if refused is not None:
        # what onnxgate refuses (a path that is no ONNX file, rows that do not fit) is raised from this line, its
        # type, fields and cause kept: a test showed its traceback through parity's and the loader's bodies
        # (40 lines for a text file named model.onnx); raised outside the except, so no "During handling" chain
        raise refused.with_traceback(None)
    failed = [r for r in results if not r.passed and not r.skipped]
    if failed:
        body = "\n".join(format_evidence(r) for r in failed)
        advice = ("Loosen atol/rtol only if these differences are acceptable (a label or another exactly compared "
                  "output has none); otherwise fix the conversion." if _tolerance_may_pass(failed) else
                  "Nothing was compared, so no tolerance helps: fix the file as said above."
                  if all(_not_run(r) for r in failed) else
                  "No tolerance makes these outputs match (labels, shapes, NaN or infinity against a number, "
                  "onnxruntime failing on rows the reference predicts): "
                  "fix the conversion, or the data if such values are not expected there.")
        raise ParityError(
            f"the ONNX model does not predict what the reference predicts ({len(failed)} of {len(results)} "
            f"checks failed):\n{body}\n{advice}",
            results=tuple(results),
        )
    return tuple(results)
