"""CLI start-up: ``onnxgate --help`` and ``onnxgate validate zoo.onnx --target sql-edge-2.0``.

Baseline, measured in the same run: ``python -c "import onnx, onnxruntime"``, the least any command
that reads an ONNX model and runs it must pay. Goal: at most 1.5x. A second set of rows lists the
heavy frameworks each command imports (pandas, sklearn, torch, tensorflow...), which should be none.

Every command runs with Python's bytecode cache, as an installed onnxgate has it (pip compiles the
``.pyc`` files; a checkout writes them on its first run): under ``PYTHONDONTWRITEBYTECODE=1`` and a
checkout without ``__pycache__``, each run compiled onnxgate's sources again (0.1 s of CPU here, a
cost the baseline's site-packages, compiled at install, never paid). The cache is a temporary
folder (``PYTHONPYCACHEPREFIX``), filled by each command's warm-up run, for the baseline too.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from bench._util import onnxgate_command, row, time_command

BENCHMARK = "cli-start"
GOAL = "<= 1.5"
ZOO_ENTRY = "sklearn-iris-logreg"
TARGET = "sql-edge-2.0"
#: Top-level packages that a start-up path should not import.
HEAVY = ("pandas", "sklearn", "skl2onnx", "torch", "tensorflow", "keras", "tf2onnx", "scipy", "pyarrow",
         "duckdb", "starlette", "uvicorn", "onnxscript")

_IMPORTS_PROBE = """
import sys
from onnxgate.cli import main
try:
    code = main(sys.argv[1:])
except SystemExit as stop:
    code = stop.code
import json
heavy = sorted({m.split('.')[0] for m in sys.modules} & set(HEAVY))
print("@@" + json.dumps({"code": code, "heavy": heavy}))
"""


def _zoo_model(folder: Path) -> Path:
    """The zoo entry converted for the target, as a user would have it on disk."""
    import onnxgate as og

    model, X, _y = og.zoo.get(ZOO_ENTRY).build()
    conv = og.convert(model, X[:50], target=TARGET)
    path = folder / "zoo.onnx"
    conv.save(path)
    return path


def _heavy_imports(args: list[str]) -> tuple[list[str], Any]:
    code = f"HEAVY = {HEAVY!r}\n" + _IMPORTS_PROBE
    proc = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=300)
    for line in proc.stdout.splitlines():
        if line.startswith("@@"):
            info = json.loads(line[2:])
            return list(info["heavy"]), info["code"]
    raise RuntimeError(f"import probe failed: {proc.stderr[-1000:]}")


def main(quick: bool = False) -> list[dict[str, Any]]:
    repeat = 3 if quick else 9
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="bench-cli-") as tmp:
        cached = {"PYTHONDONTWRITEBYTECODE": "", "PYTHONPYCACHEPREFIX": str(Path(tmp) / "pycache")}
        baseline = time_command([sys.executable, "-c", "import onnx, onnxruntime"], repeat=repeat, env=cached)
        rows.append(row(BENCHMARK, "python -c 'import onnx, onnxruntime'", "wall", baseline["seconds"],
                        baseline["seconds"], None, "s", peak_rss_mb=baseline["peak_rss_mb"]))
        model = _zoo_model(Path(tmp))
        cases = {
            "onnxgate --help": ["--help"],
            f"onnxgate validate zoo.onnx --target {TARGET}": ["validate", str(model), "--target", TARGET],
        }
        for case, args in cases.items():
            result = time_command([*onnxgate_command(), *args], repeat=repeat, env=cached)
            heavy, _code = _heavy_imports(args)
            rows.append(row(
                BENCHMARK, case, "wall", result["seconds"], baseline["seconds"], GOAL, "s",
                exit_codes=result["exit_codes"], peak_rss_mb=result["peak_rss_mb"],
                note=f"exit {result['exit_codes']}; "
                + (("imports " + ", ".join(heavy)) if heavy else "no heavy imports"),
            ))
            rows.append(row(BENCHMARK, case, "heavy_imports", float(len(heavy)), None, None, "modules",
                            note=", ".join(heavy) or "none"))
    return rows


if __name__ == "__main__":
    for r in main(quick="--quick" in sys.argv):
        print(r)
