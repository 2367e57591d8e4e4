"""Every code block in README.md and docs/ runs, and the output a page shows is the output it gets.

The rules a page follows (docs/contributing-docs.md says the same for writers):

- A ```` ```python ```` block runs. The blocks of one page run in order in one namespace, in a fresh temporary
  folder that is the current directory, like cells of a notebook.
- A ```` ```bash ```` block runs with ``bash -euo pipefail`` in the same folder, with the virtualenv's ``bin`` first
  on ``PATH`` (so ``onnxgate`` is this checkout's).
- A ```` ```output ```` block right after a python or bash block is what that block prints: each of its lines must
  appear in the printed text, in order (``...`` inside a line matches anything; blank lines are ignored).
- Blocks that show something not to run are fenced as ```` ```console ```` (a command to type on your own
  machine, such as the quick start, which CI itself runs), ```` ```text ````, ```` ```toml ````, ```` ```yaml ````,
  ```` ```json ```` or ```` ```sql ````. Nothing else is skipped.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
RUN = {"python", "bash"}
SHOWN = {"console", "text", "toml", "yaml", "json", "sql", "output", "ini", "xml", "html", "mermaid", ""}
FENCE = re.compile(r"^(?P<indent>[ ]*)(?P<fence>```+)(?P<info>[^`\n]*)$")


@dataclass
class Block:
    lang: str
    code: str
    line: int
    expected: str | None = None


def pages() -> list[Path]:
    found = [REPO / "README.md", *sorted((REPO / "docs").rglob("*.md"))]
    return [p for p in found if p.is_file()]


def blocks(path: Path) -> list[Block]:
    """The fenced blocks of a page, with the ``output`` block attached to the block before it."""
    lines = path.read_text(encoding="utf-8").splitlines()
    result: list[Block] = []
    i = 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        fence, indent = m["fence"], len(m["indent"])
        info = m["info"].strip()
        lang = info.split()[0].strip("{}.") if info else ""
        start = i + 1
        i += 1
        body = []
        while i < len(lines) and not lines[i].strip().startswith(fence):
            body.append(lines[i][indent:] if lines[i][:indent].strip() == "" else lines[i])
            i += 1
        i += 1
        code = "\n".join(body) + "\n"
        if lang == "output":
            if not result or result[-1].lang not in RUN or result[-1].expected is not None:
                raise AssertionError(f"{path}:{start}: an output block must follow a python or bash block")
            result[-1].expected = code
            continue
        if lang not in RUN and lang not in SHOWN:
            raise AssertionError(
                f"{path}:{start}: code block language {lang!r} is neither run ({sorted(RUN)}) nor marked as "
                f"shown only ({sorted(SHOWN)})"
            )
        result.append(Block(lang, code, start))
    return result


def _case(path: Path) -> object:
    runnable = [b for b in blocks(path) if b.lang in RUN]
    rel = path.relative_to(REPO).as_posix()
    return pytest.param(path, id=f"{rel}[{len(runnable)}-blocks]")


CASES = [_case(p) for p in pages() if any(b.lang in RUN for b in blocks(p))]


def check_output(expected: str, got: str, where: str) -> None:
    got_lines = [" ".join(line.split()) for line in got.splitlines()]
    pos = 0
    for want in expected.splitlines():
        want = " ".join(want.split())
        if not want:
            continue
        pattern = re.compile(".*".join(re.escape(part) for part in want.split("...")))
        while pos < len(got_lines) and not pattern.fullmatch(got_lines[pos]):
            pos += 1
        if pos == len(got_lines):
            raise AssertionError(f"{where}: the page shows the line {want!r}, the code did not print it "
                                 f"(in order). It printed:\n{got}")
        pos += 1


def test_every_page_names_its_blocks() -> None:
    """Every block is either run or deliberately shown: a new language cannot slip past the runner."""
    total = sum(len([b for b in blocks(p) if b.lang in RUN]) for p in pages())
    assert total >= 20, f"only {total} runnable blocks found in README.md and docs/"


@pytest.mark.slow
@pytest.mark.parametrize("path", CASES)
def test_page_code_runs(path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    bindir = str(Path(sys.executable).parent)
    monkeypatch.setenv("PATH", bindir + os.pathsep + os.environ.get("PATH", ""))
    monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", "3")
    namespace: dict[str, object] = {"__name__": "__docs__"}
    rel = path.relative_to(REPO).as_posix()
    for block in blocks(path):
        where = f"{rel}:{block.line}"
        if block.lang == "python":
            out = io.StringIO()
            with contextlib.redirect_stdout(out):
                try:
                    exec(compile(block.code, where, "exec"), namespace)
                except Exception as err:
                    raise AssertionError(f"{where}: the python block raised {type(err).__name__}: {err}") from err
            printed = out.getvalue()
        elif block.lang == "bash":
            proc = subprocess.run(
                ["bash", "-euo", "pipefail", "-c", block.code],
                capture_output=True, text=True, timeout=600, cwd=tmp_path,
            )
            printed = proc.stdout
            if proc.returncode != 0:
                raise AssertionError(
                    f"{where}: the bash block exited {proc.returncode}\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
                )
        else:
            continue
        if block.expected is not None:
            check_output(block.expected, printed, where)
