"""Versions of the container service's packages tested with this onnxgate (generated from
constraints.txt by scripts/update_pins.py; do not edit by hand).

A container package pins each package to the version installed where it is built; one that is
not installed there (a plain ``pip install onnxgate`` without the ``serve`` extra) is pinned to
the version here, so an image never installs whatever is newest at build time."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

__all__ = ["TESTED_VERSIONS"]

TESTED_VERSIONS: Mapping[str, str] = MappingProxyType(
    {
        "numpy": "2.4.6",
        "onnxruntime": "1.32.0",
        "uvicorn": "0.54.0",
        "httptools": "0.9.0",
        "uvloop": "0.23.0",
        "orjson": "3.13.0",
        "pysimdjson": "7.0.2",
    }
)
