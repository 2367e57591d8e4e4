"""``onnxgate package`` (being written)."""

from __future__ import annotations

import argparse
from typing import Any


def register(sub: Any) -> None:
    p = sub.add_parser("package", help="(not built yet)")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from onnxgate.errors import OnnxGateError

    raise OnnxGateError("'onnxgate package' is not built yet")
