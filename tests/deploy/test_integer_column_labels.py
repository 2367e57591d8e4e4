"""Frames whose column labels are integers (``pd.DataFrame(X)``: ``0, 1, ...``), packaged for a container and for
MLflow: JSON makes those labels text (``df.to_dict("records")`` sends ``"0"``), and MLflow compares them with its
schema's names as they are (helper-252)."""

from __future__ import annotations

import importlib.util
import json
import warnings
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pandas as pd
import pytest

import onnxgate as og


@pytest.fixture(scope="module")
def wine() -> dict[str, Any]:
    """A scikit-learn model fitted on a frame of 13 numbered columns: it records no names, one [N,13] input."""
    from sklearn.datasets import load_wine
    from sklearn.linear_model import LogisticRegression

    X, y = load_wine(return_X_y=True)
    frame = pd.DataFrame(X)
    model = LogisticRegression(max_iter=5000).fit(frame, y)
    assert getattr(model, "feature_names_in_", None) is None
    return {"frame": frame, "model": model, "conv": og.convert(model, frame.head(20))}


def load_score(folder: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"score_labels_{abs(hash(str(folder)))}", folder / "score.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.init()
    return module


def test_the_service_takes_records_keyed_by_the_frames_integer_labels(wine: dict[str, Any], tmp_path: Path) -> None:
    # records of pd.DataFrame(X) ({"0": ..., "1": ...}) were refused: "unknown input name(s) ['0', '1', ...]; the
    # model's inputs are ['input']"
    frame, model = wine["frame"], wine["model"]
    score = load_score(og.package(wine["conv"], target="container", out=tmp_path / "pkg"))
    rows = frame.iloc[[0, 70, 150]]
    want = model.predict(rows).tolist()
    assert len(set(want)) == 3
    probabilities = model.predict_proba(rows)
    sent = [
        json.dumps({"data": rows.to_dict(orient="records")}),
        json.dumps({"data": rows.to_dict(orient="records")}, sort_keys=True),  # "10" before "2"
        json.dumps({"data": rows.to_dict(orient="list")}),
    ]
    for body in sent:
        status, out = score.score(body)
        assert status == 200, out
        assert out["label"] == want
        np.testing.assert_allclose(out["probabilities"], probabilities, rtol=1e-6, atol=1e-9)
    # keys other than the frame's labels are refused, naming those it needs
    records = rows.to_dict(orient="records")
    for record in records:
        del record[12]
    status, out = score.score(json.dumps({"data": records}))
    assert (status, out["error"]) == (400, "missing_input"), out
    assert "the request lacks ['12']" in out["message"] and '{"data": [[...], ...]}' in out["message"]


def test_without_the_frame_the_service_says_to_send_rows(wine: dict[str, Any], tmp_path: Path) -> None:
    # packaged from an array the labels are not known: the answer named only the input 'input', not how to send rows
    frame, model = wine["frame"], wine["model"]
    conv = og.convert(model, frame.to_numpy()[:20])
    score = load_score(og.package(conv, target="container", out=tmp_path / "pkg"))
    status, out = score.score(json.dumps({"data": frame.head(2).to_dict(orient="records")}))
    assert (status, out["error"]) == (400, "unknown_input"), out
    assert "one input 'input' of 13 values per row, by position" in out["message"]
    assert '{"data": [[...], ...]}' in out["message"]
    status, out = score.score(json.dumps({"data": frame.head(2).to_numpy().tolist()}))  # as the message says
    assert status == 200 and out["label"] == model.predict(frame.head(2)).tolist()


@pytest.mark.network
def test_onnxgate_serve_takes_records_keyed_by_integer_labels(wine: dict[str, Any], tmp_path: Path) -> None:
    from _serving import onnxgate_serve

    frame = wine["frame"].head(4)
    folder = og.package(wine["conv"], target="container", out=tmp_path / "pkg")
    server = onnxgate_serve(folder)
    try:
        server.wait_healthy()
        status, out = server.score({"data": frame.to_dict(orient="records")})
    finally:
        server.stop()
    assert status == 200, out
    assert out["label"] == wine["model"].predict(frame).tolist()


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
@pytest.mark.parametrize("library", ["lightgbm", "xgboost"])
def test_an_mlflow_package_of_integer_labels_says_how_to_give_the_frame(library: str, tmp_path: Path) -> None:
    # LightGBM and XGBoost name a frame's integer labels '0', '1', ...; the MLflow package's inputs are those names,
    # and MLflow refuses the frame the model was fitted on with its own "Model is missing inputs ['0', ...]", which
    # onnxgate did not announce
    mlflow = pytest.importorskip("mlflow")
    lib = pytest.importorskip(library)
    from sklearn.datasets import load_iris

    X, y = load_iris(return_X_y=True)
    frame = pd.DataFrame(X)
    model = (lib.LGBMClassifier(n_estimators=5, verbose=-1) if library == "lightgbm"
             else lib.XGBClassifier(n_estimators=5, n_jobs=1)).fit(frame, y)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        folder = og.package(og.convert(model, frame.head(20)), target="mlflow", out=tmp_path / "pkg")
    said = [str(w.message) for w in caught if "integer column labels" in str(w.message)]
    assert len(said) == 1 and "frame.rename(columns=str)" in said[0], [str(w.message) for w in caught]
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    assert "['0', '1', '2', '3']" in manifest["mlflow"]["column_labels"]
    loaded = mlflow.pyfunc.load_model(str(folder))
    with pytest.raises(Exception, match="missing inputs"):  # MLflow's own check, which onnxgate cannot change
        loaded.predict(frame.head(3))
    got = loaded.predict(frame.head(3).rename(columns=str))  # as the warning says
    assert np.asarray(got["label"]).ravel().tolist() == model.predict(frame.head(3)).tolist()


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_an_mlflow_package_taking_the_frame_by_position_says_nothing(wine: dict[str, Any], tmp_path: Path) -> None:
    mlflow = pytest.importorskip("mlflow")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        folder = og.package(wine["conv"], target="mlflow", out=tmp_path / "pkg")
    assert not [str(w.message) for w in caught if "integer column labels" in str(w.message)]
    frame = wine["frame"].head(3)
    got = mlflow.pyfunc.load_model(str(folder)).predict(frame)
    assert np.asarray(got["label"]).ravel().tolist() == wine["model"].predict(frame).tolist()


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_the_cli_says_the_integer_labels_note_in_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    # the package command printed Python's warning form: ".../onnxgate/cli.py:148: UserWarning: onnxgate: MLflow
    # matches ..." and then the source line "return int(args.run(args))"
    pytest.importorskip("mlflow")
    lightgbm = pytest.importorskip("lightgbm")
    from sklearn.datasets import load_iris

    from onnxgate.cli import main

    monkeypatch.chdir(tmp_path)
    X, y = load_iris(return_X_y=True)
    frame = pd.DataFrame(X)
    model = lightgbm.LGBMClassifier(n_estimators=5, verbose=-1, n_jobs=1).fit(frame, y)
    model.booster_.save_model("model.txt")
    frame.to_csv("rows.csv", index=False)
    og.convert(model, frame.head(20)).save("model.onnx")
    capsys.readouterr()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        code = main(["package", "model.onnx", "--target", "mlflow", "-o", "pkg", "--reference", "model.txt",
                     "--data", "rows.csv"])
    err = capsys.readouterr().err
    assert code == 0, err
    notes = [line for line in err.splitlines() if "integer column labels" in line]
    assert len(notes) == 1 and notes[0].startswith("note: MLflow matches"), err
    assert "frame.rename(columns=str)" in notes[0]
    assert "UserWarning" not in err and "args.run" not in err
    assert not [w for w in caught if "integer column labels" in str(w.message)]
