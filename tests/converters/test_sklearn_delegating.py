"""Wrappers that answer as the fitted estimator they hold (scikit-learn's FrozenEstimator, the way to
calibrate or stack a fitted model since ``cv="prefit"`` was removed, and SelfTrainingClassifier): skl2onnx
has no converter for them, so onnxgate converts the estimator inside, wherever the wrapper sits."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pytest

import onnxgate as og


def _cancer(frame: bool = False) -> tuple[Any, Any]:
    from sklearn.datasets import load_breast_cancer

    X, y = load_breast_cancer(return_X_y=True, as_frame=frame)
    return X, y


def _forest(X: Any, y: Any, seed: int = 0) -> Any:
    from sklearn.ensemble import RandomForestClassifier

    return RandomForestClassifier(20, max_depth=4, random_state=seed).fit(X, y)


@pytest.mark.parametrize("method", ["sigmoid", "isotonic"])
def test_a_fitted_model_calibrated_through_a_frozen_estimator_converts_and_matches(method: str) -> None:
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.frozen import FrozenEstimator

    X, y = _cancer()
    forest = _forest(X, y)
    model = CalibratedClassifierCV(FrozenEstimator(forest), method=method).fit(X, y)
    for target in (None, "sql-edge-2.0"):
        conv = og.convert(model, X[:5], target=target)
        report = og.validate(conv, data=X, reference=model, target=target)
        assert report.passed, report.summary()
    # the calibrated probabilities are compared, not the forest's: the forest alone fails
    assert not og.validate(og.convert(forest, X[:5]), data=X, reference=model).passed
    # the user's model still holds its FrozenEstimator
    assert type(model.calibrated_classifiers_[0].estimator).__name__ == "FrozenEstimator"


def test_frozen_estimators_in_a_stack_a_vote_and_a_pipeline_on_a_dataframe_convert() -> None:
    from sklearn.ensemble import HistGradientBoostingClassifier, StackingClassifier, VotingClassifier
    from sklearn.frozen import FrozenEstimator
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    frame, y = _cancer(frame=True)
    X = frame.to_numpy()
    linear = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)).fit(X, y)
    forest = _forest(X, y)
    stack = StackingClassifier([("lr", FrozenEstimator(linear)), ("rf", FrozenEstimator(forest))]).fit(X, y)
    vote = VotingClassifier([("lr", FrozenEstimator(linear)), ("rf", FrozenEstimator(forest))],
                            voting="soft").fit(X, y)
    for model in (stack, vote):
        assert og.validate(og.convert(model, X[:5]), data=X, reference=model).passed
    boosted = HistGradientBoostingClassifier(max_iter=15, random_state=0).fit(frame, y)
    frozen = FrozenEstimator(FrozenEstimator(boosted))
    conv = og.convert(frozen, frame.head())
    assert [i.name for i in conv.signature.inputs][:2] == ["mean_radius", "mean_texture"]  # one input per column
    assert og.validate(conv, data=frame, reference=frozen).passed
    other = HistGradientBoostingClassifier(max_iter=3, random_state=0).fit(frame, y)
    assert not og.validate(conv, data=frame, reference=other).passed


def test_a_self_training_classifier_converts_as_its_fitted_estimator() -> None:
    from sklearn.linear_model import LogisticRegression
    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.semi_supervised import SelfTrainingClassifier

    X, y = _cancer()
    partly = np.where(np.arange(len(y)) % 3 == 0, -1, y)  # a third unlabelled
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # LogisticRegression's convergence
        for inner in (LogisticRegression(max_iter=200), KNeighborsClassifier()):
            model = SelfTrainingClassifier(inner).fit(X, partly)
            for target in (None, "container"):
                conv = og.convert(model, X[:5], target=target)
                assert og.validate(conv, data=X, reference=model, target=target).passed
    # trained on the labelled rows only, the same estimator answers otherwise: parity sees it
    fewer = SelfTrainingClassifier(KNeighborsClassifier(), max_iter=0).fit(X, partly)
    assert not og.validate(conv, data=X, reference=fewer).passed


def test_an_affine_answer_is_read_off_in_blocks_of_unit_rows(monkeypatch: pytest.MonkeyPatch) -> None:
    # the probe of a model with many features is split, so it never holds an n x n identity at once
    from sklearn.cross_decomposition import CCA

    from onnxgate.converters import _sklearn_extra

    X, y = _cancer()
    model = CCA(n_components=1).fit(X, y)
    whole = _sklearn_extra._affine_parts(model)
    monkeypatch.setattr(_sklearn_extra, "_PROBE_VALUES", 7 * X.shape[1])  # blocks of 7 rows: 30 = 7 * 4 + 2
    blocks = _sklearn_extra._affine_parts(model)
    np.testing.assert_allclose(blocks[0], whole[0], rtol=1e-12, atol=1e-15)  # the BLAS sums blocks its own way
    np.testing.assert_allclose(blocks[1], whole[1], rtol=1e-12, atol=1e-15)
    assert og.validate(og.convert(model, X[:5]), data=X, reference=model).passed


def test_a_pipeline_with_an_unfitted_step_is_refused_naming_it_and_a_passthrough_step_converts() -> None:
    from sklearn.frozen import FrozenEstimator
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X, y = _cancer()
    scaled = StandardScaler().fit(X)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        linear = LogisticRegression(max_iter=200).fit(scaled.transform(X), y)
    # the pipeline counts as fitted by its last step: skl2onnx said "'StandardScaler' object has no attribute
    # 'mean_'"
    with pytest.raises(og.UnsupportedModelError, match=r"step 'standardscaler' \(StandardScaler\) of the pipeline "
                                                       r"is not fitted.*FrozenEstimator\(model\)"):
        og.convert(make_pipeline(StandardScaler(), FrozenEstimator(linear)), X[:5])
    # a "passthrough" step: skl2onnx failed on it ("'str' object has no attribute '__sklearn_tags__'")
    model = make_pipeline(scaled, "passthrough", linear)
    conv = og.convert(model, X[:5])
    assert og.validate(conv, data=X, reference=model).passed
    assert model.steps[1][1] == "passthrough"  # the user's pipeline keeps its step
    assert not og.validate(conv, data=X, reference=make_pipeline(StandardScaler(), "passthrough",
                                                                 LogisticRegression(C=1e-3)).fit(X, y)).passed
