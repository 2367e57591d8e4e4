"""Structural checks: the ONNX checker, opset and IR caps, and whether every operator can run.

Each check takes the loaded model and the target, never changes either, and names every
offending domain or node in its message and in ``details["offenders"]``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from onnxgate import runtime
from onnxgate._onnx import (
    FUNCTIONS_IR_VERSION,
    canonical_domain,
    densify_sparse_initializers,
    infer_shapes_strict,
    node_subgraphs,
    repair_layout,
    runnable,
    serialize,
    weights_path,
)
from onnxgate.errors import InvalidModelError
from onnxgate.validators.report import CheckResult

if TYPE_CHECKING:
    import onnx

    from onnxgate.targets import Target

__all__ = [
    "check_ir_version_within_caps",
    "check_model_wellformed",
    "check_operators_exist_at_opset",
    "check_operators_supported",
    "check_opset_within_caps",
    "loads_here",
]

#: Domains whose operator versions the ``onnx`` package knows, so a node's need can be looked up.
KNOWN_DOMAINS = ("", "ai.onnx.ml")

#: How many offenders a message spells out before "... and N more" (details keep them all).
MESSAGE_LIMIT = 12


def _label(domain: str) -> str:
    return "ai.onnx" if domain == "" else domain


def _join(items: list[str]) -> str:
    if len(items) <= MESSAGE_LIMIT:
        return "; ".join(items)
    return "; ".join(items[:MESSAGE_LIMIT]) + f"; ... and {len(items) - MESSAGE_LIMIT} more"


def _verdict(
    name: str, parts: list[str], details: dict[str, Any], *, problem: str, fix: str, passed: str
) -> CheckResult:
    """Failed with ``"<n> <problem>: <parts><fix>"`` when ``parts`` (one per offender) is not empty, else passed.

    The checks that list their offenders share this, so every one counts them and shortens a long
    list (:data:`MESSAGE_LIMIT`) the same way. ``fix`` starts with its own separator (``". Convert ..."``).
    """
    if parts:
        return CheckResult(name, False, f"{len(parts)} {problem}: {_join(parts)}{fix}", details)
    return CheckResult(name, True, passed, details)


def iter_nodes(graph: Any, path: str = "") -> Iterator[tuple[str, Any]]:
    """Every node of a graph and of its subgraphs (If/Loop/Scan bodies), with a readable location."""
    for node in graph.node:
        yield path, node
        for attr_name, sub in node_subgraphs(node):
            yield from iter_nodes(sub, f"{path}{node.name or node.op_type}.{attr_name}/")


def _local_function_domains(model: onnx.ModelProto) -> set[str]:
    """The domains of the model's own functions (a torch export's ``pkg.module``, dynamo's ``pkg.onnxscript...``):
    no runtime's operator set, the file defines them."""
    return {canonical_domain(f.domain) for f in model.functions}


def _function_needs(model: onnx.ModelProto, local: set[str]) -> dict[str, tuple[int, str]]:
    """The highest opset per domain the model's functions import beyond the model's own stamp, with the first
    function that imports it: a function's nodes resolve at its imports, and the checker takes a function
    importing ai.onnx 18 in a model stamped 17."""
    from onnxgate._onnx import model_opsets

    stamped = model_opsets(model)
    needs: dict[str, tuple[int, str]] = {}
    for function in model.functions:
        for entry in function.opset_import:
            domain = canonical_domain(entry.domain)
            version = int(entry.version)
            if domain in local or version <= max(stamped.get(domain, 0), needs.get(domain, (0, ""))[0]):
                continue
            needs[domain] = (version, f"{function.domain}.{function.name}")
    return needs


def node_label(path: str, node: Any) -> str:
    name = node.name or "<unnamed>"
    domain = canonical_domain(node.domain)
    return f"{path}{name!s} ({_label(domain) + '.' if domain else ''}{node.op_type})"


