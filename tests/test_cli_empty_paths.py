"""Bad input an outside tester (helper-190) found handled wrongly: a path given as '' (an unset shell variable)
read as 'not given' (validate passed against the default target, or skipped parity, exit 0) or as the working
folder (``zoo export -o '' --force`` replaced the user's model.onnx there); a ``.json`` file that is not
XGBoost's refused as "expected a file ending in one of [... '.json' ...]"; and ``package --data`` rows that do
not fit the model replaced by a row of zeros in the package's example request, with exit 0."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from onnxgate.cli import main


@pytest.fixture(scope="module")
def iris(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A zoo export: model.onnx, model.skops and sample.npy, and the rows as a CSV."""
    import numpy as np
    import pandas as pd

    folder = tmp_path_factory.mktemp("empty_paths") / "iris"
    assert main(["zoo", "export", "sklearn-iris-logreg", "-o", str(folder)]) == 0
    rows = pd.DataFrame(np.load(folder / "sample.npy"), columns=[f"input_{i}" for i in range(4)])
    rows.to_csv(folder / "rows.csv", index=False)
    return folder


def _args(iris: Path, case: str) -> list[str]:
    onnx, skops, rows = str(iris / "model.onnx"), str(iris / "model.skops"), str(iris / "rows.csv")
    return {
        "reference-and-data": ["validate", onnx, "--reference", "", "--data", ""],
        "target-file": ["validate", onnx, "--target-file", ""],
        "blank-reference": ["validate", onnx, "--reference", " ", "--data", rows],
        "model": ["validate", ""],
        "convert-output": ["convert", skops, "--sample", rows, "-o", ""],
        "zoo-output-force": ["zoo", "export", "sklearn-iris-logreg", "-o", "", "--force"],
        "dryrun-database": ["sql-dryrun", str(iris), "--data", rows, "--database", ""],
    }[case]


