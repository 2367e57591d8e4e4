"""Bad input an outside tester (helper-190) found handled wrongly and left open: one typo cell in a number
column made that input text (convert exit 0, validate then said the model "was fitted on text"); ``package
--registry bogus://x`` wrote the package before the store refused it; ``--opset 999``, ``--atol -1`` and the like
were refused only after the model loaded; ``zoo export`` named its staging folder; an empty or pickled .skops
and a .skops given to validate got no fix; ``sweep --opsets 13,13`` ran opset 13 once without a word."""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import onnxgate as og
from onnxgate.cli import main


@pytest.fixture(scope="module")
def zoo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two zoo exports: iris (model.onnx, model.skops, sample.npy, and rows.csv) and the wine pipeline fitted on
    a DataFrame (its magnesium_band column, integers, one-hot encoded)."""
    folder = tmp_path_factory.mktemp("left_refusals")
    assert main(["zoo", "export", "sklearn-iris-logreg", "-o", str(folder / "iris")]) == 0
    rows = pd.DataFrame(np.load(folder / "iris" / "sample.npy"), columns=[f"input_{i}" for i in range(4)])
    rows.to_csv(folder / "iris" / "rows.csv", index=False)
    assert main(["zoo", "export", "sklearn-wine-columntransformer", "-o", str(folder / "wine")]) == 0
    return folder


def _one_line(err: str) -> None:
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err


def test_a_typo_in_a_number_column_of_the_sample_is_refused_naming_the_cell(
        zoo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    # before: exit 0, input magnesium_band typed string, and validate with the real rows then refused them as
    # "numbers but input 'magnesium_band' is string (the model was fitted on text)"
    monkeypatch.chdir(tmp_path)
    sample = (zoo / "wine" / "sample.csv").read_text().splitlines()
    assert sample[0].endswith(",magnesium_band") and sample[3].endswith(",5")
    sample[3] = sample[3][: -len("5")] + "six"
    Path("x.csv").write_text("\n".join(sample) + "\n")
    assert main(["convert", str(zoo / "wine" / "model.skops"), "--sample", "x.csv", "-o", "o.onnx"]) == 2
    err = capsys.readouterr().err
    _one_line(err)
    assert "column 'magnesium_band' holds text where the model reads numbers" in err, err
    assert "OneHotEncoder learnt its categories as numbers" in err and "'six' in row 2" in err, err
    assert "Correct the cell(s)" in err and not Path("o.onnx").exists()
    # the sample as written converts, the column an integer input
    assert main(["convert", str(zoo / "wine" / "model.skops"), "--sample", str(zoo / "wine" / "sample.csv"),
                 "-o", "o.onnx"]) == 0
    assert "magnesium_band: int64" in capsys.readouterr().out


def test_a_stray_string_in_an_object_column_of_a_dataframe_is_refused() -> None:
    # before: og.convert made magnesium_band a string input (exit 0 in the CLI), and a stray 'n/a' in the
    # scaled column 'proline' ended in skl2onnx's "got an input merged_columns with a wrong type StringTensorType"
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder

    model, X, _y = og.zoo.get("sklearn-wine-columntransformer").build()
    typo = X.head(20).astype({"magnesium_band": object, "proline": object})
    typo.loc[typo.index[3], "magnesium_band"] = "six"
    with pytest.raises(og.InvalidDataError, match=r"column 'magnesium_band' holds text .* 'six' in row 3 "):
        og.convert(model, typo)
    typo = X.head(20).astype({"proline": object})
    typo.loc[typo.index[2], "proline"] = "n/a"
    with pytest.raises(og.InvalidDataError, match=r"column 'proline' holds text .*StandardScaler reads it as "
                                                  r"numbers\): 'n/a' in row 2 "):
        og.convert(model, typo)
    # an object column of the integers the encoder learnt is a number input, and the training rows validate
    conv = og.convert(model, X.head(20).astype({"magnesium_band": object}))
    spec = next(s for s in conv.signature.inputs if s.name == "magnesium_band")
    assert spec.elem_type != "string"
    assert og.validate(conv, reference=model, data=X).passed
    # the refusal reads the fitted model: digit-like codes of a column an encoder learnt as text stay text
    X = pd.DataFrame({"x": np.arange(40, dtype=float), "code": (["007", "12", "070", "12"] * 10)})
    y = np.arange(40) % 2
    model = Pipeline([("pre", ColumnTransformer([("code", OneHotEncoder(), ["code"])], remainder="passthrough")),
                      ("clf", LogisticRegression())]).fit(X, y)
    conv = og.convert(model, X)
    assert next(s for s in conv.signature.inputs if s.name == "code").elem_type == "string"


def test_a_registry_uri_mlflow_has_no_store_for_is_refused_before_writing(
        zoo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    # before: the package was written, then two lines on stderr: a note, and "the tracking store 'bogus://x'
    # refused the run: UnsupportedModelRegistryStoreURIException ... The package in 'out' was written and is kept"
    pytest.importorskip("mlflow")
    monkeypatch.chdir(tmp_path)
    assert main(["package", str(zoo / "iris" / "model.onnx"), "-t", "mlflow", "-o", "out",
                 "--registry", "bogus://x"]) == 2
    err = capsys.readouterr().err
    _one_line(err)
    assert "MLflow has no tracking store for scheme 'bogus'" in err and "file:./mlruns" in err, err
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(("command", "says"), [
    (["convert", "MODEL", "--sample", "ROWS", "-o", "o.onnx", "--opset", "999"], "opset must be between 1 and"),
    (["validate", "ONNX", "--reference", "MODEL", "--data", "ROWS", "--atol", "-1"],
     "atol for 'all outputs' must be a finite number >= 0, found -1.0"),
    (["validate", "ONNX", "--reference", "MODEL", "--data", "ROWS", "--search", "-5"],
     "search must be an integer >= 0 (a number of generated inputs), found -5"),
    (["validate", "ONNX", "--reference", "MODEL", "--data", "ROWS", "--batch-size", "0"],
     "batch_size must be a positive integer, found 0"),
    (["sweep", "MODEL", "--sample", "ROWS", "--search", "-5"], "search must be an integer >= 0"),
], ids=["convert-opset", "validate-atol", "validate-search", "validate-batch-size", "sweep-search"])
def test_number_options_are_refused_before_the_model_is_read(zoo: Path, command: list[str], says: str,
                                                             tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    # before: refused 8-14 s later, after the reference (or the model) loaded; here the model file is empty, so
    # reading it first would end in its own error, not the option's
    monkeypatch.chdir(tmp_path)
    Path("empty.skops").write_bytes(b"")
    names = {"MODEL": "empty.skops", "ROWS": str(zoo / "iris" / "rows.csv"), "ONNX": str(zoo / "iris" / "model.onnx")}
    assert main([names.get(a, a) for a in command]) == 2
    err = capsys.readouterr().err
    _one_line(err)
    assert says in err and "empty.skops" not in err, err


def test_zoo_export_names_the_folder_it_was_given_when_its_parent_refuses_it(
        capsys: pytest.CaptureFixture[str]) -> None:
    # before: "cannot use '/sys/.onnxgate-zoo.9zduc84g': Operation not permitted", the staging folder beside it
    if not Path("/sys").is_dir():
        pytest.skip("needs /sys, a folder no one may make folders in (Linux)")
    assert main(["zoo", "export", "sklearn-iris-logreg", "-o", "/sys/onnxgate-zoo"]) == 2
    err = capsys.readouterr().err
    _one_line(err)
    assert "'/sys/onnxgate-zoo'" in err and "/sys/.onnxgate-zoo." not in err, err


def test_an_empty_or_pickled_skops_file_is_refused_with_how_to_write_one(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    # before: "'e.skops' is not a readable .skops file: File is not a zip file", for both
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    monkeypatch.chdir(tmp_path)
    X, y = load_iris(return_X_y=True)
    np.save("rows.npy", X[:5])
    Path("e.skops").write_bytes(b"")
    assert main(["convert", "e.skops", "--sample", "rows.npy", "-o", "o.onnx"]) == 2
    err = capsys.readouterr().err
    _one_line(err)
    assert "'e.skops' is empty (0 bytes)" in err and "skops.io.dump(model, 'model.skops')" in err, err
    Path("p.skops").write_bytes(pickle.dumps(LogisticRegression(max_iter=500).fit(X, y)))
    assert main(["convert", "p.skops", "--sample", "rows.npy", "-o", "o.onnx"]) == 2
    err = capsys.readouterr().err
    _one_line(err)
    assert "'p.skops' is a pickle" in err and "name it .pkl and pass --trust-pickle" in err, err
    # the advice works
    Path("p.skops").rename("p.pkl")
    assert main(["convert", "p.pkl", "--sample", "rows.npy", "-o", "o.onnx", "--trust-pickle"]) == 0


@pytest.mark.parametrize(("name", "says"), [
    ("model.skops", "is a scikit-learn model file (.skops), not an ONNX file"),
    ("model.pkl", "is a pickled model file (.pkl), not an ONNX file"),
])
def test_a_native_model_given_where_an_onnx_file_is_read_gets_the_convert_command(
        zoo: Path, name: str, says: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    # before: "'model.skops' is not a valid ONNX model (protobuf decode failed: ...). The file may be truncated,
    # corrupt, or another format; re-export it."
    monkeypatch.chdir(tmp_path)
    if name == "model.pkl":
        Path(name).write_bytes(pickle.dumps({"a": 1}))
    else:
        Path(name).write_bytes((zoo / "iris" / "model.skops").read_bytes())
    assert main(["validate", name]) == 2
    err = capsys.readouterr().err
    _one_line(err)
    trust = " --trust-pickle" if name.endswith(".pkl") else ""
    assert says in err and f"onnxgate convert {name} --sample ROWS{trust} -o model.onnx" in err, err
    # an ONNX file under another name is read as ONNX
    Path("renamed.pt").write_bytes((zoo / "iris" / "model.onnx").read_bytes())
    assert main(["validate", "renamed.pt"]) == 0


@pytest.mark.parametrize(("opsets", "says"), [
    ("13,13", "names opset(s) 13 more than once; name each once, e.g. '13'"),
    ("9-13,12-18", "names opset(s) 12, 13 more than once; name each once, e.g. '9-18'"),
])
def test_an_opset_named_twice_in_a_sweep_is_refused(zoo: Path, opsets: str, says: str,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    # before: exit 0, a matrix of one row for '13,13' (fewer rows than asked, without a word)
    iris = zoo / "iris"
    assert main(["sweep", str(iris / "model.skops"), "--sample", str(iris / "sample.npy"), "--opsets", opsets]) == 2
    err = capsys.readouterr().err
    _one_line(err)
    assert says in err, err


@pytest.mark.parametrize("command", ["convert", "validate", "package", "score", "serve", "sql-dryrun"])
def test_a_symbolic_link_that_loops_given_as_the_model_says_so_and_how_to_fix_it(
        zoo: Path, command: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    # helper-364: convert said "model file not found: 'loop'", validate "Too many levels of symbolic links" (no fix),
    # serve "'loop' does not exist", sql-dryrun "'loop' is not a SQL package"
    monkeypatch.chdir(tmp_path)
    os.symlink("b", "loop")
    os.symlink("loop", "b")
    rows = str(zoo / "iris" / "rows.csv")
    argv = {"convert": ["convert", "loop", "--sample", rows, "-o", "o.onnx"], "validate": ["validate", "loop"],
            "package": ["package", "loop", "-t", "container", "-o", "out"],
            "score": ["score", "loop", "--data", "x.parquet", "--out", "s.parquet"],
            "serve": ["serve", "loop", "--port", "0"], "sql-dryrun": ["sql-dryrun", "loop", "--data", rows]}[command]
    assert main(argv) == 2
    err = capsys.readouterr().err
    _one_line(err)
    assert "'loop' is a symbolic link that loops" in err and "'ln -sfn REAL_PATH LINK'" in err, err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b", "loop"]


def test_a_symbolic_link_to_nothing_given_as_data_names_where_it_points(
        zoo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    # was "data file not found: 'rows.csv'", where 'ls' shows rows.csv
    monkeypatch.chdir(tmp_path)
    os.symlink("moved/rows.csv", "rows.csv")
    iris = zoo / "iris"
    assert main(["validate", str(iris / "model.onnx"), "--reference", str(iris / "model.skops"),
                 "--data", "rows.csv"]) == 2
    err = capsys.readouterr().err
    _one_line(err)
    assert "data file 'rows.csv' is a symbolic link to 'moved/rows.csv', which does not exist" in err, err
    assert "ln -sfn" in err, err


@pytest.mark.parametrize(("content", "says"), [
    (b"not a zip archive at all", "is not a torch.export archive (not a zip file). A .pt2 is the zip archive"),
    (b"", "is empty (0 bytes): no model was written to it; save the model again"),
    (b"PK\x03\x04cut short", "is not a torch.export archive (not a zip file). A .pt2 is the zip archive"),
])
def test_a_damaged_pt2_archive_gets_the_fix(content: bytes, says: str, tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    # helper-364: "'m.pt2' is not a torch.export archive (not a zip file)", with no fix
    pytest.importorskip("torch")
    monkeypatch.chdir(tmp_path)
    Path("m.pt2").write_bytes(content)
    np.save("rows.npy", np.zeros((3, 4), dtype=np.float32))
    assert main(["convert", "m.pt2", "--sample", "rows.npy", "-o", "o.onnx"]) == 2
    err = capsys.readouterr().err
    _one_line(err)
    assert f"'m.pt2' {says}" in err, err
    if content:
        assert "save the model again with torch.export.save(torch.export.export(model" in err, err
    assert not Path("o.onnx").exists()


def test_a_pt2_archive_missing_a_member_gets_the_fix(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    torch = pytest.importorskip("torch")
    import zipfile

    monkeypatch.chdir(tmp_path)
    torch.export.save(torch.export.export(torch.nn.Linear(4, 2), (torch.zeros(3, 4),)), "whole.pt2")
    with zipfile.ZipFile("whole.pt2") as src, zipfile.ZipFile("m.pt2", "w") as out:
        for name in src.namelist():
            if not name.endswith("/models/model.json"):  # the program itself, lost in a partial copy
                out.writestr(name, src.read(name))
    np.save("rows.npy", np.zeros((3, 4), dtype=np.float32))
    assert main(["convert", "m.pt2", "--sample", "rows.npy", "-o", "o.onnx"]) == 2
    err = capsys.readouterr().err
    _one_line(err)
    assert "'m.pt2' is not a readable torch.export archive:" in err, err
    assert "damaged, cut short" in err and "save the model again with torch.export.save(" in err, err
    assert not Path("o.onnx").exists()


@pytest.mark.parametrize("damage", ["garbage-pb", "no-pb"])
def test_a_damaged_savedmodel_folder_gets_the_fix(damage: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    # helper-364: "cannot load the SavedModel in 'sm': OSError: ... Wire format was corrupt." and, without its
    # saved_model.pb, "cannot tell which framework 'sm' belongs to", neither with a fix
    if damage == "garbage-pb":
        pytest.importorskip("tensorflow")
    monkeypatch.chdir(tmp_path)
    (tmp_path / "sm" / "variables").mkdir(parents=True)
    (tmp_path / "sm" / "variables" / "variables.index").write_bytes(b"\x00" * 16)
    if damage == "garbage-pb":
        (tmp_path / "sm" / "saved_model.pb").write_bytes(b"cut short \xff\xff")
    np.save("rows.npy", np.zeros((3, 4), dtype=np.float32))
    assert main(["convert", "sm", "--sample", "rows.npy", "-o", "o.onnx"]) == 2
    err = capsys.readouterr().err
    _one_line(err)
    if damage == "garbage-pb":
        assert "cannot load the SavedModel in 'sm'" in err and "The folder is damaged or incomplete" in err, err
    else:
        assert "a TensorFlow SavedModel folder without its saved_model.pb" in err, err
    assert "save the model again with tf.saved_model.save(model, 'DIR')" in err, err
    assert not Path("o.onnx").exists()


@pytest.mark.parametrize(("given", "says"), [
    ("pkg", "It is a package 'onnxgate package' wrote, holding the ONNX model 'pkg/model.onnx'"),
    ("rows.csv", ".csv is a data file: give the model file first, and the rows with --sample"),
    ("empty", "It is an empty folder: give the model file"),
])
def test_convert_given_no_model_file_says_what_it_was_given(zoo: Path, given: str, says: str, tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    # was "cannot tell which framework 'pkg' belongs to: expected a file ending in one of [...]", with no fix
    monkeypatch.chdir(tmp_path)
    assert main(["package", str(zoo / "iris" / "model.onnx"), "-t", "container", "-o", "pkg"]) == 0
    Path("rows.csv").write_text((zoo / "iris" / "rows.csv").read_text())
    Path("empty").mkdir()
    capsys.readouterr()
    assert main(["convert", given, "--sample", "rows.csv", "-o", "o.onnx"]) == 2
    err = capsys.readouterr().err
    _one_line(err)
    assert says in err, err
    assert not Path("o.onnx").exists()


@pytest.mark.parametrize(("data", "says"), [
    ("zero.csv", "data file 'zero.csv' is empty (0 bytes): expected a header and rows. Write the rows to it again"),
    ("header.csv", "data file 'header.csv' has a header but no rows: expected at least one row; export the rows again"),
    ("folder", "no Parquet files in 'folder': a data folder holds .parquet files (as Spark writes them); give a .csv"),
    ("m.onnx", "found 'm.onnx'; it is a model file, not rows: give the model as MODEL (or --reference), and the rows"),
    ("rows.txt", "found 'rows.txt'; name the file after its format (rows.csv for comma-separated text)"),
    ("nope.csv", "data file not found: 'nope.csv' (relative to the working folder "),
])
@pytest.mark.parametrize("command", ["validate", "sweep"])
def test_data_with_no_rows_or_of_no_format_read_gets_the_fix(zoo: Path, command: str, data: str, says: str,
                                                             tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    # helper-364: "data file 'zero.csv' is empty (0 bytes): expected a header and rows", "... has a header but no
    # rows", "no Parquet files in 'folder'", "expected a data file ending in one of [...], found 'm.onnx'" and
    # "data file not found: 'nope.csv'" said no fix
    monkeypatch.chdir(tmp_path)
    iris = zoo / "iris"
    Path("zero.csv").write_bytes(b"")
    Path("header.csv").write_text("input_0,input_1,input_2,input_3\n")
    Path("folder").mkdir()
    Path("m.onnx").write_bytes((iris / "model.onnx").read_bytes())
    Path("rows.txt").write_text((iris / "rows.csv").read_text())
    argv = (["validate", str(iris / "model.onnx"), "--reference", str(iris / "model.skops"), "--data", data]
            if command == "validate" else ["sweep", str(iris / "model.skops"), "--sample", data, "--opsets", "13"])
    assert main(argv) == 2
    err = capsys.readouterr().err
    _one_line(err)
    assert says in err, err


@pytest.mark.parametrize(("case", "says"), [
    ("data-without-reference", "add --reference MODEL (the model the .onnx was converted from), or leave --data out"),
    ("reference-without-data", "--reference needs --data: the rows to compare predictions on; add --data ROWS"),
    ("a-label-column-left-in", "expects 4 values per row [?,4], the data has 5 (shape [150, 5]); give data of 4 values "
                               "per row"),
    ("3-d-rows", "expects rank 2 [?,4], the data has shape [150, 2, 2]; give an array of that shape"),
    ("3-d-sample", "expected a 2-D sample (rows x features), found shape [150, 2, 2]; give rows of the model's "
                   "features"),
    ("empty-onnx", "is empty: expected a serialized ONNX model. Write it again (onnx.save(model, PATH)"),
])
def test_rows_of_the_wrong_shape_or_a_missing_companion_option_gets_the_fix(
        zoo: Path, case: str, says: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    # helper-364: each said what was expected and found, not what to do
    monkeypatch.chdir(tmp_path)
    iris = zoo / "iris"
    X = np.load(iris / "sample.npy")
    np.save("label.npy", np.hstack([X, np.zeros((len(X), 1))]))
    np.save("cube.npy", X.reshape(-1, 2, 2))
    Path("empty.onnx").write_bytes(b"")
    model, skops = str(iris / "model.onnx"), str(iris / "model.skops")
    argv = {"data-without-reference": ["validate", model, "--data", "label.npy"],
            "reference-without-data": ["validate", model, "--reference", skops],
            "a-label-column-left-in": ["validate", model, "--reference", skops, "--data", "label.npy"],
            "3-d-rows": ["validate", model, "--reference", skops, "--data", "cube.npy"],
            "3-d-sample": ["convert", skops, "--sample", "cube.npy", "-o", "o.onnx"],
            "empty-onnx": ["validate", "empty.onnx"]}[case]
    assert main(argv) == 2
    err = capsys.readouterr().err
    _one_line(err)
    assert says in err, err
    assert not Path("o.onnx").exists()


@pytest.mark.parametrize(("data", "says"), [
    ("empty.npy", "data file 'empty.npy' holds no values (shape [0, 4]): expected at least one row; save the rows "
                  "again (numpy.save(PATH, X) with X holding them)"),
    ("cut.npy", "; the file is cut short or damaged: write it again with numpy.save(PATH, X)"),
])
@pytest.mark.parametrize("command", ["convert", "validate"])
def test_an_empty_or_cut_short_npy_file_gets_the_fix(zoo: Path, command: str, data: str, says: str, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    # helper-373: "data file 'empty.npy' holds no values" and "cannot read 'cut.npy' as .npy: EOF: reading array
    # header, expected 118 bytes got 90" said what was found only
    monkeypatch.chdir(tmp_path)
    iris = zoo / "iris"
    np.save("empty.npy", np.zeros((0, 4), dtype=np.float32))
    Path("cut.npy").write_bytes((iris / "sample.npy").read_bytes()[:90])
    argv = (["convert", str(iris / "model.skops"), "--sample", data, "-o", "o.onnx"] if command == "convert"
            else ["validate", str(iris / "model.onnx"), "--reference", str(iris / "model.skops"), "--data", data])
    assert main(argv) == 2
    err = capsys.readouterr().err
    _one_line(err)
    assert says in err, err
    assert not Path("o.onnx").exists()


@pytest.mark.parametrize("command", ["convert", "sweep"])
def test_a_sample_of_numbers_saved_as_text_gets_the_fix(zoo: Path, command: str, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    # helper-373: convert said "skl2onnx could not convert LogisticRegression: Operator SklearnLinearClassifier
    # ... got an input input with a wrong type StringTensorType" (no fix); sweep exited 1, every opset failing
    monkeypatch.chdir(tmp_path)
    iris = zoo / "iris"
    np.save("text.npy", np.load(iris / "sample.npy").astype(str))
    argv = (["convert", str(iris / "model.skops"), "--sample", "text.npy", "-o", "o.onnx"] if command == "convert"
            else ["sweep", str(iris / "model.skops"), "--sample", "text.npy", "--opsets", "13"])
    assert main(argv) == 2
    err = capsys.readouterr().err
    _one_line(err)
    assert ("the sample holds text (<U32) where LogisticRegression reads numbers; save it as numbers "
            "(numpy.save(PATH, X.astype(float))), or give the rows as a CSV file") in err, err
    assert not Path("o.onnx").exists()


@pytest.mark.parametrize("command", [["convert", "MODEL", "--sample", "ROWS", "-o", "o.onnx"],
                                     ["zoo", "export", "sklearn-iris-logreg", "-o", "o.onnx"]], ids=["convert", "zoo"])
@pytest.mark.parametrize("opset", ["0", "99999"])
def test_an_opset_out_of_range_gets_the_fix(zoo: Path, command: list[str], opset: str, tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    # helper-373: "opset must be between 1 and 28 (the newest the installed onnx knows), found 0" said no fix
    monkeypatch.chdir(tmp_path)
    names = {"MODEL": str(zoo / "iris" / "model.skops"), "ROWS": str(zoo / "iris" / "rows.csv")}
    assert main([names.get(a, a) for a in command] + ["--opset", opset]) == 2
    err = capsys.readouterr().err
    _one_line(err)
    assert f"found {opset}; give one in that range, or leave it out for the default" in err, err
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(("option", "says"), [
    (["--atol", "-1"], "must be a finite number >= 0, found -1.0; give 0 (exact) or a small positive number such as "
                       "1e-5"),
    (["--search", "-5"], "found -5; give 0 for no search, or a count such as 1000"),
    (["--search", "10", "--seed", "-1"], "found -1; give one such as 0"),
    (["--search", "10", "--search-time-limit", "0"], "found 0.0; give one such as 60, or leave it out for none"),
    (["--batch-size", "0"], "found 0; give a number of rows of 1 or more, or leave it out for the default"),
    (["score", "--batch-size", "0"], "found 0; give 1 or more, or leave it out for the default"),
    (["package", "--option", "max_rows=0"], "found max_rows=0; give a whole number of 1 or more"),
    (["package", "--search", "-5"], "found -5 and 0; give 0 or more (--search 0: no search)"),
    (["--rtol", "nosuch=1e-3"], "rtol given for output 'nosuch', which the model does not have; its outputs are "
                                "['label', 'probabilities'] ('' sets the default): name one of them"),
], ids=["atol", "search", "seed", "time-limit", "batch-size", "score-batch-size", "package-max-rows", "package-search",
    "rtol-name"])
def test_a_number_option_out_of_range_gets_the_fix(zoo: Path, option: list[str], says: str, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    # helper-373: each said what it expected and found only ("atol for 'all outputs' must be a finite number >= 0,
    # found -1.0", "--batch-size must be a positive number of rows, found 0", ...)
    monkeypatch.chdir(tmp_path)
    iris = zoo / "iris"
    model = str(iris / "model.onnx")
    if option[0] == "score":
        pd.read_csv(iris / "rows.csv").to_parquet("rows.parquet")
        argv = ["score", model, "--data", "rows.parquet", "--out", "s.parquet", *option[1:]]
    elif option[0] == "package":
        argv = ["package", model, "-t", "container", "-o", "out", *option[1:]]
    else:
        argv = ["validate", model, "--reference", str(iris / "model.skops"), "--data", str(iris / "rows.csv"), *option]
    assert main(argv) == 2
    err = capsys.readouterr().err
    _one_line(err)
    assert says in err, err
    assert not Path("s.parquet").exists() and not Path("out").exists()
