"""Apache Spark: parity over tables larger than one machine, and batch scoring (extra ``spark``).

``session`` builds a SparkSession set up for onnxgate; ``validate`` runs the target's checks on the
driver and the parity check on the executors, giving the same :class:`~onnxgate.validators.Report`
as :func:`onnxgate.validate`; ``predict`` adds the model's outputs to a DataFrame, and ``release`` frees the
model ``predict`` broadcast; ``job_errors`` raises onnxgate's error where a lazy result's action fails for a reason
onnxgate knows.
"""

from __future__ import annotations

from onnxgate.spark._predict import (
    columns_named_like_outputs,
    feed_columns,
    job_errors,
    load_scoring_model,
    predict,
    refuse_outputs_named_like_columns,
    refuse_repeated_outputs,
    release,
)
from onnxgate.spark._session import (
    check_parquet_path,
    java_version,
    read_parquet,
    session,
    spark_path,
    worker_input_error,
)
from onnxgate.spark._validate import model_for_spark, validate

__all__ = [
    "check_parquet_path",
    "columns_named_like_outputs",
    "feed_columns",
    "java_version",
    "job_errors",
    "load_scoring_model",
    "model_for_spark",
    "predict",
    "read_parquet",
    "refuse_outputs_named_like_columns",
    "refuse_repeated_outputs",
    "release",
    "session",
    "spark_path",
    "validate",
    "worker_input_error",
]
