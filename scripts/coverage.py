"""Coverage of onnxgate against the raw converters: ``docs/coverage.md`` and ``docs/coverage.json``.

Every case is converted twice, with ``onnxgate.convert`` and with the raw converter a user would
call without onnxgate (``skl2onnx.to_onnx`` for scikit-learn), at each opset of :data:`OPSETS`.
Both ONNX files are then checked the same way, independently of onnxgate's own validators: run with
onnxruntime on the case's rows, every ONNX output must equal one of the estimator's own answers
(``predict``, ``predict_proba``, ``decision_function``, ``transform``, ``score_samples``; sparse
answers densified, ZipMap outputs read as ``[N, k]``), labels exactly, numbers within
``atol + rtol * |expected|`` (:data:`ATOL`, :data:`RTOL`). ``onnxgate.validate`` also runs on
onnxgate's file and its verdict is recorded next to the independent one, so a false pass shows.

Cases:

* every estimator in ``sklearn.utils.all_estimators()`` that builds with defaults, fitted on a small
  dataset that ships with scikit-learn and suits its kind (:func:`sklearn_cases`); the few whose
  defaults cannot fit such data get the settings in :data:`_SPECIAL_PARAMS`;
* every classifier among them again on two classes (:func:`binary_cases`), whose decision score is also
  taken as skl2onnx lays it out, ``[-d, d]``;
* meta-estimators that need a base estimator (:data:`META_CASES`);
* the boosting libraries (:func:`_boosting_cases`) and deep-learning layers (:func:`_deep_cases`:
  PyTorch modules, Keras layers, a TensorFlow function), each :class:`Case` with its own ``build`` and
  its own raw converter; more rows go in :data:`EXTRA_CASES`.

Run ``python scripts/coverage.py`` (about a minute for the whole table) to rewrite both files;
``--only NAME ...`` runs some cases and prints their rows without writing. The test
``tests/converters/test_sklearn_coverage.py`` fails when ``docs/coverage.md`` is not what the JSON
renders to, when the estimators scikit-learn lists changed, or when a case recorded ok is not ok.
"""

from __future__ import annotations

import argparse
import functools
import json
import sys
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DOCS_MD = ROOT / "docs" / "coverage.md"
DOCS_JSON = ROOT / "docs" / "coverage.json"

#: Opsets each case is converted at.
OPSETS: tuple[int, ...] = (13, 17)
#: Tolerances of the independent check (float32 computations against float64 estimators).
ATOL = 1e-3
RTOL = 1e-3
#: Rows the conversion sample takes from the case's data.
SAMPLE_ROWS = 5
OK = "ok"

Built = tuple[Any, Any]  # (fitted model, rows)


@dataclass(frozen=True)
class Case:
    """One row of the table.

    ``build`` returns the fitted model and the rows to check it on (the first
    :data:`SAMPLE_ROWS` are the conversion sample). ``raw`` converts without onnxgate:
    ``raw(model, sample, opset) -> onnx.ModelProto``. ``predict`` returns the model's own
    answers as a dict of candidate arrays (default: :func:`native_answers`).
    """

    name: str
    section: str
    build: Callable[[], Built]
    raw: Callable[[Any, Any, int], Any]
    raw64: Callable[[Any, Any, int], Any] | None = None
    predict: Callable[[Any, Any], dict[str, Any]] | None = None
    note: str = field(default="", compare=False)
    #: Opsets this case is converted at besides the table's (PyTorch's at 18, where the dynamo exporter's
    #: own default lies, as the outside measurement asks).
    extra_opsets: tuple[int, ...] = ()


# --- data ------------------------------------------------------------------------------------------


def _iris() -> tuple[Any, Any]:
    from sklearn.datasets import load_iris

    return load_iris(return_X_y=True)


def _diabetes() -> tuple[Any, Any]:
    from sklearn.datasets import load_diabetes

    X, y = load_diabetes(return_X_y=True)
    return X[:200], y[:200]


CORPUS = [
    "the cat sat on the mat", "a dog ate my homework", "the dog and the cat", "onnx runs models",
    "models run in sql", "a cat is not a dog", "homework for the dog", "sql scores rows",
]


# --- raw converters --------------------------------------------------------------------------------


def raw_skl2onnx(model: Any, sample: Any, opset: int) -> Any:
    """``skl2onnx.to_onnx`` as its documentation calls it: a float32 sample fixes the input (other
    dtypes as they are); ZipMap off where the converter accepts the option."""
    import numpy as np

    array = np.asarray(sample) if not hasattr(sample, "columns") else None
    if array is not None and array.dtype.kind == "f":
        sample = array.astype(np.float32)
    return raw_skl2onnx_as_given(model, sample, opset)


def raw_skl2onnx_as_given(model: Any, sample: Any, opset: int) -> Any:
    """``skl2onnx.to_onnx`` with the sample exactly as given (float64 data gives a double graph)."""
    import skl2onnx

    from onnxgate._onnx import ml_opset_for

    options: dict[Any, Any] = {}
    try:
        options = {id(model): {"zipmap": False}} if "zipmap" in _allowed_options(model) else {}
    except Exception:
        options = {}
    return skl2onnx.to_onnx(
        model, sample, target_opset={"": opset, "ai.onnx.ml": ml_opset_for(opset)}, options=options or None
    )


def _allowed_options(model: Any) -> Any:
    from skl2onnx._supported_operators import sklearn_operator_name_map
    from skl2onnx.common._registration import get_converter

    return get_converter(sklearn_operator_name_map[type(model)]).get_allowed_options() or {}


# --- the estimator's own answers and the independent check ----------------------------------------


