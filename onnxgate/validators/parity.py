"""Prediction parity: run the ONNX model and the reference on the same rows and compare every output.

Outputs are compared on three levels, each reported: names and order (every ONNX output has a
reference counterpart), shapes, then values.

The element-wise rule is Polygraphy's: a value mismatches when ``abs > atol`` **and** ``rel > rtol``,
with ``abs = |onnx - reference|`` and ``rel = abs / |reference|`` (``rel`` is ``inf`` where the
reference is 0 and the values differ, 0 where both are 0). NaN against a number mismatches, NaN
against NaN matches, and equal infinities match only with ``infinities_compare_equal=True``
(otherwise their difference is undefined, as in Polygraphy).

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

import hashlib
import math
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from onnxgate.errors import InvalidDataError, OnnxGateError
from onnxgate.sketch import LogHistogram
from onnxgate.validators.report import CheckResult, jsonable

if TYPE_CHECKING:
    import numpy as np

    from onnxgate.signature import TensorSpec

__all__ = [
    "CONFUSION_LABEL_LIMIT",
    "DEFAULT_BATCH_SIZE",
    "DEFAULT_TOLERANCES",
    "EXACT_QUANTILE_LIMIT",
    "HISTOGRAM_BINS_PER_DECADE",
    "LABEL_NAME_HINTS",
    "SAMPLE_ROWS",
    "WORST_ROWS",
    "OutputAccumulator",
    "OutputComparison",
    "accumulate_batch",
    "check_prediction_parity",
    "compare_arrays",
    "hash_feeds",
    "parity_result",
    "resolve_tolerances",
]

#: (atol, rtol) by ONNX output element type. float32 allows for the float32 arithmetic inside most
#: converted graphs against a float64 reference; float64 for graphs that compute in double.
DEFAULT_TOLERANCES: Mapping[str, tuple[float, float]] = {
    "float16": (1e-3, 1e-2),
    "bfloat16": (1e-2, 1e-2),
    "float32": (1e-4, 1e-3),
    "float64": (1e-7, 1e-6),
}
#: Element types compared exactly by default (labels, counts, flags, strings).
EXACT_TYPES = frozenset({"int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64", "bool", "string"})
#: A floating-point output whose name contains one of these holds class labels: compared exactly.
LABEL_NAME_HINTS: tuple[str, ...] = ("label",)
#: Rows run per batch: bounds memory whatever the number of rows. The reference's and onnxruntime's
#: per-batch temporaries dominate the peak (an MLP's float64 hidden layers: rows x width x 8 bytes);
#: 16,384 rows kept a 1,000,000-row MLP check at about 1.2x the data (65,536: 3x) at no measured cost
#: in time (bench/bench_parity.py).
DEFAULT_BATCH_SIZE = 16_384
#: Rows kept as evidence per output (the worst ones, with inputs and both predictions).
WORST_ROWS = 5
#: Values kept per input or prediction in a worst row (wider rows are cut, and say so).
ROW_VALUES_LIMIT = 32
#: Indices of mismatching rows listed per output.
MISMATCH_INDEX_LIMIT = 100
#: Values per output kept for exact median and p99; beyond, a histogram estimates them.
EXACT_QUANTILE_LIMIT = 1_000_000
#: Bins per decade of the error histograms kept as evidence (a divisor of the quantile histogram's 50,
#: so each is a sum of its bins): 5 bins a decade, at most 300 bins, in practice 20-60.
HISTOGRAM_BINS_PER_DECADE = 5
#: Rows per numeric output whose (reference, onnx) values are kept as a sample, and values kept per row.
SAMPLE_ROWS = 100
SAMPLE_VALUES_PER_ROW = 5
#: Distinct labels a confusion table tracks; an output with more gets no table (and says why).
CONFUSION_LABEL_LIMIT = 50
#: The quantile histogram's grid (:class:`onnxgate.sketch.LogHistogram`): bins per decade and log10 range.
_HIST_PER_DECADE = LogHistogram.PER_DECADE
_HIST_LOW, _HIST_HIGH = LogHistogram.LOW, LogHistogram.HIGH

Mode = Literal["tolerance", "exact"]
Tolerance = float | Mapping[str, float] | None


# -- tolerances ------------------------------------------------------------------------------------


def _is_exact(spec: TensorSpec) -> bool:
    if spec.elem_type in EXACT_TYPES:
        return True
    return any(h in spec.name.lower() for h in LABEL_NAME_HINTS)


def resolve_tolerances(
    outputs: tuple[TensorSpec, ...], atol: Tolerance = None, rtol: Tolerance = None
) -> dict[str, tuple[float, float, Mode]]:
    """(atol, rtol, mode) per output from the user's values and the defaults by type.

    Parameters
    ----------
    outputs : tuple of TensorSpec
        The ONNX model's outputs.
    atol, rtol : float, mapping of str to float, or None
        A scalar applies to floating-point outputs. A mapping gives values per output name, with
        ``""`` as the default for floating-point outputs.

    Returns
    -------
    dict
        ``name -> (atol, rtol, mode)`` where mode is ``"exact"`` or ``"tolerance"``.

    Raises
    ------
    InvalidDataError
        A mapping names an output the model does not have, or a tolerance is negative or not a number.

    Examples
    --------
    >>> from onnxgate.signature import TensorSpec
    >>> outs = (TensorSpec("label", "int64", ("N",)), TensorSpec("probabilities", "float32", ("N", 3)))
    >>> resolve_tolerances(outs, atol={"": 1e-5, "probabilities": 1e-4})
    {'label': (0.0, 0.0, 'exact'), 'probabilities': (0.0001, 0.001, 'tolerance')}
    """
    names = [o.name for o in outputs]
    for which, value in (("atol", atol), ("rtol", rtol)):
        items = value.items() if isinstance(value, Mapping) else [("", value)] if value is not None else []
        for key, number in items:
            if key and key not in names:
                raise InvalidDataError(
                    f"{which} given for output {key!r}, which the model does not have; its outputs are "
                    f"{names} ('' sets the default)"
                )
            if isinstance(number, bool) or not isinstance(number, (int, float)) or not number >= 0:
                raise InvalidDataError(f"{which} for {key or 'all outputs'!r} must be a number >= 0, found {number!r}")
    out: dict[str, tuple[float, float, Mode]] = {}
    for spec in outputs:
        default_a, default_r = DEFAULT_TOLERANCES.get(spec.elem_type, DEFAULT_TOLERANCES["float32"])
        named_a = atol.get(spec.name) if isinstance(atol, Mapping) else None
        named_r = rtol.get(spec.name) if isinstance(rtol, Mapping) else None
        if _is_exact(spec) and named_a is None and named_r is None:
            out[spec.name] = (0.0, 0.0, "exact")
            continue
        a = _pick(named_a, atol, default_a)
        r = _pick(named_r, rtol, default_r)
        out[spec.name] = (a, r, "tolerance")
    return out


def _pick(named: float | None, given: Tolerance, default: float) -> float:
    if named is not None:
        return float(named)
    if isinstance(given, Mapping):
        return float(given.get("", default))
    return float(given) if given is not None else float(default)


# -- element-wise comparison and accumulated statistics --------------------------------------------


class _Quantiles:
    """Exact quantiles while few values arrived; a log-scale histogram once there are many.

    ``exact_limit`` (default :data:`EXACT_QUANTILE_LIMIT`) is how many values are kept for exact
    quantiles; 0 counts in the histogram from the start, which keeps partial results small and
    mergeable (:meth:`merge`).
    """

    def __init__(self, exact_limit: int | None = None) -> None:
        self.chunks: list[np.ndarray] = []
        self.count = 0
        self.hist: LogHistogram | None = None
        self.exact_limit = exact_limit
        if exact_limit == 0:
            self.hist = LogHistogram()

    def add(self, values: np.ndarray, *, owned: bool = False) -> None:
        """Take ``values`` into account; ``owned=True`` hands over a float64 array nobody else keeps."""
        import numpy as np

        if values.size == 0:
            return
        self.count += int(values.size)
        if self.hist is None:
            kept = values if owned and values.dtype == np.float64 else np.array(values, dtype=np.float64)
            self.chunks.append(kept.reshape(-1))
            limit = EXACT_QUANTILE_LIMIT if self.exact_limit is None else self.exact_limit
            if self.count > limit:
                self._to_histogram()
        else:
            self.hist.add(values)

    def _to_histogram(self) -> None:
        self.hist = LogHistogram()
        for chunk in self.chunks:
            self.hist.add(chunk)
        self.chunks = []

    def merge(self, other: _Quantiles) -> None:
        """Take ``other``'s values into account (exact when both still are, else the histogram)."""
        if other.count == 0:
            return
        if self.hist is None and other.hist is None:
            self.chunks.extend(other.chunks)
            self.count += other.count
            limit = EXACT_QUANTILE_LIMIT if self.exact_limit is None else self.exact_limit
            if self.count > limit:
                self._to_histogram()
            return
        if self.hist is None:
            self._to_histogram()
        assert self.hist is not None
        if other.hist is None:
            for chunk in other.chunks:
                self.hist.add(chunk)
        else:
            self.hist.merge(other.hist)
        self.count += other.count

    @property
    def method(self) -> str:
        return "histogram" if self.hist is not None else "exact"

    def histogram(self) -> np.ndarray:
        """Counts in the fine log-scale bins (:class:`onnxgate.sketch.LogHistogram`) of every value seen."""
        if self.hist is not None:
            return self.hist.counts
        hist = LogHistogram()
        for chunk in self.chunks:
            hist.add(chunk)
        return hist.counts

    def quantile(self, q: float) -> float:
        return self.quantiles((q,))[0]

    def quantiles(self, qs: tuple[float, ...]) -> list[float]:
        """Several quantiles at once: the exact values are partitioned once for all of them."""
        import numpy as np

        if self.count == 0:
            return [0.0 for _ in qs]
        if self.hist is None:
            data = self.chunks[0] if len(self.chunks) == 1 else np.concatenate(self.chunks)
            self.chunks = [data]  # later calls reuse the joined copy instead of joining again
            # The kept values are ours and their order does not matter: partition them in place
            # rather than through another full copy (this is the peak of a large check's memory).
            if np.isinf(data).any():
                # Linear interpolation next to inf gives nan; take the order statistic instead.
                return [float(v) for v in np.quantile(data, list(qs), method="higher", overwrite_input=True)]
            return [float(v) for v in np.quantile(data, list(qs), overwrite_input=True)]
        return self.hist.quantiles(qs)


