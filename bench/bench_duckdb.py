"""DuckDB dry-run throughput: rows/s of the mirrored ``PREDICT`` query against onnxruntime called directly.

For a linear model and a 100-tree random forest (scikit-learn, 10 float features) adapted for
``sql-edge-2.0`` and packaged, the dry run scores 1,000,000 rows in DuckDB: the input relation is
fetched as Arrow record batches, each scored in one onnxruntime call, and the scored batches go back
to DuckDB for the rest of the ``PREDICT`` statement. Two baselines, measured in the same process on
the same rows:

* the floor (goal: the dry run reaches at least 70% of its rows/s): the same DuckDB table fetched
  as Arrow, plus one onnxruntime ``run`` on the whole columns;
* onnxruntime called directly on the columns already in memory (``[N,1]`` numpy arrays), reported
  without a goal.

Times are medians of ``REPEAT`` runs; the data load into DuckDB is not timed. ``noop_udf_seconds``
is the old design's floor, a DuckDB Python UDF that does nothing (one call per 2,048-row vector).

Usage::

    .venv/bin/python bench/bench_duckdb.py           # 1,000,000 rows (about a minute)
    .venv/bin/python bench/bench_duckdb.py --quick   # 50,000 rows
    .venv/bin/python bench/bench_duckdb.py --noop-udf   # also the old design's floor
"""

from __future__ import annotations

import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._util import REPO, machine, row

BENCHMARK = "duckdb-dryrun"
GOAL = ">= 0.7"
FULL_ROWS = 1_000_000
QUICK_ROWS = 50_000
FEATURES = 10
TRAIN_ROWS = 5_000
REPEAT = 3
SEED = 0
#: Also time the old design's floor (a no-op Python UDF); off in bench/run.py to save its minute.
NOOP_UDF = "--noop-udf" in sys.argv[1:]


def _models() -> dict[str, Any]:
    from sklearn.ensemble import RandomForestRegressor
    from sklearn.linear_model import Ridge

    return {
        "linear": Ridge(alpha=1.0),
        "random-forest-100": RandomForestRegressor(n_estimators=100, max_depth=8, random_state=SEED, n_jobs=1),
    }


def _noop_udf_seconds(columns: dict[str, Any]) -> float:
    """Median time of the same query shape with an Arrow UDF that returns its first argument.

    This is the floor DuckDB's Python UDF path costs (one call per 2048-row vector), whatever the model.
    """
    import inspect

    import duckdb
    import pyarrow as pa

    con = duckdb.connect()
    try:
        names = list(columns)
        con.execute("CREATE TABLE t (" + ", ".join(f'"{n}" FLOAT NOT NULL' for n in names) + ")")
        con.register("src", pa.table(columns))
        con.execute("INSERT INTO t SELECT * FROM src")
        con.unregister("src")

        def first(*cols: Any) -> Any:
            return cols[0]

        first.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
            [inspect.Parameter(f"c{i}", inspect.Parameter.POSITIONAL_ONLY) for i in range(len(names))]
        )
        con.create_function("noop", first, ["FLOAT"] * len(names), "FLOAT",  # type: ignore[call-overload]
                            type="arrow", side_effects=False)
        query = "SELECT d.*, noop(" + ", ".join(f'd."{n}"' for n in names) + ") AS p FROM t AS d"
        times = []
        for _ in range(REPEAT):
            start = time.perf_counter()
            con.sql(query).to_arrow_table()
            times.append(time.perf_counter() - start)
        return statistics.median(times)
    finally:
        con.close()


