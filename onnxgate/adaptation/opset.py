"""A finished file within a target's opset caps: lowered when every node means the same there, never
down-converted (converting the native model again at the cap is the API's: :func:`onnxgate.api.at_target_cap`).

A node is read at the version of its operator that its domain's opset selects, so stamping a lower opset
on the file changes the version each node is read at. That is only honest when every step of each node's
operator history between the two versions left its meaning alone. A step does, here, when:

* its inputs and outputs are the same (count, optional or variadic, type parameter), its attributes keep
  their types and defaults, and an attribute it added is not set on the node (``Reshape``'s ``allowzero``,
  ``Shape``'s ``start``/``end``, the trees' ``*_as_tensor``) or set to the default it was added with (then
  dropped from the lowered node: onnxruntime refuses ``Reshape`` 5 with ``allowzero=0``), and
* its definition text is the same, or :data:`SAME_MEANING_STEPS` records the step after a reading of the
  two texts (``Add`` 14 added int8/int16 types; ``Gather`` 13 reworded its examples). ``Mod`` 13 and
  ``LabelEncoder`` 4 (NaN keys) do not.

A step that changed a node's form rather than what it can compute is taken by writing the node in the older
form, where :data:`REWRITES` finds the two compute the same from facts of the file (:class:`GraphFacts`):
``Softmax``, ``LogSoftmax`` and ``Hardmax`` 13 (the axis default went from 1 to -1, and version 11 flattens
every axis from ``axis`` on) with axis 1 or -1 on an input of rank 2 (ONNX shape inference) are version 11
with ``axis=1``; ``ReduceSum``, ``Squeeze``, ``Unsqueeze``, ``Split`` 13 and the other ``Reduce*`` 18 (axes, or
split, moved from an attribute to an input) take a constant input (an initializer that is no graph input,
or a ``Constant`` node's output) as the attribute. Another rank or axis, axes computed in the graph, and
``noop_with_empty_axes=1`` without axes (the older version reduces every axis) block lowering.

Most steps since opset 12 only widen the types an operator takes, and the model may use one the lower
version lacks (``Relu`` on int32 since 14): the lowered file's types, rewritten nodes included, are checked
against the lower schemas (strict ONNX type inference). Last, onnxruntime runs the file as it was and as
lowered on the rows given (the conversion sample, ``package --data``) or, without rows, on 64 seeded
generated rows, and the outputs must agree (:data:`PARITY_RTOL`, :data:`PARITY_ATOL`: the same kernels run
both).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from onnxgate._onnx import all_graphs, canonical_domain, model_opsets
from onnxgate.errors import OpsetError

if TYPE_CHECKING:
    import onnx

    from onnxgate.targets import Target

__all__ = [
    "GENERATED_ROWS",
    "PARITY_ATOL",
    "PARITY_RTOL",
    "REWRITES",
    "SAME_MEANING_STEPS",
    "GraphFacts",
    "NodeLowering",
    "NodeRewrite",
    "fix_opset",
    "lowering_problem",
]

_TYPES_14 = "types added (uint8, int8, uint16, int16); the text says only that"
_REDUCE_13 = "reworded; states what an empty reduction gives, which the older text left undefined"
#: Steps of an operator's history (domain, operator, the version the step introduced) whose definition
#: text changed with no change of meaning, read side by side in onnx 1.23's schemas. A step whose text
#: changed and is not here blocks lowering.
SAME_MEANING_STEPS: Mapping[tuple[str, str, int], str] = {
    ("", "Add", 14): _TYPES_14,
    ("", "Sub", 14): _TYPES_14,
    ("", "Mul", 14): _TYPES_14,
    ("", "Div", 14): _TYPES_14,
    ("", "Abs", 13): "reworded one sentence",
    ("", "ArgMax", 13): "grammar of one sentence",
    ("", "ArgMin", 13): "grammar of one sentence",
    ("", "Cast", 13): "spells out the numeric conversion rules (out of range, bool) that Cast 9 left implicit",
    ("", "Ceil", 13): "states that integral, zero, NaN and infinite values are returned as they are",
    ("", "Floor", 13): "states that integral, zero, NaN and infinite values are returned as they are",
    ("", "Gather", 13): "reworded, with a table of examples",
    ("", "GatherElements", 13): "examples re-indented",
    ("", "Gemm", 13): "formula set as a list",
    ("", "Pad", 13): "the constant's default named for the text and bool types it added",
    ("", "Reshape", 14): "describes allowzero, the attribute it added (not set on the node)",
    ("", "Shape", 15): "describes start and end, the attributes it added (not set on the node)",
    ("", "Slice", 13): "the clamping of starts and ends spelled out step by step",
    ("", "ReduceL1", 13): _REDUCE_13,
    ("", "ReduceL2", 13): _REDUCE_13,
    ("", "ReduceLogSum", 13): _REDUCE_13,
    ("", "ReduceLogSumExp", 13): _REDUCE_13,
    ("", "ReduceMax", 13): _REDUCE_13,
    ("", "ReduceMean", 13): _REDUCE_13,
    ("", "ReduceMin", 13): _REDUCE_13,
    ("", "ReduceProd", 13): _REDUCE_13,
    ("", "ReduceSumSquare", 13): _REDUCE_13,
    ("ai.onnx.ml", "TreeEnsembleClassifier", 3): "describes the *_as_tensor attributes it added (not set on the node)",
    ("ai.onnx.ml", "TreeEnsembleRegressor", 3): "describes the *_as_tensor attributes it added (not set on the node)",
}
#: Tolerance of the onnxruntime check of a lowered file against the file as it was (same kernels).
PARITY_RTOL = 1e-6
PARITY_ATOL = 1e-7
#: Rows generated for that check when no rows are given (seed 0).
GENERATED_ROWS = 64


@dataclass(frozen=True)
class GraphFacts:
    """What a file says about the tensors a node reads, for :data:`REWRITES`: the rank ONNX shape inference
    gives each tensor it can, and each tensor that is a constant of the file (an ``onnx.TensorProto``, read
    only when a rewrite asks: :meth:`constant`)."""

    ranks: Mapping[str, int] = field(default_factory=dict)
    constants: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def of(cls, model: onnx.ModelProto) -> GraphFacts:
        """The facts of ``model`` (its graph and subgraphs); a file shape inference fails on has no ranks."""
        from onnx import shape_inference

        try:
            inferred = shape_inference.infer_shapes(model)
        except Exception:  # no ranks: a Softmax stays blocked, the checks after the rewrites still run
            inferred = model
        ranks: dict[str, int] = {}
        for graph in all_graphs(inferred.graph):
            for info in [*graph.input, *graph.value_info, *graph.output]:
                if info.type.HasField("tensor_type") and info.type.tensor_type.HasField("shape"):
                    ranks[info.name] = len(info.type.tensor_type.shape.dim)
            for init in graph.initializer:
                ranks.setdefault(init.name, len(init.dims))
        constants: dict[str, Any] = {}
        for graph in all_graphs(model.graph):
            fed = {i.name for i in graph.input}  # an initializer listed as an input is a default the caller may replace
            constants.update((init.name, init) for init in graph.initializer if init.name not in fed)
            for node in graph.node:
                value = _constant_value(node)
                if value is not None:
                    constants[node.output[0]] = value
        return cls(ranks=ranks, constants=constants)

    def constant(self, name: str) -> Any:
        """The value of the tensor ``name`` as a numpy array when it is a constant of the file, else None."""
        from onnx import numpy_helper

        tensor = self.constants.get(name)
        try:
            return None if tensor is None else numpy_helper.to_array(tensor)
        except Exception:  # stored outside the file (external data): not read here, so no rewrite rests on it
            return None


def _constant_value(node: Any) -> Any:
    """The tensor a ``Constant`` node gives when it is numeric (``value``, ``value_int(s)``), else None."""
    import numpy as np
    from onnx import helper, numpy_helper

    if node.op_type != "Constant" or canonical_domain(node.domain) != "" or len(node.attribute) != 1:
        return None
    attr = node.attribute[0]
    if attr.name == "value":
        return attr.t
    if attr.name in ("value_int", "value_ints"):
        return numpy_helper.from_array(np.asarray(helper.get_attribute_value(attr), dtype=np.int64))
    return None


@dataclass(frozen=True)
class NodeRewrite:
    """A node written in the form of the version before a step of its operator's history, computing the same.

    ``rewrite(node, facts)`` gives the node in the older form, or why it cannot (``"its input has rank 3"``):
    ``when`` says the condition and ``why`` why the two forms compute the same under it.
    """

    when: str
    why: str
    rewrite: Callable[[Any, GraphFacts], Any]


def _softmax_on_rows(node: Any, facts: GraphFacts) -> Any:
    from onnx import helper

    axis = next((helper.get_attribute_value(a) for a in node.attribute if a.name == "axis"), -1)
    rank = facts.ranks.get(node.input[0])
    if rank is None:
        return "the rank of its input is not known (ONNX shape inference)"
    if rank != 2:
        return f"its input has rank {rank}"
    if axis not in (1, -1):
        return f"its axis is {axis}"
    out = _copy(node)
    del out.attribute[:]
    out.attribute.extend([a for a in node.attribute if a.name != "axis"] + [helper.make_attribute("axis", 1)])
    return out


def _constant_input_as_attribute(name: str, *, reduce: bool) -> Callable[[Any, GraphFacts], Any]:
    """The node with its input 1 (``axes``, ``split``), a constant, written as the attribute ``name``."""

    def rewrite(node: Any, facts: GraphFacts) -> Any:
        import numpy as np
        from onnx import helper

        given = len(node.input) > 1 and bool(node.input[1])
        value = facts.constant(node.input[1]) if given else None
        if given and value is None:
            return f"its {name} input {node.input[1]!r} is no constant of the file (computed, or fed at run time)"
        if value is not None and (value.dtype.kind not in "iu" or value.ndim > 1):
            return f"its {name} input is a {value.dtype} tensor of rank {value.ndim}"
        values = [] if value is None else [int(v) for v in np.ravel(value)]
        noop = next((helper.get_attribute_value(a) for a in node.attribute if a.name == "noop_with_empty_axes"), 0)
        if reduce and noop and not values:
            return "noop_with_empty_axes=1 with no axes (the older version reduces every axis)"
        if not reduce and value is not None and not values:
            return f"its {name} input is empty"
        out = _copy(node)
        del out.input[1:]
        del out.attribute[:]
        out.attribute.extend([a for a in node.attribute if a.name != "noop_with_empty_axes"])
        if values:
            out.attribute.append(helper.make_attribute(name, values))
        return out

    return rewrite


def _copy(node: Any) -> Any:
    out = type(node)()
    out.CopyFrom(node)
    return out


_ROWS = NodeRewrite(
    when="a rank-2 input with axis 1 or -1",
    why="written with axis=1, which on a rank-2 input is the axis version 11 normalises along",
    rewrite=_softmax_on_rows)
_AXES = NodeRewrite(
    when="axes that are a constant, not noop_with_empty_axes=1 without axes",
    why="its constant axes written as the attribute (no axes: every axis, as before)",
    rewrite=_constant_input_as_attribute("axes", reduce=True))
#: Steps of an operator's history (domain, operator, the version the step introduced) that changed the
#: node's form, each with the rewrite that writes a node in the older form computing the same where its
#: condition holds. The two definition texts were read side by side in onnx 1.23's schemas: besides the form
#: they differ only in wording, in the bfloat16 type each step added, and in ``ReduceSum`` 13 stating what
#: an empty reduction gives (as the other ``Reduce*`` 13 do). The written node is checked as any other: at
#: the steps below, by strict type inference and by onnxruntime against the file as it was.
REWRITES: Mapping[tuple[str, str, int], NodeRewrite] = {
    ("", "Softmax", 13): _ROWS,
    ("", "LogSoftmax", 13): _ROWS,
    ("", "Hardmax", 13): _ROWS,
    ("", "ReduceSum", 13): _AXES,
    **{("", op, 18): _AXES for op in ("ReduceL1", "ReduceL2", "ReduceLogSum", "ReduceLogSumExp", "ReduceMax",
                                      "ReduceMean", "ReduceMin", "ReduceProd", "ReduceSumSquare")},
    ("", "Squeeze", 13): NodeRewrite(
        when="axes that are a constant", why="its constant axes written as the attribute (none: every 1-sized axis)",
        rewrite=_constant_input_as_attribute("axes", reduce=False)),
    ("", "Unsqueeze", 13): NodeRewrite(
        when="axes that are a constant", why="its constant axes written as the attribute",
        rewrite=_constant_input_as_attribute("axes", reduce=False)),
    ("", "Split", 13): NodeRewrite(
        when="a split that is a constant", why="its constant split written as the attribute (none: equal parts)",
        rewrite=_constant_input_as_attribute("split", reduce=False)),
}


def fix_opset(model: onnx.ModelProto, target: Target, rows: Any = None) -> list[str]:
    """Lower a finished model to the target's caps in place when every node means the same there.

    Parameters
    ----------
    model : onnx.ModelProto
        Changed in place (opset and IR version) when lowered.
    target : Target
    rows : array-like or DataFrame, optional
        Rows of the model's inputs for the onnxruntime check of the lowered file (default: generated).

    Returns
    -------
    list of str
        Notes saying what was lowered and how it was checked.

    Raises
    ------
    OpsetError
        A node's operator changed meaning (or does not exist) below the model's opset, a type the model
        uses is not in the lower version, or the lowered file answers otherwise in onnxruntime. The
        message names them, the target's cap and the conversion that gives a file for the target.

    Examples
    --------
    >>> notes = fix_opset(model, resolve_target("synapse"), rows=X[:20])  # doctest: +SKIP
    >>> notes[0]  # doctest: +SKIP
    'opset ai.onnx lowered 17 -> 12: Concat 13 -> 11, Sub 14 -> 7 mean the same there (onnx schema history)'
    """
    from onnxgate._graph import walk_nodes

    caps = target.max_opset
    if caps is None:
        return []
    opsets = model_opsets(model)
    lower = {d: caps[d] for d, have in opsets.items() if d in caps and have > caps[d]}
    if not lower:
        return _fix_ir(model, target)
    facts = GraphFacts.of(model)
    lowered = _restamped(model, lower)  # its nodes are rewritten where a step needs it; the model given is left alone
    blockers: dict[str, list[str]] = {}
    steps: dict[str, list[str]] = {d: [] for d in lower}
    rewritten: dict[str, dict[str, list[str]]] = {d: {} for d in lower}
    for node in walk_nodes(lowered.graph):
        domain = canonical_domain(node.domain)
        if domain not in lower:
            continue
        found = lowering_problem(node, domain, opsets[domain], lower[domain], facts)
        if found.problem is not None:
            blockers.setdefault(found.problem, []).append(node.name or node.op_type)
        elif found.step is not None and found.rewrites:
            how = f"{found.step}: {'; '.join(found.rewrites)}"
            rewritten[domain].setdefault(how, []).append(node.name or node.op_type)
        elif found.step is not None and found.step not in steps[domain]:
            steps[domain].append(found.step)
        if found.node is not None and found.node is not node:
            node.CopyFrom(found.node)
    if model.functions:
        blockers.setdefault("local functions (their nodes are not checked here)", []).extend(
            f.name for f in model.functions)
    if blockers:
        raise _refusal(target, opsets, lower, [f"{p} (node {_names(n)})" for p, n in blockers.items()])
    if any(steps.values()) or any(rewritten.values()):  # a node is read at another version: check types, run both
        trouble = _types_problem(lowered) or _parity_problem(model, lowered, rows)
        if trouble is not None:
            raise _refusal(target, opsets, lower, [trouble])
    notes = []
    for domain, cap in lower.items():
        name = domain or "ai.onnx"
        if not steps[domain] and not rewritten[domain]:
            notes.append(f"opset {name} re-stamped {opsets[domain]} -> {cap} (every node has the same definition "
                         "there)")
            continue
        read = (f"{', '.join(steps[domain])} mean the same there (onnx schema history)" if steps[domain] else
                "nodes rewritten (below)")
        notes.append(f"opset {name} lowered {opsets[domain]} -> {cap}: {read}; onnxruntime gives the same outputs "
                     "for both files")
        notes.extend(f"node {_names(nodes)} rewritten for opset {name} {cap}, {how}"
                     for how, nodes in rewritten[domain].items())
    model.CopyFrom(lowered)
    return notes + _fix_ir(model, target)


def _fix_ir(model: onnx.ModelProto, target: Target) -> list[str]:
    """The IR version of the model's opset, within the target's IR cap; below IR 8, with the model's own
    functions inlined (:func:`_inline_functions`)."""
    from onnxgate._onnx import ir_version_for_opset

    wanted = ir_version_for_opset(max(model_opsets(model).get("", 1), 1))
    if target.max_ir_version is not None:
        wanted = min(wanted, target.max_ir_version)
    if model.ir_version > wanted:
        notes = _inline_functions(model, target, wanted)
        notes.append(f"IR version {model.ir_version} -> {wanted}")
        model.ir_version = wanted
        return notes
    return []


def _inline_functions(model: onnx.ModelProto, target: Target, ir_version: int) -> list[str]:
    """Inline the model's own functions (``ModelProto.functions``) in place when it is stamped below
    :data:`~onnxgate._onnx.FUNCTIONS_IR_VERSION`, where a file holds none: stamped IR 7 with its functions kept,
    the file was invalid, and SQL Edge 1.0's onnxruntime 1.5.3 would find no operator for the nodes calling them.

    A function's nodes are read at the opsets it imports; inlined, at the model's. So a function importing
    another version of a domain than the model stamps is refused, not inlined (onnx's inliner would convert
    its nodes with the version converter, which does not promise the same answers).
    """
    import onnx.inliner

    from onnxgate._onnx import FUNCTIONS_IR_VERSION

    if not model.functions or ir_version >= FUNCTIONS_IR_VERSION:
        return []
    local = {canonical_domain(f.domain) for f in model.functions}
    stamped = model_opsets(model)
    added: dict[str, int] = {}
    clashes: list[str] = []
    for function in model.functions:
        for entry in function.opset_import:
            domain, version = canonical_domain(entry.domain), int(entry.version)
            have = stamped.get(domain, added.get(domain))
            if domain in local or have == version:
                continue
            if have is None:
                added[domain] = version
            else:
                clashes.append(f"{function.domain}.{function.name} imports {domain or 'ai.onnx'} {version}, the "
                               f"model {have}")
    names = sorted({f"{f.domain}.{f.name}" for f in model.functions})
    if clashes:
        raise OpsetError(
            f"target {target.name!r} reads IR version {ir_version} at most, which holds no model-local functions, "
            f"and the model's functions ({', '.join(names)}) cannot be inlined into its graph as they are: "
            f"{'; '.join(clashes)} (inlined, their nodes would be read at the model's opset). Export the model "
            "without functions (torch.onnx.export(..., export_modules_as_functions=False)) at the target's opset",
            opset=stamped.get(""),
        )
    inlined = onnx.inliner.inline_local_functions(model)
    kept = [e for e in inlined.opset_import if canonical_domain(e.domain) not in local]
    del inlined.opset_import[:]
    inlined.opset_import.extend(kept)
    inlined.opset_import.extend(onnx.helper.make_opsetid(d, v) for d, v in added.items())
    model.CopyFrom(inlined)
    return [f"model-local function(s) {', '.join(names)} inlined into the graph (IR version {ir_version}, which "
            f"target {target.name!r} reads, holds no functions)"]


@dataclass(frozen=True)
class NodeLowering:
    """What :func:`lowering_problem` found for a node: why it cannot be lowered, or the node to write."""

    #: Why the node means something else at the lower opset (None: it means the same).
    problem: str | None
    #: The step its version takes (``"Concat 13 -> 11"``); None when it is read at the same version.
    step: str | None = None
    #: The node to write at the lower opset: the node given, a rewritten copy, or None with a problem.
    node: Any = None
    #: How the copy was rewritten (:attr:`NodeRewrite.why`, attributes dropped); empty for the node given.
    rewrites: tuple[str, ...] = ()


def lowering_problem(node: Any, domain: str, have: int, cap: int, facts: GraphFacts | None = None) -> NodeLowering:
    """Why ``node``, read at opset ``have`` of ``domain``, means something else at opset ``cap``, or how it is
    written there.

    Parameters
    ----------
    node : onnx.NodeProto
        Not changed.
    domain : str
    have, cap : int
        The opset of ``domain`` the node is read at, and the lower one.
    facts : GraphFacts, optional
        What the file says about the node's inputs, for :data:`REWRITES` (default: nothing, so a node whose
        step needs a rewrite is not lowered).

    Returns
    -------
    NodeLowering
        The problem, or the step and the node to write at ``cap``: the node given, or a copy rewritten by
        :data:`REWRITES` and without the attributes (set to their defaults) that its version there lacks.

    Examples
    --------
    >>> lowering_problem(softmax, "", 17, 12, GraphFacts.of(model)).rewrites  # doctest: +SKIP
    ('written with axis=1, which on a rank-2 input is the axis version 11 normalises along',)
    """
    from onnx import defs

    try:
        now = defs.get_schema(node.op_type, have, domain)
    except Exception:
        return NodeLowering(f"{node.op_type} (no ONNX definition known at opset {have})")
    try:
        then = defs.get_schema(node.op_type, cap, domain)
    except Exception:
        return NodeLowering(f"{node.op_type} {now.since_version} (does not exist at opset {cap})")
    if then.since_version == now.since_version:
        return NodeLowering(None, None, node)
    newer, written, rewrites = now, node, []
    while newer.since_version > then.since_version:
        older = defs.get_schema(node.op_type, newer.since_version - 1, domain)
        why = _step_problem(newer, older, written, domain)
        rewrite = REWRITES.get((domain, node.op_type, newer.since_version))
        if why is not None and rewrite is not None:
            attempt = rewrite.rewrite(written, facts or GraphFacts())
            if isinstance(attempt, str):
                why += f"; written as {node.op_type} {older.since_version} only for {rewrite.when}, and {attempt}"
            else:
                written, why = attempt, None
                rewrites.append(rewrite.why)
        if why is not None:
            return NodeLowering(f"{node.op_type} {now.since_version} (opset {cap} has {node.op_type} "
                                f"{then.since_version}; {why})")
        newer = older
    added = [a.name for a in written.attribute if a.name in now.attributes and a.name not in then.attributes]
    if added:  # each set to the default it was added with (_step_problem): version `then` does not know them
        kept = [a for a in written.attribute if a.name not in added]
        written = _copy(written)
        del written.attribute[:]
        written.attribute.extend(kept)
        rewrites.extend(f"attribute {a!r} (set to its default) dropped" for a in added)
    return NodeLowering(None, f"{node.op_type} {now.since_version} -> {then.since_version}", written, tuple(rewrites))


def _step_problem(newer: Any, older: Any, node: Any, domain: str) -> str | None:
    from onnx import helper

    step = newer.since_version
    for what, new_formals, old_formals in (("inputs", newer.inputs, older.inputs),
                                           ("outputs", newer.outputs, older.outputs)):
        if [f.option for f in new_formals] != [f.option for f in old_formals]:
            return f"its {what} changed at version {step}"
        new_types, old_types = _allowed(newer), _allowed(older)
        for new, old in zip(new_formals, old_formals):  # a type parameter renamed (Identity 14: T -> V) is no change
            if not old_types.get(old.type_str, {old.type_str}) <= new_types.get(new.type_str, {new.type_str}):
                return f"the types of its {what} changed at version {step}"
    for name, attr in older.attributes.items():
        new = newer.attributes.get(name)
        if new is None or new.type != attr.type:
            return f"attribute {name!r} changed at version {step}"
        if new.default_value.SerializeToString() != attr.default_value.SerializeToString():
            return f"the default of attribute {name!r} changed at version {step}"
    for attr in node.attribute:
        if attr.name in older.attributes or attr.name not in newer.attributes:
            continue  # kept, or added by a later step (checked there)
        added = newer.attributes[attr.name]
        # set to the default it was added with (skl2onnx writes allowzero=0): the older version's behaviour
        if not added.default_value.name or (
                helper.get_attribute_value(attr) != helper.get_attribute_value(added.default_value)):
            return f"attribute {attr.name!r} is set, which version {older.since_version} does not have"
    if _words(newer.doc) != _words(older.doc) and (domain, newer.name, step) not in SAME_MEANING_STEPS:
        return f"its definition changed at version {step}"
    return None


def _allowed(schema: Any) -> dict[str, set[str]]:
    return {t.type_param_str: set(t.allowed_type_strs) for t in schema.type_constraints}


def _words(text: str) -> str:
    return re.sub(r"\s+", " ", text or "").strip()


def _restamped(model: onnx.ModelProto, lower: Mapping[str, int]) -> onnx.ModelProto:
    import onnx

    out = onnx.ModelProto()
    out.CopyFrom(model)
    for entry in out.opset_import:
        if canonical_domain(entry.domain) in lower:
            entry.version = lower[canonical_domain(entry.domain)]
    return out


def _types_problem(lowered: onnx.ModelProto) -> str | None:
    """A type the model uses that a lowered node's version does not take (``Relu`` on int32 before 14)."""
    from onnx import shape_inference

    try:
        shape_inference.infer_shapes(lowered, check_type=True, strict_mode=True)
    except Exception as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        return f"at the lower opset a node does not take the types it is given ({first})"
    return None


