"""QuantileTransformer written by onnxgate (``_sklearn_quantiles``): ``output_distribution="normal"``, which
skl2onnx refused, answers as scikit-learn's ``transform`` (ties, values outside the fitted range or within
1e-7 of its ends, NaN), alone, in a pipeline, in a ColumnTransformer and as a TransformedTargetRegressor's
target transform; the uniform output too, constant columns included; a file with a wrong constant fails
validate. Each answer is checked in onnxruntime directly, not only through validate."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

import onnxgate as og
from onnxgate._data import as_feeds

LOADERS = ("wine", "diabetes", "digits")

#: n_quantiles=1000 (the default) on a few hundred rows: scikit-learn warns it uses one per row
pytestmark = pytest.mark.filterwarnings("ignore:n_quantiles .* is greater than the total number of samples")


def _rows(name: str) -> tuple[Any, Any]:
    from sklearn import datasets

    X, y = getattr(datasets, f"load_{name}")(return_X_y=True)
    return X.astype(np.float64), y


def _probe(X: Any) -> Any:
    """The rows, jittered ones, rows outside the fitted range, rows within 1e-7 of its ends, rows with NaN."""
    rng = np.random.default_rng(0)
    holes = X.copy()
    holes[rng.random(X.shape) < 0.1] = np.nan
    low, high = X.min(axis=0), X.max(axis=0)
    return np.vstack([X, X + rng.normal(size=X.shape) * X.std(axis=0) / 3, [low - 1], [high + 1], [low - 5e-8],
                      [low + 5e-8], [high - 5e-8], [high + 5e-8], holes])


def _run(conv: Any, rows: Any) -> list[Any]:
    import onnxruntime as ort

    session = ort.InferenceSession(conv.model.SerializeToString(), providers=["CPUExecutionProvider"])
    return session.run(None, as_feeds(rows, conv.signature))  # type: ignore[no-any-return]


@pytest.mark.parametrize("opset", [13, 17])
@pytest.mark.parametrize("n_quantiles", [1000, 10])
@pytest.mark.parametrize("name", LOADERS)
def test_a_normal_quantile_transformer_answers_as_scikit_learn(name: str, n_quantiles: int, opset: int) -> None:
    # skl2onnx refused it: "Conversion of QuantileTransformer with output_distribution='normal' is not supported"
    from sklearn.preprocessing import QuantileTransformer

    X, _ = _rows(name)
    model = QuantileTransformer(n_quantiles=n_quantiles, output_distribution="normal").fit(X)
    conv = og.convert(model, X[:5], opset=opset)
    rows = _probe(X)
    (answer,) = _run(conv, rows)
    expected = model.transform(rows)
    assert answer.dtype == np.float64
    np.testing.assert_array_equal(np.isnan(answer), np.isnan(expected))
    np.testing.assert_allclose(answer, expected, rtol=0, atol=1e-9)  # measured 2.7e-15
    assert np.nanmax(np.abs(expected)) > 5.19  # the clipped ends were reached
    assert og.validate(conv, data=X, reference=model).passed


@pytest.mark.parametrize("name", ["wine", "diabetes"])
@pytest.mark.parametrize("distribution", ["normal", "uniform"])
def test_float32_rows_answer_as_scikit_learn_computes_them(distribution: str, name: str) -> None:
    # scikit-learn interpolates float32 rows in float64, writes the result into the float32 column, then ppf.
    # diabetes: numpy's percentile puts a quantile 1e-14 above a float32 training value; placed at that value,
    # rows equal to it took the middle of the two references (0.0102 off, helper-256's first try)
    from sklearn.preprocessing import QuantileTransformer

    X, _ = _rows(name)
    X = X.astype(np.float32)
    model = QuantileTransformer(n_quantiles=50, output_distribution=distribution).fit(X)
    conv = og.convert(model, X[:5])
    rows = _probe(X).astype(np.float32)
    (answer,) = _run(conv, rows)
    assert answer.dtype == np.float32
    np.testing.assert_allclose(answer, model.transform(rows), rtol=0, atol=1e-6)  # measured 0
    assert og.validate(conv, data=X, reference=model).passed


@pytest.mark.parametrize("distribution", ["normal", "uniform"])
def test_a_float32_file_answers_the_users_float64_rows(distribution: str) -> None:
    # converted from a float32 sample, or for a SQL target (float32 graphs): each float64 row equal to one of
    # diabetes' repeated quantiles (its sex column holds two values) landed beside them once rounded to float32,
    # and the file answered an end where scikit-learn answers their middle: 0.51 off on 111 of 111 held-out rows,
    # and validate failed on the user's own rows (helper-256)
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import QuantileTransformer

    X, _ = _rows("diabetes")
    train, test = train_test_split(X, random_state=0)
    model = QuantileTransformer(n_quantiles=100, output_distribution=distribution).fit(train)
    conv = og.convert(model, train.astype(np.float32))
    (answer,) = _run(conv, test.astype(np.float32))
    expected = model.transform(test)
    assert answer.dtype == np.float32
    np.testing.assert_allclose(answer[:, 1], expected[:, 1], rtol=0, atol=1e-6)  # sex; measured 0, was 0.51
    if distribution == "uniform":
        # left: two quantiles 1e-14 apart, one a training value, which float32 cannot tell apart: their middle,
        # half a reference step (measured 0.00505 on 52 rows, as skl2onnx's float32 file)
        assert np.abs(answer - expected).max() <= 0.5 / 99 + 1e-6

    frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(X.shape[1])])
    model = QuantileTransformer(n_quantiles=50, output_distribution=distribution).fit(frame[:300])
    for target in (None, "sql-edge-2.0"):
        conv = og.convert(model, frame[:5] if target else frame[:5].astype(np.float32), target=target)
        result = og.validate(conv, data=frame[300:], reference=model, target=target)
        assert result.passed, result.check("prediction_parity").message  # was up to 0.53 off on 140 of 142 rows


def test_a_uniform_quantile_transformer_keeps_a_constant_column_at_0() -> None:
    # digits' blank pixel columns: skl2onnx answered 1 where scikit-learn answers 0 (5,391 values off by 1.0)
    from sklearn.preprocessing import QuantileTransformer

    X, _ = _rows("digits")
    model = QuantileTransformer().fit(X)
    conv = og.convert(model, X[:5])
    rows = _probe(X)
    (answer,) = _run(conv, rows)
    np.testing.assert_allclose(answer, model.transform(rows), rtol=0, atol=1e-12)
    assert og.validate(conv, data=X, reference=model).passed


@pytest.mark.parametrize("opset", [13, 17])
@pytest.mark.parametrize("name", ["wine", "digits"])
def test_a_pipeline_after_a_normal_quantile_transformer_answers_as_scikit_learn(name: str, opset: int) -> None:
    from sklearn.linear_model import LogisticRegression, Ridge
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import QuantileTransformer

    X, y = _rows(name)
    for last in (LogisticRegression(max_iter=5000), Ridge()):
        model = make_pipeline(QuantileTransformer(n_quantiles=10, output_distribution="normal"), last).fit(X, y)
        conv = og.convert(model, X[:5], opset=opset)
        rows = _probe(X)[: len(X) + 6]  # no NaN: the model after it refuses them
        answers = _run(conv, rows)
        if isinstance(last, Ridge):
            np.testing.assert_allclose(answers[0].ravel(), model.predict(rows), rtol=0, atol=1e-9)
        else:
            assert (answers[0] == model.predict(rows)).all()
            np.testing.assert_allclose(answers[1], model.predict_proba(rows), rtol=0, atol=1e-9)
        assert og.validate(conv, data=X, reference=model).passed


def test_a_normal_quantile_transformer_in_a_column_transformer_converts() -> None:
    from sklearn.compose import make_column_transformer
    from sklearn.datasets import load_wine
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import QuantileTransformer, StandardScaler

    X, y = load_wine(return_X_y=True, as_frame=True)
    columns = make_column_transformer(
        (QuantileTransformer(n_quantiles=10, output_distribution="normal"), ["alcohol", "magnesium", "proline"]),
        (StandardScaler(), ["ash", "hue"]))
    model = make_pipeline(columns, LogisticRegression(max_iter=5000)).fit(X, y)
    conv = og.convert(model, X.head(), opset=17)
    labels, probabilities = _run(conv, X)
    assert (labels == model.predict(X)).all()
    np.testing.assert_allclose(probabilities, model.predict_proba(X), rtol=0, atol=1e-9)
    assert og.validate(conv, data=X, reference=model).passed


@pytest.mark.parametrize("distribution", ["normal", "uniform"])
def test_a_quantile_transformed_target_is_inverted_in_the_graph(distribution: str) -> None:
    # refused before: "TransformedTargetRegressor's transformer QuantileTransformer is not one onnxgate writes"
    from sklearn.compose import TransformedTargetRegressor
    from sklearn.linear_model import Ridge
    from sklearn.preprocessing import QuantileTransformer

    X, y = _rows("diabetes")
    for n_quantiles in (1000, 10):
        transformer = QuantileTransformer(n_quantiles=n_quantiles, output_distribution=distribution)
        model = TransformedTargetRegressor(Ridge(), transformer=transformer).fit(X, y)
        conv = og.convert(model, X[:5])
        rows = np.vstack([X, 8 * X, -8 * X])  # predictions beyond both ends of the fitted target
        (answer,) = _run(conv, rows)
        np.testing.assert_allclose(answer.ravel(), model.predict(rows), rtol=0, atol=1e-8)  # measured 1.1e-12
        assert og.validate(conv, data=X, reference=model).passed


def test_a_file_with_a_wrong_constant_fails_validate() -> None:
    from onnx import numpy_helper
    from sklearn.preprocessing import QuantileTransformer

    X, _ = _rows("wine")
    model = QuantileTransformer(n_quantiles=10, output_distribution="normal").fit(X)
    conv = og.convert(model, X[:5])
    assert og.validate(conv, data=X, reference=model).passed
    (center,) = [t for t in conv.model.graph.initializer if numpy_helper.to_array(t).tolist() == 0.180625]
    center.CopyFrom(numpy_helper.from_array(np.array(0.18), center.name))  # AS241's 0.180625, a little off
    assert not og.validate(conv, data=X, reference=model).passed
