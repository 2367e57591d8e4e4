"""The container package: files, score.py used directly, swagger, refusals."""

from __future__ import annotations

import ast
import hashlib
import importlib.util
import json
import shutil
from importlib import metadata
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pytest
from _column_frames import category_frame
from _serving import package_zoo
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import onnxgate as og
from onnxgate.errors import OutputExistsError, PackagingError, ValidationFailedError

IRIS = "sklearn-iris-logreg"
EXPECTED_FILES = {
    "model.onnx", "score.py", "server.py", "swagger.json", "swagger3.json", "sample-request.json",
    "requirements.txt", "Dockerfile", ".dockerignore", "environment.yml", "inferenceconfig.json",
    "deploymentconfig.json", "deploymentconfig.aci.json", "deploymentconfig.aks.json", "iotedge-module.json",
    "README.md", "manifest.json",
}


@pytest.fixture(scope="module")
def iris(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Any, Any]:
    return package_zoo(IRIS, tmp_path_factory.mktemp("pkg") / "iris", max_rows=100,
                       # float32: a row of 1e308 overflows to non-finite outputs (written as null)
                       precision="float32")


def load_score(folder: Path, name: str = "score_under_test") -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"{name}_{abs(hash(str(folder)))}", folder / "score.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def score(iris: tuple[Path, Any, Any]) -> ModuleType:
    module = load_score(iris[0])
    module.init()
    return module


def ort_outputs(folder: Path, X: np.ndarray) -> dict[str, np.ndarray]:
    import onnxruntime as ort

    sess = ort.InferenceSession(str(folder / "model.onnx"), providers=["CPUExecutionProvider"])
    feed = {sess.get_inputs()[0].name: X.astype(np.float64 if "double" in sess.get_inputs()[0].type else np.float32)}
    return dict(zip([o.name for o in sess.get_outputs()], sess.run(None, feed)))


def test_package_writes_every_file_and_the_manifest_lists_them(iris: tuple[Path, Any, Any]) -> None:
    folder = iris[0]
    assert {p.name for p in folder.iterdir()} == EXPECTED_FILES
    manifest = json.loads((folder / "manifest.json").read_text())
    assert set(manifest["files"]) == EXPECTED_FILES
    assert manifest["target"] == "container"
    assert manifest["validation"]["passed"] is True
    assert manifest["model"]["sha256"] == hashlib.sha256((folder / "model.onnx").read_bytes()).hexdigest()
    assert manifest["service"]["max_rows"] == 100
    assert not [p for p in folder.parent.iterdir() if p.name.endswith(".partial")], "staging folder left behind"


def test_requirements_are_pinned_to_the_installed_versions(iris: tuple[Path, Any, Any]) -> None:
    lines = (iris[0] / "requirements.txt").read_text().split()
    for dist in ("numpy", "onnxruntime", "uvicorn", "httptools", "uvloop", "orjson", "pysimdjson"):
        assert f"{dist}=={metadata.version(dist)}" in lines


def test_dockerfile_is_slim_non_root_on_5001_with_a_healthcheck(iris: tuple[Path, Any, Any]) -> None:
    text = (iris[0] / "Dockerfile").read_text()
    assert text.splitlines()[3] == "FROM python:3.11-slim"
    assert "\nUSER app\n" in text and "useradd" in text
    assert "EXPOSE 5001" in text and "HEALTHCHECK" in text and "127.0.0.1:5001/" in text
    assert '"server.py", "/app", "--host", "0.0.0.0", "--port", "5001"' in text
    copied = text.split("COPY model.onnx", 1)[1].split("\n", 1)[0].split()
    for name in copied[:-1]:
        assert (iris[0] / name).is_file(), f"the Dockerfile copies {name}, which the package lacks"
    assert "pip install onnxgate" not in text, "the build context must be self-contained"


def test_azure_ml_configs_and_iot_edge_snippet(iris: tuple[Path, Any, Any]) -> None:
    folder = iris[0]
    inference = json.loads((folder / "inferenceconfig.json").read_text())
    assert inference["entryScript"] == "score.py" and (folder / inference["condaFile"]).is_file()
    assert json.loads((folder / "deploymentconfig.json").read_text())["computeType"] == "local"
    assert json.loads((folder / "deploymentconfig.aci.json").read_text())["computeType"] == "aci"
    assert json.loads((folder / "deploymentconfig.aks.json").read_text())["authEnabled"] is True
    edge = json.loads((folder / "iotedge-module.json").read_text())
    (module,) = edge["modules"].values()
    # A deployment manifest needs createOptions as a string holding JSON.
    options = json.loads(module["settings"]["createOptions"])
    assert options == {"HostConfig": {"PortBindings": {"5001/tcp": [{"HostPort": "5001"}]}}}
    readme = (folder / "README.md").read_text()
    assert "docker build" in readme and "curl" in readme and "@" + "NAME@" not in readme