def check_model_wellformed(model: onnx.ModelProto, target: Target) -> CheckResult:
    """The ONNX checker (full check) and strict shape inference both accept the model, it has outputs, and
    no output is listed twice.

    This is ``onnx.checker.check_model(full_check=True)`` in two stages (the checker, then shape
    inference with ``check_type`` and ``strict_mode``), so a model that breaks both has both errors
    reported. Shape inference reads sparse initializers as the dense tensors onnxruntime makes of them
    (:func:`~onnxgate._onnx.densify_sparse_initializers`). A model that parsed but breaks the ONNX spec
    fails here; bytes that do not parse at all never reach this check (``load_model`` raises
    :class:`~onnxgate.errors.InvalidModelError`).

    Parameters
    ----------
    model : onnx.ModelProto
    target : Target
        Unused; every target needs a well-formed model.

    Returns
    -------
    CheckResult
        ``details["errors"]`` holds the checker's and shape inference's messages, ``details["repairs"]`` what
        :func:`~onnxgate._onnx.repair_layout` repaired first (a package holds the repaired file).

    Examples
    --------
    >>> check_model_wellformed(model, targets.get("onnxruntime")).passed  # doctest: +SKIP
    True
    """
    import onnx

    errors: list[dict[str, str]] = []
    # judged as onnxgate packages it: nodes out of topological order sorted, an IR 3 file's initializers listed as
    # inputs (onnxruntime runs both as they are; the checker refused them and the model with them)
    # a model held without its weights (above 2 GiB with them: weights_by_path) is checked as its file is, by path,
    # the checker finding its external data beside it; it is not repaired (its package copies the file as it is)
    path = weights_path(model)
    laid_out, repairs = (model, []) if path is not None else repair_layout(model)
    try:
        # Checking the serialized bytes works on a private copy, so the caller's proto is untouched.
        onnx.checker.check_model(str(path) if path is not None else serialize(laid_out), full_check=False)
    except Exception as err:
        errors.append({"stage": "checker", "error": _first_lines(err)})
    try:
        # judged with sparse initializers dense, as onnxruntime loads them: strict inference types one
        # sparse_tensor(float) and refused the Mul reading it, on a file onnxruntime runs
        infer_shapes_strict(densify_sparse_initializers(laid_out), check_type=True)
    except InvalidModelError as err:
        errors.append({"stage": "sparse_initializer", "error": _first_lines(err)})
    except Exception as err:
        errors.append({"stage": "shape_inference", "error": _first_lines(err)})
    names = [o.name for o in model.graph.output]
    if not names:  # the checker accepts it; onnxruntime refuses to run it ("At least one output should be requested")
        errors.append({"stage": "outputs", "error": "the graph has no outputs, so it answers nothing (onnxruntime "
                       "refuses to run it); list the model's results as graph outputs"})
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:  # the checker and onnxruntime accept it; a reply or a table keyed by name keeps one of them
        errors.append({"stage": "outputs", "error": f"output(s) {twice} are listed more than once; every output "
                       "needs a name of its own (a JSON reply, a table or a DataFrame holds one value per name)"})
    if errors:
        text = "; ".join(f"{e['stage']}: {e['error']}" for e in errors)
        return CheckResult(
            "model_wellformed",
            False,
            f"the model breaks the ONNX spec: {text}. Re-export it with a converter that writes valid ONNX.",
            {"errors": errors},
        )
    if repairs:
        return CheckResult("model_wellformed", True, "ONNX checker and strict shape inference pass once repaired: "
                           f"{'; '.join(repairs)} (a package holds the repaired file)",
                           {"errors": [], "repairs": repairs})
    return CheckResult(
        "model_wellformed", True, "ONNX checker and strict shape inference pass", {"errors": [], "repairs": []}
    )


