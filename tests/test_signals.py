"""SIGTERM (docker stop, kill, a CI timeout) and Ctrl-C: the clean-ups run, and the message says what happened.

``onnxgate score`` stopped with SIGTERM left a hidden temporary file of 13 MB beside --out that no later run
removed, ``sql-dryrun --database NEW`` left the database it created, and a Ctrl-C inside DuckDB was reported as
"unexpected RuntimeError: Query interrupted (... please report it)".
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from onnxgate import cli
from onnxgate._onnx import _host_tag, atomic_write_bytes


def test_sigterm_raises_where_the_program_is_and_the_handlers_are_put_back() -> None:
    before = signal.getsignal(signal.SIGTERM)
    seen, restore = cli._interrupts()
    try:
        with pytest.raises(cli._Terminated):
            os.kill(os.getpid(), signal.SIGTERM)
            signal.sigtimedwait([], 0)  # let the handler run here
        assert seen == [signal.SIGTERM]
    finally:
        restore()
    assert signal.getsignal(signal.SIGTERM) is before


def test_a_library_error_after_ctrl_c_is_reported_as_an_interruption(monkeypatch: pytest.MonkeyPatch,
                                                                      capsys: pytest.CaptureFixture[str]) -> None:
    from onnxgate._commands import zoo

    seen: list[int] = []

    def interrupted_in_duckdb(_args: object) -> int:
        seen.append(signal.SIGINT)  # what the SIGINT handler records before DuckDB turns it into its own error
        raise RuntimeError("Query interrupted")

    monkeypatch.setattr(cli, "_interrupts", lambda: (seen, lambda: None))
    monkeypatch.setattr(zoo, "run_list", interrupted_in_duckdb)
    assert cli.main(["zoo", "list"]) == 130
    assert capsys.readouterr().err.strip() == "onnxgate zoo: interrupted"


def test_a_temporary_file_left_by_a_killed_writer_is_removed_by_the_next_write(tmp_path: Path) -> None:
    out = tmp_path / "scored.parquet"
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    stale = tmp_path / f".scored.parquet.{int(dead.stdout)}@{_host_tag()}.x1y2.tmp"
    stale.write_bytes(b"half")
    live = tmp_path / f".scored.parquet.{os.getpid()}@{_host_tag()}.x1y2.tmp"  # a writer still running
    live.write_bytes(b"busy")
    atomic_write_bytes(out, b"done")
    assert out.read_bytes() == b"done"
    assert not stale.exists() and live.exists()


def test_reports_are_written_all_or_none(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """--json ok.json --html on a full disk: the JSON saying "passed" was left behind by a run that exited 2."""
    import errno

    from onnxgate import _onnx

    calls: list[int] = []
    real = os.fsync

    def full_on_the_second(fd: int) -> None:
        calls.append(fd)
        if len(calls) == 2:
            raise OSError(errno.ENOSPC, "No space left on device")
        real(fd)

    monkeypatch.setattr(_onnx.os, "fsync", full_on_the_second)
    files = [(tmp_path / "report.json", '{"passed": true}'), (tmp_path / "report.html", "<html>")]
    with pytest.raises(OSError, match="No space left"):
        _onnx.atomic_write_texts(files)
    assert sorted(p.name for p in tmp_path.iterdir()) == []
    monkeypatch.setattr(_onnx.os, "fsync", real)
    _onnx.atomic_write_texts(files)
    assert (tmp_path / "report.json").read_text() == '{"passed": true}' and (tmp_path / "report.html").exists()
