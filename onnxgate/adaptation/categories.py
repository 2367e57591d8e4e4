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

A text column one-hot encoded (scikit-learn's ``OneHotEncoder``, often over a pandas category column in a
``ColumnTransformer``) is read by an ``ai.onnx.ml`` OneHotEncoder node keyed by the categories' texts, directly or
through the ``Gather`` that picks its column. On such a target it takes the codes the same way: the node is keyed
by the codes (0..k-1, the encoder's categories in its own order, the recorded order), so code ``i`` sets the
one-hot column of category ``i``. A missing value (pandas' code -1) reads as the encoder reads one: where it
learnt a missing category (NaN among its ``categories_``, written as a text no data holds) the key of that
category is -1, so -1 sets its column; otherwise -1 is no key, as any other code outside 0..k-1 is, and reads as
an unknown category: all zeros with ``handle_unknown='ignore'`` (the node's ``zeros=1``; the infrequent column
with ``'infrequent_if_exist'``, computed from them), an error from onnxruntime with ``handle_unknown='error'``
(``zeros=0``), as scikit-learn raises on it. Only where an unknown category and a missing one read alike is an
unseen value fed as missing (:data:`onnxgate.signature.UNSEEN_MISSING_METADATA_KEY`); elsewhere (a learnt missing
category, or an encoder that raises) a pandas value none of the categories is refused before scoring, not
scored as something it is not.
"""

from __future__ import annotations

import math
from typing import Any

__all__ = [
    "missing_learnt_inputs",
    "missing_refused_inputs",
    "one_hot_category_inputs",
    "refuse_codes_unknown_not_missing",
    "text_categories_as_codes",
    "text_category_inputs",
    "unknown_refused_by_one_hot",
    "unseen_refused",
]


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


def _one_hot_keys(node: Any) -> tuple[list[str], bool] | None:
    """The text categories of an ``ai.onnx.ml`` OneHotEncoder keyed by text, with whether it gives an unknown
    text all zeros (``zeros=1``, its default) rather than an error; None for any other node."""
    from onnx import helper

    if node.op_type != "OneHotEncoder" or node.domain != "ai.onnx.ml":
        return None
    attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
    if set(attrs) - {"zeros"} != {"cats_strings"}:
        return None
    keys = [k.decode() if isinstance(k, bytes) else str(k) for k in attrs["cats_strings"]]
    return keys, int(attrs.get("zeros", 1)) == 1


def _one_hot_reads(proto: Any) -> dict[str, tuple[list[str], bool, list[Any]]]:
    """The ``[N,1]`` text inputs read only by OneHotEncoders keyed by text, directly or through a ``Gather`` of
    their column read only by such, all with the same keys and ``zeros``: each with its keys, ``zeros`` and the
    OneHotEncoder nodes."""
    graph = proto.graph
    weights = {init.name for init in graph.initializer}
    outputs = {o.name for o in graph.output}
    found: dict[str, tuple[list[str], bool, list[Any]]] = {}
    for vi in graph.input:
        if vi.name in weights or not vi.type.HasField("tensor_type") or vi.type.tensor_type.elem_type != 8:
            continue
        if vi.name in outputs:
            continue
        encoders = _text_readers(graph, vi.name, outputs)
        keys = [_one_hot_keys(n) for n in encoders]
        if encoders and all(k is not None and k == keys[0] for k in keys) and keys[0] is not None:
            found[vi.name] = (keys[0][0], keys[0][1], encoders)
    return found


def _missing_texts(proto: Any) -> dict[str, str]:
    """The text each text input reads a missing value as (:data:`onnxgate.signature.MISSING_TEXT_METADATA_KEY`)."""
    import json

    from onnxgate.signature import MISSING_TEXT_METADATA_KEY

    for prop in proto.metadata_props:
        if prop.key == MISSING_TEXT_METADATA_KEY:
            try:
                found = json.loads(prop.value)
            except ValueError:
                return {}
            if not isinstance(found, dict):
                return {}
            return {str(k): str(v["text"]) if isinstance(v, dict) and "text" in v else str(v)
                    for k, v in found.items() if isinstance(v, (str, dict))}
    return {}


def _one_hot_codes(proto: Any) -> dict[str, tuple[list[str], list[int], bool]]:
    """Each :func:`_one_hot_reads` input with its categories in code order (the node's keys but a learnt missing
    category's), the code each key of the node becomes (-1 for that missing category) and whether an unseen
    value reads as a missing one (no missing category learnt, and unknown codes give zeros)."""
    missing = _missing_texts(proto)
    out: dict[str, tuple[list[str], list[int], bool]] = {}
    for name, (keys, zeros, _nodes) in _one_hot_reads(proto).items():
        learnt = missing.get(name)
        categories = [k for k in keys if k != learnt]
        codes = [-1 if k == learnt else categories.index(k) for k in keys]
        out[name] = (categories, codes, zeros and -1 not in codes)
    return out


def _label_keys(node: Any) -> list[str] | None:
    """The text keys of an ``ai.onnx.ml`` LabelEncoder (opset 2 attributes) from text to numbers, whatever its
    values and default (a TargetEncoder's encodings and target mean, an OrdinalEncoder's positions and
    ``unknown_value``); None for any other node."""
    from onnx import helper

    if node.op_type != "LabelEncoder" or node.domain != "ai.onnx.ml":
        return None
    attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
    if set(attrs) - {"default_float", "default_int64"} not in ({"keys_strings", "values_floats"},
                                                                 {"keys_strings", "values_int64s"}):
        return None
    return [k.decode() if isinstance(k, bytes) else str(k) for k in attrs["keys_strings"]]


def _keyed_reads(proto: Any, *, recorded: bool = True) -> dict[str, tuple[list[str], list[Any], bool]]:
    """The ``[N,1]`` text inputs that neither :func:`_category_reads` nor :func:`_one_hot_reads` take, read only
    (directly or through a ``Gather`` of their column) by LabelEncoders from text to numbers (:func:`_label_keys`:
    a ``TargetEncoder``, an ``OrdinalEncoder`` with its own unknown value) and OneHotEncoders keyed by text, all of
    the same categories, and for which the conversion recorded the text a missing value is fed as
    (:data:`onnxgate.signature.MISSING_TEXT_METADATA_KEY`: it does so only where scikit-learn reads a missing value
    as that text is read, a category it learnt or one more unknown one): each with its categories in code order
    (that missing category left out: the code -1 reads as it), the nodes, and whether an unseen value reads as a
    missing one (no missing category learnt, every one-hot encoder giving an unknown category zeros). Every node
    reads a text only by which of its keys it is, so keyed by the codes it scores each code as it scored the text:
    a missing value (-1) as the recorded text, an unknown category (no key) as any other text (the node's
    default, the target mean of a TargetEncoder). With ``recorded`` False, also those for which no such text was
    recorded (an encoder that raises on an unknown category reads the column), which cannot take codes."""
    graph = proto.graph
    weights = {init.name for init in graph.initializer}
    outputs = {o.name for o in graph.output}
    missing = _missing_texts(proto)
    taken = set(_category_reads(proto, any_default=False)) | set(_one_hot_reads(proto))
    found: dict[str, tuple[list[str], list[Any], bool]] = {}
    for vi in graph.input:
        if vi.name in weights or vi.name in taken or (recorded and vi.name not in missing) or vi.name in outputs \
                or not vi.type.HasField("tensor_type") or vi.type.tensor_type.elem_type != 8:  # STRING
            continue
        nodes = _text_readers(graph, vi.name, outputs)
        keys = [_label_keys(n) or (_one_hot_keys(n) or ([], False))[0] or None for n in nodes]
        if not nodes or any(k is None or set(k) != set(keys[0] or ()) or len(set(k)) != len(k) for k in keys):
            continue
        learnt = missing.get(vi.name)
        categories = [k for k in keys[0] or () if k != learnt]
        zeros = all((_one_hot_keys(n) or ([], True))[1] for n in nodes)
        found[vi.name] = (categories, nodes, zeros and learnt not in (keys[0] or ()))
    return found


def one_hot_category_inputs(proto: Any) -> dict[str, list[str]]:
    """The ``[N,1]`` text inputs read only by OneHotEncoders keyed by their categories (a scikit-learn
    ``OneHotEncoder`` over a text or pandas category column), each with its categories in code order (a missing
    category the encoder learnt left out: the code -1 reads as it)."""
    return {name: categories for name, (categories, _, _) in _one_hot_codes(proto).items()}


def unseen_refused(proto: Any) -> list[str]:
    """The :func:`one_hot_category_inputs` inputs whose value none of the categories is refused, not fed as a
    missing one: the encoder learnt a missing category (the code -1 sets its column, an unknown code none), or
    raises on an unknown category."""
    return [name for name, (_, _, unseen_missing) in [*_one_hot_codes(proto).items(), *_keyed_reads(proto).items()]
            if not unseen_missing]


#: Operators that pass a column of codes on unchanged (their first input): a OneHotEncoder reached through them
#: reads the input's codes as they were fed.
_CODES_PASSED_ON = frozenset({"Cast", "Gather", "Reshape", "Identity", "Squeeze", "Unsqueeze", "Flatten"})


def missing_refused_inputs(proto: Any) -> list[str]:
    """The integer inputs (codes, :func:`text_categories_as_codes`) read, directly or through operators that pass
    the codes on (a Cast, a Gather of their column), by an ``ai.onnx.ml`` OneHotEncoder keyed by integers that makes
    an unknown one an error (``zeros=0``: scikit-learn's ``handle_unknown='error'``) and holds no key -1 (no missing
    category learnt): onnxruntime fails on pandas' code -1 of a missing value there, as scikit-learn raises on
    the NaN ("Found unknown categories [nan]"), so a missing value is refused before scoring, naming the column."""
    return _one_hot_refusing(proto, missing=True)


def unknown_refused_by_one_hot(proto: Any) -> list[str]:
    """The integer inputs of codes read (as :func:`missing_refused_inputs` follows them) by an ``ai.onnx.ml``
    OneHotEncoder keyed by integers that makes an unknown one an error (``zeros=0``): scikit-learn's
    ``OneHotEncoder(handle_unknown='error')`` refuses a category it was not fitted on, not XGBoost."""
    return _one_hot_refusing(proto, missing=False)


def missing_learnt_inputs(proto: Any) -> list[str]:
    """The integer inputs of codes read (as :func:`missing_refused_inputs` follows them) by an ``ai.onnx.ml``
    LabelEncoder or OneHotEncoder keyed by integers holding the key -1, the missing category an encoder learnt
    (:func:`text_categories_as_codes`: a TargetEncoder, an OrdinalEncoder or a OneHotEncoder fitted on missing
    values), none of them a OneHotEncoder that makes an unknown one an error: scikit-learn scores a category such an
    encoder was not fitted on (the target mean, the unknown value, zeros), but no code stands for one there, -1
    being the missing category's, so it is refused for that reason."""
    reached = _code_readers(proto)
    return [name for name, nodes in reached.items()
            if any(-1 in _int_keys(n) for n in nodes) and not any(_raises_on_unknown(n) for n in nodes)]


def _one_hot_refusing(proto: Any, missing: bool) -> list[str]:
    return [name for name, nodes in _code_readers(proto).items()
            if any(_raises_on_unknown(n) and (not missing or -1 not in _int_keys(n)) for n in nodes)]


def _int_keys(node: Any) -> list[int]:
    """The integer keys of an ``ai.onnx.ml`` LabelEncoder or OneHotEncoder (none for any other node)."""
    from onnx import helper

    if node.op_type not in ("LabelEncoder", "OneHotEncoder") or node.domain != "ai.onnx.ml":
        return []
    attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
    return list(attrs.get("keys_int64s" if node.op_type == "LabelEncoder" else "cats_int64s", []))


def _raises_on_unknown(node: Any) -> bool:
    """An ``ai.onnx.ml`` OneHotEncoder keyed by integers that makes an unknown one an error (``zeros=0``)."""
    from onnx import helper

    if node.op_type != "OneHotEncoder" or node.domain != "ai.onnx.ml":
        return False
    attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
    return "cats_int64s" in attrs and int(attrs.get("zeros", 1)) == 0


def _code_readers(proto: Any) -> dict[str, list[Any]]:
    """Each int32 or int64 graph input with the nodes that read its codes: its readers, and theirs through the
    operators that pass the codes on (:data:`_CODES_PASSED_ON`)."""
    graph = proto.graph
    weights = {init.name for init in graph.initializer}
    readers: dict[str, list[Any]] = {}
    for node in graph.node:
        for name in node.input:
            readers.setdefault(name, []).append(node)
    found: dict[str, list[Any]] = {}
    for vi in graph.input:
        if vi.name in weights or not vi.type.HasField("tensor_type") \
                or vi.type.tensor_type.elem_type not in (6, 7):  # INT32, INT64
            continue
        seen, todo, reached = set(), [vi.name], []
        while todo:
            value = todo.pop()
            for node in readers.get(value, ()):
                if node.op_type in _CODES_PASSED_ON and node.domain in ("", "ai.onnx") and node.input[0] == value:
                    todo.extend(o for o in node.output if o not in seen)
                    seen.update(node.output)
                else:
                    reached.append(node)
        found[vi.name] = reached
    return found


def text_category_inputs(proto: Any) -> dict[str, list[str]]:
    """The ``[N,1]`` text inputs read only by such LabelEncoders or by OneHotEncoders of their categories
    (:func:`one_hot_category_inputs`), each with its categories in code order."""
    return {**_category_reads(proto, any_default=False), **one_hot_category_inputs(proto),
            **{name: categories for name, (categories, _, _) in _keyed_reads(proto).items()}}


def refuse_codes_unknown_not_missing(proto: Any, target_name: str) -> None:
    """Refuse, saying why and what to do, a text input read only through encoders of its categories that cannot
    take its codes: one gives an unknown category a value of its own or raises on it (an OrdinalEncoder or
    OneHotEncoder with ``handle_unknown='error'``, written with a value of its own) and the conversion recorded no
    text a missing value is fed as, or several encoders of the column learnt other categories. A target without
    text takes a text category as its codes only where the file reads pandas' code -1 of a missing value as
    scikit-learn reads that value; here it would not (scikit-learn raises where the file gives -1). Such a
    pipeline was refused with "Encode it as numbers before training", which did not say what stands in the way."""
    from onnxgate.errors import UnsupportedModelError

    odd = sorted((set(_category_reads(proto, any_default=True)) | set(_keyed_reads(proto, recorded=False)))
                 - set(_category_reads(proto, any_default=False)) - set(_keyed_reads(proto)))
    if odd:
        raise UnsupportedModelError(
            f"column(s) {odd}: the model reads text through encoder(s) of its categories that cannot read its "
            f"codes, and target {target_name!r} takes no text. onnxgate feeds a text "
            "category there as its codes (pandas' .cat.codes, -1 for a missing value) only where every encoder "
            "of the column reads a missing value as scikit-learn does: as an unknown category (OneHotEncoder("
            "handle_unknown='ignore'), OrdinalEncoder(handle_unknown='use_encoded_value'), a TargetEncoder), or as "
            "a missing category it learnt, the same categories in each. Here one raises on an unknown or missing "
            "category (handle_unknown='error'), which the file would score as a value, or two encoders of the "
            "column learnt other categories. Refit with handle_unknown='use_encoded_value' (unknown_value=-1, or "
            "np.nan before HistGradientBoosting) or 'ignore', encode the column as numbers before training, or use "
            "a target that takes text (synapse)"
        )


def text_categories_as_codes(proto: Any) -> list[str]:
    """Rewrite ``proto`` in place: each :func:`text_category_inputs` input becomes an int32 input of the
    codes, Cast to int64 and read by its LabelEncoder or OneHotEncoder keyed by the codes (a OneHotEncoder's learnt
    missing category by -1); its categories are recorded, and its missing text
    (:data:`onnxgate.signature.MISSING_TEXT_METADATA_KEY`) dropped. Returns the inputs rewritten."""
    import json

    from onnx import TensorProto, helper

    from onnxgate._graph import graph_names, unique_name
    from onnxgate.signature import (
        CATEGORY_CODES_METADATA_KEY,
        MISSING_TEXT_METADATA_KEY,
        UNSEEN_MISSING_METADATA_KEY,
    )

    one_hot = _one_hot_codes(proto)
    encoders = _one_hot_reads(proto)
    keyed = _keyed_reads(proto)
    missing_texts = _missing_texts(proto)
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
            if name in one_hot or name in keyed:
                continue  # its encoders are re-keyed below, a Gather of its column reads codes as it read text
            kept = [a for a in node.attribute if a.name != "keys_strings"]
            del node.attribute[:]
            node.attribute.extend([*kept, helper.make_attribute("keys_int64s", list(range(len(keys))))])
        for node in encoders.get(name, (None, None, []))[2]:
            kept = [a for a in node.attribute if a.name != "cats_strings"]
            del node.attribute[:]
            node.attribute.extend([*kept, helper.make_attribute("cats_int64s", one_hot[name][1])])
        for node in keyed.get(name, (None, [], None))[1]:
            # each key its code, the learnt missing category's -1: the node reads a code as it read its text
            attr = "keys_strings" if node.op_type == "LabelEncoder" else "cats_strings"
            texts = next(helper.get_attribute_value(a) for a in node.attribute if a.name == attr)
            texts = [k.decode() if isinstance(k, bytes) else str(k) for k in texts]
            by_code = [-1 if k == missing_texts.get(name) else keys.index(k) for k in texts]
            kept = [a for a in node.attribute if a.name != attr]
            del node.attribute[:]
            node.attribute.extend([*kept, helper.make_attribute(attr.replace("strings", "int64s"), by_code)])
        casts.append(helper.make_node("Cast", [name], [wide], to=TensorProto.INT64,
                                      name=unique_name(f"codes_of_{name}", taken)))
        next(vi for vi in graph.input if vi.name == name).type.tensor_type.elem_type = TensorProto.INT32
    for node in reversed(casts):
        graph.node.insert(0, node)
    recorded = {p.key: json.loads(p.value) for p in proto.metadata_props
                if p.key in (CATEGORY_CODES_METADATA_KEY, UNSEEN_MISSING_METADATA_KEY, MISSING_TEXT_METADATA_KEY)}
    codes = {**recorded.get(CATEGORY_CODES_METADATA_KEY, {}), **{n: [[0, k]] for n, k in inputs.items()}}
    refused = {n for n, (_, _, unseen_missing) in [*one_hot.items(), *keyed.items()] if not unseen_missing}
    unseen = {**recorded.get(UNSEEN_MISSING_METADATA_KEY, {}), **{n: True for n in inputs if n not in refused}}
    unseen = {k: v for k, v in unseen.items() if k not in refused}
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


def _text_readers(graph: Any, name: str, outputs: Any) -> list[Any]:
    """The nodes that read text input ``name`` as categories: its readers, and through a Gather of its columns
    (which moves values whatever their type: it picks the column of codes as it picked the text) the Gather's
    readers. Empty where a Gather's columns are read by nothing or are a graph output."""
    found: list[Any] = []
    for node in (n for n in graph.node if name in n.input):
        if node.op_type == "Gather" and node.domain in ("", "ai.onnx") and list(node.input).index(name) == 0 \
                and name not in node.input[1:]:
            picked = [n for n in graph.node if any(o in n.input for o in node.output)]
            if not picked or any(o in outputs for o in node.output):
                return []
            found.extend(picked)
        else:
            found.append(node)
    return found
