"""Partial parity results (one per Spark partition) merge into what one pass over all rows gives."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from onnxgate.validators.parity import OutputAccumulator


@pytest.mark.parametrize("mode", ["tolerance", "exact"])
def test_merged_partials_equal_one_pass(mode: str) -> None:
    rng = np.random.default_rng(5)
    expected = rng.normal(size=(900, 3))
    actual = expected + rng.normal(scale=1e-4, size=expected.shape) * (rng.random(expected.shape) < 0.05)
    if mode == "exact":
        expected, actual = np.argmax(expected, axis=1), np.argmax(actual, axis=1)
    actual[17] = np.nan if mode == "tolerance" else actual[17] + 1  # one row wrong in its own way
    inputs = {"x": np.arange(900.0).reshape(-1, 1)}

    def accumulator() -> OutputAccumulator:
        return OutputAccumulator("y", 1e-5, 1e-5, mode, False, exact_limit=0)  # type: ignore[arg-type]

    whole = accumulator()
    for start in range(0, 900, 100):
        stop = start + 100
        whole.update(expected[start:stop], actual[start:stop], row_offset=start,
                     inputs={"x": inputs["x"][start:stop]})
    merged = accumulator()
    for start, stop in ((0, 250), (250, 600), (600, 900)):  # three "partitions", rows numbered from 0 in each
        part = accumulator()
        for s in range(start, stop, 100):
            e = min(s + 100, stop)
            part.update(expected[s:e], actual[s:e], row_offset=s - start, inputs={"x": inputs["x"][s:e]})
        merged.merge(pickle.loads(pickle.dumps(part)), row_offset=start)
    a, b = merged.result().to_dict(), whole.result().to_dict()
    assert a["abs"]["mean"] == pytest.approx(b["abs"]["mean"], rel=1e-12) if a["abs"] else True
    for side in (a, b):
        if side["abs"]:
            side["abs"].pop("mean"), side["rel"].pop("mean")
    # the sample is drawn per partition (its rows' numbers are not known there): a uniform sample of
    # the same size whose rows hold the values at those row numbers, not always the same rows
    sample_a, sample_b = a.pop("sample", None), b.pop("sample", None)
    if mode == "tolerance":
        assert len(sample_a["rows"]) == len(sample_b["rows"]) == 100
        for row, ref in zip(sample_a["rows"], sample_a["reference"]):
            assert ref == expected[row].tolist()
    else:
        assert sample_a is sample_b is None
    assert a == b  # counts, maxima, quantiles, histograms, worst rows, mismatching rows, confusion table
    assert a["mismatched_rows"] > 0 and 17 in a["mismatched_row_indices"]