def test_score_py_imports_only_numpy_onnxruntime_and_stdlib(iris: tuple[Path, Any, Any]) -> None:
    import sys

    tree = ast.parse((iris[0] / "score.py").read_text())
    top = {alias.name.split(".")[0] for node in tree.body if isinstance(node, ast.Import) for alias in node.names}
    top |= {node.module.split(".")[0] for node in tree.body if isinstance(node, ast.ImportFrom) and node.module}
    assert top - set(sys.stdlib_module_names) == {"numpy", "onnxruntime"}
    server_tree = ast.parse((iris[0] / "server.py").read_text())
    every = {a.name.split(".")[0] for n in ast.walk(server_tree) if isinstance(n, ast.Import) for a in n.names}
    every |= {n.module.split(".")[0] for n in ast.walk(server_tree) if isinstance(n, ast.ImportFrom) and n.module}
    assert "onnxgate" not in every, "server.py must not import onnxgate"
    # the packages requirements.txt pins, nothing else
    assert every - set(sys.stdlib_module_names) == {"uvicorn", "httptools", "orjson", "numpy"}


def test_score_run_direct_equals_onnxruntime(iris: tuple[Path, Any, Any], score: ModuleType) -> None:
    folder, _native, X = iris
    expected = ort_outputs(folder, X[:7])
    for request in (json.dumps({"data": X[:7].tolist()}), {"data": X[:7].tolist()},
                    json.dumps({"data": {"input": X[:7].tolist()}}).encode()):
        out = score.run(request)
        assert set(out) == set(expected)
        for name, values in expected.items():
            np.testing.assert_allclose(np.asarray(out[name]), values, rtol=1e-6)


def test_sample_request_and_swagger_example_are_scorable(iris: tuple[Path, Any, Any], score: ModuleType) -> None:
    folder = iris[0]
    sample = json.loads((folder / "sample-request.json").read_text())
    assert sample["data"] == iris[2][:2].tolist()
    v2 = json.loads((folder / "swagger.json").read_text())
    v3 = json.loads((folder / "swagger3.json").read_text())
    assert v2["swagger"] == "2.0" and v3["openapi"] == "3.0.3"
    assert v2["definitions"]["ServiceInput"]["example"] == sample
    data_schema = v3["components"]["schemas"]["ServiceInput"]["properties"]["data"]
    assert data_schema["items"] == {"type": "array", "items": {"type": "number", "format": "double"},
                                    "minItems": 4, "maxItems": 4}
    out_props = v2["definitions"]["ServiceOutput"]["properties"]
    assert out_props["label"]["items"] == {"type": "integer", "format": "int64"}
    assert {p for p in v2["paths"] if not p.startswith("/v2/")} == {"/", "/score", "/swagger.json"}
    assert set(v2["paths"]) == set(v3["paths"])
    status, body = score.score(json.dumps(sample))
    assert status == 200 and len(body["label"]) == 2


BAD = [
    ("malformed-json", "{data: [", 400, "malformed_json"),
    ("not-an-object", "[1, 2]", 400, "missing_data"),
    ("missing-data", {"rows": [[1, 2, 3, 4]]}, 400, "missing_data"),
    ("data-scalar", {"data": 3}, 400, "wrong_type"),
    ("unknown-input", {"data": {"input": [[1, 2, 3, 4]], "extra": [1]}}, 400, "unknown_input"),
    ("missing-input", {"data": {}}, 400, "missing_input"),
    ("row-width", {"data": [[1, 2, 3]]}, 400, "wrong_row_width"),
    ("ragged", {"data": [[1, 2, 3, 4], [1, 2]]}, 400, "wrong_shape"),
    ("flat-row", {"data": [1, 2, 3, 4]}, 400, "wrong_shape"),
    ("strings", {"data": [["a", "b", "c", "d"]]}, 400, "wrong_element_type"),
    ("nulls", {"data": [[1, None, 3, 4]]}, 400, "wrong_element_type"),
    ("nan", '{"data": [[1, NaN, 3, 4]]}', 400, "non_finite"),
    ("infinity", '{"data": [[1, 2, Infinity, 4]]}', 400, "non_finite"),
    ("too-many-rows", {"data": [[1, 2, 3, 4]] * 101}, 413, "too_many_rows"),
    ("boolean-in-a-row", '{"data": [[true, 2, 3, 4]]}', 400, "wrong_element_type"),
    ("boolean-in-a-parsed-row", {"data": [[1.5, 2, 3, False]]}, 400, "wrong_element_type"),
    ("nested-100k", "[" * 100_000 + "]" * 100_000, 400, "too_deep"),
    ("many-empty-lists", '{"data": [' + "[]," * 60_000 + "[]]}", 413, "too_many_values"),
]


@pytest.mark.parametrize(("request_", "status", "code"), [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_bad_requests_get_an_error_dict_not_an_exception(score: ModuleType, request_: Any, status: int,
                                                         code: str) -> None:
    got_status, body = score.score(request_)
    assert (got_status, body["error"], body["status"]) == (status, code, status)
    assert body["message"]
    # Outside the Azure ML server run() returns the same dict rather than raising.
    assert score.run(request_) == body


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=3),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=20,
))
def test_any_json_data_gets_200_or_a_4xx_never_an_exception(score: ModuleType, data: Any) -> None:
    status, body = score.score({"data": data})
    assert status == 200 or (400 <= status < 500 and body["error"] and body["message"])


