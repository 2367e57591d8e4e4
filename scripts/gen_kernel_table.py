"""Regenerate ``onnxgate/_kernels.json``: the CPU kernels an older onnxruntime (the one a SQL target embeds) lacks,
per operator, operator version and element types.

The 1.12.1 wheel does not list its kernels (no ``get_all_opkernel_def``, which the installed 1.32 has), the
microsoft/onnxruntime sources at the release tags were not at hand, and the SQL targets' runtimes run on Python 3.8
at the newest (PyPI has 1.5.2, not 1.5.3: the 1.5 line is probed with 1.5.2). So each runtime is *asked*: for
every ``ai.onnx`` and ``ai.onnx.ml`` operator version up to the runtime's opset caps, and every combination of the
types its constraints allow, a one-node model is built here (with the installed ``onnx``'s schemas) and an
interpreter holding that onnxruntime makes a session of it on the CPU provider, graph optimisations off.
``NOT_IMPLEMENTED : Could not find an implementation`` (or ``Failed to find kernel for``) is the runtime saying
it has no kernel for the node (or for a node of the function body it expands the node into) in those types: the
table keeps exactly those combinations. A session made means a kernel (or a function body the runtime expands into
kernels) exists; any other error (a probe this script could not make valid) decides nothing, and is counted in the
header, never listed as missing, unless the old runtime refuses a *valid* model for its types: the same model loads
in the reference onnxruntime (``--reference``, the installed one by default) and the old one's answer is a type error
(``Type Error``, a type ``bound to different types``, a ``Mismatched attribute type`` of a Cast it inserted: a float16
``SplitToSequence`` or ``Split-2``, an int16 ``Range``). Those combinations are listed as missing too, with the
runtime's reason (``"refused"``): the database refuses the user's file all the same. Other answers (a crash, an index
error, a locale the machine lacks) depend on the probe's form or the machine, not the types: they decide nothing.

``Loop`` is also probed in the forms its optional inputs allow (no ``cond``, no trip count, neither): onnxruntime
1.5.2 crashes (segmentation fault) making a session of a Loop without a ``cond``, which 1.12.1 and the reference
load; a form the old runtime refuses and the reference loads (its Loop with both inputs loading in the old one) is
listed under ``"refused_forms"`` with the reason.

Operators a one-node model cannot probe get a minimal model of their own (``_special_probes``): ``If`` (each branch
making its value of each type from an outer one), ``Loop`` (a body carrying a value of each type), ``Scan`` (a body
passing each slice through), ``SequenceMap``, ``Optional``; a missing answer there counts only when it names the
probed operator (an inner node's decides nothing). ``LSTM``, ``GRU`` and ``RNN`` are also *run*: onnxruntime
registers their kernels for double, and their compute refuses it ("LSTM operator does not support double yet"):
that refusal is listed as missing too, since the database refuses the file at PREDICT time all the same.

Usage (each interpreter has ``onnxruntime==X`` and ``numpy<1.24`` installed, e.g. a Python 3.8 virtualenv)::

    python scripts/gen_kernel_table.py --runtime 1.5=/tmp/ort1.5.2/bin/python \\
        --runtime 1.12=/tmp/ort1.12.1/bin/python [--reference PYTHON]

The key (``1.5``) is the release line a target's ``runtime`` names (``"onnxruntime 1.5.3"``); the interpreter's
onnxruntime version is written in the header. ``--check`` compares instead of writing.
"""

from __future__ import annotations

import argparse
import itertools
import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import onnx
from onnx import defs, helper

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "onnxgate" / "_kernels.json"

#: Opset caps (ai.onnx, ai.onnx.ml) and the IR version stamped, per release line: the SQL targets' caps.
CAPS = {"1.5": (12, 2, 7), "1.12": (17, 3, 8)}
#: A cap on the type combinations one operator version is probed with (its constraints' product).
MAX_COMBOS = 2000
#: Operators whose kernel is registered for a type its compute refuses ("LSTM operator does not support double
#: yet"): their probes also run, on ones; the number of gates their weights stack.
RUN_PROBES = {"LSTM": 4, "GRU": 3, "RNN": 1}
_NUMPY = {"float": "float32", "double": "float64", "float16": "float16"}