def _coarse_histogram(fine: np.ndarray) -> dict[str, Any]:
    """The fine histogram summed into :data:`HISTOGRAM_BINS_PER_DECADE` bins a decade, trimmed to its
    non-empty span: ``{"bins_per_decade", "first_edge_log10", "counts", "zero", "inf"}``.

    Bin ``i`` of ``counts`` holds values in ``[10**(first + i/b), 10**(first + (i+1)/b))``; values at or
    beyond ``1e30`` fall into the last bin of that grid, below ``1e-30`` into its first.
    """
    import numpy as np

    group = _HIST_PER_DECADE // HISTOGRAM_BINS_PER_DECADE
    finite = fine[1:-1].copy()
    finite[-2] += finite[-1]  # the clip bin (>= 1e30) joins the grid's last bin
    finite = finite[:-1]
    coarse = finite.reshape(-1, group).sum(axis=1)
    nonzero = np.flatnonzero(coarse)
    out: dict[str, Any] = {
        "bins_per_decade": HISTOGRAM_BINS_PER_DECADE,
        "first_edge_log10": None,
        "counts": [],
        "zero": int(fine[0]),
        "inf": int(fine[-1]),
    }
    if nonzero.size:
        lo, hi = int(nonzero[0]), int(nonzero[-1])
        out["first_edge_log10"] = round(_HIST_LOW + lo / HISTOGRAM_BINS_PER_DECADE, 6)
        out["counts"] = [int(c) for c in coarse[lo : hi + 1]]
    return out