def _parity_problem(model: onnx.ModelProto, lowered: onnx.ModelProto, rows: Any) -> str | None:
    """Run the file as it was and as lowered in onnxruntime; what differs, or None."""
    import numpy as np

    from onnxgate._onnx import serialize
    from onnxgate.runtime import session

    feeds, where = _check_feeds(model, rows)
    if feeds is None:
        return f"the lowered file could not be checked in onnxruntime ({where})"
    try:
        before = session(serialize(model)).run(None, feeds)
    except Exception as err:
        return (f"the lowered file could not be checked in onnxruntime: the file as it was does not run on {where} "
                f"({str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__}); "
                "give rows of its inputs (package --data)")
    try:
        after = session(serialize(lowered)).run(None, feeds)
    except Exception as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        return f"onnxruntime does not run the lowered file ({first})"
    names = [o.name for o in model.graph.output]
    for name, a, b in zip(names, before, after):
        x, y = np.asarray(a), np.asarray(b)
        same = x.shape == y.shape and (
            np.allclose(x, y, rtol=PARITY_RTOL, atol=PARITY_ATOL, equal_nan=True)
            if x.dtype.kind in "fc" and y.dtype.kind in "fc" else bool(np.array_equal(x, y)))
        if not same:
            return f"onnxruntime gives output {name!r} otherwise for the lowered file on {where}"
    return None


