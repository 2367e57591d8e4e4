"""Estimators skl2onnx has no converter for, converted by onnxgate's own (``_sklearn_extra``): each
answers as scikit-learn does on real data, and a model fitted otherwise fails parity."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pytest

import onnxgate as og


def _data(kind: str) -> tuple[Any, Any]:
    from sklearn.datasets import load_diabetes, load_iris

    if kind == "iris":
        return load_iris(return_X_y=True)
    X, y = load_diabetes(return_X_y=True)
    if kind == "iris with holes":
        X, y = load_iris(return_X_y=True)
        X = X.copy()
        X[::7, 1] = np.nan
        X[::11, 3] = np.nan
    if kind == "one diabetes column":
        X = X[:, 2]
    return X, y


def _build(case: str, variant: int) -> tuple[Any, Any]:
    """The model of ``case`` fitted on its data (``variant`` 1: fitted otherwise), and that data."""
    from sklearn.cluster import AffinityPropagation, Birch, FeatureAgglomeration, MeanShift
    from sklearn.covariance import EllipticEnvelope
    from sklearn.decomposition import FactorAnalysis, FastICA, MiniBatchSparsePCA, SparsePCA
    from sklearn.dummy import DummyRegressor
    from sklearn.impute import MissingIndicator, SimpleImputer
    from sklearn.isotonic import IsotonicRegression
    from sklearn.kernel_approximation import Nystroem, RBFSampler, SkewedChi2Sampler
    from sklearn.kernel_ridge import KernelRidge
    from sklearn.linear_model import LogisticRegression
    from sklearn.neural_network import BernoulliRBM
    from sklearn.pipeline import make_pipeline, make_union
    from sklearn.semi_supervised import LabelSpreading

    if case in ("CCA", "PLSCanonical", "PLSSVD"):  # predict (CCA, PLSCanonical) or transform (PLSSVD)
        import sklearn.cross_decomposition

        X, y = _data("diabetes")
        kind = getattr(sklearn.cross_decomposition, case)
        return kind(n_components=2 - variant).fit(X, np.column_stack([y, np.sqrt(y)])), X
    if case == "SparseRandomProjection":
        from sklearn.random_projection import SparseRandomProjection

        X, _ = _data("diabetes")
        return SparseRandomProjection(n_components=6, random_state=variant).fit(X), X
    if case in ("FastICA", "FactorAnalysis", "SparsePCA", "MiniBatchSparsePCA"):
        X, _ = _data("iris")
        kind = {"FastICA": FastICA, "FactorAnalysis": FactorAnalysis, "SparsePCA": SparsePCA,
                "MiniBatchSparsePCA": MiniBatchSparsePCA}[case]
        return kind(n_components=3 - variant, random_state=0).fit(X), X
    if case == "MissingIndicator in a union":
        X, y = _data("iris with holes")
        union = make_union(SimpleImputer(), MissingIndicator(features="missing-only" if variant else "all"))
        return make_pipeline(union, LogisticRegression(max_iter=1000)).fit(X, y), X
    if case.startswith("IsotonicRegression"):
        X, y = _data("one diabetes column")
        bounds = "clip" if case.endswith("clip") else "nan"
        rows = slice(0, 300 - 100 * variant)  # a fitted range narrower than the data: rows out of bounds
        return IsotonicRegression(out_of_bounds=bounds).fit(X[rows], y[rows]), X
    if case == "RBFSampler in a pipeline":
        X, y = _data("iris")
        return make_pipeline(RBFSampler(n_components=50, random_state=variant),
                             LogisticRegression(max_iter=1000)).fit(X, y), X
    if case == "SkewedChi2Sampler":
        X, _ = _data("iris")
        return SkewedChi2Sampler(n_components=20, random_state=variant).fit(X), X
    if case in UNSUPERVISED:
        X, y = _data("iris")
        if case == "BernoulliRBM":
            X = (X - X.min(axis=0)) / (X.max(axis=0) - X.min(axis=0))  # values in [0, 1], as it expects
        partly = np.where(np.arange(len(y)) % 3 == 0, -1, y)  # a third unlabelled
        model = {"AffinityPropagation": lambda: AffinityPropagation(damping=0.5 + 0.3 * variant, random_state=0),
                 "MeanShift": lambda: MeanShift(bandwidth=1.0 + variant),
                 "Birch": lambda: Birch(threshold=0.5 + 0.3 * variant),
                 "FeatureAgglomeration": lambda: FeatureAgglomeration(n_clusters=2 + variant),
                 "BernoulliRBM": lambda: BernoulliRBM(n_components=8, random_state=variant),
                 "EllipticEnvelope": lambda: EllipticEnvelope(contamination=0.1 + 0.1 * variant, random_state=0),
                 "LabelSpreading": lambda: LabelSpreading(gamma=20 - 15 * variant)}[case]()
        return (model.fit(X, partly) if case == "LabelSpreading" else model.fit(X)), X
    X, y = _data("diabetes")
    if case.startswith("Nystroem"):
        return Nystroem(kernel=case.split()[-1], n_components=30, random_state=variant).fit(X), X
    if case == "DummyRegressor median on two targets":
        return DummyRegressor(strategy="median" if variant == 0 else "mean").fit(X, np.column_stack([y, -y])), X
    kernel = case.split()[-1]
    return KernelRidge(kernel=kernel, alpha=1.0 + 9 * variant, degree=2).fit(X, np.column_stack([y, -y])), X


CASES = ["CCA", "PLSCanonical", "PLSSVD", "SparseRandomProjection",
         "FastICA", "FactorAnalysis", "SparsePCA", "MiniBatchSparsePCA", "MissingIndicator in a union",
         "IsotonicRegression", "IsotonicRegression clip", "KernelRidge linear", "KernelRidge rbf", "KernelRidge poly",
         "KernelRidge sigmoid", "RBFSampler in a pipeline", "SkewedChi2Sampler", "Nystroem rbf", "Nystroem poly",
         "DummyRegressor median on two targets", "AffinityPropagation", "MeanShift", "Birch", "FeatureAgglomeration",
         "BernoulliRBM", "EllipticEnvelope", "LabelSpreading"]
UNSUPERVISED = CASES[-7:]
#: Nystroem's normalization (the kernel matrix's inverse square root) amplifies float32 rounding past the
#: tolerances (measured: up to 4e-3 relative on diabetes), so it is checked where it computes in float64
FLOAT64_ONLY = {"Nystroem rbf", "Nystroem poly"}


@pytest.mark.parametrize("case", CASES)
def test_an_estimator_skl2onnx_cannot_convert_converts_and_matches(case: str) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # FastICA's convergence
        model, X = _build(case, 0)
        other, _ = _build(case, 1)
    targets = (None,) if case in FLOAT64_ONLY else (None, "sql-edge-2.0")
    for target in targets:
        conv = og.convert(model, X[:5], target=target)
        assert og.validate(conv, data=X, reference=model, target=target).passed
    assert not og.validate(conv, data=X, reference=other, target=targets[-1]).passed


def test_what_those_converters_cannot_write_is_refused_by_name() -> None:
    from sklearn.isotonic import IsotonicRegression
    from sklearn.kernel_ridge import KernelRidge

    X, y = _data("diabetes")
    with pytest.raises(og.UnsupportedModelError, match=r"kernel 'laplacian' is not written here"):
        og.convert(KernelRidge(kernel="laplacian").fit(X, y), X[:5])
    with pytest.raises(og.UnsupportedModelError, match=r"out_of_bounds='raise'"):
        og.convert(IsotonicRegression(out_of_bounds="raise").fit(X[:, 2], y), X[:5, 2])
    from sklearn.cluster import FeatureAgglomeration
    from sklearn.semi_supervised import LabelPropagation

    with pytest.raises(og.UnsupportedModelError, match=r"pools its clusters with median, which is not affine"):
        og.convert(FeatureAgglomeration(pooling_func=np.median).fit(X), X[:5])
    with pytest.raises(og.UnsupportedModelError, match=r"LabelPropagation\(kernel='knn'\) is not written"):
        og.convert(LabelPropagation(kernel="knn").fit(X, (y > 150).astype(int)), X[:5])


def test_a_missing_indicator_that_saw_nothing_missing_answers_no_column() -> None:
    # parity crashed on its [N, 0] output ("zero-size array to reduction operation"), a failed check
    # on a correct model; SQL's adaptation wrote a Cast the checker refused
    from sklearn.impute import MissingIndicator

    X, _ = _data("iris")
    model = MissingIndicator().fit(X)
    conv = og.convert(model, X[:5])
    assert conv.signature.outputs[0].shape == (None, 0)
    assert og.validate(conv, data=X, reference=model).passed
    holes, _ = _data("iris with holes")
    assert not og.validate(conv, data=X, reference=MissingIndicator().fit(holes)).passed
    with pytest.raises(og.UnsupportedModelError, match=r"output 'variable' has no values per row"):
        og.convert(model, X[:5], target="sql-edge-2.0")


@pytest.mark.parametrize("labels", ["int", "text", "bool"])
def test_a_dummy_classifier_answers_its_one_class_and_probabilities(labels: str) -> None:
    from sklearn.dummy import DummyClassifier

    X, y = _data("iris")
    X, y = X[:120], y[:120]  # classes of 50, 50 and 20 rows: priors that are not uniform
    y = {"int": y, "text": np.array(["setosa", "versicolor", "virginica"])[y], "bool": y == 1}[labels]
    for strategy in ("prior", "most_frequent", "constant"):
        model = DummyClassifier(strategy=strategy, constant=y[-1].item() if strategy == "constant" else None).fit(X, y)
        for target in ("container", *(["sql-edge-2.0"] if labels != "text" else [])):
            conv = og.convert(model, X[:5], target=target)
            assert og.validate(conv, data=X, reference=model, target=target).passed
    prior = DummyClassifier().fit(X, y)
    assert not og.validate(og.convert(prior, X[:5]), data=X, reference=model).passed
    with pytest.raises(og.UnsupportedModelError, match=r"strategy='uniform'\) answers at random"):
        og.convert(DummyClassifier(strategy="uniform").fit(X, y), X[:5])


@pytest.mark.parametrize("priors", ["uniform", "empirical"])
def test_a_nearest_centroid_answers_its_labels_and_probabilities(priors: str) -> None:
    # uniform priors: the label is the nearest centroid in the raw features; empirical: the highest
    # discriminant score, whose softmax is predict_proba either way
    from sklearn.datasets import load_wine
    from sklearn.neighbors import NearestCentroid

    X, y = load_wine(return_X_y=True)
    labels = np.array(["barolo", "grignolino", "barbera"])[y]
    for target, answer in (("container", labels), ("sql-edge-2.0", y)):
        model = NearestCentroid(priors=priors).fit(X, answer)
        conv = og.convert(model, X[:5], target=target)
        assert og.validate(conv, data=X, reference=model, target=target).passed
    shrunk = NearestCentroid(priors=priors, shrink_threshold=0.5).fit(X, y)
    assert not og.validate(conv, data=X, reference=shrunk, target="sql-edge-2.0").passed
    with pytest.raises(og.UnsupportedModelError, match=r"metric='manhattan'\) is not written"):
        og.convert(NearestCentroid(metric="manhattan").fit(X, y), X[:5])


@pytest.mark.parametrize("drop", [None, "first"])
def test_a_one_hot_encoder_on_float_categories_converts(drop: str | None) -> None:
    # skl2onnx refused it: "Category 4.3 is not an int64"; here a NaN category and an unknown value too
    from sklearn.preprocessing import OneHotEncoder

    X, _ = _data("iris")
    X = np.round(X, 1)
    X[::9, 0] = np.nan
    model = OneHotEncoder(drop=drop, handle_unknown="ignore", sparse_output=False).fit(X[:120])
    for target in (None, "sql-edge-2.0"):
        conv = og.convert(model, X[:5], target=target)
        assert og.validate(conv, data=X, reference=model, target=target).passed  # rows 120+: unseen values
    rounder = OneHotEncoder(drop=drop, handle_unknown="ignore", sparse_output=False).fit(np.round(X[:120]))
    assert not og.validate(conv, data=X, reference=rounder, target="sql-edge-2.0").passed


@pytest.mark.parametrize("extrapolation", ["constant", "linear", "continue", "periodic"])
def test_a_spline_transformer_converts_inside_and_beyond_its_knots(extrapolation: str) -> None:
    # rows beyond the fitted range (the first 50, tripled), missing values, quantile knots repeated on
    # a binary column (an empty end interval), no bias column, and degree 1 where scikit-learn's linear
    # continuation carries a raised degree from one feature to the next
    from sklearn.datasets import load_diabetes
    from sklearn.linear_model import Ridge
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import SplineTransformer

    X, y = load_diabetes(return_X_y=True)
    X = X.copy()
    X[:50] *= 3
    X[::13, 2] = np.nan
    for degree, knots, bias in ((3, "uniform", True), (1, "quantile", False), (2, "quantile", True)):
        model = SplineTransformer(degree=degree, knots=knots, n_knots=5, extrapolation=extrapolation,
                                  include_bias=bias, handle_missing="zeros").fit(X[50:])
        for target in (None, "sql-edge-2.0"):
            conv = og.convert(model, X[:5], target=target)
            assert og.validate(conv, data=X, reference=model, target=target).passed, (degree, knots, target)
    other = SplineTransformer(degree=2, knots="quantile", n_knots=6, extrapolation=extrapolation,
                              handle_missing="zeros").fit(X[50:])
    assert not og.validate(conv, data=X, reference=other).passed
    rows = ~np.isnan(X).any(axis=1)
    model = make_pipeline(SplineTransformer(extrapolation=extrapolation), Ridge()).fit(X[rows], y[rows])
    assert og.validate(og.convert(model, X[:5]), data=X[rows], reference=model).passed


@pytest.mark.parametrize("labels", ["int", "text"])
def test_a_target_encoder_of_a_multiclass_target_converts(labels: str) -> None:
    # skl2onnx refused it ("only support TargetEncoder for binary classification or 1d regression");
    # one column per feature and class, feature by feature, as scikit-learn lays them out
    import pandas as pd
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import TargetEncoder

    X, y = _data("iris")
    codes = np.round(X[:, :2]).astype(np.int64)
    y = y if labels == "int" else np.array(["setosa", "versicolor", "virginica"])[y]
    frame = pd.DataFrame({"city": np.array(list("pqrstu"))[codes[:, 0] % 6], "grade": codes[:, 1], "x": X[:, 3]})
    encoder = TargetEncoder(random_state=0).fit(codes, y)
    conv = og.convert(encoder, codes[:5], target="sql-edge-2.0")
    assert len(conv.signature.outputs) == 6  # 2 features x 3 classes
    assert og.validate(conv, data=codes, reference=encoder, target="sql-edge-2.0").passed
    smoother = TargetEncoder(smooth=50.0, random_state=0).fit(codes, y)
    assert not og.validate(conv, data=codes, reference=smoother, target="sql-edge-2.0").passed
    columns = ColumnTransformer([("te", TargetEncoder(random_state=0), ["city", "grade"])], remainder="passthrough")
    model = make_pipeline(columns, LogisticRegression(max_iter=1000)).fit(frame, y)
    assert og.validate(og.convert(model, frame[:5], target="container"), data=frame, reference=model,
                       target="container").passed


def test_a_regressor_chain_feeds_each_regressor_the_predictions_before_it() -> None:
    from sklearn.ensemble import RandomForestRegressor
    from sklearn.linear_model import Ridge
    from sklearn.multioutput import MultiOutputRegressor, RegressorChain

    X, y = _data("diabetes")
    Y = np.column_stack([y, np.log(y), np.sqrt(y)])
    for base, order in ((Ridge(), None), (RandomForestRegressor(10, random_state=0), [2, 0, 1])):
        model = RegressorChain(base, order=order).fit(X, Y)
        for target in (None, "sql-edge-2.0"):
            conv = og.convert(model, X[:5], target=target)
            assert og.validate(conv, data=X, reference=model, target=target).passed
    independent = MultiOutputRegressor(RandomForestRegressor(10, random_state=0)).fit(X, Y)
    assert not og.validate(conv, data=X, reference=independent, target="sql-edge-2.0").passed


@pytest.mark.parametrize("method", ["predict", "predict_proba"])
def test_a_classifier_chain_feeds_each_classifier_the_answers_before_it(method: str) -> None:
    # skl2onnx has no converter ("register a converter for it"): each link reads the features and the links
    # before it (their labels, or their probabilities with chain_method="predict_proba"), in a random order
    from sklearn.datasets import load_breast_cancer
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.multioutput import ClassifierChain, MultiOutputClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X, y = load_breast_cancer(return_X_y=True)
    Y = np.column_stack([y, X[:, 0] > 14, X[:, 1] > 20, X[:, 3] > 600]).astype(int)
    for base in (LogisticRegression(max_iter=5000), RandomForestClassifier(10, random_state=0)):
        model = ClassifierChain(base, order="random", random_state=1, chain_method=method).fit(X, Y)
        conv = og.convert(model, X[:5])
        assert [o.name for o in conv.signature.outputs] == ["label", "probabilities"]
        assert og.validate(conv, data=X, reference=model).passed
    independent = MultiOutputClassifier(RandomForestClassifier(10, random_state=0)).fit(X, Y)
    assert not og.validate(conv, data=X, reference=independent).passed
    scaled = make_pipeline(StandardScaler(), ClassifierChain(LogisticRegression(), chain_method=method)).fit(X, Y)
    for target in (None, "sql-edge-2.0"):
        conv = og.convert(scaled, X[:5], target=target)
        assert og.validate(conv, data=X, reference=scaled, target=target).passed
    for other in ("decision_function", "predict_log_proba"):
        with pytest.raises(og.UnsupportedModelError,
                           match=rf"ClassifierChain with chain_method='{other}' is not "
                           r"written.*Refit with chain_method='predict_proba'"):
            chain = ClassifierChain(LogisticRegression(max_iter=5000), chain_method=other)
            og.convert(chain.fit(X, Y), X[:5])


@pytest.mark.parametrize("method", ["predict", "predict_proba"])
def test_a_classifier_chain_of_pipelines_converts(method: str) -> None:
    # skl2onnx's sub-estimator of a classifier Pipeline fails ("Mismatch between pipeline output 2 and last step
    # outputs 1"), so a chain of Pipelines was refused: each link's steps are written one by one now
    from sklearn.datasets import load_breast_cancer
    from sklearn.decomposition import PCA
    from sklearn.linear_model import LogisticRegression
    from sklearn.multioutput import ClassifierChain
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X, y = load_breast_cancer(return_X_y=True)
    Y = np.column_stack([y, X[:, 0] > 14, X[:, 1] > 20, X[:, 3] > 600]).astype(int)

    def chain(components: int) -> Any:
        link = make_pipeline(StandardScaler(), PCA(components, random_state=0), LogisticRegression(max_iter=5000))
        return ClassifierChain(link, order="random", random_state=1, chain_method=method).fit(X, Y)

    model = chain(8)
    conv = og.convert(model, X[:5])
    report = og.validate(conv, data=X, reference=model)
    assert report.passed, str(report)
    assert not og.validate(conv, data=X, reference=chain(3)).passed


@pytest.mark.parametrize("method", ["default", "predict", "predict_proba"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
def test_a_chain_of_pipelines_whose_first_step_reads_a_width_converts(method: str, dtype: Any) -> None:
    # a later link reads the features joined to the earlier links' answers, a tensor of no known width, and a
    # float32 StandardScaler (any dtype: a Binarizer, a SimpleImputer) looked that width up: "skl2onnx could not
    # convert ClassifierChain: list index out of range" (a RegressorChain: the same)
    from sklearn.datasets import make_multilabel_classification, make_regression
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression, Ridge
    from sklearn.multioutput import ClassifierChain, RegressorChain
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import Binarizer, StandardScaler

    X, Y = make_multilabel_classification(n_samples=300, n_features=8, n_classes=4, random_state=0)
    X = X.astype(dtype)
    options = {} if method == "default" else {"chain_method": method}
    for first in (StandardScaler(), Binarizer(threshold=2.0), SimpleImputer()):
        model = ClassifierChain(make_pipeline(first, LogisticRegression()), random_state=0, **options).fit(X, Y)
        report = og.validate(og.convert(model, X[:5]), data=X, reference=model)
        assert report.passed, str(report)
    Xr, Yr = make_regression(n_samples=200, n_features=6, n_targets=3, random_state=0)
    Xr = Xr.astype(dtype)
    regressor = RegressorChain(make_pipeline(SimpleImputer(), Ridge()), random_state=0).fit(Xr, Yr)
    report = og.validate(og.convert(regressor, Xr[:5]), data=Xr, reference=regressor)
    assert report.passed, str(report)


def test_the_review_of_these_converters_holds() -> None:
    # helper-67's findings: integer inputs met float constants (onnxruntime refused the file), precision_
    # None, OneHotEncoder(dtype=int) declared int64 and wrote float, LabelSpreading's weights underflowed to
    # 0/0 in float32, fractional labels truncated, MinMaxScaler(clip=True) refused for no reason, and a
    # refit=False search told it had only fit_predict
    from sklearn.compose import TransformedTargetRegressor
    from sklearn.covariance import EllipticEnvelope
    from sklearn.datasets import load_digits
    from sklearn.dummy import DummyClassifier
    from sklearn.isotonic import IsotonicRegression
    from sklearn.kernel_ridge import KernelRidge
    from sklearn.linear_model import LogisticRegression, Ridge
    from sklearn.model_selection import GridSearchCV
    from sklearn.neighbors import NearestCentroid
    from sklearn.preprocessing import MinMaxScaler, OneHotEncoder
    from sklearn.semi_supervised import LabelSpreading

    digits, labels = load_digits(return_X_y=True)
    digits, labels = digits.astype(np.int64)[:300], labels[:300]
    iris, y = _data("iris")
    cases = [(KernelRidge(kernel="rbf", gamma=0.01).fit(digits, labels), digits),
             (NearestCentroid().fit(digits, labels), digits),
             (IsotonicRegression().fit(digits[:, 20], labels), digits[:, 20]),
             (EllipticEnvelope(store_precision=False, random_state=0).fit(iris), iris),
             (OneHotEncoder(dtype=int, sparse_output=False).fit(iris[:, :2]), iris[:, :2]),
             (TransformedTargetRegressor(Ridge(), transformer=MinMaxScaler(clip=True)).fit(iris, y * 1.0), iris)]
    for model, X in cases:
        for target in (None, "sql-edge-2.0"):
            conv = og.convert(model, X[:5], target=target)
            assert og.validate(conv, data=X, reference=model, target=target).passed, (type(model).__name__, target)
    partly = np.where(np.arange(len(y)) % 2 == 0, -1, y)
    spreading = LabelSpreading().fit(iris, partly)
    conv = og.convert(spreading, iris[:5], target="sql-edge-2.0")
    assert og.validate(conv, data=iris + 1.2, reference=spreading, target="sql-edge-2.0").passed
    with pytest.raises(og.UnsupportedModelError, match=r"fractional labels"):
        og.convert(DummyClassifier().fit(iris, y + 0.5), iris[:5])
    with pytest.raises(og.UnsupportedModelError, match=r"refit=False keeps no model"):
        og.convert(GridSearchCV(LogisticRegression(), {"C": [1.0, 2.0]}, refit=False, cv=2).fit(iris, y), iris[:5])


def test_a_wide_affine_map_is_read_once_and_written_as_raw_numbers(monkeypatch: pytest.MonkeyPatch) -> None:
    # a SparseRandomProjection of 20,000 features to 2,000 took 56 s and 4.4 GB to convert: the map was read
    # off the model twice (16 s each), and written as a list of Python floats (1.3 GB for its 40M values)
    import tracemalloc

    from sklearn.random_projection import SparseRandomProjection

    from onnxgate.converters import _sklearn_extra

    X = np.random.default_rng(0).normal(size=(50, 3000))
    model = SparseRandomProjection(300, random_state=0).fit(X)
    monkeypatch.setattr(_sklearn_extra, "_PROBE_VALUES", 1 << 20)  # probe blocks far smaller than the map
    og.convert(model, X[:5])  # what the first conversion imports is not counted
    reads = []
    parts = _sklearn_extra._affine_parts
    monkeypatch.setattr(_sklearn_extra, "_affine_parts", lambda m: reads.append(m) or parts(m))
    tracemalloc.start()
    try:
        conv = og.convert(model, X[:5])
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert len(reads) == 1
    assert peak < 5 * 3000 * 300 * 8, f"{peak / 1e6:.0f} MB to convert a 7.2 MB map"  # was 72 MB
    assert og.validate(conv, data=X, reference=model).passed


@pytest.mark.parametrize(("method", "why"), [("predict_log_proba", r"-inf where the probability rounds to 0"),
                                             ("decision_function", r"decision_function, which skl2onnx")])
def test_a_classifier_chain_refused_says_why_its_chain_method_is_not_written(method: str, why: str) -> None:
    # the refusal read only "is not written here": nothing said why a log of probabilities could not be handed on
    from sklearn.datasets import make_multilabel_classification
    from sklearn.linear_model import LogisticRegression
    from sklearn.multioutput import ClassifierChain

    X, Y = make_multilabel_classification(200, 10, n_classes=3, random_state=0)
    chain = ClassifierChain(LogisticRegression(max_iter=2000), chain_method=method).fit(X, Y)
    with pytest.raises(og.UnsupportedModelError, match=rf"chain_method='{method}'.*{why}.*Refit with chain_method="):
        og.convert(chain, X[:5])