def _case(name: str, model: Any, rows: int, folder: Path) -> list[dict[str, Any]]:
    import numpy as np
    import onnxruntime as ort

    import onnxgate as og
    from onnxgate.deploy.duckdb_dryrun import dry_run

    rng = np.random.default_rng(SEED)
    X = rng.normal(size=(rows, FEATURES)).astype(np.float32)
    y = X[:, 0] * 2 + np.sin(X[:, 1] * 3) + X[:, 2] * X[:, 3]
    model.fit(X[:TRAIN_ROWS], y[:TRAIN_ROWS])
    conv = og.convert(model, X[:TRAIN_ROWS], target="sql-edge-2.0")
    out = folder / name
    og.package(conv, target="sql-edge-2.0", out=out)
    columns = {f"f{i}": X[:, i] for i in range(FEATURES)}

    session = ort.InferenceSession(conv.to_bytes(), providers=["CPUExecutionProvider"])
    feeds = {k: np.ascontiguousarray(v).reshape(-1, 1) for k, v in columns.items()}
    session.run(None, feeds)  # warm-up, as the dry run's first query warms its session
    direct_times = []
    for _ in range(REPEAT):
        start = time.perf_counter()
        session.run(None, feeds)
        direct_times.append(time.perf_counter() - start)
    floor_seconds = _floor_seconds(session, columns)
    # one load, REPEAT timed runs of the scoring query (median), then the parity check
    result = dry_run(out, columns, rows=0, repeat=REPEAT)
    if not result.passed:
        raise AssertionError(f"{name}: the dry run disagrees with onnxruntime: {result.direct}")
    direct = rows / statistics.median(direct_times)
    dry = rows / result.seconds
    extra = {"rows": rows, "direct_seconds": statistics.median(direct_times), "floor_seconds": floor_seconds,
             "dryrun_seconds": result.seconds, "runs": REPEAT}
    return [
        row(BENCHMARK, name, "rows/s vs floor (DuckDB Arrow fetch + 1 ort run)", dry, rows / floor_seconds, GOAL,
            "rows/s", **extra),
        row(BENCHMARK, name, "rows/s vs ort direct", dry, direct, None, "rows/s", **extra,
            noop_udf_seconds=_noop_udf_seconds(columns) if NOOP_UDF else None),
    ]


def _floor_seconds(session: Any, columns: dict[str, Any]) -> float:
    """Median time of what the dry run cannot avoid: the DuckDB table fetched as Arrow, one ort run."""
    import duckdb
    import numpy as np
    import pyarrow as pa

    con = duckdb.connect()
    try:
        names = list(columns)
        con.execute("CREATE TABLE t (" + ", ".join(f'"{n}" FLOAT NOT NULL' for n in names) + ")")
        con.register("src", pa.table(columns))
        con.execute("INSERT INTO t SELECT * FROM src")
        con.unregister("src")
        select = "SELECT " + ", ".join(f'"{n}"' for n in names) + " FROM t"

        def floor() -> None:
            table = con.sql(select).to_arrow_table()
            feeds = {n: np.asarray(table.column(n).to_numpy()).reshape(-1, 1) for n in names}
            session.run(None, feeds)

        floor()
        times = []
        for _ in range(REPEAT):
            start = time.perf_counter()
            floor()
            times.append(time.perf_counter() - start)
        return statistics.median(times)
    finally:
        con.close()


def main(quick: bool = False) -> list[dict[str, Any]]:
    rows = QUICK_ROWS if quick else FULL_ROWS
    out: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, model in _models().items():
            out.extend(_case(name, model, rows, Path(tmp)))
    return out


def _print(rows: list[dict[str, Any]]) -> None:
    print(f"{'case':<20} {'baseline':<50} {'rows':>9} {'baseline rows/s':>15} "
          f"{'dry-run rows/s':>15} {'ratio':>7}  goal")
    for r in rows:
        ok = "" if not r["goal"] else "met" if r["ratio"] >= 0.7 else "NOT met"
        print(f"{r['case']:<20} {r['metric']:<50} {r['rows']:>9,} {r['baseline']:>15,.0f} {r['value']:>15,.0f} "
              f"{r['ratio']:>7.2f}  {r['goal'] or '-'} {ok}")


if __name__ == "__main__":
    quick = "--quick" in sys.argv[1:]
    results = main(quick=quick)
    _print(results)
    target = REPO / "bench" / "results" / "duckdb.json"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps({"machine": machine(), "quick": quick, "rows": results}, indent=2) + "\n")
    print(f"wrote {target}")
