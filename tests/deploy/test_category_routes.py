"""One rule for a plain integer column of category values, on every route: validate, ``onnxgate score``, the SQL dry
run, the container service (``/score`` and v2 infer) and MLflow pyfunc (Spark's in ``tests/spark``).

A number is the category of that value: categories 1, 2, 3, 5, 8, 13, 21 and a column of 1, 2, 3, 5 (each also a
code) is read as those categories, as a pandas category column would be. A number that is none of the categories
(0, 4, 6, the codes a client may send) is refused for XGBoost and LightGBM, which take no plain column themselves
and would score it as another category or a missing one; HistGradientBoosting and CatBoost take the plain column
themselves, and every route answers as they do. Before (helper-233): XGBoost's months were refused by validate,
score and the dry run and read by value by MLflow and Spark, the codes read as codes by validate, score, the dry
run and the service and refused by MLflow; LightGBM's codes were scored as missing values on every route."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from _column_frames import FIBONACCI_REQUESTS, fibonacci_answer, fibonacci_model
from _serving import Server, free_port

import onnxgate as og
from onnxgate.cli import main

pd = pytest.importorskip("pandas")

LIBRARIES = ["xgboost", "lightgbm", "hist", "catboost"]
#: The dry run packages for sql-edge-2.0, where XGBoost and LightGBM categories convert.
SQL = ("xgboost", "lightgbm")
REFUSED = "none of the model's categories [1, 2, 3, 5, 8, 13, 21]"

pytestmark = pytest.mark.slow  # ~40 s: four models, each packaged three ways and served once


def _rows(values: list[int]) -> Any:
    return pd.DataFrame({"x": np.linspace(-1.0, 1.0, len(values)), "n": np.array(values, dtype=np.int64)})


def _validate(ctx: dict[str, Any], rows: Any) -> Any:
    report = og.validate(ctx["conv"], reference=ctx["model"], data=rows)
    assert report.passed, str(report)
    return None  # parity passed: the file answers as the model does on these rows


def _score(ctx: dict[str, Any], rows: Any) -> Any:
    folder = ctx["out"]
    rows.to_parquet(folder / "rows.parquet")
    code = main(["score", str(ctx["tmp"] / "m.onnx"), "--data", str(folder / "rows.parquet"),
                 "--out", str(folder / "out.parquet")])
    if code != 0:
        raise og.InvalidDataError(ctx["capsys"].readouterr().err)
    return np.stack(pd.read_parquet(folder / "out.parquet")["probabilities"])


def _dry_run(ctx: dict[str, Any], rows: Any) -> Any:
    from onnxgate.deploy import duckdb_dryrun

    result = duckdb_dryrun.dry_run(ctx["tmp"] / "sql", rows, reference=ctx["model"])
    assert result.passed, result.reference
    return np.c_[result.result.column("p_0").to_numpy(), result.result.column("p_1").to_numpy()]


def _service(ctx: dict[str, Any], rows: Any) -> Any:
    status, body = ctx["entry"].score(json.dumps({"data": {"x": rows.x.tolist(), "n": rows.n.tolist()}}))
    if status != 200:
        raise og.InvalidDataError(body["message"])
    return np.asarray(body["probabilities"])


def _v2(ctx: dict[str, Any], rows: Any) -> Any:
    count = len(rows)
    body = {"inputs": [{"name": "x", "shape": [count, 1], "datatype": "FP64", "data": rows.x.tolist()},
                       {"name": "n", "shape": [count, 1], "datatype": "INT64", "data": rows.n.tolist()}]}
    status, raw = ctx["server"].request("POST", f"/v2/models/{ctx['service']}/infer", json.dumps(body).encode(),
                                        {"Content-Type": "application/json"})
    answer = json.loads(raw)
    if status != 200:
        raise og.InvalidDataError(answer["error"])
    found = next(o for o in answer["outputs"] if o["name"] == "probabilities")
    return np.asarray(found["data"]).reshape(found["shape"])


def _mlflow(ctx: dict[str, Any], rows: Any) -> Any:
    got = ctx["pyfunc"].predict(rows)
    return np.asarray(got["probabilities"]).reshape(len(rows), -1)


ROUTES = {"validate": _validate, "score": _score, "dry-run": _dry_run, "service": _service, "v2": _v2,
          "mlflow": _mlflow}


@pytest.fixture(scope="module", params=LIBRARIES)
def routed(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Any:
    """A model of ``request.param`` converted and packaged for each route, its service started (and stopped)."""
    library = request.param
    pytest.importorskip({"hist": "sklearn"}.get(library, library))
    mlflow_pyfunc = pytest.importorskip("mlflow.pyfunc", reason="the extra 'mlflow' is not installed")
    tmp = tmp_path_factory.mktemp(library)
    model, frame = fibonacci_model(library)
    conv = og.convert(model, frame.head(60))
    conv.save(tmp / "m.onnx")
    if library in SQL:
        og.package(og.convert(model, frame.head(60), target="sql-edge-2.0"), target="sql-edge-2.0", out=tmp / "sql")
    container = og.package(conv, target="container", out=tmp / "container")
    spec = importlib.util.spec_from_file_location(f"score_routes_{library}", container / "score.py")
    assert spec is not None and spec.loader is not None
    entry = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(entry)
    entry.init()
    pyfunc = mlflow_pyfunc.load_model(str(og.package(conv, target="mlflow", out=tmp / "mlflow")))
    port = free_port()
    server = Server([sys.executable, str(container / "server.py"), str(container), "--port", str(port)], port,
                    cwd=str(container)).wait_healthy()
    service = json.loads((container / "manifest.json").read_text())["service"]["name"]
    try:
        yield {"library": library, "model": model, "conv": conv, "tmp": tmp, "entry": entry, "server": server,
               "service": service, "pyfunc": pyfunc}
    finally:
        server.stop()


@pytest.mark.filterwarnings("ignore")
@pytest.mark.parametrize("request_name", list(FIBONACCI_REQUESTS))
def test_every_route_reads_a_plain_integer_column_of_categories_alike(
        routed: dict[str, Any], request_name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    library = routed["library"]
    rows = _rows(FIBONACCI_REQUESTS[request_name])
    want = fibonacci_answer(library, routed["model"], rows)
    ctx = {**routed, "out": tmp_path, "capsys": capsys}
    did: dict[str, str] = {}
    for route, run in ROUTES.items():
        if route == "dry-run" and library not in SQL:
            continue
        try:
            got = run(ctx, rows)
        except Exception as err:  # a route's refusal, compared below
            did[route] = "refused" if REFUSED in str(err) else f"failed otherwise: {str(err)[:300]}"
            continue
        if got is None or (want is not None and np.allclose(got, want, atol=1e-5, rtol=0)):
            did[route] = "answered as the model"
        else:
            off = np.abs(got - want).max() if want is not None else "refused by the model"
            did[route] = f"answered otherwise ({off})"
    expected = "refused" if want is None else "answered as the model"
    assert did == dict.fromkeys(did, expected), did