@pytest.mark.parametrize(("case", "says"), [
    ("reference-and-data", "--reference is empty"),  # before: exit 0, parity skipped
    ("target-file", "--target-file is empty"),  # before: exit 0 against the default target, onnxruntime
    ("blank-reference", "--reference is empty: expected a path, found ' '"),
    ("model", "MODEL is empty"),  # before: "found a folder: '.'"
    ("convert-output", "-o/--output is empty"),  # before: "-o '.' is a folder"
    ("zoo-output-force", "-o/--output is empty"),  # before: exit 0, the working folder's model.onnx replaced
    ("dryrun-database", "--database is empty"),  # before: "--database '.' is a folder"
])
def test_an_empty_path_is_refused_not_read_as_absent_or_as_here(iris: Path, case: str, says: str, tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    Path("model.onnx").write_text("mine", encoding="utf-8")
    assert main(_args(iris, case)) == 2
    err = capsys.readouterr().err
    assert says in err and "Give one (an unset shell variable reads as '')" in err, err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.onnx"]
    assert Path("model.onnx").read_text(encoding="utf-8") == "mine"


@pytest.mark.parametrize(("name", "content", "command", "says"), [
    ("m.json", '{"not": "xgboost"}', "validate", "a .json file is read as XGBoost's JSON model"),
    ("m.txt", "hello\n", "convert", "a .txt file is read as LightGBM's text model (it starts with 'tree'"),
])
def test_a_file_of_a_known_suffix_no_converter_reads_is_named_by_its_content(
        iris: Path, name: str, content: str, command: str, says: str, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    # before: "cannot tell which framework 'm.json' belongs to: expected a file ending in one of [..., '.json',
    # ...]": it ends in one of them
    monkeypatch.chdir(tmp_path)
    Path(name).write_text(content, encoding="utf-8")
    rows = str(iris / "rows.csv")
    args = (["validate", str(iris / "model.onnx"), "--reference", name, "--data", rows] if command == "validate"
            else ["convert", name, "--sample", rows, "-o", "out.onnx"])
    assert main(args) == 2
    err = capsys.readouterr().err
    assert says in err and f"this one starts with {content[:24].encode()!r}" in err, err
    assert "cannot tell which framework" not in err and "'.json'" not in err.split("another format")[-1]
    assert not Path("out.onnx").exists()


@pytest.mark.parametrize("target", ["container", "mlflow"])
@pytest.mark.parametrize(("rows", "says"), [
    ("input_0,input_1\n1,2\n", "input 'input' expects 4 values per row [?,4], the data has 2"),
    ("input_0,input_1,input_2,input_3\na,b,c,d\n", "the data holds text ('a')"),
], ids=["two-of-four-columns", "text"])
def test_package_refuses_example_rows_that_do_not_fit_the_model(iris: Path, target: str, rows: str, says: str,
                                                                tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    # before: exit 0, and the package's example request (sample-request.json, swagger, MLflow's input example)
    # was a row of zeros, [[0.0, 0.0, 0.0, 0.0]], or no example at all: the rows given were dropped unsaid
    if target == "mlflow":
        pytest.importorskip("mlflow")
    monkeypatch.chdir(tmp_path)
    Path("rows.csv").write_text(rows, encoding="utf-8")
    assert main(["package", str(iris / "model.onnx"), "-t", target, "-o", "pkg", "--data", "rows.csv"]) == 2
    err = capsys.readouterr().err
    assert "the rows of the package's example request (data=, CLI: --data) do not fit the model" in err, err
    assert says in err and len(err.strip().splitlines()) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["rows.csv"]


def test_package_rows_that_fit_are_its_example(iris: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import json

    monkeypatch.chdir(tmp_path)
    assert main(["package", str(iris / "model.onnx"), "-t", "container", "-o", "pkg", "--data",
                 str(iris / "rows.csv")]) == 0
    example: Any = json.loads(Path("pkg/sample-request.json").read_text(encoding="utf-8"))
    assert example["data"][0] == pytest.approx([5.1, 3.5, 1.4, 0.2])


def _free_port() -> str:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return str(sock.getsockname()[1])


def _broken_package(iris: Path) -> Path:
    """A container package folder whose score.py does not compile: ``serve`` stops at loading it (exit 2), so a
    command line it accepts never serves."""
    folder = Path("broken")
    folder.mkdir()
    (folder / "model.onnx").write_bytes((iris / "model.onnx").read_bytes())
    (folder / "score.py").write_text("def init(:\n", encoding="utf-8")
    # a manifest as 'onnxgate package' writes one (serve refuses a folder without, before its score.py is loaded)
    (folder / "manifest.json").write_text(json.dumps({
        "target": "container", "model": {"file": "model.onnx", "sha256": "0" * 64},
        "signature": {"inputs": [], "outputs": []}, "service": {"name": "broken"}}), encoding="utf-8")
    return folder


def _text_args(iris: Path, case: str, value: str) -> list[str]:
    onnx, rows = str(iris / "model.onnx"), str(iris / "rows.csv")
    sql = ["package", onnx, "-t", "sql-edge-2.0", "--adapt", "-o", "pkg"]
    return {
        "model-name": [*sql, "--model-name", value],  # before: exit 0, the model stored as 'model'
        "model-version": [*sql, "--model-version", value],  # before: exit 0, version 1
        "description": [*sql, "--description", value],  # before: exit 0, the default description
        "columns": [*sql, "--columns", value],  # before: exit 0, the default column names
        "spark": ["validate", onnx, "--reference", str(iris / "model.skops"), "--data", rows,
                  "--spark", value],  # before: exit 0, validated without Spark
        # before: served with no key; bound every address
        "api-key-env": ["serve", "broken", "--port", _free_port(), "--api-key-env", value],
        "host": ["serve", "broken", "--port", _free_port(), "--host", value],
    }[case]


@pytest.mark.parametrize("value", ["", " "], ids=["empty", "blank"])
@pytest.mark.parametrize(("case", "says"), [
    ("model-name", "--model-name is empty: expected a name"),
    ("model-version", "--model-version is empty: expected a version"),
    ("description", "--description is empty: expected a description"),
    ("columns", "--columns is empty: expected column names"),
    ("spark", "--spark is empty: expected a Spark master URL"),
    ("api-key-env", "--api-key-env is empty: expected an environment variable name"),
    ("host", "--host is empty: expected an address"),
], ids=lambda v: "" if " " in v else v)
def test_an_empty_text_option_is_refused_not_read_as_absent(iris: Path, case: str, says: str, value: str,
                                                            tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    _broken_package(iris)
    assert main(_text_args(iris, case, value)) == 2
    err = capsys.readouterr().err
    assert says in err and f"found {value!r}. Give one (an unset shell variable reads as '')" in err, err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["broken"]


@pytest.mark.parametrize(("workers", "says"), [
    ("100000", "--workers must be at most 64 (one per core of a 64-core host; each worker loads the model), found "
               "100000"),
    ("65", "--workers must be at most 64"),
    ("64", "its score.py does not run"),  # the cap itself is taken: serving stops at loading the package
], ids=["100000", "65", "64"])
def test_serve_refuses_more_workers_than_its_cap_before_anything_starts(iris: Path, workers: str, says: str,
                                                                       tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch,
                                                                       capsys: pytest.CaptureFixture[str]) -> None:
    # before: --workers 100000 was taken, and the supervisor started spawning processes, each loading the model
    # (this package's score.py does not compile, so that the command stops at loading it)
    from onnxgate.deploy.server import MAX_WORKERS

    assert MAX_WORKERS == 64
    monkeypatch.chdir(tmp_path)
    _broken_package(iris)
    assert main(["serve", "broken", "--port", _free_port(), "--workers", workers]) == 2
    err = capsys.readouterr().err
    assert says in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
    # the container's server.py checks its arguments with the same function
    import argparse

    from onnxgate.deploy.server import argument_error

    shared = argument_error(argparse.Namespace(port=5001, hang_seconds=10.0, workers=int(workers), max_rows=None,
                                               max_body_bytes=None))
    assert (shared is None) == (workers == "64") and (shared is None or says in shared)
