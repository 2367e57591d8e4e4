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
from onnxgate.errors import InvalidDataError, OnnxGateError


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


def test_a_row_a_worker_refuses_is_onnxgates_error_around_the_action(local_spark: Any, tmp_path: Any) -> None:
    # predict is lazy: a null feeding an integer input is met when an action runs, as pyspark's PythonException
    # showing 17 lines of the worker's traceback through onnxgate's data reading before the message
    from sklearn.linear_model import LinearRegression

    frame = pd.DataFrame({"x": np.linspace(0, 1, 40), "n": np.arange(40, dtype=np.int64)})
    conv = og.convert(LinearRegression().fit(frame, np.arange(40.0)), frame.head())
    frame.astype({"n": "Int64"}).assign(n=lambda f: f.n.mask(f.index == 3)).to_parquet(tmp_path / "rows.parquet")
    scored = ogs.predict(str(tmp_path / "rows.parquet"), conv, spark=local_spark)
    said = "column 'n' has 1 missing or non-finite value(s) but input 'n' is int64; fill or drop them first"
    with pytest.raises(Exception) as caught:
        scored.collect()
    shown = str(caught.value).strip().splitlines()
    assert shown[-1] == f"onnxgate.errors.InvalidDataError: {said}", shown
    assert len(shown) <= 5 and not any("_data.py" in line for line in shown), shown  # one frame, then the message
    with pytest.raises(InvalidDataError) as refused, ogs.job_errors():
        scored.write.parquet(str(tmp_path / "out"))
    assert str(refused.value) == said


def test_an_error_of_the_users_own_code_quoting_a_worker_refusal_stays_the_users() -> None:
    # job_errors read the text of any error: a user's own exception inside it that quoted one (a log line kept,
    # re-raised) became onnxgate's InvalidDataError, hiding the user's error type
    class Mine(RuntimeError):
        pass

    quoted = "worker said: onnxgate.errors.InvalidDataError: column 'n' has 1 missing value(s)"
    with pytest.raises(Mine, match="worker said"), ogs.job_errors():
        raise Mine(quoted)


def test_a_result_used_after_release_is_onnxgates_error_around_the_action(local_spark: Any) -> None:
    # the plan holds the broadcast release destroyed: Spark refused it with a Java stack trace ('Task serialization
    # failed ... [INTERNAL_ERROR_BROADCAST] Attempted to use Broadcast(0) after it was destroyed')
    conv, x = _model()
    scored = ogs.predict(local_spark.createDataFrame(x), conv)
    assert scored.count() == len(x)
    assert ogs.release(conv, spark=local_spark) == 1
    with pytest.raises(OnnxGateError, match=r"freed before it was used: expected release after the last action.*"
                                            r"call onnxgate\.spark\.predict again") as caught, ogs.job_errors():
        scored.select("variable").count()
    assert "Java" not in str(caught.value) and "Broadcast(" not in str(caught.value)
    assert ogs.predict(local_spark.createDataFrame(x), conv).count() == len(x)  # what it says to do
    broadcast = local_spark.sparkContext.broadcast(b"the user's own")  # another destroyed broadcast: Spark's error
    used = local_spark.sparkContext.parallelize([1], 1).map(lambda _: len(broadcast.value))
    broadcast.destroy()
    with pytest.raises(Exception, match="after it was destroyed") as theirs, ogs.job_errors():
        used.collect()
    assert not isinstance(theirs.value, OnnxGateError)


def test_release_after_the_session_stopped_frees_nothing_without_a_java_error(local_spark: Any) -> None:
    # stop() freed every broadcast with its context; release(model, spark=the stopped session) destroyed the broadcast
    # again and raised Py4JJavaError (java.lang.NullPointerException: SparkEnv.blockManager() ... is null)
    conv, x = _model()
    assert ogs.predict(local_spark.createDataFrame(x), conv).count() == len(x)
    local_spark.stop()
    assert ogs.release(conv, spark=local_spark) == 0
    assert ogs.release(spark=local_spark) == 0
