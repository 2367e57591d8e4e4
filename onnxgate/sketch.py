"""A mergeable quantile sketch for non-negative errors: a fixed log-scale histogram.

Values are counted in bins of equal width on a log10 scale, :data:`LogHistogram.PER_DECADE` bins per
decade from ``10**LOW`` to ``10**HIGH``, plus one bin for 0 (and negative values, which errors never
are) and one for infinity. Because the bins are fixed, two histograms merge by adding their counts:
the merge is exact, associative and commutative, so partial results from many processes (Spark
partitions) give the same sketch whatever the order they arrive in.

Error bound. A quantile is the order statistic of rank ``ceil(q * (n - 1))`` (0-based, numpy's
``method="higher"``), estimated by the geometric middle of its bin: for a value ``x`` in
``[10**LOW, 10**HIGH]`` the estimate ``x_hat`` satisfies ``|x_hat - x| <= RELATIVE_ERROR * x``
with ``RELATIVE_ERROR = 10**(0.5 / PER_DECADE) - 1`` (2.33% at 50 bins per decade). Zero and
infinity are exact; positive values below ``10**LOW`` are reported as about ``10**LOW``
(an absolute error below ``1.05 * 10**LOW``), values above ``10**HIGH`` as about ``10**HIGH``.
The linearly interpolated quantile (numpy's default) lies between the order statistics of ranks
``floor`` and ``ceil`` of ``q * (n - 1)``; on many values they are neighbours.

Size: one ``int64`` count per bin (3,003 bins, 24 KB); pickled, only the non-empty bins are kept.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np

__all__ = ["LogHistogram"]


class LogHistogram:
    """Counts of non-negative values on a fixed log-scale grid; quantiles within a relative error.

    Examples
    --------
    >>> import numpy as np
    >>> a, b = LogHistogram(), LogHistogram()
    >>> a.add(np.array([1.0, 2.0, 3.0])); b.add(np.array([4.0, 100.0]))
    >>> a.merge(b)
    >>> a.count
    5
    >>> abs(a.quantiles((0.5,))[0] - 3.0) <= LogHistogram.RELATIVE_ERROR * 3.0
    True
    """

    #: Bins per decade; sets the error bound.
    PER_DECADE = 50
    #: The log10 range counted in log bins.
    LOW, HIGH = -30, 30
    #: Largest relative error of a quantile estimate within ``[10**LOW, 10**HIGH]``.
    RELATIVE_ERROR = 10 ** (0.5 / PER_DECADE) - 1
    #: zero bin + log bins + the bin of values at or above 10**HIGH + infinity bin.
    SIZE = (HIGH - LOW) * PER_DECADE + 3

    def __init__(self) -> None:
        import numpy as np

        self.counts = np.zeros(self.SIZE, dtype=np.int64)

    @property
    def count(self) -> int:
        """Number of values counted."""
        return int(self.counts.sum())

    def add(self, values: np.ndarray) -> None:
        """Count ``values`` (any shape; NaN must have been removed by the caller)."""
        import numpy as np

        if values.size:
            # bincount is one pass; np.add.at on the same indices is several times slower
            self.counts += np.bincount(self.index(values), minlength=self.SIZE)

    def merge(self, other: LogHistogram) -> None:
        """Add ``other``'s counts to this histogram's (exact)."""
        self.counts += other.counts

    @classmethod
    def index(cls, values: np.ndarray) -> np.ndarray:
        """The bin of each value, flattened."""
        import numpy as np

        v = np.asarray(values, dtype=np.float64)
        zero = v <= 0
        inf = np.isinf(v)
        with np.errstate(divide="ignore", invalid="ignore"):
            logs = np.floor((np.log10(np.where(zero | inf, 1.0, v)) - cls.LOW) * cls.PER_DECADE)
        idx = np.clip(logs, 0, (cls.HIGH - cls.LOW) * cls.PER_DECADE).astype(np.int64) + 1
        idx[zero] = 0
        idx[inf] = cls.SIZE - 1
        return idx.reshape(-1)

    @classmethod
    def value(cls, index: int) -> float:
        """The estimate of a value in bin ``index``: the geometric middle of the bin."""
        if index <= 0:
            return 0.0
        if index >= cls.SIZE - 1:
            return math.inf
        low = cls.LOW + (index - 1) / cls.PER_DECADE
        return float(10 ** (low + 0.5 / cls.PER_DECADE))

    def quantiles(self, qs: tuple[float, ...]) -> list[float]:
        """Estimates of the ``qs`` quantiles (0 when nothing was counted), within :attr:`RELATIVE_ERROR`."""
        import numpy as np

        total = self.count
        if total == 0:
            return [0.0 for _ in qs]
        cumulative = np.cumsum(self.counts)
        return [self.value(int(np.searchsorted(cumulative, math.ceil(q * (total - 1)) + 1))) for q in qs]

    def __getstate__(self) -> dict[str, Any]:
        import numpy as np

        nonzero = np.flatnonzero(self.counts)
        return {"bins": nonzero.astype(np.int32), "counts": self.counts[nonzero]}

    def __setstate__(self, state: dict[str, Any]) -> None:
        import numpy as np

        self.counts = np.zeros(self.SIZE, dtype=np.int64)
        self.counts[state["bins"]] = state["counts"]
