"""Regenerate ``onnxgate/_kernels.json``: the CPU kernels an older onnxruntime (the one a SQL target embeds) lacks,
per operator, operator version and element types.

The 1.12.1 wheel does not list its kernels (no ``get_all_opkernel_def``, which the installed 1.32 has), the
microsoft/onnxruntime sources at the release tags were not at hand, and the SQL targets' runtimes run on Python 3.8
at the newest (PyPI has 1.5.2, not 1.5.3: the 1.5 line is probed with 1.5.2). So each runtime is *asked*: for
every ``ai.onnx`` and ``ai.onnx.ml`` operator version up to the runtime's opset caps, and every combination of the
types its constraints allow, a one-node model is built here (with the installed ``onnx``'s schemas) and an
interpreter holding that onnxruntime makes a session of it on the CPU provider, graph optimisations off.
``NOT_IMPLEMENTED : Could not find an implementation`` (or ``Failed to find kernel for``) is the runtime saying
it has no kernel for the node in those types: the table keeps exactly those combinations. A session made means a
kernel (or a function body the runtime expands into kernels) exists; any other error (a probe this script could not
make valid) decides nothing, and is counted in the header, never listed as missing.

Usage (each interpreter has ``onnxruntime==X`` and ``numpy<1.24`` installed, e.g. a Python 3.8 virtualenv)::

    python scripts/gen_kernel_table.py --runtime 1.5=/tmp/ort1.5.2/bin/python \\
        --runtime 1.12=/tmp/ort1.12.1/bin/python

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

WORKER = r"""
import json, sys
import onnxruntime as ort
index = json.load(open(sys.argv[1]))
start = int(sys.argv[2])
options = ort.SessionOptions()
options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
options.log_severity_level = 4
options.intra_op_num_threads = 1
print(json.dumps({"version": ort.__version__}), flush=True)
for i in range(start, len(index)):
    try:
        ort.InferenceSession(index[i], options, providers=["CPUExecutionProvider"])
        verdict = "ok"
    except Exception as err:
        text = str(err)
        missing = "Could not find an implementation" in text or "Failed to find kernel for" in text
        verdict = "missing" if missing else "error:" + text[:160]
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
    if name in ("TreeEnsembleClassifier", "SVMClassifier", "LinearClassifier"):
        return {"classlabels_strings": ["a", "b"]} if t2 == "tensor(string)" else {"classlabels_ints": [0, 1]} \
            if name != "TreeEnsembleClassifier" else {"classlabels_int64s": [0, 1]}
    return {}


def _probes(schema: Any, opsets: list[tuple[str, int]],
            ir: int) -> tuple[list[str], list[tuple[tuple[str, ...], bytes]]]:
    """The constraints a one-node model of ``schema`` binds, and one model per combination of their types (those
    whose inferred types bind every constraint as asked)."""
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
    made: list[tuple[tuple[str, ...], bytes]] = []
    for combo in combos:
        for shape in (None, [1, 1, 4, 4], [1]):
            blob = _probe(schema, inputs, outputs, used, on_inputs, combo, shape, opsets, ir)
            if blob is not None:
                made.append((tuple(combo), blob))
                break
    return used, made


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
        if proto is None or not proto.HasField("tensor_type"):
            return None
        out_elem = proto.tensor_type.elem_type
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
        if got is None and (p.type_str not in binding or p.type_str in on_inputs):
            # no inference function (most ai.onnx.ml operators): the output's type is fixed, or an input's
            got = _type_proto(want)
        if got is None or _type_text(got) != want.replace(" ", ""):
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
    return "?"


def _schemas(ai_cap: int, ml_cap: int) -> list[Any]:
    caps = {"": ai_cap, "ai.onnx.ml": ml_cap}
    found = [s for s in defs.get_all_schemas_with_history()
             if s.domain in caps and s.since_version <= caps[s.domain] and not s.deprecated]
    return sorted(found, key=lambda s: (s.domain, s.name, s.since_version))


def _run(python: str, models: list[bytes], work: Path) -> tuple[str, list[str]]:
    """Each model's verdict in the interpreter ``python``: ``ok``, ``missing`` or ``error:...``; a crash of the
    runtime on one model is that model's ``error:crash`` and the rest go on in a new process."""
    paths = []
    for i, blob in enumerate(models):
        path = work / f"{i}.onnx"
        path.write_bytes(blob)
        paths.append(str(path))
    index = work / "index.json"
    index.write_text(json.dumps(paths))
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
            verdicts.append("error:crash")
    return version, verdicts


def build(runtimes: dict[str, str]) -> dict[str, Any]:
    table: dict[str, Any] = {
        "source": ("generated by scripts/gen_kernel_table.py: one-node models per (operator version, types) made "
                   "into sessions by each onnxruntime release (PyPI wheel, CPUExecutionProvider, optimisations "
                   "off); 'missing' lists the type combinations it answered 'Could not find an implementation' for"),
        "onnx_schemas": onnx.__version__,
        "runtimes": {},
    }
    for line, python in sorted(runtimes.items()):
        ai_cap, ml_cap, ir = CAPS[line]
        plan: list[tuple[Any, list[str], tuple[str, ...]]] = []
        models: list[bytes] = []
        unprobed: list[str] = []
        for schema in _schemas(ai_cap, ml_cap):
            opsets = ([("", schema.since_version)] if schema.domain == "" else
                      [("", ai_cap), (schema.domain, schema.since_version)])
            used, made = _probes(schema, opsets, ir)
            if not made:
                unprobed.append(f"{schema.domain or 'ai.onnx'}.{schema.name}-{schema.since_version}")
            for combo, blob in made:
                plan.append((schema, used, combo))
                models.append(blob)
        with tempfile.TemporaryDirectory() as tmp:
            version, verdicts = _run(python, models, Path(tmp))
        ops: dict[str, Any] = {}
        schemas: dict[str, Any] = {}
        counts = {"ok": 0, "missing": 0, "undecided": 0}
        for (schema, used, combo), verdict in zip(plan, verdicts):
            key = f"{schema.domain or 'ai.onnx'}|{schema.name}|{schema.since_version}"
            entry = ops.setdefault(key, {"constraints": used, "missing": []})
            schemas[key] = schema
            if verdict == "missing":
                entry["missing"].append([short(t) for t in combo])
                counts["missing"] += 1
            elif verdict == "ok":
                counts["ok"] += 1
            else:
                counts["undecided"] += 1
        table["runtimes"][line] = {
            "onnxruntime": version,
            "caps": {"ai.onnx": ai_cap, "ai.onnx.ml": ml_cap, "ir": ir},
            "probes": counts,
            "unprobed": unprobed,
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
    if not rest:
        return {"constraints": constraints, "missing": "all"}
    if len(rest) < len(missing):
        return {"constraints": constraints, "all_but": rest}
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
        for key in ("onnxruntime", "caps", "probes", "unprobed"):
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
    parser.add_argument("--check", action="store_true", help="fail when the stored table differs")
    args = parser.parse_args(argv)
    runtimes = dict(item.split("=", 1) for item in args.runtime)
    unknown = sorted(set(runtimes) - set(CAPS))
    if unknown:
        parser.error(f"unknown release line(s) {unknown}; expected some of {sorted(CAPS)}")
    text = render(build(runtimes))
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
