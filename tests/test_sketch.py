"""The quantile sketch: merging is exact, quantiles stay within the stated bound of the order statistic."""

from __future__ import annotations

import pickle

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from onnxgate.sketch import LogHistogram

errors = st.lists(
    st.one_of(st.just(0.0), st.floats(min_value=1e-30, max_value=1e30, allow_nan=False)), min_size=1, max_size=300
)


@settings(max_examples=200, deadline=None)
@given(errors, st.integers(min_value=0, max_value=300), st.sampled_from([0.0, 0.5, 0.9, 0.99, 1.0]))
def test_quantile_is_within_the_bound_of_the_order_statistic(values: list[float], cut: int, q: float) -> None:
    data = np.array(values)
    left, right = LogHistogram(), LogHistogram()
    left.add(data[:cut])
    right.add(data[cut:])
    left.merge(pickle.loads(pickle.dumps(right)))  # what a Spark partition sends
    whole = LogHistogram()
    whole.add(data)
    np.testing.assert_array_equal(left.counts, whole.counts)
    exact = float(np.quantile(data, q, method="higher"))
    (estimate,) = left.quantiles((q,))
    assert abs(estimate - exact) <= LogHistogram.RELATIVE_ERROR * exact * (1 + 1e-9)  # + float rounding


def test_zero_and_infinity_are_exact_and_the_pickle_is_small() -> None:
    h = LogHistogram()
    h.add(np.array([0.0, 0.0, np.inf]))
    assert h.quantiles((0.0, 0.5, 1.0)) == [0.0, 0.0, np.inf]
    assert len(pickle.dumps(h)) < 1000  # only the non-empty bins travel
    assert LogHistogram.RELATIVE_ERROR < 0.024
