"""Graph surgery shared by converters and adapters: casting inputs, renaming outputs."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from onnxgate._onnx import all_graphs, node_subgraphs

if TYPE_CHECKING:
    import onnx

__all__ = [
    "DOUBLE_FORMULA_OPS",
    "FLOW_OP",
    "NAN_AWARE_OPS",
    "cast_inputs",
    "cast_label",
    "columns_into_input",
    "columns_reaching",
    "double_attribute",
    "double_erf",
    "double_formulas",
    "exact_expm1",
    "exact_log1p",
    "first_reader",
    "flat_nodes",
    "label_as_classes",
    "output_after",
    "reaches_nan_aware_node",
    "read_instead",
    "redirect_output",
    "restamp",
    "split_tensor_sequences",
    "static_width",
    "unique_name",
    "value_columns",
    "walk_nodes",
]


def walk_nodes(graph: Any) -> Iterator[Any]:
    """Every node of ``graph`` and of its subgraphs (If/Loop/Scan bodies), depth first."""
    for node in graph.node:
        yield node
        for _, sub in node_subgraphs(node):
            yield from walk_nodes(sub)


def traced_back(made: Mapping[str, Any], name: str, through: Sequence[str]) -> str:
    """The tensor ``name`` is computed from through default-domain nodes of the types ``through`` alone
    (``made``: each tensor's producing node); ``name`` itself when its producer is of another type."""
    from onnxgate._onnx import canonical_domain

    for _ in range(len(made) + 1):
        node = made.get(name)
        if node is None or not node.input or node.op_type not in through or canonical_domain(node.domain) != "":
            return name
        name = node.input[0]
    return name


#: The name prefix of the Concat that feeds a HistGradientBoosting ensemble each feature as the rank of the value
#: among the ensemble's thresholds on it (``onnxgate.converters._sklearn_graph.exact_hist_thresholds``); the
#: search reads the thresholds back through it.
HIST_CODES = "onnxgate_hist_codes"


def unique_name(base: str, taken: set[str]) -> str:
    name = base
    i = 1
    while name in taken:
        name = f"{base}_{i}"
        i += 1
    taken.add(name)
    return name


def graph_names(graph: onnx.GraphProto) -> set[str]:
    names = {vi.name for vi in graph.input} | {vi.name for vi in graph.output}
    names |= {init.name for init in graph.initializer}
    for node in graph.node:
        names.update(node.input)
        names.update(node.output)
        names.add(node.name)
    return names


def model_names(graph: onnx.GraphProto) -> set[str]:
    """:func:`graph_names` of ``graph`` and of its subgraphs: a name new to all of them hides no value a body
    reads from its outer scope."""
    return set().union(*(graph_names(sub) for sub in all_graphs(graph)))


def _readers(graph: Any) -> dict[str, list[Any]]:
    """Each value's name -> the nodes of ``graph`` (not its subgraphs) that read it, in graph order."""
    readers: dict[str, list[Any]] = {}
    for node in graph.node:
        for name in node.input:
            readers.setdefault(name, []).append(node)
    return readers


def split_tensor_sequences(proto: Any) -> dict[str, list[str]]:
    """Write each graph output that is a sequence of tensors built by one ``SequenceConstruct`` as one tensor
    output per element, ``{name}_0``, ``{name}_1``... in its place, in place; returns ``{name: [new names]}``.

    skl2onnx writes a MultiOutputClassifier's probabilities as ``seq(tensor)``, one ``[N, k_t]`` tensor per target
    (their widths differ, so no one tensor holds them). The container's service and T-SQL ``PREDICT`` return
    tensors only, and validate refused every such file for them. Each element's shape is the one the graph
    declares or shape inference finds (the converter declares the widths it knows). A sequence another node
    reads, or one built otherwise, is left as it is.
    """
    import onnx
    from onnx import helper

    graph = proto.graph
    writers = {out: node for node in graph.node for out in node.output}
    read = {name for node in graph.node for name in node.input}
    try:
        inferred = onnx.shape_inference.infer_shapes(proto)
    except Exception:  # best effort: an element without a known shape is declared without one
        inferred = proto
    known = {vi.name: vi for vi in list(inferred.graph.value_info) + list(graph.value_info)
             if vi.type.HasField("tensor_type")}
    taken = graph_names(graph)
    outputs: list[Any] = []
    split: dict[str, list[str]] = {}
    for out in graph.output:
        node = writers.get(out.name)
        if (not out.type.HasField("sequence_type") or not out.type.sequence_type.elem_type.HasField("tensor_type")
                or node is None or node.op_type != "SequenceConstruct" or out.name in read):
            outputs.append(out)
            continue
        elem = out.type.sequence_type.elem_type.tensor_type.elem_type
        names = []
        for i, part in enumerate(node.input):
            name = unique_name(f"{out.name}_{i}", taken)
            graph.node.append(helper.make_node("Identity", [part], [name], name=unique_name(f"{name}_element", taken)))
            shape = known[part].type.tensor_type.shape if part in known else None
            dims = None if shape is None else [d.dim_value if d.HasField("dim_value") else None for d in shape.dim]
            outputs.append(helper.make_tensor_value_info(name, elem, dims))
            names.append(name)
        graph.node.remove(node)
        split[out.name] = names
    if split:
        del graph.output[:]
        graph.output.extend(outputs)
    return split


def read_instead(graph: onnx.GraphProto, name: str, other: str) -> None:
    """Every node of ``graph`` that reads ``name`` reads ``other`` instead (a node put in front of an input)."""
    for node in graph.node:
        for i, used in enumerate(node.input):
            if used == name:
                node.input[i] = other


def cast_inputs(model: onnx.ModelProto, new_types: Mapping[str, int]) -> onnx.ModelProto:
    """Declare graph inputs with new element types and Cast them, inside the graph, to what it uses.

    ``new_types`` maps an input name to an ONNX element type code. The input keeps its name, so
    callers feed the new type; the nodes that read it read the Cast's output instead. The model is
    changed in place and returned.
    """
    from onnx import helper

    graph = model.graph
    taken = graph_names(graph)
    casts = []
    for vi in graph.input:
        if vi.name not in new_types:
            continue
        old = vi.type.tensor_type.elem_type
        new = int(new_types[vi.name])
        if old == new:
            continue
        inner = unique_name(f"{vi.name}_as_{helper.tensor_dtype_to_np_dtype(old).name}", taken)
        read_instead(graph, vi.name, inner)
        casts.append(helper.make_node("Cast", [vi.name], [inner], to=old, name=unique_name(f"cast_{vi.name}", taken)))
        vi.type.tensor_type.elem_type = new
    for node in reversed(casts):
        graph.node.insert(0, node)
    return model


def columns_into_input(model: onnx.ModelProto, input_name: str, columns: Sequence[tuple[str, int]]) -> list[str]:
    """Feed the ``[N,k]`` graph input ``input_name`` from ``k`` ``[N,1]`` inputs, one per column.

    ``columns`` gives each new input's name and ONNX element type, in order; a name already used in
    the graph gets a number. Each input is Cast to ``input_name``'s element type where it differs,
    and a Concat on axis 1 writes the tensor the graph read, which is no longer a graph input. The
    model is changed in place; the new inputs' names are returned, in order.
    """
    from onnx import helper

    graph = model.graph
    index = next(i for i, vi in enumerate(graph.input) if vi.name == input_name)
    tensor = graph.input[index].type.tensor_type
    elem = tensor.elem_type
    first = tensor.shape.dim[0] if tensor.HasField("shape") and tensor.shape.dim else None
    batch: str | int | None = None
    if first is not None:
        batch = first.dim_param or (int(first.dim_value) if first.HasField("dim_value") else None)
    taken = graph_names(graph)
    names, parts, nodes, inputs = [], [], [], []
    for column, code in columns:
        name = column if column not in taken else unique_name(column, taken)
        taken.add(name)
        names.append(name)
        inputs.append(helper.make_tensor_value_info(name, int(code), [batch, 1]))
        if int(code) == elem:
            parts.append(name)
            continue
        cast = unique_name(f"{name}_as_{helper.tensor_dtype_to_np_dtype(elem).name}", taken)
        nodes.append(helper.make_node("Cast", [name], [cast], to=elem, name=unique_name(f"cast_{name}", taken)))
        parts.append(cast)
    concat = unique_name(f"concat_{input_name}", taken)
    nodes.append(helper.make_node("Concat", parts, [input_name], axis=1, name=concat))
    del graph.input[index]
    for offset, vi in enumerate(inputs):
        graph.input.insert(index + offset, vi)
    for node in reversed(nodes):
        graph.node.insert(0, node)
    return names


def static_width(value_info: Any) -> int | None:
    """The second dimension of a rank-2 tensor's declared shape when it is a number (``1`` for an
    ``[N,1]`` column), else None."""
    dims = value_info.type.tensor_type.shape.dim
    return int(dims[1].dim_value) if len(dims) == 2 and dims[1].HasField("dim_value") else None


def restamp(proto: Any, wanted: Mapping[str, int]) -> None:
    """Raise a domain's stamped opset to the one asked for when every node means the same there.

    skl2onnx stamps the lowest opset its nodes need (even opset 1 for a graph of ai.onnx.ml
    operators), which onnxruntime warns about. Stamping the requested opset is exact when each node's
    schema at the stamped version is the one in force at the requested version.
    """
    from onnxgate._onnx import model_opsets, since_version

    current = model_opsets(proto)
    for domain, target in wanted.items():
        have = current.get(domain)
        if have is None or have >= target:
            continue
        if _every_node(proto, domain, lambda node, d=domain, old=have, new=target: (
                since_version(node.op_type, old, d) == since_version(node.op_type, new, d))):
            _stamp(proto, domain, target)


def lower_stamp(proto: Any, domain: str, target: int) -> bool:
    """Lower ``domain``'s stamped opset to ``target`` when every node of it means the same there; whether it was.

    The converters stamp the ai.onnx.ml opset of the default-domain opset asked for; where that opset is
    not needed and a lower one is stamped (iris asked at 22 stamps 13), an ml opset of 5 stayed, and a
    runtime of opset 13's time (SQL Edge: ml 3) refused a file its only ml node, ArrayFeatureExtractor,
    would not have kept from it (helper-91).
    """
    from onnxgate._onnx import model_opsets, since_version

    have = model_opsets(proto).get(domain)
    if have is None or have <= target:
        return False
    if not _every_node(proto, domain, lambda node: since_version(node.op_type, have, domain) <= target):
        return False
    _stamp(proto, domain, target)
    return True


def _every_node(proto: Any, domain: str, holds: Any) -> bool:
    """Whether ``holds(node)`` is true of every node of ``domain`` (an operator onnx does not know: false)."""
    from onnxgate._onnx import canonical_domain

    for node in walk_nodes(proto.graph):
        if canonical_domain(node.domain) != domain:
            continue
        try:
            if not holds(node):
                return False
        except Exception:
            return False
    return True


def _stamp(proto: Any, domain: str, version: int) -> None:
    from onnxgate._onnx import canonical_domain

    for entry in proto.opset_import:
        if canonical_domain(entry.domain) == domain:
            entry.version = version


def label_as_classes(proto: Any, classes: Any) -> bool:
    """Give a classifier's label output the kind of its classes (``classes_``), in place.

    The converters write bool classes (``False``/``True``) and float ones (``0.0``/``1.0``) as int64
    codes of the same value, so the service answered 0 and 1 where ``predict`` gives False and True or
    0.0 and 1.0. The label is cast to bool, or to the classes' float type; other classes are left alone.
    False when nothing was changed.
    """
    import numpy as np
    from onnx import TensorProto

    dtype = getattr(classes, "dtype", None)
    if not isinstance(classes, np.ndarray) or dtype is None:
        return False
    if dtype == np.bool_:
        return cast_label(proto, TensorProto.BOOL)
    if dtype.kind == "f":
        return cast_label(proto, TensorProto.FLOAT if dtype.itemsize == 4 else TensorProto.DOUBLE)
    return False


def redirect_output(graph: Any, name: str, inner: str) -> None:
    """Make graph output ``name`` an inner tensor ``inner``: the node writing it, and any reading it, use
    ``inner`` instead, so a node appended after them can write ``name`` from it. ``inner`` is a name new to the
    graph and its bodies (:func:`model_names`).

    A reader inside an If/Loop/Scan body (a body reads the main graph's values by name) is one too: left
    reading ``name``, an If branch read the appended node's answer, written after the If, where the checker
    refuses the order and onnxruntime gave the branch that answer in place of the value it read.
    """
    for node in graph.node:
        node.output[:] = [inner if n == name else n for n in node.output]
        node.input[:] = [inner if n == name else n for n in node.input]
        for _, body in node_subgraphs(node):
            _read_outer_instead(body, name, inner)


def _read_outer_instead(body: Any, name: str, other: str) -> None:
    """Every node of ``body`` and of its own bodies that reads the outer-scope value ``name`` reads ``other``
    instead; none where the body declares ``name`` itself, which hides the outer one. (A body may not return an
    outer value as its output: the checker and onnxruntime refuse it.)"""
    own = {vi.name for vi in body.input} | {init.name for init in body.initializer}
    own |= {init.values.name for init in body.sparse_initializer}
    if name in own or any(name in node.output for node in body.node):
        return
    for node in body.node:
        node.input[:] = [other if n == name else n for n in node.input]
        for _, inner_body in node_subgraphs(node):
            _read_outer_instead(inner_body, name, other)


def output_after(graph: Any, name: str, op: str, inputs: Sequence[Any] = (None,), *, was: str, node: str,
                 **attributes: Any) -> str:
    """Make graph output ``name`` the result of one new ``op`` node over the tensor that was it, renamed
    ``{name}_{was}`` (the node that wrote it, and any reading it, keep it under that name).

    ``inputs`` are the new node's: ``None`` for that tensor, a numpy array for a constant (added as an
    initializer), a string for a tensor already in the graph. Every new name is unique in the graph; the
    renamed tensor's is returned.
    """
    from onnx import helper, numpy_helper

    taken = model_names(graph)
    inner = unique_name(f"{name}_{was}", taken)
    redirect_output(graph, name, inner)
    fed: list[str] = []
    for value in inputs:
        if value is None:
            fed.append(inner)
        elif isinstance(value, str):
            fed.append(value)
        else:
            constant = unique_name(f"{name}_{node}_constant", taken)
            graph.initializer.append(numpy_helper.from_array(value, constant))
            fed.append(constant)
    graph.node.append(helper.make_node(op, fed, [name], name=unique_name(f"{name}_{node}", taken), **attributes))
    return inner


def cast_label(proto: Any, to: int) -> bool:
    """Cast a classifier's label output (its first int64 output) to element type ``to``, in place; False
    when it has none.

    For a classifier fitted on ``bool`` or float labels, which the converters write as int64 codes (the
    service then answered 0 and 1). The SQL adaptation casts a bool output to int32 for ``PREDICT``,
    which has no bool column.
    """
    from onnx import TensorProto

    names: dict[int, str] = {TensorProto.BOOL: "bool", TensorProto.FLOAT: "float32", TensorProto.DOUBLE: "float64"}
    graph = proto.graph
    label = next((out for out in graph.output if out.type.HasField("tensor_type")
                  and out.type.tensor_type.elem_type == TensorProto.INT64), None)
    if label is None:
        return False
    output_after(graph, label.name, "Cast", was="int64", node=f"as_{names.get(to, 'cast')}", to=to)
    label.type.tensor_type.elem_type = to
    return True


#: Operators that give NaN a meaning (missing value): a model holding one accepts NaN inputs.
NAN_AWARE_OPS = frozenset({"Imputer", "IsNaN"})


def reaches_nan_aware_node(proto: Any, name: str) -> bool:
    """True when a :data:`NAN_AWARE_OPS` node reads ``name`` or a value computed from it: the inputs a
    container package takes NaN in by default, and the search tries NaN in for that target.

    Only those inputs take NaN by default: a ColumnTransformer that imputes one column and scales the
    others had every float input take NaN (the graph held an IsNaN), and a NaN in a scaled column
    came back as label 0 beside NaN probabilities, where scikit-learn refuses the row.

    A walk stops at a node that mixes the values of several cells into one (:data:`MIXING_OPS`): past a distance, a
    sum or a product with weights, a NaN no longer stands for one missing value but for the arithmetic's own (a
    ``KNeighborsRegressor(weights="distance")`` guards its weights ``1/0`` with an IsNaN, and its package took NaN
    in its input, answering null where scikit-learn refuses the row).
    """
    return first_reader(proto, name, NAN_AWARE_OPS, stop=MIXING_OPS) is not None


#: Operators whose output values each combine many input values (a row's, or the rows'): a NaN-aware node reached
#: only through one of them handles the NaN of that arithmetic, not a missing value of the input.
MIXING_OPS = frozenset({
    "TopK", "MatMul", "MatMulInteger", "Gemm", "Einsum", "Conv", "ConvInteger", "ConvTranspose", "ArgMax", "ArgMin",
    "ReduceSum", "ReduceSumSquare", "ReduceMean", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceL1", "ReduceL2",
    "ReduceLogSum", "ReduceLogSumExp", "CumSum", "LpNormalization", "Normalizer", "Softmax", "LogSoftmax", "Hardmax",
    "CDist",
})


def first_reader(proto: Any, name: str, ops: frozenset[str], stop: frozenset[str] = frozenset()) -> str | None:
    """The type of the first node of ``ops`` (in reading order) that reads ``name`` or a value computed from it
    in the main graph, in an If's branches or a Loop's or Scan's body, or in a local function it calls
    (:func:`flat_nodes`), or None. The walk does not go past a node of ``stop``."""
    readers: dict[str, list[Any]] = {}
    for node in flat_nodes(proto):
        for value in node.input:
            readers.setdefault(value, []).append(node)
    seen, todo = {name}, [name]
    while todo:
        for node in readers.get(todo.pop(), ()):
            if node.op_type in ops:
                return str(node.op_type)
            if node.op_type in stop:
                continue
            for out in node.output:
                if out and out not in seen:
                    seen.add(out)
                    todo.append(out)
    return None


#: The type of the nodes :func:`flat_nodes` writes where values pass into or out of a subgraph or a local function
#: by position (a Loop's carried values, a Scan's slices, a body's outputs): no column stays in place through one.
FLOW_OP = "onnxgate.flow"
#: Local functions calling local functions are put in to this depth (a call past it stays a node of its own).
_FUNCTION_DEPTH = 8


def flat_nodes(proto: Any) -> list[Any]:
    """The main graph's nodes in reading order, with the nodes of each If branch, Loop or Scan body and local
    function (``proto.functions``) put in place of the node that holds or calls them, their own values renamed
    apart. A walk from an input then reaches the nodes inside them: an Imputer in an If's branch read the input
    by its outer name, an encoder in a function read it as the function's input, and the notes of what parity did
    not check said nothing of either. A branch's values enter it by name; a Loop's or Scan's by position, through
    a :data:`FLOW_OP` node, as a body's outputs leave it; a function's formal inputs and outputs are Identity nodes
    from and to the call's values. A subgraph's initializers become Constant nodes. The main graph's own nodes
    are returned as they are (the same objects)."""
    from onnxgate._onnx import canonical_domain

    functions = {(canonical_domain(f.domain), f.name): f for f in getattr(proto, "functions", ())}
    graph = proto.graph
    if not any(True for node in graph.node for _ in node_subgraphs(node)) and not (
            functions and any((canonical_domain(n.domain), n.op_type) in functions for n in graph.node)):
        return list(graph.node)
    out: list[Any] = []
    _flatten(graph.node, {}, functions, out, [0], 0)
    return out


def _flatten(nodes: Any, rename: Mapping[str, str], functions: Mapping[tuple[str, str], Any], out: list[Any],
             counter: list[int], depth: int) -> None:
    from onnx import helper

    from onnxgate._onnx import canonical_domain

    def named(value: str) -> str:
        return rename.get(value, value) if value else value

    def fresh() -> str:
        counter[0] += 1
        return f"\x00{counter[0]}/"

    for node in nodes:
        function = functions.get((canonical_domain(node.domain), node.op_type)) if depth < _FUNCTION_DEPTH else None
        subgraphs = [sub for _, sub in node_subgraphs(node)]
        if function is not None:
            prefix = fresh()
            inner = {v: prefix + v for v in (*function.input, *function.output)}
            inner.update({v: prefix + v for n in function.node for v in n.output if v})
            for actual, formal in zip(node.input, function.input):
                if actual:
                    out.append(helper.make_node("Identity", [named(actual)], [inner[formal]]))
            _flatten(function.node, inner, functions, out, counter, depth + 1)
            for formal, actual in zip(function.output, node.output):
                if actual:
                    out.append(helper.make_node("Identity", [inner[formal]], [named(actual)]))
            continue
        if subgraphs:
            passed: list[str] = []
            for sub in subgraphs:
                prefix = fresh()
                inner = dict(rename)
                inner.update({v.name: prefix + v.name for v in (*sub.input, *sub.initializer)})
                inner.update({v: prefix + v for n in sub.node for v in n.output if v})
                out += [helper.make_node("Constant", [], [inner[i.name]], value=i) for i in sub.initializer]
                if len(sub.input):  # a Loop's or Scan's body: its inputs are the node's, by position
                    out.append(helper.make_node(FLOW_OP, [named(v) for v in node.input if v],
                                                [inner[i.name] for i in sub.input]))
                _flatten(sub.node, inner, functions, out, counter, depth)
                passed += [inner.get(o.name, named(o.name)) for o in sub.output]
            out.append(helper.make_node(FLOW_OP, [*(named(v) for v in node.input if v), *passed],
                                        [named(v) for v in node.output]))
            continue
        if rename and any(v in rename for v in (*node.input, *node.output)):
            copy = type(node)()
            copy.CopyFrom(node)
            copy.input[:] = [named(v) for v in node.input]
            copy.output[:] = [named(v) for v in node.output]
            node = copy
        out.append(node)


#: Operators whose output holds their input's columns in place, as they are (:func:`columns_reaching`).
_COLUMNS_IN_PLACE = frozenset({"Identity", "Cast"})


def columns_reaching(proto: Any, name: str, width: int, ops: frozenset[str]) -> frozenset[int] | None:
    """The columns of the main graph's ``[N, width]`` value ``name`` that the nodes of ``ops`` read as their data
    (input 0) there or in a value computed from it, in the main graph, a subgraph or a local function
    (:func:`flat_nodes`): every column such a node is given, but for a tree ensemble only those its nodes split on
    (``nodes_featureids``: it reads no other). Followed through Identity, Cast, a Concat along the columns of
    values whose widths are declared, and the columns a Gather (axis 1), a Slice or an ArrayFeatureExtractor picks
    by constant indices (a model that splits its one ``[N, k]`` input into columns before an Imputer), the ops'
    own outputs not followed; None where a node of ``ops`` is reached another way (a Gather by computed indices, a
    MatMul: what it reads of ``name`` is not told per column)."""
    _, reached = _walk_columns(proto, name, width, ops)
    read: set[int] = set()
    for node, columns in reached:
        if columns is None:
            return None
        if node.op_type.startswith("TreeEnsemble"):
            attrs = {a.name: a for a in node.attribute}
            features = list(attrs["nodes_featureids"].ints) if "nodes_featureids" in attrs else []
            # a leaf splits on nothing, whatever feature id it is written with (skl2onnx writes 0)
            modes = list(attrs["nodes_modes"].strings) if "nodes_modes" in attrs else []
            split = {f for i, f in enumerate(features) if i >= len(modes) or modes[i] != b"LEAF"}
            if any(f >= len(columns) for f in split):
                return None
            read.update(columns[f] for f in split)
        else:
            read.update(columns)
    return frozenset(c for c in read if c >= 0)


def value_columns(proto: Any, name: str, width: int) -> dict[str, tuple[int, ...] | None]:
    """Each value computed from the ``[N, width]`` value ``name`` (:func:`flat_nodes`: in subgraphs and local
    functions too) -> for each of its columns, the column of ``name`` it holds (-1: none), or None where that is
    not told (:func:`columns_reaching`'s rules, through every node): which column a category reader fed by a
    Gather of one column reads."""
    return _walk_columns(proto, name, width, frozenset())[0]


def _walk_columns(proto: Any, name: str, width: int, ops: frozenset[str]
                  ) -> tuple[dict[str, tuple[int, ...] | None], list[tuple[Any, tuple[int, ...] | None]]]:
    """Follow the columns of the ``[N, width]`` value ``name`` through :func:`flat_nodes` (:func:`_columns_out`):
    each value computed from it -> for each of its columns, the column of ``name`` it holds (-1: none of them), or
    None where that is not known; and each node of ``ops`` reached, with the columns its data (input 0) holds
    (None: reached another way, or not known), whose own outputs are not followed."""
    graph = proto.graph
    widths: dict[str, int | None] = {v.name: static_width(v) for v in (*graph.input, *graph.value_info)}
    widths.update({t.name: int(t.dims[1]) if len(t.dims) == 2 else None for t in graph.initializer})
    weights: dict[str, Any] = {t.name: t for t in graph.initializer}
    # ONNX lists nodes in an order where each reads only values made before it
    where: dict[str, tuple[int, ...] | None] = {name: tuple(range(width))}
    stops: list[tuple[Any, tuple[int, ...] | None]] = []
    for node in flat_nodes(proto):
        if node.op_type == "Constant":
            weights.update({v: node for v in node.output if v})
            continue
        reached = [i for i, value in enumerate(node.input) if value in where]
        if not reached:
            continue
        if node.op_type in ops:
            stops.append((node, where[node.input[0]] if reached == [0] else None))
            continue
        out = _columns_out(node, reached, where, widths, weights)
        where.update({value: out for value in node.output if value})
    return where, stops


def _columns_out(node: Any, reached: Sequence[int], where: Mapping[str, tuple[int, ...] | None],
                 widths: Mapping[str, int | None], weights: Mapping[str, Any]) -> tuple[int, ...] | None:
    """The columns ``node``'s outputs hold (:func:`columns_reaching`), ``reached``: its inputs that ``where``
    knows."""
    if node.op_type in _COLUMNS_IN_PLACE:
        return where[node.input[0]]
    if node.op_type == "Concat" and next((a.i for a in node.attribute if a.name == "axis"), None) in (1, -1):
        parts = [where[v] if v in where else (None if widths.get(v) is None else (-1,) * int(widths[v] or 0))
                 for v in node.input]
        return None if any(p is None for p in parts) else tuple(c for p in parts for c in p or ())
    if node.op_type in ("Gather", "Slice", "ArrayFeatureExtractor") and list(reached) == [0]:
        return _columns_picked(node, where[node.input[0]], weights)
    if node.op_type == "Where" and len(node.input) == 3:
        # each element is the first value's or the second's, whatever the condition: the columns stay in place
        # where both hold the same columns, or one is a constant (a NaN put in a missing code's place, the
        # integers of a code written back over it: the path from an XGBoost or LightGBM input to its trees)
        data = [v for v in node.input[1:] if v in where]
        if data and all(v in where or v in weights for v in node.input[1:]) and len({where[v] for v in data}) == 1:
            return where[data[0]]
    read = [where[node.input[i]] for i in reached]
    width = widths.get(node.output[0]) if node.output else None
    if width is not None and all(r is not None and all(c < 0 for c in r) for r in read):
        return (-1,) * width  # computed from other columns alone (a threshold count of another feature)
    return None


def _constant(weights: Mapping[str, Any], name: str) -> Any:
    """The integers of the constant ``name`` (an initializer or a Constant node's value) as a numpy array, or
    None when it is not one."""
    from onnx import numpy_helper

    held = weights.get(name) if name else None
    if held is None:
        return None
    if hasattr(held, "op_type"):  # a Constant node
        attr = next((a for a in held.attribute if a.name in ("value", "value_int", "value_ints")), None)
        if attr is None:
            return None
        if attr.name == "value":
            held = attr.t
        else:
            import numpy as np

            return np.asarray(attr.i if attr.name == "value_int" else list(attr.ints), dtype=np.int64)
    value = numpy_helper.to_array(held)
    return value if value.dtype.kind in "iu" else None


def _columns_picked(node: Any, columns: tuple[int, ...] | None, weights: Mapping[str, Any]) -> tuple[int, ...] | None:
    """The columns (of the input followed, :func:`columns_reaching`) a Gather, Slice or ArrayFeatureExtractor of
    an ``[N, k]`` value whose columns are ``columns`` gives, by constant indices; None where they are not
    constant or it picks along another axis than the rows' or the columns'."""
    if columns is None:
        return None
    attrs = {a.name: a for a in node.attribute}
    width = len(columns)
    if node.op_type in ("Gather", "ArrayFeatureExtractor"):
        axis = attrs["axis"].i if "axis" in attrs else 0
        if node.op_type == "ArrayFeatureExtractor":
            axis = 1  # its last axis, of an [N, k] value
        indices = _constant(weights, node.input[1]) if len(node.input) > 1 else None
        if indices is None or indices.ndim > 1:
            return None
        if axis == 0:
            return columns  # rows picked: each column stays in place
        if axis not in (1, -1) or any(not -width <= int(i) < width for i in indices.reshape(-1)):
            return None
        return tuple(columns[int(i)] for i in indices.reshape(-1))
    # Slice: its starts, ends, axes and steps as inputs (opset 10 on) or as attributes (before)
    if len(node.input) > 1:
        given = [node.input[i] if i < len(node.input) else "" for i in range(1, 5)]
        parts = [_constant(weights, v) if v else None for v in given]
        if parts[0] is None or parts[1] is None or any(v and p is None for v, p in zip(given, parts)):
            return None
        starts, ends = [int(v) for v in parts[0]], [int(v) for v in parts[1]]
        axes = [int(v) for v in parts[2]] if parts[2] is not None else list(range(len(starts)))
        steps = [int(v) for v in parts[3]] if parts[3] is not None else [1] * len(starts)
    else:
        starts = list(attrs["starts"].ints) if "starts" in attrs else []
        ends = list(attrs["ends"].ints) if "ends" in attrs else []
        axes = list(attrs["axes"].ints) if "axes" in attrs else list(range(len(starts)))
        steps = [1] * len(starts)
    if not (len(starts) == len(ends) == len(axes) == len(steps)) or 0 in steps:
        return None
    out = columns
    for start, end, axis, step in zip(starts, ends, axes, steps):
        if axis in (1, -1):
            out = tuple(out[slice(start, end, step)])
        elif axis not in (0, -2):
            return None
    return out


def refuse_negative_gather_ids(proto: Any, is_lookup: Any, *, subgraphs: bool = False) -> int:
    """Make onnxruntime refuse a negative index into each constant table a Gather reads where
    ``is_lookup(node)`` says the framework refuses one; the number guarded.

    ONNX's Gather counts a negative index from the end, where PyTorch's embeddings and TensorFlow's gather
    raise. Each such Gather's index is moved below the table (``index - rows``) when negative, where
    onnxruntime refuses it as it refuses an index past the end. Only Gathers of an initializer, from an
    integer index whose type can be read, are guarded (opset 9 and above: Less on integers and Where).
    With ``subgraphs``, Gathers in a Loop's body or an If's branches reading a table of the main graph are
    guarded too (the TorchScript exporter looks up each bag of an ``nn.EmbeddingBag`` in a Loop).
    """
    import numpy as np
    import onnx
    from onnx import helper, numpy_helper

    from onnxgate._onnx import canonical_domain, model_opsets

    main = proto.graph
    if model_opsets(proto).get("", 0) < 9:
        return 0
    graphs = list(all_graphs(main)) if subgraphs else [main]
    if not any(node.op_type == "Gather" for graph in graphs for node in graph.node):
        return 0  # no Gather: the map of the weights is not needed
    weights = {init.name: init for init in main.initializer}
    lookups = [(graph, node) for graph in graphs for node in graph.node
               if canonical_domain(node.domain) == "" and node.op_type == "Gather"
               and node.input[0] in weights and node.input[1] not in weights and is_lookup(node)]
    if not lookups:
        return 0
    try:  # the index's type where the exporter declared none (a Slice of the ids feeding a shared table)
        inferred = list(all_graphs(onnx.shape_inference.infer_shapes(proto).graph))
    except Exception:
        inferred = graphs
    types = {vi.name: vi.type.tensor_type.elem_type
             for graph in [*graphs, *inferred] for vi in [*graph.input, *graph.value_info]}
    taken = model_names(main)
    guarded = 0
    for graph, node in lookups:
        index = node.input[1]
        dtype = {6: np.int32, 7: np.int64}.get(types.get(index, 0))
        if dtype is None:  # not an integer index whose type can be read: left as exported
            continue
        axis = next((a.i for a in node.attribute if a.name == "axis"), 0)
        dims = weights[node.input[0]].dims
        if not -len(dims) <= axis < len(dims):
            continue
        rows = int(dims[axis])
        names = {k: unique_name(f"{index}_{k}", taken) for k in ("zero", "rows", "negative", "below", "guarded")}
        main.initializer.extend([numpy_helper.from_array(np.array(0, dtype=dtype), names["zero"]),
                                 numpy_helper.from_array(np.array(rows, dtype=dtype), names["rows"])])
        added = [helper.make_node("Less", [index, names["zero"]], [names["negative"]]),
                 helper.make_node("Sub", [index, names["rows"]], [names["below"]]),
                 helper.make_node("Where", [names["negative"], names["below"], index], [names["guarded"]])]
        at = list(graph.node).index(node)
        for k, new in enumerate(added):
            new.name = unique_name(f"onnxgate_gather_id_{new.op_type.lower()}", taken)
            graph.node.insert(at + k, new)
        node.input[1] = names["guarded"]
        guarded += 1
    return guarded


#: :func:`double_erf`'s formula: the Taylor series of erf up to ``|x| <= ERF_SERIES_UP_TO`` (terms to the
#: power 2 * ERF_SERIES_TERMS + 1), then ``1 - erfc`` by its continued fraction (ERF_FRACTION_TERMS deep).
#: Measured against Python's ``math.erf`` on 200,001 points of [0, 10] and tiny ones: at most 2e-15 off.
ERF_SERIES_UP_TO = 2.0
ERF_SERIES_TERMS = 30
ERF_FRACTION_TERMS = 60


def double_erf(proto: Any) -> int:
    """Write each ``Erf`` of a double tensor in the main graph as its double-precision formula; the count
    of nodes replaced.

    onnxruntime has no double ``Erf`` kernel, so a double graph holding one did not load, and the model
    fell back to float32: a GaussianProcessClassifier's probabilities sum erf terms weighted by
    coefficients in the thousands, and in float32 they were 2.6e-4 off scikit-learn's (validate failed
    it on 10 of 100 rows). ``erf(x) = sign(x) * e(|x|)``, ``e(a)`` the Taylor series
    ``2/sqrt(pi) * sum (-1)^n a^(2n+1) / (n! (2n+1))`` (Horner's form in ``a^2``) for ``a <= 2``, else
    ``1 - exp(-a^2) / sqrt(pi) / (a + (1/2)/(a + 1/(a + (3/2)/(a + ...))))``; NaN stays NaN.
    """
    import math

    import numpy as np
    from onnx import numpy_helper

    graph = proto.graph
    doubles = _double_nodes(proto, {"Erf"})
    if not doubles:
        return 0
    taken = graph_names(graph)

    def const(value: float, base: str) -> str:
        name = unique_name(f"onnxgate_erf_{base}", taken)
        graph.initializer.append(numpy_helper.from_array(np.array(value, dtype=np.float64), name))
        return name

    half = {k: const(k / 2.0, f"k{k}") for k in range(1, ERF_FRACTION_TERMS + 1)}
    series = [const((-1.0) ** n / (math.factorial(n) * (2 * n + 1)), f"c{n}") for n in range(ERF_SERIES_TERMS + 1)]
    bound = const(ERF_SERIES_UP_TO, "bound")
    two_over_root_pi = const(2.0 / math.sqrt(math.pi), "two_over_root_pi")
    root_pi = const(math.sqrt(math.pi), "root_pi")
    one = const(1.0, "one")
    consts = {"half": half, "series": series, "bound": bound, "two_over_root_pi": two_over_root_pi,
              "root_pi": root_pi, "one": one}
    for old in doubles:
        at = list(graph.node).index(old)
        graph.node.remove(old)
        for offset, node in enumerate(_erf_nodes(old.input[0], old.output[0], old.name or "erf", consts, taken)):
            graph.node.insert(at + offset, node)
    return len(doubles)


def _erf_nodes(x: str, out: str, prefix: str, consts: Mapping[str, Any], taken: set[str]) -> list[Any]:
    """The nodes of :func:`double_erf`'s formula from ``x`` to ``out``."""
    from onnx import helper

    nodes: list[Any] = []

    def op(kind: str, *inputs: str, name: str | None = None) -> str:
        made = name or unique_name(f"{prefix}_{kind.lower()}", taken)
        nodes.append(helper.make_node(kind, list(inputs), [made], name=unique_name(f"{made}_node", taken)))
        return made

    series, half, bound = consts["series"], consts["half"], consts["bound"]
    a = op("Abs", x)
    square = op("Mul", a, a)
    acc = series[-1]
    for coefficient in reversed(series[:-1]):  # Horner: ((c_N z + c_{N-1}) z + ...) + c_0
        acc = op("Add", op("Mul", acc, square), coefficient)
    near = op("Mul", op("Mul", consts["two_over_root_pi"], a), acc)
    b = op("Max", a, bound)  # the fraction is evaluated where it converges; the Where picks
    depth = b
    for k in range(ERF_FRACTION_TERMS, 0, -1):
        depth = op("Add", b, op("Div", half[k], depth))
    tail = op("Div", op("Div", op("Exp", op("Neg", op("Mul", b, b))), consts["root_pi"]), depth)
    far = op("Sub", consts["one"], tail)
    magnitude = op("Where", op("LessOrEqual", a, bound), near, far)
    signed = op("Mul", op("Sign", x), magnitude)
    op("Where", op("IsNaN", x), x, signed, name=out)
    return nodes


def _double_nodes(proto: Any, ops: set[str]) -> list[Any]:
    """The default-domain nodes of the main graph of a type in ``ops`` whose first input is a double tensor
    (by shape inference; none when it fails)."""
    import onnx
    from onnx import TensorProto

    from onnxgate._onnx import canonical_domain

    graph = proto.graph
    found = [n for n in graph.node if n.op_type in ops and canonical_domain(n.domain) == "" and n.input]
    if not found:
        return []
    try:
        inferred = onnx.shape_inference.infer_shapes(proto)
    except Exception:
        return []
    types = {vi.name: vi.type.tensor_type.elem_type
             for vi in [*inferred.graph.value_info, *inferred.graph.input, *inferred.graph.output]
             if vi.type.HasField("tensor_type")}
    types.update({init.name: init.data_type for init in graph.initializer})
    return [n for n in found if types.get(n.input[0]) == TensorProto.DOUBLE]


#: The operators :func:`double_formulas` writes as formulas on double tensors: onnxruntime (1.32 and older) has
#: no double kernel for any of them, and a double graph holding one did not load.
DOUBLE_FORMULA_OPS = ("Acos", "Acosh", "Asin", "Asinh", "Atan", "Atanh", "Celu", "Cosh", "Elu", "Gelu", "HardSigmoid",
                      "HardSwish", "LeakyRelu", "Mish", "PRelu", "Selu", "Sinh", "Softplus", "Softsign", "Tan",
                      "ThresholdedRelu")

#: pi / 2 in parts of 33 bits (fdlibm's ``pio2_1``, ``pio2_2``, ``pio2_3``) and the rest, ``pio2_3t``: ``k`` times
#: each is exact for ``|k| < 2^20``, so ``x - k pi / 2`` loses nothing near a multiple of pi / 2.
TAN_HALF_PI_PARTS = (1.57079632673412561417e+00, 6.07710050630396597660e-11, 2.02226624871116645580e-21,
                     8.47842766036889956997e-32)

#: fdlibm's ``atan`` (s_atan.c), which :func:`double_formulas` writes: the reduced argument's ranges (upper
#: bounds), the angles each is moved by (high and low parts), and the odd polynomial's coefficients.
ATAN_BOUNDS = (0.4375, 0.6875, 1.1875, 2.4375)
ATAN_HIGH = (4.63647609000806093515e-01, 7.85398163397448278999e-01, 9.82793723247329054082e-01,
             1.57079632679489655800e+00)
ATAN_LOW = (2.26987774529616870924e-17, 3.06161699786838301793e-17, 1.39033110312309984516e-17,
            6.12323399573676603587e-17)
ATAN_COEFFICIENTS = (3.33333333333329318027e-01, -1.99999999998764832476e-01, 1.42857142725034663711e-01,
                     -1.11111104054623557880e-01, 9.09088713343650656196e-02, -7.69187620504482999495e-02,
                     6.66107313738753120669e-02, -5.83357013379057348645e-02, 4.97687799461593236017e-02,
                     -3.65315727442169155270e-02, 1.62858201153657823623e-02)

#: The ONNX defaults of ``Selu``'s attributes are float32 roundings of these (torch's SELU is exact to double).
SELU_ALPHA = 1.6732632423543772848170429916717
SELU_GAMMA = 1.0507009873554804934193349852946


def double_attribute(value: float) -> float:
    """The double a float32 attribute was written from: the shortest decimal that rounds to it when that has at
    most 6 significant digits (0.1 for LeakyReLU's 0.100000001490116...), else the simplest fraction of
    denominator up to 100 that does (HardSigmoid's 1/6, RReLU's eval slope (1/8 + 1/3) / 2 = 11/48), else that
    decimal. ONNX attributes are float32: read as they are, a double graph's slope of 0.1 was 1.5e-9 off torch's."""
    from fractions import Fraction

    import numpy as np

    single = np.float32(value)
    written = np.format_float_positional(single, unique=True)
    if len(written.replace("-", "").replace(".", "").strip("0")) <= 6:
        return float(written)
    simplest = Fraction(float(single)).limit_denominator(100)
    return float(simplest) if np.float32(float(simplest)) == single else float(written)


def log_sigmoid_as_softplus(proto: Any) -> int:
    """Write each ``Log`` of a ``Sigmoid`` (read by nothing else) in the main graph as ``-Softplus(-x)``, in
    place; the count rewritten.

    Both PyTorch exporters write ``nn.LogSigmoid`` (``F.logsigmoid``) as ``Log(Sigmoid(x))``, and onnxruntime's
    float32 Sigmoid is accurate to about 1e-7 in absolute terms, not relative ones: the file answered -14.84
    where torch answers -14.93 and -inf from x = -88 (torch: x itself). ``-softplus(-x)`` is the same function
    computed stably (onnxruntime's Softplus is, and a double one is written as its formula by
    :func:`double_formulas`, which runs after). A model that literally computes ``log(sigmoid(x))`` gets the
    same values where float32's sigmoid does not underflow (x above about -103), and finite ones below it.
    """
    import onnx

    graph = proto.graph
    logs = [n for n in graph.node if n.op_type == "Log" and n.domain in ("", "ai.onnx")]
    if not logs:  # the maps below took 0.03-0.09 ms of a conversion with no Log at all
        return 0
    producer = {out: node for node in graph.node for out in node.output}
    readers = _readers(graph)
    outputs = {o.name for o in graph.output}
    taken = graph_names(graph)
    count = 0
    for log in logs:
        sigmoid = producer.get(log.input[0])
        if (sigmoid is None or sigmoid.op_type != "Sigmoid" or sigmoid.domain not in ("", "ai.onnx")
                or len(readers.get(sigmoid.output[0], [])) != 1 or sigmoid.output[0] in outputs):
            continue
        negated, smooth = unique_name(f"{log.name}_neg", taken), unique_name(f"{log.name}_softplus", taken)
        taken |= {negated, smooth}
        at = list(graph.node).index(sigmoid)
        graph.node.remove(sigmoid)
        for offset, node in enumerate([
            onnx.helper.make_node("Neg", [sigmoid.input[0]], [negated], name=negated),
            onnx.helper.make_node("Softplus", [negated], [smooth], name=smooth),
        ]):
            graph.node.insert(at + offset, node)
        at = list(graph.node).index(log)
        graph.node.remove(log)
        graph.node.insert(at, onnx.helper.make_node("Neg", [smooth], [log.output[0]], name=log.name))
        count += 1
    return count


Node = TypeVar("Node")


def exact_log1p(x: Node, op: Callable[..., Node], const: Callable[[float], Node]) -> Node:
    """``log(1 + x)`` as precise as ``log`` itself for every ``x``, written with ``op(kind, *inputs)`` (an ONNX
    operator of that type, its output) and ``const(value)`` (a constant of ``x``'s type) of any graph builder.

    ``Log(1 + x)`` loses the digits of ``x`` that ``1 + x`` rounds off: every one below the type's epsilon
    (``log1p(1e-10)`` in float32 answered 0). Kahan's form puts them back: with ``u = 1 + x`` and ``d = u - 1``
    (exact), ``log1p(x) = log(u) * x / d``, ``x`` itself where ``d`` is 0 (-0.0 stays -0.0) and ``log(u)``
    where ``d`` is ``u`` (``x`` past ``2 ** 53`` in double, +inf). -1 gives -inf, below it NaN (the log of a
    negative), NaN gives NaN. Equality is written ``not (a < b or a > b)``: ONNX's ``Equal`` takes floats from
    opset 11 only."""
    one, zero = const(1.0), const(0.0)
    u = op("Add", x, one)
    d = op("Sub", u, one)
    log_u = op("Log", u)
    inner = op("Where", _same(op, d, u), log_u, op("Div", op("Mul", log_u, x), d))
    return op("Where", _same(op, d, zero), x, inner)


def exact_expm1(x: Node, op: Callable[..., Node], const: Callable[[float], Node]) -> Node:
    """``exp(x) - 1`` as precise as ``exp`` itself for every ``x``, written as :func:`exact_log1p` is.

    ``Exp(x) - 1`` loses the digits of ``x`` that ``exp(x)`` rounds off (``expm1(1e-10)`` in float32 answered
    0). Kahan's form: with ``u = exp(x)`` and ``d = u - 1``, ``expm1(x) = d * x / log(u)``; ``x`` itself where
    ``u`` is 1, and ``d`` where 1 is lost against ``u`` (``u`` past ``2 ** 53`` in double or infinite: ``d * x``
    would overflow; ``u`` below the epsilon: -1). NaN gives NaN."""
    one = const(1.0)
    u = op("Exp", x)
    d = op("Sub", u, one)
    lost = op("Or", _same(op, d, u), _same(op, d, op("Neg", one)))
    inner = op("Where", lost, d, op("Div", op("Mul", d, x), op("Log", u)))
    return op("Where", _same(op, u, one), x, inner)


def _same(op: Callable[..., Node], a: Node, b: Node) -> Node:
    """``a == b`` for floats at every opset (``Equal`` takes them from 11); true for a NaN, which every branch
    of :func:`exact_log1p` and :func:`exact_expm1` keeps NaN."""
    return op("Not", op("Or", op("Less", a, b), op("Greater", a, b)))


def double_formulas(proto: Any) -> dict[str, int]:
    """Write each :data:`DOUBLE_FORMULA_OPS` activation and each ``Erf`` of a double tensor in the main graph
    as its double-precision formula, in place; the count of nodes replaced by operator.

    onnxruntime has no double kernel for these, so a model trained in float64 (``model.double()``) with a
    Softplus, Mish, ELU, SELU, LeakyReLU, PReLU, RReLU, Hardsigmoid, Hardswish or exact GELU, or computing
    ``torch.sinh``, ``atan``... gave a file it did not load. Each is written from operators it runs in double:
    ``softplus(x) = max(x, 0) + log1p(exp(-|x|))`` (:func:`exact_log1p`: ``log(u) * e / (u - 1)``, ``u = 1 + e``,
    exact to a few ulps where ``1 + e`` rounds), ``expm1(x)`` for ELU, SELU and CELU as :func:`exact_expm1`
    (``(u - 1) * x / log(u)``, ``u = exp(x)``); the hyperbolic functions and their inverses as fdlibm computes them from
    expm1 and log1p, ``tan`` as ``sin / cos``, ``atan`` as fdlibm's (a reduction to ``|x| < 0.4375`` and an odd
    polynomial), ``asin(x) = atan(x / sqrt((1 - x)(1 + x)))`` and ``acos(x) = 2 atan(sqrt((1 - x) / (1 + x)))``
    (each within a few ulps of torch, 0, the infinities and NaN included); the others are their definitions.
    Both PyTorch exporters write CELU on a double tensor as ``Cast`` to float32, ``Celu``, ``Cast`` back (ONNX's
    Celu is float32 only): that is a Celu on the double tensor too. The float32 attributes are read back as the
    doubles they were written from (:func:`double_attribute`); ``Erf`` as :func:`double_erf`.
    """
    graph = proto.graph
    _celu_in_double(proto)
    found = _double_nodes(proto, set(DOUBLE_FORMULA_OPS))
    counts: dict[str, int] = {}
    taken = graph_names(graph) if found else set()
    for old in found:
        at = list(graph.node).index(old)
        graph.node.remove(old)
        formula = _Formula(graph, old, taken)
        formula.write()
        for offset, node in enumerate(formula.nodes):
            graph.node.insert(at + offset, node)
        counts[old.op_type] = counts.get(old.op_type, 0) + 1
    erfs = double_erf(proto)
    if erfs:
        counts["Erf"] = erfs
    return counts


def _celu_in_double(proto: Any) -> None:
    """Make each ``Cast`` to float32, ``Celu``, ``Cast`` to double of a double tensor (read by nothing else) one
    ``Celu`` of that tensor, in place: CELU in float32 was 2e-7 off torch's double."""
    from onnx import TensorProto

    graph = proto.graph
    celus = [n for n in graph.node if n.op_type == "Celu" and n.domain in ("", "ai.onnx")]
    if not celus:  # no Celu: no maps, and no shape inference to find the Casts of double tensors
        return
    producer = {out: node for node in graph.node for out in node.output}
    readers = _readers(graph)
    outputs = {o.name for o in graph.output}

    def cast_to(node: Any, kind: int) -> bool:
        return node.op_type == "Cast" and any(a.name == "to" and a.i == kind for a in node.attribute)

    narrowing = {id(n) for n in _double_nodes(proto, {"Cast"}) if cast_to(n, TensorProto.FLOAT)}
    for celu in celus:
        before, after = producer.get(celu.input[0]), readers.get(celu.output[0], [])
        if (before is None or id(before) not in narrowing or len(readers[before.output[0]]) != 1
                or before.output[0] in outputs or celu.output[0] in outputs or len(after) != 1
                or not cast_to(after[0], TensorProto.DOUBLE)):
            continue
        celu.input[0], celu.output[0] = before.input[0], after[0].output[0]
        graph.node.remove(before)
        graph.node.remove(after[0])


class _Formula:
    """The nodes of one :func:`double_formulas` activation, from its input to its output."""

    def __init__(self, graph: Any, node: Any, taken: set[str]) -> None:
        from onnx import helper

        self.graph, self.node, self.taken = graph, node, taken
        self.prefix = node.name.strip("/").replace("/", "_") or node.op_type.lower()
        self.attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        self.nodes: list[Any] = []

    def op(self, kind: str, *inputs: str, out: str | None = None) -> str:
        from onnx import helper

        made = out or unique_name(f"{self.prefix}_{kind.lower()}", self.taken)
        self.nodes.append(helper.make_node(kind, list(inputs), [made], name=unique_name(f"{made}_node", self.taken)))
        return made

    def const(self, value: float) -> str:
        import numpy as np
        from onnx import numpy_helper

        name = unique_name(f"onnxgate_{self.node.op_type.lower()}_constant", self.taken)
        self.graph.initializer.append(numpy_helper.from_array(np.array(value, dtype=np.float64), name))
        return name

    def attr(self, name: str, default: float) -> float:
        return double_attribute(self.attrs[name]) if name in self.attrs else default

    def log1p(self, e: str) -> str:
        return exact_log1p(e, self.op, self.const)

    def expm1(self, x: str) -> str:
        return exact_expm1(x, self.op, self.const)

    def odd(self, x: str, magnitude: str) -> str:
        """``magnitude`` (a function of ``|x|``) with the sign of ``x``."""
        return self.op("Where", self.op("Less", x, self.const(0.0)), self.op("Neg", magnitude), magnitude)

    def exp_large(self, a: str) -> str:
        """``exp(a) / 2`` for ``a >= 22``, finite up to where ``sinh`` and ``cosh`` overflow (``a`` 710.47)."""
        half = self.op("Exp", self.op("Mul", a, self.const(0.5)))
        return self.op("Mul", self.op("Mul", half, self.const(0.5)), half)

    def sinh(self, x: str) -> str:
        a = self.op("Abs", x)
        e = self.expm1(a)
        near = self.op("Mul", self.op("Add", e, self.op("Div", e, self.op("Add", e, self.const(1.0)))),
                       self.const(0.5))
        return self.odd(x, self.op("Where", self.op("Less", a, self.const(22.0)), near, self.exp_large(a)))

    def cosh(self, x: str) -> str:
        a = self.op("Abs", x)
        e = self.op("Exp", a)
        half = self.const(0.5)
        near = self.op("Add", self.op("Mul", e, half), self.op("Div", half, e))
        return self.op("Where", self.op("Less", a, self.const(22.0)), near, self.exp_large(a))

    def asinh(self, x: str) -> str:
        a = self.op("Abs", x)
        one = self.const(1.0)
        square = self.op("Mul", a, a)
        root = self.op("Sqrt", self.op("Add", square, one))  # sqrt(1 + x^2)
        near = self.log1p(self.op("Add", a, self.op("Div", square, self.op("Add", one, root))))
        middle = self.op("Log", self.op("Add", self.op("Mul", a, self.const(2.0)),
                                        self.op("Div", one, self.op("Add", root, a))))
        far = self.op("Add", self.op("Log", a), self.const(math.log(2.0)))
        magnitude = self.op("Where", self.op("Less", a, self.const(2.0)), near,
                            self.op("Where", self.op("Less", a, self.const(2.0 ** 28)), middle, far))
        return self.odd(x, magnitude)

    def acosh(self, x: str) -> str:
        one = self.const(1.0)
        t = self.op("Sub", x, one)
        near = self.log1p(self.op("Add", t, self.op("Sqrt", self.op("Add", self.op("Mul", t, self.const(2.0)),
                                                                           self.op("Mul", t, t)))))
        root = self.op("Sqrt", self.op("Sub", self.op("Mul", x, x), one))
        middle = self.op("Log", self.op("Sub", self.op("Mul", x, self.const(2.0)),
                                        self.op("Div", one, self.op("Add", x, root))))
        far = self.op("Add", self.op("Log", x), self.const(math.log(2.0)))
        value = self.op("Where", self.op("LessOrEqual", x, self.const(2.0)), near,
                        self.op("Where", self.op("Less", x, self.const(2.0 ** 28)), middle, far))
        return self.op("Where", self.op("Less", x, one), self.const(math.nan), value)

    def atanh(self, x: str) -> str:
        a = self.op("Abs", x)
        one, two = self.const(1.0), self.const(2.0)
        rest = self.op("Sub", one, a)
        twice = self.op("Mul", a, two)
        near = self.log1p(self.op("Add", twice, self.op("Div", self.op("Mul", twice, a), rest)))
        far = self.log1p(self.op("Div", twice, rest))
        magnitude = self.op("Mul", self.op("Where", self.op("Less", a, self.const(0.5)), near, far), self.const(0.5))
        return self.odd(x, self.op("Where", self.op("Greater", a, one), self.const(math.nan), magnitude))

    def tan(self, x: str) -> str:
        """``sin(r) / cos(r)``, or ``-cos(r) / sin(r)`` for an odd ``k``, ``r = x - k pi / 2`` in ``[-pi/4, pi/4]``
        (fdlibm's three-part pi / 2, exact products up to ``|k| = 2^19``; ``sin(x) / cos(x)`` past it).
        onnxruntime's double Sin and Cos are accurate to 7e-16 in absolute terms only: divided as they are, tan
        was 5.5e-7 off torch's at x = -14.137167 (a pole, 9 pi / 2, less 9e-9)."""
        k = self.op("Round", self.op("Mul", x, self.const(2.0 / math.pi)))
        r = x
        for part in TAN_HALF_PI_PARTS:
            r = self.op("Sub", r, self.op("Mul", k, self.const(part)))
        sine, cosine = self.op("Sin", r), self.op("Cos", r)
        half_k = self.op("Mul", k, self.const(0.5))
        odd = self.op("Not", self.op("Equal", self.op("Floor", half_k), half_k))
        reduced = self.op("Where", odd, self.op("Neg", self.op("Div", cosine, sine)), self.op("Div", sine, cosine))
        direct = self.op("Div", self.op("Sin", x), self.op("Cos", x))
        return self.op("Where", self.op("Less", self.op("Abs", k), self.const(2.0 ** 19)), reduced, direct)

    def atan(self, x: str) -> str:
        """fdlibm's ``atan``: ``|x|`` reduced to ``r`` below 0.4375, ``high - ((r p(r) - low) - r)``."""
        a = self.op("Abs", x)
        one, two, three_halves = self.const(1.0), self.const(2.0), self.const(1.5)
        reduced = [
            self.op("Div", self.op("Sub", self.op("Mul", a, two), one), self.op("Add", a, two)),
            self.op("Div", self.op("Sub", a, one), self.op("Add", a, one)),
            self.op("Div", self.op("Sub", a, three_halves), self.op("Add", self.op("Mul", a, three_halves), one)),
            self.op("Neg", self.op("Div", one, a)),
        ]
        r, high, low = reduced[-1], self.const(ATAN_HIGH[-1]), self.const(ATAN_LOW[-1])
        for i in (2, 1, 0, -1):  # the ranges from the top: below ATAN_BOUNDS[i + 1], reduction i (-1: none)
            below = self.op("Less", a, self.const(ATAN_BOUNDS[i + 1]))
            r = self.op("Where", below, a if i < 0 else reduced[i], r)
            high = self.op("Where", below, self.const(ATAN_HIGH[i] if i >= 0 else 0.0), high)
            low = self.op("Where", below, self.const(ATAN_LOW[i] if i >= 0 else 0.0), low)
        z = self.op("Mul", r, r)
        w = self.op("Mul", z, z)
        odd_terms, even_terms = ATAN_COEFFICIENTS[0::2], ATAN_COEFFICIENTS[1::2]
        s1 = self.const(odd_terms[-1])
        for c in reversed(odd_terms[:-1]):
            s1 = self.op("Add", self.const(c), self.op("Mul", w, s1))
        s2 = self.const(even_terms[-1])
        for c in reversed(even_terms[:-1]):
            s2 = self.op("Add", self.const(c), self.op("Mul", w, s2))
        series = self.op("Add", self.op("Mul", z, s1), self.op("Mul", w, s2))
        moved = self.op("Sub", self.op("Sub", self.op("Mul", r, series), low), r)
        return self.odd(x, self.op("Sub", high, moved))

    def softplus(self, x: str) -> str:
        zero = self.const(0.0)
        tail = self.log1p(self.op("Exp", self.op("Neg", self.op("Abs", x))))
        return self.op("Add", self.op("Max", x, zero), tail)

    def hard_sigmoid(self, x: str, alpha: float, beta: float) -> str:
        line = self.op("Add", self.op("Mul", x, self.const(alpha)), self.const(beta))
        return self.op("Max", self.op("Min", line, self.const(1.0)), self.const(0.0))

    def elu(self, x: str, alpha: float) -> str:
        negative = self.op("Mul", self.expm1(x), self.const(alpha))
        return self.op("Where", self.op("Greater", x, self.const(0.0)), x, negative)

    def write(self) -> None:
        kind, x, out = self.node.op_type, self.node.input[0], self.node.output[0]
        if kind == "Softplus":
            self.op("Identity", self.softplus(x), out=out)
        elif kind == "Mish":
            self.op("Mul", x, self.op("Tanh", self.softplus(x)), out=out)
        elif kind == "Elu":
            self.op("Identity", self.elu(x, self.attr("alpha", 1.0)), out=out)
        elif kind == "Selu":
            alpha, gamma = self.attr("alpha", SELU_ALPHA), self.attr("gamma", SELU_GAMMA)
            alpha = SELU_ALPHA if abs(alpha - SELU_ALPHA) < 1e-7 else alpha  # the default, float32 rounded
            gamma = SELU_GAMMA if abs(gamma - SELU_GAMMA) < 1e-7 else gamma
            self.op("Mul", self.elu(x, alpha), self.const(gamma), out=out)
        elif kind == "HardSigmoid":
            self.op("Identity", self.hard_sigmoid(x, self.attr("alpha", 0.2), self.attr("beta", 0.5)), out=out)
        elif kind == "HardSwish":
            self.op("Mul", x, self.hard_sigmoid(x, 1.0 / 6.0, 0.5), out=out)
        elif kind in ("LeakyRelu", "PRelu"):
            slope = self.node.input[1] if kind == "PRelu" else self.const(self.attr("alpha", 0.01))
            negative = self.op("Less", x, self.const(0.0))
            self.op("Where", negative, self.op("Mul", x, slope), x, out=out)
        elif kind == "ThresholdedRelu":
            above = self.op("Greater", x, self.const(self.attr("alpha", 1.0)))
            self.op("Where", above, x, self.const(0.0), out=out)
        elif kind == "Celu":
            scale = self.const(self.attr("alpha", 1.0))
            curve = self.op("Mul", self.expm1(self.op("Div", x, scale)), scale)
            zero = self.const(0.0)
            self.op("Add", self.op("Max", x, zero), self.op("Min", curve, zero), out=out)
        elif kind in ("Sinh", "Cosh", "Asinh", "Acosh", "Atanh", "Atan"):
            self.op("Identity", getattr(self, kind.lower())(x), out=out)
        elif kind == "Tan":
            self.op("Identity", self.tan(x), out=out)
        elif kind == "Asin":
            one = self.const(1.0)
            root = self.op("Sqrt", self.op("Mul", self.op("Sub", one, x), self.op("Add", one, x)))
            self.op("Identity", self.atan(self.op("Div", x, root)), out=out)
        elif kind == "Acos":
            one = self.const(1.0)
            ratio = self.op("Div", self.op("Sub", one, x), self.op("Add", one, x))
            self.op("Mul", self.atan(self.op("Sqrt", ratio)), self.const(2.0), out=out)
        elif kind == "Softsign":
            self.op("Div", x, self.op("Add", self.const(1.0), self.op("Abs", x)), out=out)
        elif kind == "Gelu":
            half_x = self.op("Mul", x, self.const(0.5))
            if self.attrs.get("approximate", b"none") in (b"tanh", "tanh"):
                import math

                cube = self.op("Mul", self.op("Mul", x, x), x)
                inner = self.op("Add", x, self.op("Mul", cube, self.const(0.044715)))
                curve = self.op("Tanh", self.op("Mul", inner, self.const(math.sqrt(2.0 / math.pi))))
            else:
                curve = self.op("Erf", self.op("Mul", x, self.const(0.5 ** 0.5)))  # double_erf writes it next
            self.op("Mul", half_x, self.op("Add", self.const(1.0), curve), out=out)
