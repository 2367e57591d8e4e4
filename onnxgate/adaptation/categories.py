"""Text category inputs as their codes, for a target that takes no text (SQL Edge).

A pandas category column of text (LightGBM fitted on a DataFrame) is converted without a target as a text
input read through one ``LabelEncoder`` from each category to its position among the categories, NaN for any
other text: the trees read that position, the code. The same model converted for SQL Edge
(``convert(..., target="sql-edge-2.0")``) takes the codes themselves, an int32 column. A conversion made
without that target, or its saved file, was refused for SQL Edge ("'band' is string ... use a numeric
encoding"), though only the LabelEncoder's input differs: the rewrite here gives the file the codes input,
read by the same LabelEncoder keyed by the codes (0..k-1, any other code, such as pandas' -1 for a missing
value, NaN as any unseen text was), so it scores every row as the text input did. The categories are recorded
(:data:`onnxgate.signature.CATEGORY_CODES_METADATA_KEY`), so validate, score, the dry run and Spark map a
pandas category column to its codes by value, an unseen value to a missing one's, as LightGBM scores it.
"""

from __future__ import annotations

import math
from typing import Any

__all__ = ["text_categories_as_codes", "text_category_inputs"]


def _positions(node: Any) -> list[str] | None:
    """The text keys of a ``LabelEncoder`` that maps each to its position as a float with NaN for any other
    text (the read of a category column's codes), or None for any other node."""
    from onnx import helper

    if node.op_type != "LabelEncoder" or node.domain != "ai.onnx.ml":
        return None
    attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
    if set(attrs) != {"keys_strings", "values_floats", "default_float"}:
        return None
    keys = [k.decode() if isinstance(k, bytes) else str(k) for k in attrs["keys_strings"]]
    values = list(attrs["values_floats"])
    if values != [float(i) for i in range(len(keys))] or not math.isnan(attrs["default_float"]):
        return None
    return keys


def text_category_inputs(proto: Any) -> dict[str, list[str]]:
    """The ``[N,1]`` text inputs read only by such LabelEncoders, each with its categories in code order."""
    graph = proto.graph
    weights = {init.name for init in graph.initializer}
    found: dict[str, list[str]] = {}
    for vi in graph.input:
        tensor = vi.type.tensor_type
        if vi.name in weights or not vi.type.HasField("tensor_type") or tensor.elem_type != 8:  # STRING
            continue
        readers = [n for n in graph.node if vi.name in n.input]
        if vi.name in {o.name for o in graph.output} or not readers:
            continue
        keys = [_positions(n) for n in readers]
        if all(k is not None and k == keys[0] for k in keys):
            found[vi.name] = list(keys[0] or [])
    return found


def text_categories_as_codes(proto: Any) -> list[str]:
    """Rewrite ``proto`` in place: each :func:`text_category_inputs` input becomes an int32 input of the
    codes, Cast to int64 and read by its LabelEncoder keyed by the codes; its categories are recorded, and
    its missing text (:data:`onnxgate.signature.MISSING_TEXT_METADATA_KEY`) dropped. Returns the inputs
    rewritten."""
    import json

    from onnx import TensorProto, helper

    from onnxgate._graph import graph_names, unique_name
    from onnxgate.signature import (
        CATEGORY_CODES_METADATA_KEY,
        MISSING_TEXT_METADATA_KEY,
        UNSEEN_MISSING_METADATA_KEY,
    )

    inputs = text_category_inputs(proto)
    if not inputs:
        return []
    graph = proto.graph
    taken = graph_names(graph)
    casts = []
    for name, keys in inputs.items():
        wide = unique_name(f"{name}_int64", taken)
        for node in graph.node:
            if name not in node.input:
                continue
            node.input[:] = [wide if i == name else i for i in node.input]
            kept = [a for a in node.attribute if a.name != "keys_strings"]
            del node.attribute[:]
            node.attribute.extend([*kept, helper.make_attribute("keys_int64s", list(range(len(keys))))])
        casts.append(helper.make_node("Cast", [name], [wide], to=TensorProto.INT64,
                                      name=unique_name(f"codes_of_{name}", taken)))
        next(vi for vi in graph.input if vi.name == name).type.tensor_type.elem_type = TensorProto.INT32
    for node in reversed(casts):
        graph.node.insert(0, node)
    recorded = {p.key: json.loads(p.value) for p in proto.metadata_props
                if p.key in (CATEGORY_CODES_METADATA_KEY, UNSEEN_MISSING_METADATA_KEY, MISSING_TEXT_METADATA_KEY)}
    codes = {**recorded.get(CATEGORY_CODES_METADATA_KEY, {}), **{n: [[0, k]] for n, k in inputs.items()}}
    unseen = {**recorded.get(UNSEEN_MISSING_METADATA_KEY, {}), **dict.fromkeys(inputs, True)}
    missing = {k: v for k, v in recorded.get(MISSING_TEXT_METADATA_KEY, {}).items() if k not in inputs}
    kept_props = [p for p in proto.metadata_props if p.key not in recorded]
    del proto.metadata_props[:]
    proto.metadata_props.extend(kept_props)
    for key, value in ((CATEGORY_CODES_METADATA_KEY, codes), (UNSEEN_MISSING_METADATA_KEY, unseen),
                       (MISSING_TEXT_METADATA_KEY, missing)):
        if value:
            entry = proto.metadata_props.add()
            entry.key, entry.value = key, json.dumps(value, ensure_ascii=False)
    return list(inputs)
