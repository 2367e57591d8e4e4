"""The documentation site: generated pages are current, and the CLI reference covers what ``--help`` shows."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
CLI_PAGE = REPO / "docs" / "reference" / "cli.md"


def _help(*args: str) -> str:
    proc = subprocess.run([sys.executable, "-m", "onnxgate", *args, "--help"], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def _subcommands(text: str) -> list[str]:
    """Names listed under the subcommand metavar (``COMMAND``/``ACTION``) in ``--help``."""
    section = text.split("positional arguments:", 1)[1].split("\noptions:", 1)[0]
    names = re.findall(r"^    ([a-z][a-z\-]*)", section, flags=re.M)
    assert names, f"no subcommands in:\n{text}"
    return names


def _flags(text: str) -> set[str]:
    """Option strings from the ``options:`` section of ``--help`` (not from prose that mentions a flag)."""
    section = text.split("\noptions:", 1)[1]
    found = set()
    for line in section.splitlines():
        if re.match(r"^  -", line):
            found.update(re.findall(r"(?<![\w-])(--?[a-zA-Z][\w-]*)", line.strip().split("  ")[0]))
    return found


def test_cli_reference_lists_every_subcommand_and_flag() -> None:
    page = CLI_PAGE.read_text(encoding="utf-8")
    top = _help()
    missing = []
    commands = [(name,) for name in _subcommands(top)]
    commands += [("zoo", name) for name in _subcommands(_help("zoo"))]
    for flag in _flags(top):
        if f"`{flag}`" not in page:
            missing.append(f"onnxgate {flag}")
    for command in commands:
        heading = f"`onnxgate {' '.join(command)}`"
        if heading not in page:
            missing.append(heading)
            continue
        section = page.split(heading, 1)[1].split("\n## ", 1)[0]
        for flag in _flags(_help(*command)):
            if f"`{flag}`" not in section:
                missing.append(f"onnxgate {' '.join(command)} {flag}")
    assert not missing, f"docs/reference/cli.md lacks {sorted(missing)}; run: .venv/bin/python scripts/gen_docs.py"


@pytest.mark.slow
def test_generated_pages_are_current() -> None:
    proc = subprocess.run([sys.executable, str(REPO / "scripts" / "gen_docs.py"), "--check"], capture_output=True,
                          text=True, timeout=600, cwd=REPO)
    assert proc.returncode == 0, proc.stderr
