"""The engine: run candidate rows on both models within the budget and time limit, compare them with the
parity row rule (:func:`onnxgate.validators.parity.compare_rows`) and record the divergent ones."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from onnxgate.validators.rule import compare_rows
from onnxgate.validators.search.settings import MAX_REPORTED, Array
from onnxgate.validators.search.space import Space

if TYPE_CHECKING:
    import onnx

    from onnxgate.signature import Signature
    from onnxgate.validators.ties import TieResolver

__all__ = ["BudgetExhausted", "Divergence", "Searcher", "as_array"]


@dataclass
class Divergence:
    strategy: str
    x: Array
    base: int
    feature: int | None
    outputs: list[dict[str, Any]]
    explanation: str = ""
    elapsed: float = 0.0
    rows_tried: int = 0
    #: the reference was given the row's float64 values, the file the row as its float32 input rounds them
    wide: bool = False


class BudgetExhausted(Exception):
    """Raised inside a phase when the row budget or the time limit is spent."""


class RowCountError(Exception):
    """onnxruntime answered another number of rows than it was given: no row's answer can be compared."""


class Searcher:
    def __init__(
        self,
        session: Any,
        proto: onnx.ModelProto,
        signature: Signature,
        space: Space,
        reference_fn: Callable[[dict[str, Array]], list[Array | None]],
        *,
        budget: int,
        time_limit: float | None,
        tolerances: Mapping[str, tuple[float, float, str]],
        resolve_ties: TieResolver | None = None,
        wide: bool = False,
    ) -> None:
        self.session = session
        # the reference takes the user's float64 values where the file's input is float32 (a native model of
        # float64 rows): rows evaluated with wide=True give it the float64 row, the file that row rounded
        self.wide = wide
        # a k-nearest-neighbour tie broken another way, decided as parity decides it (validators.ties): the
        # boundary phase bisects onto exactly such rows (helper-83)
        self.resolve_ties = resolve_ties
        self.proto = proto
        self.signature = signature
        self.space = space
        self.reference_fn = reference_fn
        self.budget = budget
        self.time_limit = time_limit
        self.tolerances = dict(tolerances)
        self.rows_tried = 0
        self.start = time.perf_counter()
        self.divergences: list[Divergence] = []
        self.keys: set[tuple[Any, ...]] = set()
        self.n_divergent = 0
        self.ties = 0
        self.reference_rejected = 0
        #: the known values scored in the edge phase, ``(input, column, value)`` (:attr:`Space.value_picks`)
        self.values_scored: list[tuple[str, int, Any]] = []
        self.onnx_errors: list[str] = []
        self.reference_errors: list[str] = []
        self.onnx_runs_ok = 0  # runs onnxruntime completed: 0 with errors means nothing was compared
        self.first_elapsed: float | None = None
        self.first_rows: int | None = None
        self.phase_rows: dict[str, int] = {}
        self.phase_found: dict[str, int] = {}
        self.phase_time: dict[str, float] = {}
        self.phase_limit = budget
        self.phase = ""
        self.output_names = [o.name for o in signature.outputs]

    # -- budget

    def elapsed(self) -> float:
        return time.perf_counter() - self.start

    def remaining(self) -> int:
        return max(self.budget - self.rows_tried, 0)

    def out_of_time(self) -> bool:
        return self.time_limit is not None and self.elapsed() >= self.time_limit

    def exhausted(self) -> bool:
        return self.remaining() <= 0 or self.rows_tried >= self.phase_limit or self.out_of_time()

    # -- tolerance

    def tol(self, name: str) -> tuple[float, float, str]:
        return self.tolerances.get(name, (0.0, 0.0, "exact"))

    # -- evaluation

    def run_onnx(self, feeds: dict[str, Array]) -> list[Array]:
        import numpy as np

        from onnxgate.runtime import run_rows

        outs = run_rows(self.session, None, feeds)  # row by row for a model that takes one row per run
        converted = [as_array(o, np) for o in outs]
        rows = len(next(iter(feeds.values()))) if feeds else 0
        for spec, out in zip(self.signature.outputs, converted):
            if out.ndim and len(out) != rows:
                # a BaggingClassifier(SVC()) file answers 5 rows whatever the batch (skl2onnx): the search
                # crashed on it with an IndexError (helper-89)
                raise RowCountError(f"onnxruntime answers {len(out)} rows of output {spec.name!r} for a batch of "
                                    f"{rows}, so generated rows cannot be compared one by one")
        self.onnx_runs_ok += 1
        return converted

    def note_onnx_error(self, err: BaseException) -> str:
        """Keep the first few onnxruntime errors for the report; returns the one-line form."""
        line = f"{type(err).__name__}: {' '.join(str(err).split())[:300]}"
        if len(self.onnx_errors) < 5:
            self.onnx_errors.append(line)
        return line

    def note_reference_error(self, err: BaseException) -> str:
        """Keep the first few reference errors for the report; returns the one-line form."""
        line = f"{type(err).__name__}: {' '.join(str(err).split())[:300]}"
        if len(self.reference_errors) < 5:
            self.reference_errors.append(line)
        return line

    def evaluate(
        self, Xc: Array, base: Array, *, feature: Array | None = None, record: bool = True, wide: bool = False
    ) -> tuple[list[Array] | None, Array]:
        """Run both models on the rows; returns ONNX outputs and a per-row divergent mask.

        Rows beyond the remaining budget are dropped (the caller sees a shorter result). ``wide`` (with a
        reference that takes float64 values, :attr:`wide`): the reference is given the rows' float64 values,
        the file the rows in its input types.
        """
        import numpy as np

        m = min(len(Xc), self.remaining(), self.phase_limit - self.rows_tried)
        if m <= 0 or self.out_of_time():
            raise BudgetExhausted
        Xc, base = Xc[:m], base[:m]
        feeds = self.space.build(Xc, base)
        wide = wide and self.wide
        ref_feeds = self.space.build(Xc, base, wide=True) if wide else feeds
        self.rows_tried += m
        self.phase_rows[self.phase] = self.phase_rows.get(self.phase, 0) + m
        try:
            ours = self.run_onnx(feeds)
        except RowCountError:
            raise
        except Exception as err:  # a row onnxruntime refuses: find which, by halving
            if m == 1:
                try:
                    self.reference_fn(ref_feeds)
                except Exception as refused:
                    # refused by both (a token id past the embedding table: torch raises too): no divergence,
                    # the service answers such a request with an error as well (helper-86)
                    self.reference_rejected += 1
                    self.note_reference_error(refused)
                    return None, np.zeros(1, bool)
                self.note_onnx_error(err)
                mask = np.ones(1, bool)
                if record:
                    self._record(Xc[0], int(base[0]), None if feature is None else int(feature[0]),
                                 [{"output": None, "error": f"onnxruntime failed: {str(err)[:200]}"}], wide=wide)
                return None, mask
            self.rows_tried -= m
            self.phase_rows[self.phase] -= m
            return self._split_evaluate(Xc, base, feature, record, wide)
        try:
            theirs = self.reference_fn(ref_feeds)
        except Exception as err:
            if m == 1:
                self.reference_rejected += 1
                self.note_reference_error(err)
                return ours, np.zeros(1, bool)
            self.rows_tried -= m
            self.phase_rows[self.phase] -= m
            return self._split_evaluate(Xc, base, feature, record, wide)
        if self.resolve_ties is not None:
            theirs = list(theirs)
            self.ties += self.resolve_ties(ref_feeds, list(ours), theirs).decided  # the rows the reference answered
        bad, per_output, ties = self.compare(theirs, ours, m)
        self.ties += int(ties.sum())
        if record and bad.any():
            for i in np.flatnonzero(bad):
                evidence = [e for e in (entry[i] for entry in per_output) if e is not None]
                self._record(Xc[i], int(base[i]), None if feature is None else int(feature[i]), evidence, wide=wide)
        return ours, bad

    def _split_evaluate(
        self, Xc: Array, base: Array, feature: Array | None, record: bool, wide: bool = False
    ) -> tuple[list[Array] | None, Array]:
        import numpy as np

        half = len(Xc) // 2
        parts = []
        outs_parts: list[list[Array] | None] = []
        for sl in (slice(0, half), slice(half, None)):
            f = None if feature is None else feature[sl]
            outs, bad = self.evaluate(Xc[sl], base[sl], feature=f, record=record, wide=wide)
            outs_parts.append(outs)
            parts.append(bad)
        mask = np.concatenate(parts)
        if all(o is not None for o in outs_parts):
            done = [p for p in outs_parts if p is not None]
            merged = [np.concatenate([p[k] for p in done]) for k in range(len(done[0]))]
            return merged, mask
        return None, mask

    def compare(
        self, expected: Sequence[Array | None], actual: Sequence[Array], m: int
    ) -> tuple[Array, list[list[dict[str, Any] | None]], Array]:
        import numpy as np

        bad = np.zeros(m, bool)
        per_output: list[list[dict[str, Any] | None]] = []
        label_bad = np.zeros(m, bool)
        prob_ok = np.ones(m, bool)
        margin_tie = np.zeros(m, bool)
        for k, name in enumerate(self.output_names):
            exp = expected[k] if k < len(expected) else None
            if exp is None or k >= len(actual):
                continue
            act = actual[k]
            if any(np.ndim(v) == 0 or np.shape(v)[0] != m for v in (exp, act) if not isinstance(v, list)):
                # no value per row (a scalar for the whole batch): outputs_one_value_per_row's to report, and
                # the search crashed reshaping it (found by helper-86)
                continue
            atol, rtol, mode = self.tol(name)
            # an infinity on both sides is the same answer to a generated input (an input of inf, 1e38): the
            # search looks for rows where the two models answer otherwise
            verdict = compare_rows(exp, act, atol=atol, rtol=rtol, exact=mode == "exact", name=name, rows=m,
                                   infinities_compare_equal=True)
            rows, entries, is_label = verdict.rows, verdict.evidence, verdict.exact
            if is_label:
                label_bad |= rows
            else:
                prob_ok &= ~rows
                e2 = np.asarray(exp)
                if e2.ndim == 2 and e2.shape[1] >= 2 and e2.shape[0] == m and e2.dtype.kind == "f":
                    top = np.sort(e2.astype(np.float64), axis=1)[:, -2:]
                    gap = top[:, 1] - top[:, 0]
                    margin_tie |= gap <= 2 * np.maximum(atol, rtol * np.abs(top[:, 1]))
            bad |= rows
            per_output.append(entries)
        # A label flip on a probability tie is no divergence: both sides are within tolerance there.
        only_label = label_bad & prob_ok & margin_tie
        bad &= ~only_label
        return bad, per_output, only_label

    def _record(
        self, x: Array, base: int, feature: int | None, outputs: list[dict[str, Any]], *, wide: bool = False
    ) -> None:
        import numpy as np

        self.n_divergent += 1
        self.phase_found[self.phase] = self.phase_found.get(self.phase, 0) + 1
        if self.first_elapsed is None:
            self.first_elapsed = self.elapsed()
            self.first_rows = self.rows_tried
        # One report entry per (feature, output, rounded value): bisection finds neighbours of one flip.
        key = (self.phase, feature, tuple(o.get("output") for o in outputs),
               None if feature is None else float(np.float32(x[feature])))
        if key in self.keys or len(self.divergences) >= MAX_REPORTED:
            return
        self.keys.add(key)
        self.divergences.append(
            Divergence(
                self.phase, x.copy(), base, feature, outputs, elapsed=self.elapsed(), rows_tried=self.rows_tried,
                wide=wide,
            )
        )


def as_array(value: Any, np: Any) -> Array:
    from onnxgate.validators.reference import side_by_side

    if isinstance(value, list) and value and isinstance(value[0], dict):  # ZipMap output
        keys = sorted(value[0])
        return np.asarray([[row[k] for k in keys] for row in value], dtype=np.float64)
    # a seq(tensor) of [N, k_i] arrays (MultiOutputClassifier's probabilities, 3 and 2 classes) side by side, as
    # parity lays it out: numpy refused the ragged list, and the search blamed onnxruntime (helper-89)
    return np.asarray(side_by_side(value))
