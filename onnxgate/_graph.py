"""Graph surgery shared by converters and adapters: casting inputs, renaming outputs."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import onnx

__all__ = ["cast_inputs", "unique_name", "walk_nodes"]


def walk_nodes(graph: Any) -> Iterator[Any]:
    """Every node of ``graph`` and of its subgraphs (If/Loop/Scan bodies), depth first."""
    for node in graph.node:
        yield node
        for attr in node.attribute:
            subgraphs = ([attr.g] if attr.HasField("g") else []) + list(attr.graphs)
            for sub in subgraphs:
                yield from walk_nodes(sub)


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
        for node in graph.node:
            for i, name in enumerate(node.input):
                if name == vi.name:
                    node.input[i] = inner
        casts.append(helper.make_node("Cast", [vi.name], [inner], to=old, name=unique_name(f"cast_{vi.name}", taken)))
        vi.type.tensor_type.elem_type = new
    for node in reversed(casts):
        graph.node.insert(0, node)
    return model
