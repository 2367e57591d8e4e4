"""Writes that fail half-way, and a dry run that meets the user's own data (issue 13, items 3, 4 and 10).

* ``package --force`` builds the new package aside and swaps it in whole: a folder where a file
  goes, a full disk or a crash never leaves a mix of the old and the new package.
* A writer killed with ``kill -9`` leaves its ``.partial`` staging folder; the next write beside it
  removes it (a live writer's staging folder is left alone).
* A full disk is reported naming the user's path, and DuckDB leaves no new database file behind.
* DuckDB compares table names without case, so the dry run does too before replacing a table.
* A container package pins every service package, installed or not.
"""

from __future__ import annotations

import errno
import hashlib
import importlib.util
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from robustness_models import tiny_mlp_model

import onnxgate as og
from onnxgate.cli import main

ROOT = Path(__file__).resolve().parents[2]


def _model_file(folder: Path, name: str, shift: float = 0.0) -> Path:
    from onnx import numpy_helper

    model = tiny_mlp_model()
    b1 = model.graph.initializer[1]
    b1.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(b1) + np.float32(shift), b1.name))
    path = folder / name
    path.write_bytes(model.SerializeToString())
    return path


def _tree(folder: Path) -> dict[str, str]:
    return {
        p.relative_to(folder).as_posix(): (hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else "dir")
        for p in sorted(folder.rglob("*"))
    }


def _partials(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".partial"))


# -- item 4: --force swaps the whole package ---------------------------------------------------


def test_force_replaces_the_whole_package_even_where_a_file_became_a_folder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    old, new = _model_file(tmp_path, "old.onnx"), _model_file(tmp_path, "new.onnx", shift=1.0)
    out = tmp_path / "pkg"
    assert main(["package", str(old), "--target", "container", "-o", str(out)]) == 0
    (out / "swagger3.json").unlink()
    (out / "swagger3.json").mkdir()  # the case: the rename of this one file used to fail
    (out / "swagger3.json" / "x").write_text("x")
    (out / "notes.txt").write_text("mine")
    capsys.readouterr()
    assert main(["package", str(new), "--target", "container", "-o", str(out), "--force"]) == 0, capsys.readouterr().err
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["model"]["sha256"] == hashlib.sha256((out / "model.onnx").read_bytes()).hexdigest()
    assert (out / "model.onnx").read_bytes() != (tmp_path / "old.onnx").read_bytes()
    assert (out / "swagger3.json").is_file()
    assert (out / "notes.txt").read_text() == "mine", "the user's own file was lost"
    assert _partials(tmp_path) == []


