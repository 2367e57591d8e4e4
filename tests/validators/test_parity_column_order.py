"""A frame holding the columns a model was fitted on, in another order, for a model converted from an array
sample (one ``[N,k]`` input fed by position): validate and package passed it, the ONNX model and the native
reference both given the shuffled array (helper-138)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import onnxgate as og
from onnxgate.cli import main
from onnxgate.errors import InvalidDataError


@pytest.fixture(scope="module")
def iris() -> dict[str, Any]:
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    X, y = load_iris(return_X_y=True, as_frame=True)
    model = LogisticRegression(max_iter=500).fit(X, y)
    conv = og.convert(model, X.to_numpy()[:5])  # an array sample: one [N,4] input
    return {"model": model, "X": X, "conv": conv}


def test_reordered_columns_are_refused_not_passed(iris: dict[str, Any]) -> None:
    X, model, conv = iris["X"], iris["model"], iris["conv"]
    shuffled = X[list(X.columns)[::-1]]
    # what the deployed model would answer for these rows, fed by position, is not the model's answer
    assert (model.predict(shuffled.to_numpy()) != model.predict(X)).sum() == 98
    with pytest.raises(InvalidDataError, match="same columns in another order"):
        og.validate(conv, reference=model, data=shuffled)
    assert og.validate(conv, reference=model, data=X).passed  # in training order: as before


def test_package_refuses_reordered_csv(iris: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    import skops.io as sio

    monkeypatch.chdir(tmp_path)
    X = iris["X"]
    sio.dump(iris["model"], "model.skops")
    Path("model.onnx").write_bytes(iris["conv"].model.SerializeToString())
    X[list(X.columns)[::-1]].to_csv("rows.csv", index=False)
    code = main(["package", "model.onnx", "-t", "container", "--reference", "model.skops", "--data", "rows.csv",
                 "-o", "pkg"])
    assert code == 2
    assert "same columns in another order" in capsys.readouterr().err
    assert not Path("pkg").exists() or not any(Path("pkg").iterdir())


def test_convert_warns_that_an_array_sample_of_a_frame_fitted_model_feeds_by_position(iris: dict[str, Any]) -> None:
    # validate refuses reordered columns, but a service, MLflow or score given them later cannot tell: convert
    # said nothing of the file taking the named columns by position (an MLflow DataFrame in reversed order
    # answered 0.99999 off; helper-138)
    X, model = iris["X"], iris["model"]
    assert any("fitted on named columns ('sepal length (cm)'" in w and "by position" in w
               for w in iris["conv"].warnings), iris["conv"].warnings
    assert not any("by position" in w for w in og.convert(model, X.head()).warnings)  # one input per column
    plain = type(model)(max_iter=500).fit(X.to_numpy(), iris["model"].predict(X))
    assert not any("by position" in w for w in og.convert(plain, X.to_numpy()[:5]).warnings)  # no names


def test_the_file_records_the_fitted_names_and_score_refuses_them_reordered(
        iris: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    # 'onnxgate score' on a Parquet file holding the fitted columns reversed wrote 98 of 150 wrong labels with
    # exit 0: nothing in the file named the columns its one input takes by position (helper-142)

    monkeypatch.chdir(tmp_path)
    X, model, conv = iris["X"], iris["model"], iris["conv"]
    spec = conv.signature.inputs[0]
    assert spec.fitted_columns == tuple(X.columns)
    assert (_scored_refusing_reversed(conv, X, capsys) == model.predict(X)).all()
    from onnxgate._data import as_feeds

    with pytest.raises(InvalidDataError, match="same columns in another order"):
        as_feeds(X[list(X.columns)[::-1]], conv.signature)
    # a frame of other names (or of as many unnamed columns) still feeds by position, as before
    renamed = X.set_axis([f"f{i}" for i in range(4)], axis=1)
    assert as_feeds(renamed, conv.signature)[spec.name].shape == (150, 4)


def _boosted(kind: str, X: Any, y: Any) -> Any:
    if kind.startswith("xgboost"):
        import xgboost

        if kind == "xgboost-booster":
            params = {"objective": "multi:softprob", "num_class": 3, "max_depth": 3, "nthread": 1}
            return xgboost.train(params, xgboost.DMatrix(X, y), 20)
        return xgboost.XGBClassifier(n_estimators=20, max_depth=3, n_jobs=1).fit(X, y)
    if kind.startswith("lightgbm"):
        import lightgbm

        if kind == "lightgbm-booster":
            params = {"objective": "multiclass", "num_class": 3, "verbose": -1, "num_threads": 1}
            return lightgbm.train(params, lightgbm.Dataset(X, y), 20)
        return lightgbm.LGBMClassifier(n_estimators=20, verbose=-1, n_jobs=1).fit(X, y)
    import catboost

    return catboost.CatBoostClassifier(iterations=20, verbose=0, thread_count=1).fit(X, y)


@pytest.mark.parametrize("kind", ["xgboost", "xgboost-booster", "lightgbm", "lightgbm-booster", "catboost"])
def test_a_boosted_model_records_its_fitted_names_and_score_refuses_them_reordered(
        kind: str, iris: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    # an XGBoost, LightGBM or CatBoost model fitted on the iris frame and converted from an array sample: the
    # file named no columns, and 'onnxgate score' on a Parquet file holding them reversed wrote 119 (XGBoost),
    # 124 (LightGBM) and 101 (CatBoost) of 150 wrong labels with exit 0 (helper-146)

    monkeypatch.chdir(tmp_path)
    X = iris["X"]
    y = iris["model"].predict(X)
    model = _boosted(kind, X, y)
    conv = og.convert(model, X.to_numpy()[:5])
    fitted = conv.signature.inputs[0].fitted_columns
    # LightGBM keeps 'sepal length (cm)' as 'sepal_length_(cm)': its file records the names it keeps
    assert fitted is not None and [c.replace("_", " ") for c in fitted] == [c.replace("_", " ") for c in X.columns]
    assert any("fitted on named columns" in w and "by position" in w for w in conv.warnings)
    assert (_scored_refusing_reversed(conv, X, capsys) == y).mean() > 0.9


def test_an_sql_adaptation_names_its_table_columns_after_the_recorded_fitted_ones(iris: dict[str, Any]) -> None:
    # adapted without columns=, the table's columns were f0..f3: a table holding the user's own columns could
    # not feed them, and the recorded names went unused (helper-146's leftover)
    X, model = iris["X"], iris["model"]
    adapted = og.adapt(iris["conv"], "sql-edge-2.0")
    assert [i.name for i in adapted.signature.inputs] == ["sepal_length__cm_", "sepal_width__cm_",
                                                          "petal_length__cm_", "petal_width__cm_"]
    assert og.validate(adapted, data=X, reference=model, target="sql-edge-2.0").passed  # fed by the user's names


def test_fitted_columns_moved_beside_a_renamed_one_are_refused_not_fed_by_position(
        iris: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    # Only a whole permutation of the fitted names was refused: the reversed columns with one renamed fed the file
    # by position, 98 of 150 labels unlike the model's, and validate and score passed (helper-150).
    from onnxgate._data import as_feeds

    monkeypatch.chdir(tmp_path)
    X, model, conv = iris["X"], iris["model"], iris["conv"]
    names = list(X.columns)
    moved = X[names[::-1]].rename(columns={names[0]: "petal area"})
    assert (model.predict(moved.to_numpy()) != model.predict(X)).sum() == 98
    with pytest.raises(InvalidDataError, match=r"column 'petal width \(cm\)' at position 0"):
        og.validate(conv, reference=model, data=moved)
    with pytest.raises(InvalidDataError, match=r"column 'petal width \(cm\)' at position 0, where the model reads"):
        as_feeds(moved, conv.signature)
    moved.to_parquet("moved.parquet")
    Path("model.onnx").write_bytes(conv.model.SerializeToString())
    assert main(["score", "model.onnx", "--data", "moved.parquet", "--out", "wrong.parquet"]) == 2
    assert "at position 0" in capsys.readouterr().err
    # a fitted name in its own position beside other names still feeds by position
    kept = X.set_axis([names[0], "x1", "x2", names[3]], axis=1)
    assert as_feeds(kept, conv.signature)[conv.signature.inputs[0].name].shape == (150, 4)
    assert og.validate(conv, reference=conv.model, data=kept).passed


def test_the_reference_of_an_array_converted_frame_model_is_fed_its_column_names(
        iris: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # the file takes the fitted columns by position, checked before any feed, but the reference was given a bare
    # array: scikit-learn warned "X does not have valid feature names" once per batch, 10 times in one
    # 'onnxgate package --adapt' and twice in its dry run (helper-157)
    import warnings

    from onnxgate.deploy.duckdb_dryrun import dry_run

    monkeypatch.chdir(tmp_path)
    X, model = iris["X"], iris["model"]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert og.validate(iris["conv"], reference=model, data=X).passed
        out = og.package(iris["conv"], target="sql-edge-2.0", out="sql", reference=model, data=X, adapt=True)
        assert dry_run(out, X[list(X.columns)[::-1]], reference=model).passed
    assert not [str(w.message) for w in caught if "feature names" in str(w.message)]


def test_the_service_tells_records_keyed_by_the_fitted_columns_how_to_send_them(
        iris: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # df.to_dict("records") for a model converted from an array got "unknown input name(s) ['sepal length (cm)',
    # ...]; the model's inputs are ['input']", nothing of the columns being the input's, by position (helper-157)
    import importlib.util
    import json

    monkeypatch.chdir(tmp_path)
    X = iris["X"].head(3)
    out = og.package(iris["conv"], target="container", out="pkg", reference=iris["model"], data=iris["X"])
    spec = importlib.util.spec_from_file_location("score_fitted_columns_157", out / "score.py")
    assert spec is not None and spec.loader is not None
    score = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(score)
    score.init()
    status, body = score.score(json.dumps({"data": X[list(X.columns)[::-1]].to_dict(orient="records")}))
    assert (status, body["error"]) == (400, "unknown_input")
    assert f"the columns it was fitted on, {list(X.columns)}" in body["message"]
    assert "by position in that order" in body["message"] and '{"data": [[...], ...]}' in body["message"]
    status, body = score.score(json.dumps({"data": X.to_numpy().tolist()}))  # as the message says: answered
    assert status == 200 and body["label"] == iris["model"].predict(X).tolist()


def test_a_lightgbm_table_named_after_its_underscored_names_says_how_the_users_columns_differ() -> None:
    # LightGBM writes 'mean radius' as 'mean_radius': converted from an array, the SQL table's columns are those,
    # and the user's frame was refused listing 30 names beside 30 others, nothing said of how they differ
    # (helper-157)
    lgb = pytest.importorskip("lightgbm")
    from sklearn.datasets import load_breast_cancer

    X, y = load_breast_cancer(return_X_y=True, as_frame=True)
    booster = lgb.train({"objective": "binary", "num_leaves": 4, "verbose": -1}, lgb.Dataset(X, y),
                        num_boost_round=5)
    assert booster.feature_name()[0] == "mean_radius"
    adapted = og.adapt(og.convert(booster, X.to_numpy()[:5]), "sql-edge-2.0")
    with pytest.raises(InvalidDataError, match=r"30 of the data's columns are the model's names with '_' for a "
                                               r"space or sign \('mean radius' -> 'mean_radius'"):
        og.validate(adapted, reference=booster, data=X)
    renamed = X.set_axis([c.replace(" ", "_") for c in X.columns], axis=1)
    assert og.validate(adapted, reference=booster, data=renamed, target="sql-edge-2.0").passed  # as it says


def _scored_refusing_reversed(conv: Any, X: Any, capsys: pytest.CaptureFixture[str]) -> Any:
    """The labels ``onnxgate score`` writes for ``X`` from a Parquet file, after checking that the same file with
    the columns reversed is refused (exit 2, nothing written), by score and by validate against the file itself
    (the ONNX model as the reference has no fitted names of its own: the file's refuse the frame)."""
    import pandas as pd

    Path("model.onnx").write_bytes(conv.model.SerializeToString())
    X.to_parquet("rows.parquet")
    X[list(X.columns)[::-1]].to_parquet("reversed.parquet")
    assert main(["score", "model.onnx", "--data", "rows.parquet", "--out", "scored.parquet"]) == 0
    capsys.readouterr()
    assert main(["score", "model.onnx", "--data", "reversed.parquet", "--out", "wrong.parquet"]) == 2
    err = capsys.readouterr().err
    assert "same columns in another order" in err and "Traceback" not in err
    assert not Path("wrong.parquet").exists()
    with pytest.raises(InvalidDataError, match="same columns in another order"):
        og.validate(conv, reference=conv.model, data=X[list(X.columns)[::-1]])
    return pd.read_parquet("scored.parquet")["label"].to_numpy()


def test_a_conversion_with_one_input_per_fitted_column_does_not_warn_of_position(iris: dict[str, Any]) -> None:
    # for SQL the array sample's one input becomes a column input per fitted name, fed by name: the warning that
    # the file takes them by position (and that onnxgate refuses them reordered) was said all the same
    X, model = iris["X"], iris["model"]
    conv = og.convert(model, X.to_numpy()[:5], target="sql-edge-2.0")
    assert len(conv.signature.inputs) == 4
    assert not any("by position" in w for w in conv.warnings), conv.warnings
    assert any("by position" in w for w in iris["conv"].warnings)  # one [N,4] input: said
