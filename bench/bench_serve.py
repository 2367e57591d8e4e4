"""Serving: ``onnxgate serve`` vs the Azure ML inference server (``azmlinfsrv``) vs in-process onnxruntime.

One container package of a zoo classifier (default ``sklearn-iris-logreg``) is served on 127.0.0.1
by ``onnxgate serve`` and by ``azmlinfsrv`` (both run the same ``score.py``); a small client of
threads with keep-alive ``http.client`` connections sends a bounded number of requests of 1 row and
of 1,000 rows. Reported per case: p50/p99 latency at concurrency 1, and requests/s at concurrency 1
and at ``--concurrency`` (default 4). The floor is onnxruntime called in-process on the same arrays
(``ort``), and ``score.score`` called in-process on the same JSON body (``score.py``: parse, check,
run, encode: what a server cannot avoid). At batch 1, ``onnxgate threadpool`` is the same server
scoring in its threadpool instead of on the event loop: the measurement behind INLINE_MAX_BYTES.

The same ``onnxgate serve`` also answers the Open Inference Protocol: ``v2 binary`` is the same
rows sent to ``/v2/models/{name}/infer`` as binary tensors (``Inference-Header-Content-Length``) with
binary outputs. ``score.run`` is the entry script's ``run()`` in-process on the JSON body; its floor
(``score.run floor``) is orjson parsing the same body plus one onnxruntime run on the rows. The
in-process functions are called in turn, one call each per round, so drift hits them alike.
``run()`` itself parses a body of rows of numbers with simdjson when it is installed (the ``serve``
extra and the container's requirements), so it may beat the floor's parse.

Two floors of the v2 route (informational, no goal): ``v2 floor`` is an empty ``GET /v2/health/live`` p50
on the same server plus the in-process onnxruntime p50; ``v2 served floor`` (``serve_floor``) is the same
binary request sent to a bare uvicorn app that reads the body, runs onnxruntime once on its tensor
(``numpy.frombuffer``, no checks) and answers as many bytes as ``onnxgate serve`` does: the body and reply
transfer and onnxruntime run from a server that sleeps between requests, which no v2 server avoids here.
At batch 1,000 the JSON route, the v2 route and the served floor are also timed from ``LeanClient`` (one prebuilt
request per ``sendall``, the reply read to its Content-Length): ``http.client`` adds the same 0.1-0.15 ms to every
request of either route, which pulls their ratio towards 1; the lean rows show the servers' own ratio (no goal).

Goals (issue 14): at batch 1,000 the v2 binary p50 <= 0.35x the Azure ML JSON route's p50 on the
same server, ``score.run`` <= 1.5x its floor, and the JSON route >= 3x azmlinfsrv's requests/s at
``--concurrency`` clients; at batch 1 >= 2x azmlinfsrv's requests/s, and the p50 within 1 ms of the
in-process onnxruntime p50. Figures are the median of 3 runs.

Usage::

    .venv/bin/python bench/bench_serve.py [--quick] [--model NAME] [--requests N] [--concurrency C]

``azmlinfsrv`` comes from ``.venv-azml`` (``bash scripts/setup-azml.sh``); without it those rows are
skipped with a note. Results: a table on stdout and ``bench/results/serve.json``.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
if str(BENCH_DIR.parent) not in sys.path:
    sys.path.insert(0, str(BENCH_DIR.parent))

from bench._util import REPO, machine, onnxgate_command, row  # noqa: E402

BENCHMARK = "serve"
MODEL = "sklearn-iris-logreg"
BATCHES = (1, 1000)
REQUESTS = {1: 2000, 1000: 300}
QUICK_REQUESTS = {1: 300, 1000: 40}
RUNS = 3
CONCURRENCY = 4
AZML = REPO / ".venv-azml" / "bin" / "azmlinfsrv"
RESULTS = BENCH_DIR / "results" / "serve.json"
START_TIMEOUT_S = 60.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_healthy(port: int, proc: subprocess.Popen[bytes], timeout: float = START_TIMEOUT_S) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode} before it was healthy")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
            conn.request("GET", "/")
            if conn.getresponse().status == 200:
                conn.close()
                return
        except OSError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"server on port {port} not healthy after {timeout} s")


def stop(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM the server's process group (azmlinfsrv forks gunicorn workers), then SIGKILL."""
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=15)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=5)


