"""Estimators skl2onnx has no converter for, converted by onnxgate's own (``_sklearn_geometry``):
AdditiveChi2Sampler, PolynomialCountSketch, Isomap, RadiusNeighborsTransformer and BisectingKMeans each
answer as scikit-learn does on real data (float64, float32 for SQL, integer columns, a DataFrame),
and a model fitted otherwise fails parity."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import onnxgate as og


def _build(case: str, variant: int) -> tuple[Any, Any]:
    """The model of ``case`` fitted on wine (``variant`` 1: fitted otherwise), and the data."""
    from sklearn.cluster import BisectingKMeans
    from sklearn.datasets import load_wine
    from sklearn.kernel_approximation import AdditiveChi2Sampler, PolynomialCountSketch
    from sklearn.linear_model import LogisticRegression
    from sklearn.manifold import Isomap
    from sklearn.neighbors import RadiusNeighborsTransformer
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import MinMaxScaler, StandardScaler

    X, y = load_wine(return_X_y=True, as_frame=case.endswith("DataFrame"))
    if case.startswith("integer"):
        X = (X * 10).astype(np.int64)
    name = case.split()[-1] if not case.endswith("DataFrame") else case.split()[0]
    classifier = LogisticRegression(max_iter=3000)
    if name == "AdditiveChi2Sampler":  # MinMaxScaler: its float32 minimum rounds to -6e-8, read as 0
        model = make_pipeline(MinMaxScaler(), AdditiveChi2Sampler(sample_steps=2 + variant), classifier)
    elif name == "PolynomialCountSketch":
        model = make_pipeline(StandardScaler(), PolynomialCountSketch(degree=3, coef0=1.0, n_components=40,
                                                                      random_state=variant), classifier)
    elif name == "Isomap":
        model = make_pipeline(StandardScaler(), Isomap(n_neighbors=6 + 4 * variant, n_components=4), classifier)
    elif name == "RadiusNeighborsTransformer":
        model = make_pipeline(StandardScaler(), RadiusNeighborsTransformer(radius=3.0 + variant))
    else:
        model = make_pipeline(StandardScaler(), BisectingKMeans(n_clusters=5, random_state=variant,
                                                                bisecting_strategy="largest_cluster"))
    return model.fit(X, y), X


CASES = ["AdditiveChi2Sampler", "PolynomialCountSketch", "Isomap", "RadiusNeighborsTransformer", "BisectingKMeans",
         "integer AdditiveChi2Sampler", "Isomap on a DataFrame", "BisectingKMeans on a DataFrame"]


@pytest.mark.parametrize("case", CASES)
def test_an_estimator_skl2onnx_cannot_convert_converts_and_matches(case: str) -> None:
    model, X = _build(case, 0)
    other, _ = _build(case, 1)
    for target in (None, "sql-edge-2.0"):
        conv = og.convert(model, X, target=target)
        report = og.validate(conv, data=X, reference=model, target=target)
        assert report.passed, report.summary()
    assert not og.validate(conv, data=X, reference=other, target="sql-edge-2.0").passed


def test_a_radius_graph_leaves_out_a_pair_whose_squared_distance_rounds_past_the_radius() -> None:
    """Iris rows 54 and 67 are 1.0000000000000002 apart squared: outside a radius of 1 for scikit-learn,
    though the distance's root rounds to exactly 1."""
    import onnxruntime as ort
    from sklearn.datasets import load_iris
    from sklearn.neighbors import RadiusNeighborsTransformer

    X, _ = load_iris(return_X_y=True)
    model = RadiusNeighborsTransformer(radius=1.0).fit(X)
    assert model.transform(X[[54]]).toarray()[0, 67] == 0.0
    conv = og.convert(model, X)
    session = ort.InferenceSession(conv.to_bytes(), providers=["CPUExecutionProvider"])
    answer = session.run(None, {session.get_inputs()[0].name: X[[54]]})[0]
    assert answer[0, 67] == 0.0
    assert og.validate(conv, data=X, reference=model).passed


def test_a_bisecting_tree_is_walked_not_read_as_nearest_center() -> None:
    """Rows whose nearest final center is not the leaf the bisection tree sends them to: predict
    follows the tree, and so does the file."""
    from sklearn.cluster import BisectingKMeans
    from sklearn.datasets import load_wine
    from sklearn.preprocessing import StandardScaler

    X = StandardScaler().fit_transform(load_wine().data)
    model = BisectingKMeans(n_clusters=6, random_state=0).fit(X)
    centers = model.cluster_centers_
    nearest = ((X[:, None, :] - centers[None]) ** 2).sum(axis=2).argmin(axis=1)
    assert (nearest != model.predict(X)).any()  # the case the tree matters for is in the data
    assert og.validate(og.convert(model, X), data=X, reference=model).passed


def test_what_those_converters_cannot_write_is_refused_by_name() -> None:
    from sklearn.datasets import load_wine
    from sklearn.manifold import Isomap
    from sklearn.neighbors import RadiusNeighborsTransformer

    X, _ = load_wine(return_X_y=True)
    with pytest.raises(og.UnsupportedModelError, match=r"Isomap with a radius neighbourhood is not written"):
        og.convert(Isomap(n_neighbors=None, radius=400.0).fit(X), X)
    with pytest.raises(og.UnsupportedModelError, match=r"metric 'manhattan' is not written here"):
        og.convert(RadiusNeighborsTransformer(metric="manhattan").fit(X), X)
    with pytest.raises(og.UnsupportedModelError, match=r"Isomap with metric 'cosine'"):
        og.convert(Isomap(metric="cosine").fit(X), X)