def native_answers(model: Any, X: Any) -> dict[str, Any]:
    """Every answer the model gives on ``X``, dense, by method name."""
    import numpy as np

    answers: dict[str, Any] = {}
    for method in ("predict", "predict_proba", "decision_function", "transform", "score_samples"):
        fn = getattr(model, method, None)
        if fn is None:
            continue
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                value = fn(X)
        except Exception:
            continue
        if hasattr(value, "toarray"):
            value = value.toarray()
        answers[method] = np.asarray(value)
        if method == "decision_function" and answers[method].ndim == 1 and len(getattr(model, "classes_", ())) == 2:
            # skl2onnx's layout of a binary classifier's one score, as scores of the two classes
            answers["decision_function as [-d, d]"] = np.stack([-answers[method], answers[method]], axis=1)
    return answers


def _feeds(session: Any, X: Any) -> dict[str, Any]:
    import numpy as np

    from onnxgate._data import is_dataframe

    dtypes = {
        "tensor(float)": np.float32, "tensor(double)": np.float64, "tensor(int64)": np.int64,
        "tensor(int32)": np.int32, "tensor(string)": object, "tensor(bool)": np.bool_,
    }
    inputs = session.get_inputs()
    feeds = {}
    for i, spec in enumerate(inputs):
        if is_dataframe(X):
            if len(inputs) == 1:
                value = X.to_numpy()
            else:  # one input per column, in column order (names may be sanitised: a b -> a_b)
                value = (X[spec.name] if spec.name in X.columns else X.iloc[:, i]).to_numpy()
        else:
            value = np.asarray(X)
            if len(inputs) > 1:
                value = value[:, i]
        rank = len(spec.shape)
        if value.ndim == 1 and rank == 2:
            value = value.reshape(-1, 1)
        feeds[spec.name] = value.astype(dtypes.get(spec.type, np.float32))
    return feeds


def check_onnx(proto: Any, answers: Mapping[str, Any], X: Any, model: Any = None) -> str:
    """``"ok"`` when every output of ``proto`` run on ``X`` equals one of the estimator's answers (for a
    k-nearest-neighbour ``model``, on a row whose k-th neighbour is tied, the answer of another
    tie-break: :func:`_ties_explain`)."""
    import numpy as np
    import onnxruntime as ort

    try:
        session = ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
    except Exception as err:
        return "onnxruntime cannot load it: " + _first_line(err)
    try:
        values = session.run(None, _feeds(session, X))
    except Exception as err:
        return "onnxruntime cannot run it: " + _first_line(err)
    if not answers:
        return "the estimator gives no answer to compare with"
    for out, value in zip(session.get_outputs(), values):
        if isinstance(value, list) and value and isinstance(value[0], dict):
            keys = sorted(value[0])
            value = [[row[k] for k in keys] for row in value]
        got = np.asarray(value)
        verdicts = [_compare(got, want) for want in answers.values()]
        if OK not in verdicts and model is not None and any(_ties_explain(model, X, got, method, want)
                                                            for method, want in answers.items()):
            continue
        if OK not in verdicts:
            values = [v for v in verdicts if not v.startswith("shape")] or verdicts
            best = min(values, key=len)
            return f"output {out.name!r} matches no answer of the estimator ({best})"
    return OK


def _ties_explain(model: Any, X: Any, got: Any, method: str, want: Any) -> bool:
    """Whether every row where ``got`` differs from ``model``'s answer ``want`` (of ``method``) is a row
    whose k-th nearest training row is tied with the next, and ``got`` is what scikit-learn answers
    from one choice of the tied rows: each choice is answered by the same estimator fitted on exactly
    the row's neighbours (this script's own check, apart from onnxgate's tie handling)."""
    import itertools

    import numpy as np
    from sklearn.base import clone

    kind = type(model).__name__
    if kind not in ("KNeighborsClassifier", "KNeighborsRegressor", "KNeighborsTransformer"):
        return False
    X = np.asarray(X, dtype=np.float64)
    n = len(X)
    g, w = np.asarray(got).reshape(n, -1), np.asarray(want).reshape(n, -1)
    if g.shape != w.shape or g.dtype.kind not in "iuf":
        return False
    rows = np.flatnonzero(~np.isclose(g.astype(np.float64), w.astype(np.float64), atol=ATOL, rtol=RTOL).all(axis=1))
    graph = kind == "KNeighborsTransformer"
    k = model.n_neighbors + (1 if graph and model.mode == "distance" else 0)
    fitted = model._fit_X
    y = getattr(model, "_y", None)
    for row in rows:
        distances, order = model.kneighbors(X[row:row + 1], n_neighbors=len(fitted))
        distances, order = distances[0], order[0]
        kth = distances[k - 1]
        sure = order[distances < kth * (1 - 1e-9)]
        tied = order[np.abs(distances - kth) <= kth * 1e-9]
        if len(sure) + len(tied) <= k:
            return False
        for chosen in itertools.islice(itertools.combinations(tied, k - len(sure)), 2000):
            neighbours = np.concatenate([sure, chosen])
            alone = clone(model).set_params(n_neighbors=k - 1 if graph and model.mode == "distance" else k)
            if graph:
                alone.fit(fitted[neighbours])
                answer = np.zeros(len(fitted))
                answer[neighbours] = alone.transform(X[row:row + 1]).toarray()[0]
            else:
                alone.fit(fitted[neighbours], np.asarray(y)[neighbours] if kind == "KNeighborsRegressor"
                          else np.asarray(model.classes_)[np.asarray(y)[neighbours]])
                if method == "predict_proba" and kind == "KNeighborsClassifier":
                    full = np.zeros(len(model.classes_))
                    full[np.searchsorted(model.classes_, alone.classes_)] = alone.predict_proba(X[row:row + 1])[0]
                    answer = full
                else:
                    answer = np.asarray(getattr(alone, method)(X[row:row + 1]))
            if np.allclose(g[row].astype(np.float64), np.asarray(answer, dtype=np.float64).reshape(-1),
                           atol=ATOL, rtol=RTOL):
                break
        else:
            return False
    return len(rows) > 0


