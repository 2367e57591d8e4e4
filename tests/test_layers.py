"""The layers are enforced: ``lint-imports`` (import-linter, contracts in pyproject.toml) passes on the
package, and fails on a copy of it with a forbidden import planted on purpose."""

from __future__ import annotations

import ast
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
LINT = Path(sys.executable).with_name("lint-imports")
PACKAGES = ("api", "cli", "converters", "deploy", "spark", "testing", "validators", "zoo", "_commands")

pytestmark = pytest.mark.skipif(not LINT.exists(), reason="import-linter is not installed (extra 'test')")


def _lint(root: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(root)}
    return subprocess.run(
        [str(LINT), "--no-cache", "--config", str(root / "pyproject.toml")],
        cwd=root, env=env, capture_output=True, text=True, timeout=300,
    )


def _copy(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    shutil.copytree(REPO / "onnxgate", root / "onnxgate", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(REPO / "pyproject.toml", root / "pyproject.toml")
    return root


def test_the_package_keeps_its_layers() -> None:
    result = _lint(REPO)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert "0 broken" in result.stdout


@pytest.mark.parametrize(
    ("module", "planted", "expected"),
    [
        ("converters/_base.py", "onnxgate.deploy.sql", "onnxgate.converters is not allowed to import onnxgate.deploy"),
        ("validators/report.py", "onnxgate.deploy", "onnxgate.validators is not allowed to import onnxgate.deploy"),
        ("targets.py", "onnxgate.validators.core", "onnxgate.targets is not allowed to import onnxgate.validators"),
        ("deploy/manifest.py", "onnxgate.converters", "onnxgate.deploy is not allowed to import onnxgate.converters"),
        ("validators/core.py", "onnxgate.zoo", "onnxgate.validators is not allowed to import onnxgate.zoo"),
        ("sketch.py", "onnxgate.validators", "onnxgate.sketch is not allowed to import onnxgate.validators"),
        ("_arrow.py", "onnxgate.api", "onnxgate._arrow is not allowed to import onnxgate.api"),
    ],
    ids=[
        "converters->deploy", "validators->deploy", "core->validators", "deploy->converters", "validators->zoo",
        "sketch->validators", "arrow->api",
    ],
)
def test_a_planted_forbidden_import_fails_the_check(tmp_path: Path, module: str, planted: str, expected: str) -> None:
    root = _copy(tmp_path)
    path = root / "onnxgate" / module
    path.write_text(path.read_text() + f"\nimport {planted}  # planted by tests/test_layers.py\n")
    result = _lint(root)
    assert result.returncode != 0
    assert expected in result.stdout, result.stdout[-3000:]


def test_every_module_at_the_root_is_under_a_contract() -> None:
    """A core module missing from the 'core' contract could import anything unseen (sketch.py and _arrow.py were)."""
    text = (REPO / "pyproject.toml").read_text(encoding="utf-8")
    named = set(re.findall(r'"onnxgate\.(\w+)"', text))
    layered = {"api", "cli", "_commands"}  # in the "layers" contract, above the core
    roots = {p.stem for p in (REPO / "onnxgate").glob("*.py")} - {"__init__", "__main__"}
    assert sorted(roots - named - layered) == []


def test_the_spark_layer_is_checked_once_it_exists(tmp_path: Path) -> None:
    """spark/ sits beside deploy/: it may not import it (and nothing below may import spark)."""
    root = _copy(tmp_path)
    spark = root / "onnxgate" / "spark"
    if not spark.exists():
        spark.mkdir()
        (spark / "__init__.py").write_text('"""Spark, planted."""\n')
    (spark / "planted.py").write_text("import onnxgate.deploy  # planted by tests/test_layers.py\n")
    result = _lint(root)
    assert result.returncode != 0
    assert "onnxgate.spark is not allowed to import onnxgate.deploy" in result.stdout, result.stdout[-3000:]


def _private_imports_across_packages() -> list[str]:
    """``from onnxgate.<a>... import _name`` where the importer is outside package ``a``."""
    found = []
    for path in sorted((REPO / "onnxgate").rglob("*.py")):
        rel = path.relative_to(REPO / "onnxgate").parts
        home = rel[0] if len(rel) > 1 and rel[0] in PACKAGES else "<core>"
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.ImportFrom) or not (node.module or "").startswith("onnxgate."):
                continue
            parts = node.module.split(".")  # type: ignore[union-attr]
            owner = parts[1] if parts[1] in PACKAGES else "<core>"
            if owner == home:
                continue
            private_module = any(p.startswith("_") for p in parts[2:]) and owner != "<core>"
            names = [a.name for a in node.names if a.name.startswith("_") and not a.name.startswith("__")]
            if names or private_module:
                found.append(f"{'/'.join(rel)}:{node.lineno} from {node.module} import {names or '...'}")
    return found


def test_no_private_name_is_imported_across_packages() -> None:
    assert _private_imports_across_packages() == []
