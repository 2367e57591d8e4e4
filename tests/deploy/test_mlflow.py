"""``package --target mlflow``: MLflow itself loads the package and scores it like onnxruntime does."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import yaml
from _column_frames import category_frame
from onnx import TensorProto, helper

import onnxgate as og
from onnxgate.cli import main

mlflow_pyfunc = pytest.importorskip("mlflow.pyfunc", reason="the extra 'mlflow' (mlflow-skinny) is not installed")
pd = pytest.importorskip("pandas")


@pytest.fixture(scope="module")
def iris():
    model, X, _ = og.zoo.get("sklearn-iris-logreg").build()
    return model, X, og.convert(model, X[:20], opset=15, target="container", precision="float32")


def _onnxruntime(proto: onnx.ModelProto, feeds: dict) -> dict:
    session = ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
    return dict(zip([o.name for o in session.get_outputs()], session.run(None, feeds)))


def test_plain_model_scores_in_mlflow_like_onnxruntime(iris, tmp_path):
    _, X, conv = iris
    folder = og.package(conv, target="mlflow", out=tmp_path / "pkg")
    names = {p.name for p in folder.iterdir()}
    assert {"MLmodel", "model.onnx", "requirements.txt", "input_example.json", "report.json", "report.html",
            "manifest.json"} <= names
    meta = yaml.safe_load((folder / "MLmodel").read_text())
    assert {"onnx", "python_function"} <= set(meta["flavors"])
    inputs = json.loads(meta["signature"]["inputs"])
    assert inputs == [{"type": "tensor", "tensor-spec": {"dtype": "float64", "shape": [-1, 4]}}]
    pins = (folder / "requirements.txt").read_text().split()
    for dist in ("onnx", "onnxruntime", "numpy"):
        from importlib.metadata import version

        assert f"{dist}=={version(dist)}" in pins
    report = json.loads((folder / "report.json").read_text())
    assert report["passed"] and "prediction_parity" in [c["name"] for c in report["checks"]]
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["model"]["sha256"] == hashlib.sha256((folder / "model.onnx").read_bytes()).hexdigest()
    assert manifest["target"] == "mlflow"

    loaded = mlflow_pyfunc.load_model(str(folder))
    rows = pd.DataFrame(X)
    got = loaded.predict(rows)
    want = _onnxruntime(conv.model, {"input": X})
    assert set(got) == set(want)
    for name in want:
        np.testing.assert_array_equal(got[name], want[name])
    example = json.loads((folder / "input_example.json").read_text())
    np.testing.assert_allclose(np.array(example), X[:5])


def test_sql_adapted_model_takes_one_column_per_input(iris, tmp_path):
    _, X, conv = iris
    adapted = og.adapt(conv, target="sql-edge-2.0")
    columns = [t.name for t in adapted.signature.inputs]
    folder = og.package(adapted, target="mlflow", out=tmp_path / "pkg")
    meta = yaml.safe_load((folder / "MLmodel").read_text())
    inputs = json.loads(meta["signature"]["inputs"])
    assert [i["name"] for i in inputs] == columns
    assert {i["tensor-spec"]["shape"] == [-1, 1] for i in inputs} == {True}
    loaded = mlflow_pyfunc.load_model(str(folder))
    frame = pd.DataFrame(X, columns=columns)
    got = loaded.predict(frame)
    want = _onnxruntime(adapted.model, {c: X[:, [i]] for i, c in enumerate(columns)})
    assert set(got) == set(want)
    for name in want:
        np.testing.assert_array_equal(got[name], want[name])


@pytest.fixture(scope="module")
def frame_fitted():
    """A model fitted on a DataFrame whose column names the exporter has to change."""
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    frame = load_iris(as_frame=True).data
    model = LogisticRegression(max_iter=500).fit(frame, load_iris().target)
    return model, frame, og.convert(model, frame, target="container")


@pytest.mark.parametrize("adapted", [False, True], ids=["one-input-per-column", "sql-adapted"])
def test_mlflow_takes_the_dataframe_with_the_users_own_column_names(frame_fitted, tmp_path, adapted):
    model, frame, conv = frame_fitted
    assert conv.signature.input_names[0] == "sepal_length__cm_"
    source = og.adapt(conv, target="sql-edge-2.0") if adapted else conv
    folder = og.package(source, target="mlflow", out=tmp_path / "pkg")
    inputs = json.loads(yaml.safe_load((folder / "MLmodel").read_text())["signature"]["inputs"])
    assert [i["name"] for i in inputs] == list(frame.columns)
    got = mlflow_pyfunc.load_model(str(folder)).predict(frame)  # "Failed to enforce schema" before
    np.testing.assert_array_equal(np.ravel(got["label"]), model.predict(frame))  # [N, 1] once adapted
    probabilities = np.hstack([got[f"p_{k}"] for k in range(3)]) if adapted else got["probabilities"]
    np.testing.assert_allclose(probabilities, model.predict_proba(frame), rtol=1e-6, atol=1e-9)
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["mlflow"]["renamed_inputs"]["sepal_length__cm_"] == "sepal length (cm)"
    packaged = og.Signature.from_model(folder / "model.onnx")
    assert packaged.input_names == list(frame.columns) and not packaged.columns.renamed
    assert og.validate(folder / "model.onnx", target="mlflow").passed
    # report.json describes the file shipped (it described the model before its inputs were renamed)
    report = json.loads((folder / "report.json").read_text())
    assert report["model"]["sha256"] == hashlib.sha256((folder / "model.onnx").read_bytes()).hexdigest()
    assert [i["name"] for i in report["model"]["signature"]["inputs"]] == list(frame.columns)
    assert report["passed"]
    # the packaged file is whole on its own: validated again against the user's model and DataFrame
    assert og.validate(folder / "model.onnx", reference=model, data=frame).passed


def test_an_intermediate_value_named_as_a_column_is_moved_aside(frame_fitted, tmp_path):
    from onnxgate.adaptation.graph import rename_tensor

    model, frame, conv = frame_fitted
    proto = onnx.ModelProto()
    proto.CopyFrom(conv.model)
    inner = next(o for node in proto.graph.node for o in node.output if o not in conv.signature.output_names)
    rename_tensor(proto.graph, inner, "petal width (cm)")  # an inner value now has a column's name
    folder = og.package(proto, target="mlflow", out=tmp_path / "pkg")
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["mlflow"]["input_names"] == "the user's column names"
    # every input took its column's name, so the fitted DataFrame itself scores (it was refused before)
    got = mlflow_pyfunc.load_model(str(folder)).predict(frame)
    np.testing.assert_array_equal(np.ravel(got["label"]), model.predict(frame))


def test_a_column_named_as_an_output_keeps_the_input_names_and_says_how_to_rename(tmp_path, capsys):
    # a column called 'label' beside the classifier's 'label' output: MLflow took the input names and the
    # fitted DataFrame failed its schema, with package silent about it (helper-99)
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    frame = load_iris(as_frame=True).data.set_axis(["label", "a b", "c", "d"], axis=1)
    model = LogisticRegression(max_iter=500).fit(frame, load_iris().target)
    model_path, data = tmp_path / "m.onnx", tmp_path / "rows.csv"
    og.convert(model, frame, target="container").save(model_path)
    frame.to_csv(data, index=False)
    assert main(["package", str(model_path), "--target", "mlflow", "--data", str(data),
                 "--out", str(tmp_path / "pkg")]) == 0
    err = capsys.readouterr().err
    assert "the MLflow package kept the model's input names" in err and "['label']" in err, err
    manifest = json.loads((tmp_path / "pkg" / "manifest.json").read_text())
    renamed = manifest["mlflow"]["renamed_columns"]
    assert renamed["label"] != "label" and renamed["a b"] == "a_b"
    # the rename the note names makes the fitted DataFrame score
    got = mlflow_pyfunc.load_model(str(tmp_path / "pkg")).predict(frame.rename(columns=renamed))
    np.testing.assert_array_equal(np.ravel(got["label"]), model.predict(frame))


def test_rank_one_inputs_get_a_column_signature(tmp_path):
    a = helper.make_tensor_value_info("a", TensorProto.FLOAT, ["N"])
    b = helper.make_tensor_value_info("b", TensorProto.FLOAT, ["N"])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N"])
    graph = helper.make_graph([helper.make_node("Add", ["a", "b"], ["y"])], "adder", [a, b], [y])
    proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 15)])
    proto.ir_version = 8
    folder = og.package(proto, target="mlflow", out=tmp_path / "pkg")
    inputs = json.loads(yaml.safe_load((folder / "MLmodel").read_text())["signature"]["inputs"])
    assert inputs == [{"type": "float", "name": n, "required": True} for n in ("a", "b")]
    frame = pd.DataFrame({"a": np.array([1.0, 2.0], np.float32), "b": np.array([0.5, 0.25], np.float32)})
    np.testing.assert_array_equal(mlflow_pyfunc.load_model(str(folder)).predict(frame)["y"], [1.5, 2.25])



@pytest.mark.parametrize("with_label", [False, True], ids=["scores-only", "label-and-scores"])
def test_rank_one_inputs_with_an_output_of_several_values_per_row_answer_one_row_per_row(tmp_path, with_label):
    # a column signature makes MLflow answer a frame, each output flattened: 3 rows of [N,2] scores came back as 6
    # rows, silently, and beside a per-row label predict failed ("All arrays must be of the same length")
    a = helper.make_tensor_value_info("a", TensorProto.FLOAT, ["N"])
    ids = helper.make_tensor_value_info("ids", TensorProto.INT64, ["N"])
    scores = helper.make_tensor_value_info("scores", TensorProto.FLOAT, ["N", 2])
    label = helper.make_tensor_value_info("label", TensorProto.INT64, ["N"])
    nodes = [helper.make_node("Cast", ["ids"], ["f"], to=TensorProto.FLOAT),
             helper.make_node("Unsqueeze", ["a", "axis"], ["a2"]), helper.make_node("Unsqueeze", ["f", "axis"], ["f2"]),
             helper.make_node("Concat", ["a2", "f2"], ["scores"], axis=1),
             helper.make_node("ArgMax", ["scores"], ["label"], axis=1, keepdims=0)]
    graph = helper.make_graph(nodes if with_label else nodes[:-1], "pair", [a, ids],
                              [scores, label] if with_label else [scores],
                              initializer=[helper.make_tensor("axis", TensorProto.INT64, [1], [1])])
    proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 15)])
    proto.ir_version = 8
    folder = og.package(proto, target="mlflow", out=tmp_path / "pkg")
    frame = pd.DataFrame({"ids": np.array([3, 0, 7]), "a": np.array([1.5, 2.0, -1.0], np.float32)})
    want = _onnxruntime(proto, {"a": frame["a"].to_numpy(), "ids": frame["ids"].to_numpy()})
    loaded = mlflow_pyfunc.load_model(str(folder))
    for given in (frame, {"a": frame["a"].to_numpy(), "ids": frame["ids"].to_numpy()}):
        got = loaded.predict(given)
        assert set(got) == set(want)
        for name, value in want.items():
            assert np.asarray(got[name]).shape == value.shape, name  # one answer per row: (3, 2), not 6 values
            np.testing.assert_allclose(np.asarray(got[name], dtype=np.float64), value)
    assert json.loads((folder / "manifest.json").read_text())["mlflow"]["signature"] == "column-tensors"



def test_a_single_rank_one_input_takes_a_dataframe_and_an_array(tmp_path):
    # a column signature of one input made MLflow feed it the whole frame ("Invalid rank for input: k Got: 2
    # Expected: 1") and refuse an array ("Model is missing inputs ['k']"): the package scored nothing
    k = helper.make_tensor_value_info("k", TensorProto.INT64, ["N"])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N"])
    graph = helper.make_graph([helper.make_node("Cast", ["k"], ["y"], to=TensorProto.FLOAT)], "cast", [k], [y])
    proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 15)])
    proto.ir_version = 8
    folder = og.package(proto, target="mlflow", out=tmp_path / "pkg")
    loaded = mlflow_pyfunc.load_model(str(folder))
    values = np.array([3, 0, 7])
    for given in (pd.DataFrame({"k": values}), values):
        np.testing.assert_array_equal(np.asarray(loaded.predict(given)["y"]), [3.0, 0.0, 7.0])


def test_failing_model_is_refused_and_nothing_written(iris, tmp_path):
    model, X, conv = iris
    proto = onnx.ModelProto()
    proto.CopyFrom(conv.model)
    for node in proto.graph.node:  # a wrong model on purpose: the coefficients scaled
        for attr in node.attribute:
            if attr.name == "coefficients":
                attr.floats[:] = [v * 1.5 for v in attr.floats]
    with pytest.raises(og.ValidationFailedError, match="prediction_parity") as info:
        og.package(proto, target="mlflow", out=tmp_path / "pkg", reference=model, data=X)
    assert not info.value.report.passed
    assert not (tmp_path / "pkg").exists()
    fixed = onnx.ModelProto()
    fixed.CopyFrom(conv.model)
    fixed.graph.input[0].type.tensor_type.shape.dim[0].dim_value = 1  # a fixed batch: the target's check fails
    with pytest.raises(og.ValidationFailedError, match="batch_axis_dynamic"):
        og.package(fixed, target="mlflow", out=tmp_path / "pkg2")
    assert not (tmp_path / "pkg2").exists()


def test_cli_exit_codes_and_registry(iris, tmp_path, capsys, monkeypatch):
    import skops.io as sio

    model, X, conv = iris
    conv.save(tmp_path / "m.onnx")
    sio.dump(model, tmp_path / "m.skops")
    np.save(tmp_path / "x.npy", X)
    out = tmp_path / "pkg"
    store = tmp_path / "mlruns"
    base = ["package", str(tmp_path / "m.onnx"), "--target", "mlflow", "-o", str(out)]
    parity = ["--reference", str(tmp_path / "m.skops"), "--trust-pickle", "--data", str(tmp_path / "x.npy")]
    assert main([*base, *parity, "--registry", store.as_uri(), "--name", "iris"]) == 0
    printed = capsys.readouterr().out
    assert "registered models:/iris/1" in printed
    assert main(base) == 2  # not empty, no --force
    assert "not empty" in capsys.readouterr().err
    assert main([*base, "--force", "--registry", store.as_uri(), "--name", "iris"]) == 0
    assert "registered models:/iris/2" in capsys.readouterr().out
    # the registered copy is the package, and MLflow scores it
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=store.as_uri(), registry_uri=store.as_uri())
    source = client.get_model_version("iris", "1").source
    loaded = mlflow_pyfunc.load_model(source)
    np.testing.assert_array_equal(loaded.predict(pd.DataFrame(X[:7]))["label"], model.predict(X[:7]))
    # a wrong model: refused, exit 1, nothing written
    other = tmp_path / "bad.onnx"
    fixed = onnx.ModelProto()
    fixed.CopyFrom(conv.model)
    fixed.graph.input[0].type.tensor_type.shape.dim[0].dim_value = 1
    other.write_bytes(fixed.SerializeToString())
    assert main(["package", str(other), "--target", "mlflow", "-o", str(tmp_path / "bad")]) == 1
    assert "refused" in capsys.readouterr().err and not (tmp_path / "bad").exists()
    # options for another target
    assert main(["package", str(tmp_path / "m.onnx"), "--target", "container", "-o", str(tmp_path / "c"),
                 "--registry", store.as_uri()]) == 2
    assert "--target mlflow" in capsys.readouterr().err
    assert main([*base[:-1], str(tmp_path / "n"), "--name", "x"]) == 2
    assert "--registry" in capsys.readouterr().err
    # a name the registry refuses: exit 2 before anything is written (was exit 0, "the store has no model
    # registry", with the run logged; helper-76)
    assert main([*base[:-1], str(tmp_path / "slash"), "--registry", store.as_uri(), "--name", "bad/name"]) == 2
    assert "without '/' or ':'" in capsys.readouterr().err and not (tmp_path / "slash").exists()


def test_missing_mlflow_names_the_extra(iris, tmp_path, monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_mlflow(name, *args, **kwargs):
        if name == "mlflow" or name.startswith("mlflow."):
            raise ImportError(f"No module named {name!r}")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_mlflow)
    with pytest.raises(og.MissingDependencyError, match=r"pip install 'onnxgate\[mlflow\]'"):
        og.package(iris[2], target="mlflow", out=tmp_path / "pkg")
    assert not (tmp_path / "pkg").exists()


def test_mlflow_skinny_without_pandas_names_pandas(iris, tmp_path, monkeypatch):
    """mlflow-skinny does not require pandas and mlflow.onnx imports it: the message named mlflow-skinny,
    installed, and its 'pip install onnxgate[mlflow]' installed nothing more."""
    import subprocess
    import sys
    from pathlib import Path

    import tomllib

    monkeypatch.chdir(tmp_path)
    onnx.save(iris[2].model, "model.onnx")
    blocked = "import sys; sys.modules['pandas'] = None; from onnxgate.cli import main; sys.exit(main(sys.argv[1:]))"
    done = subprocess.run([sys.executable, "-c", blocked, "package", "model.onnx", "--target", "mlflow", "-o", "pkg"],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 2, done.stderr
    assert "needs the package 'pandas'" in done.stderr and "pip install 'onnxgate[mlflow]'" in done.stderr
    assert "mlflow-skinny" not in done.stderr and not (tmp_path / "pkg").exists()
    pyproject = tomllib.loads((Path(__file__).resolve().parents[2] / "pyproject.toml").read_text())
    extra = pyproject["project"]["optional-dependencies"]["mlflow"]  # what the message tells to install
    assert any(req.startswith("pandas") for req in extra), extra


def test_api_registry_logs_the_package_unchanged(iris, tmp_path, monkeypatch):
    from onnxgate.deploy.mlflow import register_mlflow_model

    conv = iris[2]
    store = (tmp_path / "store").as_uri()
    folder = og.package(conv, target="mlflow", out=tmp_path / "pkg", registry=store, name="iris-api")
    # the Python caller learns what the CLI prints: the registered name and version (was thrown away)
    assert folder == tmp_path / "pkg" and folder.registration is not None
    assert folder.registration["registered"] and folder.registration["name"] == "iris-api"
    assert folder.registration["version"] == "1" and folder.registration["model_uri"] == "models:/iris-api/1"
    again = register_mlflow_model(folder, store, name="iris-api")
    assert again["registered"] and again["model_uri"] == "models:/iris-api/2"
    logged = tmp_path / "store" / again["artifact_uri"].split("/store/", 1)[1]
    for path in folder.iterdir():  # the registered copy is byte for byte the package
        assert (logged / path.name).read_bytes() == path.read_bytes()
    import os

    assert "MLFLOW_ALLOW_FILE_STORE" not in os.environ  # set for the call only
    with pytest.raises(og.PackagingError, match="not an MLflow model directory"):
        register_mlflow_model(tmp_path, store, name="x")


def test_a_package_whose_model_was_replaced_is_not_registered(iris, tmp_path):
    # the registry serves what is logged: a model.onnx swapped after packaging was registered, and
    # mlflow.pyfunc scored it (35 of 150 iris labels off the validated model's; helper-142)
    from onnxgate.deploy.mlflow import register_mlflow_model

    conv = iris[2]
    folder = og.package(conv, target="mlflow", out=tmp_path / "pkg")
    other = onnx.ModelProto()
    other.CopyFrom(conv.model)
    other.graph.name = "replaced"  # another file, the same graph: any change to the bytes counts
    (folder / "model.onnx").write_bytes(other.SerializeToString())
    store = (tmp_path / "store").as_uri()
    with pytest.raises(og.PackagingError, match=r"model\.onnx' is not the model this package was validated with: "
                                                r"sha256 [0-9a-f]{64} != [0-9a-f]{64} \(manifest\.json\); re-run "
                                                "'onnxgate package'"):
        register_mlflow_model(folder, store, name="iris-replaced")
    assert not (tmp_path / "store").exists()  # refused before a run was logged


def test_a_tracking_server_that_is_down_fails_in_seconds(iris, tmp_path, monkeypatch):
    # MLflow's default retries kept --registry on a stopped server for about four minutes
    import os
    import socket
    import time

    from onnxgate.deploy.mlflow import register_mlflow_model

    for key in ("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR", "MLFLOW_HTTP_REQUEST_TIMEOUT"):
        monkeypatch.delenv(key, raising=False)
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    folder = og.package(iris[2], target="mlflow", out=tmp_path / "pkg")
    start = time.monotonic()
    with pytest.raises(og.PackagingError, match="refused the run"):
        register_mlflow_model(folder, f"http://127.0.0.1:{port}", name="iris")
    assert time.monotonic() - start < 60
    assert "MLFLOW_HTTP_REQUEST_MAX_RETRIES" not in os.environ  # set for the call only


def test_store_without_a_registry_keeps_the_run_artifacts_and_says_so(iris, tmp_path, monkeypatch):
    from mlflow.tracking import MlflowClient

    from onnxgate.deploy.mlflow import register_mlflow_model

    folder = og.package(iris[2], target="mlflow", out=tmp_path / "pkg")

    def no_registry(self, *args, **kwargs):
        raise RuntimeError("this store has no model registry")

    monkeypatch.setattr(MlflowClient, "create_registered_model", no_registry)
    result = register_mlflow_model(folder, (tmp_path / "store").as_uri(), name="iris")
    assert not result["registered"] and result["model_uri"].startswith("runs:/")
    assert "logged as run artifacts only" in result["note"] and "no model registry" in result["note"]
    logged = tmp_path / "store" / result["artifact_uri"].split("/store/", 1)[1]
    assert (logged / "MLmodel").read_bytes() == (folder / "MLmodel").read_bytes()
    # through og.package: a warning and the same result on the folder returned (was silent, the result lost)
    with pytest.warns(UserWarning, match=r"logged as run artifacts only \(runs:/.*no model registry"):
        api = og.package(iris[2], target="mlflow", out=tmp_path / "api", registry=(tmp_path / "api-store").as_uri(),
                         name="iris")
    assert api.registration is not None and not api.registration["registered"]
    assert api.registration["version"] is None and api.registration["model_uri"].startswith("runs:/")


def test_the_input_example_is_strict_json_when_the_first_rows_have_nan(tmp_path):
    # the example took the first rows as they were: a bare NaN, which JSON.parse and strict readers refuse
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    _, X, y = og.zoo.get("sklearn-iris-logreg").build()
    X = X.copy()
    X[:3, 0] = np.nan
    pipeline = make_pipeline(SimpleImputer(), LogisticRegression(max_iter=1000)).fit(X, y)
    conv = og.convert(pipeline, X[:20], target="container")
    folder = og.package(conv, target="mlflow", out=tmp_path / "pkg")

    def refuse(token):
        raise ValueError(f"not strict JSON: {token}")

    example = json.loads((folder / "input_example.json").read_text(), parse_constant=refuse)
    np.testing.assert_allclose(np.array(example), X[3:8])


def test_a_registry_that_refuses_says_the_package_was_kept(tmp_path, capsys):
    # the package was written, then the registry failed: exit 2 without a word about the folder, whose rerun was
    # then refused as 'not empty'
    assert main(["zoo", "export", "sklearn-iris-logreg", "-o", str(tmp_path / "z")]) == 0
    out = tmp_path / "ml"
    capsys.readouterr()
    assert main(["package", str(tmp_path / "z" / "model.onnx"), "--target", "mlflow", "-o", str(out),
                 "--registry", "http://127.0.0.1:1", "--name", "iris"]) == 2
    assert f"The package in {str(out)!r} was written and is kept; rerun with --force" in capsys.readouterr().err
    assert (out / "MLmodel").is_file()


@pytest.fixture(scope="module")
def fitted_on_names():
    """A RandomForest fitted on a named DataFrame and converted from an array: one [N,4] input that takes the
    fitted columns by position."""
    from sklearn.datasets import load_iris
    from sklearn.ensemble import RandomForestClassifier

    frame = load_iris(as_frame=True).data
    model = RandomForestClassifier(n_estimators=10, random_state=0).fit(frame, load_iris().target)
    conv = og.convert(model, frame.to_numpy(np.float32))
    assert conv.signature.inputs[0].fitted_columns == tuple(frame.columns)
    return model, frame, conv


def test_a_model_fitted_on_named_columns_takes_a_dataframe_by_name(fitted_on_names, tmp_path):
    # the unnamed (-1, 4) tensor signature fed a DataFrame's columns by position: the iris frame with its
    # columns reversed answered 101 of 150 labels otherwise than the model, silently (helper-163)
    model, frame, conv = fitted_on_names
    folder = og.package(conv, target="mlflow", out=tmp_path / "pkg")
    loaded = mlflow_pyfunc.load_model(str(folder))
    want = model.predict(frame)
    for columns in (list(frame.columns), list(frame.columns)[::-1], ["petal width (cm)", "sepal length (cm)",
                                                                      "petal length (cm)", "sepal width (cm)"]):
        got = loaded.predict(frame[columns].astype(np.float32))
        np.testing.assert_array_equal(np.ravel(got["label"]), want, err_msg=str(columns))
        np.testing.assert_allclose(got["probabilities"], model.predict_proba(frame), atol=1e-6)
    # the REST form (dataframe_split) goes through the same schema: reordered columns answer as the model
    from mlflow.pyfunc.scoring_server import infer_and_parse_data

    reversed_split = json.loads(frame[frame.columns[::-1]].to_json(orient="split"))
    parsed = infer_and_parse_data({"dataframe_split": reversed_split}, loaded.metadata.get_input_schema())
    np.testing.assert_array_equal(np.ravel(loaded.predict(parsed)["label"]), want)
    # the examples MLflow wrote score as they are
    serving = json.loads((folder / "serving_input_example.json").read_text())
    parsed = infer_and_parse_data(serving, loaded.metadata.get_input_schema())
    np.testing.assert_array_equal(np.ravel(loaded.predict(parsed)["label"]), want[:5])
    # a plain array has no names to match: refused, naming the columns, not scored by position
    with pytest.raises(Exception, match=r"missing inputs \['sepal length \(cm\)'"):
        loaded.predict(frame.to_numpy(np.float32))
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["mlflow"]["split_inputs"] == {conv.signature.input_names[0]: list(frame.columns)}
    # the file shipped is the one validated, and it validates against the user's model and frame again
    report = json.loads((folder / "report.json").read_text())
    assert report["passed"] and report["model"]["sha256"] == manifest["model"]["sha256"]
    assert og.validate(folder / "model.onnx", target="mlflow", reference=model, data=frame).passed


@pytest.mark.parametrize("taken", ["label", "input"])  # an output's name, the input's own
def test_a_fitted_column_named_as_an_output_is_fed_by_position_and_said(tmp_path, capsys, monkeypatch, taken):
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    monkeypatch.chdir(tmp_path)
    frame = load_iris(as_frame=True).data.set_axis([taken, "b", "c", "d"], axis=1)
    model = LogisticRegression(max_iter=500).fit(frame, load_iris().target)
    conv = og.convert(model, frame.to_numpy(np.float32))
    assert taken in {*conv.signature.input_names, *conv.signature.output_names}
    conv.save(tmp_path / "m.onnx")
    assert main(["package", "m.onnx", "--target", "mlflow", "--out", "pkg"]) == 0
    err = capsys.readouterr().err
    assert "by position" in err and f"['{taken}', 'b', 'c', 'd']" in err, err
    got = mlflow_pyfunc.load_model(str(tmp_path / "pkg")).predict(frame.astype(np.float32))
    np.testing.assert_array_equal(np.ravel(got["label"]), model.predict(frame))


def _diabetes_with_a_text_column(name: str):
    from sklearn.datasets import load_diabetes

    X, y = load_diabetes(return_X_y=True, as_frame=True)
    rng = np.random.default_rng(0)
    region = np.array(["north", "süd", "east", "west"], dtype=object)[pd.qcut(X["age"], 4, labels=False).to_numpy()]
    region[rng.random(len(X)) < 0.1] = None  # a missing text, which the user's pipeline imputes
    return X.assign(**{name: pd.Series(region, index=X.index).astype("str")}), y


@pytest.mark.parametrize("column", ["region", "Sales Region"])
def test_a_missing_text_the_pipeline_imputes_is_scored_by_mlflow_as_the_pipeline_scores_it(
        tmp_path, monkeypatch, capsys, column):
    """A ColumnTransformer imputing a text column (SimpleImputer most_frequent, then OneHotEncoder) and a pandas
    frame holding NaN in it. MLflow's loader hands onnxruntime the NaN, read as the text 'nan', an unknown
    category: 55 of 442 rows were scored as no region at all, off the pipeline by up to 11.7, with exit 0. A
    column the package renames (a space) lost the record of its missing text, so the package was refused."""
    import joblib
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import Ridge
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder

    monkeypatch.chdir(tmp_path)
    X, y = _diabetes_with_a_text_column(column)
    numbers = [c for c in X.columns if c != column]
    text = Pipeline([("impute", SimpleImputer(strategy="most_frequent")),
                     ("onehot", OneHotEncoder(handle_unknown="ignore"))])
    model = Pipeline([("columns", ColumnTransformer([("num", "passthrough", numbers), ("text", text, [column])])),
                      ("ridge", Ridge())]).fit(X, y)
    joblib.dump(model, "model.joblib")
    X.to_csv("rows.csv", index=False)
    assert main(["convert", "model.joblib", "--sample", "rows.csv", "-o", "model.onnx", "--trust-pickle"]) == 0
    assert main(["package", "model.onnx", "--target", "mlflow", "-o", "pkg", "--reference", "model.joblib",
                 "--data", "rows.csv", "--trust-pickle"]) == 0, capsys.readouterr().err
    loaded = mlflow_pyfunc.load_model("pkg")
    want = model.predict(X)
    assert X[column].isna().sum() > 30
    for frame in (X, X[list(reversed(X.columns))]):
        got = np.asarray(next(iter(loaded.predict(frame).values()))).reshape(-1)
        np.testing.assert_allclose(got, want, rtol=1e-6)
    manifest = json.loads((tmp_path / "pkg" / "manifest.json").read_text())
    imputed = model.named_steps["columns"].named_transformers_["text"].named_steps["impute"].statistics_[0]
    assert manifest["mlflow"]["missing_text"][column]["fed_as"] == imputed


def test_a_category_written_as_none_is_not_read_as_a_missing_value(tmp_path, capsys, monkeypatch):
    """A LightGBM category column whose categories include the text 'None' (Ames' MasVnrType) beside NaN gaps: the
    package's graph mapped the text MLflow's loader makes of a missing value ('nan', 'None', '<NA>') to the missing
    text, the real category 'None' too, so 103 of 442 rows answered otherwise than the model and the package was
    refused (a sample without that category would have passed it)."""
    lightgbm = pytest.importorskip("lightgbm")
    from sklearn.datasets import load_diabetes

    X, y = load_diabetes(return_X_y=True, as_frame=True)
    veneer = np.array(["None", "Brick", "Stone", "Wood"], dtype=object)[pd.qcut(X["bmi"], 4, labels=False).to_numpy()]
    veneer[np.random.default_rng(0).random(len(X)) < 0.1] = np.nan
    X = X.assign(veneer=pd.Categorical(veneer))
    model = lightgbm.LGBMRegressor(n_estimators=30, min_child_samples=5, verbose=-1).fit(X, y)
    folder = og.package(og.convert(model, X), target="mlflow", out=tmp_path / "pkg")
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["mlflow"]["missing_text"]["veneer"]["read_as_missing"] == ["nan", "<NA>"]
    got = mlflow_pyfunc.load_model(str(folder)).predict(X.assign(veneer=X["veneer"].astype(object)))
    np.testing.assert_allclose(np.ravel(next(iter(got.values()))), model.predict(X), rtol=1e-4, atol=1e-5)
    # a None reaches the model as the text 'None', the category: no graph tells them apart, the package says so
    assert manifest["mlflow"]["missing_text"]["veneer"]["read_as_category"] == ["None"]
    monkeypatch.chdir(tmp_path)
    og.convert(model, X).save(tmp_path / "m.onnx")
    assert main(["package", "m.onnx", "--target", "mlflow", "--out", "pkg2"]) == 0
    assert "a missing value of 'veneer' (None, or pandas' NA) as the text 'None'" in capsys.readouterr().err


def _probabilities(got: dict, rows: int) -> np.ndarray:
    keys = [k for k in got if "prob" in k] or [k for k in got if k.startswith("p_")]
    return np.hstack([np.asarray(got[k]).reshape(rows, -1) for k in keys])


@pytest.mark.parametrize("categories", [[7, 12, 19, 23], ["red", "green", "blue", "amber"]])
def test_an_xgboost_category_column_is_scored_by_its_values_not_read_as_codes(tmp_path, categories):
    """XGBoost fitted on a pandas category column reads its codes; MLflow's loader handed the file the values:
    integer categories 7, 12 were read as codes (predict_proba off by up to 0.76, answered), text ones refused
    ("Failed to enforce schema"). The package now takes the values, maps them to the codes in its graph, and fails
    on a category XGBoost would refuse, as on a column of codes (.cat.codes), instead of scoring them."""
    xgboost = pytest.importorskip("xgboost")
    frame, y = category_frame(categories)
    model = xgboost.XGBClassifier(n_estimators=5, max_depth=3, enable_categorical=True, n_jobs=1).fit(frame, y)
    folder = og.package(og.convert(model, frame.head(40)), target="mlflow", out=tmp_path / "pkg")
    loaded = mlflow_pyfunc.load_model(str(folder))
    rows = frame.head(20)
    assert rows.band.isna().sum() >= 2 and rows.band.nunique() >= 3
    np.testing.assert_allclose(_probabilities(loaded.predict(rows), 20), model.predict_proba(rows), atol=1e-5)
    unseen = rows.assign(band=rows.band.astype(object).where(rows.index != 3, 99 if categories[0] == 7 else "violet"))
    with pytest.raises(Exception, match="none of the model's categories"):
        loaded.predict(unseen)
    with pytest.raises(Exception, match="none of the model's categories"):
        loaded.predict(rows.assign(band=rows.band.cat.codes.astype("int32")))
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["mlflow"]["category_values"]["band"]["categories"] == categories


def test_a_plain_minus_one_is_a_missing_xgboost_category_in_mlflow_as_on_every_route(tmp_path):
    """-1, where no category is -1, is pandas' code of a missing value: validate and the container service read a
    plain -1 among XGBoost's integer categories so, as XGBoost scores a missing category; the MLflow package failed
    predict on it ("none of the model's categories") (helper-241). Another number none of the categories is still
    refused."""
    xgboost = pytest.importorskip("xgboost")
    frame, y = category_frame([7, 12, 19, 23])
    model = xgboost.XGBClassifier(n_estimators=5, max_depth=3, enable_categorical=True, n_jobs=1).fit(frame, y)
    conv = og.convert(model, frame.head(40))
    loaded = mlflow_pyfunc.load_model(str(og.package(conv, target="mlflow", out=tmp_path / "pkg")))
    rows = frame.head(20)
    assert rows.band.isna().sum() >= 2
    plain = rows.assign(band=rows.band.astype("float64").fillna(-1).astype("int64"))  # -1 where a value is missing
    want = model.predict_proba(rows)
    np.testing.assert_allclose(_probabilities(loaded.predict(plain), 20), want, atol=1e-5)
    assert og.validate(conv, reference=model, data=plain).passed  # the same rows, read alike
    with pytest.raises(Exception, match="none of the model's categories"):
        loaded.predict(plain.assign(band=plain.band.where(plain.index != 3, -2)))


def test_a_missing_lightgbm_integer_category_is_scored_as_missing_in_mlflow(tmp_path):
    """MLflow's loader hands an int64 input NumPy's cast of a pandas category column's NaN, the smallest int64: the
    package's check of LightGBM's integer categories failed predict on it ("a number that is none of the model's
    categories"), where LightGBM, validate, score and the service score a missing category (helper-241)."""
    lightgbm = pytest.importorskip("lightgbm")
    frame, y = category_frame([7, 12, 19, 23])
    model = lightgbm.LGBMClassifier(n_estimators=10, min_child_samples=5, verbose=-1, n_jobs=1).fit(frame, y)
    folder = og.package(og.convert(model, frame.head(40)), target="mlflow", out=tmp_path / "pkg")
    loaded = mlflow_pyfunc.load_model(str(folder))
    rows = frame.head(20)
    assert rows.band.isna().sum() >= 2
    np.testing.assert_allclose(_probabilities(loaded.predict(rows), 20), model.predict_proba(rows), atol=1e-5)
    with pytest.raises(Exception, match="none of the model's categories"):  # a code is still refused
        loaded.predict(rows.assign(band=rows.band.cat.codes.astype("int64")))


def test_an_unseen_lightgbm_integer_category_says_how_to_have_it_scored_in_mlflow(tmp_path):
    """A category column holding 4, which LightGBM was not fitted on and scores as a missing value: MLflow's loader
    hands the package the number 4, as it would a code a client sent, so predict fails; its message said only "send
    a category by value", which the user did. It now says how to have it scored as LightGBM scores it: the column's
    categories set to the model's, which makes 4 missing (helper-255)."""
    pytest.importorskip("lightgbm")
    from _column_frames import FIBONACCI, fibonacci_model

    model, frame = fibonacci_model("lightgbm")
    loaded = mlflow_pyfunc.load_model(str(og.package(og.convert(model, frame.head(60)), target="mlflow",
                                                     out=tmp_path / "pkg")))
    rows = frame.head(6).assign(n=pd.Categorical([1, 4, 8, 4, 21, 2]))
    with pytest.raises(Exception, match=r"none of the model's categories .*\.cat\.set_categories"):
        loaded.predict(rows)
    fixed = rows.assign(n=rows.n.cat.set_categories(FIBONACCI))  # what the message says: 4 is missing now
    np.testing.assert_allclose(_probabilities(loaded.predict(fixed), 6), model.predict_proba(rows), atol=1e-5)


def test_a_lightgbm_text_category_for_sql_edge_takes_the_values_in_mlflow(tmp_path):
    """LightGBM's text categories converted for sql-edge-2.0 read their codes: MLflow refused a category column
    ("Failed to enforce schema"). Now the values are mapped in the graph, an unseen one scored as missing, as LightGBM
    does; the codes a client may still send are refused, not scored as unseen texts."""
    lightgbm = pytest.importorskip("lightgbm")
    frame, y = category_frame(["red", "green", "blue", "amber"])
    model = lightgbm.LGBMClassifier(n_estimators=20, min_child_samples=5, verbose=-1).fit(frame, y)
    folder = og.package(og.convert(model, frame.head(40), target="sql-edge-2.0"), target="mlflow",
                        out=tmp_path / "pkg")
    loaded = mlflow_pyfunc.load_model(str(folder))
    rows = frame.head(20).assign(band=lambda f: f.band.astype(object).where(f.index % 6 != 5, "violet"))
    assert rows.band.isna().sum() >= 2 and (rows.band == "violet").sum() >= 3
    want = model.predict_proba(rows.assign(band=pd.Categorical(rows.band, categories=frame.band.cat.categories)))
    np.testing.assert_allclose(_probabilities(loaded.predict(rows), 20), want, atol=1e-5)
    with pytest.raises(Exception, match=r"a category code \(.cat.codes\)"):
        loaded.predict(frame.head(20).assign(band=frame.band.head(20).cat.codes.astype("int32")))


def test_a_lightgbm_model_fitted_on_numbered_columns_is_packaged_and_scores(tmp_path):
    # pd.DataFrame(array): LightGBM names the columns 0, 1... '0', '1', and the package's inputs take those names;
    # parity fed the frame by the names' text and failed ("KeyError: '0' (please report it)"): not packaged
    lightgbm = pytest.importorskip("lightgbm")
    X = pd.DataFrame(np.random.default_rng(0).normal(size=(60, 3)))
    y = (X[0] + X[1] - X[2] > 0).astype(int)
    model = lightgbm.LGBMClassifier(n_estimators=5, verbose=-1).fit(X, y)
    conv = og.convert(model, X.head(10))
    folder = og.package(conv, target="mlflow", out=tmp_path / "pkg", reference=model, data=X)
    got = mlflow_pyfunc.load_model(str(folder)).predict(X.set_axis([str(c) for c in X.columns], axis=1))
    assert np.asarray(got["label"]).ravel().tolist() == model.predict(X).tolist()


def test_an_empty_column_name_keeps_the_input_names_and_the_package_scores(tmp_path):
    # XGBoost fits a frame with a '' column (its input '_'); the package renamed that input to '', a value ONNX
    # reads as absent, and refused its own file ("model_wellformed ... Re-export it with a converter")
    xgboost = pytest.importorskip("xgboost")
    X = pd.DataFrame(np.random.default_rng(0).normal(size=(60, 3)), columns=["", "x", " "])
    y = (X[""] + X["x"] - X[" "] > 0).astype(int)
    model = xgboost.XGBClassifier(n_estimators=5, max_depth=3).fit(X, y)
    folder = og.package(og.convert(model, X.head(10)), target="mlflow", out=tmp_path / "pkg", reference=model, data=X)
    said = json.loads((folder / "manifest.json").read_text())["mlflow"]
    assert "cannot be named ''" in said["input_names"]
    got = mlflow_pyfunc.load_model(str(folder)).predict(X.rename(columns=said["renamed_columns"]))
    assert np.asarray(got["label"]).ravel().tolist() == model.predict(X).tolist()


def test_a_missing_catboost_category_is_refused_as_catboost_and_validate_refuse_it(tmp_path):
    """CatBoost fitted with a text column in cat_features raises on a missing value there, and validate, score and
    the service refuse it ("fill or drop"); MLflow's loader handed the file the text 'None', which it scored as an
    unseen category, answered (helper-233). The package now fails such a row, saying what to do."""
    catboost = pytest.importorskip("catboost")
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"x": rng.normal(size=300), "band": rng.choice(["a", "b", "c"], 300)})
    y = ((frame.x + (frame.band == "b")) > 0.5).astype(int)
    model = catboost.CatBoostClassifier(iterations=10, depth=3, verbose=0, thread_count=1, cat_features=["band"],
                                        allow_writing_files=False).fit(frame, y)
    conv = og.convert(model, frame.head(40))
    folder = og.package(conv, target="mlflow", out=tmp_path / "pkg")
    loaded = mlflow_pyfunc.load_model(str(folder))
    rows = frame.head(6)
    np.testing.assert_allclose(_probabilities(loaded.predict(rows), 6), model.predict_proba(rows), atol=1e-5)
    for gap in (None, np.nan):
        holed = rows.astype({"band": object}).copy()
        holed.loc[2, "band"] = gap
        with pytest.raises(Exception, match=r"cat_feature|real number"):  # CatBoost raises on it
            model.predict_proba(holed)
        with pytest.raises(og.InvalidDataError, match="missing or non-text value"):
            og.validate(conv, reference=model, data=holed)
        with pytest.raises(Exception, match=r"band: a missing value .* fill or drop those rows"):
            loaded.predict(holed)
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["mlflow"]["missing_refused"]["band"]["refused"] == ["nan", "None", "<NA>"]