def start_onnxgate(package: Path, port: int) -> subprocess.Popen[bytes]:
    argv = [*onnxgate_command(), "serve", str(package), "--port", str(port)]
    return subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)


def start_onnxgate_threadpool(package: Path, port: int) -> subprocess.Popen[bytes]:
    """``onnxgate serve`` with every request scored in the threadpool (the alternative to inline)."""
    code = ("import onnxgate.deploy.server as s; s.INLINE_MAX_BYTES = -1; "
            f"s.serve({str(package)!r}, port={port})")
    return subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)


def serve_floor(package: str, port: int, reply_bytes: int) -> None:
    """The v2 binary route's floor as a server: uvicorn (httptools, as ``onnxgate serve``) with an ASGI app that
    reads the whole body, runs onnxruntime once on the binary tensor after the JSON part (``numpy.frombuffer``, no
    checks) and answers ``reply_bytes`` fixed bytes, the size of ``onnxgate serve``'s answer; any other request
    gets a tiny 200 (the health wait). What no v2 server can skip on this machine: the body's and the reply's
    transfer, the HTTP stack, and onnxruntime run from a server that sleeps between requests."""
    import numpy as np
    import onnxruntime as ort
    import uvicorn

    sess = ort.InferenceSession(str(Path(package) / "model.onnx"), providers=["CPUExecutionProvider"])
    spec = sess.get_inputs()[0]
    dtype = np.dtype("<f8" if "double" in spec.type else "<f4")
    width = spec.shape[1] if len(spec.shape) == 2 and isinstance(spec.shape[1], int) else 1
    reply = b"x" * reply_bytes

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        chunks = []
        while True:
            message = await receive()
            chunks.append(message.get("body", b""))
            if not message.get("more_body"):
                break
        body = b"".join(chunks)
        answer = b"ok"
        if scope["method"] == "POST":
            json_size = int(dict(scope["headers"])[b"inference-header-content-length"])
            rows = np.frombuffer(memoryview(body)[json_size:], dtype=dtype).reshape(-1, width)
            sess.run(None, {spec.name: rows})
            answer = reply
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"application/octet-stream"),
                                (b"content-length", str(len(answer)).encode())]})
        await send({"type": "http.response.body", "body": answer})

    uvicorn.run(app, host="127.0.0.1", port=port, http="httptools", access_log=False, log_level="warning",
                server_header=False)


def start_floor(package: Path, port: int, reply_bytes: int) -> subprocess.Popen[bytes]:
    code = (f"import sys; sys.path.insert(0, {str(REPO)!r}); from bench.bench_serve import serve_floor; "
            f"serve_floor({str(package)!r}, {port}, {reply_bytes})")
    return subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)


def reply_size(port: int, path: str, body: bytes, headers: dict[str, str]) -> int:
    """The bytes of one answer to ``POST path``."""
    conn = _connect(port)
    try:
        conn.request("POST", path, body=body, headers=headers)
        return len(conn.getresponse().read())
    finally:
        conn.close()


def start_azml(package: Path, port: int, home: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "HOME": str(home), "AZUREML_MODEL_DIR": str(package), "AML_APP_ROOT": str(package),
           "AZUREML_LOG_LEVEL": "WARNING"}
    argv = [str(AZML), "--entry_script", str(package / "score.py"), "--port", str(port)]
    return subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, cwd=str(home),
                            start_new_session=True)


JSON_HEADERS = {"Content-Type": "application/json"}


def _connect(port: int) -> http.client.HTTPConnection:
    """A keep-alive connection with TCP_NODELAY, as curl, urllib3 and tritonclient's client set it.

    http.client sends a body over 2,920 bytes in a second write after the headers; without
    TCP_NODELAY, Nagle's algorithm holds it until the headers are acknowledged, which adds a
    delayed-ACK wait to every 1,000-row request whatever the server does.
    """
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.connect()
    assert conn.sock is not None
    conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return conn


