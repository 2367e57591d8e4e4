"""Nearest neighbours tied at the k-th distance: a row with more than one right answer. Parity accepts
the file's answer there only when it is one a tie-break gives, says how many rows were decided so, and
still fails a file that answers anything else."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import onnxgate as og


def _iris() -> tuple[Any, Any]:
    from sklearn.datasets import load_iris

    return load_iris(return_X_y=True)


@pytest.mark.parametrize("kind", ["classifier", "regressor", "transformer", "connectivity graph"])
@pytest.mark.parametrize("target", [None, "sql-edge-2.0"])
def test_a_tie_broken_another_way_passes_and_is_counted(kind: str, target: str | None) -> None:
    # iris row 77's 5th and 6th neighbours (rows 110 and 76, classes 2 and 1) are both 0.42426407 away:
    # scikit-learn's tree search keeps 110, the file's TopK keeps 76; before, parity failed the file
    from sklearn.neighbors import KNeighborsClassifier, KNeighborsRegressor, KNeighborsTransformer

    X, y = _iris()
    model = {"classifier": KNeighborsClassifier(), "regressor": KNeighborsRegressor(),
             "transformer": KNeighborsTransformer(),
             "connectivity graph": KNeighborsTransformer(mode="connectivity")}[kind].fit(X, y)
    report = og.validate(og.convert(model, X, target=target), data=X, reference=model, target=target)
    parity = report.check("prediction_parity")
    assert report.passed, parity.message
    assert parity.details["tied_rows"] >= 1
    assert "tied at the k-th neighbour's distance" in parity.message


def test_a_model_with_other_neighbours_still_fails() -> None:
    from sklearn.neighbors import KNeighborsClassifier

    X, y = _iris()
    conv = og.convert(KNeighborsClassifier(n_neighbors=5).fit(X, y), X)
    report = og.validate(conv, data=X, reference=KNeighborsClassifier(n_neighbors=4).fit(X, y))
    assert not report.passed


def test_an_answer_no_tie_break_gives_is_not_accepted() -> None:
    # row 77: its four nearer neighbours are classes 1, 1, 1, 2, the tied pair 2 and 1: [0, .6, .4] and
    # [0, .8, .2] are right, [0, .4, .6] is not
    from sklearn.neighbors import KNeighborsClassifier

    from onnxgate.validators.ties import prepare_tie_resolver
    from onnxgate.validators.tolerances import model_tolerances

    X, y = _iris()
    model = KNeighborsClassifier().fit(X, y)
    conv = og.convert(model, X)
    tolerances = model_tolerances(conv.model, conv.signature.outputs)
    resolve = prepare_tie_resolver(model, conv.model, conv.signature, tolerances)
    assert resolve is not None
    feeds = {conv.signature.input_names[0]: X[[77]]}
    reference = [model.predict(X[[77]]), model.predict_proba(X[[77]])]
    np.testing.assert_allclose(reference[1], [[0.0, 0.6, 0.4]])

    other = [np.array([1]), np.array([[0.0, 0.8, 0.2]])]
    assert resolve(feeds, other, reference) == 1
    np.testing.assert_allclose(reference[1], [[0.0, 0.8, 0.2]])

    reference = [model.predict(X[[77]]), model.predict_proba(X[[77]])]
    wrong = [np.array([2]), np.array([[0.0, 0.4, 0.6]])]
    assert resolve(feeds, wrong, reference) == 0
    np.testing.assert_allclose(reference[1], [[0.0, 0.6, 0.4]])


def test_models_without_neighbours_have_no_resolver() -> None:
    from sklearn.linear_model import LogisticRegression

    from onnxgate.validators.ties import prepare_tie_resolver
    from onnxgate.validators.tolerances import model_tolerances

    X, y = _iris()
    model = LogisticRegression(max_iter=1000).fit(X, y)
    conv = og.convert(model, X)
    tolerances = model_tolerances(conv.model, conv.signature.outputs)
    assert prepare_tie_resolver(model, conv.model, conv.signature, tolerances) is None