#: A probe: the types its constraints are bound to, the model, and the feeds to run it with (None: session only).
Probe = tuple[tuple[str, ...], bytes, "list[tuple[str, list[int], str]] | None"]

WORKER = r"""
import json, sys
import numpy as np
import onnxruntime as ort
index = json.load(open(sys.argv[1]))
start = int(sys.argv[2])
options = ort.SessionOptions()
options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
options.log_severity_level = 4
options.intra_op_num_threads = 1
print(json.dumps({"version": ort.__version__}), flush=True)
for i in range(start, len(index)):
    path, op, feeds = index[i]
    try:
        session = ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])
        verdict = "ok"
    except Exception as err:
        text = str(err)
        missing = "Could not find an implementation" in text or "Failed to find kernel for" in text
        # a probe with a subgraph: its node's own kernel (an inner node lacking one decides nothing); a one-node
        # probe: its node's, or that of a node of the function body the runtime expands it into (GreaterOrEqual)
        verdict = "missing" if missing and (op is None or op in text) else "error:" + text[:600]
    if verdict == "ok" and feeds is not None:
        try:
            session.run(None, {name: np.ones(shape, dtype=dtype) for name, shape, dtype in feeds})
        except Exception as err:
            text = str(err)
            # a kernel registered for the type whose compute refuses it ("LSTM operator does not support double yet")
            verdict = "missing" if "does not support" in text else "error:run:" + text[:600]
    print(json.dumps({"i": i, "v": verdict}), flush=True)
"""


def _type_proto(text: str, shape: list[int] | None = None) -> onnx.TypeProto | None:
    """``tensor(double)``, ``seq(tensor(float))``, ``map(string,tensor(int64))`` as a TypeProto (None: not built);
    a tensor of ``shape`` (None: any rank)."""
    text = text.replace(" ", "")
    if text.startswith("tensor(") and text.endswith(")"):
        elem = _elem(text[7:-1])
        return None if elem is None else helper.make_tensor_type_proto(elem, shape)
    if text.startswith("seq(") and text.endswith(")"):
        inner = _type_proto(text[4:-1])
        return None if inner is None else helper.make_sequence_type_proto(inner)
    if text.startswith("optional(") and text.endswith(")"):
        inner = _type_proto(text[9:-1], shape)
        return None if inner is None else helper.make_optional_type_proto(inner)
    if text.startswith("map(") and text.endswith(")"):
        key, _, value = text[4:-1].partition(",")
        elem, inner = _elem(key), _type_proto(value if "(" in value else f"tensor({value})")
        return None if elem is None or inner is None else helper.make_map_type_proto(elem, inner)
    return None


def _elem(name: str) -> int | None:
    table = {"float": 1, "uint8": 2, "int8": 3, "uint16": 4, "int16": 5, "int32": 6, "int64": 7, "string": 8,
             "bool": 9, "float16": 10, "double": 11, "uint32": 12, "uint64": 13, "complex64": 14, "complex128": 15,
             "bfloat16": 16}
    return table.get(name)


def _attribute(attr: Any, out_elem: int | None) -> Any:
    kind = attr.type
    A = onnx.AttributeProto
    if attr.name in ("to", "dtype") and kind == A.INT:
        return out_elem if out_elem is not None else 1
    if attr.name == "to" and kind == A.STRING:  # Cast-1 names the type
        return onnx.TensorProto.DataType.Name(out_elem or 1)
    if kind == A.INT:
        return 1
    if kind == A.FLOAT:
        return 1.0
    if kind == A.STRING:
        return "a"
    if kind == A.INTS:
        return [1]
    if kind == A.FLOATS:
        return [1.0]
    if kind == A.STRINGS:
        return ["a"]
    if kind == A.TENSOR:
        return helper.make_tensor("v", out_elem or 1, [1], [1] if (out_elem or 1) != 8 else [b"a"])
    raise ValueError(kind)


#: The attribute name suffix ai.onnx.ml operators give each element type (``keys_int64s``, ``cats_strings``).
_ML_SUFFIX = {"tensor(string)": "strings", "tensor(int64)": "int64s", "tensor(float)": "floats"}