@pytest.mark.parametrize("encoder", ["one-hot", "ordinal"])
def test_a_scikit_learn_text_category_for_sql_edge_is_packaged_for_mlflow_and_takes_the_values(tmp_path, encoder):
    """A OneHotEncoder (or an OrdinalEncoder before HistGradientBoosting) converted for sql-edge-2.0 reads the codes;
    its MLflow package maps the values to them. Packaging failed parity ("not a row holding '-1' in 'band' ...
    onnxruntime refuses it ... The file is not this model's conversion"): parity took the codes' texts the package
    refuses on purpose for categories the file knows. Now it is packaged, scores the values (an unseen and a missing
    one as scikit-learn does) and still refuses the codes."""
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, OrdinalEncoder

    frame, y = category_frame(["red", "green", "blue", "amber"])
    known = frame.band.notna().to_numpy()
    frame, y = frame[known].reset_index(drop=True), y[known]
    if encoder == "one-hot":
        model = make_pipeline(ColumnTransformer([("oh", OneHotEncoder(handle_unknown="ignore"), ["band"]),
                                                 ("num", "passthrough", ["x"])]), LogisticRegression())
    else:
        model = make_pipeline(ColumnTransformer([("oe", OrdinalEncoder(handle_unknown="use_encoded_value",
                                                                       unknown_value=np.nan), ["band"]),
                                                 ("num", "passthrough", ["x"])]),
                              HistGradientBoostingClassifier(categorical_features=[0], max_iter=20))
    model.fit(frame, y)
    conv = og.convert(model, frame.head(60), target="sql-edge-2.0")
    assert conv.signature.inputs[1].elem_type == "int32"  # the codes
    loaded = mlflow_pyfunc.load_model(str(og.package(conv, target="mlflow", out=tmp_path / "pkg")))
    rows = frame.head(30).assign(band=lambda f: f.band.astype(object).where(f.index % 6 != 5, "violet")
                                 .where(f.index % 6 != 4, None))
    assert (rows.band == "violet").sum() == 5 and rows.band.isna().sum() == 5
    np.testing.assert_allclose(_probabilities(loaded.predict(rows), 30), model.predict_proba(rows), atol=1e-5)
    with pytest.raises(Exception, match=r"a category code \(.cat.codes\)"):
        loaded.predict(frame.head(20).assign(band=frame.band.head(20).cat.codes.astype(str)))


