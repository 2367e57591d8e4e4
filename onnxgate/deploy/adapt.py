"""Make a model ``PREDICT``-shaped: one ``[N,1]`` input per table column, one value per row per output.

T-SQL ``PREDICT`` (SQL Edge, Synapse) feeds each table column to the model input of the same name
and maps each ``WITH`` column to the model output of the same name (``targets.md`` A.4, A.5). A
model with one ``[N,k]`` input, a ZipMap output or an ``[N,k]`` probability output cannot be scored
there as it is. :func:`adapt` wraps such a graph without touching what it computes:

* inputs: ``k`` new ``[N,1]`` column inputs are Cast (when the table type differs from what the
  model reads) and Concat-ed (axis 1) into the original input; a rank-1 input is reshaped;
* outputs: a ZipMap is dropped in favour of the probability tensor it was built from; an ``[N,k]``
  output is split into ``k`` named ``[N,1]`` outputs with ``Gather`` (one per column), named after
  the classes for a classifier (``p_setosa``); a rank-1 output is reshaped to ``[N,1]``;
* opset: a model above the target's caps is converted again at the target's opset when its native
  model is known (``Conversion.source``); a finished file is only re-stamped when every node means
  the same at the lower opset, never down-converted.

The mapping from the original model to the adapted one is written into the model's
``metadata_props`` under :data:`ADAPT_METADATA_KEY`, so parity against the native model still works
(:func:`reference_outputs_for_adapted`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from onnxgate._onnx import canonical_domain, model_opsets
from onnxgate.columns import ColumnMap
from onnxgate.errors import InvalidDataError, OpsetError, UnsupportedModelError
from onnxgate.validators.io_rules import SQL_IDENTIFIER_MAX, TYPE_FIXES

if TYPE_CHECKING:
    import numpy as np
    import onnx

    from onnxgate.converters import Conversion
    from onnxgate.signature import Signature
    from onnxgate.targets import Target

__all__ = [
    "ADAPT_METADATA_KEY",
    "adapt",
    "adapt_conversion",
    "adaptation_of",
    "reference_outputs_for_adapted",
    "sql_identifier",
]

#: ``metadata_props`` key holding the JSON mapping from the original model to the adapted one.
ADAPT_METADATA_KEY = "onnxgate.adapt"
#: Version of that JSON layout.
ADAPT_METADATA_VERSION = 1
#: Longest identifier SQL Server accepts (sysname).
MAX_IDENTIFIER_LENGTH = SQL_IDENTIFIER_MAX
#: Prefix of per-class probability outputs.
CLASS_OUTPUT_PREFIX = "p_"

#: Element type a column or output is written in when the model's own is not allowed by the target:
#: the validators' suggested fix, for the types that have one ("string" has advice, not a type).
_FALLBACK_TYPE = {k: v for k, v in TYPE_FIXES.items() if k != "string"}

_IDENT_BAD = re.compile(r"[^0-9A-Za-z_]")


def sql_identifier(text: str) -> str:
    """A plain SQL identifier made from ``text``: letters, digits, ``_``; not starting with a digit.

    Examples
    --------
    >>> sql_identifier("p_Iris-setosa")
    'p_Iris_setosa'
    >>> sql_identifier("0 score")
    '_0_score'
    """
    name = _IDENT_BAD.sub("_", str(text)) or "_"
    if name[0].isdigit():
        name = "_" + name
    return name[:MAX_IDENTIFIER_LENGTH]


def _unique(base: str, taken: set[str]) -> str:
    name = base
    i = 1
    while name in taken:
        suffix = f"_{i}"
        name = base[: MAX_IDENTIFIER_LENGTH - len(suffix)] + suffix
        i += 1
    taken.add(name)
    return name


def _dtype_to_elem(dtype: Any) -> str:
    """onnxgate element type for a numpy/pandas dtype of a table column."""
    import numpy as np

    try:
        kind = np.dtype(dtype).kind
        size = np.dtype(dtype).itemsize
    except TypeError:  # pandas extension dtypes (string, nullable ints)
        text = str(dtype).lower()
        if "int" in text:
            return "int64" if "64" in text or text in ("int", "int64") else "int32"
        if "float" in text:
            return "float32" if "32" in text else "float64"
        return "string"
    if kind == "f":
        return "float32" if size <= 4 else "float64"
    if kind == "i":
        return "int32" if size <= 4 else "int64"
    if kind in "ub":
        return "int64"
    return "string"


def _column_type(model_type: str, declared: str | None, target: Target) -> str:
    allowed = target.input_types
    if declared is not None:
        if allowed is not None and declared not in allowed:
            raise InvalidDataError(
                f"column type {declared!r} is not accepted by target {target.name!r}; "
                f"expected one of {sorted(allowed)}"
            )
        return declared
    if allowed is None or model_type in allowed:
        return model_type
    fallback = _FALLBACK_TYPE.get(model_type)
    if fallback is None or fallback not in allowed:
        raise UnsupportedModelError(
            f"the model reads {model_type} values, and target {target.name!r} has no column type that "
            f"can be cast to it (allowed: {sorted(allowed)})"
        )
    return fallback


def _elem_code(name: str) -> int:
    from onnxgate.signature import elem_type_code

    return elem_type_code(name)


def _elem_name(code: int) -> str:
    from onnxgate.signature import elem_type_name

    return elem_type_name(code)


def _graph_names(graph: onnx.GraphProto) -> set[str]:
    from onnxgate._graph import graph_names

    return graph_names(graph)


def _rename_tensor(graph: onnx.GraphProto, old: str, new: str) -> None:
    """Rename a value everywhere in the main graph (node inputs/outputs, initializers, value_info)."""
    for node in graph.node:
        for i, name in enumerate(node.input):
            if name == old:
                node.input[i] = new
        for i, name in enumerate(node.output):
            if name == old:
                node.output[i] = new
        _rename_in_subgraphs(node, old, new)
    for init in graph.initializer:
        if init.name == old:
            init.name = new
    for vi in list(graph.value_info) + list(graph.input) + list(graph.output):
        if vi.name == old:
            vi.name = new


def _rename_in_subgraphs(node: Any, old: str, new: str) -> None:
    # Subgraphs (If/Loop/Scan bodies) may read outer values by name.
    for attr in node.attribute:
        subs = list(attr.graphs) + ([attr.g] if attr.HasField("g") else [])
        for sub in subs:
            for inner in sub.node:
                for i, name in enumerate(inner.input):
                    if name == old:
                        inner.input[i] = new
                _rename_in_subgraphs(inner, old, new)


def _shape_of(vi: Any) -> tuple[Any, ...] | None:
    tt = vi.type.tensor_type
    if not tt.HasField("shape"):
        return None
    dims: list[Any] = []
    for d in tt.shape.dim:
        if d.HasField("dim_value"):
            dims.append(int(d.dim_value))
        elif d.dim_param:
            dims.append(d.dim_param)
        else:
            dims.append(None)
    return tuple(dims)


def _batch_dim(shape: tuple[Any, ...] | None) -> Any:
    if shape and shape[0] is not None and not isinstance(shape[0], str):
        return shape[0]
    return "N"


def _class_labels(model: onnx.ModelProto, reference: Any, conversion: Any = None) -> list[str] | None:
    """Class names in probability-column order: a ZipMap's labels, else the reference's ``classes_``."""
    for node in model.graph.node:
        if node.op_type == "ZipMap":
            for attr in node.attribute:
                if attr.name == "classlabels_strings" and attr.strings:
                    return [s.decode("utf-8", "replace") for s in attr.strings]
                if attr.name == "classlabels_int64s" and attr.ints:
                    return [str(i) for i in attr.ints]
    for candidate in (reference, getattr(conversion, "source", None)):
        classes = getattr(candidate, "classes_", None)
        if classes is not None:
            return [str(c) for c in list(classes)]
    return None


def _zipmap_width(node: Any) -> int:
    for attr in node.attribute:
        if attr.name == "classlabels_strings" and attr.strings:
            return len(attr.strings)
        if attr.name == "classlabels_int64s" and attr.ints:
            return len(attr.ints)
    return 0


def _infer_shapes(model: onnx.ModelProto) -> tuple[dict[str, tuple[Any, ...] | None], dict[str, int]]:
    """Shapes and element types of every value shape inference can tell (best effort)."""
    import onnx

    try:
        inferred = onnx.shape_inference.infer_shapes(model)
    except Exception:  # shape inference is best effort; unknown shapes are reported by the caller
        inferred = model
    values = [vi for vi in list(inferred.graph.value_info) + list(inferred.graph.output)
              if vi.type.WhichOneof("value") == "tensor_type"]
    return {vi.name: _shape_of(vi) for vi in values}, {vi.name: vi.type.tensor_type.elem_type for vi in values}


def _fix_opset(model: onnx.ModelProto, target: Target) -> list[str]:
    """Re-stamp a finished model within the target's caps when every node means the same there.

    A node whose operator changed after the cap (or does not exist there) cannot be expressed at the
    cap without converting the native model again; those are named in the error.
    """
    from onnx import defs

    from onnxgate._graph import walk_nodes
    from onnxgate._onnx import ir_version_for_opset

    notes: list[str] = []
    caps = target.max_opset
    if caps is None:
        return notes
    opsets = model_opsets(model)
    blockers: list[str] = []
    restamp: dict[str, int] = {}
    for domain, have in opsets.items():
        cap = caps.get(domain)
        if cap is None or have <= cap:
            continue
        for node in walk_nodes(model.graph):
            if canonical_domain(node.domain) != domain:
                continue
            try:
                now = defs.get_schema(node.op_type, have, domain).since_version
            except Exception:
                now = have
            try:
                then = defs.get_schema(node.op_type, cap, domain).since_version
            except Exception:
                then = None
            if then is None:
                blockers.append(f"{node.op_type} (node {node.name!r}: does not exist at opset {cap})")
            elif then != now:
                blockers.append(
                    f"{node.op_type} (node {node.name!r}: version {now} in use, opset {cap} has version {then})"
                )
        restamp[domain] = cap
    if blockers:
        unique = list(dict.fromkeys(blockers))
        raise OpsetError(
            f"target {target.name!r} runs at most opset {dict(caps)}; the model uses {opsets} and these "
            f"operators cannot be expressed at the cap: {'; '.join(unique[:10])}"
            + (f" (and {len(unique) - 10} more)" if len(unique) > 10 else "")
            + ". Convert the original model again at the target's opset (onnxgate convert --target "
            f"{target.name}); onnxgate does not down-convert finished files.",
            opset=opsets.get(""),
            max_opset=caps.get(""),
        )
    for entry in model.opset_import:
        domain = canonical_domain(entry.domain)
        if domain in restamp:
            notes.append(f"opset {domain or 'ai.onnx'} re-stamped {entry.version} -> {restamp[domain]} "
                         "(every node has the same definition there)")
            entry.version = restamp[domain]
    ir_cap = target.max_ir_version
    wanted = ir_version_for_opset(max(model_opsets(model).get("", 1), 1))
    if ir_cap is not None:
        wanted = min(wanted, ir_cap)
    if model.ir_version > wanted:
        notes.append(f"IR version {model.ir_version} -> {wanted}")
        model.ir_version = wanted
    return notes


def adaptation_of(model: Any) -> dict[str, Any] | None:
    """The mapping :func:`adapt` wrote into a model, or None for a model it did not adapt."""
    from onnxgate._onnx import load_model

    proto = load_model(model)
    for prop in proto.metadata_props:
        if prop.key == ADAPT_METADATA_KEY:
            return dict(json.loads(prop.value))
    return None


def _adapt_proto(
    model: onnx.ModelProto,
    target: Target,
    *,
    columns: Sequence[str] | None,
    column_types: Mapping[str, str] | None,
    class_labels: Sequence[str] | None,
    is_classifier: bool,
) -> tuple[onnx.ModelProto, dict[str, Any]]:
    """Rewrite a copy of ``model`` to the PREDICT contract; return it with the mapping."""
    import numpy as np
    import onnx
    from onnx import helper, numpy_helper

    from onnxgate.signature import Signature

    proto = onnx.ModelProto()
    proto.CopyFrom(model)
    graph = proto.graph
    original = Signature.from_model(proto)
    declared = dict(column_types or {})
    weights = {init.name for init in graph.initializer}
    real_inputs = [vi for vi in graph.input if vi.name not in weights]
    taken = _graph_names(graph)
    new_nodes: list[Any] = []
    new_inputs: list[Any] = []
    input_map: dict[str, dict[str, Any]] = {}

    # Column names for split inputs: the caller's list covers every column of every split input, in order.
    split_widths = []
    for vi in real_inputs:
        shape = _shape_of(vi)
        if vi.type.WhichOneof("value") != "tensor_type":
            raise UnsupportedModelError(f"input {vi.name!r} is not a tensor; a table column cannot feed it")
        if shape is not None and len(shape) == 2 and isinstance(shape[1], int) and shape[1] > 1:
            split_widths.append(shape[1])
        elif shape is None or len(shape) > 2 or (len(shape) == 2 and not isinstance(shape[1], int)):
            raise UnsupportedModelError(
                f"input {vi.name!r} has shape {list(shape) if shape is not None else '?'}; PREDICT feeds one "
                "value per row per input, so an input must be [N], [N,1] or [N,k] with a fixed k"
            )
    total_split = sum(split_widths)
    plain_count = len(real_inputs) - len(split_widths)
    user_columns = list(columns) if columns is not None else None
    if user_columns is not None and len(user_columns) not in (total_split, total_split + plain_count):
        raise InvalidDataError(
            f"columns names {len(user_columns)} columns; the model's inputs need {total_split} "
            "(one per value of its [N,k] inputs)"
            + (f" or {total_split + plain_count} (every column)" if plain_count else "")
        )
    include_plain = user_columns is not None and len(user_columns) == total_split + plain_count and plain_count > 0
    cursor = 0

    # Free every name a new column will take, by renaming internal tensors that already use it.
    def claim(name: str) -> str:
        if name in taken:
            fresh = _unique(f"{name}__inner", taken)
            _rename_tensor(graph, name, fresh)
            for nd in new_nodes:
                for i, n in enumerate(nd.input):
                    if n == name:
                        nd.input[i] = fresh
        taken.add(name)
        return name

    chosen_columns: set[str] = set()
    raw_columns: set[str] = set()
    column_sources: dict[str, str] = {}
    # the user's own column names, recorded at conversion (onnxgate.columns); composed with the SQL renames
    recorded = ColumnMap.from_model(proto)
    user_pairs: list[tuple[str, str]] = []

    def ident(raw: str) -> str:
        # PREDICT matches columns to inputs by name; a regular identifier needs no quoting anywhere
        name = _unique(sql_identifier(raw), chosen_columns)
        if name != raw:
            column_sources[name] = raw
        return name

    for vi in list(real_inputs):
        shape = _shape_of(vi)
        assert shape is not None
        orig_name = vi.name  # _rename_tensor renames the graph input too
        model_type = _elem_name(vi.type.tensor_type.elem_type)
        batch = _batch_dim(shape)
        if len(shape) == 2 and shape[1] > 1:  # type: ignore[operator]
            width = int(shape[1])
            if user_columns is not None:
                names = user_columns[cursor : cursor + width]
                cursor += width
            elif len(split_widths) == 1:
                names = [f"f{i}" for i in range(width)]
            else:
                names = [f"{sql_identifier(orig_name)}_{i}" for i in range(width)]
            dup = sorted({n for n in names if names.count(n) > 1 or n in raw_columns})
            if dup:
                raise InvalidDataError(f"column names must be unique; {dup} repeat", column=dup[0])
            raw_columns.update(names)
            raw_names = names
            names = [ident(n) for n in names]
            user_pairs.extend(zip(raw_names, names))
            inner = _unique(f"{orig_name}__concat", taken)
            _rename_tensor(graph, orig_name, inner)
            parts = []
            col_types = []
            for col in names:
                ctype = _column_type(model_type, declared.get(col), target)
                col_types.append(ctype)
                name = claim(col)
                new_inputs.append(helper.make_tensor_value_info(name, _elem_code(ctype), [batch, 1]))
                if ctype != model_type:
                    cast_out = _unique(f"{name}__as_{model_type}", taken)
                    new_nodes.append(helper.make_node("Cast", [name], [cast_out], to=_elem_code(model_type),
                                                      name=_unique(f"onnxgate_cast_{name}", taken)))
                    parts.append(cast_out)
                else:
                    parts.append(name)
            new_nodes.append(helper.make_node("Concat", parts, [inner], axis=1,
                                              name=_unique(f"onnxgate_concat_{orig_name}", taken)))
            input_map[orig_name] = {"columns": names, "column_types": col_types, "kind": "split"}
            continue
        col = orig_name
        if include_plain:
            assert user_columns is not None
            col = user_columns[cursor]
            cursor += 1
        if col in raw_columns:
            raise InvalidDataError(f"column names must be unique; {col!r} repeats", column=col)
        raw_columns.add(col)
        user_column = col if include_plain else recorded.column_for(orig_name)
        col = ident(col)
        user_pairs.append((user_column, col))
        ctype = _column_type(model_type, declared.get(col, declared.get(orig_name)), target)
        rank1 = len(shape) == 1
        if col == orig_name and not rank1 and ctype == model_type:
            new_inputs.append(vi)
            input_map[orig_name] = {"columns": [col], "column_types": [ctype], "kind": "column"}
            continue
        inner = _unique(f"{orig_name}__in", taken)
        _rename_tensor(graph, orig_name, inner)
        name = claim(col)
        new_inputs.append(helper.make_tensor_value_info(name, _elem_code(ctype), [batch, 1]))
        current = name
        if ctype != model_type:
            cast_out = _unique(f"{name}__as_{model_type}", taken) if rank1 else inner
            new_nodes.append(helper.make_node("Cast", [current], [cast_out], to=_elem_code(model_type),
                                              name=_unique(f"onnxgate_cast_{name}", taken)))
            current = cast_out
        if rank1:
            shape_name = _unique(f"{name}__flat_shape", taken)
            graph.initializer.append(numpy_helper.from_array(np.array([-1], dtype=np.int64), shape_name))
            new_nodes.append(helper.make_node("Reshape", [current, shape_name], [inner],
                                              name=_unique(f"onnxgate_flatten_{name}", taken)))
        elif current != inner:
            new_nodes.append(helper.make_node("Identity", [current], [inner],
                                              name=_unique(f"onnxgate_rename_{name}", taken)))
        input_map[orig_name] = {"columns": [name], "column_types": [ctype], "kind": "rank1" if rank1 else "column"}

    # Outputs: plan every new output first, then free the names it takes, then build the wrappers.
    shapes, value_types = _infer_shapes(proto)
    producers = {out: node for node in graph.node for out in node.output}
    out_taken: set[str] = set(chosen_columns)
    tensor_outputs = [vo for vo in graph.output if vo.type.WhichOneof("value") == "tensor_type"]
    plans: list[dict[str, Any]] = []
    dropped_nodes: list[Any] = []
    for vo in graph.output:
        kind = vo.type.WhichOneof("value")
        source = vo.name
        zipmap = False
        if kind != "tensor_type":
            node = producers.get(vo.name)
            if node is None or node.op_type != "ZipMap":
                raise UnsupportedModelError(
                    f"output {vo.name!r} is a {(kind or 'non-tensor').replace('_type', '')}, not a tensor; "
                    "PREDICT returns table columns only. Export the model with tensor outputs.",
                    output=vo.name,
                )
            source = node.input[0]
            dropped_nodes.append(node)
            zipmap = True
            shape = shapes.get(source)
            elem_code = value_types.get(source, onnx.TensorProto.FLOAT)
            n_labels = _zipmap_width(node)
            if n_labels and (shape is None or len(shape) != 2 or not isinstance(shape[1], int)):
                # ai.onnx.ml shape inference often leaves the probabilities unshaped; ZipMap knows the classes
                shape = (shape[0] if shape else "N", n_labels)
        else:
            shape = _shape_of(vo)
            if shape is None or any(d is None for d in shape[1:]):
                shape = shapes.get(vo.name) or shape
            elem_code = vo.type.tensor_type.elem_type
        if shape is None or len(shape) not in (1, 2) or (len(shape) == 2 and not isinstance(shape[1], int)):
            raise UnsupportedModelError(
                f"output {vo.name!r} has shape {list(shape) if shape is not None else '?'}; PREDICT needs one "
                "value per row, so an output must be [N], [N,1] or [N,k] with a fixed k",
                output=vo.name,
            )
        elem = _elem_name(elem_code)
        out_elem = elem
        allowed = target.output_types
        if allowed is not None and elem not in allowed:
            fallback = _FALLBACK_TYPE.get(elem)
            if fallback is None or fallback not in allowed:
                raise UnsupportedModelError(
                    f"output {vo.name!r} holds {elem} values; target {target.name!r} returns only "
                    f"{sorted(allowed)}. For a classifier with text labels, train on integer-coded labels.",
                    output=vo.name,
                )
            out_elem = fallback
        width = 1 if len(shape) == 1 else int(shape[1])  # type: ignore[arg-type]
        is_proba = zipmap or (is_classifier and width > 1 and len(tensor_outputs) > 1 and "prob" in vo.name.lower())
        if width > 1 and is_proba:
            labels = list(class_labels) if class_labels is not None and len(class_labels) == width else range(width)
            raw = [CLASS_OUTPUT_PREFIX + str(c) for c in labels]
        elif width > 1:
            raw = [f"{vo.name}_{i}" for i in range(width)]
        else:
            raw = [vo.name]
        names = [_unique(sql_identifier(r), out_taken) for r in raw]
        keep = (not zipmap and width == 1 and len(shape) == 2 and out_elem == elem and names[0] == vo.name)
        plans.append({"orig": vo.name, "source": source, "shape": shape, "batch": _batch_dim(shape),
                      "width": width, "elem": elem, "out_elem": out_elem, "names": names, "keep": keep,
                      "zipmap": zipmap})
    for node in dropped_nodes:
        graph.node.remove(node)
    # A new output name already used inside the graph: rename the inner tensor.
    renamed: dict[str, str] = {}
    for plan in plans:
        if plan["keep"]:
            continue
        for name in plan["names"]:
            if name in taken:
                fresh = _unique(f"{name}__inner", taken)
                _rename_tensor(graph, name, fresh)
                for nd in new_nodes:
                    for j, n in enumerate(nd.input):
                        if n == name:
                            nd.input[j] = fresh
                renamed[name] = fresh
            taken.add(name)
    output_map: dict[str, list[list[Any]]] = {}
    new_outputs: list[Any] = []
    for plan in plans:
        if plan["keep"]:
            vo = next(v for v in graph.output if v.name == plan["orig"])
            new_outputs.append(vo)
            output_map[plan["orig"]] = [[plan["orig"], None]]
            continue
        source = renamed.get(plan["source"], plan["source"])
        elem, out_elem, width = plan["elem"], plan["out_elem"], plan["width"]
        entries: list[list[Any]] = []
        for i, name in enumerate(plan["names"]):
            current = source
            if width > 1:
                idx = _unique(f"{name}__index", taken)
                graph.initializer.append(numpy_helper.from_array(np.array([i], dtype=np.int64), idx))
                gathered = name if out_elem == elem else _unique(f"{name}__raw", taken)
                new_nodes.append(helper.make_node("Gather", [current, idx], [gathered], axis=1,
                                                  name=_unique(f"onnxgate_column_{name}", taken)))
                current = gathered
            elif len(plan["shape"]) == 1:
                shape_name = _unique(f"{name}__col_shape", taken)
                graph.initializer.append(numpy_helper.from_array(np.array([-1, 1], dtype=np.int64), shape_name))
                reshaped = name if out_elem == elem else _unique(f"{name}__raw", taken)
                new_nodes.append(helper.make_node("Reshape", [current, shape_name], [reshaped],
                                                  name=_unique(f"onnxgate_as_column_{name}", taken)))
                current = reshaped
            if out_elem != elem:
                new_nodes.append(helper.make_node("Cast", [current], [name], to=_elem_code(out_elem),
                                                  name=_unique(f"onnxgate_cast_{name}", taken)))
                current = name
            if current != name:
                new_nodes.append(helper.make_node("Identity", [current], [name],
                                                  name=_unique(f"onnxgate_rename_{name}", taken)))
            new_outputs.append(helper.make_tensor_value_info(name, _elem_code(out_elem), [plan["batch"], 1]))
            entries.append([name, i if width > 1 else None])
        output_map[plan["orig"]] = entries

    weights_now = [vi for vi in graph.input if vi.name in weights]
    del graph.input[:]
    graph.input.extend(new_inputs + weights_now)
    del graph.output[:]
    graph.output.extend(new_outputs)
    _place_nodes(graph, new_nodes, {vi.name for vi in new_inputs})
    if "" not in model_opsets(proto):
        entry = proto.opset_import.add()
        entry.domain = ""
        entry.version = min(target.opset or 13, 13)
    mapping = {
        "version": ADAPT_METADATA_VERSION,
        "target": target.name,
        "original": original.to_dict(),
        "inputs": input_map,
        "outputs": output_map,
        "zipmap_removed": [p["orig"] for p in plans if p["zipmap"]],
        "classes": list(class_labels) if class_labels is not None else None,
        "column_sources": column_sources,
    }
    _set_metadata(proto, mapping)
    ColumnMap.from_pairs(user_pairs).write(proto)
    return proto, mapping


def _place_nodes(graph: Any, new_nodes: list[Any], column_inputs: set[str]) -> None:
    """Insert the wrapper nodes so the graph stays topologically sorted.

    Input wrappers read only the new column inputs (and each other); they go first. Output wrappers
    read tensors of the body; they go last.
    """
    available = set(column_inputs) | {init.name for init in graph.initializer}
    head: list[Any] = []
    tail: list[Any] = []
    for node in new_nodes:
        if all(name in available for name in node.input if name):
            head.append(node)
            available.update(node.output)
        else:
            tail.append(node)
    body = list(graph.node)
    del graph.node[:]
    graph.node.extend(head + body + tail)


def _set_metadata(proto: Any, mapping: Mapping[str, Any]) -> None:
    for prop in list(proto.metadata_props):
        if prop.key == ADAPT_METADATA_KEY:
            proto.metadata_props.remove(prop)
    entry = proto.metadata_props.add()
    entry.key = ADAPT_METADATA_KEY
    entry.value = json.dumps(mapping, sort_keys=True)


def _already_adapted(model: onnx.ModelProto, target: Target) -> bool:
    from onnxgate.signature import Signature

    sig = Signature.from_model(model)
    for spec in sig.inputs:
        if spec.rank != 2 or spec.width != 1:
            return False
        if target.input_types is not None and spec.elem_type not in target.input_types:
            return False
    for spec in sig.outputs:
        if not spec.is_tensor or spec.rank != 2 or spec.width != 1:
            return False
        if sql_identifier(spec.name) != spec.name:
            return False
        if target.output_types is not None and spec.elem_type not in target.output_types:
            return False
    return True


def _check(proto: Any) -> None:
    import onnx

    try:
        onnx.checker.check_model(proto)
    except Exception as err:
        raise UnsupportedModelError(
            f"adapting the model for PREDICT produced a graph the ONNX checker rejects: {err}. "
            "Please report this with the model."
        ) from err


def _columns_from_sample(sample: Any) -> tuple[list[str] | None, dict[str, str]]:
    from onnxgate._data import is_dataframe

    if sample is None or not is_dataframe(sample):
        return None, {}
    names = [str(c) for c in sample.columns]
    return names, {str(c): _dtype_to_elem(sample[c].dtype) for c in sample.columns}


def _resolve_target(target: str | Target) -> Target:
    from onnxgate.targets import resolve

    tgt = resolve(target)
    assert tgt is not None
    return tgt


def adapt(
    model: Any,
    target: str | Target,
    *,
    columns: Sequence[str] | None = None,
    column_types: Mapping[str, str] | None = None,
    reference: Any = None,
) -> Any:
    """Rewrite a model so T-SQL ``PREDICT`` on ``target`` can score it.

    Parameters
    ----------
    model : Conversion, onnx.ModelProto, path or bytes
        A ``Conversion`` is converted again at the target's opset when it is above the caps; a
        finished file is re-stamped only when that changes nothing, else :class:`OpsetError`.
    target : str or Target
        A SQL target (``"sql-edge-1.0"``, ``"sql-edge-2.0"``, ``"synapse"``).
    columns : sequence of str, optional
        Table column names for the values of the ``[N,k]`` inputs, in order (default: the
        DataFrame sample's columns, else ``f0..f{k-1}``).
    column_types : mapping of str to str, optional
        Element type of a table column (``{"age": "int64"}``); default: the DataFrame's dtype, else
        the model's own type (or the nearest type the target allows). A Cast inside the graph
        bridges any difference.
    reference : object, optional
        The native model, for class names (``classes_``) of per-class probability outputs.

    Returns
    -------
    Conversion or onnx.ModelProto
        The same kind as given (a path or bytes give a ModelProto).

    Raises
    ------
    OpsetError
        The model is above the target's caps and cannot be re-stamped; names the operators.
    UnsupportedModelError
        An input or output cannot be one table column (rank > 2, non-tensor other than ZipMap,
        text output on a numeric-only target).
    InvalidDataError
        ``columns`` has the wrong length or repeats names.

    Examples
    --------
    >>> import onnxgate as og
    >>> adapted = og.adapt("mlp.onnx", "sql-edge-2.0")  # doctest: +SKIP
    >>> [i.name for i in og.Signature.from_model(adapted).inputs]  # doctest: +SKIP
    ['f0', 'f1', 'f2', 'f3', 'f4', 'f5', 'f6', 'f7', 'f8', 'f9']
    """
    from onnxgate._onnx import load_model

    tgt = _resolve_target(target)
    if hasattr(model, "source") and hasattr(model, "signature") and hasattr(model, "framework"):
        return adapt_conversion(model, tgt, sample=getattr(model, "sample", None), columns=columns,
                                column_types=column_types, reference=reference)
    proto = load_model(model)
    import onnx

    work = onnx.ModelProto()
    work.CopyFrom(proto)
    _fix_opset(work, tgt)
    return _adapt_model(work, tgt, columns=columns, column_types=column_types, reference=reference,
                        is_classifier=None)


def _adapt_model(
    proto: Any,
    target: Target,
    *,
    columns: Sequence[str] | None,
    column_types: Mapping[str, str] | None,
    reference: Any,
    is_classifier: bool | None,
    conversion: Any = None,
) -> Any:
    if adaptation_of(proto) is not None and _already_adapted(proto, target):
        return proto
    labels = _class_labels(proto, reference, conversion)
    if is_classifier is None:
        is_classifier = labels is not None or any(n.op_type in ("ZipMap", "TreeEnsembleClassifier",
                                                                "LinearClassifier", "SVMClassifier")
                                                  for n in proto.graph.node)
    adapted, _mapping = _adapt_proto(proto, target, columns=columns, column_types=column_types,
                                     class_labels=labels, is_classifier=bool(is_classifier))
    _check(adapted)
    return adapted


def adapt_conversion(
    conv: Conversion,
    target: str | Target,
    sample: Any = None,
    *,
    columns: Sequence[str] | None = None,
    column_types: Mapping[str, str] | None = None,
    reference: Any = None,
) -> Conversion:
    """Adapt a :class:`Conversion` for a SQL target; called by ``convert(..., target=...)``.

    When the conversion is above the target's opset caps and its native model is known, the native
    model is converted again at the target's opset (never a down-conversion of the file).

    Parameters
    ----------
    conv : Conversion
    target : str or Target
    sample : array-like or DataFrame, optional
        The conversion sample; a DataFrame gives column names and types.
    columns, column_types, reference
        As in :func:`adapt`.

    Returns
    -------
    Conversion
        A new Conversion whose model follows the PREDICT contract, with ``target`` set.

    Raises
    ------
    OpsetError, UnsupportedModelError, InvalidDataError
        As in :func:`adapt`.

    Examples
    --------
    >>> conv = og.convert(model, X[:5], target="sql-edge-2.0")  # doctest: +SKIP
    """
    import dataclasses

    import onnx

    from onnxgate.signature import Signature

    tgt = _resolve_target(target)
    sample = sample if sample is not None else conv.sample
    warnings = list(conv.warnings)
    caps = tgt.max_opset or {}
    opsets = model_opsets(conv.model)
    above = any(v > caps[d] for d, v in opsets.items() if d in caps)
    ir_above = tgt.max_ir_version is not None and conv.model.ir_version > tgt.max_ir_version
    if (above or ir_above) and conv.source is not None:
        from onnxgate.converters import convert

        cap = caps.get("", conv.requested_opset)
        fresh = convert(conv.source, sample, opset=min(cap, conv.requested_opset), target=None,
                        name=conv.name, options=conv.options)
        warnings.append(f"converted again at opset {fresh.opset} for target {tgt.name!r} (its cap is {cap})")
        conv = dataclasses.replace(conv, model=fresh.model, opset=fresh.opset, requested_opset=fresh.requested_opset,
                                   warnings=tuple(warnings))
    work = onnx.ModelProto()
    work.CopyFrom(conv.model)
    warnings.extend(_fix_opset(work, tgt))
    sample_columns, sample_types = _columns_from_sample(sample)
    recorded = ColumnMap.from_model(work)
    if recorded.renamed:
        # the exporter turned "age (years)" into the input "age__years_" (recorded): its dtype still applies
        types = {recorded.input_for(k): v for k, v in sample_types.items()}
    else:
        types = dict(sample_types)
        types.update({sql_identifier(k): v for k, v in sample_types.items() if sql_identifier(k) not in types})
    types.update(column_types or {})
    allowed = tgt.input_types
    if allowed is not None:
        # a sample dtype the target cannot hold (bool, text on SQL Edge) falls back to the model's type
        types = {k: v for k, v in types.items() if v in allowed or k in (column_types or {})}
    cols = columns
    if cols is None and sample_columns is not None:
        sig = conv.signature
        widths = [s.width for s in sig.inputs]
        if len(sig.inputs) == 1 and widths[0] == len(sample_columns) and sig.inputs[0].name not in sample_columns:
            cols = sample_columns
    is_clf = None
    if conv.source is not None:
        try:
            from onnxgate.converters import registry

            is_clf = registry.get(conv.framework).is_classifier(conv.source)
        except Exception:  # a framework without a converter here: judge from the graph
            is_clf = None
    adapted = _adapt_model(work, tgt, columns=cols, column_types=types, reference=reference,
                           is_classifier=is_clf, conversion=conv)
    mapping = adaptation_of(adapted) or {}
    if mapping.get("zipmap_removed"):
        warnings.append(f"ZipMap removed from outputs {mapping['zipmap_removed']}: PREDICT returns tensors only")
    split = [k for k, v in mapping.get("inputs", {}).items() if v.get("kind") == "split"]
    if split:
        warnings.append(f"inputs {split} are fed one table column per value (PREDICT takes one column per input)")
    # the sample keeps the user's own names: the mapping recorded in the model feeds them to the SQL inputs
    renamed = {c: i for c, i in ColumnMap.from_model(adapted).pairs if c != i}
    if renamed:
        warnings.append(f"columns renamed to SQL identifiers (data may use either name): {renamed}")
    return dataclasses.replace(
        conv,
        sample=sample,
        model=adapted,
        signature=Signature.from_model(adapted),
        warnings=tuple(warnings),
        target=tgt.name,
        opset=model_opsets(adapted).get("", conv.opset),
    )


def reference_outputs_for_adapted(
    reference: Any, feeds: Mapping[str, np.ndarray], onnx_model: Any, signature: Signature
) -> list[np.ndarray | None]:
    """Native predictions of ``reference`` laid out like the adapted model's outputs.

    ``feeds`` are the adapted model's inputs (one ``[N,1]`` array per column); they are put back
    together into the original inputs, the native model runs through its converter's ``predict``,
    and each original output is split/reshaped the way :func:`adapt` did.

    Parameters
    ----------
    reference : object
        The native model (or an ONNX model to run with onnxruntime).
    feeds : mapping of str to ndarray
        Feeds for the adapted model.
    onnx_model : onnx.ModelProto, path or bytes
        The adapted model (carries the mapping).
    signature : Signature
        The adapted model's signature.

    Returns
    -------
    list of ndarray or None
        One entry per adapted output, in order; None where the native model has no counterpart.

    Raises
    ------
    InvalidModelError
        ``onnx_model`` carries no adaptation mapping.

    Examples
    --------
    >>> outs = reference_outputs_for_adapted(rf, feeds, adapted, Signature.from_model(adapted))  # doctest: +SKIP
    """
    import dataclasses

    import numpy as np

    from onnxgate.errors import InvalidModelError
    from onnxgate.signature import Signature as Sig

    mapping = adaptation_of(onnx_model)
    if mapping is None:
        raise InvalidModelError("the model carries no onnxgate.adapt mapping; it was not adapted by onnxgate")
    original = Sig.from_dict(mapping["original"])
    # an input the exporter renamed (skl2onnx makes names identifiers) is fed to the native model
    # under the column name it was trained on (the user's own name, recorded in the model)
    recorded = ColumnMap.from_model(onnx_model)

    def native_name(spec: Any) -> str:
        info = mapping["inputs"].get(spec.name) or {}
        columns = info.get("columns") or []
        if info.get("kind") == "split" or len(columns) != 1:
            return str(spec.name)
        user = recorded.column_for(columns[0])
        return user if user != columns[0] else str(spec.name)

    native_inputs = tuple(dataclasses.replace(spec, name=native_name(spec)) for spec in original.inputs)
    native_sig = Sig(inputs=native_inputs, outputs=original.outputs)
    orig_feeds: dict[str, np.ndarray] = {}
    for spec, native_spec in zip(original.inputs, native_inputs):
        info = mapping["inputs"][spec.name]
        cols = [np.asarray(feeds[c]).reshape(len(feeds[c]), -1) for c in info["columns"]]
        array = np.hstack(cols) if len(cols) > 1 else cols[0]
        if spec.elem_type != "string":
            array = array.astype(spec.numpy_dtype)
        if info.get("kind") == "rank1":
            array = array.reshape(-1)
        orig_feeds[native_spec.name] = array
    native = _run_reference(reference, orig_feeds, native_sig)
    by_new: dict[str, np.ndarray | None] = {}
    for spec, value in zip(original.outputs, native):
        for new_name, index in mapping["outputs"].get(spec.name, []):
            if value is None:
                by_new[new_name] = None
                continue
            arr = np.asarray(value)
            if arr.ndim == 1:
                arr = arr.reshape(-1, 1)
            by_new[new_name] = arr[:, index : index + 1] if index is not None else arr.reshape(len(arr), -1)
    return [by_new.get(name) for name in signature.output_names]


def _run_reference(reference: Any, feeds: Mapping[str, np.ndarray], signature: Signature) -> list[Any]:
    import onnx

    if isinstance(reference, (onnx.ModelProto, bytes, bytearray)) or (
        isinstance(reference, str) and reference.endswith(".onnx")
    ):
        import onnxruntime as ort

        from onnxgate._onnx import load_model, serialize

        sess = ort.InferenceSession(serialize(load_model(reference)), providers=["CPUExecutionProvider"])
        return list(sess.run(None, dict(feeds)))
    from onnxgate.converters import registry
    from onnxgate.errors import UnsupportedModelError as _Unsupported

    try:
        converter = registry.for_model(reference)
    except _Unsupported:
        if callable(reference):  # a plain function of the original feeds
            return list(reference(dict(feeds)))
        raise
    return list(converter.predict(reference, feeds, signature))