def _typing_attributes(schema: Any, binding: dict[str, str]) -> dict[str, Any]:
    """The attributes an ai.onnx.ml operator needs to be typed as ``binding`` asks (its output's type follows them,
    or its shape inference refuses it without them)."""
    values = {"strings": ["a", "b"], "int64s": [0, 1], "floats": [0.0, 1.0]}
    name, t1, t2 = schema.name, binding.get("T1", binding.get("T")), binding.get("T2")
    if name == "MeanVarianceNormalization" and schema.since_version >= 13:
        return {"axes": [0, 2, 3]}  # onnx's function body (version 13) infers nothing without it
    if schema.domain != "ai.onnx.ml":
        return {}
    if name == "LabelEncoder" and schema.since_version >= 2 and t1 in _ML_SUFFIX and t2 in _ML_SUFFIX:
        return {f"keys_{_ML_SUFFIX[t1]}": values[_ML_SUFFIX[t1]], f"values_{_ML_SUFFIX[t2]}": values[_ML_SUFFIX[t2]]}
    if name == "CategoryMapper":
        return {"cats_strings": ["a", "b"], "cats_int64s": [0, 1]}
    if name == "OneHotEncoder":
        return {"cats_strings": ["a"]} if t1 == "tensor(string)" else {"cats_int64s": [0, 1]}
    if name == "Imputer":
        return ({"imputed_value_int64s": [0], "replaced_value_int64": -1} if t1 in ("tensor(int64)", "tensor(int32)")
                else {"imputed_value_floats": [0.0], "replaced_value_float": 0.0})
    if name == "FeatureVectorizer":
        return {"inputdimensions": [1]}
    if name == "ZipMap":
        return {"classlabels_strings": ["a"]} if "string" in (t1 or "") else {"classlabels_int64s": [0]}
    if name in ("TreeEnsembleClassifier", "SVMClassifier", "LinearClassifier"):
        return {"classlabels_strings": ["a", "b"]} if t2 == "tensor(string)" else {"classlabels_ints": [0, 1]} \
            if name != "TreeEnsembleClassifier" else {"classlabels_int64s": [0, 1]}
    return {}


def _probes(schema: Any, opsets: list[tuple[str, int]], ir: int) -> tuple[list[str], list[Probe]]:
    """The constraints a one-node model of ``schema`` binds, and one model per combination of their types (those
    whose inferred types bind every constraint as asked)."""
    special = _special_probes(schema, opsets, ir)
    if special is not None:
        return special
    if any(a.type in (onnx.AttributeProto.GRAPH, onnx.AttributeProto.GRAPHS) for a in schema.attributes.values()):
        return [], []
    option = defs.OpSchema.FormalParameterOption
    inputs = list(schema.inputs)
    last_required = max((i for i, p in enumerate(inputs) if p.option != option.Optional), default=-1)
    inputs = inputs[: last_required + 1]
    outputs = [p for p in schema.outputs if p.option != option.Optional] or list(schema.outputs[:1])
    allowed = {c.type_param_str: list(c.allowed_type_strs) for c in schema.type_constraints}
    used: list[str] = []
    for p in [*inputs, *outputs]:
        if p.option == option.Optional and p in inputs:
            continue
        if p.type_str in allowed and p.type_str not in used:
            used.append(p.type_str)
    on_inputs = {p.type_str for p in inputs if p.option != option.Optional}
    combos = list(itertools.product(*(allowed[c] for c in used)))
    if len(combos) > MAX_COMBOS:
        return used, []
    made: list[Probe] = []
    for combo in combos:
        for shape in (None, [1, 1, 4, 4], [1]):
            blob = _probe(schema, inputs, outputs, used, on_inputs, combo, shape, opsets, ir)
            if blob is not None:
                made.append((tuple(combo), blob, None))
                break
    return used, made


def _special_probes(schema: Any, opsets: list[tuple[str, int]],
                    ir: int) -> tuple[list[str], list[Probe]] | None:
    """Probes a generic one-node model cannot make: control flow (``If``, ``Loop``, ``Scan``, ``SequenceMap``: a
    subgraph passing the value of each type through), ``Optional`` of each type, and the recurrent operators (their
    weights shaped, and run); None for any other operator."""
    name = schema.name
    if schema.domain != "" or name not in ("If", "Loop", "Scan", "SequenceMap", "Optional", *RUN_PROBES):
        return None
    constraint = "S" if name == "SequenceMap" else "T" if name in RUN_PROBES else "V"
    allowed = next(list(c.allowed_type_strs) for c in schema.type_constraints if c.type_param_str == constraint)
    made: list[Probe] = []
    for text in allowed:
        built = _special_probe(schema, text.replace(" ", ""))
        if built is None:
            continue
        graph, feeds = built
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid(d, v) for d, v in opsets],
                                  ir_version=ir)
        try:
            onnx.shape_inference.infer_shapes(model, strict_mode=True)
        except Exception:
            continue
        made.append(((text,), model.SerializeToString(), feeds))
    return [constraint], made


