"""The parity rule, written once: element by element, and row by row with evidence.

The rule is Polygraphy's: a value mismatches when ``abs > atol`` **and** ``rel > rtol``, with
``abs = |onnx - reference|`` and ``rel = abs / |reference|`` (``rel`` is ``inf`` where the reference
is 0 and the values differ, 0 where both are 0). NaN against NaN matches; NaN against a number
mismatches, and so does an infinity unless both are the same infinity (``infinities_compare_equal``, the
default; False mismatches it too, as Polygraphy does); there ``abs`` is undefined, so evidence states the
two values instead of a difference. Against a reference answering integers or booleans, a value
:data:`WHOLE_NUMBER_STEP` or more off (and over ``atol``) is another number whatever ``rtol`` allows.

:func:`element_mismatches` is the rule; :func:`onnxgate.validators.parity.compare_arrays` (parity's
statistics) and :func:`compare_rows` (one verdict and one piece of evidence per row: the divergence
search, the DuckDB dry run) apply it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np

__all__ = ["WHOLE_NUMBER_STEP", "ElementMismatches", "RowComparison", "compare_rows", "describe_row_evidence",
           "element_mismatches", "whole_numbers"]


def _abs_rel_differences(ef: np.ndarray, af: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(finite, abs, rel)`` of float64 reference values ``ef`` and ONNX values ``af``, element-wise.

    ``abs = |af - ef|`` and ``rel = abs / |ef|`` (``inf`` where ``ef`` is 0 and the values differ,
    0 where both are 0); both are 0 where either value is not finite, which ``finite`` marks.
    """
    import numpy as np

    finite = np.isfinite(ef) & np.isfinite(af)
    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
        absd = np.where(finite, np.abs(af - ef), 0.0)
        denom = np.abs(ef)
        rel = np.where(denom > 0, absd / np.where(denom > 0, denom, 1.0), np.where(absd > 0, np.inf, 0.0))
    return finite, absd, np.where(finite, rel, 0.0)


@dataclass(frozen=True)
class ElementMismatches:
    """The parity rule applied element by element (see :func:`element_mismatches`)."""

    #: True where the element mismatches.
    mismatch: np.ndarray
    #: True where both values are finite (``abs`` and ``rel`` are defined there, 0 elsewhere).
    finite: np.ndarray
    abs: np.ndarray
    rel: np.ndarray
    #: True where a non-finite value mismatches (NaN against a number, an infinity against anything
    #: but, with ``infinities_compare_equal``, the same infinity).
    bad_nonfinite: np.ndarray


#: How far a value may be from a reference answering whole numbers (integers, booleans) before it is another
#: number whatever rtol allows: a float output holding class ids 1 off passed rtol 1e-3 on every id past 1,000
#: (152 of 300 rows; helper-144).
WHOLE_NUMBER_STEP = 0.5


def whole_numbers(expected: Any) -> bool:
    """Whether the reference answered integers or booleans: a value :data:`WHOLE_NUMBER_STEP` or more off is then
    another answer, however large the values are (rtol does not widen it; atol, when that large, does)."""
    return getattr(expected, "dtype", None) is not None and expected.dtype.kind in "iub"


def element_mismatches(
    expected: np.ndarray,
    actual: np.ndarray,
    *,
    atol: float,
    rtol: float,
    exact: bool = False,
    infinities_compare_equal: bool = True,
) -> ElementMismatches:
    """The one element-wise parity rule, on numeric arrays of the same shape.

    A value mismatches when ``abs > atol`` and ``rel > rtol`` (or, where ``expected`` holds integers or booleans,
    ``abs >= 0.5``: :func:`whole_numbers`); with ``exact`` any difference does
    (compared in the original dtypes, so int64 beyond 2**53 too). NaN against NaN matches, NaN
    against a number mismatches, and equal infinities match unless ``infinities_compare_equal`` is False.
    :func:`compare_arrays` (parity), :func:`compare_rows` (the search, the DuckDB dry run) apply it.

    Examples
    --------
    >>> import numpy as np
    >>> element_mismatches(np.array([1.0, np.nan]), np.array([1.5, 0.2]), atol=0.1, rtol=0.1).mismatch.tolist()
    [True, True]
    """
    import numpy as np

    ef = np.asarray(expected, dtype=np.float64)
    af = np.asarray(actual, dtype=np.float64)
    finite, absd, rel = _abs_rel_differences(ef, af)
    both_nan = np.isnan(ef) & np.isnan(af)
    same_inf = np.isinf(ef) & (ef == af)
    ok_nonfinite = both_nan | (same_inf if infinities_compare_equal else False)
    bad_nonfinite = ~finite & ~ok_nonfinite
    if exact:
        differ = np.asarray(np.asarray(expected) != np.asarray(actual)) & ~both_nan
        mismatch = differ & finite | bad_nonfinite
    else:
        over = rel > rtol
        if whole_numbers(expected):
            over |= absd >= WHOLE_NUMBER_STEP
        mismatch = finite & (absd > atol) & over | bad_nonfinite
    return ElementMismatches(np.asarray(mismatch, dtype=bool), finite, absd, rel, bad_nonfinite)


@dataclass(frozen=True)
class RowComparison:
    """Per-row verdict for one output (see :func:`compare_rows`)."""

    #: True for each row with at least one mismatching value.
    rows: np.ndarray
    #: One evidence entry per row (``None`` for a matching row).
    evidence: list[dict[str, Any] | None]
    #: Whether the output was compared exactly (labels, non-numeric values).
    exact: bool

    @property
    def mismatched_rows(self) -> int:
        return int(self.rows.sum())


