"""Outputs are written atomically and never overwritten unless asked.

Each writer is interrupted midway (a ``KeyboardInterrupt`` or ``OSError`` raised by a patched write
primitive): afterwards neither a partial target nor a temporary file may remain, and a file that was
already there keeps its exact bytes.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import onnxgate._onnx as onnx_helpers
from onnxgate.errors import OutputExistsError

ORIGINAL = b"the user's precious file\n"


def _leftovers(folder: Path) -> list[str]:
    """Temporary files (``*.tmp``) and hidden staging folders that a clean write never leaves behind."""
    return sorted(
        str(p.relative_to(folder))
        for p in folder.rglob("*")
        if p.suffix == ".tmp" or ".tmp" in p.name or (p.is_dir() and p.name.startswith("."))
    )


@pytest.fixture(scope="module")
def iris() -> tuple[Any, Any]:
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    X, y = load_iris(return_X_y=True)
    return LogisticRegression(max_iter=300).fit(X, y), X


@pytest.fixture(scope="module")
def conversion(iris: tuple[Any, Any]) -> Any:
    import onnxgate as og

    model, X = iris
    return og.convert(model, X[:10], opset=13)


def _for_target(iris: tuple[Any, Any], target: str) -> Any:
    import onnxgate as og

    model, X = iris
    return og.convert(model, X[:10], target=target)


class _HalfWriter:
    """A file object that writes half of what it is given, then fails like a full disk or a Ctrl-C."""

    def __init__(self, handle: Any, exc: BaseException) -> None:
        self._handle = handle
        self._exc = exc

    def write(self, data: bytes) -> int:
        self._handle.write(data[: len(data) // 2])
        self._handle.flush()
        raise self._exc

    def __getattr__(self, name: str) -> Any:
        return getattr(self._handle, name)

    def __enter__(self) -> _HalfWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self._handle.close()


@pytest.fixture(params=[KeyboardInterrupt(), OSError(28, "No space left on device")], ids=["ctrl-c", "disk-full"])
def half_writes(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[type]:
    """Make every atomic write in onnxgate._onnx fail after writing half its bytes."""
    real_fdopen = os.fdopen
    exc: BaseException = request.param

    def failing_fdopen(fd: int, *args: Any, **kwargs: Any) -> Any:
        return _HalfWriter(real_fdopen(fd, *args, **kwargs), exc)

    monkeypatch.setattr(onnx_helpers.os, "fdopen", failing_fdopen)
    yield type(exc)


def test_save_interrupted_leaves_nothing(conversion: Any, tmp_path: Path, half_writes: type) -> None:
    target = tmp_path / "model.onnx"
    with pytest.raises(half_writes):
        conversion.save(target)
    assert not target.exists(), "a half-written model was left at the target path"
    assert _leftovers(tmp_path) == []


def test_save_interrupted_keeps_the_old_file(conversion: Any, tmp_path: Path, half_writes: type) -> None:
    target = tmp_path / "model.onnx"
    target.write_bytes(ORIGINAL)
    with pytest.raises(half_writes):
        conversion.save(target, overwrite=True)
    assert target.read_bytes() == ORIGINAL
    assert _leftovers(tmp_path) == []


def test_interrupt_between_write_and_rename(
    conversion: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The whole file is written and flushed but the rename never happens: the target is untouched."""

    def interrupted(*_: Any) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(onnx_helpers.os, "replace", interrupted)
    target = tmp_path / "model.onnx"
    target.write_bytes(ORIGINAL)
    with pytest.raises(KeyboardInterrupt):
        conversion.save(target, overwrite=True)
    assert target.read_bytes() == ORIGINAL
    assert _leftovers(tmp_path) == []


def test_save_refuses_to_overwrite(conversion: Any, tmp_path: Path) -> None:
    target = tmp_path / "model.onnx"
    target.write_bytes(ORIGINAL)
    with pytest.raises(OutputExistsError, match=r"exists.*overwrite"):
        conversion.save(target)
    assert target.read_bytes() == ORIGINAL
    conversion.save(target, overwrite=True)
    assert target.read_bytes() != ORIGINAL
    assert onnx_helpers.load_model(target).graph.node, "the overwritten file is a complete model"


