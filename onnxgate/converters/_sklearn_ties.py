"""Ties among nearest neighbours. When the k-th nearest training row is as near as the next one, a
k-nearest-neighbour answer is not one answer: scikit-learn keeps the tied rows its tree search meets
first, an ONNX file's TopK the lowest training index. On iris (decimal data, duplicate rows) 1 of 150
rows of KNeighborsClassifier() and 8 of KNeighborsTransformer() are such rows, and parity failed
correct files on them.

:func:`tied_answers` gives, for one row, every answer a k-nearest-neighbour search gives when the tie
is broken each possible way, computed as scikit-learn computes its answer from a neighbour set (its
weights, its probability normaliser, its graph); parity accepts a differing row only when the file's
answer is one of them. Anything else (a row without a tie, a metric or weighting not followed here, too
many ways to break a tie to try) gives no answers, and the row stays a mismatch."""

from __future__ import annotations

import itertools
import math
from typing import Any

#: The most ways of breaking one row's tie that are tried.
MOST_TIE_BREAKS = 2000

#: How near to the k-th distance a training row is tied with it (relative; scikit-learn's tree search and
#: a brute-force distance differ by a few ulps on the same pair).
TIE_RTOL = 1e-9

NEIGHBOUR_KINDS = ("KNeighborsClassifier", "KNeighborsRegressor", "KNeighborsTransformer")


def neighbour_step(model: Any) -> tuple[Any, Any] | None:
    """``(steps_before, search)`` for a k-nearest-neighbour estimator alone or at the end of a pipeline
    (``steps_before`` a pipeline of the steps before it, or None), else None."""
    from sklearn.pipeline import Pipeline

    from onnxgate.converters._sklearn_models import searched

    model = searched(model, {})[0]
    before = None
    if isinstance(model, Pipeline):
        last = searched(model.steps[-1][1], {})[0]
        before = model[:-1] if len(model.steps) > 1 else None
        model = last
    if type(model).__name__ not in NEIGHBOUR_KINDS or not hasattr(model, "_fit_X"):
        return None
    if model.effective_metric_ == "precomputed" or callable(getattr(model, "weights", "uniform")):
        return None
    return before, model


def tied_answers(search: Any, row: Any) -> list[list[Any]]:
    """Each distinct answer of ``search`` (a fitted KNeighbors* estimator) for ``row`` (one row of what
    it reads) over the ways its k-th neighbour's tie can be broken, as the outputs skl2onnx writes for
    it: ``[label, probabilities]`` for a classifier, ``[prediction]`` for a regressor, ``[graph row]``
    for a transformer. Empty where there is no tie or it is not followed here."""
    import numpy as np
    from sklearn.metrics import pairwise_distances

    kind = type(search).__name__
    y = getattr(search, "_y", None)
    if kind == "KNeighborsClassifier" and (y is None or np.ndim(y) != 1):
        return []  # one label per row only (a multi-output classifier is not followed)
    k = int(search.n_neighbors) + (1 if kind == "KNeighborsTransformer" and search.mode == "distance" else 0)
    fitted = search._fit_X
    if k > len(fitted):
        return []
    distances = pairwise_distances(np.asarray(row, dtype=np.float64).reshape(1, -1), fitted,
                                   metric=search.effective_metric_, **(search.effective_metric_params_ or {}))[0]
    kth = float(np.partition(distances, k - 1)[k - 1])
    tol = TIE_RTOL * kth
    sure = np.flatnonzero(distances < kth - tol)
    tied = np.flatnonzero(np.abs(distances - kth) <= tol)
    wanted = k - len(sure)
    if len(tied) <= wanted or math.comb(len(tied), wanted) > MOST_TIE_BREAKS:
        return []
    answers: list[list[Any]] = []
    seen: set[bytes] = set()
    for chosen in itertools.combinations(tied, wanted):
        neighbours = np.concatenate([sure, np.asarray(chosen, dtype=np.int64)])
        answer = _answer(search, kind, neighbours, distances[neighbours], len(fitted))
        key = b"".join(np.asarray(a).tobytes() for a in answer)
        if key not in seen:
            seen.add(key)
            answers.append(answer)
    return answers if len(answers) > 1 else []


def _answer(search: Any, kind: str, neighbours: Any, distances: Any, fitted: int) -> list[Any]:
    """What scikit-learn answers for a row whose neighbours are ``neighbours`` at ``distances``."""
    import numpy as np

    if kind == "KNeighborsTransformer":
        graph = np.zeros(fitted)
        graph[neighbours] = distances if search.mode == "distance" else 1.0
        return [graph]
    weights = np.ones(len(neighbours))
    if search.weights == "distance":  # 1/d, or only the neighbours at distance 0 where there are some
        at_zero = distances == 0
        weights = at_zero.astype(np.float64) if at_zero.any() else 1.0 / distances
    targets = np.asarray(search._y)[neighbours]
    if kind == "KNeighborsRegressor":
        weighted = (targets * weights.reshape((-1,) + (1,) * (targets.ndim - 1))).sum(axis=0)
        return [weighted / weights.sum()]
    proba = np.zeros(len(search.classes_))
    np.add.at(proba, targets, weights)
    proba /= proba.sum() if proba.sum() != 0 else 1.0
    return [np.asarray(search.classes_)[int(np.argmax(proba))], proba]