def _special_probe(schema: Any, text: str) -> tuple[onnx.GraphProto, Any] | None:
    """The graph probing ``schema`` with its constraint bound to the type ``text``, and its run's feeds."""
    name, vi = schema.name, helper.make_value_info
    proto = _type_proto(text)
    if proto is None:
        return None
    bool_scalar = helper.make_tensor_type_proto(onnx.TensorProto.BOOL, [])
    int_scalar = helper.make_tensor_type_proto(onnx.TensorProto.INT64, [])
    if name == "If":  # each branch makes the value from an outer one (onnxruntime refuses an outer value returned)
        kind = proto.WhichOneof("value")
        make = {"tensor_type": "Identity", "sequence_type": "SequenceConstruct", "optional_type": "Optional"}[kind]
        inner = {"tensor_type": proto, "sequence_type": proto.sequence_type.elem_type,
                 "optional_type": proto.optional_type.elem_type}[kind]
        then, other = (helper.make_graph([helper.make_node(make, ["x"], [out])], out, [], [vi(out, proto)])
                       for out in ("then_out", "else_out"))
        node = helper.make_node("If", ["c"], ["y"], then_branch=then, else_branch=other)
        return helper.make_graph([node], "probe", [vi("c", bool_scalar), vi("x", inner)], [vi("y", proto)]), None
    if name == "Loop":  # the body carries the value through
        body = helper.make_graph([helper.make_node("Identity", ["c_in"], ["c_out"])], "body",
                                 [vi("i", int_scalar), vi("c_in", bool_scalar), vi("v_in", proto)],
                                 [vi("c_out", bool_scalar), vi("v_in", proto)])
        node = helper.make_node("Loop", ["m", "c", "x"], ["y"], body=body)
        inputs = [vi("m", int_scalar), vi("c", bool_scalar), vi("x", proto)]
        return helper.make_graph([node], "probe", inputs, [vi("y", proto)]), None
    if name == "Scan":  # one scan input, each slice a scan output
        if not proto.HasField("tensor_type"):
            return None
        elem = proto.tensor_type.elem_type
        batch = [1] if schema.since_version == 8 else []
        body = helper.make_graph([helper.make_node("Identity", ["e"], ["e_out"])], "body",
                                 [helper.make_tensor_value_info("e", elem, [1])],
                                 [helper.make_tensor_value_info("e_out", elem, [1])])
        node = helper.make_node("Scan", ([""] if batch else []) + ["x"], ["y"], body=body, num_scan_inputs=1)
        x = helper.make_tensor_value_info("x", elem, [*batch, 2, 1])
        return helper.make_graph([node], "probe", [x], [helper.make_tensor_value_info("y", elem, None)]), None
    if name == "SequenceMap":  # each element through
        inner = proto.sequence_type.elem_type
        body = helper.make_graph([helper.make_node("Identity", ["e"], ["e_out"])], "body", [vi("e", inner)],
                                 [vi("e_out", inner)])
        node = helper.make_node("SequenceMap", ["x"], ["y"], body=body)
        return helper.make_graph([node], "probe", [vi("x", proto)], [vi("y", proto)]), None
    if name == "Optional":
        node = helper.make_node("Optional", ["x"], ["y"])
        return helper.make_graph([node], "probe", [vi("x", proto)],
                                 [vi("y", helper.make_optional_type_proto(proto))]), None
    if text[7:-1] not in _NUMPY:  # a recurrent operator, run on ones
        return None
    elem, gates = proto.tensor_type.elem_type, RUN_PROBES[name]
    shapes = {"X": [1, 1, 1], "W": [1, gates, 1], "R": [1, gates, 1]}
    node = helper.make_node(name, list(shapes), ["Y"], hidden_size=1)
    graph = helper.make_graph([node], "probe", [helper.make_tensor_value_info(k, elem, v) for k, v in shapes.items()],
                              [helper.make_tensor_value_info("Y", elem, None)])
    return graph, [(k, v, _NUMPY[text[7:-1]]) for k, v in shapes.items()]