class LeanClient:
    """A keep-alive HTTP/1.1 client with next to no cost of its own: the request is built once and sent with one
    ``sendall``, the reply read to its ``Content-Length``. ``http.client`` builds and parses every request and
    reply in Python (0.11-0.15 ms a request on a 2-core AMD EPYC), a cost both routes pay, so its ratio of two
    p50s is nearer 1 than the servers' own."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=30)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.left = b""

    @staticmethod
    def build(method: str, path: str, body: bytes | None, headers: dict[str, str]) -> bytes:
        lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1", *(f"{k}: {v}" for k, v in headers.items())]
        if method == "POST":
            lines.append(f"Content-Length: {len(body or b'')}")
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + (body or b"")

    def request(self, raw: bytes) -> int:
        """Send one built request; the reply's status."""
        self.sock.sendall(raw)
        buf = self.left
        while b"\r\n\r\n" not in buf:
            chunk = self.sock.recv(1 << 18)
            if not chunk:
                raise ConnectionError("the server closed the connection")
            buf += chunk
        head, _, rest = buf.partition(b"\r\n\r\n")
        lines = head.split(b"\r\n")
        size = next(int(line.split(b":", 1)[1]) for line in lines[1:] if line.lower().startswith(b"content-length:"))
        while len(rest) < size:
            chunk = self.sock.recv(1 << 18)
            if not chunk:
                raise ConnectionError("the server closed the connection")
            rest += chunk
        self.left = rest[size:]
        return int(lines[0].split()[1])

    def close(self) -> None:
        self.sock.close()


def load_lean(port: int, body: bytes, requests: int, path: str = "/score",
              headers: dict[str, str] | None = None) -> dict[str, float]:
    """``load`` at concurrency 1 with :class:`LeanClient`: the same p50/p99 and requests/s."""
    raw = LeanClient.build("POST", path, body, headers or JSON_HEADERS)
    client = LeanClient(port)
    latencies, errors = [], 0
    try:
        for _ in range(requests):
            t0 = time.perf_counter()
            errors += client.request(raw) != 200
            latencies.append(time.perf_counter() - t0)
    finally:
        client.close()
    latencies.sort()
    return {"p50_ms": 1000 * latencies[len(latencies) // 2],
            "p99_ms": 1000 * latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))],
            "rps": len(latencies) / sum(latencies), "errors": errors}


def load(port: int, body: bytes, requests: int, concurrency: int, path: str = "/score",
         headers: dict[str, str] | None = None, method: str = "POST") -> dict[str, float]:
    """Send ``requests`` ``method`` ``path`` from ``concurrency`` threads; latency percentiles and requests/s."""
    latencies: list[float] = []
    errors = [0]
    lock = threading.Lock()
    counter = iter(range(requests))
    headers = headers or JSON_HEADERS

    def worker() -> None:
        conn = _connect(port)
        mine: list[float] = []
        while True:
            with lock:
                if next(counter, None) is None:
                    break
            t0 = time.perf_counter()
            try:
                conn.request(method, path, body=body if method == "POST" else None, headers=headers)
                resp = conn.getresponse()
                resp.read()
                ok = resp.status == 200
            except (OSError, http.client.HTTPException):
                conn.close()
                conn = _connect(port)
                ok = False
            mine.append(time.perf_counter() - t0)
            if not ok:
                with lock:
                    errors[0] += 1
        conn.close()
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - t0
    latencies.sort()
    return {
        "p50_ms": 1000 * latencies[len(latencies) // 2],
        "p99_ms": 1000 * latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))],
        "rps": len(latencies) / elapsed,
        "errors": errors[0],
    }