def test_a_missing_value_for_a_one_hot_encoder_that_raises_is_refused_by_mlflow_naming_the_column(tmp_path):
    """OneHotEncoder(handle_unknown='error') fitted without missing values, converted for sql-edge-2.0 (an input of
    codes): validate, score and the service refuse a null colour first, naming the column; the MLflow package mapped
    it to the code -1 and onnxruntime failed inside the encoder ("Unknown Category and zeros = 0"), naming neither
    the column nor what to do. It now fails on a check that says both, as scikit-learn raises on it."""
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder

    frame, y = category_frame(["red", "green", "blue", "amber"])
    known = frame.band.notna().to_numpy()
    frame, y = frame[known].reset_index(drop=True), y[known]
    model = make_pipeline(ColumnTransformer([("oh", OneHotEncoder(), ["band"]), ("num", "passthrough", ["x"])]),
                          LogisticRegression()).fit(frame, y)
    conv = og.convert(model, frame.head(60), target="sql-edge-2.0")
    assert conv.signature.input("band").missing_refused
    folder = og.package(conv, target="mlflow", out=tmp_path / "pkg")
    loaded = mlflow_pyfunc.load_model(str(folder))
    rows = frame.head(12)
    np.testing.assert_allclose(_probabilities(loaded.predict(rows), 12), model.predict_proba(rows), atol=1e-5)
    said = (r"band: holds a missing value .*the model refuses a missing value there: its OneHotEncoder has "
            r"handle_unknown='error'.*drop those rows")
    for gap in (None, np.nan):
        holed = rows.astype({"band": object}).copy()
        holed.loc[3, "band"] = gap
        with pytest.raises(ValueError, match="unknown categor"):  # scikit-learn raises on it
            model.predict_proba(holed)
        with pytest.raises(Exception, match=said) as info:
            loaded.predict(holed)
        assert "Unknown Category" not in str(info.value)
    holed = rows.copy()
    holed.loc[3, "band"] = np.nan  # a category column's missing value
    with pytest.raises(Exception, match=said):
        loaded.predict(holed)
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["mlflow"]["category_values"]["band"]["missing"].startswith("refused")
    # a colour it was not fitted on: refused naming the OneHotEncoder that raises on it (was "which XGBoost refuses")
    unseen = rows.astype({"band": object}).copy()
    unseen.loc[3, "band"] = "violet"
    with pytest.raises(ValueError, match="unknown categor"):
        model.predict_proba(unseen)
    with pytest.raises(Exception, match=r"band: a value that is none of the model's categories .*which the model's "
                                        r"OneHotEncoder \(handle_unknown='error'\) refuses") as info:
        loaded.predict(unseen)
    assert "XGBoost" not in str(info.value)
    assert "OneHotEncoder (handle_unknown='error') raises" in manifest["mlflow"]["category_values"]["band"]["unseen"]


