"""``manifest.json``: what was packaged, checked against what, by which versions."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timezone
from typing import Any

__all__ = ["MANIFEST_SCHEMA_VERSION", "build_manifest", "dumps"]

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
    from onnxgate._onnx import model_opsets
    from onnxgate.signature import Signature

    sig = Signature.from_model(model)
    summary: dict[str, Any] = {}
    if report is not None:
        summary = {
            "passed": bool(report.passed),
            "checks": [{"name": c.name, "passed": bool(c.passed), "message": c.message} for c in report.checks],
        }
    manifest: dict[str, Any] = {
        "schema_version": MANIFEST_SCHEMA_VERSION,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "target": target.name,
        "model": {
            "file": "model.onnx",
            "sha256": hashlib.sha256(model_bytes).hexdigest(),
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
    if extra:
        manifest.update(extra)
    return manifest


def dumps(manifest: dict[str, Any]) -> str:
    return json.dumps(manifest, indent=2, sort_keys=False) + "\n"
