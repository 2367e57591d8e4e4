"""Spark Connect (``sc://``): validate and predict through a Spark Connect server on 127.0.0.1.

The client has no SparkContext: the model and the reference travel with the function instead of
as broadcast variables, and the server's executors run them.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from _spark_parity import assert_parity_as_local

import onnxgate as og
import onnxgate.spark as ogs

FEATURES = [f"f{i}" for i in range(4)]


@pytest.fixture(scope="module")
def connect_spark(connect_server: str) -> Iterator[Any]:
    spark = ogs.session(connect_server)
    yield spark
    spark.stop()


def test_validate_and_predict_through_spark_connect(connect_spark: Any, tmp_path: Path) -> None:
    from pyspark.sql.connect.session import SparkSession as ConnectSession
    from sklearn.linear_model import LogisticRegression

    assert isinstance(connect_spark, ConnectSession)  # a Connect client, not a classic session
    rng = np.random.default_rng(5)
    X = rng.normal(size=(3000, 4)).astype(np.float32)
    y = (X[:, 0] + X[:, 3] > 0).astype(int)
    model = LogisticRegression().fit(X, y)
    conv = og.convert(model, X[:5])
    path = tmp_path / "rows.parquet"
    pd.DataFrame(X, columns=FEATURES).to_parquet(path)
    df = connect_spark.read.parquet(str(path))

    assert_parity_as_local(ogs.validate(conv, df, reference=model), conv, model, path, rows=3000)

    scored = ogs.predict(df, conv)
    assert dict(scored.dtypes) == {**{f: "float" for f in FEATURES}, "label": "bigint", "probabilities": "array<float>"}
    got = scored.toPandas()
    assert list(got.columns) == [*FEATURES, "label", "probabilities"]
    np.testing.assert_array_equal(got["label"].to_numpy(), model.predict(X))
    np.testing.assert_allclose(np.stack(got["probabilities"].to_numpy()), model.predict_proba(X), atol=1e-5)
