"""``package`` never writes over the files it is made from: the model, --reference, --data, --target-file.

``convert`` and ``validate`` refuse an output that is one of their inputs; ``package --force`` into the
folder holding the model (a folder from ``onnxgate zoo export``) replaced the user's ``model.onnx`` with
the packaged (for SQL, adapted) graph and exited 0.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import onnxgate as og
from onnxgate.cli import main
from onnxgate.errors import OutputExistsError

IRIS = "sklearn-iris-logreg"
HAS_MLFLOW = importlib.util.find_spec("mlflow") is not None
TARGETS = [
    pytest.param("container", [], id="container"),
    pytest.param("sql-edge-2.0", ["--adapt"], id="sql-edge-2.0"),
    pytest.param("mlflow", [], id="mlflow", marks=pytest.mark.skipif(
        not HAS_MLFLOW, reason="the extra 'mlflow' is not installed")),
]


@pytest.fixture(scope="module")
def iris() -> tuple[Any, Any, bytes]:
    native, X, _y = og.zoo.get(IRIS).build()
    return native, X, og.convert(native, X[:20]).model.SerializeToString()


def _exported(folder: Path, iris: tuple[Any, Any, bytes]) -> dict[str, str]:
    """A folder like ``onnxgate zoo export`` writes: the model, its native model and sample rows."""
    import skops.io

    native, X, blob = iris
    folder.mkdir()
    (folder / "model.onnx").write_bytes(blob)
    skops.io.dump(native, folder / "model.skops")
    np.save(folder / "sample.npy", X[:40])
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.iterdir()}


def _hashes(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.iterdir()}


@pytest.mark.parametrize("force", [[], ["--force"]], ids=["no-force", "force"])
@pytest.mark.parametrize(("target", "extra"), TARGETS)
def test_package_into_the_models_folder_is_refused(
    iris: tuple[Any, Any, bytes], tmp_path: Path, capsys: pytest.CaptureFixture[str], target: str,
    extra: list[str], force: list[str],
) -> None:
    folder = tmp_path / "exported"
    before = _exported(folder, iris)
    code = main(["package", str(folder / "model.onnx"), "--target", target, *extra, "-o", str(folder), *force,
                 "--reference", str(folder / "model.skops"), "--data", str(folder / "sample.npy")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1, err
    assert "holds the model being packaged" in err[0] and "model.onnx" in err[0], err[0]
    assert "another folder" in err[0], "the message says how to fix it"
    assert _hashes(folder) == before, "the user's files changed"


@pytest.mark.parametrize(("target", "options"), [
    pytest.param("container", {}, id="container"),
    pytest.param("sql-edge-2.0", {"adapt": True}, id="sql-edge-2.0"),
    pytest.param("mlflow", {}, id="mlflow", marks=pytest.mark.skipif(
        not HAS_MLFLOW, reason="the extra 'mlflow' is not installed")),
])
def test_api_package_into_the_models_folder_is_refused(
    iris: tuple[Any, Any, bytes], tmp_path: Path, target: str, options: dict[str, Any]
) -> None:
    folder = tmp_path / "exported"
    before = _exported(folder, iris)
    with pytest.raises(OutputExistsError, match=r"holds the model being packaged, .*model\.onnx"):
        og.package(str(folder / "model.onnx"), target=target, out=folder, overwrite=True, **options)
    assert _hashes(folder) == before


def test_inputs_the_package_does_not_write_are_kept(iris: tuple[Any, Any, bytes], tmp_path: Path) -> None:
    # --reference and --data inside --out under names the package does not take: packaged, and kept
    folder = tmp_path / "exported"
    before = _exported(folder, iris)
    model = tmp_path / "elsewhere.onnx"
    model.write_bytes(iris[2])
    (folder / "model.onnx").unlink()
    assert main(["package", str(model), "--target", "container", "-o", str(folder), "--force",
                 "--reference", str(folder / "model.skops"), "--data", str(folder / "sample.npy")]) == 0
    after = _hashes(folder)
    assert after["model.skops"] == before["model.skops"] and after["sample.npy"] == before["sample.npy"]
    assert (folder / "score.py").is_file()


def test_an_input_an_earlier_package_lists_is_refused(iris: tuple[Any, Any, bytes], tmp_path: Path,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    # writing over a package drops the files its manifest lists: a container package's score.py is gone
    # after a SQL package is written over it, so a data file by a listed name would be lost too
    folder = tmp_path / "pkg"
    model = tmp_path / "m.onnx"
    model.write_bytes(iris[2])
    og.package(str(model), target="container", out=folder)
    data = folder / "sample-request.json"
    manifest = json.loads((folder / "manifest.json").read_text())
    assert data.name in manifest["files"]
    np.save(folder / "rows.npy", iris[1][:10])
    manifest["files"].append("rows.npy")  # as if an earlier package had written it
    (folder / "manifest.json").write_text(json.dumps(manifest))
    before = _hashes(folder)
    assert main(["package", str(model), "--target", "sql-edge-2.0", "--adapt", "-o", str(folder), "--force",
                 "--data", str(folder / "rows.npy")]) == 2
    err = capsys.readouterr().err
    assert "the earlier package there lists 'rows.npy'" in err, err
    assert _hashes(folder) == before


def test_package_files_are_the_files_written(iris: tuple[Any, Any, bytes], tmp_path: Path) -> None:
    """The refusal knows a package's files by name before writing it: the names must be the ones written."""
    from onnxgate.api import package_files
    from onnxgate.targets import resolve_target

    conv = og.convert(iris[0], iris[1][:20])  # converted again at synapse's opset cap
    for target, options in (("container", {}), ("sql-edge-2.0", {"adapt": True}), ("synapse", {"adapt": True})):
        folder = og.package(conv, target=target, out=tmp_path / target, **options)
        names = package_files(resolve_target(target))
        assert names is not None
        written = {p.name for p in folder.iterdir()}
        assert written <= names, f"{target}: not in package_files: {sorted(written - names)}"
        if target == "container":
            assert written == names


