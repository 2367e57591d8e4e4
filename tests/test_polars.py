"""A polars DataFrame (scikit-learn >= 1.4 fits and predicts on one, and ``set_output(transform="polars")`` makes
one) as the conversion sample, the validate data and the testing helpers' data: read as the pandas frame of the
same columns (Categorical and Enum as category), with polars' nulls of text as the None scikit-learn reads them as
(helper-149)."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import onnxruntime as ort
import polars as pl
import pytest
import xgboost
from sklearn.compose import ColumnTransformer
from sklearn.datasets import load_iris
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

import onnxgate as og
from onnxgate._data import as_feeds
from onnxgate.errors import InvalidDataError


def _with_nulls(values: list, every: int) -> list:
    return [None if i % every == 0 else v for i, v in enumerate(values)]


def _frame(n: int = 300) -> tuple[pl.DataFrame, np.ndarray]:
    rng = np.random.default_rng(0)
    frame = pl.DataFrame({
        "age": rng.normal(40, 10, n),
        "city": pl.Series(_with_nulls(rng.choice(["a", "b", "c"], n).tolist(), 17), dtype=pl.String),
        "shade": pl.Series(rng.choice(["x", "y", "z"], n).tolist(), dtype=pl.Categorical),
        "size": pl.Series(rng.choice(["s", "m"], n).tolist(), dtype=pl.Enum(["s", "m", "l"])),
        "visits": pl.Series(_with_nulls(rng.integers(0, 5, n).tolist(), 13), dtype=pl.Int64),
    })
    y = ((frame["age"].to_numpy() > 40) ^ (frame["shade"].cast(pl.String).to_numpy() == "y")).astype(int)
    return frame, y


def _onnx_outputs(conv: og.Conversion, data: pl.DataFrame) -> list[np.ndarray]:
    return ort.InferenceSession(conv.model.SerializeToString()).run(None, as_feeds(data, conv.signature))


def test_a_polars_fitted_pipeline_converts_from_its_polars_frame_and_scores_as_the_model_does() -> None:
    # Before: skl2onnx could not convert Pipeline: Unable to find column name 'age' among names ['input']
    # (the frame was read as one array).
    frame, y = _frame()
    pipe = make_pipeline(
        ColumnTransformer([("num", make_pipeline(SimpleImputer(), StandardScaler()), ["age", "visits"]),
                           ("cat", OneHotEncoder(handle_unknown="ignore", sparse_output=False),
                            ["city", "shade", "size"])]),
        LogisticRegression(max_iter=1000),
    ).set_output(transform="polars").fit(frame, y)

    conv = og.convert(pipe, frame)

    assert [s.name for s in conv.signature.inputs] == ["age", "city", "shade", "size", "visits"]
    assert og.convert(pipe, frame.to_pandas()).signature.inputs == conv.signature.inputs
    labels, probabilities = _onnx_outputs(conv, frame)
    # a null of text is the encoder's own None category, as the model reads the polars frame
    assert (labels == pipe.predict(frame)).all()
    np.testing.assert_allclose(probabilities, pipe.predict_proba(frame), atol=1e-9)
    assert og.validate(conv, data=frame, reference=pipe).passed
    og.testing.assert_parity(pipe, conv, frame)
    checks = og.testing.model_checks(conv, reference=pipe, data=frame)
    assert all(check(conv).passed for check in checks)


def test_a_polars_null_an_imputer_does_not_read_as_missing_is_refused_not_scored_as_nan() -> None:
    # SimpleImputer (missing_values=NaN) leaves polars' null (None to scikit-learn) as it is; read as pandas' NaN,
    # the reference imputed it and validate passed a file whose probabilities were 0.079 off the model's on the
    # polars frame (0.21 and 9 of 300 labels with three such columns).
    frame, y = _frame()
    pipe = make_pipeline(
        ColumnTransformer([("cat", make_pipeline(SimpleImputer(strategy="constant", fill_value="NA"),
                                                 OneHotEncoder(handle_unknown="ignore")), ["city"])]),
        LogisticRegression(),
    ).fit(frame.select("city"), y)
    conv = og.convert(pipe, frame.select("city").drop_nulls())

    with pytest.raises(InvalidDataError, match="column 'city' has 18 None value"):
        og.validate(conv, data=frame.select("city"), reference=pipe)


def test_a_polars_frame_in_another_column_order_is_refused_as_a_pandas_one_is() -> None:
    # Before: the frame was fed by position; an iris model converted from the reversed frame recorded no column
    # names, and validate and assert_parity on it passed while 98 of 150 labels differed from the model's.
    X, y = load_iris(return_X_y=True, as_frame=True)
    X.columns = ["a", "b", "c", "d"]
    model = LogisticRegression(max_iter=500).fit(X, y)
    reversed_frame = pl.from_pandas(X[["d", "c", "b", "a"]])

    with pytest.raises(InvalidDataError, match="the same columns in another order"):
        og.convert(model, reversed_frame)
    conv = og.convert(model, X.to_numpy())
    with pytest.raises(InvalidDataError, match="the same columns in another order"):
        og.validate(conv, data=reversed_frame, reference=model)
    with pytest.raises(InvalidDataError, match="the same columns in another order"):
        og.testing.assert_parity(model, conv, reversed_frame)
    # in training order, fed by name, without scikit-learn's "X does not have valid feature names" warning
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        assert og.validate(og.convert(model, pl.from_pandas(X)), reference=model).passed


def test_a_polars_lazyframe_is_refused_saying_to_collect_it() -> None:
    frame, _ = _frame()
    model = LogisticRegression().fit(frame.select("age").to_numpy(), np.arange(len(frame)) % 2)
    with pytest.raises(InvalidDataError, match=r"polars LazyFrame.*collect\(\)"):
        og.convert(model, frame.select("age").lazy())


def test_a_polars_category_column_with_nulls_feeds_xgboost_as_a_pandas_one() -> None:
    # Before: "expected a numeric sample, found dtype object" (the frame read as one object array).
    rng = np.random.default_rng(0)
    frame = pl.DataFrame({"a": rng.normal(size=400),
                          "g": pl.Series(_with_nulls(rng.choice(["u", "v", "w"], 400).tolist(), 11),
                                         dtype=pl.Categorical)})
    y = ((frame["a"].to_numpy() > 0) ^ (frame["g"].cast(pl.String).to_numpy() == "v")).astype(int)
    model = xgboost.XGBClassifier(n_estimators=10, enable_categorical=True, tree_method="hist").fit(frame, y)

    conv = og.convert(model, frame)

    labels, probabilities = _onnx_outputs(conv, frame)
    assert (labels == model.predict(frame)).all()
    np.testing.assert_allclose(probabilities, model.predict_proba(frame), atol=1e-5)
    assert og.validate(conv, data=frame, reference=model).passed


def _hidden_category_frame(n: int = 300) -> tuple[list, np.ndarray, np.ndarray]:
    """Text categories, every 7th hidden (None) though the label depends on it."""
    rng = np.random.default_rng(0)
    g = rng.choice(["u", "v", "w"], n).tolist()
    x = rng.normal(size=n)
    y = ((x > 0) ^ (np.array(g) == "v")).astype(int)
    return _with_nulls(g, 7), x, y


@pytest.mark.parametrize("dtype", [pl.Categorical, pl.Enum(["u", "v", "w"])])
def test_a_hist_gradient_boosting_reads_a_polars_category_null_as_its_own_category_as_the_model_does(dtype) -> None:
    # scikit-learn reads a polars Categorical null as None, which its encoder learns as a category of its own
    # (code 3), not missing. Before: the file read it as missing; 7 of 300 labels differed from the model's on
    # the polars frame and validate passed (helper-150).
    from sklearn.ensemble import HistGradientBoostingClassifier

    g, x, y = _hidden_category_frame()
    frame = pl.DataFrame({"x": x, "g": pl.Series(g, dtype=dtype)})
    model = HistGradientBoostingClassifier(max_iter=20, categorical_features="from_dtype").fit(frame, y)

    _answers_as_the_model(og.convert(model, frame), frame, model, atol=1e-6)


def test_a_hist_gradient_boosting_fitted_on_text_holding_none_scores_none_as_its_category() -> None:
    # The same with pandas: a text column holding None, named in categorical_features (helper-150).
    import pandas as pd
    from sklearn.ensemble import HistGradientBoostingClassifier

    g, x, y = _hidden_category_frame()
    frame = pd.DataFrame({"x": x, "g": pd.Series(g, dtype=object)})
    model = HistGradientBoostingClassifier(max_iter=20, categorical_features=["g"]).fit(frame, y)

    _answers_as_the_model(og.convert(model, frame), frame, model)


def test_a_one_hot_encoded_polars_category_column_with_nulls_is_fed_as_the_model_reads_it() -> None:
    # Before: refused, "column 'g' has 43 missing or non-text value(s)", where a String column with the same
    # nulls was fed (the encoder learnt None as a category; the polars null was fed as NaN) (helper-150).
    g, x, y = _hidden_category_frame()
    frame = pl.DataFrame({"x": x, "g": pl.Series(g, dtype=pl.Categorical)})
    pipe = make_pipeline(ColumnTransformer([("c", OneHotEncoder(handle_unknown="ignore"), ["g"])],
                                           remainder="passthrough"), LogisticRegression()).fit(frame, y)

    _answers_as_the_model(og.convert(pipe, frame), frame, pipe, atol=1e-9)


def _answers_as_the_model(conv: Any, frame: Any, model: Any, atol: float | None = None) -> None:
    """The file's labels on ``frame`` are the model's (its probabilities too, within ``atol`` when given), and
    validate passes."""
    labels, probabilities = _onnx_outputs(conv, frame)
    assert (labels == model.predict(frame)).all()
    if atol is not None:
        np.testing.assert_allclose(probabilities, model.predict_proba(frame), atol=atol)
    assert og.validate(conv, data=frame, reference=model).passed


def test_thousands_of_categorical_columns_with_nulls_are_fed_sharing_one_list_of_them() -> None:
    # the frame kept the list of its null-holding category columns in attrs, which pandas deep-copies into every
    # column read from it: feeding 2,000 such columns took 13 s (4 s where no input reads None), 1,000 took 3.6 s.
    # What made it quadratic is asserted below (the list shared, not copied), not the time: a test's outcome must not
    # depend on the machine's load (a run beside seven other jobs on 2 cores took 6.8 s with the fix in place)
    from onnxgate._data import POLARS_CATEGORY_NULLS, from_polars
    from onnxgate.signature import Signature, TensorSpec

    n = 2000
    frame = from_polars(pl.DataFrame({f"c{i}": pl.Series(["a", None, "b"], dtype=pl.Categorical) for i in range(n)}))
    sig = Signature(inputs=tuple(TensorSpec(f"c{i}", "string", ("N", 1), missing="", missing_only="none")
                                 for i in range(n)), outputs=())
    feeds = as_feeds(frame, sig)
    assert feeds[f"c{n - 1}"].ravel().tolist() == ["a", "", "b"]  # the null fed as the model's text for None
    assert len(frame.attrs[POLARS_CATEGORY_NULLS]) == n  # the frame given is left as it was
    import copy

    # and every column or frame pandas takes from it shares the names instead of copying them (convert's reads)
    assert copy.deepcopy(frame.attrs)[POLARS_CATEGORY_NULLS] is frame.attrs[POLARS_CATEGORY_NULLS]
    assert frame[f"c{n - 1}"].attrs[POLARS_CATEGORY_NULLS] is frame.attrs[POLARS_CATEGORY_NULLS]


@pytest.mark.parametrize("dtype", [pl.Categorical, pl.Enum(["u", "v", "w"])], ids=["categorical", "enum"])
@pytest.mark.parametrize("kind", ["onehot", "hist"])
def test_the_parquet_file_a_polars_model_was_fitted_on_validates_from_its_path(
        dtype: Any, kind: str, tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    # a model fitted on a polars frame read from Parquet learnt the Categorical column's null as None; that same
    # file given by path (the CLI, validate(data=path), score) was read by pandas, its nulls NaN, and refused:
    # "column 'g' has 43 missing or non-text value(s)". A Parquet null is fed as the model's missing category
    import joblib
    from sklearn.ensemble import HistGradientBoostingClassifier

    from onnxgate._data import load_data
    from onnxgate.cli import main

    monkeypatch.chdir(tmp_path)
    g, x, y = _hidden_category_frame()
    pl.DataFrame({"x": x, "g": pl.Series(g, dtype=dtype)}).write_parquet("rows.parquet")
    frame = pl.read_parquet("rows.parquet")
    model = (make_pipeline(ColumnTransformer([("c", OneHotEncoder(handle_unknown="ignore"), ["g"])],
                                             remainder="passthrough"), LogisticRegression())
             if kind == "onehot" else HistGradientBoostingClassifier(max_iter=20, categorical_features="from_dtype"))
    model.fit(frame, y)
    conv = og.convert(model, frame)
    labels, _ = _onnx_outputs(conv, load_data("rows.parquet"))
    assert (labels == model.predict(frame)).all()  # 43 rows hold the null
    assert og.validate(conv, data="rows.parquet", reference=model).passed
    joblib.dump(model, "model.pkl")
    assert main(["convert", "model.pkl", "--trust-pickle", "--sample", "rows.parquet", "-o", "model.onnx"]) == 0
    assert main(["validate", "model.onnx", "--trust-pickle", "--reference", "model.pkl", "--data", "rows.parquet"]) == 0
    assert main(["score", "model.onnx", "--data", "rows.parquet", "--out", "scored.parquet"]) == 0
    assert pl.read_parquet("scored.parquet")["label"].to_list() == model.predict(frame).tolist()
    # read by pandas, the nulls are NaN, an unknown category to the model: refused, saying so
    import pandas as pd

    with pytest.raises(InvalidDataError, match="NaN is an unknown category"):
        as_feeds(pd.read_parquet("rows.parquet"), conv.signature)
