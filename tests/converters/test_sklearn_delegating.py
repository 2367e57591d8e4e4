"""Wrappers that answer as the fitted estimator they hold (scikit-learn's FrozenEstimator, the way to
calibrate or stack a fitted model since ``cv="prefit"`` was removed, and SelfTrainingClassifier): skl2onnx
has no converter for them, so onnxgate converts the estimator inside, wherever the wrapper sits."""

from __future__ import annotations

import pickle
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


def test_a_wrapped_model_is_checked_as_the_model_inside() -> None:
    # the checks before converting saw the wrapper: a frozen hard-voting classifier and a frozen
    # HistGradientBoosting on categories were refused as if inside another model, and a self-trained forest
    # of one class was converted (150 of 150 iris labels differed, convert silent)
    import pandas as pd
    from sklearn.datasets import load_iris
    from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier, VotingClassifier
    from sklearn.frozen import FrozenEstimator
    from sklearn.linear_model import LogisticRegression
    from sklearn.semi_supervised import SelfTrainingClassifier

    X, y = load_iris(return_X_y=True)
    vote = VotingClassifier([("lr", LogisticRegression(max_iter=1000)),
                             ("rf", RandomForestClassifier(5, random_state=0))]).fit(X, y)
    frozen = FrozenEstimator(vote)
    assert og.validate(og.convert(frozen, X[:5]), data=X, reference=frozen).passed
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"a": rng.normal(size=400), "c": pd.Categorical(rng.choice(["x", "y", "z"], 400))})
    label = ((frame.a > 0) ^ (frame.c == "y")).astype(int)
    boosted = HistGradientBoostingClassifier(max_iter=10, categorical_features="from_dtype", random_state=0)
    frozen = FrozenEstimator(boosted.fit(frame, label))
    assert og.validate(og.convert(frozen, frame.head()), data=frame, reference=frozen).passed
    one_class = SelfTrainingClassifier(RandomForestClassifier(5, random_state=0)).fit(X, np.where(y == 0, 7, -1))
    with pytest.raises(og.UnsupportedModelError, match=r"RandomForestClassifier was fitted on a single class"):
        og.convert(one_class, X[:5])


@pytest.mark.parametrize("kind", ["CCA", "PLSRegression"])
@pytest.mark.parametrize("where", ["pipeline", "union", "column transformer"])
def test_a_frozen_cross_decomposition_read_for_its_transform_is_refused(kind: str, where: str) -> None:
    # the file answered its predict where scikit-learn reads its transform: a frozen CCA before a
    # LogisticRegression made 365 of 569 labels differ (PLSRegression: 210), convert silent
    import sklearn.cross_decomposition
    from sklearn.compose import make_column_transformer
    from sklearn.frozen import FrozenEstimator
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline, make_union

    X, y = _cancer()
    fitted = getattr(sklearn.cross_decomposition, kind)(n_components=2).fit(X, np.column_stack([y, X[:, 0]]))
    step = {"pipeline": FrozenEstimator(fitted), "union": make_union(FrozenEstimator(fitted), "passthrough"),
            "column transformer": make_column_transformer((FrozenEstimator(fitted), list(range(30))))}[where]
    model = make_pipeline(step, LogisticRegression(max_iter=5000)).fit(X, y)
    with pytest.raises(og.UnsupportedModelError, match=rf"{kind} inside \w+ answers transform there"):
        og.convert(model, X[:5])
    assert og.validate(og.convert(fitted, X[:5]), data=X, reference=fitted).passed  # its predict, on its own


def test_a_regressor_ensemble_before_other_steps_is_refused() -> None:
    # a VotingRegressor before a LinearRegression (its transform: the members' predictions) was written as its
    # predict, a file onnxruntime could not run (MatMul dimension mismatch), convert silent
    from sklearn.datasets import load_diabetes
    from sklearn.ensemble import VotingRegressor
    from sklearn.linear_model import LinearRegression, Ridge
    from sklearn.pipeline import make_pipeline
    from sklearn.tree import DecisionTreeRegressor

    X, y = load_diabetes(return_X_y=True)
    vote = VotingRegressor([("ridge", Ridge()), ("tree", DecisionTreeRegressor(max_depth=3, random_state=0))])
    with pytest.raises(og.UnsupportedModelError, match=r"VotingRegressor inside Pipeline answers transform there"):
        og.convert(make_pipeline(vote, LinearRegression()).fit(X, y), X[:5])
    assert og.validate(og.convert(vote.fit(X, y), X[:5]), data=X, reference=vote).passed


def test_a_fitted_pipeline_calibrated_through_a_frozen_estimator_converts() -> None:
    # scikit-learn's way to calibrate a fitted pipeline was refused ("around a Pipeline"), advising a refit of its steps
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.datasets import load_iris
    from sklearn.ensemble import RandomForestClassifier, StackingClassifier
    from sklearn.frozen import FrozenEstimator
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import LinearSVC

    X, y = _cancer()
    pipeline = make_pipeline(StandardScaler(), LinearSVC()).fit(X[:300], y[:300])
    for method in ("sigmoid", "isotonic"):
        model = CalibratedClassifierCV(FrozenEstimator(pipeline), method=method).fit(X[300:], y[300:])
        before = pickle.dumps(model)
        for target in (None, "sql-edge-2.0"):
            conv = og.convert(model, X[:5], target=target)
            assert og.validate(conv, data=X, reference=model, target=target).passed
        assert pickle.dumps(model) == before  # the user's model is not changed
    other = CalibratedClassifierCV(FrozenEstimator(pipeline), method="sigmoid").fit(X[:300], y[:300])
    assert not og.validate(conv, data=X, reference=other).passed
    Xi, yi = load_iris(return_X_y=True)
    forest = make_pipeline(StandardScaler(), RandomForestClassifier(10, random_state=0)).fit(Xi, yi)
    stack = StackingClassifier([("calibrated", CalibratedClassifierCV(FrozenEstimator(forest))),
                                ("lr", LogisticRegression(max_iter=1000))]).fit(Xi, yi)
    assert og.validate(og.convert(stack, Xi[:5]), data=Xi, reference=stack).passed


@pytest.mark.parametrize("method", ["sigmoid", "isotonic"])
@pytest.mark.parametrize("data", ["breast_cancer", "wine as text"])
def test_a_pipeline_calibrated_on_each_fold_answers_the_mean_of_its_folds(method: str, data: str) -> None:
    # refused ("fitted on each cv fold is not converted"): raw skl2onnx wrote one classifier for the folds,
    # 201 of 569 breast_cancer labels wrong with a scaler, PCA and LogisticRegression. Each fold's pipeline
    # is now calibrated at its last step and their probabilities averaged, as predict_proba does
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.datasets import load_wine
    from sklearn.decomposition import PCA
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import LinearSVC

    if data == "breast_cancer":
        X, y = _cancer()
        last: Any = LogisticRegression()
    else:
        X, codes = load_wine(return_X_y=True)
        y, last = np.array(["barolo", "grignolino", "barbera"])[codes], LinearSVC()

    def calibrated(components: int) -> Any:
        steps = make_pipeline(StandardScaler(), PCA(components), last)
        return CalibratedClassifierCV(steps, cv=3, method=method).fit(X, y)

    model = calibrated(5)
    before = pickle.dumps(model)
    conv = og.convert(model, X[:5])
    report = og.validate(conv, data=X, reference=model)
    assert report.passed, str(report)
    assert pickle.dumps(model) == before  # the user's model is not changed
    assert not og.validate(conv, data=X, reference=calibrated(4)).passed


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