def _compare(got: Any, want: Any) -> str:
    import numpy as np

    n = len(want) if want.ndim else 0
    if got.ndim == 0 or n == 0 or got.shape[0] != n:
        return f"shape {list(got.shape)} vs {list(want.shape)}"
    g = got.reshape(n, -1)
    w = want.reshape(n, -1)
    if g.shape != w.shape:
        return f"shape {list(got.shape)} vs {list(want.shape)}"
    if g.dtype.kind in "OUSb" or w.dtype.kind in "OUSb":
        bad = int(np.sum(np.any(g.astype(str) != w.astype(str), axis=1)))
        return OK if bad == 0 else f"{bad}/{n} labels differ"
    if g.dtype.kind in "iu":
        bad = int(np.sum(np.any(g != w, axis=1)))
        return OK if bad == 0 else f"{bad}/{n} labels differ"
    g = g.astype(np.float64)
    w = w.astype(np.float64)
    close = np.isclose(g, w, atol=ATOL, rtol=RTOL, equal_nan=True)
    if close.all():
        return OK
    diff = np.nanmax(np.abs(g - w))
    return f"max abs diff {diff:.2g} on {int((~close.all(axis=1)).sum())}/{n} rows"


def _first_line(err: BaseException, limit: int = 160) -> str:
    text = str(err).strip().splitlines()
    line = text[0] if text else type(err).__name__
    line = line.replace("|", "/")
    return line if len(line) <= limit else line[: limit - 3] + "..."


# --- cases -----------------------------------------------------------------------------------------

#: Estimators whose data is not a numeric table: name -> (fit rows, fit targets) builder.
_SPECIAL_DATA: dict[str, Callable[[], tuple[Any, Any]]] = {
    "LabelEncoder": lambda: (_iris()[1], None),
    "LabelBinarizer": lambda: (_iris()[1], None),
    "CountVectorizer": lambda: (_corpus(), None),
    "TfidfVectorizer": lambda: (_corpus(), None),
    "HashingVectorizer": lambda: (_corpus(), None),
    "IsotonicRegression": lambda: (_diabetes()[0][:, 2], _diabetes()[1]),
}


def _self_trained() -> Any:
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(max_iter=500)


#: Settings without which an estimator's defaults cannot fit the case's data: one target allows one
#: component, iris's 4 columns are fewer than a random projection's default ('auto', from the row count
#: by the Johnson-Lindenstrauss bound), and SelfTrainingClassifier has no default estimator.
_SPECIAL_PARAMS: dict[str, Callable[[], dict[str, Any]]] = {
    "CCA": lambda: {"n_components": 1},
    "PLSCanonical": lambda: {"n_components": 1},
    "PLSSVD": lambda: {"n_components": 1},
    "GaussianRandomProjection": lambda: {"n_components": 3},
    "SparseRandomProjection": lambda: {"n_components": 3},
    "SelfTrainingClassifier": lambda: {"estimator": _self_trained()},
}


def _corpus() -> Any:
    import numpy as np

    return np.array(CORPUS * 3, dtype=object)


def _fit(est: Any, X: Any, y: Any) -> Any:
    import numpy as np

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if y is None:
            return est.fit(X)
        try:
            return est.fit(X, y)
        except ValueError as err:
            said = str(err).lower()
            if "2d" not in said and "2 dim" not in said and "mono-task" not in said:  # MultiTaskLasso...
                raise
            return est.fit(X, np.c_[y, y * 0.5 + 1.0])


def _configured(name: str, cls: type) -> Any:
    """``cls()`` with the settings its data needs (:data:`_SPECIAL_PARAMS`) and ``random_state=0``."""
    est = cls()
    if name in _SPECIAL_PARAMS:
        est.set_params(**_SPECIAL_PARAMS[name]())
    if "random_state" in est.get_params():
        est.set_params(random_state=0)
    return est


def _sklearn_builder(name: str, cls: type) -> Callable[[], Built]:
    def build() -> Built:
        from sklearn.base import is_classifier, is_regressor

        est = _configured(name, cls)
        if name in _SPECIAL_DATA:
            X, y = _SPECIAL_DATA[name]()
            if name in ("LabelEncoder", "LabelBinarizer"):
                return est.fit(X), X
            return _fit(est, X, y), X
        X, y = _diabetes() if is_regressor(est) else _iris()
        if not (is_classifier(est) or is_regressor(est)):
            # transformers, clusterers and outlier detectors: unsupervised when they can be
            try:
                return _fit(est, X, None), X
            except (TypeError, ValueError):
                pass  # needs y (SelectKBest...)
        return _fit(est, X, y), X

    return build


def sklearn_cases() -> list[Case]:
    """Every estimator of ``all_estimators()`` that builds with its defaults."""
    from sklearn.utils import all_estimators

    cases = []
    for name, cls in all_estimators():
        try:
            cls()
        except Exception:
            continue  # needs arguments: see META_CASES
        cases.append(Case(name, "scikit-learn", _sklearn_builder(name, cls), raw_skl2onnx, raw_skl2onnx_as_given))
    return cases


def _two_irises() -> tuple[Any, Any]:
    """Versicolor against virginica: two classes, labelled 1 and 2, that overlap."""
    X, y = _iris()
    return X[y > 0], y[y > 0]


def _binary_builder(name: str, cls: type) -> Callable[[], Built]:
    def build() -> Built:
        X, y = _two_irises()
        return _fit(_configured(name, cls), X, y), X

    return build


