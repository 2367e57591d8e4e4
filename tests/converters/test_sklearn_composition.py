"""scikit-learn's composition and model-selection objects as users hand them over: a classifier with its own
decision threshold, feature selectors, pipelines ending in ``"passthrough"``. Each file is run by onnxruntime
and compared with the estimator's own answers, besides og.validate."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import onnxgate as og


def _answers(conv: og.Conversion, X: Any) -> list[Any]:
    import onnxruntime as ort

    session = ort.InferenceSession(conv.to_bytes(), providers=["CPUExecutionProvider"])
    fed = session.get_inputs()[0]
    return session.run(None, {fed.name: np.asarray(X, np.float32 if fed.type == "tensor(float)" else np.float64)})


def _cancer() -> tuple[Any, Any]:
    from sklearn.datasets import load_breast_cancer

    return load_breast_cancer(return_X_y=True)


def _scaled_logistic() -> Any:
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return make_pipeline(StandardScaler(), LogisticRegression(max_iter=500))


def _fixed_text_labels(X: Any, y: Any) -> tuple[Any, Any]:
    from sklearn.model_selection import FixedThresholdClassifier

    labels = np.where(y == 1, "benign", "malignant")
    return FixedThresholdClassifier(_scaled_logistic(), threshold=0.9, pos_label="malignant").fit(X, labels), labels


def _tuned_for_class_0(X: Any, y: Any) -> tuple[Any, Any]:
    from sklearn.metrics import f1_score, make_scorer
    from sklearn.model_selection import TunedThresholdClassifierCV

    model = TunedThresholdClassifierCV(_scaled_logistic(), scoring=make_scorer(f1_score, pos_label=0), cv=3)
    return model.fit(X, y), y


def _fixed_frozen(X: Any, y: Any) -> tuple[Any, Any]:
    from sklearn.frozen import FrozenEstimator
    from sklearn.model_selection import FixedThresholdClassifier

    return FixedThresholdClassifier(FrozenEstimator(_scaled_logistic().fit(X, y)), threshold=0.1).fit(X, y), y


@pytest.mark.parametrize("build", [_fixed_text_labels, _tuned_for_class_0, _fixed_frozen])
def test_a_threshold_classifier_answers_its_labels_at_its_own_threshold(build: Any) -> None:
    # skl2onnx had no converter for FixedThresholdClassifier, and wrote TunedThresholdClassifierCV's labels at
    # 0.5 (onnxgate refused it): both now convert, their labels the estimator's probability against the threshold
    X, y = _cancer()
    model, labels = build(X, y)
    at_half = model.estimator_.predict(X)
    assert (model.predict(X) != at_half).any()  # the threshold moves labels, else this proves nothing
    for dtype in (np.float64, np.float32):
        conv = og.convert(model, X.astype(dtype))
        label, probabilities = _answers(conv, X)
        assert (np.asarray(label) == model.predict(X)).all()
        np.testing.assert_allclose(probabilities, model.predict_proba(X), atol=1e-5)
        assert og.validate(conv).passed
    if labels.dtype.kind != "U":  # a SQL target returns numbers only
        import pandas as pd

        frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(X.shape[1])])
        assert og.validate(og.convert(model, frame, target="sql-edge-2.0"), "sql-edge-2.0").passed


def test_a_threshold_classifier_on_a_decision_function_is_refused_saying_what_converts() -> None:
    from sklearn.model_selection import FixedThresholdClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import LinearSVC

    X, y = _cancer()
    model = FixedThresholdClassifier(make_pipeline(StandardScaler(), LinearSVC()), threshold=0.2).fit(X, y)
    with pytest.raises(og.UnsupportedModelError, match=r"decision_function.*response_method='predict_proba'"):
        og.convert(model, X[:5])


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_a_selector_keeping_column_0_alone_converts(dtype: Any) -> None:
    # skl2onnx tested index.any(): SelectKBest(k=1) on column 0 became ConstantOfShape(X), a file convert
    # wrote silently and onnxruntime could not load (validate: model_wellformed failed)
    from sklearn.datasets import load_wine
    from sklearn.feature_selection import SelectKBest, f_classif
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    X, y = load_wine(return_X_y=True)
    X[:, 0] = y * 3.0
    selector = SelectKBest(f_classif, k=1).fit(X, y)
    assert selector.get_support(indices=True).tolist() == [0]
    conv = og.convert(selector, X.astype(dtype))
    np.testing.assert_array_equal(_answers(conv, X)[0], selector.transform(X.astype(dtype)))
    model = make_pipeline(SelectKBest(f_classif, k=1), LogisticRegression(max_iter=500)).fit(X, y)
    assert og.validate(og.convert(model, X.astype(dtype))).passed


def test_a_sequential_feature_selector_converts_inside_a_pipeline() -> None:
    # skl2onnx has no converter for it ("skl2onnx has no converter for SequentialFeatureSelector")
    from sklearn.datasets import load_iris
    from sklearn.feature_selection import SequentialFeatureSelector
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X, y = load_iris(return_X_y=True)
    selector = SequentialFeatureSelector(LogisticRegression(max_iter=200), n_features_to_select=2, cv=2)
    model = make_pipeline(StandardScaler(), selector, LogisticRegression(max_iter=500)).fit(X, y)
    conv = og.convert(model, X)
    label, probabilities = _answers(conv, X)
    assert (label == model.predict(X)).all()
    np.testing.assert_allclose(probabilities, model.predict_proba(X), atol=1e-9)
    assert og.validate(conv).passed


@pytest.mark.parametrize("last", ["passthrough", None])
def test_a_pipeline_ending_in_passthrough_transforms_as_its_steps_before(last: Any) -> None:
    # skl2onnx failed: "'str' object has no attribute '__sklearn_tags__'" (refused with that message)
    import pandas as pd
    from sklearn.compose import ColumnTransformer
    from sklearn.decomposition import PCA
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import MinMaxScaler, StandardScaler

    X, _ = _cancer()
    model = Pipeline([("scale", StandardScaler()), ("pca", PCA(3)), ("end", last)]).fit(X)
    conv = og.convert(model, X)
    np.testing.assert_allclose(_answers(conv, X)[0], model.transform(X), atol=1e-9)
    assert og.validate(conv).passed
    frame = pd.DataFrame(X[:, :3], columns=["a", "b", "c"])
    columns = ColumnTransformer([("ab", Pipeline([("scale", StandardScaler()), ("end", last)]), ["a", "b"]),
                                 ("c", MinMaxScaler(), ["c"])]).fit(frame)
    assert og.validate(og.convert(columns, frame, target="sql-edge-2.0"), "sql-edge-2.0").passed


def test_the_estimators_nested_in_a_forest_and_a_bagging_are_all_walked() -> None:
    # scikit-learn's trees are walked without get_params (60 ms for a 500-tree forest in each validate): they are
    # still listed, and an estimator nested in a bagging's fitted estimators still is
    from sklearn.datasets import load_iris
    from sklearn.ensemble import BaggingClassifier, RandomForestClassifier
    from sklearn.neighbors import KNeighborsClassifier

    from onnxgate.converters._sklearn_models import sub_estimators

    X, y = load_iris(return_X_y=True)
    forest = RandomForestClassifier(7, random_state=0).fit(X, y)
    assert {id(e) for e in sub_estimators(forest)} == {id(forest), *(id(t) for t in forest.estimators_)}
    bagging = BaggingClassifier(KNeighborsClassifier(3), n_estimators=3, random_state=0).fit(X, y)
    assert sum(isinstance(e, KNeighborsClassifier) for e in sub_estimators(bagging)) == 4  # the template and 3 fits
