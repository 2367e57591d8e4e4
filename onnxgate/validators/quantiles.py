"""Running error statistics of parity in bounded memory: max, mean and counts exact; median and p99
exact up to :data:`EXACT_QUANTILE_LIMIT` values, estimated beyond from a log-scale histogram
(relative error below 2.4%, the histogram's half-bin width); the evidence histogram is that
histogram summed into :data:`HISTOGRAM_BINS_PER_DECADE` bins a decade."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np

__all__ = ["EXACT_QUANTILE_LIMIT", "HISTOGRAM_BINS_PER_DECADE", "Stat", "coarse_histogram"]

#: Values per output kept for exact median and p99; beyond, a histogram estimates them.
EXACT_QUANTILE_LIMIT = 1_000_000
#: Bins per decade of the error histograms kept as evidence (a divisor of the quantile histogram's 50,
#: so each is a sum of its bins): 5 bins a decade, at most 300 bins, in practice 20-60.
HISTOGRAM_BINS_PER_DECADE = 5
#: Log-scale histogram: bins per decade between 10**_HIST_LOW and 10**_HIST_HIGH.
_HIST_PER_DECADE = 50
_HIST_LOW, _HIST_HIGH = -30, 30


class _Quantiles:
    """Exact quantiles while few values arrived; a log-scale histogram once there are many."""

    def __init__(self) -> None:
        self.chunks: list[np.ndarray] = []
        self.count = 0
        self.hist: np.ndarray | None = None

    def add(self, values: np.ndarray, *, owned: bool = False) -> None:
        """Take ``values`` into account; ``owned=True`` hands over a float64 array nobody else keeps."""
        import numpy as np

        if values.size == 0:
            return
        self.count += int(values.size)
        if self.hist is None:
            kept = values if owned and values.dtype == np.float64 else np.array(values, dtype=np.float64)
            self.chunks.append(kept.reshape(-1))
            if self.count > EXACT_QUANTILE_LIMIT:
                self.hist = np.zeros(_hist_size(), dtype=np.int64)
                for chunk in self.chunks:
                    self._fold(chunk)
                self.chunks = []
        else:
            self._fold(values)

    def _fold(self, values: np.ndarray) -> None:
        import numpy as np

        assert self.hist is not None
        # bincount is one pass; np.add.at on the same indices is several times slower
        self.hist += np.bincount(_hist_index(values), minlength=self.hist.size)

    @property
    def method(self) -> str:
        return "histogram" if self.hist is not None else "exact"

    def histogram(self) -> np.ndarray:
        """Counts in the fine log-scale bins (:func:`_hist_index`) of every value seen."""
        import numpy as np

        if self.hist is not None:
            return self.hist
        hist = np.zeros(_hist_size(), dtype=np.int64)
        for chunk in self.chunks:
            hist += np.bincount(_hist_index(chunk), minlength=hist.size)
        return hist

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
        cumulative = np.cumsum(self.hist)
        return [_hist_value(int(np.searchsorted(cumulative, q * (self.count - 1) + 1))) for q in qs]


def _hist_size() -> int:
    return (_HIST_HIGH - _HIST_LOW) * _HIST_PER_DECADE + 3  # zero bin, log bins, inf bin, + under


def _hist_index(values: np.ndarray) -> np.ndarray:
    import numpy as np

    v = np.asarray(values, dtype=np.float64)
    idx = np.empty(v.shape, dtype=np.int64)
    zero = v <= 0
    inf = ~np.isfinite(v)
    with np.errstate(divide="ignore", invalid="ignore"):
        logs = np.floor((np.log10(np.where(zero | inf, 1.0, v)) - _HIST_LOW) * _HIST_PER_DECADE)
    logs = np.clip(logs, 0, (_HIST_HIGH - _HIST_LOW) * _HIST_PER_DECADE).astype(np.int64) + 1
    idx[...] = logs
    idx[zero] = 0
    idx[inf] = _hist_size() - 1
    return idx.reshape(-1)


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


def _hist_value(index: int) -> float:
    if index <= 0:
        return 0.0
    if index >= _hist_size() - 1:
        return math.inf
    low = _HIST_LOW + (index - 1) / _HIST_PER_DECADE
    return float(10 ** (low + 0.5 / _HIST_PER_DECADE))  # geometric middle of the bin


@dataclass
class Stat:
    """Running max / sum / count of one error kind, plus its quantiles."""

    max: float = 0.0
    total: float = 0.0
    count: int = 0
    quantiles: _Quantiles = field(default_factory=_Quantiles)

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