def _category_booster(kind: str, frame, y):
    """A booster fitted on ``frame``'s pandas category column ``band``, and the categories it keeps itself."""
    if kind == "lightgbm":
        lightgbm = pytest.importorskip("lightgbm")
        model = lightgbm.LGBMClassifier(n_estimators=20, min_child_samples=5, verbose=-1, n_jobs=1).fit(frame, y)
        return model, list(model.booster_.pandas_categorical[0])
    if kind == "xgboost":
        xgboost = pytest.importorskip("xgboost")
        model = xgboost.XGBClassifier(n_estimators=5, max_depth=3, enable_categorical=True, n_jobs=1).fit(frame, y)
        return model, model.get_booster().get_categories(export_to_arrow=True).to_arrow()[1][1].to_pylist()
    from sklearn.ensemble import HistGradientBoostingClassifier

    model = HistGradientBoostingClassifier(categorical_features="from_dtype", max_iter=20).fit(frame, y)
    return model, list(model._preprocessor.named_transformers_["encoder"].categories_[0])


@pytest.mark.parametrize("change", ["dropped", "reordered"])
@pytest.mark.parametrize("kind", ["lightgbm", "hist", "xgboost"])
def test_a_record_of_codes_edited_in_both_copies_is_not_packaged_for_mlflow(tmp_path, kind, change):
    """validate fails a SQL Edge file whose record of a booster's categories was edited alike in both its copies (the
    last category dropped, the first two swapped), naming the booster's own; the MLflow package validated only the
    file it ships, whose lookup from values to codes is built from that record and the record dropped, so it was
    written (XGBoost's predict then scored 'red' as 'green'). It is now refused with validate's report, nothing
    written."""
    from _tampering import category_records_edited

    frame, y = category_frame(["red", "green", "blue", "amber"])
    known = frame.band.notna().to_numpy()  # HistGradientBoosting records a missing value as a category 'nan'
    frame, y = frame[known].reset_index(drop=True), y[known]
    model, own = _category_booster(kind, frame, y)
    conv = og.convert(model, frame.head(40), target="sql-edge-2.0")
    edited = category_records_edited(conv.model, "band", own[:-1] if change == "dropped"
                                     else [own[1], own[0], *own[2:]])
    said = og.validate(edited, target="mlflow", reference=model, data=frame)
    assert not said.passed
    with pytest.raises(og.ValidationFailedError, match="prediction_parity") as info:
        og.package(edited, target="mlflow", out=tmp_path / "pkg", reference=model, data=frame)
    assert not (tmp_path / "pkg").exists()
    parity = next(c for c in info.value.report.checks if c.name == "prediction_parity")
    assert parity.message == next(c for c in said.checks if c.name == "prediction_parity").message
    assert f"the reference's are {own}" in parity.message
    assert og.package(conv, target="mlflow", out=tmp_path / "sound", reference=model, data=frame).is_dir()