@pytest.mark.parametrize(("target", "extra"), [p for p in TARGETS if p.id != "mlflow"])
def test_a_package_without_a_reference_says_parity_was_not_checked(
    iris: tuple[Any, Any, bytes], target: str, extra: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # the README called it "the validated model" and the manifest recorded prediction_parity as passed,
    # with no sign that it never ran (a wrong model packaged this way read as checked)
    folder = tmp_path / "in"
    _exported(folder, iris)
    plain = tmp_path / "plain"
    assert main(["package", str(folder / "model.onnx"), "--target", target, *extra, "-o", str(plain)]) == 0
    assert "note: prediction parity was not checked" in capsys.readouterr().err
    manifest = json.loads((plain / "manifest.json").read_text())
    parity = next(c for c in manifest["validation"]["checks"] if c["name"] == "prediction_parity")
    assert parity["skipped"] is True
    assert "Prediction parity with the original model was **not checked**" in (plain / "README.md").read_text()

    checked = tmp_path / "checked"
    assert main(["package", str(folder / "model.onnx"), "--target", target, *extra, "-o", str(checked),
                 "--reference", str(folder / "model.skops"), "--data", str(folder / "sample.npy")]) == 0
    assert "parity was not checked" not in capsys.readouterr().err
    manifest = json.loads((checked / "manifest.json").read_text())
    parity = next(c for c in manifest["validation"]["checks"] if c["name"] == "prediction_parity")
    assert parity["skipped"] is False and parity["passed"] is True
    assert "Prediction parity with the original model was checked on 40 rows and passed." in (
        checked / "README.md").read_text()


def test_package_runs_the_search_when_asked_and_refuses_what_it_finds(tmp_path: Path,
                                                                       capsys: pytest.CaptureFixture[str]) -> None:
    """The planted model matches its reference on its data, so package wrote it with "passed": true while
    validate --search 500 failed it; package had no --search."""
    assert main(["zoo", "export", "sklearn-planted-scaler-tree", "-o", str(tmp_path / "z")]) == 0
    model, ref, data = (str(tmp_path / "z" / name) for name in ("model.onnx", "model.skops", "sample.npy"))
    common = ["package", model, "--target", "container", "--reference", ref, "--data", data, "--trust-pickle"]
    capsys.readouterr()
    assert main([*common, "-o", str(tmp_path / "searched"), "--search", "500"]) == 1
    assert "search_divergences" in capsys.readouterr().err
    assert not (tmp_path / "searched").exists()
    assert main([*common, "-o", str(tmp_path / "plain")]) == 0  # without the search it matches on the data
    assert main(["package", model, "--target", "container", "-o", str(tmp_path / "x"), "--search", "50"]) == 2
    assert "--search needs --reference" in capsys.readouterr().err
    # --data alone was ignored by a SQL package: written, with a note saying no --data was given
    assert main(["package", model, "--target", "sql-edge-2.0", "--adapt", "-o", str(tmp_path / "x"),
                 "--data", data]) == 2
    assert "--data needs --reference for a SQL package" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()
    built, X, _y = og.zoo.get("sklearn-planted-scaler-tree").build()
    with pytest.raises(og.ValidationFailedError, match="search_divergences"):
        og.package(model, target="container", out=tmp_path / "api", reference=built, data=X, search=500, seed=0)


def test_force_keeps_the_folders_mode_and_refuses_the_working_directory(tmp_path: Path,
                                                                         monkeypatch: pytest.MonkeyPatch,
                                                                         capsys: pytest.CaptureFixture[str]) -> None:
    """--force replaced a private 0700 folder with a 0755 one, and run from inside the folder it left the
    shell in a deleted directory; the summary listed the user's own files as written."""
    import os
    import stat

    assert main(["zoo", "export", "sklearn-iris-logreg", "-o", str(tmp_path / "z")]) == 0
    model = str(tmp_path / "z" / "model.onnx")
    out = tmp_path / "out"
    out.mkdir()
    out.chmod(0o700)
    (out / "notes.txt").write_text("mine", encoding="utf-8")
    capsys.readouterr()
    assert main(["package", model, "--target", "container", "-o", str(out), "--force"]) == 0
    assert stat.S_IMODE(os.stat(out).st_mode) == 0o700
    assert (out / "notes.txt").read_text(encoding="utf-8") == "mine"
    assert "notes.txt" not in capsys.readouterr().out
    empty = tmp_path / "empty"
    empty.mkdir()
    empty.chmod(0o700)  # empty: written without --force, and replaced as a non-empty one is
    assert main(["package", model, "--target", "container", "-o", str(empty)]) == 0
    assert stat.S_IMODE(os.stat(empty).st_mode) == 0o700
    monkeypatch.chdir(out)
    assert main(["package", model, "--target", "container", "-o", ".", "--force"]) == 2
    assert "holds the working directory" in capsys.readouterr().err
    assert (out / "notes.txt").exists() and Path.cwd() == out


def test_a_service_name_the_target_rewrites_is_noted(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # 'MyModel' was served as 'mymodel' without a word, and a v2 client calling /v2/models/MyModel got 404
    assert main(["zoo", "export", "sklearn-iris-logreg", "-o", str(tmp_path / "z")]) == 0
    capsys.readouterr()
    assert main(["package", str(tmp_path / "z" / "model.onnx"), "--target", "container", "-o", str(tmp_path / "c"),
                 "--option", "service_name=MyModel"]) == 0
    assert "service name 'MyModel' became 'mymodel'" in capsys.readouterr().err
    assert main(["package", str(tmp_path / "z" / "model.onnx"), "--target", "container", "-o", str(tmp_path / "d"),
                 "--option", "service_name=iris-1"]) == 0
    assert "service name" not in capsys.readouterr().err


@pytest.mark.parametrize(("columns", "code", "said"), [
    # was table column [_]; then "column names must not be empty; found [...]", without the fix
    ("a,,c,d", 2, "columns ['a', '', 'c', 'd'] hold an empty name (position 2): expected one name per table column, "
                  "found ''; give every column a name, or leave --columns (columns=) out for the model's own names"),
    # was exit 1; then "column names must be unique (SQL names ignore case); ['A', 'a'] repeat", without the fix
    ("a,A,b,c", 2, "columns ['a', 'A', 'b', 'c'] name 'a' (as 'a' and 'A') more than once; SQL names ignore case: "
                   "expected one distinct name per table column, found 3 for 4 columns; give each column its own "
                   "name, e.g. 'a,A_1,b,c', or leave --columns (columns=) out"),
    ("a,a,b,b", 2, "columns ['a', 'a', 'b', 'b'] name 'a' and 'b' more than once: expected one distinct name per "
                   "table column, found 2 for 4 columns; give each column its own name, e.g. 'a,a_1,b,b_1'"),
    ("x]y,z w,select,1st", 0, "note: columns renamed to SQL identifiers (the data may use either name): "
                              "'x]y' -> 'x_y', 'z w' -> 'z_w', 'select' -> 'select_', '1st' -> '_1st'"),
])
def test_package_adapt_columns_refuses_empty_and_case_duplicate_names_and_notes_renames(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], columns: str, code: int, said: str) -> None:
    assert main(["zoo", "export", "sklearn-iris-logreg", "-o", str(tmp_path / "z")]) == 0
    capsys.readouterr()
    for given in (["--columns", columns], ["--option", f"columns={columns}"]):
        out = tmp_path / f"sql{given[0]}"
        assert main(["package", str(tmp_path / "z" / "model.onnx"), "--target", "sql-edge-2.0", "--adapt", *given,
                     "-o", str(out)]) == code
        err = capsys.readouterr().err
        assert said in err and "Traceback" not in err, err
        assert out.exists() == (code == 0)


def test_dataframe_columns_differing_by_case_get_distinct_sql_names() -> None:
    import pandas as pd
    from sklearn.linear_model import LinearRegression

    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(50, 2)), columns=["Age", "age"])
    model = LinearRegression().fit(X, X["Age"] - 2 * X["age"])
    conv = og.convert(model, X.head(), target="sql-edge-2.0")
    names = [n.casefold() for n in conv.signature.input_names]
    assert len(set(names)) == 2
    assert og.validate(conv, target="sql-edge-2.0", reference=model, data=X).passed


