"""scikit-learn reference models, trained on datasets that ship with scikit-learn."""

from __future__ import annotations

from typing import Any

from onnxgate.zoo._base import ZooEntry

__all__ = ["ENTRIES"]

SEED = 0


def _iris_logreg() -> tuple[Any, Any, Any]:
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    X, y = load_iris(return_X_y=True)
    return LogisticRegression(max_iter=1000).fit(X, y), X, y


def _diabetes_ridge() -> tuple[Any, Any, Any]:
    from sklearn.datasets import load_diabetes
    from sklearn.linear_model import Ridge

    X, y = load_diabetes(return_X_y=True)
    return Ridge(alpha=0.5).fit(X, y), X, y


def _diabetes_rf() -> tuple[Any, Any, Any]:
    import numpy as np
    from sklearn.datasets import load_diabetes
    from sklearn.ensemble import RandomForestRegressor

    X, y = load_diabetes(return_X_y=True)
    # float32 features: the forest's thresholds then sit where the float32 ONNX graph splits.
    X = X.astype(np.float32)
    return RandomForestRegressor(n_estimators=20, max_depth=8, random_state=SEED).fit(X, y), X, y


def _breast_cancer_gbc_pipeline() -> tuple[Any, Any, Any]:
    import numpy as np
    from sklearn.datasets import load_breast_cancer
    from sklearn.ensemble import GradientBoostingClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X, y = load_breast_cancer(return_X_y=True)
    X = X.astype(np.float32)
    model = make_pipeline(StandardScaler(), GradientBoostingClassifier(n_estimators=30, max_depth=3, random_state=SEED))
    return model.fit(X, y), X, y