def test_cli_refuses_to_package_a_record_of_codes_edited_for_mlflow_as_validate_fails_it(tmp_path, capsys,
                                                                                          monkeypatch):
    """``onnxgate package --target mlflow`` exits 1 and writes nothing for the edited file, as ``validate`` exits 1."""
    lightgbm = pytest.importorskip("lightgbm")
    from _tampering import category_records_edited

    monkeypatch.chdir(tmp_path)
    frame, y = category_frame(["red", "green", "blue", "amber"])
    model = lightgbm.LGBMClassifier(n_estimators=20, min_child_samples=5, verbose=-1, n_jobs=1).fit(frame, y)
    own = list(model.booster_.pandas_categorical[0])
    conv = og.convert(model, frame.head(40), target="sql-edge-2.0")
    onnx.save(category_records_edited(conv.model, "band", [own[1], own[0], *own[2:]]), "model.onnx")
    model.booster_.save_model("model.txt")
    frame.to_parquet("rows.parquet")
    parity = ["--reference", "model.txt", "--data", "rows.parquet"]
    capsys.readouterr()
    assert main(["validate", "model.onnx", "--target", "mlflow", *parity]) == 1
    assert "not the reference's" in capsys.readouterr().out
    assert main(["package", "model.onnx", "--target", "mlflow", "-o", "pkg", *parity]) == 1
    err = capsys.readouterr().err
    assert "not the reference's" in err and "nothing was written" in err and "Traceback" not in err, err
    assert not (tmp_path / "pkg").exists()


