"""Every code block in README.md and docs/ runs, and the output a page shows is the output it gets.

The rules a page follows (no page for writers repeats them: this docstring is where they are written):

- A ```` ```python ```` block runs. The blocks of one page run in order in one namespace, in a fresh temporary
  folder that is the current directory, like cells of a notebook.
- A ```` ```python title="tests/test_model.py" ```` block is a file the reader saves, shown with its name above it:
  it is written to that path (relative, inside the folder), not run; later blocks with the same title add to the
  file, as a reader adds each section's code. A bash block of the page must then run it as the reader would
  (``pytest tests/test_model.py``), its output block showing the outcome. Pytest test code is written this way:
  executed as a cell it only defines functions that nothing calls, and an example that no longer works passes.
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
from pathlib import Path, PurePosixPath

import pytest

REPO = Path(__file__).resolve().parents[2]
RUN = {"python", "bash"}
SHOWN = {"console", "text", "toml", "yaml", "json", "sql", "output", "ini", "xml", "html", "mermaid", ""}
FENCE = re.compile(r"^(?P<indent>[ ]*)(?P<fence>```+)(?P<info>[^`\n]*)$")
TITLE = re.compile(r'\btitle="(?P<title>[^"]+)"')


@dataclass
class Block:
    lang: str
    code: str
    line: int
    expected: str | None = None
    saved_as: str | None = None  # a file the reader saves (``title="..."``), written there instead of run


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
            if (not result or result[-1].lang not in RUN or result[-1].expected is not None
                    or result[-1].saved_as is not None):
                raise AssertionError(f"{path}:{start}: an output block must follow a python or bash block that "
                                     f"runs (a saved file prints nothing: show the output of the command running it)")
            result[-1].expected = code
            continue
        if lang not in RUN and lang not in SHOWN:
            raise AssertionError(
                f"{path}:{start}: code block language {lang!r} is neither run ({sorted(RUN)}) nor marked as "
                f"shown only ({sorted(SHOWN)})"
            )
        title = TITLE.search(info)
        result.append(Block(lang, code, start, saved_as=title["title"] if title and lang == "python" else None))
    return result


def save(block: Block, folder: Path, started: set[str], where: str) -> None:
    """Write a saved block into ``folder``: the first block with its title starts the file, the next ones add to it."""
    assert block.saved_as is not None
    rel = PurePosixPath(block.saved_as)
    if rel.is_absolute() or ".." in rel.parts:
        raise AssertionError(f"{where}: a saved file's title must be a path inside the reader's project, "
                             f"found {block.saved_as!r}")
    target = folder / rel
    target.parent.mkdir(parents=True, exist_ok=True)
    text = target.read_text(encoding="utf-8") + "\n\n" + block.code if block.saved_as in started else block.code
    target.write_text(text, encoding="utf-8")
    started.add(block.saved_as)


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


def test_pytest_code_in_the_docs_is_run_by_pytest() -> None:
    """A page's pytest test (``def test_...``) is a saved file that a bash block runs with pytest, not a cell.

    Run as a cell, a test function is defined and never called: docs/testing.md's parametrize, fixture and property
    examples were (helper-411), so they could stop working with nothing failing.
    """
    cells = [f"{p.relative_to(REPO).as_posix()}:{b.line}" for p in pages() for b in blocks(p)
             if b.lang == "python" and b.saved_as is None and re.search(r"^\s*def test_", b.code, re.M)]
    assert not cells, f"pytest test code run as a notebook cell (give the block a title=\"tests/test_....py\"): {cells}"


@pytest.mark.slow
@pytest.mark.parametrize("path", CASES)
def test_page_code_runs(path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    bindir = str(Path(sys.executable).parent)
    monkeypatch.setenv("PATH", bindir + os.pathsep + os.environ.get("PATH", ""))
    monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", "3")
    namespace: dict[str, object] = {"__name__": "__docs__"}
    rel = path.relative_to(REPO).as_posix()
    started: set[str] = set()
    not_run: set[str] = set()
    for block in blocks(path):
        where = f"{rel}:{block.line}"
        if block.saved_as is not None:
            save(block, tmp_path, started, where)
            not_run.add(block.saved_as)
            continue
        if block.lang == "python":
            out = io.StringIO()
            with contextlib.redirect_stdout(out):
                try:
                    exec(compile(block.code, where, "exec"), namespace)
                except Exception as err:
                    raise AssertionError(f"{where}: the python block raised {type(err).__name__}: {err}") from err
            printed = out.getvalue()
        elif block.lang == "bash":
            not_run = {name for name in not_run if name not in block.code}
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
    assert not not_run, f"{rel}: the page saves {sorted(not_run)} and no later bash block runs it"