@dataclass
class _Stat:
    """Running max / sum / count of one error kind, plus its quantiles."""

    max: float = 0.0
    total: float = 0.0
    count: int = 0
    quantiles: _Quantiles = field(default_factory=_Quantiles)

    def merge(self, other: _Stat) -> None:
        self.max = max(self.max, other.max)
        self.total += other.total
        self.count += other.count
        self.quantiles.merge(other.quantiles)

    def add(self, values: np.ndarray, *, owned: bool = False) -> None:
        if values.size == 0:
            return
        self.max = max(self.max, float(values.max()))
        self.total += float(values.sum(dtype="float64"))
        self.count += int(values.size)
        self.quantiles.add(values, owned=owned)

    def to_dict(self) -> dict[str, float]:
        mean = self.total / self.count if self.count else 0.0
        median, p99 = self.quantiles.quantiles((0.5, 0.99))
        return {"max": self.max, "mean": mean, "median": median, "p99": p99}


@dataclass(frozen=True)
class OutputComparison:
    """How one output of the ONNX model compares with the reference's. Built by :func:`compare_arrays`.

    ``abs``/``rel`` hold max, mean, median and p99 of the absolute and relative errors over finite
    values; ``min_atol`` is the smallest atol that would pass at this rtol, ``min_rtol`` the
    smallest rtol at this atol (``inf`` when no tolerance passes: NaN or inf mismatches).
    """

    name: str
    passed: bool
    mode: Mode
    atol: float
    rtol: float
    shape_status: Literal["equal", "reshaped", "mismatch", "not compared"]
    expected_shape: tuple[int, ...] | None
    actual_shape: tuple[int, ...] | None
    rows: int
    values: int
    mismatched_values: int
    mismatched_rows: int
    nonfinite_mismatches: int
    abs: Mapping[str, float] | None
    rel: Mapping[str, float] | None
    min_atol: float | None
    min_rtol: float | None
    worst_rows: tuple[Mapping[str, Any], ...]
    mismatched_row_indices: tuple[int, ...]
    argmax_disagreements: int | None
    quantiles: str
    note: str = ""
    histogram: Mapping[str, Any] | None = None
    sample: Mapping[str, Any] | None = None
    confusion: Mapping[str, Any] | None = None

    @property
    def mismatch_rate(self) -> float:
        return self.mismatched_rows / self.rows if self.rows else 0.0

    def line(self) -> str:
        """One line of evidence, e.g. ``output 'variable'  max_abs=3.1e-02 (atol 1e-05)  3/1000 rows``."""
        head = f"output {self.name!r}"
        if self.shape_status == "not compared":
            return f"{head}  not compared: {self.note}"
        if self.shape_status == "mismatch":
            return (
                f"{head}  shape {list(self.expected_shape or ())} (reference) vs {list(self.actual_shape or ())} (onnx)"
            )
        if self.mode == "exact":
            rows = _index_list(self.mismatched_row_indices, self.mismatched_rows)
            text = (
                f"{head}  {self.mismatched_rows}/{self.rows} rows differ (flip rate "
                f"{100 * self.mismatch_rate:.2f}%, exact)"
            )
            return text + (f"  rows {rows}" if self.mismatched_rows else "")
        assert self.abs is not None and self.rel is not None
        text = (
            f"{head}  max_abs={self.abs['max']:.1e} (atol {self.atol:.0e})  max_rel={self.rel['max']:.1e} "
            f"(rtol {self.rtol:.0e})  {self.mismatched_rows}/{self.rows} rows"
        )
        if self.nonfinite_mismatches:
            text += f"  {self.nonfinite_mismatches} NaN/inf mismatches"
        if self.argmax_disagreements:
            text += f"  argmax differs on {self.argmax_disagreements} rows"
        return text

    def to_dict(self) -> dict[str, Any]:
        data = {
            "name": self.name,
            "passed": self.passed,
            "mode": self.mode,
            "atol": self.atol,
            "rtol": self.rtol,
            "shape": {
                "status": self.shape_status,
                "reference": None if self.expected_shape is None else list(self.expected_shape),
                "onnx": None if self.actual_shape is None else list(self.actual_shape),
            },
            "rows": self.rows,
            "values": self.values,
            "mismatched_values": self.mismatched_values,
            "mismatched_rows": self.mismatched_rows,
            "mismatch_rate": self.mismatch_rate,
            "nonfinite_mismatches": self.nonfinite_mismatches,
            "abs": None if self.abs is None else dict(self.abs),
            "rel": None if self.rel is None else dict(self.rel),
            "min_atol": self.min_atol,
            "min_rtol": self.min_rtol,
            "argmax_disagreements": self.argmax_disagreements,
            "mismatched_row_indices": list(self.mismatched_row_indices),
            "worst_rows": [dict(r) for r in self.worst_rows],
            "quantiles": self.quantiles,
            "note": self.note,
        }
        # Evidence for plots, present only when there is something to draw (docs/report-schema.md).
        for key in ("histogram", "sample", "confusion"):
            value = getattr(self, key)
            if value is not None:
                data[key] = value
        return jsonable(data)  # type: ignore[no-any-return]


