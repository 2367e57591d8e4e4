"""A real standalone cluster on 127.0.0.1: validate and predict run in executors with their own JVMs."""

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
def cluster_spark(cluster: str) -> Iterator[Any]:
    spark = ogs.session(cluster, config={"spark.executor.memory": "512m", "spark.cores.max": "1"})
    yield spark
    spark.stop()


def test_validate_and_predict_on_a_standalone_cluster(cluster_spark: Any, tmp_path: Path) -> None:
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(3)
    X = rng.normal(size=(2000, 4)).astype(np.float32)
    y = (X[:, 0] - X[:, 2] > 0).astype(int)
    model = LogisticRegression().fit(X, y)
    conv = og.convert(model, X[:5])
    path = tmp_path / "rows.parquet"
    pd.DataFrame(X, columns=FEATURES).to_parquet(path)
    df = cluster_spark.read.parquet(str(path))

    # the executors are other JVMs, started by the worker: not this driver's
    executors = cluster_spark.sparkContext._jsc.sc().getExecutorMemoryStatus().size()
    assert executors >= 2  # the driver's block manager and at least one executor

    assert_parity_as_local(ogs.validate(conv, df, reference=model), conv, model, path, rows=2000)

    scored = ogs.predict(df, conv).toPandas()
    assert list(scored.columns) == [*FEATURES, "label", "probabilities"]
    np.testing.assert_array_equal(scored["label"].to_numpy(), model.predict(X))