def in_process_alternated(funcs: dict[str, Callable[[], Any]], requests: int) -> dict[str, dict[str, float]]:
    """p50/p99 latency of each function called in-process, the functions called in turn, one call each
    per round (after a warm-up): the machine's drift (it moved a function's p50 by 1.5x within minutes
    here) then hits them alike and their ratio holds. ``rps`` is one over the mean latency."""
    for _ in range(min(50, requests)):
        for func in funcs.values():
            func()
    lat: dict[str, list[float]] = {name: [] for name in funcs}
    for _ in range(requests):
        for name, func in funcs.items():
            s = time.perf_counter()
            func()
            lat[name].append(time.perf_counter() - s)
    out = {}
    for name, values in lat.items():
        values.sort()
        out[name] = {"p50_ms": 1000 * values[len(values) // 2], "p99_ms": 1000 * values[int(len(values) * 0.99)],
                     "rps": len(values) / sum(values), "errors": 0}
    return out


def _median(runs: list[dict[str, float]]) -> dict[str, float]:
    return {k: statistics.median(r[k] for r in runs) for k in runs[0]}


def build_package(folder: Path, model: str) -> tuple[Path, Any]:
    import onnxgate as og

    entry = og.zoo.get(model)
    native, X, _y = entry.build()
    conv = og.convert(native, X[:50])
    out = folder / "pkg"
    og.package(conv, target="container", out=out, max_rows=5000)
    return out, X


def v2_binary_body(name: str, arr: Any) -> tuple[bytes, dict[str, str]]:
    """An Open Inference Protocol request with the rows as one binary FP64/FP32 tensor, binary outputs."""
    datatype = "FP64" if arr.dtype.itemsize == 8 else "FP32"
    raw = arr.astype(arr.dtype.newbyteorder("<")).tobytes()
    header = json.dumps({"inputs": [{"name": name, "shape": list(arr.shape), "datatype": datatype,
                                     "parameters": {"binary_data_size": len(raw)}}],
                         "parameters": {"binary_data_output": True}}).encode()
    return header + raw, {"Inference-Header-Content-Length": str(len(header)),
                          "Content-Type": "application/octet-stream"}


def bodies(X: Any) -> dict[int, bytes]:
    import numpy as np

    out = {}
    for batch in BATCHES:
        reps = -(-batch // len(X))
        rows = np.concatenate([X] * reps)[:batch]
        out[batch] = json.dumps({"data": rows.tolist()}).encode()
    return out


def measure(quick: bool = False, model: str = MODEL, requests: dict[int, int] | None = None,
            concurrency: int = CONCURRENCY, runs: int = RUNS) -> dict[str, Any]:
    import importlib.util

    import numpy as np
    import onnxruntime as ort

    counts = requests or (QUICK_REQUESTS if quick else REQUESTS)
    runs = 1 if quick else runs
    results: dict[str, Any] = {"model": model, "concurrency": concurrency, "runs": runs, "requests": counts,
                               "cases": {}}
    with tempfile.TemporaryDirectory() as tmp:
        pkg, X = build_package(Path(tmp), model)
        body = bodies(X)
        sess = ort.InferenceSession(str(pkg / "model.onnx"), providers=["CPUExecutionProvider"])
        in_name = sess.get_inputs()[0].name
        spec = importlib.util.spec_from_file_location("_bench_score", pkg / "score.py")
        assert spec is not None and spec.loader is not None
        score = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(score)
        score.init()
        model_name = json.loads((pkg / "manifest.json").read_text())["service"]["name"]
        try:
            import orjson

            loads: Callable[[bytes], Any] = orjson.loads
        except ImportError:  # the floor is defined with orjson; say so rather than measure another
            results["note"] = "orjson missing: the score.run floor uses the standard library's json"
            loads = json.loads
        servers: dict[str, Callable[[int], subprocess.Popen[bytes]]] = {
            "onnxgate serve": lambda port: start_onnxgate(pkg, port),
            "onnxgate threadpool": lambda port: start_onnxgate_threadpool(pkg, port)}
        home = Path(tmp) / "home"
        home.mkdir()
        if AZML.exists():
            servers["azmlinfsrv"] = lambda port: start_azml(pkg, port, home)
        else:
            results["note"] = f"{AZML} missing: run 'bash scripts/setup-azml.sh' for the azmlinfsrv rows"
        for batch in BATCHES:
            n = counts[batch]
            dtype = sess.get_inputs()[0].type  # e.g. tensor(double)
            arr = np.asarray(json.loads(body[batch])["data"],
                             dtype=np.float64 if "double" in dtype else np.float32)
            case: dict[str, Any] = {}
            raw = body[batch]

            def ort_call(a: Any = arr) -> Any:
                return sess.run(None, {in_name: a})

            def run_call(b: bytes = raw) -> Any:
                return score.run(b)

            def floor_call(b: bytes = raw, a: Any = arr) -> Any:
                loads(b)
                return sess.run(None, {in_name: a})

            def bytes_call(b: bytes = raw) -> Any:
                return score.score_bytes(b)

            calls = {"ort in-process": ort_call, "score.run floor": floor_call, "score.run": run_call,
                     "score_bytes": bytes_call}
            measured = [in_process_alternated(calls, n) for _ in range(runs)]
            for label in calls:
                case[label] = _median([m[label] for m in measured])
            v2_body, v2_headers = v2_binary_body(in_name, arr)
            v2_path = f"/v2/models/{model_name}/infer"
            for name, start in servers.items():
                if name == "onnxgate threadpool" and batch != 1:
                    continue  # at 1,000 rows the body is over INLINE_MAX_BYTES: both use the threadpool
                lat, thr, v2_lat, v2_thr, live, served_floor = [], [], [], [], [], []
                lean: dict[str, list[dict[str, float]]] = {"JSON lean client": [], "v2 lean client": [],
                                                           "v2 served floor lean client": []}
                for _ in range(runs):
                    port = free_port()
                    proc = start(port)
                    try:
                        wait_healthy(port, proc)
                        load(port, body[batch], min(n, 50), 1)  # warm-up
                        lat.append(load(port, body[batch], n, 1))
                        thr.append(load(port, body[batch], n, concurrency))
                        if name == "onnxgate serve":
                            load(port, v2_body, min(n, 50), 1, v2_path, v2_headers)
                            v2_lat.append(load(port, v2_body, n, 1, v2_path, v2_headers))
                            v2_thr.append(load(port, v2_body, n, concurrency, v2_path, v2_headers))
                            # the round trip of a request with no work (same client, same server): with the
                            # onnxruntime run it bounds how fast any v2 infer can answer here
                            live.append(load(port, b"", n, 1, "/v2/health/live", {}, method="GET"))
                            v2_reply = reply_size(port, v2_path, v2_body, v2_headers)
                            if batch == 1000:  # the same requests from a client that costs next to nothing
                                lean["JSON lean client"].append(load_lean(port, body[batch], n))
                                lean["v2 lean client"].append(load_lean(port, v2_body, n, v2_path, v2_headers))
                    finally:
                        stop(proc)
                    if name == "onnxgate serve":
                        # the same body to a server that only reads it, runs onnxruntime and answers as many bytes
                        port = free_port()
                        proc = start_floor(pkg, port, v2_reply)
                        try:
                            wait_healthy(port, proc)
                            load(port, v2_body, min(n, 50), 1, v2_path, v2_headers)
                            served_floor.append(load(port, v2_body, n, 1, v2_path, v2_headers))
                            if batch == 1000:
                                lean["v2 served floor lean client"].append(
                                    load_lean(port, v2_body, n, v2_path, v2_headers))
                        finally:
                            stop(proc)
                if live:
                    case["empty GET /v2/health/live"] = {**_median(live), "errors": sum(m["errors"] for m in live)}
                if served_floor:
                    case["v2 served floor"] = {**_median(served_floor),
                                               "errors": sum(m["errors"] for m in served_floor)}
                for label, lean_runs in lean.items():
                    if lean_runs:
                        case[label] = {**_median(lean_runs), "errors": sum(m["errors"] for m in lean_runs)}
                for label, la, th in ((name, lat, thr), ("onnxgate v2 binary", v2_lat, v2_thr)):
                    if not la:
                        continue
                    one, many = _median(la), _median(th)
                    case[label] = {**one, f"rps_c{concurrency}": many["rps"],
                                   f"p50_ms_c{concurrency}": many["p50_ms"], "errors": one["errors"] + many["errors"]}
            results["cases"][str(batch)] = case
    return results


def table(results: dict[str, Any]) -> str:
    c = results["concurrency"]
    head = f"{'batch':>5}  {'server':<20} {'p50 ms':>8} {'p99 ms':>8} {'req/s c1':>9} {f'req/s c{c}':>9} {'errors':>6}"
    lines = [head, "-" * len(head)]
    for batch, case in results["cases"].items():
        for name, m in case.items():
            lines.append(f"{batch:>5}  {name:<20} {m['p50_ms']:8.3f} {m['p99_ms']:8.3f} {m['rps']:9.0f} "
                         f"{m.get(f'rps_c{c}', float('nan')):9.0f} {int(m['errors']):6d}")
    return "\n".join(lines)


def main(quick: bool = False) -> list[dict[str, Any]]:
    """Rows for bench/run.py: the goals at batch 1 and 1,000 plus the raw figures."""
    return main_rows(measure(quick=quick))


def main_rows(results: dict[str, Any]) -> list[dict[str, Any]]:
    c = results["concurrency"]
    rows: list[dict[str, Any]] = []
    for batch, case in results["cases"].items():
        og = case["onnxgate serve"]
        az = case.get("azmlinfsrv")
        floor = case["ort in-process"]
        rows.append(row(BENCHMARK, f"batch {batch}", f"JSON route req/s c{c} vs azmlinfsrv", og[f"rps_c{c}"],
                        az[f"rps_c{c}"] if az else None, ">= 2.0" if batch == "1" else ">= 3.0", "req/s",
                        note="" if az else results.get("note", "")))
        rows.append(row(BENCHMARK, f"batch {batch}", "v2 binary p50 vs JSON route p50",
                        case["onnxgate v2 binary"]["p50_ms"], og["p50_ms"], "<= 0.35" if batch == "1000" else None,
                        "ms"))
        empty = case.get("empty GET /v2/health/live")
        if empty:
            rows.append(row(BENCHMARK, f"batch {batch}", "v2 floor (empty GET p50 + ort p50) vs JSON route p50",
                            empty["p50_ms"] + floor["p50_ms"], og["p50_ms"], None, "ms",
                            note="the best ratio any v2 route could reach with this client and server"))
        served = case.get("v2 served floor")
        if served:
            rows.append(row(BENCHMARK, f"batch {batch}", "v2 served floor (body in, 1 ort run, reply out) vs JSON p50",
                            served["p50_ms"], og["p50_ms"], None, "ms",
                            note="uvicorn reading the same body, one onnxruntime run on it, as many bytes back"))
        lean_json, lean_v2, lean_floor = (case.get(f"{name} lean client") for name in ("JSON", "v2", "v2 served floor"))
        if lean_json and lean_v2:
            rows.append(row(BENCHMARK, f"batch {batch}", "v2 binary p50 vs JSON route p50, lean client",
                            lean_v2["p50_ms"], lean_json["p50_ms"], None, "ms",
                            note="one prebuilt request per sendall: the servers' ratio without http.client's cost"))
        if lean_json and lean_floor:
            rows.append(row(BENCHMARK, f"batch {batch}", "v2 served floor vs JSON p50, lean client",
                            lean_floor["p50_ms"], lean_json["p50_ms"], None, "ms"))
        rows.append(row(BENCHMARK, f"batch {batch}", "score.run() p50 vs floor (orjson parse + 1 ort run)",
                        case["score.run"]["p50_ms"], case["score.run floor"]["p50_ms"],
                        "<= 1.5" if batch == "1000" else None, "ms"))
        rows.append(row(BENCHMARK, f"batch {batch}", "p50 ms over in-process ort", og["p50_ms"] - floor["p50_ms"],
                        None, None, "ms", note="goal: <= 1.0 ms" if batch == "1" else ""))
        for name, m in case.items():
            rows.append(row(BENCHMARK, f"batch {batch} {name}", "p50", m["p50_ms"], None, None, "ms"))
            rows.append(row(BENCHMARK, f"batch {batch} {name}", "p99", m["p99_ms"], None, None, "ms"))
    return rows


def _cli() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true")
    p.add_argument("--model", default=MODEL)
    p.add_argument("--requests", type=int, default=None, help="requests per measurement at batch 1")
    p.add_argument("--concurrency", type=int, default=CONCURRENCY)
    p.add_argument("--runs", type=int, default=RUNS)
    args = p.parse_args()
    counts = None
    if args.requests:
        counts = {1: args.requests, 1000: max(10, args.requests // 7)}
    results = measure(quick=args.quick, model=args.model, requests=counts, concurrency=args.concurrency,
                      runs=args.runs)
    results["machine"] = machine()
    print(table(results))
    case = results["cases"]["1"]
    og, floor = case["onnxgate serve"], case["ort in-process"]
    summary = {"p50_over_inprocess_ms": og["p50_ms"] - floor["p50_ms"]}
    if "azmlinfsrv" in case:
        summary["rps_ratio_c1"] = og["rps"] / case["azmlinfsrv"]["rps"]
        summary[f"rps_ratio_c{args.concurrency}"] = (og[f"rps_c{args.concurrency}"]
                                                     / case["azmlinfsrv"][f"rps_c{args.concurrency}"])
    results["batch1_goals"] = summary
    print("batch 1:", json.dumps(summary))
    for r in main_rows(results):
        if r["goal"]:
            print(f"{r['case']:<11} {r['metric']:<52} {r['value']:10.3f} / {r['baseline'] or float('nan'):10.3f} = "
                  f"{r['ratio'] or float('nan'):5.2f}x  goal {r['goal']}")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {RESULTS}")
    return 0


if __name__ == "__main__":
    raise SystemExit(_cli())