def binary_cases() -> list[Case]:
    """Every classifier of ``all_estimators()`` that builds with its defaults, again on two classes (a
    classifier's binary form is another graph: one decision score, a probability from one sigmoid)."""
    from sklearn.utils import all_estimators

    cases = []
    for name, cls in all_estimators(type_filter="classifier"):
        try:
            cls()
        except Exception:
            continue
        cases.append(Case(f"{name}[binary]", "scikit-learn, two classes", _binary_builder(name, cls), raw_skl2onnx,
                          raw_skl2onnx_as_given))
    return cases


def _meta(factory: Callable[[], Any], data: Callable[[], tuple[Any, Any]] = _iris) -> Callable[[], Built]:
    def build() -> Built:
        X, y = data()
        return _fit(factory(), X, y), X

    return build


def _logreg() -> Any:
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(max_iter=500)


def _frame(loader: str) -> Callable[[], tuple[Any, Any]]:
    def data() -> tuple[Any, Any]:
        import sklearn.datasets

        bunch = getattr(sklearn.datasets, loader)(as_frame=True)
        return bunch.data, bunch.target

    return data


def _meta_cases() -> list[Case]:
    from sklearn import ensemble, feature_selection, multiclass, pipeline, preprocessing

    def sk(name: str, factory: Callable[[], Any], data: Callable[[], tuple[Any, Any]] = _iris) -> Case:
        return Case(name, "scikit-learn, with arguments", _meta(factory, data), raw_skl2onnx, raw_skl2onnx_as_given)

    return [
        sk("RFE(LogisticRegression)", lambda: feature_selection.RFE(_logreg(), n_features_to_select=2)),
        sk("RFECV(LogisticRegression)", lambda: feature_selection.RFECV(_logreg())),
        sk("SelectFromModel(LogisticRegression)", lambda: feature_selection.SelectFromModel(_logreg())),
        sk("OneVsOneClassifier(LogisticRegression)", lambda: multiclass.OneVsOneClassifier(_logreg())),
        sk("OneVsRestClassifier(LogisticRegression)", lambda: multiclass.OneVsRestClassifier(_logreg())),
        sk("VotingClassifier(soft)", lambda: ensemble.VotingClassifier(
            [("lr", _logreg()), ("rf", ensemble.RandomForestClassifier(10, random_state=0))], voting="soft")),
        sk("StackingClassifier", lambda: ensemble.StackingClassifier(
            [("lr", _logreg()), ("rf", ensemble.RandomForestClassifier(10, random_state=0))])),
        sk("Pipeline(StandardScaler, RandomForestClassifier)[breast_cancer]", lambda: pipeline.make_pipeline(
            preprocessing.StandardScaler(), ensemble.RandomForestClassifier(100, random_state=0)),
            _breast_cancer),
        sk("RandomForestClassifier[DataFrame]", lambda: ensemble.RandomForestClassifier(20, random_state=0),
           _frame("load_iris")),
        sk("LogisticRegression[DataFrame]", lambda: _logreg(), _frame("load_breast_cancer")),
        sk("GradientBoostingClassifier[DataFrame]", lambda: ensemble.GradientBoostingClassifier(random_state=0),
           _frame("load_iris")),
        sk("HistGradientBoostingClassifier[DataFrame]",
           lambda: ensemble.HistGradientBoostingClassifier(random_state=0), _frame("load_breast_cancer")),
        sk("HistGradientBoostingClassifier[category columns]",
           lambda: ensemble.HistGradientBoostingClassifier(max_iter=20, random_state=0), _wine_with_zones),
        sk("CalibratedClassifierCV(FrozenEstimator(RandomForestClassifier))", _calibrated_forest),
        sk("HistGradientBoostingRegressor(loss='poisson')[diabetes]",
           lambda: ensemble.HistGradientBoostingRegressor(loss="poisson", max_iter=20, random_state=0), _diabetes),
    ]


def _calibrated_forest() -> Any:
    """What ``cv="prefit"`` was before scikit-learn 1.8: a fitted forest calibrated without refitting it;
    the wrapper is fitted with the case's data (:func:`_meta`)."""
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.frozen import FrozenEstimator

    X, y = _iris()
    return CalibratedClassifierCV(FrozenEstimator(RandomForestClassifier(20, random_state=0).fit(X, y)))


def _wine_with_zones() -> tuple[Any, Any]:
    """Wine's first three measurements and a text category column that tells the classes apart in pairs
    of categories: HistGradientBoosting's category splits are sets there, not thresholds."""
    import numpy as np
    import pandas as pd
    from sklearn.datasets import load_wine

    X, y = load_wine(return_X_y=True, as_frame=True)
    rng = np.random.default_rng(1)
    zone = np.where(y == 0, rng.choice(["c", "g"], len(y)), np.where(y == 1, rng.choice(["a", "i"], len(y)),
                                                                      rng.choice(["e", "b"], len(y))))
    return X.iloc[:, :3].assign(zone=pd.Categorical(zone)), y


def _breast_cancer() -> tuple[Any, Any]:
    from sklearn.datasets import load_breast_cancer

    return load_breast_cancer(return_X_y=True)


#: Boosting libraries and deep-learning layers: ``Case(name, section, build, raw)`` rows. ``raw`` is
#: the library's own exporter (onnxmltools.convert_xgboost, CatBoost's save_model(format="onnx"),
#: torch.onnx.export, tf2onnx...); ``predict`` gives the native answers when ``native_answers`` does
#: not fit (a torch module: ``lambda m, X: {"forward": m(torch.from_numpy(X)).detach().numpy()}``).
EXTRA_CASES: list[Case] = []


