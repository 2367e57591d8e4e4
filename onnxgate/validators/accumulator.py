"""One output's comparison over many batches, in bounded memory: :class:`OutputAccumulator` applies the
parity rule (:mod:`onnxgate.validators.rule`) batch by batch, keeps the statistics
(:mod:`onnxgate.validators.quantiles`), the worst rows, a sample and the label flips, and gives the
:class:`OutputComparison` that parity reports; :func:`compare_arrays` is the one-call form."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from onnxgate.validators.quantiles import Quantiles, Stat, coarse_histogram
from onnxgate.validators.report import jsonable
from onnxgate.validators.rule import WHOLE_NUMBER_STEP, element_mismatches, whole_numbers
from onnxgate.validators.tolerances import Mode

if TYPE_CHECKING:
    import numpy as np

__all__ = [
    "CONFUSION_LABEL_LIMIT",
    "MISMATCH_INDEX_LIMIT",
    "ROW_VALUES_LIMIT",
    "SAMPLE_ROWS",
    "SAMPLE_VALUES_PER_ROW",
    "SCALE_FLOOR",
    "WORST_ROWS",
    "OutputAccumulator",
    "OutputComparison",
    "compare_arrays",
]


#: Rows kept as evidence per output (the worst ones, with inputs and both predictions).
WORST_ROWS = 5
#: Values kept per input or prediction in a worst row (wider rows are cut, and say so).
ROW_VALUES_LIMIT = 32
#: Indices of mismatching rows listed per output.
MISMATCH_INDEX_LIMIT = 100
#: Rows per numeric output whose (reference, onnx) values are kept as a sample, and values kept per row.
SAMPLE_ROWS = 100
SAMPLE_VALUES_PER_ROW = 5
#: With the default atol, an output whose every value lies within atol of zero fails on a difference
#: over rtol of its scale, when that difference is also over this share of atol (rounding below it).
SCALE_FLOOR = 0.01
#: Distinct labels a confusion table tracks; an output with more gets no table (and says why).
CONFUSION_LABEL_LIMIT = 50
#: Why an output passing rtol fails when the reference answers whole numbers.
WHOLE_NUMBER_NOTE = (f"the reference answers whole numbers, and a value {WHOLE_NUMBER_STEP} or more off one is "
                     "another number whatever rtol allows (class ids, counts)")



def value_kind(dtype: Any) -> str:
    """The kind of value a dtype holds, as a user reads it: bool, int, float or text."""
    kind = getattr(dtype, "kind", "O")
    return {"b": "bool", "i": "int", "u": "int", "f": "float"}.get(kind, "text" if kind in "OUS" else kind)


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
            text += f"  rows {rows}" if self.mismatched_rows else ""
            return text + (f": {self.note}" if self.note and not self.passed else "")
        assert self.abs is not None and self.rel is not None
        text = (
            f"{head}  max_abs={self.abs['max']:.1e} (atol {self.atol:.0e})  max_rel={self.rel['max']:.1e} "
            f"(rtol {self.rtol:.0e})  {self.mismatched_rows}/{self.rows} rows"
        )
        if self.nonfinite_mismatches:
            text += f"  {self.nonfinite_mismatches} NaN/inf mismatches"
        if self.argmax_disagreements:
            text += f"  argmax differs on {self.argmax_disagreements} rows"
        if self.note and not self.passed:
            text += f": {self.note}"
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
        scale_guard: bool = False,
        row_axis: int = 0,
    ) -> None:
        self.name, self.atol, self.rtol, self.mode = name, atol, rtol, mode
        #: the output's axis of rows (:meth:`onnxgate.signature.Signature.row_axis`), moved first in each batch
        self.row_axis = row_axis
        # with a default atol: fail an output whose every value lies within atol of zero and whose
        # differences are large against its own scale (see result())
        self.scale_guard = scale_guard
        self.inf_equal = infinities_compare_equal
        self.abs = Stat(quantiles=Quantiles(exact_limit))
        self.rel = Stat(quantiles=Quantiles(exact_limit))
        self.numeric = True
        self.rows = 0
        self.values = 0
        self.mismatched_values = 0
        self.mismatched_rows = 0
        self.nonfinite = 0
        self.min_atol = 0.0
        self.min_rtol = 0.0
        self.scale = 0.0  # the largest |reference value| compared (finite ones)
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
        #: the kinds of value each side gave ("bool", "int", "float", "text"), from the first batch
        self.kinds: tuple[str, str] | None = None

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
        if self.row_axis and e.ndim > self.row_axis and a.ndim > self.row_axis:
            # rows counted, listed and shown along the rows: a GRU's [layers, N, hidden] state read on axis 0
            # said "8/8 rows" differ where 2 of 20000 did, and showed the inputs of rows 0-3 (helper-148)
            e, a = np.moveaxis(e, self.row_axis, 0), np.moveaxis(a, self.row_axis, 0)
        if self.kinds is None:
            self.kinds = (value_kind(e.dtype), value_kind(a.dtype))
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
            if same_rows and _squeezed(exp_shape[1:]) == _squeezed(act_shape[1:]):
                self.shape_status = "reshaped"  # [N] against [N,1]: the same values per row, in the same layout
            else:
                self.shape_status = "mismatch"
                self.expected_shape, self.actual_shape = exp_shape, act_shape
                return
        n = e.shape[0] if e.ndim else 1
        e2 = e.reshape(n, -1)
        a2 = a.reshape(n, -1)
        self.rows += n
        self.values += int(e2.size)
        if e2.size == 0:  # no values per row (a MissingIndicator that saw nothing missing): nothing to compare
            return

        self.numeric = e2.dtype.kind in "biuf" and a2.dtype.kind in "biuf"
        if self.numeric:
            mismatch, score = self._numeric(e2, a2)
        else:
            mismatch = ~(_as_text(e2) == _as_text(a2))
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
        ref = None if e2.dtype.kind in "iub" else [_label_key(v) for v in e2[:, 0].tolist()]
        if ref is None:  # integers and bools: counted in one vectorised pass (text labels are counted below)
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
            histogram = {"abs": coarse_histogram(self.abs.quantiles.histogram()),
                         "rel": coarse_histogram(self.rel.quantiles.histogram())}
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
        self.kinds = self.kinds or other.kinds
        self.rows += other.rows
        self.values += other.values
        self.mismatched_values += other.mismatched_values
        self.mismatched_rows += other.mismatched_rows
        self.nonfinite += other.nonfinite
        self.min_atol = max(self.min_atol, other.min_atol)
        self.min_rtol = max(self.min_rtol, other.min_rtol)
        self.scale = max(self.scale, other.scale)
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
                if whole_numbers(e2):  # another whole number whatever rtol allows (element_mismatches)
                    other = (fast[1] >= WHOLE_NUMBER_STEP) & (fast[1] > self.atol)
                    if other.any():  # only an atol past them passes them; no rtol does
                        self.min_atol = max(self.min_atol, float(fast[1][other].max()))
                        self.min_rtol = math.inf
                        self.note = self.note or WHOLE_NUMBER_NOTE
                    return fast[0] | other, fast[1]
                return fast
        rule = element_mismatches(
            e2, a2, atol=self.atol, rtol=self.rtol, exact=self.mode == "exact",
            infinities_compare_equal=self.inf_equal,
        )
        mismatch, finite, absd, rel, bad_nonfinite = rule.mismatch, rule.finite, rule.abs, rule.rel, rule.bad_nonfinite
        self.nonfinite += int(bad_nonfinite.sum())
        self.abs.add(absd[finite])
        self.rel.add(rel[finite])
        if self.mode == "tolerance" and finite.any():
            self.scale = max(self.scale, float(np.abs(ef[finite]).max()))
        whole = (finite & (absd >= WHOLE_NUMBER_STEP) & (absd > self.atol) if self.mode == "tolerance"
                 and whole_numbers(e2) else None)
        if whole is not None and whole.any():  # only an atol past them passes them; no rtol does
            self.note = self.note or WHOLE_NUMBER_NOTE
            self.min_atol = max(self.min_atol, float(absd[whole].max()))
            self.min_rtol = math.inf
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
            if rel.size:
                self.scale = max(self.scale, float(rel.max()))
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

    def scale_guard_may_fail(self) -> bool:
        """Whether :meth:`result`'s scale guard may fail this output once these rows are merged with others'
        (:meth:`merge`): every value seen lies within atol of zero and the largest difference is over the rounding
        allowed at any scale. A Spark partition, which does not know the other partitions' scale, asks this."""
        return (self.scale_guard and self.numeric and self.mode == "tolerance" and self.scale <= self.atol
                and float(self.abs.max or 0.0) > SCALE_FLOOR * self.atol)

    def result(self) -> OutputComparison:
        compared = self.shape_status != "mismatch"
        passed = compared and self.mismatched_values == 0 and self.rows > 0
        numeric = self.numeric and compared
        note = self.note
        if self.scale_guard and passed and numeric and self.mode == "tolerance" and 0 < self.scale <= self.atol:
            # Every value lies within atol of zero: the rule's "abs > atol" never holds, and a model that
            # negated or zeroed the output would pass. Its differences are judged against its own scale.
            largest = float(self.abs.max or 0.0)
            # a hundredth of atol is rounding whatever the output's scale: float32 computes a class's
            # tiny probability as 1 - p, 1.1e-7 off (an SQL layout's p_0 column alone failed on it)
            if largest > max(self.rtol * self.scale, SCALE_FLOOR * self.atol):
                passed = False
                note = (
                    f"every reference value lies within atol {self.atol:.0e} of zero (the largest |value| is "
                    f"{self.scale:.2e}), so the absolute tolerance would pass any answer this small; against "
                    f"that scale the largest difference, {largest:.2e}, is over rtol {self.rtol:.0e} of it (and "
                    f"over {SCALE_FLOOR:g} x atol, the rounding allowed at any scale). If "
                    f"the difference is acceptable, pass atol={{{self.name!r}: x}} with x below {self.scale:.1e}"
                )
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
            note=note,
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


def _as_text(values: Any) -> Any:
    """``values`` as an object array with bytes read as UTF-8 text, as :func:`_label_key` reads a label:
    TensorFlow answers text as bytes where onnxruntime answers str, and a Keras ``StringLookup(invert=True)``
    failed parity on every row of a right file (helper-181)."""
    import numpy as np

    if values.dtype.kind == "S":
        return np.char.decode(values, "utf-8", "replace").astype(object)
    if values.dtype.kind != "O":
        return values.astype(object)
    return np.array([_label_key(v) if isinstance(v, bytes) else v for v in values.ravel().tolist()],
                    dtype=object).reshape(values.shape)


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


def _squeezed(dims: tuple[int, ...]) -> tuple[int, ...]:
    """``dims`` without its axes of size 1: [5,4] against [4,5] (a sequence's logits read with the wrong
    axis last) is another layout of the same values, not a reshape, and is a mismatch."""
    return tuple(d for d in dims if d != 1)


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
    infinities_compare_equal: bool = True,
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
        Treat equal infinities as matching (the default; False: they mismatch, as in Polygraphy).
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
