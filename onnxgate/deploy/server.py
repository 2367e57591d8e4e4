"""The local scoring service: an ASGI app on uvicorn around a package's ``score.py``.

This file is also copied verbatim into every container package as ``server.py`` and started by its
Dockerfile, so ``onnxgate serve DIR`` and the container run the same code. It therefore imports
nothing from onnxgate, and uvicorn only where it is needed.

Routes (those of the Azure ML inference server):

* ``GET /``: health, plain text ``Healthy`` (never needs a key, so probes work);
* ``POST /score``: the JSON request is handed to ``score.score()``, the same function the entry
  script's ``run()`` calls; its status and JSON body are returned;
* ``GET /swagger.json``: the package's Swagger 2.0 file, or ``?version=3`` for OpenAPI 3.

Every error is a JSON body ``{"error": code, "message": text, "status": status}``; a bad request
gets a 4xx, never a 500 or a stack trace. With an API key, ``/score`` and ``/swagger.json`` need
``Authorization: Bearer <key>`` (compared in constant time).
"""

from __future__ import annotations

import argparse
import hmac
import importlib.util
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

__all__ = [
    "DEFAULT_MAX_BODY_BYTES",
    "INLINE_MAX_BYTES",
    "ScoringApp",
    "ServeError",
    "create_app",
    "load_entry_script",
    "main",
    "serve",
]

#: Bodies above this get 413; checked against Content-Length first and again while streaming.
DEFAULT_MAX_BODY_BYTES = 16 * 1024 * 1024
#: Requests up to this size are scored on the event loop, larger ones in the threadpool so the loop
#: stays free. At one row bench/bench_serve.py measured no difference beyond noise on a loaded 2-core
#: machine (p50 0.65 ms both ways; one quieter A/B: 0.59 ms inline vs 0.86 ms threadpool).
INLINE_MAX_BYTES = 16 * 1024
#: Threads for large requests; onnxruntime releases the GIL while it runs.
SCORING_THREADS = 4
#: Seconds uvicorn waits for in-flight requests after SIGTERM.
GRACEFUL_SHUTDOWN_S = 30
#: Environment variables that carry the settings to uvicorn worker processes (--workers N).
ENV_DIR = "ONNXGATE_SERVE_DIR"
ENV_KEY_NAME = "ONNXGATE_SERVE_API_KEY_ENV"
ENV_MAX_BODY = "ONNXGATE_SERVE_MAX_BODY_BYTES"
ENV_MAX_ROWS = "ONNXGATE_MAX_ROWS"  # read by score.py's init()

_JSON = "application/json"
_SWAGGER_FILES = {"2": "swagger.json", "2.0": "swagger.json", "3": "swagger3.json", "3.0": "swagger3.json"}


class ServeError(ValueError):
    """The service cannot start: a missing package file or an unset API key variable."""


def _error_body(status: int, code: str, message: str) -> bytes:
    return json.dumps({"error": code, "message": message, "status": status}).encode()


def load_entry_script(package_dir: str | os.PathLike[str]) -> ModuleType:
    """Import a package's ``score.py`` under a private module name and call its ``init()``.

    Parameters
    ----------
    package_dir : path
        A folder written by ``onnxgate package --target container``.

    Returns
    -------
    module
        The entry script, initialised.

    Raises
    ------
    ServeError
        The folder has no ``score.py``.
    """
    folder = Path(package_dir).resolve()
    script = folder / "score.py"
    if not script.is_file():
        raise ServeError(
            f"{str(folder)!r} has no score.py; serve a folder written by "
            "'onnxgate package MODEL --target container -o DIR'"
        )
    spec = importlib.util.spec_from_file_location(f"_onnxgate_score_{abs(hash(str(folder)))}", script)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.init()
    return module


def _read_key(api_key_env: str | None) -> str | None:
    if not api_key_env:
        return None
    key = os.environ.get(api_key_env, "")
    if not key:
        raise ServeError(
            f"--api-key-env names {api_key_env!r}, but that environment variable is unset or empty; "
            f"export {api_key_env}=<key> first"
        )
    return key


class _TooLarge(Exception):
    pass


_HEALTHY = b"Healthy"
_TEXT_HEADERS = [(b"content-type", b"text/plain; charset=utf-8")]
_JSON_TYPE = (b"content-type", b"application/json")