def _probe(schema: Any, inputs: list[Any], outputs: list[Any], used: list[str], on_inputs: set[str],
           combo: tuple[str, ...], shape: list[int] | None, opsets: list[tuple[str, int]], ir: int) -> bytes | None:
    """One model of ``schema``'s node with its constraints bound to ``combo`` and its tensor inputs of ``shape``,
    or None when ONNX's strict shape inference refuses it or types an output otherwise."""
    option = defs.OpSchema.FormalParameterOption
    binding = dict(zip(used, combo))
    out_only = [c for c in used if c not in on_inputs]
    out_elem = None
    if out_only:
        proto = _type_proto(binding[out_only[0]])
        if proto is None:
            return None
        if proto.HasField("sequence_type") and proto.sequence_type.elem_type.HasField("tensor_type"):
            proto = proto.sequence_type.elem_type  # SequenceEmpty's dtype
        out_elem = proto.tensor_type.elem_type if proto.HasField("tensor_type") else None
    graph_inputs, names = [], []
    for k, p in enumerate(inputs):
        if p.option == option.Optional:
            names.append("")
            continue
        proto = _type_proto(binding.get(p.type_str, p.type_str), shape)
        if proto is None:
            return None
        names.append(f"x{k}")
        graph_inputs.append(helper.make_value_info(f"x{k}", proto))
    try:
        attrs = {a.name: _attribute(a, out_elem) for a in schema.attributes.values()
                 if a.required or (a.name in ("to", "dtype") and out_elem is not None)}
    except ValueError:
        return None
    if schema.name in ("Constant", "ConstantOfShape") and out_elem is not None:
        attrs["value"] = _attribute(schema.attributes["value"], out_elem)
    attrs.update(_typing_attributes(schema, binding))
    out_names = [f"y{k}" for k in range(len(outputs))]
    node = helper.make_node(schema.name, names, out_names, domain=schema.domain, **attrs)
    graph = helper.make_graph([node], "probe", graph_inputs, [])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid(d, v) for d, v in opsets], ir_version=ir)
    try:
        inferred = onnx.shape_inference.infer_shapes(model, strict_mode=True)
    except Exception:
        return None
    types = {v.name: v.type for v in inferred.graph.value_info}
    graph_outputs = []
    for name, p in zip(out_names, outputs):
        want = binding.get(p.type_str, p.type_str)
        got = types.get(name)
        if got is None and (p.type_str not in binding or p.type_str in on_inputs or schema.name in ("ZipMap", "Cast")):
            # (Cast-1 and ZipMap have no inference function: their attributes fix the type)
            # no inference function (most ai.onnx.ml operators): the output's type is fixed, or an input's
            got = _type_proto(want)
        if got is None or short(_type_text(got)) != short(want):
            return None
        graph_outputs.append(helper.make_value_info(name, got))
    model.graph.output.extend(graph_outputs)
    return model.SerializeToString()


def _type_text(proto: onnx.TypeProto) -> str:
    kind = proto.WhichOneof("value")
    names = {v: k for k, v in {"float": 1, "uint8": 2, "int8": 3, "uint16": 4, "int16": 5, "int32": 6, "int64": 7,
                                "string": 8, "bool": 9, "float16": 10, "double": 11, "uint32": 12, "uint64": 13,
                                "complex64": 14, "complex128": 15, "bfloat16": 16}.items()}
    if kind == "tensor_type":
        return f"tensor({names.get(proto.tensor_type.elem_type, '?')})"
    if kind == "sequence_type":
        return f"seq({_type_text(proto.sequence_type.elem_type)})"
    if kind == "map_type":
        return f"map({names.get(proto.map_type.key_type, '?')},{_type_text(proto.map_type.value_type)})"
    if kind == "optional_type":
        return f"optional({_type_text(proto.optional_type.elem_type)})"
    return "?"


def _schemas(ai_cap: int, ml_cap: int) -> list[Any]:
    caps = {"": ai_cap, "ai.onnx.ml": ml_cap}
    found = [s for s in defs.get_all_schemas_with_history()
             if s.domain in caps and s.since_version <= caps[s.domain] and not s.deprecated]
    return sorted(found, key=lambda s: (s.domain, s.name, s.since_version))


