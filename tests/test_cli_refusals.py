"""Bad input an outside reviewer (helper-72) found handled wrongly: a malformed model adapted and packaged
with exit 0, internal errors on huge counts and bfloat16, and shuffled position columns scored silently."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import pandas as pd
import pytest

import onnxgate as og
from onnxgate.cli import main


@pytest.fixture(scope="module")
def iris(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    X, y = load_iris(return_X_y=True)
    X = X.astype(np.float32)
    model = LogisticRegression(max_iter=500).fit(X, y)
    folder = tmp_path_factory.mktemp("refusals")
    onnx_file = folder / "m.onnx"
    onnx_file.write_bytes(og.convert(model, X[:5]).model.SerializeToString())
    return {"model": model, "X": X, "onnx": onnx_file, "folder": folder}


def _malformed(iris: dict[str, Any], how: str) -> Path:
    proto = onnx.load(str(iris["onnx"]))
    if how == "ir99":
        proto.ir_version = 99
    else:  # an output listed twice
        proto.graph.output.append(proto.graph.output[0])
    path = iris["folder"] / f"{how}.onnx"
    path.write_bytes(proto.SerializeToString())
    return path


@pytest.mark.parametrize("how", ["ir99", "output-twice"])
def test_a_malformed_model_is_not_adapted_and_packaged(iris: dict[str, Any], how: str, tmp_path: Path,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    # before: exit 0, the model re-stamped at IR 7 (or its outputs renamed x2_0_1...) and the manifest said
    # model_wellformed passed
    path = _malformed(iris, how)
    with pytest.raises(og.InvalidModelError, match="not adapted for PREDICT"):
        og.adapt(str(path), "sql-edge-2.0")
    out = tmp_path / "pkg"
    assert main(["package", str(path), "--target", "sql-edge-2.0", "--adapt", "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert "not adapted for PREDICT" in err and "Traceback" not in err
    assert not out.exists()


def test_a_bfloat16_model_is_refused_saying_why(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # before: "unexpected ValueError: bfloat16 has no numpy dtype (... please report it)"
    from onnx import TensorProto, helper

    graph = helper.make_graph([helper.make_node("Identity", ["x"], ["y"])], "bf16",
                              [helper.make_tensor_value_info("x", TensorProto.BFLOAT16, ["N", 2])],
                              [helper.make_tensor_value_info("y", TensorProto.BFLOAT16, ["N", 2])])
    path = tmp_path / "bf16.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    # since the container target lists the element types a JSON service carries, the gate fails it (exit 1)
    # before packaging would refuse it: the report names the type and the one to use, nothing is written
    assert main(["package", str(path), "--target", "container", "-o", str(tmp_path / "pkg")]) == 1
    captured = capsys.readouterr()
    shown = captured.out + captured.err
    assert "'x' is bfloat16 (use float32)" in shown and "'y' is bfloat16 (use float32)" in shown
    assert "nothing was written" in captured.err and "please report" not in shown
    assert not (tmp_path / "pkg").exists()


def test_huge_counts_are_taken_as_all_rows(iris: dict[str, Any], tmp_path: Path) -> None:
    # before: "unexpected OverflowError: value too large to convert to int"
    data = tmp_path / "rows.parquet"
    pd.DataFrame(iris["X"], columns=[f"input_{i}" for i in range(4)]).to_parquet(data)
    out = tmp_path / "scored.parquet"
    assert main(["score", str(iris["onnx"]), "--data", str(data), "--out", str(out),
                 "--batch-size", str(10**12)]) == 0
    assert len(pd.read_parquet(out)) == len(iris["X"])


@pytest.mark.parametrize("command", ["score", "validate"])
def test_position_columns_out_of_order_are_refused(iris: dict[str, Any], tmp_path: Path, command: str,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    # they feed the [N,4] input in the order they come: reversed, 98 of 150 labels changed with exit 0
    frame = pd.DataFrame(iris["X"], columns=[f"input_{i}" for i in range(4)])
    data = tmp_path / "reversed.parquet"
    frame[frame.columns[::-1]].to_parquet(data)
    args = (["score", str(iris["onnx"]), "--data", str(data), "--out", str(tmp_path / "s.parquet")]
            if command == "score" else ["validate", str(iris["onnx"]), "--data", str(data), "--reference",
                                        str(iris["onnx"])])
    assert main(args) == 2
    assert "not in that order" in capsys.readouterr().err
    in_order = tmp_path / "in_order.parquet"
    frame.to_parquet(in_order)
    assert main(["score", str(iris["onnx"]), "--data", str(in_order), "--out", str(tmp_path / "ok.parquet")]) == 0


def test_validate_reads_a_folder_of_parquet_files_as_score_does(iris: dict[str, Any], tmp_path: Path,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    # local validate refused the folder `score` and `validate --spark` read: no local verdict to compare (helper-76)
    frame = pd.DataFrame(iris["X"], columns=[f"input_{i}" for i in range(4)])
    folder = tmp_path / "rows"
    folder.mkdir()
    frame.iloc[:100].to_parquet(folder / "part-0.parquet")
    frame.iloc[100:].to_parquet(folder / "part-1.parquet")
    assert main(["validate", str(iris["onnx"]), "--data", str(folder), "--reference", str(iris["onnx"])]) == 0
    assert "150 rows" in capsys.readouterr().out
    frame.iloc[:0].to_parquet(folder / "part-2.parquet")  # a file of no rows holds its schema, as Spark reads it
    assert main(["validate", str(iris["onnx"]), "--data", str(folder), "--reference", str(iris["onnx"])]) == 0
    assert "150 rows" in capsys.readouterr().out  # local validate refused it while Spark passed (helper-90)
    frame.iloc[:10, :3].to_parquet(folder / "part-3.parquet")  # a file without a column
    assert main(["validate", str(iris["onnx"]), "--data", str(folder), "--reference", str(iris["onnx"])]) == 2
    err = capsys.readouterr().err
    assert "holds other columns or types" in err and "column 'input_3' is missing there and float" in err, err
    empty = tmp_path / "none"
    empty.mkdir()
    frame.iloc[:0].to_parquet(empty / "part-0.parquet")
    assert main(["validate", str(iris["onnx"]), "--data", str(empty), "--reference", str(iris["onnx"])]) == 2
    assert "has a header but no rows in any file" in capsys.readouterr().err


def test_messages_say_what_to_do(tmp_path: Path) -> None:
    # helper-72: "Give a DuckDB file (or a new path)" for a new path in a missing folder
    from onnxgate.deploy.duckdb_dryrun import _check_database_file

    with pytest.raises(og.InvalidDataError, match="in a folder that does not exist"):
        _check_database_file(tmp_path / "nodir" / "x.duckdb")
    _check_database_file(tmp_path / "x.duckdb")  # a new path in a folder that exists


def test_a_csv_naming_a_column_twice_is_refused(iris: dict[str, Any], tmp_path: Path) -> None:
    # pandas renamed the second 'alcohol' to 'alcohol.1' and the dry run, picking columns by name, used the first
    from onnxgate._data import load_data

    path = tmp_path / "twice.csv"
    path.write_text("a,b,a\n1,2,3\n4,5,6\n", encoding="utf-8")
    with pytest.raises(og.InvalidDataError, match=r"names the column\(s\) \['a'\] more than once"):
        load_data(path)
    path.write_text("a,b,c\n1,2,3\n", encoding="utf-8")
    assert list(load_data(path).columns) == ["a", "b", "c"]


def test_an_output_no_table_column_holds_is_named_without_spark(tmp_path: Path,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    # one-machine score said "has no Spark column type" though --spark was not given (helper-72)
    from onnx import TensorProto, helper

    graph = helper.make_graph([helper.make_node("Cast", ["x"], ["y"], to=TensorProto.UINT64)], "u64",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 2])],
                              [helper.make_tensor_value_info("y", TensorProto.UINT64, ["N", 2])])
    path = tmp_path / "u64.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    data = tmp_path / "rows.parquet"
    pd.DataFrame({"x_0": [1.0, 2.0], "x_1": [3.0, 4.0]}, dtype=np.float32).to_parquet(data)
    assert main(["score", str(path), "--data", str(data), "--out", str(tmp_path / "s.parquet")]) == 2
    err = capsys.readouterr().err
    assert "no column type in a scored table" in err and "--spark" not in err


@pytest.mark.parametrize("line", [0, 25, 900, 200_000])
def test_a_byte_that_is_not_utf8_is_named_at_its_offset_in_the_file(tmp_path: Path, line: int) -> None:
    # pandas decodes in chunks and its error counts from the chunk: 'byte 1' was said for byte 151 (helper-95)
    from onnxgate._data import load_data

    body = bytearray(b"a,b\n" + b"1.5,2\n" * (line + 10))
    at = 4 + 6 * line  # the line's first digit
    body[at] = 0xFF
    path = tmp_path / "latin.csv"
    path.write_bytes(bytes(body))
    with pytest.raises(og.InvalidDataError, match=rf"is not UTF-8 \(byte {at}: invalid start byte\)"):
        load_data(path)


def test_a_character_cut_off_by_the_end_of_the_file_is_named_at_its_offset(tmp_path: Path) -> None:
    # the first lead byte of 'é' with its continuation byte missing, at the very end of the file (helper-100)
    from onnxgate._data import load_data

    body = b"a,b\n" + b"1.5,2\n" * 30_000 + b"1.5,\xc3"
    path = tmp_path / "cut.csv"
    path.write_bytes(body)
    with pytest.raises(og.InvalidDataError, match=rf"is not UTF-8 \(byte {len(body) - 1}: unexpected end of data\)"):
        load_data(path)


def test_an_unreadable_lightgbm_file_is_one_line_on_stderr(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    # LightGBM's C++ side wrote "[LightGBM] [Fatal] ..." to stderr beside onnxgate's own line (helper-95)
    pytest.importorskip("lightgbm")
    model = tmp_path / "model.txt"
    model.write_text("tree\n")
    sample = tmp_path / "rows.npy"
    np.save(sample, np.zeros((2, 4)))
    assert main(["convert", str(model), "--sample", str(sample), "-o", str(tmp_path / "m.onnx")]) == 2
    err = capfd.readouterr().err
    assert err.count("\n") == 1 and "is not a readable LightGBM model" in err, err
    assert not (tmp_path / "m.onnx").exists()


def test_a_truncated_lightgbm_file_is_refused_not_a_crash(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # LightGBM reads the trees by the header's tree_sizes, past the end of a file cut short (a copy that stopped):
    # 'convert model.txt' aborted the process, exit 134 and nothing printed (helper-276). Run in a child process, so
    # that the abort it guards against cannot take the test run with it.
    import subprocess
    import sys

    lightgbm = pytest.importorskip("lightgbm")
    from sklearn.datasets import load_iris

    monkeypatch.chdir(tmp_path)
    X, y = load_iris(return_X_y=True)
    booster = lightgbm.train({"objective": "multiclass", "num_class": 3, "verbose": -1}, lightgbm.Dataset(X, y), 5)
    whole = booster.model_to_string().encode()
    Path("model.txt").write_bytes(whole[: len(whole) // 2])
    np.save("rows.npy", X[:5])
    proc = subprocess.run([sys.executable, "-m", "onnxgate", "convert", "model.txt", "--sample", "rows.npy", "-o",
                           "m.onnx"], capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert proc.returncode == 2, (proc.returncode, proc.stderr[-500:])
    assert proc.stderr.count("\n") == 1 and "is a truncated LightGBM model" in proc.stderr, proc.stderr
    assert "save_model" in proc.stderr and not Path("m.onnx").exists()


@pytest.mark.parametrize("name", ["model.pkl", "model.joblib", "model.pt"])
@pytest.mark.parametrize("content", ["empty", "onnx"])
def test_an_empty_or_onnx_file_under_a_pickle_suffix_is_refused_by_its_content_not_as_untrusted(
    iris: dict[str, Any], name: str, content: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # 'convert model.pkl' (0 bytes, or an ONNX file) said "is a pickle ... pass --trust-pickle", and with it "cannot
    # unpickle: EOFError:" or "KeyError: 8": trusting the file was the advice, and no fix (helper-276)
    monkeypatch.chdir(tmp_path)
    Path(name).write_bytes(b"" if content == "empty" else iris["onnx"].read_bytes())
    np.save("rows.npy", iris["X"][:5])
    for trust in ([], ["--trust-pickle"]):
        assert main(["convert", name, "--sample", "rows.npy", "-o", "m.onnx", *trust]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "trust" not in err, err
        want = "is empty (0 bytes)" if content == "empty" else "is an ONNX model"
        assert want in err, err


def test_an_mlflow_model_folder_is_refused_naming_the_model_file_it_holds(
    iris: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # 'convert mlflow_model/' (mlflow.sklearn.save_model) said "cannot tell which framework ... expected a file
    # ending in one of [...] or a TensorFlow SavedModel folder" (helper-276)
    mlflow_sklearn = pytest.importorskip("mlflow.sklearn")
    monkeypatch.chdir(tmp_path)
    mlflow_sklearn.save_model(iris["model"], "mlflow_model", pip_requirements=["scikit-learn"])  # no inferring
    held = [f for f in Path("mlflow_model").iterdir() if f.suffix in (".skops", ".pkl", ".pickle", ".joblib")]
    np.save("rows.npy", iris["X"][:5])
    assert main(["convert", "mlflow_model", "--sample", "rows.npy", "-o", "m.onnx"]) == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]  # mlflow's own warnings may come before
    assert "is an MLflow model folder" in err and str(held[0]) in err, err


def test_an_unreadable_pt2_archive_names_torchs_reason(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    # torch logs the cause as a warning (silenced) and raises "Please check the warnings above": the one line said
    # that, with nothing above it (helper-95)
    import zipfile

    pytest.importorskip("torch")
    archive = tmp_path / "model.pt2"
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr("x/archive_format", "pt2")
        zipped.writestr("x/version", "0")
    sample = tmp_path / "rows.npy"
    np.save(sample, np.zeros((2, 4), np.float32))
    assert main(["convert", str(archive), "--sample", str(sample), "-o", str(tmp_path / "m.onnx")]) == 2
    err = capfd.readouterr().err
    assert err.count("\n") == 1 and "warnings above" not in err and "version" in err, err


def test_a_list_column_beside_others_is_named_as_arrays_not_text(tmp_path: Path) -> None:
    # a Parquet list column of the features beside an id column: "found text values (setting an array element
    # with a sequence)" where the file holds no text (helper-106)
    import pandas as pd
    from onnx import TensorProto, helper

    from onnxgate._data import as_feeds
    from onnxgate.signature import Signature

    graph = helper.make_graph([helper.make_node("Identity", ["input"], ["y"])], "same",
                              [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", 4])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 4])])
    signature = Signature.from_model(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]))
    frame = pd.DataFrame({"id": [1, 2], "features": [[1.0, 2.0, 3.0, 4.0], [5.0, 6.0, 7.0, 8.0]]})
    with pytest.raises(og.InvalidDataError, match=r"holds arrays \(a list column\).*named 'input'"):
        as_feeds(frame, signature)
    fed = as_feeds(frame[["features"]].rename(columns={"features": "input"}), signature)
    assert fed["input"].shape == (2, 4)


def _converted_at_17(estimator: Any, X: np.ndarray, name: str) -> Path:
    import joblib

    joblib.dump(estimator, f"{name}.joblib")
    np.save("sample.npy", X[:20])
    assert main(["convert", f"{name}.joblib", "--trust-pickle", "--sample", "sample.npy", "--opset", "17",
                 "-o", f"{name}.onnx"]) == 0
    return Path(f"{name}.onnx")


@pytest.mark.parametrize("target", ["synapse", "sql-edge-1.0"])
def test_an_opset_17_pipeline_is_packaged_for_an_opset_12_target_and_answers_the_same(
        iris: dict[str, Any], target: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    # before: exit 2, "Sub (node 'Sub': version 14 in use, opset 12 has version 7)", though Sub 14 only takes more types
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    monkeypatch.chdir(tmp_path)
    X = iris["X"]
    pipe = make_pipeline(StandardScaler(), LogisticRegression(max_iter=500)).fit(X, iris["model"].predict(X))
    path = _converted_at_17(pipe, X, "pipe")
    capsys.readouterr()
    assert main(["package", str(path), "--target", target, "--adapt", "-o", "pkg"]) == 0
    packaged = onnx.load("pkg/model.onnx")
    assert {e.domain: e.version for e in packaged.opset_import}[""] == 12
    # a file handed back at another opset than it came in says so, on stderr and in the manifest
    err = capsys.readouterr().err
    assert f"note: --adapt lowered the file to the caps of target {target!r}: opset ai.onnx lowered 17 -> 12" in err
    lowered = json.loads(Path("pkg/manifest.json").read_text())["sql"]["lowered"]
    assert any(note.startswith("opset ai.onnx lowered 17 -> 12") for note in lowered)
    import onnxruntime as ort

    sess = ort.InferenceSession("pkg/model.onnx", providers=["CPUExecutionProvider"])
    outputs = dict(zip([o.name for o in sess.get_outputs()],
                       sess.run(None, {i.name: X[:, [k]] for k, i in enumerate(sess.get_inputs())})))
    np.testing.assert_array_equal(outputs["label"].ravel(), pipe.predict(X))
    probabilities = np.hstack([outputs[f"p_{c}"] for c in pipe.classes_])
    np.testing.assert_allclose(probabilities, pipe.predict_proba(X), rtol=1e-4, atol=1e-5)


def _mlp() -> Any:
    from sklearn.neural_network import MLPClassifier

    return MLPClassifier(hidden_layer_sizes=(4,), max_iter=300, random_state=0)


def _knn() -> Any:
    from sklearn.neighbors import KNeighborsClassifier

    return KNeighborsClassifier()


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize(("make", "rewritten"), [
    (_mlp, "Softmax 13 -> 11: written with axis=1"),
    (_knn, "ReduceSum 13 -> 11: its constant axes written as the attribute"),
], ids=["mlp", "knn"])
def test_an_opset_17_mlp_or_knn_is_packaged_for_synapse_by_rewriting_nodes_and_answers_the_same(
        iris: dict[str, Any], make: Any, rewritten: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    # before: exit 2, "Softmax 13 (opset 12 has Softmax 11; the default of attribute 'axis' changed at version 13)"
    # for the MLP and "ReduceSum 13 (opset 12 has ReduceSum 11; its inputs changed at version 13)" for the KNN, though
    # a Softmax over the columns of [N,3] and a ReduceSum over constant axes have an opset-12 form
    monkeypatch.chdir(tmp_path)
    X = iris["X"]
    estimator = make().fit(X, iris["model"].predict(X))
    path = _converted_at_17(estimator, X, "model")
    capsys.readouterr()
    assert main(["package", str(path), "--target", "synapse", "--adapt", "-o", "pkg"]) == 0
    assert {e.domain: e.version for e in onnx.load("pkg/model.onnx").opset_import}[""] == 12
    err = capsys.readouterr().err
    assert "note: --adapt lowered the file to the caps of target 'synapse': node " in err and rewritten in err
    assert any(rewritten in note for note in json.loads(Path("pkg/manifest.json").read_text())["sql"]["lowered"])
    import onnxruntime as ort

    sess = ort.InferenceSession("pkg/model.onnx", providers=["CPUExecutionProvider"])
    outputs = dict(zip([o.name for o in sess.get_outputs()],
                       sess.run(None, {i.name: X[:, [k]] for k, i in enumerate(sess.get_inputs())})))
    np.testing.assert_array_equal(outputs.pop("label").ravel(), estimator.predict(X))
    # one column per class, in the classes' order (p_0.. after a ZipMap, probabilities_0.. after a tensor)
    assert len(outputs) == len(estimator.classes_)
    np.testing.assert_allclose(np.hstack(list(outputs.values())), estimator.predict_proba(X), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("target", ["synapse", "sql-edge-1.0"])
def test_an_opset_17_file_that_cannot_be_lowered_is_refused_with_the_command_that_fixes_it(
        target: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    # a Softmax over axis 1 of [N,2,3]: Softmax 11 would normalise each row's 6 values together, Softmax 13 normalises
    # each pair, so no opset-12 reading of the file is the same model
    torch = pytest.importorskip("torch")

    class GroupedSoftmax(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.scores, self.out = torch.nn.Linear(4, 6), torch.nn.Linear(6, 2)

        def forward(self, x: Any) -> Any:
            return self.out(torch.softmax(self.scores(x).reshape(-1, 2, 3), dim=1).flatten(1))

    monkeypatch.chdir(tmp_path)
    torch.manual_seed(0)
    X = np.random.default_rng(0).normal(size=(20, 4)).astype(np.float32)
    torch.jit.save(torch.jit.trace(GroupedSoftmax().eval(), torch.from_numpy(X)), "grouped.pt")
    np.save("sample.npy", X)
    assert main(["convert", "grouped.pt", "--sample", "sample.npy", "--opset", "17", "-o", "grouped.onnx"]) == 0
    capsys.readouterr()
    assert main(["package", "grouped.onnx", "--target", target, "--adapt", "-o", "pkg"]) == 2
    err = capsys.readouterr().err
    assert "the model is at opset ai.onnx 17" in err and "at most opset ai.onnx 12" in err
    assert "Softmax 13 (opset 12 has Softmax 11" in err and "its input has rank 3" in err
    assert f"--target {target} -o model.onnx (or --opset 12)" in err and "Traceback" not in err
    assert not Path("pkg").exists()
    # the command it names gives a file the target takes
    assert main(["convert", "grouped.pt", "--sample", "sample.npy", "--target", target, "-o", "again.onnx"]) == 0
    assert main(["package", "again.onnx", "--target", target, "--adapt", "-o", "pkg"]) == 0


def _zip_of_text(path: Path) -> None:
    import zipfile

    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("hello.txt", "hi")


def _cut_catboost(path: Path) -> None:
    catboost = pytest.importorskip("catboost")
    from sklearn.datasets import load_iris

    X, y = load_iris(return_X_y=True)
    whole = path.with_name("whole.cbm")
    catboost.CatBoostClassifier(iterations=5, depth=2, verbose=0, allow_writing_files=False).fit(X, y).save_model(
        str(whole))
    path.write_bytes(whole.read_bytes()[:200])


def _cut_xgboost(path: Path) -> None:
    xgboost = pytest.importorskip("xgboost")
    from sklearn.datasets import load_iris

    X, y = load_iris(return_X_y=True)
    whole = path.with_name("whole.ubj")
    xgboost.XGBClassifier(n_estimators=3, max_depth=2).fit(X, y).save_model(str(whole))
    path.write_bytes(whole.read_bytes()[:100])


def _xgboost_json(path: Path) -> None:
    xgboost = pytest.importorskip("xgboost")
    from sklearn.datasets import load_iris

    X, y = load_iris(return_X_y=True)
    whole = path.with_name("whole.json")
    xgboost.XGBClassifier(n_estimators=3, max_depth=2).fit(X, y).save_model(str(whole))
    path.write_bytes(whole.read_bytes())


# the file, how it is made, what onnxgate says of it, and the library's words it said before (helper-292)
_NOT_THE_MODEL = {
    "keras-zip-of-text": ("m.keras", _zip_of_text,
                          "'m.keras' is not a .keras file: expected the zip archive model.save('model.keras') writes "
                          "(holding config.json), found a zip archive of 1 member (hello.txt). Save the model again",
                          "There is no item named"),
    "empty-h5": ("m.h5", lambda p: p.write_bytes(b""),
                 "'m.h5' is not a Keras model file: expected the HDF5 file model.save('model.h5') writes, found an "
                 "empty file (0 bytes)", "file signature not found"),
    "truncated-cbm": ("m.cbm", _cut_catboost,
                      "'m.cbm' is a truncated CatBoost model: its header announces", "Failed to read required"),
    "truncated-ubj": ("m.ubj", _cut_xgboost,
                      "'m.ubj' is a truncated XGBoost model: it begins as the file that model.save_model('model.ubj') "
                      "writes, but stops after 100 bytes", "bad_alloc"),
    # XGBoost reads a file by its suffix: the whole JSON model was "cut short or damaged, or written by another
    # XGBoost version" (Expecting: "L", got: "34 ")
    "json-as-ubj": ("m.ubj", _xgboost_json,
                    "'m.ubj' is XGBoost's JSON model (the file that model.save_model('model.json') writes) under the "
                    "suffix .ubj, and XGBoost reads a .ubj file as UBJSON: rename it m.json", "cut short"),
    "onnx-as-cbm": ("m.cbm", None, "'m.cbm' is not a CatBoost model file: expected the binary file that "
                    "model.save_model('model.cbm') writes (it starts with 'CBM1'), found an ONNX model",
                    "Incorrect model file descriptor"),
}


@pytest.mark.parametrize("case", list(_NOT_THE_MODEL))
def test_a_model_file_that_is_not_what_its_suffix_says_is_named_in_onnxgates_words(
    iris: dict[str, Any], case: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    # each said the library's own text, naming no fix: "KeyError: There is no item named 'config.json' in the
    # archive", "OSError: Unable to synchronously open file (file signature not found)", "util/stream/input.cpp:77:
    # Failed to read required number of bytes from stream!", "std::bad_alloc"
    monkeypatch.chdir(tmp_path)
    name, make, said, before = _NOT_THE_MODEL[case]
    if make is None:
        Path(name).write_bytes(iris["onnx"].read_bytes())
    else:
        make(tmp_path / name)
    np.save("rows.npy", iris["X"][:5])
    for command in (["convert", name, "--sample", "rows.npy", "-o", "m.onnx"],
                    ["validate", str(iris["onnx"]), "--reference", name, "--data", "rows.npy"]):
        assert main(command) == 2
        err = capfd.readouterr().err
        assert err.count("\n") == 1 and said in err and before not in err and "Traceback" not in err, err
        assert "save" in err.split(". ", 1)[1], err  # and how to write a readable one
    assert not Path("m.onnx").exists()


def test_trust_pickle_help_names_every_format_that_needs_it(capsys: pytest.CaptureFixture[str]) -> None:
    # it named .pkl/.joblib/.pt only; a .pt2 with pickled members, a .skops of untrusted types and a .keras holding a
    # Lambda layer are refused without it too
    for command in ("convert", "validate", "sweep", "package", "sql-dryrun"):
        with pytest.raises(SystemExit):
            main([command, "--help"])
        text = " ".join(capsys.readouterr().out.split())
        help_text = text[text.index("--trust-pickle allow"):]
        named = (".pkl", ".pickle", ".joblib", ".pt/.pth", ".pt2", ".skops", ".keras/.h5")
        assert all(suffix in help_text for suffix in named), (command, help_text[:300])


@pytest.mark.parametrize(("text", "said"), [
    ("a,b,c,d\n1,2,3,4\n5,6,7,8,9\n", "line 3 has 5 fields where the header has 4"),
    ('a,b,c,d\n"x\ny",2,3,4\n1,2,3,4,5\n', "line 4 has 5 fields where the header has 4"),  # a quoted line break
    ('a,b,c,d\n1,2,3,4\n\n"5,6,7,8\n', "the quoted field that starts on line 4 is never closed"),
], ids=["long-line", "long-line-after-quoted-break", "unclosed-quote"])
def test_a_csv_pandas_cannot_tokenize_is_refused_naming_the_line_and_the_fix(
        iris: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
        text: str, said: str) -> None:
    # before: "cannot read 'rows.csv': Error tokenizing data. C error: Expected 4 fields in line 3, saw 5", pandas'
    # words with no fix (and for a quote never closed, pandas' row counted from 0)
    monkeypatch.chdir(tmp_path)
    Path("rows.csv").write_text(text)
    onnx_file = str(iris["onnx"])
    assert main(["validate", onnx_file, "--reference", onnx_file, "--data", "rows.csv", "--json", "r.json"]) == 2
    err = capsys.readouterr().err
    assert said in err and "expected" in err and "C error" not in err and "Traceback" not in err, err
    assert err.count("\n") == 1 and not Path("r.json").exists()