def _first_lines(err: BaseException, limit: int = 400) -> str:
    text = " ".join(str(err).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def check_opset_within_caps(model: onnx.ModelProto, target: Target) -> CheckResult:
    """Every domain's stamped opset is at most the target's cap for that domain.

    Domains the target has no cap for (custom ones like ``com.microsoft``) are listed in
    ``details["unchecked_domains"]``; they fail only when the target states its caps explicitly,
    because such a runtime cannot be assumed to know the domain.

    Parameters
    ----------
    model : onnx.ModelProto
    target : Target

    Returns
    -------
    CheckResult

    Examples
    --------
    >>> str(check_opset_within_caps(model21, targets.get("sql-edge-2.0")))  # doctest: +SKIP
    "FAILED opset_within_caps  ai.onnx opset 21 > 17 (target 'sql-edge-2.0') ..."
    """
    from onnxgate._onnx import model_opsets

    caps = target.effective_max_opset()
    explicit = target.max_opset is not None
    stamped = model_opsets(model)
    # the model's own functions are no runtime's domain: a runtime that reads them (IR 8 on) has them all
    local = _local_function_domains(model)
    functions_read = target.effective_max_ir() >= FUNCTIONS_IR_VERSION
    offenders: list[dict[str, Any]] = []
    unchecked: list[str] = []
    needed: dict[str, tuple[int, str | None]] = {d: (v, None) for d, v in stamped.items() if d not in local}
    needed.update(_function_needs(model, local))
    for domain, (version, where) in sorted(needed.items()):
        cap = caps.get(domain)
        found = {"domain": _label(domain), "opset": version, "max_opset": cap}
        if where is not None:
            found["function"] = where
        if cap is None:
            if explicit:
                offenders.append(found)
            else:
                unchecked.append(_label(domain))
        elif version > cap:
            offenders.append(found)
    if local and not functions_read:
        offenders.extend({"domain": _label(d), "opset": stamped.get(d), "max_opset": None, "local_functions": True}
                         for d in sorted(local))
    details = {
        "opsets": {_label(d): v for d, v in stamped.items()},
        "max_opset": {_label(d): v for d, v in caps.items()},
        "offenders": offenders,
        "unchecked_domains": unchecked,
        "local_function_domains": sorted(_label(d) for d in local),
    }
    if offenders:
        parts = [_cap_offence(o, target) for o in offenders]
        fixes = []
        if any(o.get("local_functions") for o in offenders):
            fixes.append("Inline the functions into the graph (onnx.inliner.inline_local_functions) or export "
                         "without them (torch.onnx.export(..., export_modules_as_functions=False)).")
        offenders_left = [o for o in offenders if not o.get("local_functions")]
        if any(o["max_opset"] is not None for o in offenders_left):
            fixes.append(f"Convert again with opset={caps.get('')} or lower (onnxgate convert --opset).")
        lacking = {o["domain"] for o in offenders_left if o["max_opset"] is None}
        if lacking:  # a lower opset keeps the domain: the operator that needs it is what the target lacks
            # every node that needs them: an If/Loop/Scan body's or a local function's too (a contrib operator only
            # in a subgraph was reported as "No node of the main graph uses ['com.microsoft']")
            users = _domain_users(model, lacking)
            nodes = sorted({op for op, _ in users})
            tokenizer = " (a text vectorizer's Tokenizer is com.microsoft's)" if "Tokenizer" in nodes else ""
            fixes.append(
                f"No opset removes {sorted(lacking)}: the model's {_user_list(users)} need(s) it{tokenizer}; deploy "
                "to a target whose runtime has that domain, or build the model without those operators" if users
                else f"No node of the model uses {sorted(lacking)}: drop its opset import")
        fix = " ".join(fixes)
        return CheckResult(
            "opset_within_caps",
            False,
            f"{_join(parts)} (target {target.name!r}, {target.runtime}). {fix}",
            details,
        )
    have = ", ".join(f"{_label(d)} {v}" for d, v in sorted(stamped.items()))
    return CheckResult("opset_within_caps", True, f"opsets {have} within the target's caps", details)


def _domain_users(model: onnx.ModelProto, domains: set[str]) -> list[tuple[str, str]]:
    """``(op_type, where)`` for every node of a domain in ``domains`` (labels, ``"ai.onnx"`` for the default):
    the graph's, its subgraphs' and the model's own functions'. ``where`` is ``""`` in the main graph, else the
    node's location (``"choose.then_branch/gelu"``)."""
    return [(node.op_type, f"{path}{node.name or '<unnamed>'}" if path else "")
            for path, node, _ in _nodes_with_opsets(model) if _label(canonical_domain(node.domain)) in domains]


def _user_list(users: list[tuple[str, str]]) -> str:
    """The operators of :func:`_domain_users`, once each; one no main-graph node uses says where it is."""
    places: dict[str, list[str]] = {}
    for op, where in users:
        places.setdefault(op, []).append(where)
    parts = []
    for op, wheres in sorted(places.items()):
        if "" in wheres:  # the main graph's: its name is enough
            parts.append(op)
            continue
        shown = ", ".join(repr(w) for w in wheres[:3]) + (f" and {len(wheres) - 3} more" if len(wheres) > 3 else "")
        parts.append(f"{op} (in {shown})")
    return ", ".join(parts)


def _cap_offence(offender: dict[str, Any], target: Target) -> str:
    """One offender of :func:`check_opset_within_caps` as the message spells it."""
    if offender.get("local_functions"):
        return (f"domain {offender['domain']!r} holds the model's own functions, which a runtime reads from IR "
                f"version {FUNCTIONS_IR_VERSION} on (this one reads {target.effective_max_ir()} at most)")
    where = f" (imported by function {offender['function']})" if "function" in offender else ""
    if offender["max_opset"] is None:
        return f"domain {offender['domain']!r} (opset {offender['opset']}) is not available there{where}"
    return f"{offender['domain']} opset {offender['opset']} > {offender['max_opset']}{where}"


def check_ir_version_within_caps(model: onnx.ModelProto, target: Target) -> CheckResult:
    """The model's IR version is at most the target's cap.

    Parameters
    ----------
    model : onnx.ModelProto
    target : Target

    Returns
    -------
    CheckResult

    Examples
    --------
    >>> check_ir_version_within_caps(model_ir10, targets.get("sql-edge-1.0")).passed  # doctest: +SKIP
    False
    """
    cap = target.effective_max_ir()
    ir = int(model.ir_version)
    details = {"ir_version": ir, "max_ir_version": cap}
    if ir > cap:
        return CheckResult(
            "ir_version_within_caps",
            False,
            f"IR version {ir} > {cap} (target {target.name!r}, {target.runtime}): that runtime refuses "
            "the file. Convert with onnxgate at an opset within the target's caps, which stamps the "
            "lowest IR version the graph allows.",
            details,
        )
    return CheckResult("ir_version_within_caps", True, f"IR version {ir} <= {cap}", details)


def check_operators_exist_at_opset(model: onnx.ModelProto, target: Target) -> CheckResult:
    """Every node's operator version exists at the target's opset for its domain.

    A node resolves to the newest version of its operator at the model's stamped opset (its
    ``since_version``); a runtime capped at opset ``c`` can run it only when that version is ``<= c``.
    So this names the nodes that block running the graph on the target, even when the stamp alone
    is the only problem (then every node passes and re-stamping, or converting again, is the fix).

    Parameters
    ----------
    model : onnx.ModelProto
    target : Target

    Returns
    -------
    CheckResult
        ``details["offenders"]``: node, op_type, domain, ``needs_opset`` and ``max_opset``.

    Examples
    --------
    >>> r = check_operators_exist_at_opset(model18, targets.get("sql-edge-2.0"))  # doctest: +SKIP
    >>> r.details["offenders"][0]["needs_opset"]  # doctest: +SKIP
    18
    """
    from onnx import defs

    caps = target.effective_max_opset()
    local = _local_function_domains(model)
    offenders: list[dict[str, Any]] = []
    unchecked: set[str] = set()
    checked = 0
    for path, node, stamped in _nodes_with_opsets(model):
        domain = canonical_domain(node.domain)
        if domain in local:  # a call of the model's own function, whose nodes are checked in turn
            continue
        if domain not in KNOWN_DOMAINS or domain not in caps or domain not in stamped:
            unchecked.add(_label(domain))
            continue
        checked += 1
        cap = caps[domain]
        entry: dict[str, Any] = {
            "node": path + (node.name or "<unnamed>"),
            "op_type": node.op_type,
            "domain": _label(domain),
            "max_opset": cap,
        }
        try:
            needs = int(defs.get_schema(node.op_type, stamped[domain], domain).since_version)
        except Exception:
            offenders.append({**entry, "needs_opset": None, "reason": "unknown operator"})
            continue
        if needs > cap:
            offenders.append({**entry, "needs_opset": needs, "reason": f"{node.op_type}-{needs} is newer"})
    details = {"offenders": offenders, "nodes_checked": checked, "unchecked_domains": sorted(unchecked)}
    parts = [
        f"{o['node']!r} ({o['op_type']}) needs {o['domain']} opset {o['needs_opset']} > {o['max_opset']}"
        if o["needs_opset"] is not None
        else f"{o['node']!r} ({o['op_type']}) is not an operator of {o['domain']}"
        for o in offenders
    ]
    return _verdict(
        "operators_exist_at_opset",
        parts,
        details,
        problem="node(s) cannot run at the target's opset",
        fix=f". Convert again at opset {caps.get('')} or lower so the converter picks older operator versions.",
        passed=f"all {checked} nodes exist at the target's opsets",
    )


def _nodes_with_opsets(model: onnx.ModelProto) -> Iterator[tuple[str, Any, dict[str, int]]]:
    """Every node of the graph and of the model's own functions (and their subgraphs), with the opsets it
    resolves at: the model's for the graph's, the function's imports for a function's."""
    from onnxgate._onnx import model_opsets

    stamped = model_opsets(model)
    for path, node in iter_nodes(model.graph):
        yield path, node, stamped
    for function in model.functions:
        imports = {canonical_domain(e.domain): int(e.version) for e in function.opset_import}
        for path, node in iter_nodes(function, f"{function.domain}.{function.name}/"):
            yield path, node, imports


def check_operators_supported(model: onnx.ModelProto, target: Target) -> CheckResult:
    """The installed onnxruntime creates a session for the model, and the target's own onnxruntime has a CPU kernel
    for every node's types; if not, every rejected node is named.

    When the session fails, each distinct (domain, operator, input types, attributes) combination is
    tried alone in a one-node model, so every node the runtime rejects is found, not only the
    first one its error mentions. A target whose ``runtime`` names an older release (the SQL targets' 1.5 and 1.12)
    is also held to that release's kernel table (:func:`onnxgate._kernels.kernel_gaps`): a float64 ``Erf`` loads
    here and is refused there.

    Parameters
    ----------
    model : onnx.ModelProto
    target : Target

    Returns
    -------
    CheckResult
        ``details["offenders"]``: node, op_type, domain and onnxruntime's error for it (for a kernel the target's
        runtime lacks, also ``types`` and ``runtime``);
        ``details["session_error"]`` the whole-model error.

    Examples
    --------
    >>> check_operators_supported(model, targets.get("onnxruntime")).passed  # doctest: +SKIP
    True
    """
    import onnxruntime as ort

    from onnxgate._kernels import kernel_gaps, kernel_table_runtime

    # the installed runtime has kernels the target's older one lacks (a float64 Erf, Sigmoid, Where...): those nodes
    # loaded here and were refused at PREDICT time, so the target's own kernel table is read too
    embedded = kernel_table_runtime(target.runtime)
    gaps = kernel_gaps(model, target.runtime) if embedded else []
    try:
        runtime.session(runnable(model), spinning=False)  # as parity makes it, which then uses this one
    except Exception as err:
        session_error = _first_lines(err, 600)
    else:
        if gaps:
            return _kernel_gaps_verdict(gaps, target, {"onnxruntime": ort.__version__})
        also = f", and {embedded}'s kernel table lacks none of its nodes" if embedded else ""
        return CheckResult(
            "operators_supported",
            True,
            f"onnxruntime {ort.__version__} loads the model ({len(model.graph.node)} nodes){also}",
            {"onnxruntime": ort.__version__, "offenders": []},
        )
    offenders, untested = _probe_nodes(model)
    details: dict[str, Any] = {
        "onnxruntime": ort.__version__,
        "session_error": session_error,
        "offenders": offenders,
        "untested_nodes": untested,
    }
    if offenders:
        parts = [f"{o['node']!r} ({o['op_type']}): {o['error']}" for o in offenders]
        message = f"onnxruntime {ort.__version__} rejects {len(offenders)} node(s): {_join(parts)}"
    else:
        message = f"onnxruntime {ort.__version__} cannot load the model: {session_error}"
        named = _nodes_named_in(session_error, model)
        if named:
            details["offenders"] = [{"node": n, "error": session_error} for n in named]
            message += f" (node(s) {named})"
    refused = {o.get("node") for o in details["offenders"]}
    gaps = [g for g in gaps if g.node not in refused]  # the installed runtime refuses those already
    if gaps:
        lacking = _kernel_gaps_verdict(gaps, target, {})
        details["offenders"] = [*details["offenders"], *lacking.details["offenders"]]
        message += f"; and {lacking.message}"
    return CheckResult("operators_supported", False, message, details)


def loads_here(result: CheckResult) -> bool:
    """Whether the installed onnxruntime loads the model by ``operators_supported``'s ``result``: it passed, or it
    failed only because the target's own (older) onnxruntime lacks kernels, so the checks that run the model here
    (parity) still can."""
    return result.passed or ("kernel_table" in result.details and "session_error" not in result.details)


def _kernel_gaps_verdict(gaps: list[Any], target: Target, details: dict[str, Any]) -> CheckResult:
    """Failed, naming each node the target's onnxruntime has no kernel for, its types, and how to convert."""
    probed = gaps[0].runtime
    table = "" if _release_of(target.runtime) == probed.removeprefix("onnxruntime ") else f" (table of {probed})"
    offenders = [
        {"node": g.node, "op_type": g.op, "domain": g.domain, "since_version": g.since_version,
         "types": dict(g.types), "runtime": g.runtime,
         "error": g.reason if g.reason else f"no CPU kernel of {g.op}-{g.since_version} for {g.types_text()}",
         **({"form": g.form} if g.form else {})}
        for g in gaps
    ]
    parts = [g.described() for g in gaps]
    fixes = []
    if any(t == "double" for g in gaps for t in g.types.values()):
        fixes.append("Convert in float32 (convert --precision float32 for scikit-learn; a float32 TensorFlow, Keras "
                     "or PyTorch model), or compute these nodes in float32 between Casts")
    elif any(g.form is None for g in gaps):
        fixes.append("Cast these nodes' inputs to a type it has a kernel for (float32, int64), or convert at "
                     "another opset")
    if any(g.form is not None for g in gaps):
        fixes.append(f"Give each Loop a cond input, a constant true (onnxruntime runs the same iterations): "
                     f"onnxgate adapt --target {target.name} does it")
    kinds = ("has no CPU kernel for" if all(g.reason is None for g in gaps)
             else "refuses" if all(g.reason is not None for g in gaps) else "lacks or refuses")
    message = (
        f"target {target.name!r} runs {target.runtime}, which {kinds} {len(gaps)} node(s){table}: "
        f"{_join(parts)}; the database refuses the file at PREDICT time. {'. '.join(fixes)}."
    )
    return CheckResult("operators_supported", False, message, {**details, "offenders": offenders,
                                                                 "kernel_table": gaps[0].runtime})


def _release_of(runtime_text: str) -> str | None:
    """``"1.12.1"`` for ``"onnxruntime 1.12.1"``; None when the text names no full release."""
    found = re.search(r"onnxruntime (\d+\.\d+\.\d+)", runtime_text)
    return found.group(1) if found else None


def _nodes_named_in(error: str, model: onnx.ModelProto) -> list[str]:
    names = {n.name for _, n in iter_nodes(model.graph) if n.name}
    found = re.findall(r"""["'(]([^"'()\s,]+)["')]""", error)
    return sorted({f for f in found if f in names})


def _probe_nodes(model: onnx.ModelProto) -> tuple[list[dict[str, Any]], list[str]]:
    """Try each distinct top-level node kind alone; return (offenders, nodes that could not be tried)."""
    import onnx
    from onnx import helper

    try:
        inferred = onnx.shape_inference.infer_shapes(onnx.load_from_string(model.SerializeToString()))
    except Exception:
        inferred = onnx.load_from_string(model.SerializeToString())
    graph = inferred.graph
    types: dict[str, Any] = {}
    for vi in list(graph.input) + list(graph.value_info) + list(graph.output):
        if vi.type.WhichOneof("value") is not None:
            types.setdefault(vi.name, vi.type)
    initializers = {t.name: t for t in graph.initializer}
    for name, tensor in initializers.items():
        types.setdefault(name, helper.make_tensor_type_proto(tensor.data_type, list(tensor.dims)))

    verdicts: dict[str, str | None] = {}  # probe key -> error (None: runs)
    offenders: list[dict[str, Any]] = []
    untested: list[str] = []
    for node in graph.node:
        label = node.name or "<unnamed>"
        if any(a.HasField("g") or len(a.graphs) for a in node.attribute):
            # Subgraphs read values from the outer scope; they cannot be isolated faithfully.
            untested.append(label)
            continue
        ins = [n for n in node.input if n]
        if any(n not in types for n in ins):
            untested.append(label)
            continue
        key = "|".join(
            [canonical_domain(node.domain), node.op_type]
            + [str(types[n]).replace("\n", " ") for n in ins]
            + [str(a).replace("\n", " ") for a in node.attribute]
        )
        if key not in verdicts:
            verdicts[key] = _probe_one(inferred, node, types, initializers)
        error = verdicts[key]
        if error is not None:
            offenders.append(
                {
                    "node": label,
                    "op_type": node.op_type,
                    "domain": _label(canonical_domain(node.domain)),
                    "error": error,
                }
            )
    return offenders, untested


def _probe_one(model: onnx.ModelProto, node: Any, types: dict[str, Any], initializers: dict[str, Any]) -> str | None:
    import onnx
    from onnx import helper

    ins = [n for n in node.input if n]
    # an initializer whose values are in an external file (a model held without its weights) is fed as an input:
    # the probe has no folder to read it from
    held = {n: t for n, t in initializers.items() if t.data_location != onnx.TensorProto.EXTERNAL}
    inputs = [helper.make_value_info(n, types[n]) for n in dict.fromkeys(ins) if n not in held]
    inits = [held[n] for n in dict.fromkeys(ins) if n in held]
    outputs = [
        helper.make_value_info(n, types[n]) if n in types else helper.make_empty_tensor_value_info(n)
        for n in node.output
        if n
    ]
    graph = helper.make_graph([node], "probe", inputs, outputs, initializer=inits)
    probe = helper.make_model(graph, opset_imports=list(model.opset_import))
    probe.ir_version = model.ir_version
    try:
        runtime.session(probe.SerializeToString())
    except Exception as err:
        return _first_lines(err, 300)
    return None
