"""Ties among nearest neighbours. When the k-th nearest training row is as near as the next one, a
k-nearest-neighbour answer is not one answer: scikit-learn keeps the tied rows its tree search meets
first, an ONNX file's TopK the lowest training index. On iris (decimal data, duplicate rows) 1 of 150
rows of KNeighborsClassifier() and 8 of KNeighborsTransformer() are such rows, and parity failed
correct files on them.

:func:`tied_answers` gives, for one row, every answer a k-nearest-neighbour search gives when the tie
is broken each possible way, computed as scikit-learn computes its answer from a neighbour set (its
weights, its probability normaliser, its graph); parity accepts a differing row only when the file's
answer is one of them. Anything else (a row without a tie, a metric or weighting not followed here) gives no
answers, and the row stays a mismatch."""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator, Sequence
from typing import Any

#: The most answers of one row's tie-breaks that are made (the file's own first: :func:`tied_answers`).
MOST_TIE_BREAKS = 256

#: How near to the k-th distance a training row is tied with it (relative: the same distance reached from
#: different coordinates differs by a few ulps).
TIE_RTOL = 1e-9
#: The same for a file computing its distances in float32: two training rows nearer than this are one distance
#: there (float32 holds about 7 digits, and a dozen squared differences summed lose one). The search bisects onto
#: such rows: wine's 5th and 6th neighbours 4.25607792 and 4.25607798 apart in float64 were one float32 distance,
#: and the file's pick of the other failed the gate (helper-83).
TIE_RTOL_FLOAT32 = 1e-6

#: How many training rows past the k-th nearest are looked at for a tie.
TIE_LOOKAHEAD = 16
#: How many neighbours of a row are read at most when its tie runs past :data:`TIE_LOOKAHEAD` (the tie-breaks
#: of a row tied with more are made from those read: each is right, but not every one is made).
MOST_TIED_READ = 1024

NEIGHBOUR_KINDS = ("KNeighborsClassifier", "KNeighborsRegressor", "KNeighborsTransformer")


def last_step(model: Any) -> tuple[Any, Any]:
    """``(steps_before, estimator)``: a pipeline's steps before its last (a pipeline, or None) and its last,
    else ``(None, model)``; a fitted search read as its best estimator."""
    from sklearn.pipeline import Pipeline

    from onnxgate.converters._sklearn_models import searched

    model = searched(model, {})[0]
    if not isinstance(model, Pipeline):
        return None, model
    return (model[:-1] if len(model.steps) > 1 else None), searched(model.steps[-1][1], {})[0]


def neighbour_step(model: Any) -> tuple[Any, Any] | None:
    """``(steps_before, search)`` for a k-nearest-neighbour estimator alone or at the end of a pipeline
    (``steps_before`` a pipeline of the steps before it, or None), else None."""
    before, model = last_step(model)
    if type(model).__name__ not in NEIGHBOUR_KINDS or not hasattr(model, "_fit_X"):
        return None
    if model.effective_metric_ == "precomputed" or callable(getattr(model, "weights", "uniform")):
        return None
    return before, model


