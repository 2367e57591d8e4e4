"""Where a double graph computes in float32: the narrowings between its float64 inputs and outputs.

A file whose inputs and outputs are float64 says it computes in double; a node inside may still narrow a double
value to float32 and compute on it there (a ``Cast(to=FLOAT)`` before a Softmax, then a Cast back). Its answer
then carries float32's rounding (about 6e-8 on a LogisticRegression's probabilities), below float64's default
tolerances (atol 1e-7, rtol 1e-6), so parity alone passes it.

The rule, on the main graph and every If/Loop/Scan body in it (a body reads the values of the graphs around it by
name; a Cast to float32 inside an If branch rounds the rows as one in the main graph does):

* a *narrowing* is a node, of the main graph or of a body, with an input typed double and an output typed
  float32, float16 or bfloat16 (by the file's types and ONNX's shape inference): a ``Cast`` or ``CastLike`` to a
  narrower float, or an operator that computes in float whatever it reads (ai.onnx.ml's tree ensembles, SVMs and
  linear models, whose scores the spec types float only);
* it counts when its double input is computed from a float64 graph input (a double constant narrowed is no
  rounding of the rows) and one of its outputs leads to a float64 graph output. A float32 output (a ZipMap's
  probabilities) or an integer one (a label) says its own type. Values flow into a body through the names it reads
  of the graphs around it and through its inputs (a Loop's or Scan's, from the node's inputs they stand for, and a
  Loop's from the body's outputs of the iteration before), and out of it through its outputs, to the node's outputs
  they stand for.

:func:`onnxgate.convert` records the narrowings of the file it writes (:data:`FLOAT32_NODES_KEY`, a JSON list of
node ids, written when the file has a float64 input and output, an empty list included): a tree ensemble
compares ``float32(x)`` as scikit-learn's trees do. A narrowing a file holds that its record does not list was
put there after conversion (:func:`undeclared_narrowings`).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

__all__ = ["FLOAT32_NODES_KEY", "Narrowing", "declare_float32_nodes", "narrowings", "record_float32_nodes",
           "undeclared_narrowings"]

#: ``metadata_props`` key: the ids (:func:`node_id`) of the narrowings the converter wrote, as a JSON list.
FLOAT32_NODES_KEY = "onnxgate.float32_nodes"

_DOUBLE = 11  # TensorProto.DOUBLE
_NARROW = {1: "float32", 10: "float16", 16: "bfloat16"}  # TensorProto.FLOAT, FLOAT16, BFLOAT16
_CASTS = ("Cast", "CastLike")


@dataclass(frozen=True)
class Narrowing:
    """One narrowing: the node (its id and label), the double value it narrows, the type it narrows to, and the
    nodes that compute on the narrowed value (the node itself for an operator that computes in float)."""

    node: str
    label: str
    source: str
    to: str
    computes: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"node": self.label, "narrows": self.source, "to": self.to, "computes": list(self.computes)}


def node_id(node: Any) -> str:
    """A node's id in the record: its name, or where it has none its first output's name."""
    return str(node.name) if node.name else f"->{node.output[0] if node.output else ''}"


def _label(node: Any) -> str:
    return str(node.name) if node.name else f"{node.op_type} -> {node.output[0] if node.output else ''}"


def _double_in_and_out(graph: Any) -> bool:
    def double(values: Iterable[Any]) -> bool:
        return any(v.type.tensor_type.elem_type == _DOUBLE for v in values)

    return double(graph.input) and double(graph.output)


def _nodes(graph: Any) -> Iterator[Any]:
    """The nodes of ``graph`` and of every body in it."""
    from onnxgate._onnx import all_graphs

    for sub in all_graphs(graph):
        yield from sub.node


def _candidates(graph: Any) -> list[Any]:
    """Nodes that may narrow, in ``graph`` and its bodies: a Cast to a narrower float, a CastLike, an operator of
    another domain."""
    found = []
    for node in _nodes(graph):
        if node.op_type == "Cast" and node.domain in ("", "ai.onnx"):
            if any(a.name == "to" and a.i in _NARROW for a in node.attribute):
                found.append(node)
        elif node.op_type == "CastLike" or node.domain not in ("", "ai.onnx"):
            found.append(node)
    return found


def narrowings(proto: Any) -> list[Narrowing]:
    """The narrowings of ``proto``'s main graph and its bodies between its float64 inputs and outputs (the module's
    rule); empty when it has no float64 input or output. Types are read from the file, then from ONNX's shape
    inference, which runs only when the graph holds a Cast to a narrower float or an operator outside the default
    domain."""
    graph = proto.graph
    if not _double_in_and_out(graph):
        return []
    candidates = _candidates(graph)
    if not candidates:
        return []
    from onnxgate._onnx import value_types

    types = value_types(proto, subgraphs=True)
    inits = {i.name for i in graph.initializer}
    rows = {i.name for i in graph.input if i.type.tensor_type.elem_type == _DOUBLE and i.name not in inits}
    readers: dict[str, list[Any]] = {}
    for node in _nodes(graph):
        for name in node.input:
            readers.setdefault(name, []).append(node)
    after = _flow(graph)
    before: dict[str, set[str]] = {}
    for source, targets in after.items():
        for target in targets:
            before.setdefault(target, set()).add(source)
    # walked, not read in node order: a file edited by hand need not list its nodes in topological order
    from_rows = _reached(rows, lambda name: after.get(name, ()))
    answers = {o.name for o in graph.output if o.type.tensor_type.elem_type == _DOUBLE}
    to_answer = _reached(answers, lambda name: before.get(name, ()))
    found = []
    for node in candidates:
        doubles = [i for i in node.input if i and types.get(i) == _DOUBLE and i in from_rows]
        narrow = [o for o in node.output if o and types.get(o) in _NARROW and o in to_answer]
        if not doubles or not narrow:
            continue
        if node.op_type in _CASTS and node.domain in ("", "ai.onnx"):
            computes = _computing_readers(narrow, readers, types)
        else:
            computes = [_label(node)]
        found.append(Narrowing(node_id(node), _label(node), doubles[0], _NARROW[types[narrow[0]]], tuple(computes)))
    return found


def _flow(graph: Any) -> dict[str, set[str]]:
    """Each value of ``graph`` and its bodies with the values computed from it: a node's outputs from each of its
    inputs (a body reads an outer value by name, as any node does); an If's, Loop's or Scan's inputs to the body
    inputs they stand for, and the body's outputs to the node's outputs they stand for (both counted from the last:
    a Loop's body has a condition output its node does not, a Scan-8 node a sequence_lens input its body does not);
    a Loop's carried values from the body's outputs to its inputs of the next iteration."""
    from onnxgate._onnx import node_subgraphs

    flow: dict[str, set[str]] = {}

    def link(sources: Iterable[str], targets: Iterable[str]) -> None:
        kept = [t for t in targets if t]
        for source in sources:
            if source:
                flow.setdefault(source, set()).update(kept)

    for node in _nodes(graph):
        link(node.input, node.output)
        for _, body in node_subgraphs(node):
            for outer, inner in zip(reversed(node.input), reversed(body.input)):
                link([outer], [inner.name])
            for inner, outer in zip(reversed(body.output), reversed(node.output)):
                link([inner.name], [outer])
            if node.op_type == "Loop":
                carried = len(node.input) - 2
                for inner, again in zip(body.output[1:1 + carried], body.input[2:2 + carried]):
                    link([inner.name], [again.name])
    return flow


def _reached(start: Iterable[str], step: Any) -> set[str]:
    seen = set(start)
    todo = list(seen)
    while todo:
        for name in step(todo.pop()):
            if name not in seen:
                seen.add(name)
                todo.append(name)
    return seen


def _computing_readers(start: list[str], readers: dict[str, list[Any]], types: dict[str, int]) -> list[str]:
    """The nodes that compute on the narrowed values: their readers, through Casts that keep a narrow type and
    nodes that only move values (Identity, Reshape...), stopping at a Cast back to double."""
    moves = {"Identity", "Reshape", "Squeeze", "Unsqueeze", "Flatten", "Transpose", "Slice", "Gather", "Concat",
             "Split", "Expand"}
    seen: set[str] = set()
    out: list[str] = []
    todo = list(start)
    while todo:
        name = todo.pop(0)
        for node in readers.get(name, ()):
            key = node_id(node)
            if key in seen:
                continue
            seen.add(key)
            if node.op_type in ("Cast", "CastLike") or node.op_type in moves:
                todo.extend(o for o in node.output if o and types.get(o) in _NARROW)
                continue
            out.append(_label(node))
    return out[:3]


def declared(proto: Any) -> set[str] | None:
    """The narrowings ``proto``'s conversion recorded (:data:`FLOAT32_NODES_KEY`), or None: no record."""
    for prop in proto.metadata_props:
        if prop.key == FLOAT32_NODES_KEY:
            try:
                value = json.loads(prop.value)
            except ValueError:
                return None
            return {str(v) for v in value} if isinstance(value, list) else None
    return None


def record_float32_nodes(proto: Any) -> None:
    """Record in ``proto`` the narrowings it holds (:data:`FLOAT32_NODES_KEY`), when it has a float64 input and
    output; the record of a file that has none is removed."""
    for prop in list(proto.metadata_props):
        if prop.key == FLOAT32_NODES_KEY:
            proto.metadata_props.remove(prop)
    if not _double_in_and_out(proto.graph):
        return
    entry = proto.metadata_props.add()
    entry.key = FLOAT32_NODES_KEY
    entry.value = json.dumps(sorted({n.node for n in narrowings(proto)}))


def declare_float32_nodes(proto: Any, nodes: Iterable[Any]) -> None:
    """Add ``nodes`` (narrowings onnxgate writes after conversion, saying so) to ``proto``'s record, when it has one."""
    record = declared(proto)
    if record is None:
        return
    for prop in proto.metadata_props:
        if prop.key == FLOAT32_NODES_KEY:
            prop.value = json.dumps(sorted(record | {node_id(n) for n in nodes}))


def undeclared_narrowings(proto: Any) -> tuple[list[Narrowing], bool]:
    """The narrowings of ``proto`` its conversion's record does not list, and whether it has a record. Without
    one (a file onnxgate did not convert, or converted before it recorded them) every narrowing is listed. The
    shape inference is skipped where the record lists every node that could narrow."""
    record = declared(proto)
    if record is not None and all(node_id(n) in record for n in _candidates(proto.graph)):
        return [], True
    if not _double_in_and_out(proto.graph):
        return [], record is not None
    return [n for n in narrowings(proto) if record is None or n.node not in record], record is not None
