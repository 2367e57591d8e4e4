"""The API layer wires the packages: converters convert, the API adapts for SQL and converts again at a
target's cap, and the sweep converts and validates at each opset."""

from __future__ import annotations

from functools import cache
from typing import Any

import onnxgate as og
from onnxgate import api, converters


@cache
def _iris() -> tuple[Any, Any]:
    model, X, _y = og.zoo.get("sklearn-iris-logreg").build()
    return model, X


def test_converters_convert_only_converts_and_the_api_adapts_for_sql() -> None:
    model, X = _iris()
    plain = converters.convert(model, X[:10], target="sql-edge-2.0")
    assert [s.width for s in plain.signature.inputs] == [4]  # one [N,4] input: not adapted here
    adapted = og.convert(model, X[:10], target="sql-edge-2.0")
    assert adapted.target == "sql-edge-2.0"
    assert all(s.width == 1 for s in adapted.signature.inputs) and len(adapted.signature.inputs) == 4
    assert og.convert is api.convert and og.adapt is api.adapt and og.package is api.package


def test_at_target_cap_converts_again_only_above_the_cap() -> None:
    model, X = _iris()
    conv = og.convert(model, X[:10], opset=17)
    again = api.at_target_cap(conv, "sql-edge-1.0")
    assert again.opsets[""] <= 12 and any("converted again" in w for w in again.warnings)
    assert api.at_target_cap(again, "sql-edge-1.0") is again  # within the caps: as it is
    assert api.at_target_cap(conv, "onnxruntime") is conv


def test_the_sweep_passes_converter_keywords_on() -> None:
    model, X = _iris()
    result = api.sweep(model, X[:20], [15], options={"zipmap": True})
    (row,) = result.rows
    assert row.converted and row.opset == 15
    assert result.framework == "sklearn"


def test_the_sweep_refuses_an_opset_named_twice_or_none_before_converting() -> None:
    # og.sweep(model, X, [13, 13]) gave a matrix of one row without a word, where the CLI's --opsets 13,13 is
    # refused: [13, 13] is more likely a slip for [13, 14]
    import pytest

    from onnxgate.errors import InvalidDataError

    model, X = _iris()
    with pytest.raises(InvalidDataError, match=r"names opset\(s\) 13 more than once"):
        api.sweep(model, X[:20], [13, 14, 13])
    with pytest.raises(InvalidDataError, match="names no opset"):
        api.sweep(model, X[:20], iter(()))
    assert [row.opset for row in api.sweep(model, X[:20], (o for o in (14, 13))).rows] == [13, 14]
