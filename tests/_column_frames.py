"""DataFrames with the user's own column names, and a pipeline that selects its columns by those names.

Shared by ``tests/test_columns.py`` and ``tests/deploy/test_column_names.py``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

#: Names that break naive code: SQL injection, a number, a lone bracket, unicode, quotes and a comma,
#: 200 characters, and pairs that collide once sanitised ("a b"/"a_b").
HOSTILE = [
    "]; DROP TABLE models;--",
    "1",
    "]",
    "größe °C",
    "grüße °C",
    'say "hi", ok',
    "x" * 200,
    "a b",
    "a_b",
    "A_B",  # the same SQL column name as "a_b" (SQL names ignore case)
]


def hostile_frame(rows: int = 120) -> tuple[Any, Any]:
    import pandas as pd

    rng = np.random.default_rng(7)
    X = pd.DataFrame(rng.normal(size=(rows, len(HOSTILE))), columns=HOSTILE)
    y = (X["]; DROP TABLE models;--"] + X["a_b"] - X["1"] > 0).astype(int)
    return X, y


def iris_frame() -> tuple[Any, Any]:
    from sklearn.datasets import load_iris

    X, y = load_iris(as_frame=True, return_X_y=True)
    return X, y


def column_pipeline(X: Any, y: Any) -> Any:
    """A pipeline that selects its columns by the user's names (so names must reach it intact)."""
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import MinMaxScaler, StandardScaler

    cols = list(X.columns)
    pre = ColumnTransformer([("scaled", StandardScaler(), cols[: len(cols) // 2]),
                             ("ranged", MinMaxScaler(), cols[len(cols) // 2 :])])
    return make_pipeline(pre, LogisticRegression(max_iter=1000)).fit(X, y)


def banded_frame() -> tuple[Any, Any, Any, Any]:
    """breast_cancer's first four columns and a pandas ``category`` column of radius bands, a
    HistGradientBoostingClassifier fitted on them (categorical_features="from_dtype"), and the same rows
    with the first 40 bands missing: ``(frame, y, model, rows)``. Shared by the missing-category tests of
    the service (``tests/deploy/test_service_columns.py``) and Spark (``tests/spark/test_spark_local.py``)."""
    import pandas as pd
    from sklearn.datasets import load_breast_cancer
    from sklearn.ensemble import HistGradientBoostingClassifier

    X, y = load_breast_cancer(return_X_y=True, as_frame=True)
    frame = X.iloc[:, :4].copy()
    frame.columns = ["radius", "texture", "perimeter", "area"]
    frame["band"] = pd.cut(frame["radius"], [0, 11, 13, 16, 100], labels=["xs", "s", "m", "l"])
    model = HistGradientBoostingClassifier(max_iter=30, categorical_features="from_dtype", random_state=0)
    model.fit(frame, y)
    rows = frame.copy()
    rows.iloc[:40, rows.columns.get_loc("band")] = np.nan
    return frame, y, model, rows


def category_frame(categories: list[Any]) -> tuple[Any, Any]:
    """300 rows of a float column ``x`` and a pandas ``category`` column ``band`` of ``categories`` (the first
    four drawn, 15% missing), and labels that depend on both: ``(frame, y)``. Shared by the category-value tests
    of the container service (``tests/deploy/test_container.py``) and MLflow (``tests/deploy/test_mlflow.py``)."""
    import pandas as pd

    rng = np.random.default_rng(11)
    band = np.array(categories, dtype=object)[rng.integers(0, 4, 300)]
    band[rng.random(300) < 0.15] = None
    x = rng.normal(size=300)
    frame = pd.DataFrame({"x": x, "band": pd.Categorical(band, categories=categories)})
    y = ((x + np.where(pd.isna(band), 1.5, np.where(band == categories[1], -1.0, 0.3))) > 0.2).astype(int)
    return frame, y


def gps_float32_file() -> tuple[Any, Any, Any]:
    """A HistGradientBoosting model of float64 GPS rows (6 decimals), its file converted with a float32 sample,
    which reads float32, and the rows: parity on the user's float64 rows fails (50 of 3,000 labels flip).
    Shared by the parity, search, dry-run and Spark tests of that case (helper-129, -133, -139)."""
    import pandas as pd
    from sklearn.ensemble import HistGradientBoostingClassifier

    import onnxgate as og

    rng = np.random.default_rng(0)
    rows = pd.DataFrame({"lat": np.round(40.70 + rng.random(3000) * 0.01, 6),
                         "lon": np.round(-74.00 + rng.random(3000) * 0.01, 6)})
    y = ((np.floor(rows["lat"] * 2e4) + np.floor(rows["lon"] * 2e4)) % 2).astype(int)
    model = HistGradientBoostingClassifier(max_iter=60, max_leaf_nodes=63, random_state=0).fit(rows, y)
    return model, og.convert(model, rows.astype(np.float32).head()), rows


def output_named_frame(rows: int = 200) -> tuple[Any, Any]:
    """A frame whose columns ``LABEL`` and ``p_0`` share their names with a SQL classifier's outputs (``label``,
    ``p_0``; T-SQL ignores case), and a LogisticRegression fitted on it."""
    import pandas as pd
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(0)
    X = pd.DataFrame({c: rng.normal(size=rows) for c in ("LABEL", "p_0", "x")})
    return X, LogisticRegression().fit(X, (X["LABEL"] + X["p_0"] > 0).astype(int))


#: Integer categories some of which are codes too (1, 2, 3, 5 are codes 0..6's 1, 2, 3, 5) and some codes no
#: category is (0, 4, 6): the plain numbers every route must read alike (helper-233).
FIBONACCI = [1, 2, 3, 5, 8, 13, 21]
#: Requests of plain integers for FIBONACCI: all categories, each also a code; all categories, none a code; and
#: all codes, none a category (a client sending .cat.codes).
FIBONACCI_REQUESTS = {"categories-and-codes": [1, 2, 3, 5, 2, 1], "categories-only": [13, 21, 8, 13, 21, 8],
                      "codes-only": [0, 4, 6, 4, 0, 6]}


def fibonacci_model(library: str) -> tuple[Any, Any]:
    """A small classifier of ``library`` (xgboost, lightgbm, hist, catboost) fitted on a float column ``x`` and a
    column ``n`` of the FIBONACCI categories, a pandas category column (CatBoost: a plain int64 column of
    ``cat_features``, how CatBoost is given categories): ``(model, frame)``. Shared by the route matrix of the
    service, MLflow and the dry run (``tests/deploy/test_category_routes.py``) and Spark's
    (``tests/spark/test_spark_local.py``)."""
    import pandas as pd

    rng = np.random.default_rng(3)
    n = np.array(FIBONACCI)[rng.integers(0, len(FIBONACCI), 400)]
    x = rng.normal(size=400)
    y = ((x + np.isin(n, [2, 8, 21]) * 1.5) > 0.7).astype(int)
    frame = pd.DataFrame({"x": x, "n": pd.Categorical(n, categories=FIBONACCI)})
    if library == "xgboost":
        import xgboost

        return xgboost.XGBClassifier(n_estimators=10, max_depth=3, enable_categorical=True, max_cat_to_onehot=1,
                                     n_jobs=1).fit(frame, y), frame
    if library == "lightgbm":
        import lightgbm

        return lightgbm.LGBMClassifier(n_estimators=10, min_child_samples=5, verbose=-1, n_jobs=1).fit(frame, y), frame
    if library == "hist":
        from sklearn.ensemble import HistGradientBoostingClassifier

        return HistGradientBoostingClassifier(max_iter=10, categorical_features="from_dtype",
                                              random_state=0).fit(frame, y), frame
    import catboost

    frame = frame.assign(n=n.astype(np.int64))
    return catboost.CatBoostClassifier(iterations=10, depth=3, verbose=0, thread_count=1, cat_features=["n"],
                                       allow_writing_files=False).fit(frame, y), frame


def fibonacci_answer(library: str, model: Any, rows: Any) -> Any:
    """What ``model`` answers for ``rows``, whose ``n`` is a plain int64 column: read as the categories of those
    values (a pandas category column of them, a value none of them missing) where the library takes categories
    that way; CatBoost takes the plain column itself. None where such a column is refused on every route: a
    number that is none of the categories for XGBoost and LightGBM, which themselves take no plain column."""
    import pandas as pd

    if library == "catboost":
        return model.predict_proba(rows)
    if library in ("xgboost", "lightgbm") and not rows["n"].isin(FIBONACCI).all():
        return None
    return model.predict_proba(rows.assign(n=pd.Categorical(rows["n"], categories=FIBONACCI)))