def _run(python: str, models: list[tuple[str | None, bytes, Any]], work: Path) -> tuple[str, list[str]]:
    """Each model's verdict in the interpreter ``python`` (each with the ``Op(version)`` a missing kernel's answer
    must name, None for a one-node model, and its feeds): ``ok``, ``missing`` or ``error:...``; a crash of the
    runtime on one model is that model's ``error:crash:<exit status>`` and the rest go on in a new process."""
    rows = []
    for i, (op, blob, feeds) in enumerate(models):
        path = work / f"{i}.onnx"
        path.write_bytes(blob)
        rows.append([str(path), op, feeds])
    index = work / "index.json"
    index.write_text(json.dumps(rows))
    verdicts: list[str] = []
    version = "?"
    while len(verdicts) < len(models):
        proc = subprocess.run([python, "-c", WORKER, str(index), str(len(verdicts))], capture_output=True, text=True,
                              check=False)
        for line in proc.stdout.splitlines():
            row = json.loads(line)
            if "version" in row:
                version = row["version"]
            else:
                verdicts.append(row["v"])
        if len(verdicts) < len(models) and proc.returncode != 0:
            verdicts.append(f"error:crash:{proc.returncode}")
    return version, verdicts


#: A Loop's forms besides both inputs given: which of its optional inputs (trip count, cond) it leaves out.
LOOP_FORMS = {"no cond": ("m", ""), "no trip count": ("", "c"), "neither": ("", "")}
#: An old runtime's answer saying the probe's *types* are refused (not its form, nor the machine).
_TYPE_REFUSAL = re.compile(r"Type Error|bound to different types|Mismatched attribute type")


def _loop_form_probes(schema: Any, opsets: list[tuple[str, int]], ir: int) -> list[tuple[str, bytes]]:
    """``Loop`` (float32 carried) with both optional inputs given (``"both"``) and in each form of
    :data:`LOOP_FORMS`; [] for any other operator."""
    if schema.domain != "" or schema.name != "Loop":
        return []
    vi, tensor = helper.make_value_info, onnx.TensorProto
    value = helper.make_tensor_type_proto(tensor.FLOAT, [1])
    made = []
    for form, (m, c) in {"both": ("m", "c"), **LOOP_FORMS}.items():
        body = helper.make_graph([helper.make_node("Identity", ["c_in"], ["c_out"])], "body",
                                 [vi("i", helper.make_tensor_type_proto(tensor.INT64, [])),
                                  vi("c_in", helper.make_tensor_type_proto(tensor.BOOL, [])), vi("v_in", value)],
                                 [vi("c_out", helper.make_tensor_type_proto(tensor.BOOL, [])), vi("v_in", value)])
        node = helper.make_node("Loop", [m, c, "x"], ["y"], body=body)
        inits = [helper.make_tensor("m", tensor.INT64, [], [1]), helper.make_tensor("c", tensor.BOOL, [], [True])]
        graph = helper.make_graph([node], "probe", [vi("x", value)], [vi("y", value)], inits)
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid(d, v) for d, v in opsets],
                                  ir_version=ir)
        made.append((form, model.SerializeToString()))
    return made


def reason(verdict: str) -> str:
    """An old runtime's refusal as the table records it: its message without the error code, the file's path, the
    source location and the addresses (the same on every run), at most 200 characters."""
    if verdict.startswith("error:crash:"):
        status = int(verdict.rsplit(":", 1)[1])
        signal = {-11: " (segmentation fault)", -6: " (abort)"}.get(status, "")
        return f"the process crashes making the session: exit status {status}{signal}"
    text = verdict.removeprefix("error:").removeprefix("run:")
    text = re.sub(r"\[ONNXRuntimeError\] : \d+ : \w+ : ", "", text)
    text = re.sub(r"Load model from \S+ failed:", "", text)
    text = re.sub(r"\(0x[0-9a-f]+(_\d+)?\)", "()", text)
    if "Type Error" in text:  # the type error itself, not the C++ frames it came through
        text = text[text.rfind("Type Error"):]
    elif "Mismatched attribute type" in text:
        text = text[text.find("Mismatched attribute type"):]
    text = re.sub(r"/onnxruntime_src/\S+:\d+ ", "", text).strip()
    return text if len(text) <= 200 else text[:197] + "..."