def test_model_dir_may_be_the_folder_or_a_nested_azure_ml_folder(
    iris: tuple[Path, Any, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder, _n, X = iris
    nested = tmp_path / "azureml-models" / "iris" / "3"
    nested.mkdir(parents=True)
    shutil.copy(folder / "model.onnx", nested / "model.onnx")
    request = {"data": X[:2].tolist()}
    expected = load_score(folder, "direct").run(request)
    for model_dir in (nested, tmp_path / "azureml-models"):
        monkeypatch.setenv("AZUREML_MODEL_DIR", str(model_dir))
        module = load_score(folder, f"env{len(model_dir.parts)}")
        module.init()
        assert module._model_path() == nested / "model.onnx"
        assert module.run(request) == expected
    monkeypatch.setenv("AZUREML_MODEL_DIR", str(tmp_path / "empty"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match=r"holds no 'model\.onnx'"):
        load_score(folder, "empty").init()


def test_init_refuses_a_model_that_is_not_the_validated_one(
    iris: tuple[Path, Any, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    other = tmp_path / "model.onnx"
    other.write_bytes((iris[0] / "model.onnx").read_bytes() + b"\x00")
    monkeypatch.setenv("AZUREML_MODEL_DIR", str(tmp_path))
    with pytest.raises(RuntimeError, match="not the model this package was validated with"):
        load_score(iris[0], "tampered").init()


def test_max_rows_env_overrides_the_packaged_limit(iris: tuple[Path, Any, Any],
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ONNXGATE_MAX_ROWS", "3")
    module = load_score(iris[0], "rows3")
    module.init()
    assert module.score({"data": [[1.0, 2, 3, 4]] * 3})[0] == 200
    assert module.score({"data": [[1.0, 2, 3, 4]] * 4})[0] == 413


def test_a_model_that_fails_validation_is_not_packaged(tmp_path: Path) -> None:
    native, X, _y = og.zoo.get(IRIS).build()
    # ZipMap gives a sequence-of-maps output, which a JSON service cannot return as a tensor.
    conv = og.convert(native, X[:20], options={"zipmap": True})
    out = tmp_path / "refused"
    with pytest.raises(ValidationFailedError, match="not packaged") as info:
        og.package(conv, target="container", out=out)
    assert info.value.report is not None and not info.value.report.passed
    failed = [c.name for c in info.value.report.checks if not c.passed and not c.skipped]
    assert "outputs_tensor_only" in failed
    assert not out.exists() and list(tmp_path.iterdir()) == []


def test_non_empty_folder_is_refused_and_overwrite_replaces(iris: tuple[Path, Any, Any], tmp_path: Path) -> None:
    out = tmp_path / "busy"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    model = iris[0] / "model.onnx"
    with pytest.raises(OutputExistsError, match="not empty"):
        og.package(str(model), target="container", out=out)
    assert [p.name for p in out.iterdir()] == ["keep.txt"]
    og.package(str(model), target="container", out=out, overwrite=True)
    assert (out / "keep.txt").read_text() == "mine" and (out / "score.py").is_file()


def test_unknown_option_and_bad_max_rows_are_refused(iris: tuple[Path, Any, Any], tmp_path: Path) -> None:
    model = str(iris[0] / "model.onnx")
    with pytest.raises(PackagingError, match=r"unknown container option\(s\) \['port'\]"):
        og.package(model, target="container", out=tmp_path / "a", port=80)
    with pytest.raises(PackagingError, match="max_rows must be a positive integer"):
        og.package(model, target="container", out=tmp_path / "b", max_rows=0)
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


def test_allow_nan_lets_nan_through_to_the_model(iris: tuple[Path, Any, Any], tmp_path: Path) -> None:
    out = og.package(str(iris[0] / "model.onnx"), target="container", out=tmp_path / "nan", allow_nan=True)
    module = load_score(out, "nan")
    status, _body = module.score('{"data": [[1, NaN, 3, 4]]}')
    assert status == 200


def _cancer_tree(kind: str) -> tuple[Any, Any, Any]:
    """(model, file, rows): breast_cancer, a model that refuses NaN or one that answers it."""
    from sklearn.datasets import load_breast_cancer
    from sklearn.ensemble import GradientBoostingClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.tree import DecisionTreeClassifier

    X, y = load_breast_cancer(return_X_y=True)
    model = {"logistic": LogisticRegression(max_iter=5000), "boosting": GradientBoostingClassifier(n_estimators=10),
             "tree": DecisionTreeClassifier(max_depth=4, random_state=0)}[kind.split()[0]].fit(X, y)
    conv = og.convert(model, X[:50])
    if kind == "tree missing values routed the other way":
        node = next(n for n in conv.model.graph.node if n.op_type.startswith("TreeEnsemble"))
        routes = next(a for a in node.attribute if a.name == "nodes_missing_value_tracks_true")
        routes.ints[:] = [1 - v for v in routes.ints]  # equal on rows without NaN: validate passes it
    return model, conv.model, X


@pytest.mark.parametrize(("kind", "refusal"), [
    ("logistic", r"refuses NaN there .*Input X contains NaN.*\(label=0; probabilities=\[nan, nan\] where the model"),
    ("boosting", r"refuses NaN there .*Input X contains NaN"),
    ("tree missing values routed the other way", r"answers NaN there otherwise than the reference model: output "
     r"'label' differs on 5 of the 120 rows tried"),
])
def test_allow_nan_is_refused_where_the_model_refuses_nan_or_answers_it_otherwise(
        kind: str, refusal: str, tmp_path: Path) -> None:
    # before: packaged, and the service answered a row holding NaN (label 0 with null probabilities for the
    # LogisticRegression, 0.70/0.30 for the GradientBoostingClassifier) where scikit-learn refuses it, or as the
    # tree never does: nothing compared the file's answer to NaN with the model's (helper-144)
    model, onnx_model, X = _cancer_tree(kind)
    assert og.validate(onnx_model, target="container", reference=model, data=X).passed
    with pytest.raises(PackagingError, match=refusal):
        og.package(onnx_model, target="container", out=tmp_path / "p", reference=model, data=X, allow_nan=True)
    assert not (tmp_path / "p").exists()
    folder = og.package(onnx_model, target="container", out=tmp_path / "default", reference=model, data=X)
    assert json.loads((folder / "manifest.json").read_text())["service"]["allow_nan_inputs"] == []


def test_allow_nan_where_the_model_answers_nan_as_the_file_does(tmp_path: Path) -> None:
    model, onnx_model, X = _cancer_tree("tree")
    folder = og.package(onnx_model, target="container", out=tmp_path / "p", reference=model, data=X,
                        allow_nan=True)
    module = load_score(folder, "nan_tree")
    module.init()
    row = [*X[0, :3].tolist(), None, *X[0, 4:].tolist()]
    status, body = module.score({"data": [row]})
    assert status == 200 and body["label"] == model.predict([[np.nan if v is None else v for v in row]]).tolist()


def test_allow_nan_takes_json_null_as_nan_and_the_users_column_names(tmp_path: Path) -> None:
    # JSON has no NaN (score.py itself writes a NaN output as null): a package made to take missing
    # values refused null; and allow_nan named by the user's column ("x 1") was an "unknown input"
    import pandas as pd
    from sklearn.ensemble import HistGradientBoostingRegressor

    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"x 1": rng.normal(size=80), "other": rng.normal(size=80)})
    frame.loc[::7, "x 1"] = np.nan
    model = HistGradientBoostingRegressor(max_iter=10).fit(frame, rng.normal(size=80))
    conv = og.convert(model, frame.head())
    folder = og.package(conv, target="container", out=tmp_path / "p", allow_nan="x 1")
    assert json.loads((folder / "manifest.json").read_text())["service"]["allow_nan_inputs"] == ["x_1"]
    module = load_score(folder, "nan_null")
    module.init()
    status, body = module.score({"data": [{"x 1": None, "other": 0.5}, {"x 1": 1.0, "other": 0.5}]})
    assert status == 200, body
    want = model.predict(pd.DataFrame({"x 1": [np.nan, 1.0], "other": [0.5, 0.5]}))
    np.testing.assert_allclose(np.ravel(body["variable"]), want, rtol=1e-4)
    status, body = module.score({"data": [{"x 1": 1.0, "other": None}]})  # "other" does not take NaN
    assert status == 400 and "other" in body["message"], body
    status, body = module.score({"data": [{"x 1": "1.0", "other": 0.5}]})  # text is not a missing value
    assert status == 400, body


def test_the_service_takes_the_columns_the_model_drops_as_validate_does(tmp_path: Path) -> None:
    # a ColumnTransformer's dropped remainder ('row id'): validate, score and the dry run take the training
    # frame, and the service answered 400 unknown_input to the same rows (helper-112)
    import pandas as pd
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"a": rng.normal(size=50), "b": rng.normal(size=50), "row id": np.arange(50)})
    model = Pipeline([("ct", ColumnTransformer([("n", StandardScaler(), ["a", "b"])], remainder="drop")),
                      ("clf", LogisticRegression())]).fit(frame, (frame.a + frame.b > 0).astype(int))
    conv = og.convert(model, frame.head())
    module = load_score(og.package(conv, target="container", out=tmp_path / "p"), "unread_columns")
    module.init()
    status, body = module.score({"data": frame.head(3).to_dict(orient="records")})
    assert status == 200, body
    np.testing.assert_array_equal(body["label"], model.predict(frame.head(3)))
    status, body = module.score({"data": {**frame.head(3).to_dict(orient="list"), "other": [1, 2, 3]}})
    assert status == 400 and "other" in body["message"], body  # a column the model never knew is still refused


def test_column_inputs_accept_a_flat_list_of_values(tmp_path: Path) -> None:
    import onnxruntime as ort

    from onnxgate._data import as_feeds

    native, X, _y = og.zoo.get("sklearn-wine-columntransformer").build()
    conv = og.convert(native, X.head(20), opset=15)
    folder = og.package(conv, target="container", out=tmp_path / "wine")
    module = load_score(folder, "score_columns")
    module.init()
    rows = X.head(4)
    flat = {"data": {c: rows[c].tolist() for c in rows.columns}}  # [N,1] inputs sent as [v0, v1, ...]
    nested = {"data": {c: [[v] for v in rows[c].tolist()] for c in rows.columns}}
    status, flat_body = module.score(json.dumps(flat))
    assert status == 200, flat_body
    assert module.score(json.dumps(nested)) == (200, flat_body)
    sess = ort.InferenceSession(str(folder / "model.onnx"), providers=["CPUExecutionProvider"])
    want = sess.run(None, as_feeds(rows, conv.signature))
    np.testing.assert_allclose(np.asarray(flat_body["probabilities"]), want[1], rtol=1e-6)
    # a [N,1] column still refuses rows of two values
    bad = {"data": {c: [[v, v] for v in rows[c].tolist()] for c in rows.columns}}
    assert module.score(json.dumps(bad))[0] == 400


def test_score_py_works_without_orjson(iris: tuple[Path, Any, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    """The standard library's json is the fallback: same answers, same errors, NaN outputs as null."""
    import sys

    monkeypatch.setitem(sys.modules, "orjson", None)  # import orjson now raises ImportError
    monkeypatch.setitem(sys.modules, "simdjson", None)
    plain = load_score(iris[0], "score_without_orjson")
    plain.init()
    assert plain._orjson is None and plain._simdjson is None
    X = iris[2][:5]
    status, body = plain.score_bytes(json.dumps({"data": X.tolist()}).encode())
    assert status == 200 and json.loads(body)["label"] == ort_outputs(iris[0], X)["label"].tolist()
    status, body = plain.score_bytes(b'{"data": [[1e308, 2, 3, 4]]}')
    assert status == 200 and json.loads(body)["probabilities"] == [[None, None, None]]
    assert plain.run("[" * 100_000 + "]" * 100_000)["error"] == "too_deep"
    assert plain.run('{"data": [[true, 2, 3, 4]]}')["error"] == "wrong_element_type"


@pytest.fixture(scope="module")
def colliding(tmp_path_factory: pytest.TempPathFactory) -> ModuleType:
    """A package whose columns "x 1" and "x_1" became the inputs x_11 and x_1 ("x_1" keeps its own name)."""
    import pandas as pd
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"x 1": rng.normal(size=60), "x_1": rng.normal(size=60), "other": rng.normal(size=60)})
    model = LogisticRegression().fit(frame, (frame["x 1"] + frame["x_1"] > 0).astype(int))
    conv = og.convert(model, frame.head())
    assert [s.name for s in conv.signature.inputs] == ["x_11", "x_1", "other"]
    module = load_score(og.package(conv, target="container", out=tmp_path_factory.mktemp("collide") / "c"), "collide")
    module.init()
    return module


def test_a_missing_column_is_named_as_the_user_knows_it(colliding: ModuleType) -> None:
    # once: "missing input(s) ['x_1']" for a request that holds the column x_1 and lacks "x 1"
    status, body = colliding.score({"data": [{"x_1": 0.5, "other": 1.0}]})
    assert (status, body["error"]) == (400, "missing_input"), body
    assert body["message"].startswith("missing input(s) ['x 1' (input 'x_11')]; the model's inputs are "
                                      "['x 1' (input 'x_11'), 'x_1', 'other']"), body


@pytest.mark.parametrize(("value", "found"), [(None, "found null (a missing value)"), ("a", "found strings")],
                         ids=["null", "string"])
def test_a_bad_value_names_the_users_column_and_the_input(colliding: ModuleType, value: Any, found: str) -> None:
    # once: "input 'x_11': expected ..." for a value the user sent in another column
    status, body = colliding.score({"data": {"x 1": [0.5, value], "x_1": [1.0, 2.0], "other": [1.0, 2.0]}})
    assert (status, body["error"]) == (400, "wrong_element_type"), body
    assert body["message"].startswith("column 'x 1' (input 'x_11'): expected float"), body
    assert f"values, {found}" in body["message"], body
    status, body = colliding.score({"data": {"x 1": [0.5, 0.1], "x_1": [1.0, 2.0], "other": [1.0, value]}})
    assert status == 400 and body["message"].startswith("input 'other': expected float"), body


def _strict_json(text: str) -> Any:
    """Parse as RFC 8259 JSON: NaN and Infinity literals are not JSON (JavaScript's JSON.parse refuses them)."""

    def refuse(token: str) -> Any:
        raise ValueError(f"not JSON: a bare {token}")

    return json.loads(text, parse_constant=refuse)


def _iris_frame(imputer: bool) -> tuple[Any, Any]:
    from sklearn.datasets import load_iris
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    X, y = load_iris(return_X_y=True, as_frame=True)
    model = LogisticRegression(max_iter=500)
    return (make_pipeline(SimpleImputer(), model) if imputer else model).fit(X, y), X


def test_sample_data_with_nan_in_its_first_rows_gives_strict_json_and_a_scorable_example(tmp_path: Path) -> None:
    # before: sample-request.json and swagger*.json held a bare NaN token from the first rows of the data
    native, X = _iris_frame(imputer=True)
    data = X.copy()
    data.iloc[0, 2] = np.nan
    data.iloc[1, 0] = np.inf  # neither kind of row is shown
    # the data gives the example (without the reference: no parity run on an infinite row)
    folder = og.package(og.convert(native, X.head()).model, target="container", out=tmp_path / "p", data=data)
    for path in folder.glob("*.json"):
        _strict_json(path.read_text())
    sample = _strict_json((folder / "sample-request.json").read_text())
    assert sample["data"]["sepal length (cm)"] == [[v] for v in X.iloc[2:4, 0]], "the first complete rows"
    assert _strict_json((folder / "swagger.json").read_text())["definitions"]["ServiceInput"]["example"] == sample
    module = load_score(folder, "nan_sample")
    module.init()
    status, body = module.score((folder / "sample-request.json").read_text())
    assert status == 200 and body["label"] == native.predict(X.iloc[2:4]).tolist(), body


@pytest.mark.parametrize(("allow_nan", "shown"), [(True, [[None], [None]]), (False, [[0.0]])],
                         ids=["null-where-nan-is-taken", "zeros-where-it-is-not"])
def test_sample_data_missing_a_value_in_every_row(tmp_path: Path, allow_nan: bool, shown: list[Any]) -> None:
    native, X = _iris_frame(imputer=True)
    data = X.copy()
    data.iloc[:, 2] = np.nan
    folder = og.package(og.convert(native, X.head()), target="container", out=tmp_path / "p", data=data,
                        allow_nan=allow_nan)
    for path in folder.glob("*.json"):
        _strict_json(path.read_text())
    sample = _strict_json((folder / "sample-request.json").read_text())
    assert sample["data"]["petal length (cm)"] == shown
    module = load_score(folder, f"nan_every_row_{allow_nan}")
    module.init()
    status, body = module.score(json.dumps(sample))
    assert status == 200, body


def test_infinity_is_refused_where_nan_is_taken(tmp_path: Path) -> None:
    # before: an imputer package took infinity (the imputer passes it on) and answered a label argmax'ed
    # from NaN probabilities, where scikit-learn refuses the row
    native, X = _iris_frame(imputer=True)
    folder = og.package(og.convert(native, X.head()), target="container", out=tmp_path / "p")
    manifest = json.loads((folder / "manifest.json").read_text())
    assert "petal_length__cm_" in manifest["service"]["allow_nan_inputs"]
    module = load_score(folder, "inf_refused")
    module.init()
    row = dict(X.iloc[100])
    status, body = module.score({"data": [{**row, "petal length (cm)": None}]})
    assert status == 200, body  # NaN (null) is a missing value: taken
    for literal in ("Infinity", "-Infinity", "1e999"):
        text = json.dumps({"data": [{**row, "petal length (cm)": 0.0}]}).replace("0.0", literal, 1)
        status, body = module.score(text)
        assert (status, body["error"]) == (400, "non_finite"), (literal, body)
        assert body["message"] == ("column 'petal length (cm)' (input 'petal_length__cm_'): infinity in row 0 (a "
                                   "number beyond float64's range, such as 1e400, reads as infinity); this model "
                                   "takes NaN (null) as a missing value here, never infinity: send a finite value, or "
                                   "null for a missing one"), body


def test_only_the_inputs_an_imputer_reads_take_nan_by_default(tmp_path: Path) -> None:
    # any IsNaN in the graph made every float input take NaN: a NaN in a scaled-only column was scored
    # as label 0 beside NaN probabilities, where scikit-learn refuses the row
    import pandas as pd
    from sklearn.compose import ColumnTransformer
    from sklearn.datasets import load_breast_cancer
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X, y = load_breast_cancer(return_X_y=True, as_frame=True)
    frame = pd.DataFrame(X.iloc[:, :3].to_numpy(), columns=["radius", "texture", "perimeter"])
    frame.loc[::9, "radius"] = np.nan
    encode = ColumnTransformer([("imputed", SimpleImputer(), ["radius"]),
                                ("scaled", StandardScaler(), ["texture", "perimeter"])])
    model = make_pipeline(encode, LogisticRegression(max_iter=5000)).fit(frame, y)
    folder = og.package(og.convert(model, frame.head(), target="container"), target="container",
                        out=tmp_path / "pkg", reference=model, data=frame)
    assert json.loads((folder / "manifest.json").read_text())["service"]["allow_nan_inputs"] == ["radius"]


def test_an_isnan_guard_on_computed_values_does_not_make_the_input_take_nan(tmp_path: Path) -> None:
    # a KNeighborsRegressor(weights="distance") holds an IsNaN on its neighbours' weights (1/0 at distance 0),
    # reached from the input through the distances: the package took NaN there by default and the service
    # answered a row holding null with 200 and null outputs, where scikit-learn refuses the row (helper-378)
    from sklearn.datasets import load_linnerud
    from sklearn.neighbors import KNeighborsRegressor

    X, y = load_linnerud(return_X_y=True)
    model = KNeighborsRegressor(n_neighbors=3, weights="distance").fit(X, y)
    folder = og.package(og.convert(model, X[:5], target="container"), target="container", out=tmp_path / "pkg",
                        reference=model, data=X)
    assert json.loads((folder / "manifest.json").read_text())["service"]["allow_nan_inputs"] == []
    module = load_score(folder, "knn_nan")
    module.init()
    status, body = module.score({"data": [[5.0, None, 50.0]]})
    assert (status, body["error"]) == (400, "wrong_element_type"), body
    status, body = module.score({"data": X[:2].tolist()})
    assert status == 200 and np.allclose(body["variable"], model.predict(X[:2]), rtol=1e-4), body


def test_a_null_text_is_the_missing_category_a_one_hot_encoder_learnt(tmp_path: Path) -> None:
    # the service feeds a JSON null in a text column as the text the file reads as the encoder's missing
    # category, as validate and score feed NaN (the model was refused before)
    import pandas as pd
    from sklearn.compose import make_column_transformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder

    rng = np.random.default_rng(0)
    plan = rng.choice(np.array(["basic", "pro", np.nan], dtype=object), 120)
    frame = pd.DataFrame({"amount": rng.normal(size=120), "plan": pd.Series(plan, dtype=object)})
    y = ((frame["amount"] > 0) ^ pd.isna(frame["plan"])).astype(int)
    model = make_pipeline(make_column_transformer((OneHotEncoder(), ["plan"]), remainder="passthrough"),
                          LogisticRegression()).fit(frame, y)
    folder = og.package(og.convert(model, frame.head(20)), target="container", out=tmp_path / "p",
                        reference=model, data=frame)
    # the example request shows rows of real text, not the text a missing value is fed as
    assert "\\u0000" not in (folder / "sample-request.json").read_text()
    module = load_score(folder, "missing_category")
    module.init()
    status, body = module.score({"data": [{"amount": 0.3, "plan": None}, {"amount": 0.3, "plan": "pro"}]})
    assert status == 200, body
    want = model.predict_proba(pd.DataFrame({"amount": [0.3, 0.3], "plan": pd.Series([np.nan, "pro"], dtype=object)}))
    np.testing.assert_allclose(np.asarray(body["probabilities"]), want, atol=1e-5)


@pytest.mark.parametrize("categories", [[7, 12, 19, 23], ["red", "green", "blue", "cyan"]], ids=["integers", "text"])
def test_xgboost_category_values_and_nulls_score_as_xgboost_scores_them(categories: list[Any],
                                                                       tmp_path: Path) -> None:
    # an XGBoost model fitted on a pandas category column: its file reads the codes, and /score refused the
    # values the model was fitted on ("expected int32 values, found strings") and null, its missing value
    # ("found null ... fill or drop"), where validate maps a category column to the codes (helper-217)
    xgboost = pytest.importorskip("xgboost")
    import pandas as pd

    frame, y = category_frame(categories)
    model = xgboost.XGBClassifier(n_estimators=5, max_depth=3, enable_categorical=True, n_jobs=1).fit(frame, y)
    og.package(og.convert(model, frame.head(40)), target="container", out=tmp_path / "pkg")
    entry = load_score(tmp_path / "pkg", "score_categories")
    rows = frame.head(30)
    values = [None if pd.isna(v) else v for v in rows.band.tolist()]
    status, out = entry.score(json.dumps({"data": {"x": rows.x.tolist(), "band": values}}))
    assert status == 200, out
    np.testing.assert_allclose(np.array(out["probabilities"]), model.predict_proba(rows), atol=1e-5)
    status, coded = entry.score(json.dumps({"data": {"x": rows.x.tolist(), "band": rows.band.cat.codes.tolist()}}))
    if categories[0] == 7:
        # a number is read as the category of that value, as every route reads it: the codes 0..3 are none of
        # the categories 7..23, and are refused naming the categories they stand for (helper-233)
        assert status == 400, coded
        assert "read as the category of that value, not as a code" in coded["message"]
        assert "if these are codes, they stand for [7, 23, 12, 19]" in coded["message"]
    else:  # numbers for text categories are their codes, as a client that already sends them does
        assert status == 200 and coded["probabilities"] == out["probabilities"]
    # a category XGBoost was not fitted on (it raises on one) is refused, saying what to send
    unseen = 99 if categories[0] == 7 else "mauve"
    status, refused = entry.score(json.dumps({"data": {"x": [0.1, 0.2], "band": [categories[0], unseen]}}))
    assert status == 400 and f"none of the model's categories {categories}" in refused["message"]
    assert "send a category" in refused["message"]
    # a code beside a category value is refused: with categories 7..42 a 2 is no category, and reading it as
    # code 2 would answer another category's probabilities for a value the model never saw
    status, mixed = entry.score(json.dumps({"data": {"x": [0.1, 0.2], "band": [categories[0], 2]}}))
    assert status == 400 and ("none of the model's categories [7, 12, 19, 23] (e.g. [2])" if categories[0] == 7
                              else "mixes codes [2] and category values") in mixed["message"]


def test_a_month_that_is_also_another_months_code_is_read_as_that_month(tmp_path: Path) -> None:
    # months 1..12 as XGBoost categories: code 3 is month 4. /score and v2 read a month 11 sent as a number as
    # code 11, month 12's answer (0.02 where XGBoost says 0.97), and only a request holding a 12 was refused;
    # then such a request was refused ("cannot be told which is meant") where the MLflow package and Spark read
    # 11 as month 11. Every route reads a number as the category of that value now (helper-233)
    xgboost = pytest.importorskip("xgboost")
    import pandas as pd

    rng = np.random.default_rng(0)
    month = rng.integers(1, 13, 600)
    x = rng.normal(size=600)
    frame = pd.DataFrame({"x": x, "month": pd.Categorical(month, categories=list(range(1, 13)))})
    y = ((month % 3 == 0) ^ (x > 0.3)).astype(int)
    model = xgboost.XGBClassifier(n_estimators=20, max_depth=4, enable_categorical=True, n_jobs=1).fit(frame, y)
    folder = og.package(og.convert(model, frame.head(60)), target="container", out=tmp_path / "pkg")
    entry = load_score(folder, "score_months")
    entry.init()
    rows = frame.head(8)
    sent = [int(v) for v in rows.month]
    assert min(sent) >= 1 and max(sent) <= 11
    status, numbers = entry.score(json.dumps({"data": {"x": rows.x.tolist(), "month": sent}}))
    assert status == 200, numbers
    np.testing.assert_allclose(np.array(numbers["probabilities"]), model.predict_proba(rows), atol=1e-5)
    status, out = entry.score(json.dumps({"data": {"x": rows.x.tolist(), "month": [str(v) for v in sent]}}))
    assert status == 200 and out["probabilities"] == numbers["probabilities"], out
    # beside a 12 (no code), the other numbers are months too
    status, beside = entry.score(json.dumps({"data": {"x": [0.0, *rows.x], "month": [12, *sent]}}))
    assert status == 200, beside
    want = model.predict_proba(pd.concat([pd.DataFrame({"x": [0.0], "month": pd.Categorical([12], categories=list(
        range(1, 13)))}), rows], ignore_index=True))
    np.testing.assert_allclose(np.array(beside["probabilities"]), want, atol=1e-5)
    # the package's own example request still scores
    status, example = entry.score((folder / "sample-request.json").read_text())
    assert status == 200, example


def test_a_service_is_named_after_the_model_not_the_exporters_graph_name(tmp_path: Path) -> None:
    # torch's exporters name every graph "main_graph": a PyTorch model's container service and its v2 path were
    # "main-graph". A module converted here takes its class's name; a file exported elsewhere its file's stem
    import onnx
    import torch
    from onnx import TensorProto, helper

    class TinyScorer(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.linear = torch.nn.Linear(3, 2)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.linear(x)

    x = torch.randn(4, 3)
    conv = og.convert(TinyScorer().eval(), x, options={"dynamo": False})
    assert conv.model.graph.name == "TinyScorer"
    folder = og.package(conv, target="container", out=tmp_path / "torch")
    assert set(json.loads((folder / "iotedge-module.json").read_text())["modules"]) == {"tinyscorer"}

    graph = helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "main_graph",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [None, 3])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [None, 3])])
    exported = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
    onnx.save(exported, tmp_path / "churn-scorer.onnx")
    folder = og.package(tmp_path / "churn-scorer.onnx", target="container", out=tmp_path / "file")
    assert set(json.loads((folder / "iotedge-module.json").read_text())["modules"]) == {"churn-scorer"}
    assert any("/v2/models/churn-scorer" in path for path in json.loads((folder / "swagger.json").read_text())["paths"])


def test_the_readme_shows_names_that_look_like_its_placeholders_as_they_are(tmp_path: Path) -> None:
    # the README's placeholders were replaced one after another, so an input named @PARITY@ (in the signature, filled
    # in before it) became the parity sentence, and the example request sent a key no input has
    from onnx import TensorProto, helper

    graph = helper.make_graph([helper.make_node("Relu", ["@PARITY@"], ["@EXAMPLE@"])], "placeholders",
                              [helper.make_tensor_value_info("@PARITY@", TensorProto.FLOAT, [None, 1])],
                              [helper.make_tensor_value_info("@EXAMPLE@", TensorProto.FLOAT, [None, 1])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
    folder = og.package(model, target="container", out=tmp_path / "pkg")
    readme = (folder / "README.md").read_text()
    request = json.loads((folder / "sample-request.json").read_text())
    assert f"Model: `{og.Signature.from_model(model)}`" in readme
    assert json.dumps(request) in readme, "the README's example request is not the package's"
    assert readme.count("Prediction parity with the original model was") == 1