def _text_label_classifier(kind: str):
    """A classifier fitted on text labels, and a frame of its rows: iris' species names on the four measurements, or
    ``band`` as a pandas category column too (converted for SQL Edge, an input of codes as well as a label of codes)."""
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.linear_model import LogisticRegression

    if kind == "iris":
        from sklearn.datasets import load_iris

        data = load_iris(as_frame=True)
        return LogisticRegression(max_iter=500).fit(data.data, data.target_names[data.target]), data.data
    frame, y = category_frame(["red", "green", "blue", "amber"])
    texts = np.array(["no", "yes"], dtype=object)[y]
    return HistGradientBoostingClassifier(categorical_features="from_dtype", max_iter=20).fit(frame, texts), frame


@pytest.mark.parametrize("kind", ["iris", "categories"])
def test_a_text_label_classifier_converted_for_sql_returns_its_labels_from_mlflow(tmp_path, kind):
    """A classifier fitted on text labels, converted for a SQL target, returns int32 codes and records their labels
    (onnxgate.class_labels); ``onnxgate score`` writes the labels, and the classifier packaged for MLflow from a
    conversion for another target answers them. Its MLflow package answered the codes ([[0], [0], ...] for
    'setosa'); it now answers the classifier's labels, its signature saying string."""
    model, frame = _text_label_classifier(kind)
    conv = og.convert(model, frame.head(40), target="sql-edge-2.0")
    assert conv.signature.output("label").elem_type == "int32" and conv.signature.output("label").labels
    folder = og.package(conv, target="mlflow", out=tmp_path / "pkg")
    loaded = mlflow_pyfunc.load_model(str(folder))
    rows = frame.reset_index(drop=True)
    got = np.asarray(loaded.predict(rows)["label"]).reshape(-1)
    np.testing.assert_array_equal(got, model.predict(rows))
    assert len(set(got)) >= 2
    label = next(s for s in loaded.metadata.signature.outputs.inputs if s.name == "label")
    assert label.type == np.dtype("O")
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["mlflow"]["class_labels"]["label"]["labels"] == [str(c) for c in model.classes_]
    # the file shipped returns the text (onnxgate score and Spark write it as it is)
    assert og.Signature.from_model(folder / "model.onnx").output("label").elem_type == "string"
