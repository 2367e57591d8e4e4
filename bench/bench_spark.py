"""Spark: parity and scoring over Parquet on ``local[2]``, against the same work on one process.

Data: ``rows`` x 10 float32 features in 8 Parquet files (10,000,000 rows at full size). Models: a
100-tree random forest and a 64x64 MLP (scikit-learn), as in ``bench_parity.py``.

Two routes. ``*_parquet_path_*``: the call given the Parquet folder's path (or a plain
``spark.read.parquet`` of it, which goes the same way): the Python workers read their row groups with
pyarrow (``onnxgate.spark._files``), so Spark's JVM never converts the rows (what the CLI does). The
other rows give a DataFrame that Spark's own reader feeds, as any other DataFrame does (one after a
filter or a join; here a reader option keeps it from being a plain read).

* ``spark_validate_rows_per_s``: ``onnxgate.spark.validate`` on ``local[2]`` (a warm run: the
  session and its Python workers already started) against ``og.validate`` in one process on the same
  rows read from the same Parquet (reading included). Goal: >= 0.8x. Spark's start-up (the session)
  and the first, cold job are reported apart.
* ``spark_python_one_way_rows_per_s``: the rows read and sent to the Python workers, which drop
  them (``mapInArrow`` returning nothing), against the same local ``og.validate``: the part of
  ``spark.validate`` that is Spark moving rows, before any model runs.
* ``driver_memory_ratio``: the Python driver's peak RSS added during ``spark.validate`` at ``rows``
  against the same at ``rows / 10``. Goal: <= 1.5x (the driver only merges partial results).
* ``spark_predict_rows_per_s``: ``onnxgate.spark.predict`` over the Parquet files into Spark's
  ``noop`` sink, against onnxruntime scoring the same files read batch by batch with pyarrow in one
  process, in the 16,384-row runs the workers use (``onnxgate.runtime.RUN_ROWS``); medians of 3,
  alternated. Goal: >= 0.8x. ``spark_read_only_rows_per_s`` (Spark reading the files, no Python) and
  ``spark_python_round_trip_rows_per_s`` (the rows through the Python workers and back, no model),
  against the same baseline, are the ceilings predict cannot pass: a fast model, such as the MLP, is
  bound by them. Sending only the fed columns to Python and keeping the rows in the JVM (a scalar
  ``arrow_udf`` returning a struct of outputs) was measured too and is slower than ``mapInArrow``
  on ``local[2]`` (an identity ``arrow_udf`` over the 10 columns: 0.34-0.40x of the MLP baseline,
  against 0.38-0.49x for the ``mapInArrow`` identity), so predict keeps ``mapInArrow``.

Usage::

    .venv/bin/python bench/bench_spark.py --rows 1000000     # a reduced run
    .venv/bin/python bench/run.py --only spark               # full size (10,000,000 rows)
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

from bench._util import peak_rss_mb, reset_peak_rss, row

BENCHMARK = "spark"
FULL_ROWS = 10_000_000
QUICK_ROWS = 200_000
FEATURES = 10
FILES = 8
TRAIN_ROWS = 20_000
SEED = 0
PREDICT_REPEATS = 3


def _write_data(folder: Path, rows: int) -> Path:
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(SEED)
    out = folder / f"rows-{rows}"
    out.mkdir()
    names = [f"f{i}" for i in range(FEATURES)]
    per_file = -(-rows // FILES)
    for i, start in enumerate(range(0, rows, per_file)):
        n = min(per_file, rows - start)
        X = rng.normal(size=(n, FEATURES)).astype(np.float32)
        pq.write_table(pa.table({c: X[:, j] for j, c in enumerate(names)}), out / f"part-{i:02d}.parquet")
    return out


def _models() -> dict[str, Any]:
    import numpy as np
    from sklearn.ensemble import RandomForestRegressor
    from sklearn.neural_network import MLPRegressor

    rng = np.random.default_rng(SEED + 1)
    X = rng.normal(size=(TRAIN_ROWS, FEATURES)).astype(np.float32)
    y = X[:, 0] * 2 + np.sin(X[:, 1] * 3) + X[:, 2] * X[:, 3] + rng.normal(scale=0.1, size=TRAIN_ROWS)
    models = {
        "random-forest-100": RandomForestRegressor(n_estimators=100, max_depth=8, random_state=SEED, n_jobs=1),
        "mlp-64x64": MLPRegressor(hidden_layer_sizes=(64, 64), max_iter=30, random_state=SEED),
    }
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # convergence warnings: training is not measured
        for model in models.values():
            model.fit(X, y)
    return models


def _timed(func: Any) -> tuple[float, Any]:
    start = time.perf_counter()
    result = func()
    return time.perf_counter() - start, result


def _local_validate(conv: Any, model: Any, folder: Path) -> tuple[float, Any]:
    import pandas as pd

    import onnxgate as og

    def run() -> Any:
        data = pd.read_parquet(folder)  # the same files Spark reads, read the way og.validate reads one
        return og.validate(conv, reference=model, data=data, progress=False)

    return _timed(run)


def _local_score(conv: Any, folder: Path) -> float:
    """onnxruntime over the Parquet files read batch by batch with pyarrow, in one process, in batches of
    onnxgate.runtime.RUN_ROWS rows: the size predict's workers run the model on (an MLP's activations
    stay in cache; in 65,536-row batches this baseline is a third slower for the MLP)."""
    import numpy as np
    import onnxruntime as ort
    import pyarrow.dataset as ds

    from onnxgate.runtime import RUN_ROWS

    session = ort.InferenceSession(conv.model.SerializeToString(), providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name

    def run() -> None:
        for batch in ds.dataset(str(folder), format="parquet").to_batches(batch_size=RUN_ROWS):
            X = np.column_stack([c.to_numpy() for c in batch.columns])
            session.run(None, {name: X})

    return _timed(run)[0]


def _driver_peak(func: Any) -> tuple[float | None, Any]:
    """Peak resident memory of this (driver) process while ``func`` runs, in MB, and its result."""
    reset_peak_rss()
    result = func()
    return peak_rss_mb(), result


def _case(
    spark: Any, case: str, model: Any, big: Path, small: Path, rows: int, small_rows: int, startup: float
) -> list[dict[str, Any]]:
    import onnxgate as og
    import onnxgate.spark as ogs
    from onnxgate.cli import main as cli

    conv = og.convert(model, _sample())
    label = f"{case} {rows:,}x{FEATURES}"
    df_big, df_small = _through_spark(spark, big), _through_spark(spark, small)
    cold, _ = _timed(lambda: ogs.validate(conv, df_small, reference=model))  # workers start and import
    small_mem, _ = _driver_peak(lambda: ogs.validate(conv, df_small, reference=model))
    big_mem, (spark_s, report) = _driver_peak(lambda: _timed(lambda: ogs.validate(conv, df_big, reference=model)))
    ogs.validate(conv, small, reference=model, spark=spark)  # the path route's first job, not timed
    path_s, path_report = _timed(lambda: ogs.validate(conv, big, reference=model, spark=spark))
    local_s, local_report = _local_validate(conv, model, big)
    one_way_s, _ = _timed(lambda: spark.read.parquet(str(big)).mapInArrow(_drop, "rows long").collect())
    note = (f"Spark session start {startup:.1f}s and first (cold) job {cold:.1f}s not included; "
            f"passed: spark {report.passed}, local {local_report.passed}; local reads the Parquet with pandas")
    out = [
        row(BENCHMARK, label, "spark_validate_rows_per_s", rows / spark_s, rows / local_s, ">= 0.8", "rows/s",
            note=note),
        row(BENCHMARK, label, "spark_validate_parquet_path_rows_per_s", rows / path_s, rows / local_s, ">= 0.8",
            "rows/s", note=f"the Parquet folder's path given: the workers read it with pyarrow (passed: "
            f"{path_report.passed})"),
        row(BENCHMARK, label, "spark_python_one_way_rows_per_s", rows / one_way_s, rows / local_s, None, "rows/s",
            note="the rows read and sent to the Python workers, which drop them, no model: Spark's share of validate"),
        row(BENCHMARK, label, "driver_peak_memory", big_mem, small_mem, "<= 1.5", "MB",
            note=f"Python driver peak RSS during spark.validate: {rows:,} rows vs {small_rows:,}"),
    ]
    predicts, path_predicts, local_scores, cli_scores = [], [], [], []
    out_file, model_file = big.parent / "scored.parquet", big.parent / f"{case}.onnx"
    model_file.write_bytes(conv.model.SerializeToString())
    score_argv = ["score", str(model_file), "--data", str(big), "--out", str(out_file), "--force"]
    for _ in range(PREDICT_REPEATS):  # alternated, medians: one run of each was off by up to 40% here
        cli_scores.append(_timed(lambda: cli(score_argv))[0])
        predicts.append(_timed(
            lambda: ogs.predict(_through_spark(spark, big), conv).write.format("noop").mode("overwrite").save()
        )[0])
        path_predicts.append(_timed(
            lambda: ogs.predict(big, conv, spark=spark).write.format("noop").mode("overwrite").save()
        )[0])
        local_scores.append(_local_score(conv, big))
    out_file.unlink()
    predict_s, path_predict_s, local_score_s, cli_s = map(statistics.median,
                                                          (predicts, path_predicts, local_scores, cli_scores))
    out.append(row(BENCHMARK, label, "one_machine_score_rows_per_s", rows / cli_s, rows / local_score_s, None,
                   "rows/s", note="'onnxgate score' without Spark: the same scoring plus writing the "
                   f"inputs and outputs to one Parquet file; medians of {PREDICT_REPEATS}"))
    read_s, _ = _timed(lambda: spark.read.parquet(str(big)).write.format("noop").mode("overwrite").save())
    out.append(row(BENCHMARK, label, "spark_read_only_rows_per_s", rows / read_s, rows / local_score_s, None,
                   "rows/s", note="Spark reading the Parquet into the noop sink, no model: the floor of predict"))
    df = spark.read.parquet(str(big))
    trip_s, _ = _timed(lambda: df.mapInArrow(_identity, df.schema).write.format("noop").mode("overwrite").save())
    out.append(row(BENCHMARK, label, "spark_python_round_trip_rows_per_s", rows / trip_s, rows / local_score_s, None,
                   "rows/s", note="the rows through Python workers and back unchanged (mapInArrow identity), no model"))
    out.append(row(BENCHMARK, label, "spark_predict_rows_per_s", rows / predict_s, rows / local_score_s, ">= 0.8",
                   "rows/s", note=f"into Spark's noop sink; baseline: pyarrow batches + onnxruntime, one process; "
                   f"medians of {PREDICT_REPEATS}"))
    out.append(row(BENCHMARK, label, "spark_predict_parquet_path_rows_per_s", rows / path_predict_s,
                   rows / local_score_s, ">= 0.8", "rows/s",
                   note=f"the Parquet folder's path given: the workers read it with pyarrow; into the noop sink; "
                   f"medians of {PREDICT_REPEATS}"))
    return out


def main(quick: bool = False, rows: int | None = None) -> list[dict[str, Any]]:
    import onnxgate.spark as ogs

    rows = rows or (QUICK_ROWS if quick else FULL_ROWS)
    small_rows = max(rows // 10, 1000)
    out: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="bench-spark-") as tmp:
        big = _write_data(Path(tmp), rows)
        small = _write_data(Path(tmp), small_rows)
        models = _models()
        startup, spark = _timed(lambda: ogs.session("local[2]"))
        try:
            for case, model in models.items():
                out.extend(_case(spark, case, model, big, small, rows, small_rows, startup))
        finally:
            spark.stop()
    out.append(row(BENCHMARK, "local[2] session", "spark_startup", startup, None, None, "s"))
    return out


def _through_spark(spark: Any, folder: Path) -> Any:
    """The rows as a DataFrame Spark's reader feeds, as any DataFrame but a plain ``spark.read.parquet``
    of local files (after a filter, a join, ...): the reader option keeps the workers from reading it."""
    return spark.read.option("pathGlobFilter", "*.parquet").parquet(str(folder))


def _identity(batches: Any) -> Any:
    yield from batches


def _drop(batches: Any) -> Any:
    import pyarrow as pa

    rows = sum(batch.num_rows for batch in batches)
    yield pa.RecordBatch.from_pydict({"rows": [rows]}, schema=pa.schema([("rows", pa.int64())]))


def _sample() -> Any:
    import numpy as np

    return np.random.default_rng(SEED).normal(size=(100, FEATURES)).astype(np.float32)


if __name__ == "__main__":
    if str(Path(__file__).resolve().parent.parent) not in sys.path:
        sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    args = sys.argv[1:]
    n = int(args[args.index("--rows") + 1]) if "--rows" in args else None
    for r in main(quick="--quick" in args, rows=n):
        print({k: (round(v, 3) if isinstance(v, float) else v) for k, v in r.items()})