def compare_rows(
    expected: Any,
    actual: Any,
    *,
    atol: float,
    rtol: float,
    exact: bool = False,
    name: str = "output",
    rows: int | None = None,
    infinities_compare_equal: bool = True,
) -> RowComparison:
    """Compare one output row by row with the parity rule, keeping one piece of evidence per bad row.

    Parameters
    ----------
    expected, actual : array-like
        The reference's and the ONNX model's values, rows on the first axis.
    atol, rtol : float
        Tolerances (:func:`element_mismatches`).
    exact : bool
        Any difference counts (labels). Non-numeric values are always compared exactly.
    name : str
        The output's name, written into the evidence.
    rows : int, optional
        The number of rows both should hold (default: ``len(expected)``); when either holds another
        number of values every row fails with a shape error.
    infinities_compare_equal : bool
        Treat equal infinities as matching (the default; False: Polygraphy's rule).

    Returns
    -------
    RowComparison
        Each bad row's evidence names the output, the first worst value's ``index``, ``expected``
        and ``actual``; for a tolerance comparison also ``abs_diff``, ``rel_diff``, ``atol``,
        ``rtol``. Where a value is not finite (NaN against a number) the difference is undefined:
        ``abs_diff`` and ``rel_diff`` are NaN and ``nonfinite`` is true, so the evidence states the
        two values instead of a difference (:func:`describe_row_evidence`).

    Examples
    --------
    >>> import numpy as np
    >>> c = compare_rows(np.array([[0.1896], [1.0]]), np.array([[np.nan], [1.0]]), atol=1e-4, rtol=1e-3, name="y")
    >>> c.rows.tolist(), describe_row_evidence(c.evidence[0])
    ([True, False], 'NaN vs 0.1896 (ONNX vs reference)')
    """
    import numpy as np

    exp, act = np.asarray(expected), np.asarray(actual)
    m = int(rows if rows is not None else (exp.shape[0] if exp.ndim else 1))
    entries: list[dict[str, Any] | None] = [None] * m
    if m == 0:
        return RowComparison(np.zeros(0, bool), entries, exact)
    if exp.size != act.size or (exp.ndim and exp.shape[0] != m) or (act.ndim and act.shape[0] != m):
        for i in range(m):
            entries[i] = {"output": name, "error": f"shape {list(exp.shape)} vs {list(act.shape)}"}
        return RowComparison(np.ones(m, bool), entries, exact)
    e = exp.reshape(m, -1)
    a = act.reshape(m, -1)
    numeric = e.dtype.kind in "biuf" and a.dtype.kind in "biuf"
    exact = exact or not numeric
    rule: ElementMismatches | None = None
    if numeric:
        rule = element_mismatches(
            e, a, atol=atol, rtol=rtol, exact=exact, infinities_compare_equal=infinities_compare_equal
        )
        diff = rule.mismatch
    else:
        diff = np.asarray(e.astype(object) != a.astype(object), dtype=bool).reshape(e.shape)
    bad = np.asarray(diff.any(axis=1), dtype=bool)
    for i in (int(k) for k in np.flatnonzero(bad)):
        if rule is not None and not exact:
            score = np.where(diff[i], np.where(rule.finite[i], rule.abs[i], np.inf), -1.0)
            j = int(np.argmax(score))
        else:
            j = int(np.flatnonzero(diff[i])[0])
        entry: dict[str, Any] = {"output": name, "label": exact, "index": j,
                                 "expected": _py(e[i, j]), "actual": _py(a[i, j])}
        if rule is not None and not exact:
            if rule.finite[i, j]:
                entry.update(abs_diff=_py(rule.abs[i, j]), rel_diff=_py(rule.rel[i, j]), atol=atol, rtol=rtol)
            else:  # no difference between NaN and a number: the evidence is the two values
                entry.update(abs_diff=math.nan, rel_diff=math.nan, atol=atol, rtol=rtol, nonfinite=True)
        entries[i] = entry
    return RowComparison(bad, entries, exact)


def describe_row_evidence(entry: Mapping[str, Any]) -> str:
    """One evidence entry of :func:`compare_rows` in a few words.

    ``"abs=0.031 (atol 1e-05)"`` for a finite difference, ``"NaN vs 0.1896 (ONNX vs reference)"``
    when a value is not finite (never a difference of 0), ``"label 1 -> 2"`` for a label flip.
    """
    if entry.get("error"):
        return f"({entry['error']})"
    if entry.get("label"):
        return f"label {entry.get('expected')!r} -> {entry.get('actual')!r}"
    if entry.get("nonfinite"):
        return f"{_number(entry.get('actual'))} vs {_number(entry.get('expected'))} (ONNX vs reference)"
    if "abs_diff" in entry:
        return f"abs={entry['abs_diff']:.3g} (atol {entry['atol']:g})"
    return ""


def _number(value: Any) -> str:
    if isinstance(value, float):
        if math.isnan(value):
            return "NaN"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return f"{value:.4g}"
    return repr(value)


def _py(value: Any) -> Any:
    """A numpy scalar as the Python value (bytes as text), for evidence."""
    item = getattr(value, "item", None)
    value = item() if callable(item) else value
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return value