def test_package_adapt_search_searches_the_adapted_model(tmp_path: Path) -> None:
    # the search validated the [N,10] model against sql-edge-2.0 before adapting it, and refused it
    assert main(["zoo", "export", "sklearn-diabetes-rf", "-o", str(tmp_path / "z")]) == 0
    z = tmp_path / "z"
    assert main(["package", str(z / "model.onnx"), "--target", "sql-edge-2.0", "--adapt", "--reference",
                 str(z / "model.skops"), "--data", str(z / "sample.npy"), "--trust-pickle", "--search", "100",
                 "-o", str(tmp_path / "sql")]) == 0


@pytest.mark.parametrize(("target", "options", "says"), [
    # as text, 'registry=false' registered the model in a store named ./false (helper-130)
    ("mlflow", ["registry=false"], "--option registry: give them as --registry"),
    ("mlflow", ["name=my-model"], "--option name: give them as --registry"),
    # str.isdigit: '²' was an unexpected ValueError and Arabic-Indic digits were read as a row limit
    ("container", ["max_rows=\u00b2"], "max_rows must be a positive integer"),
    ("container", ["max_rows=\u0663"], "max_rows must be a positive integer"),
    ("container", ["seed=\u00b3"], "seed: expected a whole number"),
    # accepted and used by nothing, where validate refuses --atol without --reference
    ("container", ["atol=0.5"], "atol set parity tolerances, and parity needs a reference model"),
    ("container", ["max_rows=5", "max-rows=50"], "--option max_rows is given twice ('5' and '50')"),
])
def test_package_options_are_read_as_what_they_are(iris: tuple[Any, Any, bytes], tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
                                                   target: str, options: list[str], says: str) -> None:
    monkeypatch.chdir(tmp_path)  # a store ./false made here, not in the checkout, when the refusal fails
    model = tmp_path / "m.onnx"
    model.write_bytes(iris[2])
    flags = [arg for option in options for arg in ("--option", option)]
    assert main(["package", str(model), "--target", target, "-o", str(tmp_path / "out"), *flags]) == 2
    err = capsys.readouterr().err
    assert says in err and "unexpected" not in err, err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.onnx"]  # no store, no package