def _index_list(indices: tuple[int, ...], total: int, shown: int = 10) -> str:
    listed = ", ".join(str(i) for i in indices[:shown])
    more = f", ... {total - shown} more" if total > shown else ""
    return f"[{listed}{more}]"


def _row_values(array: np.ndarray, i: int) -> list[Any]:
    import numpy as np

    values = np.asarray(array[i]).reshape(-1)
    listed = values[:ROW_VALUES_LIMIT].tolist()
    if values.size > ROW_VALUES_LIMIT:
        listed.append(f"... {values.size - ROW_VALUES_LIMIT} more")
    return listed  # type: ignore[no-any-return]


def _abs_rel_differences(ef: np.ndarray, af: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(finite, abs, rel)`` of float64 reference values ``ef`` and ONNX values ``af``, element-wise.

    ``abs = |af - ef|`` and ``rel = abs / |ef|`` (``inf`` where ``ef`` is 0 and the values differ,
    0 where both are 0); both are 0 where either value is not finite, which ``finite`` marks.
    The parity check and the divergence search (:mod:`onnxgate.validators.search`) share this rule.
    """
    import numpy as np

    finite = np.isfinite(ef) & np.isfinite(af)
    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
        absd = np.where(finite, np.abs(af - ef), 0.0)
        denom = np.abs(ef)
        rel = np.where(denom > 0, absd / np.where(denom > 0, denom, 1.0), np.where(absd > 0, np.inf, 0.0))
    return finite, absd, np.where(finite, rel, 0.0)


class OutputAccumulator:
    """Statistics of one output over many batches, in bounded memory; partial results merge.

    ``exact_limit=0`` keeps the quantiles in the histogram from the start (a small, mergeable
    partial result: what each Spark partition sends); :meth:`merge` adds another accumulator's
    rows as if they came after this one's.
    """

    def __init__(
        self,
        name: str,
        atol: float,
        rtol: float,
        mode: Mode,
        infinities_compare_equal: bool,
        *,
        exact_limit: int | None = None,
    ) -> None:
        self.name, self.atol, self.rtol, self.mode = name, atol, rtol, mode
        self.inf_equal = infinities_compare_equal
        self.abs = _Stat(quantiles=_Quantiles(exact_limit))
        self.rel = _Stat(quantiles=_Quantiles(exact_limit))
        self.numeric = True
        self.rows = 0
        self.values = 0
        self.mismatched_values = 0
        self.mismatched_rows = 0
        self.nonfinite = 0
        self.min_atol = 0.0
        self.min_rtol = 0.0
        self.argmax: int | None = None
        self.shape_status: str = "equal"
        self.expected_shape: tuple[int, ...] | None = None
        self.actual_shape: tuple[int, ...] | None = None
        self.worst: list[tuple[tuple[int, float], dict[str, Any]]] = []
        self.indices: list[int] = []
        self.note = ""
        # (hash key, row, reference values, onnx values) of the sampled rows, smallest keys kept
        self.sample: list[tuple[int, int, list[Any], list[Any]]] = []
        self.confusion: dict[tuple[Any, Any], int] | None = {}
        self.confusion_note = ""

    def update(
        self,
        expected: Any,
        actual: Any,
        *,
        row_offset: int = 0,
        inputs: Mapping[str, np.ndarray] | None = None,
    ) -> None:
        import numpy as np

        e = np.asarray(expected)
        a = np.asarray(actual)
        if self.shape_status == "mismatch":
            return
        exp_shape, act_shape = tuple(e.shape), tuple(a.shape)
        if self.expected_shape is None:
            self.expected_shape, self.actual_shape = exp_shape, act_shape
        else:  # the row axis grows batch by batch
            self.expected_shape = _grow(self.expected_shape, exp_shape)
            self.actual_shape = _grow(self.actual_shape, act_shape)
        if exp_shape != act_shape:
            same_rows = e.ndim > 0 and a.ndim > 0 and e.shape[0] == a.shape[0]
            if same_rows and e.size == a.size:
                self.shape_status = "reshaped"  # e.g. [N] against [N,1]: same values per row
            else:
                self.shape_status = "mismatch"
                self.expected_shape, self.actual_shape = exp_shape, act_shape
                return
        n = e.shape[0] if e.ndim else 1
        e2 = e.reshape(n, -1)
        a2 = a.reshape(n, -1)
        self.rows += n
        self.values += int(e2.size)

        self.numeric = e2.dtype.kind in "biuf" and a2.dtype.kind in "biuf"
        if self.numeric:
            mismatch, score = self._numeric(e2, a2)
        else:
            mismatch = ~(e2.astype(object) == a2.astype(object))
            mismatch = np.asarray(mismatch, dtype=bool).reshape(e2.shape)
            score = mismatch.astype(np.float64)
        row_bad: np.ndarray = np.asarray(mismatch.any(axis=1))
        self.mismatched_values += int(mismatch.sum())
        self.mismatched_rows += int(row_bad.sum())
        if len(self.indices) < MISMATCH_INDEX_LIMIT:
            bad_rows = np.flatnonzero(row_bad)[: MISMATCH_INDEX_LIMIT - len(self.indices)]
            self.indices.extend(int(i) + row_offset for i in bad_rows)
        if self.numeric and e2.shape[1] > 1 and self.mode == "tolerance":
            with np.errstate(invalid="ignore"):
                flips = int((np.argmax(e2, axis=1) != np.argmax(a2, axis=1)).sum())
            self.argmax = (self.argmax or 0) + flips
        self._keep_worst(e2, a2, row_bad, score.max(axis=1), row_offset, inputs, n)
        if self.mode == "exact":
            self._count_labels(e2, a2, row_bad)
        elif self.numeric:
            self._keep_sample(e2, a2, row_offset, n)

    def _count_labels(self, e2: np.ndarray, a2: np.ndarray, row_bad: np.ndarray) -> None:
        """Reference label x ONNX label counts: the diagonal from the reference's labels, flips moved off it."""
        from collections import Counter

        import numpy as np

        counts = self.confusion
        if counts is None:
            return
        if e2.shape[1] != 1:
            self.confusion, self.confusion_note = None, "no confusion table: the output has several values per row"
            return
        ref = [_label_key(v) for v in e2[:, 0].tolist()] if e2.dtype.kind in "fcO" else None
        if ref is None:  # integers and bools: counted in one vectorised pass
            column = e2[:, 0]
            low, high = (int(column.min()), int(column.max())) if column.size else (0, 0)
            if low >= 0 and high < 1 << 16:  # class indices: bincount, no sort
                n = np.bincount(column.astype(np.int64), minlength=high + 1)
                kind = bool if column.dtype.kind == "b" else int
                per_label = {kind(v): int(n[v]) for v in np.flatnonzero(n).tolist()}
            else:
                values, found = np.unique(column, return_counts=True)
                per_label = dict(zip(values.tolist(), found.tolist()))
        else:
            per_label = dict(Counter(ref))
        for label, k in per_label.items():
            counts[(label, label)] = counts.get((label, label), 0) + int(k)
        if row_bad.any():
            bad = np.flatnonzero(row_bad)
            pairs = Counter(zip((_label_key(v) for v in e2[bad, 0].tolist()),
                                (_label_key(v) for v in a2[bad, 0].tolist())))
            for (theirs, ours), k in pairs.items():
                counts[(theirs, theirs)] -= k
                counts[(theirs, ours)] = counts.get((theirs, ours), 0) + k
        labels = {label for pair in counts for label in pair}
        if len(labels) > CONFUSION_LABEL_LIMIT:
            self.confusion = None
            self.confusion_note = f"no confusion table: more than {CONFUSION_LABEL_LIMIT} distinct labels"

    def _keep_sample(self, e2: np.ndarray, a2: np.ndarray, row_offset: int, n: int) -> None:
        """Keep the rows with the smallest hashed row numbers: a uniform sample that does not depend on batching."""
        import numpy as np

        rows = np.arange(row_offset, row_offset + n, dtype=np.uint64)
        with np.errstate(over="ignore"):
            keys = (rows * np.uint64(0x9E3779B97F4A7C15)) >> np.uint64(11)  # Fibonacci hashing, 53 bits
        limit = self.sample[-1][0] if len(self.sample) >= SAMPLE_ROWS else None
        candidates = np.arange(n) if limit is None else np.flatnonzero(keys < np.uint64(limit))
        if len(candidates) > SAMPLE_ROWS:
            pick = candidates[np.argpartition(keys[candidates], SAMPLE_ROWS)[:SAMPLE_ROWS]]
        else:
            pick = candidates
        width = min(e2.shape[1], SAMPLE_VALUES_PER_ROW)
        for i in pick.tolist():
            key = int(keys[i])
            self.sample.append((key, int(i) + row_offset, e2[i, :width].tolist(), a2[i, :width].tolist()))
        self.sample.sort(key=lambda item: item[0])
        del self.sample[SAMPLE_ROWS:]

    def evidence(self, numeric: bool) -> tuple[dict[str, Any] | None, dict[str, Any] | None, dict[str, Any] | None]:
        """(histogram, sample, confusion) for :class:`OutputComparison`; None where there is nothing to draw."""
        histogram: dict[str, Any] | None = None
        sample: dict[str, Any] | None = None
        confusion: dict[str, Any] | None = None
        if numeric and self.mode == "tolerance" and self.rows:
            histogram = {"abs": _coarse_histogram(self.abs.quantiles.histogram()),
                         "rel": _coarse_histogram(self.rel.quantiles.histogram())}
        if self.mode == "tolerance" and self.sample:
            ordered = sorted(self.sample, key=lambda item: item[1])
            sample = {"rows": [r for _, r, _, _ in ordered], "reference": [e for _, _, e, _ in ordered],
                      "onnx": [a for _, _, _, a in ordered]}
        if self.mode == "exact" and self.rows:
            if self.confusion is None:
                confusion = {"labels": [], "counts": [], "note": self.confusion_note}
            else:
                labels = sorted({label for pair in self.confusion for label in pair}, key=_label_order)
                where = {label: i for i, label in enumerate(labels)}
                table = [[0] * len(labels) for _ in labels]
                for (theirs, ours), k in self.confusion.items():
                    table[where[theirs]][where[ours]] += k
                confusion = {"labels": labels, "counts": table, "note": "rows: reference label; columns: onnx label"}
        return histogram, sample, confusion

    def merge(self, other: OutputAccumulator, *, row_offset: int = 0) -> None:
        """Add ``other``'s statistics; its row numbers are shifted by ``row_offset`` (rows before it)."""
        if self.shape_status == "mismatch" or other.expected_shape is None:
            return
        if other.shape_status == "mismatch":
            self.shape_status = "mismatch"
            self.expected_shape, self.actual_shape = other.expected_shape, other.actual_shape
            return
        if self.expected_shape is None:
            self.expected_shape, self.actual_shape = other.expected_shape, other.actual_shape
            self.numeric = other.numeric
        else:
            self.expected_shape = _grow(self.expected_shape, other.expected_shape)
            self.actual_shape = _grow(self.actual_shape, other.actual_shape or ())
            self.numeric = self.numeric and other.numeric
        if other.shape_status == "reshaped":
            self.shape_status = "reshaped"
        self.rows += other.rows
        self.values += other.values
        self.mismatched_values += other.mismatched_values
        self.mismatched_rows += other.mismatched_rows
        self.nonfinite += other.nonfinite
        self.min_atol = max(self.min_atol, other.min_atol)
        self.min_rtol = max(self.min_rtol, other.min_rtol)
        if other.argmax is not None:
            self.argmax = (self.argmax or 0) + other.argmax
        self.abs.merge(other.abs)
        self.rel.merge(other.rel)
        room = MISMATCH_INDEX_LIMIT - len(self.indices)
        self.indices.extend(i + row_offset for i in other.indices[: max(room, 0)])
        # ours first: on equal keys the earlier row stays, as when the rows arrive in one process
        shifted = [(key, {**entry, "row": entry["row"] + row_offset}) for key, entry in other.worst]
        self.worst = sorted(self.worst + shifted, key=lambda item: item[0], reverse=True)[:WORST_ROWS]
        self.note = self.note or other.note
        # the sample: re-keyed by the rows' numbers here, the smallest keys kept (each part sent its own)
        moved = [(_sample_key(row + row_offset), row + row_offset, e, a) for _, row, e, a in other.sample]
        self.sample = sorted(self.sample + moved, key=lambda item: item[0])[:SAMPLE_ROWS]
        if self.confusion is not None and other.confusion is not None:
            for pair, k in other.confusion.items():
                self.confusion[pair] = self.confusion.get(pair, 0) + k
            if len({label for pair in self.confusion for label in pair}) > CONFUSION_LABEL_LIMIT:
                self.confusion = None
                self.confusion_note = f"no confusion table: more than {CONFUSION_LABEL_LIMIT} distinct labels"
        elif other.confusion is None and other.rows:
            self.confusion, self.confusion_note = None, other.confusion_note

    def _numeric(self, e2: np.ndarray, a2: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        import numpy as np

        # no copy when the values already are float64 (asarray); the differences are always float64
        ef = np.asarray(e2, dtype=np.float64)
        af = np.asarray(a2, dtype=np.float64)
        if self.mode == "tolerance":
            fast = self._numeric_finite(ef, af)
            if fast is not None:
                return fast
        finite, absd, rel = _abs_rel_differences(ef, af)
        both_nan = np.isnan(ef) & np.isnan(af)
        same_inf = np.isinf(ef) & (ef == af)
        ok_nonfinite = both_nan | (same_inf if self.inf_equal else False)
        bad_nonfinite = ~finite & ~ok_nonfinite
        if self.mode == "exact":
            # Exact: any difference counts (compared in the original dtype: int64 beyond 2**53 too).
            differ = np.asarray(e2 != a2) & ~both_nan
            mismatch = differ & finite | bad_nonfinite
        else:
            mismatch = finite & (absd > self.atol) & (rel > self.rtol) | bad_nonfinite
        self.nonfinite += int(bad_nonfinite.sum())
        self.abs.add(absd[finite])
        self.rel.add(rel[finite])
        if bad_nonfinite.any():
            self.min_atol = self.min_rtol = math.inf
        else:
            over_r = finite & (rel > self.rtol)
            over_a = finite & (absd > self.atol)
            if over_r.any():
                self.min_atol = max(self.min_atol, float(absd[over_r].max()))
            if over_a.any():
                self.min_rtol = max(self.min_rtol, float(rel[over_a].max()))
        score = np.where(bad_nonfinite, np.inf, absd)
        return mismatch, score

    def _numeric_finite(self, ef: np.ndarray, af: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
        """The common case in fewer passes: every value finite, tolerance mode; None otherwise.

        Gives the same numbers as :func:`_abs_rel_differences` and the general path: with every
        value finite the masks are all true, ``rel`` is ``abs / |ref|`` except where the reference
        is 0 (``inf`` when the values differ, 0 when both are 0).
        """
        import numpy as np

        with np.errstate(invalid="ignore", over="ignore"):
            absd = np.subtract(af, ef)
            if not np.isfinite(absd).all():
                return None  # a NaN or inf on either side (or an overflowing difference): general path
            np.abs(absd, out=absd)
            rel = np.abs(ef)
            zero = rel == 0
            with np.errstate(divide="ignore"):
                np.divide(absd, rel, out=rel)
            if zero.any():  # 0 / 0 -> 0 (both zero), x / 0 -> inf already
                rel[zero & (absd == 0)] = 0.0
        over_a = absd > self.atol
        over_r = rel > self.rtol
        mismatch = over_a & over_r
        if over_r.any():
            self.min_atol = max(self.min_atol, float(absd[over_r].max()))
        if over_a.any():
            self.min_rtol = max(self.min_rtol, float(rel[over_a].max()))
        self.abs.add(absd.reshape(-1), owned=True)
        self.rel.add(rel.reshape(-1), owned=True)
        # absd is now kept by the quantiles (read-only from here): it doubles as the row score
        return mismatch, absd

    def _keep_worst(
        self,
        e2: np.ndarray,
        a2: np.ndarray,
        row_bad: np.ndarray,
        row_score: np.ndarray,
        row_offset: int,
        inputs: Mapping[str, np.ndarray] | None,
        n: int,
    ) -> None:
        import numpy as np

        if n == 0:
            return
        if len(self.worst) >= WORST_ROWS:
            # nothing in this batch can enter the list: skip the selection altogether
            best_bad = bool(row_bad.any())
            best = float(row_score[row_bad].max()) if best_bad else float(row_score.max())
            if (int(best_bad), best) <= self.worst[-1][0]:
                return
        # mismatching rows first, then by error, ties by row (the order a stable lexsort gives),
        # selected in linear time instead of sorting every batch
        bad = np.flatnonzero(row_bad)
        order = _top_rows(row_score, bad, WORST_ROWS)
        if len(order) < WORST_ROWS and len(bad) < n:
            good = np.flatnonzero(~row_bad) if len(bad) else None
            order = np.concatenate([order, _top_rows(row_score, good, WORST_ROWS - len(order))])
        for i in order:
            key = (int(row_bad[i]), float(row_score[i]))
            if len(self.worst) >= WORST_ROWS and key <= self.worst[-1][0]:
                continue
            entry: dict[str, Any] = {
                "row": int(i) + row_offset,
                "mismatch": bool(row_bad[i]),
                "error": float(row_score[i]) if self.numeric else None,
                "reference": _row_values(e2, int(i)),
                "onnx": _row_values(a2, int(i)),
            }
            if inputs is not None:
                entry["inputs"] = {
                    k: _row_values(v, int(i)) for k, v in inputs.items() if getattr(v, "shape", (0,))[:1] == (n,)
                }
            self.worst.append((key, entry))
            self.worst.sort(key=lambda item: item[0], reverse=True)
            del self.worst[WORST_ROWS:]

    def result(self) -> OutputComparison:
        compared = self.shape_status != "mismatch"
        passed = compared and self.mismatched_values == 0 and self.rows > 0
        numeric = self.numeric and compared
        method = "histogram" if "histogram" in (self.abs.quantiles.method, self.rel.quantiles.method) else "exact"
        return OutputComparison(
            name=self.name,
            passed=passed,
            mode=self.mode,
            atol=self.atol,
            rtol=self.rtol,
            shape_status=self.shape_status,  # type: ignore[arg-type]
            expected_shape=self.expected_shape,
            actual_shape=self.actual_shape,
            rows=self.rows,
            values=self.values,
            mismatched_values=self.mismatched_values,
            mismatched_rows=self.mismatched_rows,
            nonfinite_mismatches=self.nonfinite,
            abs=self.abs.to_dict() if numeric else None,
            rel=self.rel.to_dict() if numeric else None,
            min_atol=self.min_atol if numeric else None,
            min_rtol=self.min_rtol if numeric else None,
            worst_rows=tuple(entry for _, entry in self.worst),
            mismatched_row_indices=tuple(self.indices),
            argmax_disagreements=self.argmax,
            quantiles=method,
            note=self.note,
            **dict(zip(("histogram", "sample", "confusion"), self.evidence(numeric))),
        )


#: The former private name, kept for code that used it.
_Accumulator = OutputAccumulator


def _sample_key(row: int) -> int:
    """The sample key of a row number: the Fibonacci hash :meth:`OutputAccumulator._keep_sample` uses."""
    return ((row * 0x9E3779B97F4A7C15) & 0xFFFFFFFFFFFFFFFF) >> 11


def _label_key(value: Any) -> Any:
    """A label as a dictionary key: every NaN is the same label; bytes read as text."""
    if isinstance(value, float) and math.isnan(value):
        return "nan"
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return value


def _label_order(label: Any) -> tuple[int, Any]:
    """Numbers in numeric order, then everything else as text (labels of mixed types do not compare)."""
    if isinstance(label, (int, float)) and not isinstance(label, bool):
        return (0, label)
    return (1, str(label))


def _top_rows(score: np.ndarray, rows: np.ndarray | None, k: int) -> np.ndarray:
    """The ``k`` of ``rows`` (all rows when None) with the largest ``score``, largest first, ties by row."""
    import numpy as np

    s = score if rows is None else score[rows]
    if len(s) > k:
        kth = np.partition(s, len(s) - k)[len(s) - k]  # the k-th largest score
        above = np.flatnonzero(s > kth)
        pick = np.concatenate([above, np.flatnonzero(s == kth)[: k - len(above)]])
    else:
        pick = np.arange(len(s))
    pick = pick[np.lexsort((pick, -s[pick]))]
    return pick if rows is None else rows[pick]


def _grow(total: tuple[int, ...] | None, batch: tuple[int, ...]) -> tuple[int, ...]:
    if not total or not batch or total[1:] != batch[1:]:
        return batch
    return (total[0] + batch[0], *batch[1:])


def compare_arrays(
    expected: Any,
    actual: Any,
    *,
    atol: float,
    rtol: float,
    name: str = "output",
    exact: bool = False,
    infinities_compare_equal: bool = False,
    inputs: Mapping[str, np.ndarray] | None = None,
) -> OutputComparison:
    """Compare one output: the reference's ``expected`` against the ONNX model's ``actual``.

    Parameters
    ----------
    expected, actual : array-like
        Rows on the first axis. ``[N]`` against ``[N,1]`` is compared value by value ("reshaped");
        other shape differences fail without comparing values.
    atol, rtol : float
        A value mismatches when ``abs > atol`` and ``rel > rtol`` (Polygraphy's elemwise rule).
    name : str
        The output's name, for messages.
    exact : bool
        Any difference mismatches (labels); the mismatch rate is the flip rate.
    infinities_compare_equal : bool
        Treat equal infinities as matching (by default they mismatch, as in Polygraphy).
    inputs : mapping of str to ndarray, optional
        The rows' inputs, shown in ``worst_rows``.

    Returns
    -------
    OutputComparison

    Examples
    --------
    >>> import numpy as np
    >>> c = compare_arrays(np.array([1.0, 2.0]), np.array([1.0, 2.1]), atol=1e-3, rtol=1e-3)
    >>> c.passed, c.mismatched_rows, round(c.abs["max"], 3)
    (False, 1, 0.1)
    """
    acc = OutputAccumulator(name, float(atol), float(rtol), "exact" if exact else "tolerance", infinities_compare_equal)
    acc.update(expected, actual, inputs=inputs)
    return acc.result()


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


def check_prediction_parity(
    model: Any,
    reference: Any,
    data: Any,
    *,
    atol: Tolerance = None,
    rtol: Tolerance = None,
    batch_size: int | None = None,
    progress: bool | Callable[[int, int], None] | None = None,
    infinities_compare_equal: bool = False,
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
        Rows per batch (default :data:`DEFAULT_BATCH_SIZE`); memory stays bounded by it.
    progress : bool or callable, optional
        A progress bar on stderr (default: only when stderr is a terminal), or ``f(done, total)``.
    infinities_compare_equal : bool
        Treat equal infinities as matching.

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
    from onnxgate._data import as_feeds, iter_batches, load_data, num_rows
    from onnxgate._onnx import load_model
    from onnxgate.signature import Signature
    from onnxgate.validators.reference import prepare_reference
    from onnxgate.validators.structure import _session

    name = "prediction_parity"
    proto = load_model(model)
    signature = Signature.from_model(proto)
    tolerances = resolve_tolerances(signature.outputs, atol, rtol)
    if isinstance(data, str) or hasattr(data, "__fspath__"):
        data = load_data(data)
    if batch_size is None:
        batch_size = DEFAULT_BATCH_SIZE
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise InvalidDataError(f"batch_size must be a positive integer, found {batch_size!r}")
    total = num_rows(data)
    if total == 0:
        raise InvalidDataError("the parity data has no rows; pass at least one row")

    try:
        session = _session(proto.SerializeToString(), spinning=False)
    except Exception as err:
        return CheckResult(name, False, f"onnxruntime cannot load the model, so parity was not run: {err}", {})
    run_reference = prepare_reference(reference, proto, signature)
    accs = [
        OutputAccumulator(o.name, *tolerances[o.name], infinities_compare_equal=infinities_compare_equal)
        for o in signature.outputs
    ]
    missing: set[str] = set()
    hasher = hashlib.sha256()
    bar = _Progress(total, progress)
    done = 0
    batches = 0
    try:
        for chunk in iter_batches(data, batch_size):
            feeds = as_feeds(chunk, signature)
            hash_feeds(hasher, feeds)
            try:
                onnx_out = session.run(None, feeds)
            except Exception as err:
                return CheckResult(
                    name,
                    False,
                    f"onnxruntime failed on rows {done}..{done + num_rows(chunk) - 1}: {err}",
                    {"rows_done": done},
                )
            try:
                ref_out = run_reference(feeds)
            except OnnxGateError:
                raise
            except Exception as err:
                return CheckResult(
                    name,
                    False,
                    f"the reference model failed on rows {done}..{done + num_rows(chunk) - 1}: "
                    f"{type(err).__name__}: {err}",
                    {"rows_done": done},
                )
            accumulate_batch(accs, onnx_out, ref_out, missing=missing, row_offset=done, inputs=feeds)
            done += num_rows(feeds)
            batches += 1
            bar(done)
    finally:
        bar.close()

    return parity_result(
        accs,
        signature.output_names,
        missing=missing,
        rows=done,
        details={"batches": batches, "batch_size": batch_size, "data_sha256": hasher.hexdigest()},
        infinities_compare_equal=infinities_compare_equal,
        model=proto,
    )


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
    from onnxgate.validators.reference import maps_to_array

    for acc, ours, theirs in zip(accs, onnx_out, ref_out):
        if theirs is None:
            missing.add(acc.name)
            continue
        if isinstance(ours, list):  # ZipMap: a list of {class: probability}
            ours = maps_to_array(ours) if ours and isinstance(ours[0], Mapping) else ours
        acc.update(theirs, ours, row_offset=row_offset, inputs=inputs)


def parity_result(
    accs: list[OutputAccumulator],
    output_names: list[str],
    *,
    missing: set[str],
    rows: int,
    details: Mapping[str, Any],
    infinities_compare_equal: bool = False,
    model: Any = None,
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
        The ONNX model, for the hint a failure carries when it computes in float32 from float64 data.

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
        results.append(acc.result())
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
            "rule": "mismatch when abs > atol and rel > rtol; rel = abs / |reference|",
            "default_tolerances": {k: list(v) for k, v in DEFAULT_TOLERANCES.items()},
            "exact_types": sorted(EXACT_TYPES),
            "label_name_hints": list(LABEL_NAME_HINTS),
        },
    }
    if not compared:
        return CheckResult(
            name,
            False,
            f"no output could be compared: the reference has no counterpart for {output_names}",
            evidence,
        )
    failed = [r for r in compared if not r.passed]
    if failed:
        message = "; ".join(r.line() for r in failed)
        hint = _precision_hint(model) if model is not None else ""
        if hint:
            evidence["precision_hint"] = hint
            message += f". {hint}"
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
    return CheckResult(
        name,
        True,
        f"{len(compared)} output(s) match on {done} rows" + (f" ({'; '.join(extra)})" if extra else ""),
        evidence,
    )


def _precision_hint(model: Any) -> str:
    """The setting that removes float32 rounding, for a model converted from float64 data in float32."""
    from onnxgate.converters.sklearn import PRECISION_METADATA_KEY

    for prop in model.metadata_props:
        if prop.key == PRECISION_METADATA_KEY and prop.value == "float32-from-float64":
            return (
                "The model computes in float32 while its inputs and the reference are float64 (metadata "
                f"{PRECISION_METADATA_KEY}={prop.value}): float32 rounding can flip a label or a tree branch "
                "near a threshold. Convert with precision='float64' (CLI: --precision float64) to keep double"
            )
    return ""
