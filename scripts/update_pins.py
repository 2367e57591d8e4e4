"""Regenerate ``onnxgate/deploy/pins.py`` from ``constraints.txt``: the versions a container package
falls back to for a service package that is not installed where ``onnxgate package`` runs.

Run after changing constraints.txt: ``python scripts/update_pins.py``. A test
(tests/robustness/test_hostile_writes.py) fails while the two disagree.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
#: The packages a container image installs (the service's runtime, whichever extra was installed).
SERVICE_PACKAGES = ("numpy", "onnxruntime", "uvicorn", "httptools", "uvloop", "orjson", "pysimdjson")


def render(constraints: str) -> str:
    pins: dict[str, str] = {}
    for line in constraints.splitlines():
        line = line.split("#", 1)[0].strip()
        if "==" in line:
            name, version = (part.strip() for part in line.split("==", 1))
            if name in SERVICE_PACKAGES:
                pins[name] = version
    missing = [p for p in SERVICE_PACKAGES if p not in pins]
    if missing:
        raise SystemExit(f"constraints.txt pins no version for {missing}")
    rows = "".join(f'        "{name}": "{pins[name]}",\n' for name in SERVICE_PACKAGES)
    return (
        '"""Versions of the container service\'s packages tested with this onnxgate (generated from\n'
        "constraints.txt by scripts/update_pins.py; do not edit by hand).\n\n"
        "A container package pins each package to the version installed where it is built; one that is\n"
        "not installed there (a plain ``pip install onnxgate`` without the ``serve`` extra) is pinned to\n"
        'the version here, so an image never installs whatever is newest at build time."""\n\n'
        "from __future__ import annotations\n\n"
        "from collections.abc import Mapping\n"
        "from types import MappingProxyType\n\n"
        '__all__ = ["TESTED_VERSIONS"]\n\n'
        "TESTED_VERSIONS: Mapping[str, str] = MappingProxyType(\n"
        "    {\n"
        f"{rows}"
        "    }\n"
        ")\n"
    )


def main() -> int:
    text = render((ROOT / "constraints.txt").read_text(encoding="utf-8"))
    (ROOT / "onnxgate" / "deploy" / "pins.py").write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
