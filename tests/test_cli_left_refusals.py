"""Bad input an outside tester (helper-190) found handled wrongly and left open: one typo cell in a number
column made that input text (convert exit 0, validate then said the model "was fitted on text"); ``package
--registry bogus://x`` wrote the package before the store refused it; ``--opset 999``, ``--atol -1`` and the like
were refused only after the model loaded; ``zoo export`` named its staging folder; an empty or pickled .skops
and a .skops given to validate got no fix; ``sweep --opsets 13,13`` ran opset 13 once without a word."""

from __future__ import annotations

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