class ScoringApp:
    """The ASGI application: three routes, JSON errors, a body limit enforced while reading.

    A plain ASGI callable rather than a framework app: the whole service is three routes, and at
    one row per request the routing and request/response objects of a framework cost more than
    scoring (measured in-process on a loaded 2-core machine: 0.50 ms per request through a starlette
    app vs 0.38 ms through this one, the same score.py behind both).
    """

    def __init__(self, entry: ModuleType, swaggers: dict[str, bytes], *, api_key: str | None,
                 max_body_bytes: int) -> None:
        self.entry = entry
        self.swaggers = swaggers
        self.expected = f"Bearer {api_key}".encode() if api_key else None
        self.max_body_bytes = max_body_bytes
        self._pool: Any = None

    def _authorised(self, headers: dict[bytes, bytes]) -> bool:
        if self.expected is None:
            return True
        return hmac.compare_digest(headers.get(b"authorization", b""), self.expected)

    def _score(self, body: bytes) -> tuple[int, bytes]:
        status, payload = self.entry.score(body)
        return status, json.dumps(payload).encode()

    async def _read_body(self, headers: dict[bytes, bytes], receive: Any) -> bytes:
        declared = headers.get(b"content-length", b"")
        if declared.isdigit() and int(declared) > self.max_body_bytes:
            raise _TooLarge
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise ConnectionResetError("client went away")
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body_bytes:  # a missing (chunked) or lying Content-Length ends here
                raise _TooLarge
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)

    async def _post_score(self, headers: dict[bytes, bytes], receive: Any) -> tuple[int, bytes]:
        if not self._authorised(headers):
            return 401, _error_body(401, "unauthorized", "send the key as 'Authorization: Bearer <key>'")
        ctype = headers.get(b"content-type", b"").decode("latin-1")
        if ctype.split(";")[0].strip().lower() != _JSON:
            return 415, _error_body(415, "unsupported_media_type",
                                    f"expected Content-Type: application/json, found {ctype or 'none'!r}")
        try:
            body = await self._read_body(headers, receive)
        except _TooLarge:
            return 413, _error_body(413, "body_too_large", f"the request body is over {self.max_body_bytes} "
                                    "bytes; send fewer rows per request")
        if len(body) <= INLINE_MAX_BYTES:
            return self._score(body)
        import asyncio

        if self._pool is None:
            from concurrent.futures import ThreadPoolExecutor

            self._pool = ThreadPoolExecutor(max_workers=SCORING_THREADS, thread_name_prefix="score")
        return await asyncio.get_running_loop().run_in_executor(self._pool, self._score, body)

    async def _route(self, scope: dict[str, Any], receive: Any) -> tuple[int, bytes, list[tuple[bytes, bytes]]]:
        path, method = scope["path"], scope["method"]
        headers = dict(scope["headers"])
        if path == "/score":
            if method != "POST":
                return 405, _error_body(405, "method_not_allowed", "use POST /score"), [(b"allow", b"POST")]
            status, body = await self._post_score(headers, receive)
            extra = [(b"www-authenticate", b"Bearer")] if status == 401 else []
            return status, body, [_JSON_TYPE, *extra]
        if path == "/":
            if method not in ("GET", "HEAD"):
                return 405, _error_body(405, "method_not_allowed", "use GET /"), [_JSON_TYPE, (b"allow", b"GET")]
            return 200, _HEALTHY, _TEXT_HEADERS
        if path == "/swagger.json":
            if method not in ("GET", "HEAD"):
                return 405, _error_body(405, "method_not_allowed", "use GET /swagger.json"), [_JSON_TYPE]
            if not self._authorised(headers):
                return 401, _error_body(401, "unauthorized", "send the key as 'Authorization: Bearer <key>'"), [
                    _JSON_TYPE, (b"www-authenticate", b"Bearer")]
            from urllib.parse import parse_qs

            query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
            version = query.get("version", ["2"])[0]
            if version not in self.swaggers:
                return 404, _error_body(404, "swagger_version",
                                        f"swagger version {version!r} is not available; use 2 or 3"), [_JSON_TYPE]
            return 200, self.swaggers[version], [_JSON_TYPE]
        return 404, _error_body(404, "not_found", f"no route {path!r}; routes: GET /, POST /score, "
                                "GET /swagger.json"), [_JSON_TYPE]

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        try:
            status, body, headers = await self._route(scope, receive)
        except ConnectionResetError:
            return
        except Exception as err:  # never a stack trace to the client
            status, headers = 500, [_JSON_TYPE]
            body = _error_body(500, "internal_error", f"scoring failed: {type(err).__name__}")
        await send({"type": "http.response.start", "status": status,
                    "headers": [*headers, (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": b"" if scope["method"] == "HEAD" else body})

    async def _lifespan(self, receive: Any, send: Any) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                if self._pool is not None:
                    self._pool.shutdown(wait=True)
                await send({"type": "lifespan.shutdown.complete"})
                return


def create_app(
    package_dir: str | os.PathLike[str],
    *,
    api_key: str | None = None,
    max_rows: int | None = None,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
) -> ScoringApp:
    """Build the ASGI app for one package.

    Parameters
    ----------
    package_dir : path
        The container package (``score.py``, ``model.onnx``, ``swagger*.json``).
    api_key : str, optional
        When given, ``/score`` and ``/swagger.json`` need ``Authorization: Bearer <api_key>``.
    max_rows : int, optional
        Overrides the row limit written into the package.
    max_body_bytes : int
        Larger bodies get 413 without being read to the end.

    Returns
    -------
    ScoringApp
        An ASGI 3 application.

    Raises
    ------
    ServeError
        The folder has no ``score.py``.

    Examples
    --------
    >>> app = create_app("dist/iris")  # doctest: +SKIP
    >>> import uvicorn; uvicorn.run(app, host="127.0.0.1", port=5001)  # doctest: +SKIP
    """
    folder = Path(package_dir).resolve()
    if max_rows is not None:
        os.environ[ENV_MAX_ROWS] = str(int(max_rows))
    entry = load_entry_script(folder)
    swaggers: dict[str, bytes] = {}
    for version, name in _SWAGGER_FILES.items():
        if (folder / name).is_file():
            swaggers[version] = (folder / name).read_bytes()
    return ScoringApp(entry, swaggers, api_key=api_key, max_body_bytes=max_body_bytes)


def _freeze_heap() -> None:
    """Move everything loaded at start-up out of the garbage collector's reach.

    The model, onnxruntime and numpy leave hundreds of thousands of objects that live as long as the
    process; every full collection walked them all, and parsing a 1,000-row request allocates enough
    to trigger one. Measured with bench/bench_serve.py's load (iris, batch 1000, 300 requests, four
    A/B rounds): p99 26-30 ms before, 9-12 ms after; p50 unchanged. Only the serving process does
    this, not :func:`create_app`, so an application that embeds the app keeps its own GC settings.
    """
    import gc

    gc.collect()
    gc.freeze()


def app_from_env() -> Any:
    """App factory for uvicorn worker processes: the settings come from environment variables."""
    app = _app_from_env()
    _freeze_heap()
    return app


def _app_from_env() -> Any:
    return create_app(
        os.environ[ENV_DIR],
        api_key=_read_key(os.environ.get(ENV_KEY_NAME) or None),
        max_body_bytes=int(os.environ.get(ENV_MAX_BODY, DEFAULT_MAX_BODY_BYTES)),
    )


def serve(
    package_dir: str | os.PathLike[str],
    *,
    host: str = "127.0.0.1",
    port: int = 5001,
    api_key_env: str | None = None,
    workers: int = 1,
    max_rows: int | None = None,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    access_log: bool = False,
) -> None:
    """Serve a package until SIGTERM/SIGINT; in-flight requests finish first.

    Parameters
    ----------
    package_dir : path
    host, port : str, int
        Loopback by default: pass ``host="0.0.0.0"`` only to expose the service.
    api_key_env : str, optional
        Name of the environment variable holding the key.
    workers : int
        Worker processes (uvicorn); each loads the model once.
    max_rows, max_body_bytes : int
        Request limits (rows per request; bytes per body).
    access_log : bool
        Log every request (costs throughput).

    Raises
    ------
    ServeError
        No ``score.py`` in the folder, or the key variable is unset.
    """
    import uvicorn

    key = _read_key(api_key_env)
    folder = Path(package_dir).resolve()
    common: dict[str, Any] = {
        "host": host,
        "port": port,
        "access_log": access_log,
        "log_level": "info",
        "timeout_graceful_shutdown": GRACEFUL_SHUTDOWN_S,
        "server_header": False,
    }
    if workers > 1:
        os.environ[ENV_DIR] = str(folder)
        os.environ[ENV_MAX_BODY] = str(max_body_bytes)
        if api_key_env:
            os.environ[ENV_KEY_NAME] = api_key_env
        if max_rows is not None:
            os.environ[ENV_MAX_ROWS] = str(int(max_rows))
        load_entry_script(folder)  # fail here, once, rather than in every worker
        if __name__ == "__main__" or __spec__ is None:  # run as the container's "python server.py"
            sys.path.insert(0, str(Path(__file__).resolve().parent))
            module = Path(__file__).stem
        else:
            module = __spec__.name
        uvicorn.run(f"{module}:app_from_env", factory=True, workers=workers, **common)
        return
    app = create_app(folder, api_key=key, max_rows=max_rows, max_body_bytes=max_body_bytes)
    _freeze_heap()
    uvicorn.run(app, **common)


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="server.py", description="Serve this folder's score.py over HTTP.")
    p.add_argument("dir", nargs="?", default=str(Path(__file__).resolve().parent),
                   help="the package folder (default: the folder of this file)")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=5001)
    p.add_argument("--api-key-env", default=None, metavar="NAME")
    p.add_argument("--workers", type=int, default=1)
    p.add_argument("--max-rows", type=int, default=None)
    p.add_argument("--max-body-bytes", type=int, default=DEFAULT_MAX_BODY_BYTES)
    p.add_argument("--access-log", action="store_true")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """``python server.py [DIR] [--host H] [--port P] ...`` (the container's command)."""
    args = _parser().parse_args(argv)
    try:
        serve(args.dir, host=args.host, port=args.port, api_key_env=args.api_key_env, workers=args.workers,
              max_rows=args.max_rows, max_body_bytes=args.max_body_bytes, access_log=args.access_log)
    except ServeError as err:
        print(f"server.py: error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