def _check_feeds(model: onnx.ModelProto, rows: Any) -> tuple[dict[str, Any] | None, str]:
    """Feeds for the onnxruntime check: the rows given where they fit the model, else generated ones."""
    import numpy as np

    from onnxgate.signature import Signature

    signature = Signature.from_model(model)
    if rows is not None:
        from onnxgate._data import as_feeds, num_rows

        try:
            return dict(as_feeds(rows, signature)), f"the {num_rows(rows)} rows given"
        except Exception:  # rows of the table rather than of this file's inputs: generated rows still check it
            pass
    rng = np.random.default_rng(0)
    feeds: dict[str, Any] = {}
    for spec in signature.inputs:
        if spec.kind != "tensor" or spec.shape is None:
            return None, f"input {spec.name!r} is {spec.type_str}, which no rows are generated for"
        shape = [GENERATED_ROWS if i == 0 and not isinstance(d, int) else d if isinstance(d, int) else 1
                 for i, d in enumerate(spec.shape)]
        if spec.elem_type == "string":
            feeds[spec.name] = rng.choice(np.array(["a", "b", "c"], dtype=object), size=shape)
        elif spec.elem_type == "bool":
            feeds[spec.name] = rng.integers(0, 2, size=shape).astype(bool)
        elif spec.elem_type.startswith(("int", "uint")):
            feeds[spec.name] = rng.integers(0, 4, size=shape).astype(spec.elem_type)
        elif spec.elem_type.startswith("float"):
            feeds[spec.name] = (rng.normal(size=shape) * 3).astype(spec.elem_type)
        else:
            return None, f"input {spec.name!r} is {spec.elem_type}, which no rows are generated for"
    return feeds, f"{GENERATED_ROWS} generated rows (seed 0)"


