"""Apache Spark: parity over tables larger than one machine, and batch scoring (extra ``spark``).

``session`` builds a SparkSession set up for onnxgate; ``validate`` runs the target's checks on the
driver and the parity check on the executors, giving the same :class:`~onnxgate.validators.Report`
as :func:`onnxgate.validate`; ``predict`` adds the model's outputs to a DataFrame.
"""

from __future__ import annotations

from onnxgate.spark.predict import predict
from onnxgate.spark.session import java_version, read_parquet, session
from onnxgate.spark.validate import validate

__all__ = [
    "java_version",
    "predict",
    "read_parquet",
    "session",
    "validate",
]
