"""``manifest.json``: what was packaged, checked against what, by which versions."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any

__all__ = ["MANIFEST_SCHEMA_VERSION", "build_manifest", "dumps", "repaired_readme"]

MANIFEST_SCHEMA_VERSION = 1


def _versions() -> dict[str, str]:
    from importlib import metadata

    out = {}
    for dist in ("onnxgate", "onnx", "onnxruntime", "numpy"):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            out[dist] = "unknown"
    return out


def build_manifest(
    model_bytes: bytes,
    *,
    model: Any,
    target: Any,
    report: Any,
    files: list[str],
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The manifest for a package.

    Parameters
    ----------
    model_bytes : bytes
        Exactly the bytes written as ``model.onnx``.
    model : onnx.ModelProto
    target : Target
    report : Report
        The validation that allowed packaging; its summary is recorded.
    files : list of str
        Files of the package, relative to its folder.
    extra : dict, optional
        Target-specific entries (SQL types per input/output, service settings...).
    """
    from onnxgate._onnx import model_opsets, sha256_of
    from onnxgate.signature import Signature

    sig = Signature.from_model(model)
    summary: dict[str, Any] = {}
    if report is not None:
        summary = {
            # the file the checks ran on, as the validation report names it (its model.sha256): model.sha256 above
            # is model.onnx's, which differs when the package holds the file repaired (model.repairs) or rewritten
            "model_sha256": str(getattr(report, "model", {}).get("sha256", "")),
            "passed": bool(report.passed),
            "checks": [{"name": c.name, "passed": bool(c.passed), "skipped": bool(c.skipped), "message": c.message}
                       for c in report.checks],
        }
    manifest: dict[str, Any] = {
        "schema_version": MANIFEST_SCHEMA_VERSION,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "target": target.name,
        "model": {
            "file": "model.onnx",
            "sha256": sha256_of(model_bytes),
            "size_bytes": len(model_bytes),
            "ir_version": int(model.ir_version),
            "opsets": model_opsets(model),
            "producer": f"{model.producer_name} {model.producer_version}".strip(),
        },
        "signature": sig.to_dict(),
        "validation": summary,
        "versions": _versions(),
        "files": sorted(files),
    }
    repairs = repairs_of(report)
    if repairs:  # model.onnx is the file as repaired (onnxgate._onnx.repair_layout), not byte for byte the user's
        manifest["model"]["repairs"] = repairs
    if extra:
        manifest.update(extra)
    return manifest


def repairs_of(report: Any) -> list[str]:
    """What :func:`onnxgate._onnx.repair_layout` repaired in the model ``report`` validated (its
    ``model_wellformed`` check's ``details["repairs"]``), which a package's ``model.onnx`` holds repaired."""
    for check in getattr(report, "checks", None) or []:
        if check.name == "model_wellformed":
            return [str(r) for r in check.details.get("repairs") or []]
    return []


def repaired_readme(report: Any) -> str:
    """The README's lines on a repaired ``model.onnx``: what was repaired, and which file each SHA-256 is of (the
    validation report's is the file given's, the manifest's ``model.sha256`` the packaged file's); empty when
    nothing was repaired."""
    repairs = repairs_of(report)
    if not repairs:
        return ""
    lines = "".join(f"\n`model.onnx` is the file given, repaired: {repair}.\n" for repair in repairs)
    return lines + ("\nSo its SHA-256 (`model.sha256` in `manifest.json`) is not the file given's: that one is the "
                    "validation report's `model.sha256`, recorded as `validation.model_sha256`.\n")


def dumps(manifest: dict[str, Any]) -> str:
    return json.dumps(manifest, indent=2, sort_keys=False) + "\n"


def parity_sentence(report: Any) -> str:
    """What a package's README says about prediction parity: checked (on how many rows) or not, and how
    to check it. A package written without a reference passed the target's checks only."""
    check = next((c for c in getattr(report, "checks", ()) if c.name == "prediction_parity"), None)
    if check is not None and not check.skipped:
        rows = check.details.get("rows")
        on = f" on {rows} rows" if rows else ""
        return f"Prediction parity with the original model was checked{on} and passed."
    return (
        "Prediction parity with the original model was **not checked** (no reference model and data were "
        "given): the file passed the target's checks only. Check it with `onnxgate validate model.onnx "
        "--reference MODEL --data ROWS` before relying on it."
    )


def parity_skipped(manifest: dict[str, Any]) -> bool:
    """True when a package's manifest records prediction parity as not run."""
    checks = manifest.get("validation", {}).get("checks", [])
    parity = next((c for c in checks if c.get("name") == "prediction_parity"), None)
    return parity is None or bool(parity.get("skipped"))
