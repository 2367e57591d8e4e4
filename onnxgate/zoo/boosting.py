"""XGBoost, LightGBM and CatBoost reference models, trained on datasets that ship with scikit-learn.

Features are float32: the three libraries split on float32 feature values, so the float32 ONNX
graph reads exactly what they read.
"""

from __future__ import annotations

from typing import Any

from onnxgate.zoo._base import ZooEntry

__all__ = ["ENTRIES"]

SEED = 0
#: No training logs: CatBoost writes catboost_info/ in the working directory otherwise.
CATBOOST_QUIET: dict[str, Any] = {"verbose": 0, "allow_writing_files": False}
#: Opsets the entries are tested at (tests/converters/test_boosting.py).
OPSETS = (9, 12, 15, 17, 21)


def _xgboost_breast_cancer() -> tuple[Any, Any, Any]:
    import numpy as np
    import xgboost
    from sklearn.datasets import load_breast_cancer

    X, y = load_breast_cancer(return_X_y=True)
    X = X.astype(np.float32)
    model = xgboost.XGBClassifier(n_estimators=30, max_depth=3, random_state=SEED, n_jobs=1)
    return model.fit(X, y), X, y


def _xgboost_diabetes_booster() -> tuple[Any, Any, Any]:
    import numpy as np
    import xgboost
    from sklearn.datasets import load_diabetes

    X, y = load_diabetes(return_X_y=True)
    X = X.astype(np.float32)
    params = {"objective": "reg:squarederror", "max_depth": 4, "seed": SEED, "nthread": 1}
    return xgboost.train(params, xgboost.DMatrix(X, label=y), num_boost_round=30), X, y


def _lightgbm_diabetes() -> tuple[Any, Any, Any]:
    import lightgbm
    import numpy as np
    from sklearn.datasets import load_diabetes

    X, y = load_diabetes(return_X_y=True)
    X = X.astype(np.float32)
    model = lightgbm.LGBMRegressor(n_estimators=30, num_leaves=15, random_state=SEED, n_jobs=1, verbose=-1)
    return model.fit(X, y), X, y


def _lightgbm_wine() -> tuple[Any, Any, Any]:
    import lightgbm
    import numpy as np
    from sklearn.datasets import load_wine

    X, y = load_wine(return_X_y=True)
    X = X.astype(np.float32)
    model = lightgbm.LGBMClassifier(n_estimators=20, num_leaves=7, random_state=SEED, n_jobs=1, verbose=-1)
    return model.fit(X, y), X, y


def _catboost_iris() -> tuple[Any, Any, Any]:
    import catboost
    import numpy as np
    from sklearn.datasets import load_iris

    X, y = load_iris(return_X_y=True)
    X = X.astype(np.float32)
    model = catboost.CatBoostClassifier(iterations=30, depth=3, random_seed=SEED, thread_count=1, **CATBOOST_QUIET)
    return model.fit(X, y), X, y


def _catboost_diabetes() -> tuple[Any, Any, Any]:
    import catboost
    import numpy as np
    from sklearn.datasets import load_diabetes

    X, y = load_diabetes(return_X_y=True)
    X = X.astype(np.float32)
    model = catboost.CatBoostRegressor(iterations=30, depth=4, random_seed=SEED, thread_count=1, **CATBOOST_QUIET)
    return model.fit(X, y), X, y


def _lightgbm_pipeline() -> tuple[Any, Any, Any]:
    import lightgbm
    import numpy as np
    from sklearn.datasets import load_breast_cancer
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X, y = load_breast_cancer(return_X_y=True)
    X = X.astype(np.float32)
    # LightGBM splits between training values, so the float32 Scaler of the ONNX graph lands on the
    # same side; XGBoost splits at training values, where a one-ulp difference in the scaled value
    # flips a row (tests/converters/test_boosting.py shows validate catching it).
    boost = lightgbm.LGBMClassifier(n_estimators=20, num_leaves=7, random_state=SEED, n_jobs=1, verbose=-1)
    model = make_pipeline(StandardScaler(), boost)
    return model.fit(X, y), X, y


ENTRIES = [
    ZooEntry(
        "xgboost-breast-cancer-classifier",
        "xgboost",
        "classification",
        _xgboost_breast_cancer,
        atol=1e-5,
        rtol=1e-4,
        description="XGBClassifier (30 trees, depth 3) on breast_cancer (float32), binary",
        opsets=OPSETS,
    ),
    ZooEntry(
        "xgboost-diabetes-booster",
        "xgboost",
        "regression",
        _xgboost_diabetes_booster,
        atol=1e-3,
        rtol=1e-5,
        description="native xgboost.Booster (reg:squarederror, 30 rounds) on diabetes (float32)",
        opsets=OPSETS,
    ),
    ZooEntry(
        "lightgbm-diabetes-regressor",
        "lightgbm",
        "regression",
        _lightgbm_diabetes,
        atol=1e-3,
        rtol=1e-5,
        description="LGBMRegressor (30 trees, 15 leaves) on diabetes (float32)",
        opsets=OPSETS,
    ),
    ZooEntry(
        "lightgbm-wine-classifier",
        "lightgbm",
        "classification",
        _lightgbm_wine,
        atol=1e-5,
        rtol=1e-4,
        description="LGBMClassifier (20 trees, 7 leaves) on wine (float32), 3 classes",
        opsets=OPSETS,
    ),
    ZooEntry(
        "catboost-iris-classifier",
        "catboost",
        "classification",
        _catboost_iris,
        atol=1e-5,
        rtol=1e-4,
        description="CatBoostClassifier (30 trees, depth 3) on iris (float32), 3 classes",
        opsets=OPSETS,
    ),
    ZooEntry(
        "catboost-diabetes-regressor",
        "catboost",
        "regression",
        _catboost_diabetes,
        atol=1e-3,
        rtol=1e-5,
        description="CatBoostRegressor (30 trees, depth 4) on diabetes (float32)",
        opsets=OPSETS,
    ),
    ZooEntry(
        "sklearn-breast-cancer-lightgbm-pipeline",
        "sklearn",
        "classification",
        _lightgbm_pipeline,
        atol=1e-4,
        rtol=1e-4,
        description="Pipeline(StandardScaler, LGBMClassifier) on breast_cancer (float32): LightGBM inside skl2onnx",
        opsets=OPSETS,
        tags=("lightgbm",),
    ),
]
