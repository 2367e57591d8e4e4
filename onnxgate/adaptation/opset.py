"""A finished file within a target's opset caps: re-stamped when every node means the same there, never
down-converted (converting the native model again at the cap is the API's: :func:`onnxgate.api.at_target_cap`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from onnxgate._onnx import canonical_domain, model_opsets
from onnxgate.errors import OpsetError

if TYPE_CHECKING:
    import onnx

    from onnxgate.targets import Target

__all__ = ["fix_opset"]


def fix_opset(model: onnx.ModelProto, target: Target) -> list[str]:
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
