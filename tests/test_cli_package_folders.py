"""Hostile package folders and data files met by the commands that read them (helper-306): each is one line
naming what was expected, what was found and the fix, exit 2, and nothing written."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import onnxgate as og
from onnxgate.cli import main

FEATURES = [f"f{i}" for i in range(4)]


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    X, y = load_iris(return_X_y=True)
    X = X.astype(np.float32)
    folder = tmp_path_factory.mktemp("folders")
    onnx_file = folder / "m.onnx"
    onnx_file.write_bytes(og.convert(LogisticRegression(max_iter=500).fit(X, y), X[:5]).model.SerializeToString())
    data = folder / "rows.parquet"
    pd.DataFrame(X, columns=FEATURES).to_parquet(data)
    cwd = Path.cwd()
    os.chdir(folder)
    try:
        assert main(["package", "m.onnx", "-t", "container", "-o", "container"]) == 0
        assert main(["package", "m.onnx", "-t", "sql-edge-2.0", "--adapt", "--columns", ",".join(FEATURES),
                     "-o", "sql"]) == 0
    finally:
        os.chdir(cwd)
    return {"onnx": onnx_file, "data": data, "container": folder / "container", "sql": folder / "sql"}


@pytest.mark.parametrize(("manifest", "says"), [
    (b"\xff\xfe\x00{", "is not readable JSON"), (b"[]", "is a JSON list, not an object"), (None, "is a folder"),
])
def test_score_refuses_a_package_whose_manifest_is_unreadable(made: dict[str, Path], manifest: bytes | None,
                                                              says: str, tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    # it was read as a bare folder holding model.onnx: scored with neither the SHA-256 check nor the NaN rule, exit 0
    monkeypatch.chdir(tmp_path)
    shutil.copytree(made["container"], "pkg")
    (tmp_path / "pkg" / "manifest.json").unlink()
    if manifest is None:
        (tmp_path / "pkg" / "manifest.json").mkdir()
    else:
        (tmp_path / "pkg" / "manifest.json").write_bytes(manifest)
    assert main(["score", "pkg", "--data", str(made["data"]), "--out", "scored.parquet"]) == 2
    err = capsys.readouterr().err
    assert f"'pkg/manifest.json' {says}" in err and "Write the package again with 'onnxgate package'" in err, err
    assert len(err.strip().splitlines()) == 1 and not Path("scored.parquet").exists()


def test_sql_dryrun_names_a_script_that_is_not_utf8(made: dict[str, Path], tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    # was "unexpected UnicodeDecodeError: 'utf-8' codec can't decode byte ... (please report it)"
    monkeypatch.chdir(tmp_path)
    shutil.copytree(made["sql"], "pkg")
    Path("pkg/03_create_input_table.sql").write_bytes(b"\xf0\x28\x8c\x28 CREATE TABLE")
    assert main(["sql-dryrun", "pkg", "--data", str(made["data"])]) == 2
    err = capsys.readouterr().err
    assert "'pkg/03_create_input_table.sql' is not UTF-8 text" in err and "Write the package again" in err, err
    assert "unexpected" not in err


def test_sql_dryrun_names_a_manifest_that_is_no_object(made: dict[str, Path], tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    # was "'pkg' holds a None package, not a SQL one"
    monkeypatch.chdir(tmp_path)
    shutil.copytree(made["sql"], "pkg")
    Path("pkg/manifest.json").write_text("[1, 2]")
    assert main(["sql-dryrun", "pkg", "--data", str(made["data"])]) == 2
    err = capsys.readouterr().err
    assert "'pkg/manifest.json' is a JSON list: expected the manifest 'onnxgate package' writes" in err, err
    assert "None" not in err


def test_a_parquet_file_naming_a_column_twice_is_refused_by_name_in_validate(made: dict[str, Path], tmp_path: Path,
                                                                             monkeypatch: pytest.MonkeyPatch,
                                                                             capsys: pytest.CaptureFixture[str]
                                                                             ) -> None:
    # was pyarrow's "Multiple matches for FieldRef.Name(f0) in f0: float f0: float ... __fragment_index: int32"
    monkeypatch.chdir(tmp_path)
    X = pd.read_parquet(made["data"])
    pq.write_table(pa.Table.from_arrays([pa.array(X[c]) for c in FEATURES], names=["f0", "f0", "f2", "f3"]),
                   "twice.parquet")
    assert main(["validate", str(made["onnx"]), "--reference", str(made["onnx"]), "--data", "twice.parquet"]) == 2
    err = capsys.readouterr().err
    assert "'twice.parquet' has several columns named 'f0'; every column needs a name of its own" in err, err
    assert "FieldRef" not in err


def test_a_csv_file_named_parquet_gets_the_fix_in_validate(made: dict[str, Path], tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    pd.read_parquet(made["data"]).to_csv("rows.parquet", index=False)
    assert main(["validate", str(made["onnx"]), "--reference", str(made["onnx"]), "--data", "rows.parquet"]) == 2
    err = capsys.readouterr().err
    assert "this one holds text: if it is CSV, name it 'rows.csv'" in err, err


def test_package_out_under_a_file_is_named_before_any_work(made: dict[str, Path], tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    # was "cannot use '.../f/out': File exists. Check that the path exists..."
    monkeypatch.chdir(tmp_path)
    Path("f").write_text("notes")
    assert main(["package", str(made["onnx"]), "-t", "container", "-o", "f/out"]) == 2
    err = capsys.readouterr().err
    assert "cannot write -o 'f/out'" in err and "is a file, not a folder; choose another -o" in err, err
    assert Path("f").read_text() == "notes"


@pytest.mark.parametrize(("case", "says"), [
    ("no-manifest", "'pkg' holds model.onnx but no manifest.json"),
    ("target-5", "'pkg/manifest.json' is damaged: its 'target' is 5"),
    ("no-signature", "'pkg/manifest.json' is damaged: its 'signature' is missing"),
])
def test_score_refuses_a_package_whose_manifest_is_missing_or_damaged(made: dict[str, Path], case: str, says: str,
                                                                      tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                      capsys: pytest.CaptureFixture[str]) -> None:
    # helper-358: each was scored with exit 0, the folder read as a bare one holding model.onnx
    import json

    monkeypatch.chdir(tmp_path)
    shutil.copytree(made["sql"], "pkg")
    manifest = json.loads(Path("pkg/manifest.json").read_text())
    if case == "no-manifest":
        Path("pkg/manifest.json").unlink()
    elif case == "target-5":
        Path("pkg/manifest.json").write_text(json.dumps({**manifest, "target": 5}))
    else:
        Path("pkg/manifest.json").write_text(json.dumps({k: v for k, v in manifest.items() if k != "signature"}))
    assert main(["score", "pkg", "--data", str(made["data"]), "--out", "scored.parquet"]) == 2
    err = capsys.readouterr().err
    assert says in err and "or score its model file itself ('pkg/model.onnx')" in err, err
    assert len(err.strip().splitlines()) == 1 and not Path("scored.parquet").exists()
    if case != "no-manifest":
        assert main(["sql-dryrun", "pkg", "--data", str(made["data"])]) == 2
        err = capsys.readouterr().err
        assert says in err and "Write the package again" in err, err


def test_serve_refuses_a_container_package_whose_manifest_is_missing_or_damaged(
        made: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    # helper-358: served with exit 0 under the name 'onnx-model' (the manifest's service name lost)
    import json
    import socket

    from onnxgate.deploy import server

    served: list[object] = []
    monkeypatch.setattr(server, "serve", lambda folder, **kw: served.append(folder))  # never blocks, never binds
    monkeypatch.chdir(tmp_path)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = str(sock.getsockname()[1])
    shutil.copytree(made["container"], "pkg")
    manifest = json.loads(Path("pkg/manifest.json").read_text())
    Path("pkg/manifest.json").write_text(json.dumps({**manifest, "target": 5}))
    assert main(["serve", "pkg", "--port", port]) == 2
    err = capsys.readouterr().err
    assert "'pkg/manifest.json' is damaged: its 'target' is 5" in err and "write the package again" in err, err
    Path("pkg/manifest.json").unlink()
    assert main(["serve", "pkg", "--port", port]) == 2
    err = capsys.readouterr().err
    assert "'pkg/manifest.json' is missing" in err and "write the package again" in err, err
    assert served == []


def test_sql_dryrun_refuses_an_extra_column_as_validate_does(made: dict[str, Path], tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    # helper-358: the dry run passed, exit 0, rows validate and package refuse
    monkeypatch.chdir(tmp_path)
    sql_model = made["sql"] / "model.onnx"  # one input per column, as the SQL table's
    pd.read_parquet(made["data"]).assign(extra=1).to_csv("rows.csv", index=False)
    assert main(["sql-dryrun", str(made["sql"]), "--data", "rows.csv"]) == 2
    dry = capsys.readouterr().err
    assert main(["validate", str(sql_model), "--reference", str(sql_model), "--data", "rows.csv"]) == 2
    val = capsys.readouterr().err
    said = "the data has column(s) ['extra'] that are not model inputs"
    assert said in dry and said in val and "drop them" in dry, (dry, val)


@pytest.mark.parametrize(("rename", "fix"), [
    ({"f0": "f0x"}, "did you mean 'f0' where the data has 'f0x'? Rename the data's column(s) to the model's names"),
    (None, "add the missing column(s) to the data, or rename the data's column(s) to the model's names"),
])
def test_sql_dryrun_and_validate_give_the_fix_for_a_missing_column(made: dict[str, Path], rename: dict[str, str] | None,
                                                                   fix: str, tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    # helper-358: "the data lacks the columns ['f0'] (it has [...])", and no fix
    monkeypatch.chdir(tmp_path)
    sql_model = made["sql"] / "model.onnx"  # one input per column, as the SQL table's
    frame = pd.read_parquet(made["data"])
    frame = frame.rename(columns=rename) if rename else frame.drop(columns=["f0"])
    frame.to_csv("rows.csv", index=False)
    assert main(["sql-dryrun", str(made["sql"]), "--data", "rows.csv"]) == 2
    dry = capsys.readouterr().err
    assert main(["validate", str(sql_model), "--reference", str(sql_model), "--data", "rows.csv"]) == 2
    val = capsys.readouterr().err
    assert fix in dry and fix in val, (dry, val)


@pytest.mark.parametrize(("command", "given", "says"), [
    ("sql-dryrun", "container", "'pkg' holds a 'container' package, not a SQL one: 'sql-dryrun' reads a folder written "
                                "by 'onnxgate package MODEL --target sql-edge-2.0'. Package its model for that with "
                                "'onnxgate package pkg/model.onnx --target sql-edge-2.0 --adapt -o DIR', or use this "
                                "one as it is: serve it with 'onnxgate serve pkg'"),
    ("serve", "sql", "'pkg' holds a 'sql-edge-2.0' package, not a container one: 'serve' reads a folder written by "
                     "'onnxgate package MODEL --target container'. Package its model for that with 'onnxgate package "
                     "pkg/model.onnx --target container -o DIR', or use this one as it is: try it in DuckDB with "
                     "'onnxgate sql-dryrun pkg --data ROWS'"),
])
def test_a_package_of_the_other_kind_gets_the_command_that_reads_it(made: dict[str, Path], command: str, given: str,
                                                                    says: str, tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch,
                                                                    capsys: pytest.CaptureFixture[str]) -> None:
    # helper-364: "'pkg' holds a 'container' package, not a SQL one" and "'pkg' is not a container package (missing
    # ['score.py'])", neither saying what to run instead
    monkeypatch.chdir(tmp_path)
    shutil.copytree(made[given], "pkg")
    argv = ["serve", "pkg", "--port", "0"] if command == "serve" else ["sql-dryrun", "pkg", "--data", str(made["data"])]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and says in err, err


@pytest.mark.parametrize(("given", "says"), [
    ("m.onnx", "'m.onnx' is a file, not a package folder: serve runs a folder written by 'onnxgate package'; package "
               "it first with 'onnxgate package m.onnx --target container -o m_pkg', then 'onnxgate serve m_pkg'"),
    ("container/model.onnx", "this file is the model of the package 'container': 'onnxgate serve container'"),
    ("m.skops", "convert the model to ONNX ('onnxgate convert MODEL --sample ROWS -o model.onnx'), then 'onnxgate "
                "package model.onnx --target container -o DIR'"),
    ("nope", "'nope' does not exist: expected a folder written by 'onnxgate package'; check the path, or write the "
             "package first with 'onnxgate package MODEL.onnx --target container -o nope'"),
])
def test_serve_given_a_file_or_nothing_gets_the_command_that_writes_a_package(
        made: dict[str, Path], given: str, says: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    # helper-364: "'m.onnx' is a file, not a package folder" and "'nope' does not exist" said what serve expected
    # (a folder written by 'onnxgate package MODEL --target container -o DIR') but not what to do with the file
    monkeypatch.chdir(tmp_path)
    shutil.copy(made["onnx"], "m.onnx")
    Path("m.skops").write_bytes(b"PK\x03\x04")
    shutil.copytree(made["container"], "container")
    assert main(["serve", given, "--port", "0"]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    assert says in err, err
    # the command given works: its folder serves (checked up to the listening step by package itself)
    if given == "m.onnx":
        assert main(["package", "m.onnx", "--target", "container", "-o", "m_pkg"]) == 0
        assert (Path("m_pkg") / "score.py").is_file()


@pytest.mark.parametrize(("case", "says"), [
    ("folder-without-model", "'holder' is a folder without model.onnx: expected an .onnx file or a package written "
                             "by 'onnxgate package'; give the .onnx file, or the folder 'onnxgate package MODEL.onnx "
                             "--target container -o DIR' wrote"),
    ("folder-with-other-onnx", "'holder' is a folder without model.onnx: expected an .onnx file or a package written "
                               "by 'onnxgate package'; it holds ['m.onnx']: give that file"),
    ("data-empty-folder", "no Parquet files in 'rows'; expected a Parquet file or a folder of them (names starting "
                          "with _ or . are skipped): write the rows into it as .parquet files, or give the file or "
                          "folder that holds them"),
    ("data-npy", "score reads no .npy file: write it as Parquet first, one column per feature "
                 "(pandas.DataFrame(numpy.load('rows.npy')).add_prefix('f').to_parquet('rows.parquet'))"),
    ("data-npy-3d", "(pandas.DataFrame(numpy.load('rows.npy')).add_prefix('f').to_parquet('rows.parquet')), from a 2-D "
                    "array of rows and features: this one has shape [150, 2, 2]"),
])
def test_score_given_a_folder_without_a_model_or_rows_it_cannot_read_gets_the_fix(
        made: dict[str, Path], case: str, says: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    # helper-364: each said what it expected and found, not what to do (the .npy case said how to write a CSV file
    # as Parquet only)
    monkeypatch.chdir(tmp_path)
    Path("holder").mkdir()
    model, data = str(made["onnx"]), str(made["data"])
    if case == "folder-with-other-onnx":
        shutil.copy(made["onnx"], "holder/m.onnx")
    if case.startswith("folder"):
        model = "holder"
    elif case == "data-empty-folder":
        Path("rows").mkdir()
        data = "rows"
    else:
        rows = pd.read_parquet(made["data"]).to_numpy()
        np.save("rows.npy", rows.reshape(-1, 2, 2) if case == "data-npy-3d" else rows)
        data = "rows.npy"
    assert main(["score", model, "--data", data, "--out", "s.parquet"]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    assert says in err, err
    assert not Path("s.parquet").exists()
    if case == "data-npy":  # the command given writes rows score reads
        np_rows = np.load("rows.npy")
        pd.DataFrame(np_rows).add_prefix("f").to_parquet("rows.parquet")
        assert main(["score", str(made["onnx"]), "--data", "rows.parquet", "--out", "s.parquet"]) == 0
        assert len(pd.read_parquet("s.parquet")) == len(np_rows)


@pytest.mark.parametrize(("command", "says"), [
    (["serve", "CONTAINER", "--port", "-1"], "--port must be between 1 and 65535, found -1; give a free port such as "
                                             "8080"),
    (["serve", "CONTAINER", "--port", "1", "--hang-seconds", "nan"], "found nan; give a finite number of seconds such "
                                                                     "as 10 (the default)"),
    (["serve", "CONTAINER", "--port", "1", "--workers", "0"], "found 0; give 1 or more, or leave it out"),
    (["sql-dryrun", "SQL", "--data", "ROWS", "--rows", "-1"], "found -1; give 0 or more"),
    (["sweep", "MODEL", "--sample", "ROWS", "--opsets", "18-9"], "found '18-9'; give a range LOW-HIGH (the lower "
                                                                 "first) or whole numbers split by commas"),
], ids=["port", "hang-seconds", "workers", "sql-dryrun-rows", "sweep-opsets"])
def test_a_bad_number_option_of_serve_sql_dryrun_or_sweep_gets_the_fix(
        made: dict[str, Path], command: list[str], says: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    # helper-373: each said what was expected and found only ("--port must be between 1 and 65535, found -1",
    # "rows: expected 0 or more rows to print, found -1", "expected opsets like '9-18' or '11,13,17', found '18-9'")
    monkeypatch.chdir(tmp_path)
    names = {"CONTAINER": str(made["container"]), "SQL": str(made["sql"]), "ROWS": str(made["data"]),
             "MODEL": str(made["onnx"])}
    assert main([names.get(a, a) for a in command]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    assert says in err, err


@pytest.mark.parametrize(("command", "says"), [
    (["package", "MODEL", "-t", "container", "--option", "zipmap", "-o", "out"],
     "--option expects KEY=VALUE, found 'zipmap'; give a name and its value, e.g. --option max_rows=5000"),
    (["package", "MODEL", "-t", "container", "-o", "m.onnx"],
     "'m.onnx' is a file; package into a folder: give -o a new or empty folder (e.g. -o m_pkg)"),
    (["package", "MODEL", "-t", "sql-edge-2.0", "--adapt", "--columns", "a,b", "-o", "out"],
     "the model's inputs need 4 (one per value of its [N,k] inputs); give 4 names, comma-separated, or leave "
     "--columns out for the model's own"),
    (["score", "MODEL", "--data", "ROWS", "--out", "s.parquet", "--outputs", "nosuch"],
     "it has ['label', 'probabilities']: name some of them in --outputs, or leave it out for all"),
    (["score", "MODEL", "--data", "MODEL", "--out", "s.parquet"],
     "expected a Parquet file or a folder of them: give the rows written as Parquet (pandas' to_parquet, pyarrow or "
     "Spark write one)"),
], ids=["option", "out-a-file", "columns-count", "outputs", "data-not-parquet"])
def test_a_bad_option_of_package_or_score_gets_the_fix(made: dict[str, Path], command: list[str], says: str,
                                                      tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    # helper-373: each said what was expected and found only ("--option expects KEY=VALUE, found 'zipmap'",
    # "'m.onnx' is a file; package into a folder", "outputs ['nosuch'] are not outputs of the model; it has ...")
    monkeypatch.chdir(tmp_path)
    shutil.copy(made["onnx"], "m.onnx")
    before = Path("m.onnx").read_bytes()
    names = {"MODEL": "m.onnx", "ROWS": str(made["data"])}
    assert main([names.get(a, a) for a in command]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    assert says in err, err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.onnx"] and Path("m.onnx").read_bytes() == before


@pytest.mark.parametrize(("option", "says"), [
    (["--api-key-env", "BAD NAME"], "--api-key-env 'BAD NAME' is not an environment variable name: expected letters, "
                                    "digits and _, not starting with a digit; give the name of the variable holding "
                                    "the key, e.g. --api-key-env API_KEY"),
    (["--host", "no-such-host.invalid"], "; give an address of this machine (127.0.0.1, the default, or 0.0.0.0 for "
                                         "every interface)"),  # after the resolver's words, which vary
], ids=["api-key-env", "host"])
def test_serve_given_no_variable_name_or_an_unknown_host_gets_the_fix(
        made: dict[str, Path], option: list[str], says: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    # helper-373: --api-key-env 'BAD NAME' said "export BAD NAME=<key> first" (no shell command); an unknown --host
    # said what was found only. Refused before anything listens, so no server starts here
    import socket

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("BAD NAME", raising=False)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = str(probe.getsockname()[1])
    assert main(["serve", str(made["container"]), "--port", port, *option]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    assert says in err, err