def test_allow_nan_naming_an_input_that_holds_no_nan_is_refused(tmp_path: Path,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    # the wine zoo model's 'proline' is int64: it was dropped without a word, and no input took NaN (helper-130)
    assert main(["zoo", "export", "sklearn-wine-columntransformer", "-o", str(tmp_path / "z")]) == 0
    capsys.readouterr()
    assert main(["package", str(tmp_path / "z" / "model.onnx"), "--target", "container", "-o",
                 str(tmp_path / "out"), "--option", "allow_nan=proline"]) == 2
    assert "allow_nan names input(s) ['proline'] that cannot hold NaN" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_adapt_in_python_refuses_a_repeated_column_before_reading_it_as_another_inputs(tmp_path: Path) -> None:
    # a model of inputs a, b, c adapted with columns b, b, c was refused as "columns ... give input 'a' the name
    # 'b', which is the model's input 'b'": the repeat, the user's slip, went unsaid
    import pandas as pd
    from sklearn.linear_model import LinearRegression

    X = pd.DataFrame(np.random.default_rng(0).normal(size=(20, 3)), columns=["a", "b", "c"])
    conv = og.convert(LinearRegression().fit(X, X.sum(axis=1)), X)
    with pytest.raises(og.InvalidDataError, match=r"columns \['b', 'b', 'c'\] name 'b' more than once: .* give each "
                                                  r"column its own name, e.g. 'b,b_1,c'"):
        og.adapt(conv, "sql-edge-2.0", columns=["b", "b", "c"])
