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


def test_local_exact_quantiles_are_the_order_statistic_spark_estimates() -> None:
    # local parity interpolated between order statistics and Spark's histogram estimated the higher one: on
    # 569 rows their p99 differed by 69%, far beyond the stated 2.33%; a bin's value also put p99 above max
    from onnxgate.validators.quantiles import Quantiles, Stat

    rng = np.random.default_rng(3)
    values = np.concatenate([rng.exponential(0.01, 560), rng.uniform(0.5, 2.0, 9)])
    local, spark = Stat(), Stat(quantiles=Quantiles(exact_limit=0))
    local.add(values.copy())
    spark.add(values.copy())
    exact, estimated = local.to_dict(), spark.to_dict()
    for key in ("median", "p99"):
        assert exact[key] == float(np.quantile(values, 0.5 if key == "median" else 0.99, method="higher"))
        assert abs(estimated[key] - exact[key]) <= LogHistogram.RELATIVE_ERROR * exact[key]
        assert estimated[key] <= estimated["max"]