def refused_for_its_types(old: str, reference: str) -> bool:
    """Whether an old runtime's undecided answer ``old`` refuses a valid model for its types: the reference
    onnxruntime made a session of it (``reference`` is ``ok``) and ``old`` is a type error (a crash, an index error,
    a locale the machine lacks depend on the probe's form or the machine: they decide nothing)."""
    return reference == "ok" and not old.startswith("error:crash") and _TYPE_REFUSAL.search(old) is not None


def build(runtimes: dict[str, str], reference: str = sys.executable) -> dict[str, Any]:
    table: dict[str, Any] = {
        "source": ("generated by scripts/gen_kernel_table.py: one-node models per (operator version, types) made "
                   "into sessions by each onnxruntime release (PyPI wheel, CPUExecutionProvider, optimisations "
                   "off; If, Loop, Scan, SequenceMap, Optional in minimal models of their own); 'missing' lists the "
                   "type combinations it answered 'Could not find an implementation' for (LSTM, GRU, RNN: also run "
                   "on ones, and 'does not support' a type), and those whose valid model (loaded by the reference "
                   "onnxruntime) it refused with a type error ('refused': its reason); 'refused_forms': the Loop "
                   "forms (optional inputs left out) it refuses"),
        "onnx_schemas": onnx.__version__,
        "runtimes": {},
    }
    for line, python in sorted(runtimes.items()):
        ai_cap, ml_cap, ir = CAPS[line]
        plan: list[tuple[Any, list[str], tuple[str, ...]]] = []
        models: list[tuple[str | None, bytes, Any]] = []
        forms: list[tuple[Any, str]] = []
        form_models: list[tuple[str | None, bytes, Any]] = []
        unprobed: list[str] = []
        for schema in _schemas(ai_cap, ml_cap):
            opsets = ([("", schema.since_version)] if schema.domain == "" else
                      [("", ai_cap), (schema.domain, schema.since_version)])
            used, made = _probes(schema, opsets, ir)
            if not made:
                unprobed.append(f"{schema.domain or 'ai.onnx'}.{schema.name}-{schema.since_version}")
            for combo, blob, feeds in made:
                plan.append((schema, used, combo))
                inner = schema.name in ("If", "Loop", "Scan", "SequenceMap")
                models.append((f"{schema.name}({schema.since_version})" if inner else None, blob, feeds))
            for form, blob in _loop_form_probes(schema, opsets, ir):
                forms.append((schema, form))
                form_models.append((f"{schema.name}({schema.since_version})", blob, None))
        with tempfile.TemporaryDirectory() as tmp:
            version, verdicts = _run(python, [*models, *form_models], Path(tmp))
            verdicts, form_verdicts = verdicts[: len(models)], verdicts[len(models):]
            # the undecided probes (and Loop forms) a valid model: the reference onnxruntime makes a session of it
            again = [k for k, v in enumerate(verdicts) if v not in ("ok", "missing")]
            again_forms = [k for k, v in enumerate(form_verdicts) if v != "ok"]
            (Path(tmp) / "reference").mkdir()
            _, checked = _run(reference, [models[k] for k in again] + [form_models[k] for k in again_forms],
                              Path(tmp) / "reference")
        on_reference = dict(zip(again, checked[: len(again)]))
        forms_on_reference = dict(zip(again_forms, checked[len(again):]))
        ops: dict[str, Any] = {}
        schemas: dict[str, Any] = {}
        counts = {"ok": 0, "missing": 0, "refused": 0, "undecided": 0}
        for k, ((schema, used, combo), verdict) in enumerate(zip(plan, verdicts)):
            key = f"{schema.domain or 'ai.onnx'}|{schema.name}|{schema.since_version}"
            entry = ops.setdefault(key, {"constraints": used, "missing": []})
            schemas[key] = schema
            if verdict == "missing":
                entry["missing"].append([short(t) for t in combo])
                counts["missing"] += 1
            elif verdict == "ok":
                counts["ok"] += 1
            elif refused_for_its_types(verdict, on_reference.get(k, "")):
                entry["missing"].append([short(t) for t in combo])
                entry.setdefault("refused", {})[",".join(short(t) for t in combo)] = reason(verdict)
                counts["refused"] += 1
            else:
                counts["undecided"] += 1
        refused_forms: dict[str, dict[str, str]] = {}
        both = {f"ai.onnx|Loop|{schema.since_version}": v for (schema, form), v in zip(forms, form_verdicts)
                if form == "both"}
        for k, ((schema, form), verdict) in enumerate(zip(forms, form_verdicts)):
            key = f"ai.onnx|Loop|{schema.since_version}"
            if form != "both" and verdict != "ok" and both.get(key) == "ok" and forms_on_reference.get(k) == "ok":
                refused_forms.setdefault(key, {})[form] = reason(verdict)
        table["runtimes"][line] = {
            "onnxruntime": version,
            "caps": {"ai.onnx": ai_cap, "ai.onnx.ml": ml_cap, "ir": ir},
            "probes": counts,
            "unprobed": unprobed,
            "refused_forms": refused_forms,
            "operators": {k: _compact(v, schemas[k]) for k, v in sorted(ops.items()) if v["missing"]},
        }
    return table