def test_save_to_a_symbolic_link_names_the_file_it_would_overwrite(conversion: Any, tmp_path: Path) -> None:
    """Before: "'.../model.onnx' exists; refusing to overwrite it", and overwrite=True wrote the file elsewhere."""
    real = tmp_path / "elsewhere" / "x.onnx"
    real.parent.mkdir()
    real.write_bytes(ORIGINAL)
    link = tmp_path / "model.onnx"
    link.symlink_to(real)
    with pytest.raises(OutputExistsError, match=re.escape(f"'{link}' (a symbolic link to '{real}': --force would "
                                                          f"overwrite '{real}' and keep the link) exists")):
        conversion.save(link)
    assert real.read_bytes() == ORIGINAL
    conversion.save(link, overwrite=True)
    assert link.is_symlink() and onnx_helpers.load_model(real).graph.node


@pytest.mark.parametrize("writer", ["bytes", "text"])
def test_atomic_writers_refuse_to_overwrite(writer: str, tmp_path: Path) -> None:
    target = tmp_path / "report.json"
    target.write_bytes(ORIGINAL)
    write: Callable[..., None] = (
        onnx_helpers.atomic_write_bytes if writer == "bytes" else onnx_helpers.atomic_write_text
    )
    payload: Any = b"{}" if writer == "bytes" else "{}"
    with pytest.raises(OutputExistsError):
        write(target, payload)
    assert target.read_bytes() == ORIGINAL


# -- the command line -------------------------------------------------------------------------------