def _wine_column_transformer() -> tuple[Any, Any, Any]:
    import numpy as np
    import pandas as pd
    from sklearn.compose import ColumnTransformer
    from sklearn.datasets import load_wine
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    data = load_wine(as_frame=True)
    frame = data.frame.drop(columns="target")
    X = pd.DataFrame(
        {
            "alcohol": frame["alcohol"].astype(np.float64),
            "malic_acid": frame["malic_acid"].astype(np.float64),
            "flavanoids": frame["flavanoids"].astype(np.float64),
            "color_intensity": frame["color_intensity"].astype(np.float64),
            "proline": frame["proline"].round().astype(np.int64),
            "magnesium_band": (frame["magnesium"] // 20).astype(np.int64),
        }
    )
    y = data.target.to_numpy()
    pre = ColumnTransformer(
        [
            ("num", StandardScaler(), ["alcohol", "malic_acid", "flavanoids", "color_intensity", "proline"]),
            ("band", OneHotEncoder(handle_unknown="ignore"), ["magnesium_band"]),
        ]
    )
    model = Pipeline([("pre", pre), ("clf", LogisticRegression(max_iter=2000))])
    return model.fit(X, y), X, y


def _diabetes_svr() -> tuple[Any, Any, Any]:
    import numpy as np
    from sklearn.datasets import load_diabetes
    from sklearn.svm import SVR

    X, y = load_diabetes(return_X_y=True)
    X = X.astype(np.float32)
    return SVR(C=50.0, epsilon=1.0).fit(X, y), X, y


def _wine_knn() -> tuple[Any, Any, Any]:
    import numpy as np
    from sklearn.datasets import load_wine
    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X, y = load_wine(return_X_y=True)
    X = X.astype(np.float32)
    return make_pipeline(StandardScaler(), KNeighborsClassifier(n_neighbors=5)).fit(X, y), X, y


def _digits_tree_f32() -> tuple[Any, Any, Any]:
    import numpy as np
    from sklearn.datasets import load_digits
    from sklearn.tree import DecisionTreeClassifier

    X, y = load_digits(return_X_y=True)
    X = X.astype(np.float32)
    return DecisionTreeClassifier(max_depth=10, random_state=SEED).fit(X, y), X, y


#: The planted case: iris in micrometres on a 10 mm instrument baseline. The large offset makes the
#: float32 rounding of a raw value (ulp 2**-10 at 1e4) matter next to a split, while the spread
#: (thousands of micrometres) keeps the flip windows so thin that parity on 100,000 uniform rows
#: finds nothing. Tuned by measurement: with iris in cm plus 1e4, 1e6 uniform rows flip ~1,500
#: times; with iris x 1000 plus 1e4..1e5 per feature, ~2 times; with x 1000 plus 1e4, none.
PLANTED_SCALE = 1000.0
PLANTED_OFFSET = 1e4


def _planted_scaler_tree() -> tuple[Any, Any, Any]:
    import numpy as np
    from sklearn.datasets import load_iris
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.tree import DecisionTreeClassifier

    X, y = load_iris(return_X_y=True)
    # float64 on purpose: the pipeline scales in float64, the ONNX graph in float32.
    X = (X * PLANTED_SCALE + PLANTED_OFFSET).astype(np.float64)
    model = make_pipeline(StandardScaler(), DecisionTreeClassifier(max_depth=3, random_state=SEED))
    return model.fit(X, y), X, y


_OPSETS = (9, 11, 13, 15, 17, 18, 21)

ENTRIES: tuple[ZooEntry, ...] = (
    ZooEntry("sklearn-iris-logreg", "sklearn", "classification", _iris_logreg, atol=1e-5, rtol=1e-4,
             description="LogisticRegression on iris (float64 features)", opsets=_OPSETS),
    ZooEntry("sklearn-diabetes-ridge", "sklearn", "regression", _diabetes_ridge, atol=1e-3, rtol=1e-4,
             description="Ridge regression on diabetes (float64 features)", opsets=_OPSETS),
    ZooEntry("sklearn-diabetes-rf", "sklearn", "regression", _diabetes_rf, atol=1e-3, rtol=1e-5,
             description="RandomForestRegressor (20 trees) on diabetes, float32 features", opsets=_OPSETS),
    ZooEntry("sklearn-breast-cancer-gbc-pipeline", "sklearn", "classification", _breast_cancer_gbc_pipeline,
             atol=1e-4, rtol=1e-4, description="StandardScaler + GradientBoostingClassifier on breast_cancer",
             opsets=_OPSETS),
    ZooEntry("sklearn-wine-columntransformer", "sklearn", "classification", _wine_column_transformer,
             atol=1e-4, rtol=1e-4,
             description="ColumnTransformer (scaled float and int columns, one-hot int band) + LogisticRegression "
             "over a DataFrame", opsets=_OPSETS, tags=("dataframe",)),
    ZooEntry("sklearn-diabetes-svr", "sklearn", "regression", _diabetes_svr, atol=1e-3, rtol=1e-4,
             description="SVR (RBF kernel) on diabetes, float32 features", opsets=_OPSETS),
    ZooEntry("sklearn-wine-knn", "sklearn", "classification", _wine_knn, atol=1e-5, rtol=1e-4,
             description="StandardScaler + KNeighborsClassifier on wine", opsets=_OPSETS),
    ZooEntry("sklearn-digits-tree-f32", "sklearn", "classification", _digits_tree_f32, atol=1e-6, rtol=1e-5,
             description="DecisionTreeClassifier trained on float32 digits", opsets=_OPSETS),
    ZooEntry("sklearn-planted-scaler-tree", "sklearn", "classification", _planted_scaler_tree, atol=1e-6,
             rtol=1e-5,
             description="Planted divergence: float64 StandardScaler over large-offset features feeding a "
             "DecisionTreeClassifier; converted with precision='float32' the scaler runs in float32 in ONNX, so rows "
             "within a float32 ulp of a "
             "split land on the other side. Parity on the training rows passes; onnxgate's search finds them.",
             opsets=_OPSETS, tags=("planted-divergence",), precision="float32"),
)
