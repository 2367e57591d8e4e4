"""What a container package takes for the columns users fit on: missing values a boosted tree routes,
a pandas boolean column, and a batch of no rows for a boolean input (found by helper-73)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from test_container import load_score

import onnxgate as og
from onnxgate.deploy.server import create_app


def _cancer_with_holes() -> tuple[pd.DataFrame, np.ndarray]:
    from sklearn.datasets import load_breast_cancer

    X, y = load_breast_cancer(return_X_y=True, as_frame=True)
    frame = pd.DataFrame(X.iloc[:, :4].to_numpy(), columns=["radius", "texture", "perimeter", "area"])
    rng = np.random.default_rng(1)
    frame = frame.mask(rng.random(frame.shape) < 0.15)
    return frame, y.to_numpy()


@pytest.mark.parametrize("library", ["xgboost", "lightgbm"])
def test_a_boosted_model_fitted_with_missing_values_is_packaged_to_take_them(library: str, tmp_path: Path) -> None:
    # its trees route a missing value, validate passed on rows holding NaN, and the package refused null
    # with 400 "found mixed or null values"
    frame, y = _cancer_with_holes()
    if library == "xgboost":
        import xgboost

        model = xgboost.XGBClassifier(n_estimators=20, max_depth=3, n_jobs=1).fit(frame, y)
    else:
        import lightgbm

        model = lightgbm.LGBMClassifier(n_estimators=20, verbose=-1, n_jobs=1).fit(frame, y)
    folder = og.package(og.convert(model, frame.head()), target="container", out=tmp_path / "p",
                        reference=model, data=frame)
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["service"]["allow_nan_inputs"] == list(frame.columns)
    module = load_score(folder, f"nan_{library}")
    module.init()
    rows = frame[frame.isna().any(axis=1)].head(8)
    request = {"data": {c: [None if pd.isna(v) else float(v) for v in rows[c]] for c in rows.columns}}
    status, body = module.score(request)
    assert status == 200, body
    assert body["label"] == model.predict(rows).tolist()
    assert np.abs(np.asarray(body["probabilities"]) - model.predict_proba(rows)).max() < 1e-5


@pytest.mark.parametrize("kind", ["linear", "boosting", "pca-forest"])
def test_a_model_scikit_learn_refuses_nan_for_refuses_null_and_names_the_option(kind: str, tmp_path: Path) -> None:
    # skl2onnx writes a missing-value branch for every scikit-learn tree: a GradientBoostingClassifier, or a
    # forest behind a PCA, answered a null scikit-learn refuses (helper-75)
    from sklearn.decomposition import PCA
    from sklearn.ensemble import GradientBoostingClassifier, RandomForestClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    frame, y = _cancer_with_holes()
    full = frame.fillna(frame.mean())
    model = {"linear": lambda: LogisticRegression(max_iter=5000),
             "boosting": lambda: GradientBoostingClassifier(n_estimators=10, random_state=0),
             "pca-forest": lambda: make_pipeline(PCA(2), RandomForestClassifier(10, random_state=0))}[kind]()
    model.fit(full, y)
    with pytest.raises(ValueError, match="NaN"):
        model.predict(frame.head(20))
    folder = og.package(og.convert(model, full.head()), target="container", out=tmp_path / "p",
                        reference=model, data=full)
    assert json.loads((folder / "manifest.json").read_text())["service"]["allow_nan_inputs"] == []
    module = load_score(folder, "nan_linear")
    module.init()
    status, body = module.score({"data": [{"radius": None, "texture": 1.0, "perimeter": 2.0, "area": 3.0}]})
    assert status == 400 and "--option allow_nan=true" in body["message"], body


@pytest.fixture(scope="module")
def flagged(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, object, pd.DataFrame]:
    """A model fitted on a pandas nullable boolean column (a float64 input) beside a number."""
    from sklearn.datasets import load_breast_cancer
    from sklearn.linear_model import LogisticRegression

    X, y = load_breast_cancer(return_X_y=True, as_frame=True)
    frame = pd.DataFrame({"radius": X["mean radius"], "big": (X["mean area"] > 600).astype("boolean")})
    model = LogisticRegression().fit(frame, y)
    conv = og.convert(model, frame.head())
    assert conv.signature.inputs[1].elem_type == "float64"
    folder = og.package(conv, target="container", out=tmp_path_factory.mktemp("flag") / "p",
                        reference=model, data=frame)
    return folder, model, frame


def test_a_boolean_column_is_scored_as_validate_scores_it(flagged: tuple[Path, object, pd.DataFrame]) -> None:
    # validate and `onnxgate score` read the booleans as 0/1; the service answered 400 "found booleans"
    folder, model, frame = flagged
    module = load_score(folder, "flag")
    module.init()
    rows = frame.iloc[[0, 1, 300, 400]]
    want = model.predict_proba(rows)  # type: ignore[attr-defined]
    columns = {"data": {"radius": rows["radius"].tolist(), "big": [bool(v) for v in rows["big"]]}}
    records = {"data": [{"radius": float(r), "big": bool(b)} for r, b in zip(rows["radius"], rows["big"])]}
    for request in (columns, records):
        status, body = module.score(request)
        assert status == 200, body
        assert np.abs(np.asarray(body["probabilities"]) - want).max() < 1e-9
    # booleans beside numbers in one column are not a boolean column
    status, body = module.score({"data": {"radius": rows["radius"].tolist(), "big": [True, 0.5, False, True]}})
    assert status == 400, body


def test_rows_of_booleans_are_scored_as_validate_and_score_read_them(tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    # a model of 0/1 features converted on a float sample (one [N,4] float64 input): package validated parity
    # on boolean rows and `onnxgate score` scored a Parquet list<bool> column as 0/1, while the service answered
    # 400 "expected float64 values, found booleans" for those same rows (helper-134)
    import pyarrow as pa
    import pyarrow.parquet as pq
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    from onnxgate.cli import main

    monkeypatch.chdir(tmp_path)
    X, y = load_iris(return_X_y=True)
    flags = np.median(X, axis=0) < X
    model = LogisticRegression(max_iter=500).fit(flags, y)
    np.save("flags.npy", flags)
    conv = og.convert(model, flags[:5].astype(np.float64))
    assert (conv.signature.inputs[0].elem_type, conv.signature.inputs[0].shape[1]) == ("float64", 4)
    conv.save("m.onnx")
    folder = og.package("m.onnx", target="container", out="p", reference=model, data=flags)
    rows = flags[[0, 60, 120]]
    want = model.predict_proba(rows)
    pq.write_table(pa.table({"input": pa.array(rows.tolist())}), "rows.parquet")
    assert main(["score", str(folder), "--data", "rows.parquet", "--out", "scored.parquet"]) == 0
    scored = np.stack(pd.read_parquet("scored.parquet")["probabilities"].to_list())
    np.testing.assert_allclose(scored, want, atol=1e-9)
    module = load_score(folder, "bool_rows")
    module.init()
    status, body = module.score({"data": rows.tolist()})
    assert status == 200, body
    np.testing.assert_allclose(np.asarray(body["probabilities"]), want, atol=1e-9)
    # booleans beside numbers stay refused: which were meant as numbers?
    status, body = module.score({"data": [[True, 0.5, False, True]]})
    assert status == 400 and "found booleans" in body["message"], body


def test_v2_takes_a_batch_of_no_rows_for_a_boolean_input(tmp_path: Path) -> None:
    # shape [0, 1] with "data": [] was refused: "expected bool values, found numbers with a fraction"
    from sklearn.datasets import load_breast_cancer
    from sklearn.linear_model import LogisticRegression

    X, y = load_breast_cancer(return_X_y=True, as_frame=True)
    frame = pd.DataFrame({"radius": X["mean radius"], "big": (X["mean area"] > 600).to_numpy()})
    model = LogisticRegression().fit(frame, y)
    conv = og.convert(model, frame.head())
    assert conv.signature.inputs[1].elem_type == "bool"
    app = create_app(og.package(conv, target="container", out=tmp_path / "p", service_name="flags"))
    request = {"inputs": [{"name": "radius", "datatype": "FP64", "shape": [0, 1], "data": []},
                          {"name": "big", "datatype": "BOOL", "shape": [0, 1], "data": []}]}
    status, raw, _headers = app.v2.infer({}, json.dumps(request).encode())
    assert status == 200, raw
    outputs = {o["name"]: o for o in json.loads(raw)["outputs"]}
    assert outputs["probabilities"]["shape"] == [0, 2] and outputs["probabilities"]["data"] == []


def test_parity_against_an_onnx_file_lets_no_input_take_null(tmp_path: Path) -> None:
    # the file compared with itself says nothing of what scikit-learn does with NaN: the package took null and
    # answered label 0 beside null probabilities, where scikit-learn refuses the row (helper-78)
    from sklearn.linear_model import LogisticRegression

    frame, y = _cancer_with_holes()
    model = LogisticRegression(max_iter=5000).fit(frame.fillna(frame.mean()), y)
    conv = og.convert(model, frame.head())
    folder = og.package(conv, target="container", out=tmp_path / "p", reference=conv.model, data=frame)
    assert json.loads((folder / "manifest.json").read_text())["service"]["allow_nan_inputs"] == []


def test_a_missing_category_is_scored_as_missing_in_every_path(tmp_path: Path) -> None:
    # HistGradientBoosting scores a NaN category as missing; validate refused it ("missing or non-text value(s)"),
    # as did score and the service (helper-74). The file reads a text none of the categories as missing: the
    # missing value is fed as one
    from _column_frames import banded_frame

    from onnxgate.cli import main

    frame, _, model, rows = banded_frame()
    want = model.predict_proba(rows)
    assert not np.allclose(want[:40], model.predict_proba(frame)[:40])  # the missing category counts
    conv = og.convert(model, frame.head())
    assert og.validate(conv, reference=model, data=rows).passed
    model_file, data, out = tmp_path / "m.onnx", tmp_path / "rows.parquet", tmp_path / "scored.parquet"
    conv.save(model_file)
    rows.to_parquet(data)
    assert main(["score", str(model_file), "--data", str(data), "--out", str(out)]) == 0
    assert np.abs(np.stack(pd.read_parquet(out)["probabilities"]) - want).max() < 1e-5
    folder = og.package(conv, target="container", out=tmp_path / "p")
    module = load_score(folder, "missing_band")
    module.init()
    head = rows.head(3)
    request = {"data": [{**{c: float(head[c].iloc[i]) for c in frame.columns[:4]}, "band": None} for i in range(3)]}
    status, body = module.score(request)
    assert status == 200, body
    assert np.abs(np.asarray(body["probabilities"]) - want[:3]).max() < 1e-5


def test_a_null_integer_category_is_scored_as_lightgbm_scores_a_missing_one(tmp_path: Path) -> None:
    # validate and score fed a missing grade as the integer none of the categories, but the service refused the
    # JSON null ("expected int64 values"): the same row scored in one path and not in the other
    lightgbm = pytest.importorskip("lightgbm")
    pytest.importorskip("onnxmltools")
    from sklearn.datasets import load_wine

    X, y = load_wine(return_X_y=True, as_frame=True)
    frame = X[["alcohol", "hue"]].copy()
    grade = pd.Series(np.where(np.random.default_rng(0).random(len(y)) < 0.7, np.array([7.0, 14.0, 42.0])[y], 21.0))
    grade[::6] = np.nan
    frame["grade"] = grade.astype("category")
    model = lightgbm.LGBMClassifier(n_estimators=8, min_child_samples=3, min_data_per_group=2, cat_smooth=1,
                                    verbose=-1, n_jobs=1).fit(frame, y)
    conv = og.convert(model, frame.head(20))
    assert conv.signature.input("grade").missing is not None
    folder = og.package(conv, target="container", out=tmp_path / "p")
    module = load_score(folder, "missing_grade")
    module.init()
    rows = frame.iloc[[0, 6, 12]]  # rows 0, 6 and 12 have no grade
    request = {"data": [{"alcohol": float(r.alcohol), "hue": float(r.hue), "grade": None} for r in rows.itertuples()]}
    status, body = module.score(request)
    assert status == 200, body
    np.testing.assert_allclose(np.asarray(body["probabilities"]), model.predict_proba(rows), atol=1e-4)
    known = {"data": [{"alcohol": 13.0, "hue": 1.0, "grade": 14}]}
    status, body = module.score(known)
    assert status == 200, body
    one = pd.DataFrame({"alcohol": [13.0], "hue": [1.0],
                        "grade": pd.Categorical([14.0], frame["grade"].cat.categories)})
    np.testing.assert_allclose(np.asarray(body["probabilities"]), model.predict_proba(one), atol=1e-4)


def test_a_text_category_with_unseen_and_missing_values_is_served_and_logged_as_lightgbm_scores_it(
        tmp_path: Path) -> None:
    # LightGBM fitted on a pandas text category column, converted without a target: the container's /score (JSON
    # text and null) and the MLflow package (the DataFrame) answer LightGBM's probabilities on rows holding a
    # missing band and one it never saw (a regression guard: both did)
    lightgbm = pytest.importorskip("lightgbm")
    pytest.importorskip("onnxmltools")
    mlflow_pyfunc = pytest.importorskip("mlflow.pyfunc")
    from sklearn.datasets import load_wine

    X, y = load_wine(return_X_y=True, as_frame=True)
    frame = X[["alcohol", "hue"]].copy()
    bands = ["low", "mid", "high"]
    frame["band"] = pd.Categorical(pd.cut(X["flavanoids"], 3, labels=bands).astype(str), categories=bands)
    model = lightgbm.LGBMClassifier(n_estimators=8, min_child_samples=3, min_data_per_group=2, cat_smooth=1,
                                    verbose=-1, n_jobs=1).fit(frame, y)
    rows = frame.iloc[::15].copy()
    rows["band"] = rows["band"].cat.add_categories("none of them")
    rows.iloc[:3, 2] = np.nan
    rows.iloc[3:6, 2] = "none of them"
    want = model.predict_proba(rows)
    assert not np.allclose(want[:6], model.predict_proba(frame.iloc[::15])[:6])  # the two bands count
    conv = og.convert(model, frame)
    module = load_score(og.package(conv, target="container", out=tmp_path / "c"), "text_band")
    module.init()
    request = {"data": [{"alcohol": float(r.alcohol), "hue": float(r.hue), "band": None if pd.isna(r.band) else r.band}
                        for r in rows.itertuples()]}
    status, body = module.score(request)
    assert status == 200, body
    np.testing.assert_allclose(np.asarray(body["probabilities"]), want, atol=1e-5)
    logged = mlflow_pyfunc.load_model(str(og.package(conv, target="mlflow", out=tmp_path / "m"))).predict(rows)
    np.testing.assert_allclose(np.stack(logged["probabilities"]), want, atol=1e-5)