def test_cli_convert_refuses_to_overwrite(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from onnxgate.cli import main

    out = tmp_path / "model.onnx"
    out.write_bytes(ORIGINAL)
    # The existing output is refused before the (absent) model file is even looked at.
    code = main(["convert", str(tmp_path / "model.skops"), "-o", str(out)])
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1, err
    assert "exists" in err and "--force" in err
    assert out.read_bytes() == ORIGINAL


def test_cli_report_file_refuses_to_overwrite(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from robustness_models import tiny_mlp_model

    from onnxgate.cli import main

    model = tmp_path / "model.onnx"
    model.write_bytes(tiny_mlp_model().SerializeToString())
    report = tmp_path / "report.json"
    report.write_bytes(ORIGINAL)
    code = main(["validate", str(model), "--target", "onnxruntime", "--json", str(report)])
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1, err
    assert report.read_bytes() == ORIGINAL


def test_cli_report_that_cannot_be_written_is_refused_before_any_is(tmp_path: Path,
                                                                    capsys: pytest.CaptureFixture[str]) -> None:
    # the JSON report was written ("passed": true) and the run then exited 2 on the JUnit path
    from robustness_models import tiny_mlp_model

    from onnxgate.cli import main

    model = tmp_path / "model.onnx"
    model.write_bytes(tiny_mlp_model().SerializeToString())
    (tmp_path / "taken").write_text("a file")
    code = main(["validate", str(model), "--json", str(tmp_path / "r.json"), "--junit", str(tmp_path / "taken/x.xml")])
    err = capsys.readouterr().err
    assert code == 2 and "cannot write --junit" in err and "is a file, not a folder" in err, err
    assert not (tmp_path / "r.json").exists()


def test_cli_report_file_interrupted_leaves_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from robustness_models import tiny_mlp_model

    from onnxgate.cli import main

    model = tmp_path / "model.onnx"
    model.write_bytes(tiny_mlp_model().SerializeToString())
    real_fdopen = os.fdopen
    monkeypatch.setattr(
        onnx_helpers.os, "fdopen", lambda fd, *a, **k: _HalfWriter(real_fdopen(fd, *a, **k), KeyboardInterrupt())
    )
    report = tmp_path / "out" / "report.json"
    code = main(["validate", str(model), "--target", "onnxruntime", "--json", str(report)])
    capsys.readouterr()
    assert code == 130
    assert not report.exists()
    assert _leftovers(tmp_path) == []


# -- zoo export and packages: multi-file outputs ---------------------------------------------------


def test_zoo_export_interrupted_leaves_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from onnxgate.zoo.export import export

    real_fdopen = os.fdopen
    monkeypatch.setattr(
        onnx_helpers.os, "fdopen", lambda fd, *a, **k: _HalfWriter(real_fdopen(fd, *a, **k), KeyboardInterrupt())
    )
    out = tmp_path / "export"
    with pytest.raises(KeyboardInterrupt):
        export("sklearn-iris-logreg", out)
    assert not out.exists() or not any(out.iterdir()), sorted(out.iterdir())
    assert _leftovers(tmp_path) == []


def test_zoo_export_refuses_non_empty_folder(tmp_path: Path) -> None:
    from onnxgate.zoo.export import export

    out = tmp_path / "export"
    out.mkdir()
    (out / "model.onnx").write_bytes(ORIGINAL)
    with pytest.raises(OutputExistsError, match="not empty"):
        export("sklearn-iris-logreg", out)
    assert (out / "model.onnx").read_bytes() == ORIGINAL


@pytest.mark.parametrize("target", ["sql-edge-2.0", "container"])
def test_package_refuses_non_empty_folder(target: str, iris: tuple[Any, Any], tmp_path: Path) -> None:
    import onnxgate as og

    conversion = _for_target(iris, target)
    out = tmp_path / "pkg"
    out.mkdir()
    (out / "keep.txt").write_bytes(ORIGINAL)
    with pytest.raises(OutputExistsError, match="not empty"):
        og.package(conversion, target=target, out=out)
    assert sorted(p.name for p in out.iterdir()) == ["keep.txt"]
    assert (out / "keep.txt").read_bytes() == ORIGINAL


@pytest.mark.slow
@pytest.mark.parametrize("target", ["sql-edge-2.0", "container"])
@pytest.mark.parametrize("nth_write", [1, 2, 3])
def test_package_interrupted_leaves_no_partial_file(
    target: str, nth_write: int, iris: tuple[Any, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Interrupt the n-th file write of a package: no temp file remains and no file is half-written."""
    import onnxgate as og

    conversion = _for_target(iris, target)
    calls = {"n": 0}
    real_fdopen = os.fdopen
    real_write_bytes, real_write_text = Path.write_bytes, Path.write_text

    def nth() -> bool:
        calls["n"] += 1
        return calls["n"] == nth_write

    def counting_fdopen(fd: int, *args: Any, **kwargs: Any) -> Any:
        handle = real_fdopen(fd, *args, **kwargs)
        return _HalfWriter(handle, KeyboardInterrupt()) if nth() else handle

    def counting_write_bytes(self: Path, data: Any) -> int:
        if nth():
            real_write_bytes(self, bytes(data)[: len(data) // 2])
            raise KeyboardInterrupt
        return real_write_bytes(self, data)

    def counting_write_text(self: Path, data: str, *args: Any, **kwargs: Any) -> int:
        if nth():
            real_write_text(self, data[: len(data) // 2], *args, **kwargs)
            raise KeyboardInterrupt
        return real_write_text(self, data, *args, **kwargs)

    # Packagers write through atomic_write (os.fdopen) or Path.write_* into a staging folder.
    monkeypatch.setattr(onnx_helpers.os, "fdopen", counting_fdopen)
    monkeypatch.setattr(Path, "write_bytes", counting_write_bytes)
    monkeypatch.setattr(Path, "write_text", counting_write_text)
    out = tmp_path / "pkg"
    try:
        og.package(conversion, target=target, out=out)
    except KeyboardInterrupt:
        pass
    else:
        pytest.fail(f"the package was written with {calls['n']} writes; the interrupt at write {nth_write} "
                    "was swallowed")
    assert calls["n"] == nth_write
    assert _leftovers(tmp_path) == []
    assert not out.exists() or not any(out.iterdir()), f"a partial package was left: {sorted(out.rglob('*'))}"


@pytest.mark.parametrize("exchange", ["renameat2", "two-renames"])
def test_a_folder_a_writer_makes_itself_appears_whole_or_not_at_all(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, exchange: str
) -> None:
    # what 'score --spark' writes through: a job failing half-way left its part files in --out
    if exchange == "two-renames":  # a kernel or filesystem without renameat2(RENAME_EXCHANGE)
        import ctypes

        def no_libc(*args: Any, **kwargs: Any) -> Any:
            raise OSError("no libc here")

        monkeypatch.setattr(ctypes, "CDLL", no_libc)
    out = tmp_path / "scored"
    with pytest.raises(RuntimeError), onnx_helpers.staged_folder(out) as staged:
        staged.mkdir()
        (staged / "part-0.parquet").write_bytes(b"half")
        raise RuntimeError("the job failed")
    assert not out.exists() and _leftovers(tmp_path) == []
    out.mkdir()
    (out / "old.parquet").write_bytes(ORIGINAL)
    with pytest.raises(OutputExistsError, match="pass --force"), onnx_helpers.staged_folder(out):
        pass
    with pytest.raises(RuntimeError), onnx_helpers.staged_folder(out, overwrite=True) as staged:
        staged.mkdir()
        raise RuntimeError("the job failed")
    assert [p.name for p in out.iterdir()] == ["old.parquet"] and (out / "old.parquet").read_bytes() == ORIGINAL
    with onnx_helpers.staged_folder(out, overwrite=True) as staged:
        staged.mkdir()
        (staged / "part-0.parquet").write_bytes(b"new")
    assert [p.name for p in out.iterdir()] == ["part-0.parquet"] and _leftovers(tmp_path) == []
