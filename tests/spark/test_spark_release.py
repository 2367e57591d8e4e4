"""onnxgate.spark.release on a session that stopped, and for a model above 2 GiB (none broadcast); validate of a
Conversion without reference=. Its own module: the last test stops the module's session."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest
from _above_limit import above_limit, rows_parquet

import onnxgate as og
import onnxgate.spark as ogs


def _model() -> tuple[Any, pd.DataFrame]:
    from sklearn.linear_model import LinearRegression

    x = pd.DataFrame(np.random.default_rng(0).normal(size=(60, 3)), columns=["a", "b", "c"]).astype("float32")
    return og.convert(LinearRegression().fit(x, x.sum(axis=1)), x), x


def test_release_of_a_model_above_the_limit_frees_nothing_and_reads_no_weights(local_spark: Any, tmp_path: Any,
                                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    # predict loads such a model from its path on the executors, broadcasting nothing; release read the file whole
    # and refused it ('above the 2 GiB onnxgate can check'), where there is nothing to free
    path, x = above_limit(tmp_path, monkeypatch)
    rows_parquet(tmp_path / "rows.parquet", x)
    assert ogs.predict(str(tmp_path / "rows.parquet"), str(path), spark=local_spark).count() == len(x)
    assert ogs.release(str(path), spark=local_spark) == 0


def test_validate_of_a_conversion_without_reference_compares_with_its_source(local_spark: Any) -> None:
    # the docstring says reference=None with a Conversion uses its source model; the parameter had no default, so
    # ogs.validate(conv, df) raised TypeError: missing 1 required keyword-only argument: 'reference'
    conv, x = _model()
    report = ogs.validate(conv, local_spark.createDataFrame(x))
    assert report.passed and report.check("prediction_parity").details["rows"] == len(x), report


def test_release_after_the_session_stopped_frees_nothing_without_a_java_error(local_spark: Any) -> None:
    # stop() freed every broadcast with its context; release(model, spark=the stopped session) destroyed the broadcast
    # again and raised Py4JJavaError (java.lang.NullPointerException: SparkEnv.blockManager() ... is null)
    conv, x = _model()
    assert ogs.predict(local_spark.createDataFrame(x), conv).count() == len(x)
    local_spark.stop()
    assert ogs.release(conv, spark=local_spark) == 0
    assert ogs.release(spark=local_spark) == 0
