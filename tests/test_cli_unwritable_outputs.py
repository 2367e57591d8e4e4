"""Every command writing into a folder it may not write refuses cleanly: exit 2, one line naming the option and
the fix, nothing written. Tests run as root too, whom a chmod does not stop: a folder's refusal is simulated where the
operating system gives it, ``os.access`` (the check before the work) or the write itself (``os.open``/``os.mkdir``,
as ``/sys`` refuses root). Before, sweep --json and sql-dryrun --database had no check before the work (sweep ran
every opset, then failed), and a write that failed said "cannot use '/sys/r.json': Permission denied. Check that the
path exists, is a file where a file is expected ...", naming no option."""

from __future__ import annotations

import errno
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

import onnxgate as og
from onnxgate.cli import main


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A linear model of three float32 columns: model.skops, model.onnx, rows.parquet, rows.npy and its SQL
    package (sql/)."""
    import skops.io as sio
    from sklearn.linear_model import LinearRegression

    folder = tmp_path_factory.mktemp("unwritable")
    X = pd.DataFrame(np.random.default_rng(0).normal(size=(30, 3)).astype(np.float32), columns=["a", "b", "c"])
    model = LinearRegression().fit(X, X.sum(axis=1))
    sio.dump(model, folder / "model.skops")
    og.convert(model, X).save(folder / "model.onnx")
    X.to_parquet(folder / "rows.parquet")
    np.save(folder / "rows.npy", X.to_numpy())
    assert main(["package", str(folder / "model.onnx"), "--target", "sql-edge-2.0", "--adapt",
                 "-o", str(folder / "sql")]) == 0
    return folder


#: case id -> (the command, writing into the folder given; the option named)
COMMANDS: dict[str, tuple[Callable[[Path, Path], list[str]], str]] = {
    "convert": (lambda f, ro: ["convert", str(f / "model.skops"), "--sample", str(f / "rows.parquet"),
                               "-o", str(ro / "m.onnx")], "-o/--output"),
    "validate-json": (lambda f, ro: ["validate", str(f / "model.onnx"), "--json", str(ro / "r.json")], "--json"),
    "sweep-json": (lambda f, ro: ["sweep", str(f / "model.skops"), "--sample", str(f / "rows.parquet"),
                                  "--opsets", "13", "--json", str(ro / "s.json")], "--json"),
    "package": (lambda f, ro: ["package", str(f / "model.onnx"), "--target", "container", "-o", str(ro / "pkg")],
                "-o/--out"),
    "score": (lambda f, ro: ["score", str(f / "model.onnx"), "--data", str(f / "rows.parquet"),
                             "--out", str(ro / "s.parquet")], "--out"),
    "zoo-export": (lambda f, ro: ["zoo", "export", "sklearn-iris-logreg", "-o", str(ro / "z")], "-o/--output"),
    "sql-dryrun-database": (lambda f, ro: ["sql-dryrun", str(f / "sql"), "--data", str(f / "rows.npy"),
                                           "--database", str(ro / "d.duckdb")], "--database"),
}


def _under(path: Any, folder: Path) -> bool:
    try:
        return isinstance(path, (str, os.PathLike)) and Path(os.path.abspath(os.fspath(path))).is_relative_to(folder)
    except TypeError:  # a file descriptor
        return False


@pytest.mark.parametrize("case", list(COMMANDS))
def test_a_folder_the_user_may_not_write_is_refused_before_the_work(
        case: str, files: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    # os.access as a user sees a folder without write permission (root's says yes to any folder)
    monkeypatch.chdir(tmp_path)
    ro = tmp_path / "ro"
    ro.mkdir()
    access = os.access

    def no_writes_there(path: Any, mode: int, *args: Any, **kwargs: Any) -> bool:
        if mode & os.W_OK and _under(path, ro):
            return False
        return access(path, mode, *args, **kwargs)

    monkeypatch.setattr(os, "access", no_writes_there)
    argv, flag = COMMANDS[case]
    assert main(argv(files, ro)) == 2
    captured = capsys.readouterr()
    err = captured.err.strip()
    assert "Traceback" not in err and len(err.splitlines()) == 1, err
    assert f"cannot write {flag.split('/')[0]} " in err and "is not writable; give" in err, err
    assert "a path in a folder you may write" in err, err
    assert captured.out == "", captured.out  # refused before anything ran (sweep printed its matrix first)
    assert list(ro.iterdir()) == []


@pytest.mark.parametrize("case", [c for c in COMMANDS if c != "sql-dryrun-database"])  # DuckDB opens its own file
def test_a_folder_that_refuses_the_write_itself_names_the_option_to_change(
        case: str, files: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    # the check before the work passes (os.access says yes, as it does to root under /sys); the write is refused
    monkeypatch.chdir(tmp_path)
    ro = tmp_path / "ro"
    ro.mkdir()
    real_open, real_mkdir = os.open, os.mkdir

    def refuse(real: Callable[..., Any]) -> Callable[..., Any]:
        def call(path: Any, *args: Any, **kwargs: Any) -> Any:
            if _under(path, ro):
                raise PermissionError(errno.EACCES, "Permission denied", os.fspath(path))
            return real(path, *args, **kwargs)

        return call

    monkeypatch.setattr(os, "open", refuse(real_open))
    monkeypatch.setattr(os, "mkdir", refuse(real_mkdir))
    argv, flag = COMMANDS[case]
    assert main(argv(files, ro)) == 2
    err = capsys.readouterr().err.strip()
    assert "Traceback" not in err and len(err.splitlines()) == 1, err
    assert f"error: cannot write {flag} {str(ro)!r}" not in err  # the path given, not its folder
    assert f"error: cannot write {flag} '{ro}/" in err and "Permission denied" in err, err
    assert f"Give {flag} a path in a folder you may write" in err, err
    assert list(ro.iterdir()) == []
