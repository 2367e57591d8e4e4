"""Hypothesis properties of the element-wise comparison (Polygraphy's rule: abs > atol and rel > rtol)."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from onnxgate.validators.parity import compare_arrays

finite = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False, allow_infinity=False, width=64)
tol = st.floats(min_value=0, max_value=10, allow_nan=False)
pairs = st.integers(1, 30).flatmap(
    lambda n: st.tuples(arrays(np.float64, n, elements=finite), arrays(np.float64, n, elements=finite))
)
normal = finite.filter(lambda x: x == 0 or abs(x) > 1e-250)  # no subnormals: 2**k scaling stays exact
normal_pairs = st.integers(1, 30).flatmap(
    lambda n: st.tuples(arrays(np.float64, n, elements=normal), arrays(np.float64, n, elements=normal))
)
any_float = st.floats(allow_nan=True, allow_infinity=True, width=64)
SETTINGS = settings(max_examples=150, deadline=None)


@SETTINGS
@given(pairs, tol, tol, tol, tol)
def test_looser_tolerances_never_add_mismatches(pair, atol, rtol, extra_a, extra_r):
    expected, actual = pair
    tight = compare_arrays(expected, actual, atol=atol, rtol=rtol)
    loose = compare_arrays(expected, actual, atol=atol + extra_a, rtol=rtol + extra_r)
    assert loose.mismatched_values <= tight.mismatched_values
    assert loose.passed or not tight.passed


@SETTINGS
@given(pairs, tol, tol)
def test_minimum_tolerances_are_sufficient_and_tight(pair, atol, rtol):
    expected, actual = pair
    c = compare_arrays(expected, actual, atol=atol, rtol=rtol)
    assert compare_arrays(expected, actual, atol=c.min_atol, rtol=rtol).passed
    assert compare_arrays(expected, actual, atol=atol, rtol=c.min_rtol).passed
    if not c.passed and c.min_atol > 0:
        # The next float below min_atol must fail (min_atol * (1 - 1e-9) rounds back to it for subnormals).
        assert not compare_arrays(expected, actual, atol=float(np.nextafter(c.min_atol, 0)), rtol=rtol).passed


@SETTINGS
@given(normal_pairs, st.floats(min_value=0, max_value=2, allow_nan=False), st.integers(-20, 20))
def test_rtol_verdict_is_scale_invariant(pair, rtol, power):
    # Scaling both sides by a power of two is exact in floating point: rel errors do not change.
    expected, actual = pair
    scale = 2.0**power
    base = compare_arrays(expected, actual, atol=0, rtol=rtol)
    scaled = compare_arrays(expected * scale, actual * scale, atol=0, rtol=rtol)
    assert base.mismatched_values == scaled.mismatched_values
    assert base.rel["max"] == scaled.rel["max"]


@SETTINGS
@given(pairs)
def test_identical_arrays_always_match(pair):
    expected, _ = pair
    c = compare_arrays(expected, expected.copy(), atol=0, rtol=0)
    assert c.passed and c.abs["max"] == 0 and c.min_atol == 0 and c.min_rtol == 0


@SETTINGS
@given(any_float, any_float, tol, tol, st.booleans())
def test_nan_and_inf_rules(e, a, atol, rtol, inf_equal):
    c = compare_arrays(np.array([e]), np.array([a]), atol=atol, rtol=rtol, infinities_compare_equal=inf_equal)
    if math.isnan(e) and math.isnan(a):
        assert c.passed  # NaN against NaN matches
    elif math.isnan(e) or math.isnan(a):
        assert not c.passed  # NaN against a number never matches, whatever the tolerance
    elif math.isinf(e) or math.isinf(a):
        assert c.passed == (inf_equal and e == a)
    else:
        diff = abs(a - e)
        rel = diff / abs(e) if e != 0 else (math.inf if diff > 0 else 0.0)
        assert c.passed == (not (diff > atol and rel > rtol))


@SETTINGS
@given(pairs, tol, tol, st.integers(1, 7))
def test_batches_give_the_same_verdict_and_statistics(pair, atol, rtol, batch):
    from onnxgate.validators.parity import _Accumulator

    expected, actual = pair
    whole = compare_arrays(expected, actual, atol=atol, rtol=rtol)
    acc = _Accumulator("y", atol, rtol, "tolerance", False)
    for start in range(0, len(expected), batch):
        acc.update(expected[start : start + batch], actual[start : start + batch], row_offset=start)
    split = acc.result()
    assert split.mismatched_rows == whole.mismatched_rows
    assert split.mismatched_row_indices == whole.mismatched_row_indices
    assert split.abs["max"] == whole.abs["max"] and split.abs["median"] == whole.abs["median"]
    assert math.isclose(split.abs["mean"], whole.abs["mean"], rel_tol=1e-9, abs_tol=1e-12)
    assert [r["row"] for r in split.worst_rows] == [r["row"] for r in whole.worst_rows]