def _float_input(sample: Any) -> list[Any]:
    from onnxmltools.convert.common.data_types import FloatTensorType

    return [("input", FloatTensorType([None, int(sample.shape[1])]))]


def raw_xgboost(model: Any, sample: Any, opset: int) -> Any:
    import onnxmltools

    return onnxmltools.convert_xgboost(model, initial_types=_float_input(sample), target_opset=opset)


def raw_lightgbm(model: Any, sample: Any, opset: int) -> Any:
    import onnxmltools

    return onnxmltools.convert_lightgbm(model, initial_types=_float_input(sample), target_opset=opset, zipmap=False)


def raw_catboost(model: Any, sample: Any, opset: int) -> Any:
    import tempfile

    import onnx

    with tempfile.TemporaryDirectory() as folder:
        path = f"{folder}/model.onnx"
        model.save_model(path, format="onnx")
        return onnx.load(path)


def _boosting(name: str, factory: Callable[[], Any], raw: Callable[[Any, Any, int], Any], task: str) -> Case:
    return Case(name, "boosting libraries", _meta(factory, _iris if task == "classification" else _diabetes), raw)


def _boosting_cases() -> list[Case]:
    import importlib.util

    cases = []
    if importlib.util.find_spec("xgboost") and importlib.util.find_spec("onnxmltools"):
        import xgboost

        cases += [
            _boosting("XGBClassifier", lambda: xgboost.XGBClassifier(n_estimators=20, max_depth=3), raw_xgboost,
                      "classification"),
            _boosting("XGBRegressor", lambda: xgboost.XGBRegressor(n_estimators=20, max_depth=3), raw_xgboost,
                      "regression"),
        ]
    if importlib.util.find_spec("lightgbm") and importlib.util.find_spec("onnxmltools"):
        import lightgbm

        cases += [
            _boosting("LGBMClassifier", lambda: lightgbm.LGBMClassifier(n_estimators=20, verbose=-1), raw_lightgbm,
                      "classification"),
            _boosting("LGBMRegressor", lambda: lightgbm.LGBMRegressor(n_estimators=20, verbose=-1), raw_lightgbm,
                      "regression"),
        ]
    if importlib.util.find_spec("catboost"):
        import catboost

        cases += [
            _boosting("CatBoostClassifier", lambda: catboost.CatBoostClassifier(iterations=20, verbose=False),
                      raw_catboost, "classification"),
            _boosting("CatBoostRegressor", lambda: catboost.CatBoostRegressor(iterations=20, verbose=False),
                      raw_catboost, "regression"),
        ]
    return cases


# --- deep-learning layers --------------------------------------------------------------------------

DEEP = "deep-learning layers"


def _digits(shape: tuple[int, ...]) -> Any:
    """300 digits images scaled to [0, 1], float32, each reshaped to ``shape`` (data that ships with
    scikit-learn: no download)."""
    import numpy as np
    from sklearn.datasets import load_digits

    return (load_digits().data[:300] / 16.0).astype(np.float32).reshape(-1, *shape)


def _tokens() -> Any:
    """300 rows of 64 token ids (the digits' pixel values, 0 to 16), int64."""
    import numpy as np
    from sklearn.datasets import load_digits

    return load_digits().data[:300].astype(np.int64)


