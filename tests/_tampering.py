"""Files tampered with on purpose, to prove a check catches what it claims. Shared by the converter tests."""

from __future__ import annotations

from typing import Any


def outputs_swapped(model: Any) -> Any:
    """A copy of ``model`` (an ``onnx.ModelProto``) listing its first two graph outputs in the other order: the
    same values under the same names, in the positions a client reading outputs by position gets swapped."""
    import onnx

    swapped = onnx.ModelProto()
    swapped.CopyFrom(model)
    first, second = onnx.ValueInfoProto(), onnx.ValueInfoProto()
    first.CopyFrom(swapped.graph.output[0])
    second.CopyFrom(swapped.graph.output[1])
    swapped.graph.output[0].CopyFrom(second)
    swapped.graph.output[1].CopyFrom(first)
    return swapped
