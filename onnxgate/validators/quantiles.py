"""Running error statistics of parity in bounded memory: max, mean and counts exact; median and p99
exact up to :data:`EXACT_QUANTILE_LIMIT` values, estimated beyond from a log-scale histogram
(:class:`onnxgate.sketch.LogHistogram`; relative error below 2.4%, its half-bin width); partial
statistics merge (Spark partitions). The evidence histogram is that histogram summed into
:data:`HISTOGRAM_BINS_PER_DECADE` bins a decade."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from onnxgate.sketch import LogHistogram

if TYPE_CHECKING:
    import numpy as np

__all__ = ["EXACT_QUANTILE_LIMIT", "HISTOGRAM_BINS_PER_DECADE", "Quantiles", "Stat", "coarse_histogram"]

#: Values per output kept for exact median and p99; beyond, a histogram estimates them.
EXACT_QUANTILE_LIMIT = 1_000_000
#: Bins per decade of the error histograms kept as evidence (a divisor of the quantile histogram's 50,
#: so each is a sum of its bins): 5 bins a decade, at most 300 bins, in practice 20-60.
HISTOGRAM_BINS_PER_DECADE = 5
#: The quantile histogram's grid (:class:`onnxgate.sketch.LogHistogram`): bins per decade and log10 range.
_HIST_PER_DECADE = LogHistogram.PER_DECADE
_HIST_LOW, _HIST_HIGH = LogHistogram.LOW, LogHistogram.HIGH


class Quantiles:
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

    def merge(self, other: Quantiles) -> None:
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
            # The order statistic at or above the quantile ("higher"), which the histogram estimates too: a
            # partial result merged from Spark's partitions then reports what local parity reports, within
            # the histogram's bound (linear interpolation put local p99 69% below Spark's on 569 rows),
            # and no interpolation next to inf gives nan.
            return [float(v) for v in np.quantile(data, list(qs), method="higher", overwrite_input=True)]
        return self.hist.quantiles(qs)


def coarse_histogram(fine: np.ndarray) -> dict[str, Any]:
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
class Stat:
    """Running max / sum / count of one error kind, plus its quantiles."""

    max: float = 0.0
    total: float = 0.0
    count: int = 0
    quantiles: Quantiles = field(default_factory=Quantiles)

    def merge(self, other: Stat) -> None:
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
        # a histogram bin's value may lie above every value in it: never report a quantile above the max
        median, p99 = (min(v, self.max) for v in self.quantiles.quantiles((0.5, 0.99)))
        return {"max": self.max, "mean": mean, "median": median, "p99": p99}