def test_force_keeps_files_another_tools_manifest_lists(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """--force replaces the files an earlier onnxgate package listed in its manifest.json; a manifest.json another
    tool wrote (a web app's, listing its own files) made package --force delete src/, data.csv and notes.txt."""
    model = _model_file(tmp_path, "model.onnx")
    out = tmp_path / "app"
    (out / "src").mkdir(parents=True)
    (out / "src" / "main.js").write_text("code")
    (out / "data.csv").write_text("1,2\n")
    (out / "notes.txt").write_text("mine")
    (out / "manifest.json").write_text(json.dumps({"name": "my web app", "files": ["src", "data.csv", "notes.txt"]}))
    assert main(["package", str(model), "--target", "container", "-o", str(out), "--force"]) == 0, capsys.readouterr()
    assert (out / "src" / "main.js").read_text() == "code"
    assert (out / "data.csv").read_text() == "1,2\n"
    assert (out / "notes.txt").read_text() == "mine"
    # an earlier onnxgate package's own files are still replaced, not carried over: swagger3.json is listed there
    (out / "swagger3.json").unlink()
    (out / "stale.txt").write_text("old package")
    manifest = json.loads((out / "manifest.json").read_text())
    manifest["files"].append("stale.txt")
    (out / "manifest.json").write_text(json.dumps(manifest))
    assert main(["package", str(model), "--target", "container", "-o", str(out), "--force"]) == 0, capsys.readouterr()
    assert not (out / "stale.txt").exists() and (out / "swagger3.json").is_file()
    assert (out / "notes.txt").read_text() == "mine"


@pytest.mark.parametrize("target", ["container", "sql-edge-2.0"])
def test_a_failed_force_leaves_the_old_package_whole_and_names_the_path(
    target: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    old, new = _model_file(tmp_path, "old.onnx"), _model_file(tmp_path, "new.onnx", shift=1.0)
    out = tmp_path / "pkg"
    adapt = ["--adapt"] if target.startswith("sql") else []
    assert main(["package", str(old), "--target", target, "-o", str(out), *adapt]) == 0
    before = _tree(out)
    real = Path.write_text

    def full_disk(self: Path, *args: Any, **kwargs: Any) -> int:
        if self.name == "README.md":
            raise OSError(errno.ENOSPC, "No space left on device", str(self))
        return real(self, *args, **kwargs)

    monkeypatch.setattr(Path, "write_text", full_disk)
    capsys.readouterr()
    assert main(["package", str(new), "--target", target, "-o", str(out), "--force", *adapt]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "No space left on device" in err[0] and "Free some space" in err[0], err
    assert repr(str(out / "README.md")) in err[0], "the error must name the package's path, not a staging one"
    assert _tree(out) == before, "the old package changed"
    assert _partials(tmp_path) == []


# -- an output path that is a symbolic link -----------------------------------------------------


@pytest.fixture(scope="module")
def iris_files(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder holding the zoo's iris model (``model.skops``, ``model.onnx``, ``sample.npy``) and its rows as
    Parquet (``rows.parquet``)."""
    import pandas as pd

    folder = tmp_path_factory.mktemp("iris")
    assert main(["zoo", "export", "sklearn-iris-logreg", "-o", str(folder)]) == 0
    pd.DataFrame({"input": list(np.load(folder / "sample.npy"))}).to_parquet(folder / "rows.parquet")
    return folder


LINKED_OUTPUTS = {  # command: its arguments writing to "out", and whether "out" is a folder
    "convert": (["convert", "{d}/model.skops", "--sample", "{d}/sample.npy", "-o", "out"], False),
    "validate": (["validate", "{d}/model.onnx", "--json", "out"], False),
    "score": (["score", "{d}/model.onnx", "--data", "{d}/rows.parquet", "--out", "out"], False),
    "package": (["package", "{d}/model.onnx", "--target", "container", "-o", "out"], True),
}


@pytest.mark.parametrize("command", list(LINKED_OUTPUTS))
def test_an_output_that_is_a_symbolic_link_is_refused_naming_the_file_force_would_overwrite(
        iris_files: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
        command: str) -> None:
    """Before: "'out' exists; pass --force to overwrite it", where ls shows 'out -> elsewhere/x': --force then
    overwrote elsewhere/x, a file the message never named. --force still writes where the link points (as ``>``
    and ``cp`` do) and keeps the link; the refusal now says so."""
    monkeypatch.chdir(tmp_path)
    template, is_folder = LINKED_OUTPUTS[command]
    args = [arg.format(d=iris_files) for arg in template]
    real = tmp_path / "elsewhere" / "x"
    if is_folder:
        real.mkdir(parents=True)
        (real / "notes.txt").write_text("mine")
    else:
        real.parent.mkdir()
        real.write_text("old")
    Path("out").symlink_to("elsewhere/x")
    assert main(args) == 2
    err = capsys.readouterr().err
    does = "write into" if is_folder else "overwrite"
    assert f"'out' (a symbolic link to 'elsewhere/x': --force would {does} {str(real)!r} and keep the link)" in err
    assert err.count("\n") == 1, err
    assert (real / "notes.txt" if is_folder else real).read_text() == ("mine" if is_folder else "old")
    assert main([*args, "--force"]) == 0, capsys.readouterr().err
    assert os.readlink("out") == "elsewhere/x"
    if is_folder:
        assert (real / "manifest.json").is_file() and (real / "notes.txt").read_text() == "mine"
    else:
        assert real.stat().st_size > 3


@pytest.mark.parametrize("command", ["score", "save"])
def test_a_link_to_a_folder_where_a_file_is_written_promises_no_force_that_refuses(
        iris_files: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
        command: str) -> None:
    """Before: "'out' (a symbolic link to 'elsewhere/d': --force would write into '.../elsewhere/d' and keep the
    link) exists", and --force then refused it: a file is never written over a folder. The link and its folder are
    named, without the promise."""
    monkeypatch.chdir(tmp_path)
    real = tmp_path / "elsewhere" / "d"
    real.mkdir(parents=True)
    Path("out").symlink_to("elsewhere/d")
    said = f"'out' (a symbolic link to 'elsewhere/d', the folder {str(real)!r}) exists"
    if command == "save":
        from sklearn.datasets import load_iris
        from sklearn.linear_model import LogisticRegression

        rows, y = load_iris(return_X_y=True)
        conversion = og.convert(LogisticRegression(max_iter=300).fit(rows, y), rows[:10])
        with pytest.raises(og.OutputExistsError) as refused:
            conversion.save("out")
        assert said in str(refused.value) and "--force would" not in str(refused.value), refused.value
        with pytest.raises(IsADirectoryError):
            conversion.save("out", overwrite=True)
    else:
        args = [arg.format(d=iris_files) for arg in LINKED_OUTPUTS["score"][0]]
        assert main(args) == 2
        err = capsys.readouterr().err
        assert said in err and "--force would" not in err, err
        assert main([*args, "--force"]) == 2
        assert "'out' is a folder, and score writes a file" in capsys.readouterr().err
    assert os.readlink("out") == "elsewhere/d" and list(real.iterdir()) == []


LOOPED_OUTPUTS = {  # each option that names what a command writes, writing to "{out}"
    "convert -o": ["convert", "{d}/model.skops", "--sample", "{d}/sample.npy", "-o", "{out}"],
    "validate --json": ["validate", "{d}/model.onnx", "--json", "{out}"],
    "validate --junit": ["validate", "{d}/model.onnx", "--junit", "{out}"],
    "validate --markdown": ["validate", "{d}/model.onnx", "--markdown", "{out}"],
    "validate --html": ["validate", "{d}/model.onnx", "--html", "{out}"],
    "score --out": ["score", "{d}/model.onnx", "--data", "{d}/rows.parquet", "--out", "{out}"],
    "sweep --json": ["sweep", "{d}/model.skops", "--sample", "{d}/sample.npy", "--opsets", "13", "--json", "{out}"],
    "sweep --html": ["sweep", "{d}/model.skops", "--sample", "{d}/sample.npy", "--opsets", "13", "--html", "{out}"],
    "package -o": ["package", "{d}/model.onnx", "--target", "container", "-o", "{out}"],
    "zoo export -o": ["zoo", "export", "sklearn-iris-logreg", "-o", "{out}"],
}


@pytest.mark.parametrize("through", [False, True], ids=["the-link", "a-path-through-it"])
@pytest.mark.parametrize("command", list(LOOPED_OUTPUTS))
def test_a_symbolic_link_loop_as_an_output_is_refused_saying_so_with_force_too(
        iris_files: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
        command: str, through: bool) -> None:
    """``ln -s again out; ln -s out again``. Before: validate's reports and score --out ended in "unexpected
    RuntimeError: Symlink loop ... please report it" (Path.resolve), zoo export in "'out': File exists", package in
    "'.out.<pid>.partial/out': Not a directory", convert and sweep in "exists; pass --force", which then failed too."""
    monkeypatch.chdir(tmp_path)
    Path("out").symlink_to("again")
    Path("again").symlink_to("out")
    out = "out/report" if through else "out"
    args = [arg.format(d=iris_files, out=out) for arg in LOOPED_OUTPUTS[command]]
    kind = "folder" if through or command.startswith(("package", "zoo")) else "file"
    said = ("'out/report': 'out'" if through else "'out'") + (" is a symbolic link that leads back to itself (to "
                                                             f"'again'); remove it (rm out) or point it at a {kind}: "
                                                             "ln -sfn TARGET out")
    for force in ([], ["--force"]):
        assert main([*args, *force]) == 2
        err = capsys.readouterr().err
        assert said in err and err.count("\n") == 1, err
    assert os.readlink("out") == "again" and os.readlink("again") == "out"
    assert sorted(os.listdir()) == ["again", "out"]


@pytest.mark.parametrize("writer", ["save", "package"])
def test_a_symbolic_link_loop_given_to_the_library_is_refused_saying_so(
        iris_files: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, writer: str) -> None:
    """Conversion.save and og.package (atomic_write, write_folder_atomically), without the CLI's check before them:
    before, Conversion.save(overwrite=True) raised "RuntimeError: Symlink loop" and og.package "NotADirectoryError"
    naming its staging folder."""
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    monkeypatch.chdir(tmp_path)
    Path("out").symlink_to("again")
    Path("again").symlink_to("out")
    rows, y = load_iris(return_X_y=True)
    kind = "file" if writer == "save" else "folder"
    said = f"'out' is a symbolic link that leads back to itself .*point it at a {kind}: ln -sfn TARGET out"
    for overwrite in (False, True):
        with pytest.raises(og.OutputExistsError, match=said):
            if writer == "save":
                og.convert(LogisticRegression(max_iter=300).fit(rows, y), rows[:10]).save("out", overwrite=overwrite)
            else:
                og.package(iris_files / "model.onnx", target="container", out="out", overwrite=overwrite)
    assert sorted(os.listdir()) == ["again", "out"]


FILLED_FOLDER_WRITERS = {  # each writer of a package, writing the iris model into "out"
    "og.package": lambda model: og.package(model, target="container", out="out"),
    "package_container": lambda model: _packager("container")(model, out="out"),
    "package_mlflow": lambda model: _packager("mlflow")(model, out="out"),
    "write_folder_atomically": lambda model: _write_folder("out", {"model.onnx": model.read_bytes()}),
}


def _packager(name: str) -> Any:
    """``package_<name>`` of ``onnxgate.deploy.<name>``, called directly (not through og.package), for its target."""
    from functools import partial

    from onnxgate.targets import resolve_target

    module = importlib.import_module(f"onnxgate.deploy.{name}")
    return partial(getattr(module, f"package_{name}"), target=resolve_target(name))


def _write_folder(folder: str, files: dict[str, bytes]) -> Path:
    from onnxgate._onnx import write_folder_atomically

    return write_folder_atomically(folder, files)


@pytest.mark.parametrize("writer", list(FILLED_FOLDER_WRITERS))
def test_every_package_writer_refuses_a_folder_that_is_not_empty_in_the_same_words(
        iris_files: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, writer: str) -> None:
    """One refusal, written once: write_folder_atomically (the SQL packager's only check when called directly) named
    the folder by its absolute path where the others name it as given."""
    if writer == "package_mlflow" and importlib.util.find_spec("mlflow") is None:
        pytest.skip("mlflow is not installed (onnxgate[mlflow])")
    monkeypatch.chdir(tmp_path)
    Path("out").mkdir()
    Path("out/notes.txt").write_text("mine")
    with pytest.raises(og.OutputExistsError) as refused:
        FILLED_FOLDER_WRITERS[writer](iris_files / "model.onnx")
    assert str(refused.value) == ("'out' is not empty; refusing to write into it. Pass overwrite=True (CLI: --force) "
                                  "or choose a new folder.")
    assert os.listdir("out") == ["notes.txt"]


@pytest.mark.parametrize("leads_to", ["a file", "a folder"])
@pytest.mark.parametrize("command", ["package", "zoo export"])
def test_a_folder_output_given_as_a_symbolic_link_is_refused_naming_where_it_leads(
        iris_files: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
        command: str, leads_to: str) -> None:
    """Before: package -o at a link to a file said "'out' is a file", zoo export -o "'out': Not a directory" and, at
    a link to a folder, "'out' is not empty": neither named the file or folder elsewhere that --force would touch."""
    monkeypatch.chdir(tmp_path)
    real = tmp_path / "elsewhere" / "x"
    real.parent.mkdir()
    if leads_to == "a folder":
        real.mkdir()
        (real / "notes.txt").write_text("mine")
        said = f"'out' (a symbolic link to 'elsewhere/x': --force would write into {str(real)!r} and keep the link)"
    else:
        real.write_text("mine")
        said = f"'out' (a symbolic link to 'elsewhere/x', the file {str(real)!r}) is a file"
    Path("out").symlink_to("elsewhere/x")
    args = (["package", f"{iris_files}/model.onnx", "--target", "container", "-o", "out"] if command == "package"
            else ["zoo", "export", "sklearn-iris-logreg", "-o", "out"])
    assert main(args) == 2
    err = capsys.readouterr().err
    assert said in err and err.count("\n") == 1, err
    assert os.readlink("out") == "elsewhere/x"
    assert (real / "notes.txt" if leads_to == "a folder" else real).read_text() == "mine"
    if command == "zoo export" and leads_to == "a folder":
        assert main([*args, "--force"]) == 0, capsys.readouterr().err
        assert os.readlink("out") == "elsewhere/x" and (real / "model.onnx").is_file()


@pytest.mark.parametrize("command", ["package", "zoo export"])
def test_a_folder_output_given_as_a_symbolic_link_to_nothing_is_refused_saying_how_to_fix_it(
        iris_files: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
        command: str) -> None:
    """Before: package said "cannot use '.../.out.<pid>.partial/out': Not a directory", naming its staging folder,
    and zoo export "cannot use 'out': File exists"; --force cannot write a folder through the link either."""
    monkeypatch.chdir(tmp_path)
    Path("out").symlink_to("elsewhere/x")
    args = (["package", f"{iris_files}/model.onnx", "--target", "container", "-o", "out"] if command == "package"
            else ["zoo", "export", "sklearn-iris-logreg", "-o", "out"])
    said = (f"'out' (a symbolic link to 'elsewhere/x', which does not exist): a folder cannot be written through it; "
            f"create the folder it leads to (mkdir -p {tmp_path / 'elsewhere' / 'x'}) or remove the link (rm out)")
    for force in ([], ["--force"]):
        assert main([*args, *force]) == 2
        err = capsys.readouterr().err
        assert said in err and err.count("\n") == 1, err
    assert os.readlink("out") == "elsewhere/x" and os.listdir() == ["out"]


# -- item 10: kill -9 during package ----------------------------------------------------------

_SLOW_PACKAGE = """
import sys, time, pathlib
real = pathlib.Path.write_text
def slow(self, *a, **k):
    n = real(self, *a, **k)
    if self.name == "score.py":
        time.sleep(60)
    return n
pathlib.Path.write_text = slow
import onnxgate as og
og.package(sys.argv[1], target="container", out=sys.argv[2])
"""


def test_a_partial_folder_left_by_kill_9_is_cleaned_on_the_next_write(tmp_path: Path) -> None:
    model = _model_file(tmp_path, "m.onnx")
    out = tmp_path / "pkg"
    child = subprocess.Popen([sys.executable, "-c", _SLOW_PACKAGE, str(model), str(out)],
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 120
        while not any((p / "pkg" / "score.py").exists() for p in tmp_path.glob(".pkg.*.partial")):
            assert child.poll() is None, child.stderr.read() if child.stderr else ""
            assert time.monotonic() < deadline, "the child never started writing"
            time.sleep(0.05)
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
    assert _partials(tmp_path), "kill -9 should have left the staging folder"
    assert not out.exists()
    # a live writer's staging folder (this process's id) must survive the cleanup
    live = tmp_path / f".pkg.{os.getpid()}.live.partial"
    live.mkdir()
    og.package(str(model), target="container", out=out)
    assert (out / "manifest.json").is_file()
    assert _partials(tmp_path) == [live.name]


# -- item 3 and item 10: DuckDB ------------------------------------------------------------------


@pytest.fixture(scope="module")
def sql_package(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from onnxgate.deploy.adapt import adapt

    pytest.importorskip("duckdb")
    out = tmp_path_factory.mktemp("sql") / "pkg"
    og.package(adapt(tiny_mlp_model(), "sql-edge-2.0"), target="sql-edge-2.0", out=out, model_name="Pipeline")
    assert "[Pipeline_input]" in (out / "03_create_input_table.sql").read_text()
    return out


ROWS = np.random.default_rng(1).normal(size=(8, 4)).astype(np.float32)


def test_a_table_that_differs_only_in_case_is_not_replaced(
    sql_package: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import duckdb

    db = tmp_path / "mine.duckdb"
    con = duckdb.connect(str(db))
    con.execute('CREATE TABLE "PIPELINE_INPUT" (note VARCHAR)')
    con.execute("INSERT INTO \"PIPELINE_INPUT\" VALUES ('precious')")
    con.close()
    np.save(tmp_path / "x.npy", ROWS)
    code = main(["sql-dryrun", str(sql_package), "--data", str(tmp_path / "x.npy"), "--database", str(db)])
    err = capsys.readouterr().err
    assert code == 2, err
    assert "'PIPELINE_INPUT'" in err and "ignore case" in err
    con = duckdb.connect(str(db))
    try:
        assert con.execute('SELECT * FROM "PIPELINE_INPUT"').fetchall() == [("precious",)]
    finally:
        con.close()


def test_a_failed_dry_run_leaves_no_new_database_file(
    sql_package: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from onnxgate.deploy import duckdb_dryrun as dry

    def full_disk(*args: Any, **kwargs: Any) -> Any:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(dry, "_run_predict", full_disk)
    db = tmp_path / "new.duckdb"
    with pytest.raises(OSError, match="No space"):
        dry.dry_run(sql_package, ROWS, database=db)
    assert sorted(p.name for p in tmp_path.iterdir()) == [], "the failed run left a database file"


# -- item 10: requirements pinned without the serve extra ----------------------------------------


def test_container_pins_service_packages_that_are_not_installed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from importlib import metadata

    from onnxgate.deploy.pins import TESTED_VERSIONS

    real = metadata.version
    absent = {"uvicorn", "httptools", "uvloop", "orjson", "pysimdjson"}

    def version(dist: str) -> str:
        if dist in absent:
            raise metadata.PackageNotFoundError(dist)
        return real(dist)

    monkeypatch.setattr(metadata, "version", version)
    out = tmp_path / "pkg"
    og.package(str(_model_file(tmp_path, "m.onnx")), target="container", out=out)
    pins = dict(line.split("==") for line in (out / "requirements.txt").read_text().split())
    assert {"numpy", "onnxruntime", *absent} <= set(pins), pins
    for dist in absent:
        assert pins[dist] == TESTED_VERSIONS[dist]
    recorded = json.loads((out / "manifest.json").read_text())["service"]["requirements"]
    assert all(recorded[d] for d in absent), recorded


def test_tested_versions_match_constraints() -> None:
    spec = importlib.util.spec_from_file_location("update_pins", ROOT / "scripts" / "update_pins.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    expected = module.render((ROOT / "constraints.txt").read_text(encoding="utf-8"))
    assert (ROOT / "onnxgate" / "deploy" / "pins.py").read_text(encoding="utf-8") == expected, (
        "onnxgate/deploy/pins.py is out of date: run python scripts/update_pins.py"
    )


# -- a real full disk: a 1 MiB tmpfs, where this machine lets the tests mount one --------------------


@pytest.fixture
def tiny_disk(tmp_path: Path) -> Any:
    mount_point = tmp_path / "tiny"
    mount_point.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount_point)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (needs root): {done.stderr.strip()}")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", str(mount_point)], check=True)


def _big_model(folder: Path) -> Path:
    """A valid 2.4 MB model: more than the tiny disk holds."""
    from onnx import TensorProto, helper, numpy_helper

    weights = numpy_helper.from_array(np.ones((4, 150_000), np.float32), "W")
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["X", "W"], ["Y"])], "big",
        [helper.make_tensor_value_info("X", TensorProto.FLOAT, ["N", 4])],
        [helper.make_tensor_value_info("Y", TensorProto.FLOAT, ["N", 150_000])], [weights],
    )
    path = folder / "big.onnx"
    path.write_bytes(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], ir_version=8)
                     .SerializeToString())
    return path


def test_a_full_disk_keeps_the_old_package_and_names_the_path(tiny_disk: Path, tmp_path: Path) -> None:
    out = tiny_disk / "pkg"
    assert subprocess.run([sys.executable, "-m", "onnxgate", "package", str(_model_file(tmp_path, "m.onnx")),
                           "--target", "container", "-o", str(out)], capture_output=True).returncode == 0
    before = _tree(out)
    done = subprocess.run([sys.executable, "-m", "onnxgate", "package", str(_big_model(tmp_path)),
                           "--target", "container", "-o", str(out), "--force"],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "No space left on device" in lines[0] and str(out) in lines[0], done.stderr
    assert ".partial" not in lines[0]
    assert _tree(out) == before
    assert sorted(p.name for p in tiny_disk.iterdir()) == ["pkg"], "a staging folder was left on the full disk"


def test_a_full_disk_leaves_no_duckdb_file(tiny_disk: Path, sql_package: Path, tmp_path: Path) -> None:
    filler = tiny_disk / "filler"
    with filler.open("wb", buffering=0) as handle:  # fill it: DuckDB can still create a file, not write it
        try:
            while True:
                handle.write(bytes(4096))
        except OSError:
            pass
    np.save(tmp_path / "x.npy", ROWS)
    done = subprocess.run([sys.executable, "-m", "onnxgate", "sql-dryrun", str(sql_package), "--data",
                           str(tmp_path / "x.npy"), "--database", str(tiny_disk / "rows.duckdb")],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 2, done.stderr
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert sorted(p.name for p in tiny_disk.iterdir()) == ["filler"], "the failed run left a database file"
