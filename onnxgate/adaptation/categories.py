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

__all__ = ["refuse_codes_unknown_not_missing", "text_categories_as_codes", "text_category_inputs"]


def _positions(node: Any, *, any_default: bool = False) -> list[str] | None:
    """The text keys of a ``LabelEncoder`` that maps each to its position as a float with NaN for any other
    text (the read of a category column's codes), or None for any other node. With ``any_default``, also one
    whose other text gets another value (an OrdinalEncoder's unknown value -1, or its ``handle_unknown='error'``,
    written with ONNX's default -1), floats or integers."""
    from onnx import helper

    if node.op_type != "LabelEncoder" or node.domain != "ai.onnx.ml":
        return None
    attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
    if set(attrs) == {"keys_strings", "values_floats", "default_float"}:
        values = list(attrs["values_floats"])
        default = float(attrs["default_float"])
    elif any_default and set(attrs) - {"default_float", "default_int64"} in (
            {"keys_strings", "values_floats"}, {"keys_strings", "values_int64s"}):
        values = list(attrs.get("values_floats", attrs.get("values_int64s", [])))
        default = float(attrs.get("default_float" if "values_floats" in attrs else "default_int64", -1))
    else:
        return None
    keys = [k.decode() if isinstance(k, bytes) else str(k) for k in attrs["keys_strings"]]
    if values != [float(i) for i in range(len(keys))] or not (any_default or math.isnan(default)):
        return None
    return keys


def _category_reads(proto: Any, *, any_default: bool) -> dict[str, list[str]]:
    """The ``[N,1]`` text inputs read only by LabelEncoders from each category to its position
    (:func:`_positions`), each with its categories in code order."""
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
        keys = [_positions(n, any_default=any_default) for n in readers]
        if all(k is not None and k == keys[0] for k in keys):
            found[vi.name] = list(keys[0] or [])
    return found


def text_category_inputs(proto: Any) -> dict[str, list[str]]:
    """The ``[N,1]`` text inputs read only by such LabelEncoders, each with its categories in code order."""
    return _category_reads(proto, any_default=False)


def refuse_codes_unknown_not_missing(proto: Any, target_name: str) -> None:
    """Refuse, saying why and what to do, a text input read only through an encoder of its categories to their
    positions that gives any other text a value of its own (an OrdinalEncoder with ``unknown_value=-1`` or
    ``handle_unknown='error'``, in a pipeline before HistGradientBoosting): a target without text takes a text
    category as its codes only where an unknown category reads as missing (NaN), so that pandas' code -1 for a
    missing value reads as scikit-learn reads that value; here the code -1 would read as the unknown value
    instead. Such a pipeline was refused with "Encode it as numbers before training", though the encoder's
    ``unknown_value`` is all that stands in the way."""
    from onnxgate.errors import UnsupportedModelError

    odd = sorted(set(_category_reads(proto, any_default=True)) - set(text_category_inputs(proto)))
    if odd:
        raise UnsupportedModelError(
            f"column(s) {odd}: the model reads text through an encoder of its categories that gives an unknown "
            f"category a value of its own (an OrdinalEncoder with unknown_value=-1 or handle_unknown='error'), and "
            f"target {target_name!r} takes no text. onnxgate feeds a text category there as its codes (pandas' "
            ".cat.codes, -1 for a missing value) only where the encoder reads an unknown category as missing (NaN), "
            "as the file then reads the code -1; with this encoder the file would read a missing value as that "
            "unknown value, where scikit-learn reads it as missing. Before a model that reads missing values "
            "(HistGradientBoosting), refit with OrdinalEncoder(handle_unknown='use_encoded_value', "
            "unknown_value=np.nan): it scores an unknown category as missing, as it does the code -1 now; otherwise "
            "encode the column as numbers before training, or use a target that takes text (synapse)"
        )


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