def short(text: str) -> str:
    """A type as the table writes it: ``double`` for ``tensor(double)``, ``seq(float)`` for ``seq(tensor(float))``."""
    return re.sub(r"tensor\((\w+)\)", r"\1", text.replace(" ", ""))


def _compact(entry: dict[str, Any], schema: Any) -> dict[str, Any]:
    """``"missing": "all"`` when every combination of the constraints' types is missing; ``"all_but"``, the
    combinations not found missing (a kernel, or undecided), when that list is the shorter one (OneHot)."""
    constraints = entry["constraints"]
    allowed = {c.type_param_str: [short(t) for t in c.allowed_type_strs] for c in schema.type_constraints}
    missing = {tuple(m) for m in entry["missing"]}
    rest = [list(c) for c in itertools.product(*(allowed[c] for c in constraints)) if c not in missing]
    refused = {"refused": entry["refused"]} if "refused" in entry else {}
    if not rest:
        return {"constraints": constraints, "missing": "all", **refused}
    if len(rest) < len(missing):
        return {"constraints": constraints, "all_but": rest, **refused}
    return entry


def render(table: dict[str, Any]) -> str:
    """One operator version a line, so a regeneration's diff reads per operator."""
    lines = ["{"]
    lines.append(f'"source": {json.dumps(table["source"])},')
    lines.append(f'"onnx_schemas": {json.dumps(table["onnx_schemas"])},')
    lines.append('"runtimes": {')
    runtime_items = list(table["runtimes"].items())
    for r, (line, data) in enumerate(runtime_items):
        lines.append(f"{json.dumps(line)}: {{")
        for key in ("onnxruntime", "caps", "probes", "unprobed", "refused_forms"):
            lines.append(f"{json.dumps(key)}: {json.dumps(data[key])},")
        lines.append('"operators": {')
        op_items = list(data["operators"].items())
        for k, (key, entry) in enumerate(op_items):
            comma = "," if k < len(op_items) - 1 else ""
            lines.append(f"{json.dumps(key)}: {json.dumps(entry, separators=(',', ':'))}{comma}")
        lines.append("}")
        lines.append("}" + ("," if r < len(runtime_items) - 1 else ""))
    lines.append("}")
    lines.append("}")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runtime", action="append", required=True, metavar="LINE=PYTHON",
                        help="a release line (1.5, 1.12) and an interpreter holding that onnxruntime")
    parser.add_argument("--reference", default=sys.executable, metavar="PYTHON",
                        help="an interpreter holding a newer onnxruntime: a probe it loads is a valid model "
                             "(default: this one)")
    parser.add_argument("--check", action="store_true", help="fail when the stored table differs")
    args = parser.parse_args(argv)
    runtimes = dict(item.split("=", 1) for item in args.runtime)
    unknown = sorted(set(runtimes) - set(CAPS))
    if unknown:
        parser.error(f"unknown release line(s) {unknown}; expected some of {sorted(CAPS)}")
    text = render(build(runtimes, args.reference))
    if args.check:
        if OUT.read_text() != text:
            print(f"{OUT.relative_to(ROOT)} is out of date: run scripts/gen_kernel_table.py", file=sys.stderr)
            return 1
        return 0
    OUT.write_text(text)
    print(f"wrote {OUT.relative_to(ROOT)} ({len(text)} bytes)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