def _asked_opset(proto: Any, opset: int) -> Any:
    """``proto``, or an error where the exporter wrote another opset than the one asked for (the
    table's raw column then says so: torch.onnx.export's dynamo path keeps 18 below it)."""
    written = next((o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")), None)
    if written != opset:
        raise ValueError(f"wrote opset {written} where opset {opset} was asked for")
    return proto


def raw_torch(model: Any, sample: Any, opset: int) -> Any:
    """``torch.onnx.export`` as its documentation calls it, the batch axis dynamic."""
    import torch

    program = torch.onnx.export(model, (torch.from_numpy(sample),), input_names=["input"],
                                dynamic_axes={"input": {0: "batch"}}, opset_version=opset)
    return _asked_opset(program.model_proto, opset)


def raw_keras(model: Any, sample: Any, opset: int) -> Any:
    """``tf2onnx.convert.from_keras`` with a free batch axis."""
    import tensorflow as tf
    import tf2onnx

    spec = (tf.TensorSpec((None, *sample.shape[1:]), tf.as_dtype(sample.dtype), name="input"),)
    return _asked_opset(tf2onnx.convert.from_keras(model, input_signature=spec, opset=opset)[0], opset)


def raw_tf_function(fn: Any, sample: Any, opset: int) -> Any:
    """``tf2onnx.convert.from_function`` with the function's own input signature."""
    import tf2onnx

    return _asked_opset(tf2onnx.convert.from_function(fn, input_signature=fn.input_signature, opset=opset)[0], opset)


def _torch_answers(model: Any, X: Any) -> dict[str, Any]:
    import torch

    with torch.no_grad():
        return {"forward": model(torch.from_numpy(X)).numpy()}


def _keras_answers(model: Any, X: Any) -> dict[str, Any]:
    import numpy as np

    return {"call": np.asarray(model(X, training=False))}


def _tf_answers(fn: Any, X: Any) -> dict[str, Any]:
    import numpy as np

    return {"call": np.asarray(fn(X))}


def _torch_case(name: str, layers: Callable[[Any], Any], data: Callable[[], Any]) -> Case:
    def build() -> Built:
        import torch

        torch.manual_seed(0)
        return layers(torch.nn).eval(), data()

    return Case(f"torch {name}", DEEP, build, raw_torch, predict=_torch_answers, extra_opsets=(18,))


def _torch_cases() -> list[Case]:
    import torch

    class LastStep(torch.nn.Module):
        """A recurrent layer's output at the last step (the layer returns a tuple)."""

        def __init__(self, recurrent: Any) -> None:
            super().__init__()
            self.recurrent = recurrent

        def forward(self, x: Any) -> Any:
            return self.recurrent(x)[0][:, -1, :]

    class SelfAttention(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.attention = torch.nn.MultiheadAttention(8, 2, batch_first=True)

        def forward(self, x: Any) -> Any:
            return self.attention(x, x, x, need_weights=False)[0]

    class MeanEmbedding(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.embedding = torch.nn.Embedding(17, 6)
            self.head = torch.nn.Linear(6, 3)

        def forward(self, x: Any) -> Any:
            return self.head(self.embedding(x).mean(dim=1))

    def iris() -> Any:
        import numpy as np

        return _iris()[0].astype(np.float32)

    return [
        _torch_case("Linear, GELU (exact), Softmax", lambda nn: nn.Sequential(
            nn.Linear(4, 16), nn.GELU(), nn.Linear(16, 3), nn.Softmax(dim=1)), iris),
        _torch_case("Linear, LayerNorm, SiLU", lambda nn: nn.Sequential(
            nn.Linear(4, 16), nn.LayerNorm(16), nn.SiLU(), nn.Linear(16, 1)), iris),
        _torch_case("Conv2d, BatchNorm2d, MaxPool2d, Flatten", lambda nn: nn.Sequential(
            nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
            nn.Linear(64, 10)), lambda: _digits((1, 8, 8))),
        _torch_case("Conv1d, AdaptiveAvgPool1d", lambda nn: nn.Sequential(
            nn.Conv1d(8, 6, 3), nn.Tanh(), nn.AdaptiveAvgPool1d(1), nn.Flatten(), nn.Linear(6, 2)),
            lambda: _digits((8, 8))),
        _torch_case("LSTM", lambda nn: LastStep(nn.LSTM(8, 12, batch_first=True)), lambda: _digits((8, 8))),
        _torch_case("GRU (2 layers)", lambda nn: LastStep(nn.GRU(8, 12, num_layers=2, batch_first=True)),
                    lambda: _digits((8, 8))),
        _torch_case("MultiheadAttention", lambda nn: SelfAttention(), lambda: _digits((8, 8))),
        _torch_case("Embedding (int64 ids)", lambda nn: MeanEmbedding(), _tokens),
    ]


def _keras_case(name: str, layers: Callable[[Any], list[Any]], shape: tuple[int, ...],
                data: Callable[[], Any]) -> Case:
    def build() -> Built:
        import keras

        from onnxgate.frameworks import quiet_tensorflow

        quiet_tensorflow()
        keras.utils.set_random_seed(0)
        X = data()
        inputs = keras.Input(shape=shape, dtype=str(X.dtype))
        out = inputs
        for layer in layers(keras.layers):
            out = layer(out)
        return keras.Model(inputs, out), X

    return Case(f"keras {name}", DEEP, build, raw_keras, predict=_keras_answers)


def _keras_cases() -> list[Case]:
    def iris() -> Any:
        import numpy as np

        return _iris()[0].astype(np.float32)

    return [
        _keras_case("Dense (gelu), Softmax", lambda L: [L.Dense(16, activation="gelu"), L.Dense(3),
                                                         L.Softmax()], (4,), iris),
        _keras_case("Dense, LayerNormalization", lambda L: [L.Dense(16), L.LayerNormalization(), L.Dense(1)],
                    (4,), iris),
        _keras_case("Conv2D, BatchNormalization, MaxPooling2D", lambda L: [
            L.Conv2D(4, 3, padding="same"), L.BatchNormalization(), L.ReLU(), L.MaxPooling2D(), L.Flatten(),
            L.Dense(10)], (8, 8, 1), lambda: _digits((8, 8, 1))),
        _keras_case("LSTM", lambda L: [L.LSTM(12)], (8, 8), lambda: _digits((8, 8))),
        _keras_case("GRU", lambda L: [L.GRU(12)], (8, 8), lambda: _digits((8, 8))),
        _keras_case("Embedding, GlobalAveragePooling1D", lambda L: [L.Embedding(17, 6), L.GlobalAveragePooling1D(),
                                                                     L.Dense(3)], (64,), _tokens),
    ]


def _tf_cases() -> list[Case]:
    def erfc() -> Built:
        import tensorflow as tf

        from onnxgate.frameworks import quiet_tensorflow

        quiet_tensorflow()

        @tf.function(input_signature=[tf.TensorSpec([None, 4], tf.float32, name="x")])
        def fn(x: Any) -> Any:
            return tf.math.erfc(x - 5.0) * tf.nn.gelu(x, approximate=False)

        import numpy as np

        return fn, _iris()[0].astype(np.float32)

    return [Case("tf.function erfc, exact gelu", DEEP, erfc, raw_tf_function, predict=_tf_answers)]


def _deep_cases() -> list[Case]:
    import importlib.util

    cases = []
    if importlib.util.find_spec("torch"):
        cases += _torch_cases()
    if importlib.util.find_spec("tensorflow") and importlib.util.find_spec("tf2onnx"):
        if importlib.util.find_spec("keras"):
            cases += _keras_cases()
        cases += _tf_cases()
    return cases


def all_cases() -> list[Case]:
    return sklearn_cases() + binary_cases() + _meta_cases() + _boosting_cases() + _deep_cases() + list(EXTRA_CASES)


# --- running ---------------------------------------------------------------------------------------


def run_case(case: Case, opsets: Sequence[int] = OPSETS,
             raw_side: Mapping[str, Mapping[str, str]] | None = None) -> dict[str, dict[str, Any]]:
    """``{opset: {"onnxgate": status, "raw": status, "raw64": status, "validate": bool | None}}`` for one case.

    ``raw_side`` gives the raw converters' statuses per opset, computed by :func:`raw_in_child`: onnxgate
    patches skl2onnx in place on its first conversion (its tree writers, three registered converters),
    so a raw conversion run in this process after one of onnxgate's is not raw skl2onnx any more. Without
    it they are computed here (only the onnxgate column is then meant to be read, as the tests do).
    """
    import onnxruntime as ort

    import onnxgate as og

    ort.set_default_logger_severity(3)
    try:
        model, X = case.build()
    except Exception as err:
        reason = "does not fit on the case's data: " + _first_line(err)
        return {str(o): {"onnxgate": reason, "raw": reason, "raw64": reason, "validate": None} for o in opsets}
    answers = (case.predict or native_answers)(model, X)
    sample = X[:SAMPLE_ROWS]
    raws = raw_side if raw_side is not None else _raw_entries(case, model, X, answers, opsets)
    row: dict[str, dict[str, Any]] = {}
    for opset in opsets:
        entry: dict[str, Any] = {"validate": None, **raws[str(opset)]}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                conv = og.convert(model, sample, opset=opset)
            except og.OnnxGateError as err:
                entry["onnxgate"] = "refused: " + _first_line(err, 240)
            except Exception as err:
                entry["onnxgate"] = f"crashed: {type(err).__name__}: " + _first_line(err)
            else:
                entry["onnxgate"] = check_onnx(conv.model, answers, X, model)
                try:
                    entry["validate"] = bool(og.validate(conv, reference=model, data=X).passed)
                except Exception as err:
                    entry["validate"] = f"raised {type(err).__name__}: " + _first_line(err)
        row[str(opset)] = entry
    return row


def _raw_entries(case: Case, model: Any, X: Any, answers: Mapping[str, Any], opsets: Sequence[int]
                 ) -> dict[str, dict[str, str]]:
    """The raw converters' statuses per opset (``raw``, and ``raw64`` where the case has one)."""
    sample = X[:SAMPLE_ROWS]
    out: dict[str, dict[str, str]] = {}
    for opset in opsets:
        entry: dict[str, str] = {}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for key, convert in (("raw", case.raw), ("raw64", case.raw64)):
                if convert is None:
                    continue
                try:
                    raw = convert(model, sample, opset)
                except Exception as err:
                    entry[key] = "conversion failed: " + _first_line(err)
                else:
                    entry[key] = check_onnx(raw, answers, X, model)
        out[str(opset)] = entry
    return out


def raw_side_here(names: Sequence[str], opsets: Sequence[int]) -> dict[str, Any]:
    """The raw side of the named cases, in this process (run by :func:`raw_in_child` in a fresh one)."""
    import onnxruntime as ort

    ort.set_default_logger_severity(3)
    out: dict[str, Any] = {}
    for case in (c for c in all_cases() if c.name in set(names)):
        try:
            model, X = case.build()
        except Exception:
            continue  # run_case says why, for both sides
        out[case.name] = _raw_entries(case, model, X, (case.predict or native_answers)(model, X), opsets)
    return out


def raw_in_child(names: Sequence[str], opsets: Sequence[int]) -> dict[str, Any]:
    """:func:`raw_side_here` in a new Python process, where onnxgate has patched nothing."""
    import subprocess

    done = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), "--raw-side", *names, "--opsets", *map(str, opsets)],
        check=True, capture_output=True, text=True,
    )
    return dict(json.loads(done.stdout))


@functools.cache
def _extra_opsets() -> frozenset[int]:
    return frozenset(o for c in all_cases() for o in c.extra_opsets)


def case_opsets(case: Case, opsets: Sequence[int]) -> list[int]:
    """The opsets ``case`` is converted at: those given that are no other case's extra, and its own extras."""
    extras = _extra_opsets() - set(case.extra_opsets)
    return sorted({o for o in opsets if o not in extras} | set(case.extra_opsets))


def table_opsets(opsets: Sequence[int]) -> list[int]:
    """The opsets the table lists: those given and every case's extras."""
    return sorted({*opsets, *_extra_opsets()})


def run(cases: Sequence[Case], opsets: Sequence[int] = OPSETS, *, verbose: bool = False) -> dict[str, Any]:
    results: dict[str, Any] = {}
    groups: dict[tuple[int, ...], list[str]] = {}
    for case in cases:
        groups.setdefault(tuple(case_opsets(case, opsets)), []).append(case.name)
    raws: dict[str, Any] = {}
    for group, names in groups.items():
        raws.update(raw_in_child(names, group))
    for case in cases:
        start = time.perf_counter()
        results[case.name] = {"section": case.section,
                              "opsets": run_case(case, case_opsets(case, opsets), raws.get(case.name))}
        if verbose:
            worst = {k: v["onnxgate"] for k, v in results[case.name]["opsets"].items()}
            print(f"{time.perf_counter() - start:6.2f}s  {case.name}: {worst}", file=sys.stderr)
    return results


def versions() -> dict[str, str]:
    import importlib

    found = {}
    for module in ("sklearn", "skl2onnx", "onnx", "onnxruntime", "numpy", "torch", "tensorflow", "tf2onnx"):
        try:
            found[module] = str(importlib.import_module(module).__version__)
        except ImportError:
            continue
    return found


def summary(results: Mapping[str, Any]) -> dict[str, int]:
    counts = {"cases": 0, "onnxgate_ok": 0, "raw_ok": 0, "raw_ok_onnxgate_not": 0, "false_pass": 0}
    for item in results.values():
        for entry in item["opsets"].values():
            counts["cases"] += 1
            counts["onnxgate_ok"] += entry["onnxgate"] == OK
            raw_ok = OK in (entry["raw"], entry.get("raw64"))
            counts["raw_ok"] += raw_ok
            counts["raw_ok_onnxgate_not"] += raw_ok and entry["onnxgate"] != OK
            counts["false_pass"] += entry["validate"] is True and entry["onnxgate"] != OK
    return counts


def render(doc: Mapping[str, Any]) -> str:
    """The Markdown table for a coverage JSON document (deterministic: same JSON, same text)."""
    results = doc["results"]
    opsets = doc["opsets"]
    counts = summary(results)
    lines = [
        "# Conversion coverage",
        "",
        "Generated by `python scripts/coverage.py` from `docs/coverage.json`; do not edit by hand.",
        "Each case is converted with onnxgate and with the raw converter (skl2onnx for scikit-learn: with a",
        "float32 sample as its documentation does, and with the float64 sample as given; onnxmltools or",
        "CatBoost's own export for the boosting libraries; `torch.onnx.export` and tf2onnx for the",
        "deep-learning layers, where a file written at another opset than the one asked for counts as failed), and",
        "both files are checked independently with onnxruntime against the model's own predictions",
        f"(labels exactly, numbers within {ATOL:g} + {RTOL:g} x |expected|). `validate` is onnxgate's own",
        "parity verdict on its file. A reason replaces `ok` where a case is not ok.",
        "",
        "Versions: " + ", ".join(f"{k} {v}" for k, v in sorted(doc["versions"].items())) + ".",
        "",
        f"Cases x opsets: {counts['cases']}; onnxgate ok: {counts['onnxgate_ok']}; raw converter ok: "
        f"{counts['raw_ok']}; raw ok where onnxgate is not: {counts['raw_ok_onnxgate_not']}; "
        f"validate passed a wrong file: {counts['false_pass']}.",
    ]
    sections: dict[str, list[str]] = {}
    for name, item in results.items():
        sections.setdefault(item["section"], []).append(name)
    for section in [*sorted(s for s in sections if s.startswith("scikit-learn")),
                    *sorted(s for s in sections if not s.startswith("scikit-learn"))]:
        lines += ["", f"## {section}", "",
                  "| model | opset | onnxgate | validate | raw converter | raw, float64 sample |",
                  "|---|---|---|---|---|---|"]
        for name in sorted(sections[section], key=str.lower):
            for opset in opsets:
                entry = results[name]["opsets"].get(str(opset))
                if entry is None:
                    continue
                verdict = {True: "passed", False: "failed", None: ""}.get(entry["validate"], str(entry["validate"]))
                cells = [_cell(entry["onnxgate"]), verdict, _cell(entry["raw"]), _cell(entry.get("raw64") or "")]
                lines.append(f"| {_cell(name)} | {opset} | " + " | ".join(cells) + " |")
    if "deep-learning layers" not in sections:
        lines += ["", "## deep-learning layers", "",
                  "No cases yet: add rows to `EXTRA_CASES` in `scripts/coverage.py` "
                  "(section \"deep-learning layers\")."]
    return "\n".join(lines) + "\n"


def _cell(text: str) -> str:
    """Text safe in a Markdown table cell (no pipes, no raw HTML such as ``<class 'X'>``)."""
    return text.replace("|", "/").replace("<", "&lt;").replace(">", "&gt;").replace("\n", " ")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--only", nargs="+", help="run these cases, print their rows, write nothing")
    parser.add_argument("--render", action="store_true", help="rewrite docs/coverage.md from the JSON only")
    parser.add_argument("--update", nargs="+", metavar="NAME",
                        help="run these cases again and rewrite their rows in both files")
    parser.add_argument("--opsets", type=int, nargs="+", default=list(OPSETS))
    parser.add_argument("-v", "--verbose", action="store_true")
    parser.add_argument("--raw-side", nargs="+", metavar="NAME", help=argparse.SUPPRESS)  # raw_in_child's
    args = parser.parse_args(argv)
    if args.raw_side:
        import contextlib

        with contextlib.redirect_stdout(sys.stderr):  # exporters print progress (torch.onnx): the JSON alone
            found = raw_side_here(args.raw_side, args.opsets)
        print(json.dumps(found))
        return 0
    cases = all_cases()
    if args.only:
        wanted = set(args.only)
        chosen = [c for c in cases if c.name in wanted]
        unknown = wanted - {c.name for c in chosen}
        if unknown:
            print(f"unknown case(s) {sorted(unknown)}", file=sys.stderr)
            return 2
        print(json.dumps(run(chosen, args.opsets, verbose=args.verbose), indent=1))
        return 0
    start = time.perf_counter()
    if args.render:
        DOCS_MD.write_text(render(json.loads(DOCS_JSON.read_text(encoding="utf-8"))), encoding="utf-8")
        return 0
    if args.update:
        doc = json.loads(DOCS_JSON.read_text(encoding="utf-8"))
        chosen = [c for c in cases if c.name in set(args.update)]
        doc["results"].update(run(chosen, doc["opsets"], verbose=args.verbose))
        doc["versions"] = {**versions(), **doc["versions"]}  # libraries first met here are recorded too
        doc["results"] = {k: v for k, v in doc["results"].items() if k in {c.name for c in cases}}
        DOCS_JSON.write_text(json.dumps(doc, indent=1, sort_keys=True) + "\n", encoding="utf-8")
        DOCS_MD.write_text(render(doc), encoding="utf-8")
        print(summary(doc["results"]))
        return 0
    results = run(cases, args.opsets, verbose=args.verbose)
    doc = {"opsets": table_opsets(args.opsets), "versions": versions(), "results": results}
    DOCS_JSON.write_text(json.dumps(doc, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    DOCS_MD.write_text(render(doc), encoding="utf-8")
    print(f"{summary(doc['results'])}  ({time.perf_counter() - start:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