def tied_answers(search: Any, rows: Any, rtol: float = TIE_RTOL) -> list[Iterator[list[Any]] | None]:
    """For each of ``rows`` (what ``search``, a fitted KNeighbors* estimator, reads), each distinct answer
    over the ways its k-th neighbour's tie can be broken, as the outputs skl2onnx writes for it:
    ``[label, probabilities]`` for a classifier, ``[prediction]`` for a regressor, ``[graph row]`` for a
    transformer, made one at a time as they are read, the file's own first: the tied training rows of lowest
    index, which an ONNX TopK keeps. At most :data:`MOST_TIE_BREAKS` answers a row. None for a row without a tie.

    The neighbours come from the estimator's own search (its tree), :data:`TIE_LOOKAHEAD` past the k-th, so a
    row costs what scikit-learn's ``kneighbors`` costs, not a pass over the training rows; a row whose tie runs
    past them (whole-number features: 32 training rows at the 5th distance) reads twice as many, until the
    last one read is past the tie (at most :data:`MOST_TIED_READ`). ``rtol``: how near a distance is to the k-th to be
    tied with it (:data:`TIE_RTOL`, :data:`TIE_RTOL_FLOAT32`)."""
    import numpy as np

    kind = type(search).__name__
    y = getattr(search, "_y", None)
    rows = np.asarray(rows, dtype=np.float64)
    # one label per row, or one per label column of a multi-label fit (its probabilities side by side, as the
    # file's): on iris with two label columns, row 77's 5th and 6th neighbours tied and parity failed the file
    if len(rows) == 0 or (kind == "KNeighborsClassifier" and (y is None or np.ndim(y) not in (1, 2))):
        return [None for _ in rows]
    k = int(search.n_neighbors) + (1 if kind == "KNeighborsTransformer" and search.mode == "distance" else 0)
    fitted = int(search.n_samples_fit_)
    if k > fitted:
        return [None for _ in rows]
    wanted = min(k + TIE_LOOKAHEAD, fitted)
    distances, indices = search.kneighbors(rows, n_neighbors=wanted)
    kth = distances[:, k - 1]
    reach = kth + rtol * kth
    # each row's neighbours up to its last tied one (a copy: the rest of a wide read is let go)
    found: list[tuple[Any, Any]] = [(d[:n].copy(), i[:n].copy()) for d, i, n in
                                    zip(distances, indices, (distances <= reach[:, None]).sum(axis=1))]
    past = np.flatnonzero(distances[:, -1] <= reach)  # the tie may run past those read
    while wanted < min(fitted, MOST_TIED_READ) and len(past):
        wanted = min(2 * wanted, fitted, MOST_TIED_READ)  # twice as many, until the last read is past the tie
        still = []
        for start in range(0, len(past), max(1, 2 ** 20 // wanted)):  # a few MB at a time
            part = past[start:start + max(1, 2 ** 20 // wanted)]
            d_more, i_more = search.kneighbors(rows[part], n_neighbors=wanted)
            for row, d, i in zip(part, d_more, i_more):
                n = int((d <= reach[row]).sum())
                found[row] = (d[:n].copy(), i[:n].copy())
                if n == wanted:
                    still.append(row)
        past = np.asarray(still, dtype=np.int64)
    return [_row_answers(search, kind, k, d, i, fitted, rtol) for d, i in found]


def _row_answers(search: Any, kind: str, k: int, distances: Any, indices: Any, fitted: int,
                 rtol: float) -> Iterator[list[Any]] | None:
    """One row's answers over its tie-breaks (:func:`tied_answers`), made one at a time as they are read
    (a transformer's answer is a row as wide as the training set). Tied rows whose answer is the same
    (a classifier's of one class, a regressor's of one target) are one choice, so a row tied with 32 training
    rows of 3 classes has at most 21 answers, not the 201,376 ways to pick 5 of them."""
    import numpy as np

    if len(distances) < k:
        return None
    kth = float(distances[k - 1])
    tol = rtol * kth
    tied_mask = np.abs(distances - kth) <= tol
    sure, sure_d = indices[distances < kth - tol], distances[distances < kth - tol]
    order = np.argsort(indices[tied_mask], kind="stable")  # the lowest training rows first, as TopK keeps them
    tied, tied_d = indices[tied_mask][order], distances[tied_mask][order]
    wanted = k - len(sure)
    if len(tied) <= wanted:
        return None
    y = None if kind == "KNeighborsTransformer" else np.asarray(search._y)
    picks: Iterator[Sequence[int]]
    if y is None:  # a transformer's graphs differ by the neighbours chosen: each its own
        picks = itertools.combinations(range(len(tied)), wanted)
    else:
        targets = y[tied]
        keys = targets.tolist() if targets.ndim == 1 else [t.tobytes() for t in targets]
        groups: dict[Any, list[int]] = {}
        for at, key in enumerate(keys):
            groups.setdefault(key, []).append(at)  # in index order: a group's first rows are its lowest
        if len(groups) == len(tied):  # every tied row its own answer: the ways to pick are the choices
            picks = itertools.combinations(range(len(tied)), wanted)
        else:
            place = {key: group for group, key in enumerate(groups)}
            picks = _picks(list(groups.values()), [place[key] for key in keys[:wanted]])

    def each() -> Iterator[list[Any]]:
        for chosen in itertools.islice(picks, MOST_TIE_BREAKS):
            at = np.asarray(chosen, dtype=np.int64)
            yield _answer(search, kind, np.concatenate([sure, tied[at]]), np.concatenate([sure_d, tied_d[at]]),
                          fitted)

    return each()


def _picks(groups: list[list[int]], first: list[int]) -> Iterator[list[int]]:
    """Which of the tied rows to take (their places in ``groups``, each group's rows interchangeable), one way
    for each distinct count taken from each group: the way ``first`` (the group of each of the lowest rows)
    takes first, a group's lowest rows taken first."""
    taken = [0] * len(groups)
    for group in first:
        taken[group] += 1
    for counts in _counts_first(taken, [len(g) for g in groups]):
        yield [row for group, count in enumerate(counts) if count for row in groups[group][:count]]


def _counts_first(first: list[int], sizes: list[int]) -> Iterator[tuple[int, ...]]:
    """``first``, then every other way to take ``sum(first)`` items from groups of ``sizes`` (how many from
    each), the earlier groups' largest takes first; made one at a time (a tie may hold hundreds of groups)."""
    yield tuple(first)
    total, n = sum(first), len(sizes)
    after = [0] * n  # how many the groups after each can give
    for i in range(n - 2, -1, -1):
        after[i] = after[i + 1] + sizes[i + 1]
    counts = [0] * n

    def fill(start: int, remaining: int) -> None:
        for j in range(start, n):
            counts[j] = min(sizes[j], remaining)
            remaining -= counts[j]

    fill(0, total)
    while True:
        if counts != first:
            yield tuple(counts)
        # the last group that can give one to the groups after it
        moved = counts[n - 1]
        for i in range(n - 2, -1, -1):
            if counts[i] and after[i] >= moved + 1:
                counts[i] -= 1
                fill(i + 1, moved + 1)
                break
            moved += counts[i]
        else:
            return


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
    if targets.ndim == 2:  # several label columns (a multi-label fit): each its own vote, side by side as the file's
        per_target = [_voted(classes, column, weights) for classes, column in zip(search.classes_, targets.T,
                                                                                 strict=True)]
        return [np.asarray([label for label, _ in per_target]), np.concatenate([proba for _, proba in per_target])]
    return list(_voted(search.classes_, targets, weights))


def _voted(classes: Any, targets: Any, weights: Any) -> tuple[Any, Any]:
    """``(label, probabilities)`` of one target whose neighbours hold the class positions ``targets``, weighed
    ``weights``, as scikit-learn's ``predict_proba`` and ``predict`` compute them."""
    import numpy as np

    proba = np.zeros(len(classes))
    np.add.at(proba, targets, weights)
    proba /= proba.sum() if proba.sum() != 0 else 1.0
    return np.asarray(classes)[int(np.argmax(proba))], proba


# -- ties among a KNNImputer's donors

def imputer_step(model: Any) -> tuple[Any, Any] | None:
    """``(steps_before, imputer)`` for a KNNImputer of scikit-learn's own metric and weights, alone or at the end
    of a pipeline, else None."""
    before, model = last_step(model)
    if type(model).__name__ != "KNNImputer" or not hasattr(model, "_fit_X"):
        return None
    if model.metric != "nan_euclidean" or model.weights not in ("uniform", "distance"):
        return None
    return before, model


def imputed_answers(imputer: Any, rows: Any, rtol: float = TIE_RTOL) -> list[Iterator[list[Any]] | None]:
    """For each of ``rows`` (what ``imputer``, a fitted KNNImputer, reads), each distinct ``[imputed row]`` over
    the ways the ties among each missing value's donors at the ``n_neighbors``-th distance can be broken, the
    lowest donors first (a TopK's, the file's), at most :data:`MOST_TIE_BREAKS`; None for a row without such a
    tie. scikit-learn's ``argpartition`` keeps either of two donors at one distance: on whole numbers 94 of 200
    rows imputed otherwise than the file's TopK. Computed as ``transform`` computes a value from its donors: the
    donors' mean, or weighed ``1 / distance`` (only those at distance 0 where there are some); the distances in
    float64, as the file computes them.

    A KNNImputer fitted on float32 rows weighing its donors by distance computes their distances in float32
    (scikit-learn keeps both sides' float32): a near donor's distance is rounding noise there, ``1 / noise`` its
    weight, and a value imputed from wine-like rows came out 1.5 off scikit-learn's own answer on the same rows in
    float64, which the file (computing in double) gives. Such a row's answers include that float64 answer, even
    without a tie. That float32 answer cannot be written exactly: its noise is numpy's summation order."""
    import numpy as np
    from sklearn.metrics.pairwise import nan_euclidean_distances

    rows = np.asarray(rows, dtype=np.float64)
    if len(rows) == 0:
        return []
    fit = np.asarray(imputer._fit_X, dtype=np.float64)
    fit_missing = np.asarray(imputer._mask_fit_X, dtype=bool)
    missing_values = imputer.missing_values
    missing = np.isnan(rows) if isinstance(missing_values, float) and np.isnan(missing_values) else \
        rows == missing_values
    distances = nan_euclidean_distances(rows, fit, missing_values=missing_values)
    kept = np.ones(fit.shape[1], dtype=bool) if imputer.keep_empty_features else np.asarray(imputer._valid_mask)
    at_output = np.cumsum(kept) - 1
    base = np.asarray(imputer.transform(rows), dtype=np.float64)  # in float64: rows and donors read as float64
    float32_distances = imputer.weights == "distance" and np.asarray(imputer._fit_X).dtype == np.float32
    answers: list[Iterator[list[Any]] | None] = []
    for r in range(len(rows)):
        options = []  # (output column, its values over the tie-breaks) for each tied missing value
        for col in np.flatnonzero(missing[r] & np.asarray(imputer._valid_mask)):
            donors = np.flatnonzero(~fit_missing[:, col])
            values = _imputed_values(imputer, distances[r, donors], fit[donors, col], rtol)
            if values is not None:
                options.append((int(at_output[col]), values))
        if options:
            answers.append(_imputed_rows(base[r], options))
        elif float32_distances:
            answers.append(iter([[base[r]]]))
        else:
            answers.append(None)
    return answers


def _imputed_values(imputer: Any, distances: Any, values: Any, rtol: float) -> list[float] | None:
    """A missing value's imputations over the ways its donors (``distances`` away, holding ``values``, in
    training order) tied at the ``n_neighbors``-th distance can be broken, the lowest donors' first; None without
    such a tie."""
    import numpy as np

    n = min(int(imputer.n_neighbors), len(distances))
    far = np.where(np.isnan(distances), np.inf, distances)  # no shared feature: last, and weighs 0
    if n == 0 or not np.isfinite(far).any():
        return None
    kth = float(np.sort(far, kind="stable")[n - 1])
    if not np.isfinite(kth):
        return None  # every donor at a distance is among the nearest: one answer
    tol = rtol * kth
    sure = np.flatnonzero(far < kth - tol)
    tied = np.flatnonzero(np.abs(far - kth) <= tol)  # in training order: the lowest donors first
    wanted = n - len(sure)
    if len(tied) <= wanted:
        return None
    keys = values[tied].tolist()
    groups: dict[Any, list[int]] = {}
    for at, key in enumerate(keys):
        groups.setdefault(key, []).append(at)
    if len(groups) == 1:
        return None
    place = {key: group for group, key in enumerate(groups)}
    found: list[float] = []
    for chosen in itertools.islice(_picks(list(groups.values()), [place[key] for key in keys[:wanted]]),
                                   MOST_TIE_BREAKS):
        donors = np.concatenate([sure, tied[np.asarray(chosen, dtype=np.int64)]])
        weights = np.ones(len(donors))
        if imputer.weights == "distance":
            at_zero = far[donors] == 0
            weights = at_zero.astype(np.float64) if at_zero.any() else 1.0 / far[donors]
        value = float(np.sum(values[donors] * weights) / np.sum(weights))
        if value not in found:
            found.append(value)
    return found if len(found) > 1 else None


def _imputed_rows(base: Any, options: list[tuple[int, list[float]]]) -> Iterator[list[Any]]:
    """``base`` (scikit-learn's imputed row) with each tied value set each way, every value's first way first."""
    import numpy as np

    for picked in itertools.islice(itertools.product(*(values for _, values in options)), MOST_TIE_BREAKS):
        row = np.array(base, copy=True)
        for (column, _), value in zip(options, picked):
            row[column] = value
        yield [row]


# -- ties among a support vector classifier's one-against-one votes

#: How near to 0 a pairwise decision is a tie, relative to the row's largest: the boundary search bisects onto
#: rows where it is 1e-10 (digits), and the file, summing the kernels in another order, votes the other way.
VOTE_TIE_RTOL = 1e-7
#: The same for a file computing in float32.
VOTE_TIE_RTOL_FLOAT32 = 1e-4
#: The most pairwise decisions of one row looked at as tied (2**8 ways to vote).
MOST_TIED_VOTES = 8


def vote_step(model: Any) -> tuple[Any, Any] | None:
    """``(steps_before, svc)`` for an SVC or NuSVC of three or more classes, alone or at the end of a pipeline,
    whose file answers its one-against-one votes (no probabilities, ``decision_function_shape='ovr'``)."""
    before, model = last_step(model)
    if type(model).__name__ not in ("SVC", "NuSVC") or len(getattr(model, "classes_", ())) < 3:
        return None
    # scikit-learn 1.9 deprecates `probability` (a truthy "deprecated" by default): predict_proba says it
    if hasattr(model, "predict_proba") or model.decision_function_shape != "ovr" or model.break_ties:
        return None
    return before, model


def tied_votes(svc: Any, rows: Any, rtol: float = VOTE_TIE_RTOL) -> list[list[list[Any]] | None]:
    """For each of ``rows`` (what ``svc`` reads) with a pairwise decision within ``rtol`` of 0, each
    ``[label, ovr scores]`` the classifier answers when each such pair votes either way, computed as
    scikit-learn computes them from the pairwise decisions (``_ovr_decision_function``; the label is the
    first most voted class, as libsvm picks it). None for a row without such a pair or with more than
    :data:`MOST_TIED_VOTES` of them."""
    import copy

    import numpy as np
    from sklearn.utils.multiclass import _ovr_decision_function

    pairwise = copy.copy(svc)  # the user's model is not changed
    pairwise.decision_function_shape = "ovo"
    decisions = np.asarray(pairwise.decision_function(rows), dtype=np.float64)
    classes = svc.classes_
    n = len(classes)
    answers: list[list[list[Any]] | None] = []
    for d in decisions:
        near = np.flatnonzero(np.abs(d) <= rtol * max(1.0, float(np.abs(d).max())))
        if not len(near) or len(near) > MOST_TIED_VOTES:
            answers.append(None)
            continue
        found = []
        for flips in itertools.product((False, True), repeat=len(near)):
            against = d < 0
            against[near] ^= np.asarray(flips)
            scores = _ovr_decision_function(against[None], -d[None], n)[0]
            votes = np.zeros(n)
            pair = 0
            for i in range(n):
                for j in range(i + 1, n):
                    votes[j if against[pair] else i] += 1
                    pair += 1
            found.append([classes[int(np.argmax(votes))], scores])
        answers.append(found)
    return answers


# -- ties inside an ensemble: a nearest-neighbour or voting estimator nested in a stacking, voting or
# one-against-rest model (or a pipeline inside one)

#: The estimators :func:`tie_switches` follows when nested, and the methods it answers for them.
SWITCHED_METHODS = {
    "KNeighborsClassifier": ("predict", "predict_proba"),
    "KNeighborsRegressor": ("predict",),
    "SVC": ("predict", "decision_function"),
    "NuSVC": ("predict", "decision_function"),
    "KNNImputer": ("transform",),
}


class TieSwitch:
    """One nested estimator whose answer for a row may be one of several (:func:`tied_answers`,
    :func:`tied_votes`, a KNNImputer's :func:`imputed_answers`), its methods replaced on a copy of the model by
    ones answering the tie-break ``choice`` picks (0: the first). ``count`` is how many answers the last row
    read has (1: no tie)."""

    def __init__(self, estimator: Any, votes: bool, float32: bool) -> None:
        self.estimator = estimator
        self.votes = votes
        self.rtol = (VOTE_TIE_RTOL_FLOAT32 if float32 else VOTE_TIE_RTOL) if votes else (
            TIE_RTOL_FLOAT32 if float32 else TIE_RTOL)
        self.choice = 0
        self.count = 1
        self._answers: dict[bytes, list[list[Any]] | None] = {}
        self._own = {method: getattr(estimator, method) for method in SWITCHED_METHODS[type(estimator).__name__]}
        for method in self._own:
            setattr(estimator, method, self._switched(method))

    def _options(self, rows: Any) -> list[list[Any]] | None:
        import numpy as np

        rows = np.asarray(rows, dtype=np.float64)
        key = rows.tobytes()
        if key not in self._answers:
            found = None
            # the estimator's own methods while its answers are worked out: tied_votes copies it and asks its
            # decision_function, which came back here without end (RecursionError; helper-100)
            switched = {method: self.estimator.__dict__.pop(method) for method in self._own
                        if method in self.estimator.__dict__}
            try:
                found = self._worked_out(rows)
            finally:
                self.estimator.__dict__.update(switched)
            self._answers[key] = found if found is not None and 1 < len(found) <= MOST_TIE_BREAKS else None
        return self._answers[key]

    def _worked_out(self, rows: Any) -> list[list[Any]] | None:
        if len(rows) != 1:
            return None
        if self.votes:
            return tied_votes(self.estimator, rows, self.rtol)[0]
        imputes = type(self.estimator).__name__ == "KNNImputer"
        each = (imputed_answers if imputes else tied_answers)(self.estimator, rows, self.rtol)[0]
        return None if each is None else list(itertools.islice(each, MOST_TIE_BREAKS + 1))

    def _switched(self, method: str) -> Any:
        import numpy as np

        own = self._own[method]

        def answer(rows: Any, *args: Any, **kwargs: Any) -> Any:
            options = None if args or kwargs or hasattr(rows, "tocsr") else self._options(rows)
            self.count = 1 if options is None else len(options)
            if options is None:
                return own(rows, *args, **kwargs)
            picked = options[min(self.choice, len(options) - 1)]
            if method in ("predict", "transform"):  # transform: a KNNImputer's imputed row
                return np.asarray(picked[0]).reshape((1, *np.shape(picked[0])))
            return np.asarray(picked[1])[None]  # predict_proba, decision_function

        return answer


#: The most differing rows of one batch whose nested ties are worked out: each costs the ensemble's own
#: predict per tie-break, and a wrong file differs on many rows (4,096 rows of one batch took 19 s; helper-100).
MOST_NESTED_TIE_ROWS = 16


def nested_tie_estimators(model: Any) -> list[tuple[Any, bool]]:
    """``(estimator, votes)`` for every nearest-neighbour classifier or regressor, every voting SVC
    (:func:`vote_step`) and every KNNImputer (:func:`imputer_step`), nested in ``model``. The model itself, or a
    pipeline's last step, is not among them: its ties are answered whole. A KNNImputer before other steps
    (``make_pipeline(KNNImputer(), Ridge())``): a row whose donors tie at the n-th distance failed validate,
    5.0 off on 1 of 111 diabetes rows, though the imputer alone passed with that row counted as a tie."""
    from onnxgate.converters._sklearn_models import sub_estimators

    top = last_step(model)[1]
    found = []
    for est in sub_estimators(model):
        if est is model or est is top or type(est).__name__ not in SWITCHED_METHODS:
            continue
        if type(est).__name__ in NEIGHBOUR_KINDS:
            if neighbour_step(est) is not None:
                found.append((est, False))
        elif type(est).__name__ == "KNNImputer":
            if imputer_step(est) is not None:
                found.append((est, False))
        elif vote_step(est) is not None:
            found.append((est, True))
    return found


def tie_switches(model: Any, float32: bool) -> list[TieSwitch]:
    """Switches (:class:`TieSwitch`) on :func:`nested_tie_estimators` of ``model``, a copy the caller owns (its
    methods are replaced)."""
    return [TieSwitch(est, votes=votes, float32=float32) for est, votes in nested_tie_estimators(model)]


def each_tie_break(switches: list[TieSwitch], run: Any) -> list[Any] | None:
    """``run()`` (the copy's outputs for one row) once for each way the row's nested ties can be broken
    together, or None when the row has no tie, or more than :data:`MOST_TIE_BREAKS` ways."""
    for switch in switches:
        switch.choice, switch.count = 0, 1
    first = run()
    counts = [switch.count for switch in switches]
    if all(count == 1 for count in counts) or math.prod(counts) > MOST_TIE_BREAKS:
        return None
    answers = [first]
    for picks in itertools.islice(itertools.product(*(range(count) for count in counts)), 1, None):
        for switch, pick in zip(switches, picks):
            switch.choice = pick
        answers.append(run())
    return answers