def _names(nodes: list[str]) -> str:
    shown = ", ".join(repr(n) for n in nodes[:3])
    return shown + (f" and {len(nodes) - 3} more" if len(nodes) > 3 else "")


def _refusal(target: Target, opsets: Mapping[str, int], lower: Mapping[str, int], reasons: list[str]) -> OpsetError:
    found = ", ".join(f"{d or 'ai.onnx'} {opsets[d]}" for d in lower)
    caps = ", ".join(f"{d or 'ai.onnx'} {v}" for d, v in (target.max_opset or {}).items())
    cap = (target.max_opset or {}).get("")
    shown = "; ".join(reasons[:8]) + (f"; and {len(reasons) - 8} more" if len(reasons) > 8 else "")
    again = (f"onnxgate convert MODEL_FILE --sample ROWS --target {target.name} -o model.onnx"
             + (f" (or --opset {cap})" if cap is not None else ""))
    return OpsetError(
        f"target {target.name!r} loads at most opset {caps}; the model is at opset {found}, and it cannot be "
        f"lowered there without changing what it computes: {shown}. Convert the native model again for the "
        f"target: {again}, then package that file (onnxgate lowers a finished file only where every node means "
        "the same at the lower opset)",
        opset=opsets.get(""),
        max_opset=cap,
    )
