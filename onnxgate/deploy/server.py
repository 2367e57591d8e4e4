"""The local scoring service: an ASGI app on uvicorn around a package's ``score.py``.

This file is also copied verbatim into every container package as ``server.py`` and started by its
Dockerfile, so ``onnxgate serve DIR`` and the container run the same code. It therefore imports
nothing from onnxgate, and uvicorn only where it is needed.

Routes of the Azure ML inference server:

* ``GET /``: health, plain text ``Healthy`` (never needs a key, so probes work);
* ``POST /score``: the JSON request is handed to ``score.score_bytes()``, which checks it the way
  the entry script's ``run()`` does; its status and JSON body are returned;
* ``GET /swagger.json``: the package's Swagger 2.0 file, or ``?version=3`` for OpenAPI 3.

Routes of the Open Inference Protocol (KServe v2, what Triton, KServe and Seldon MLServer serve):

* ``GET /v2/health/live``, ``GET /v2/health/ready`` (no key), ``GET /v2`` (server metadata);
* ``GET /v2/models/{name}[/versions/1]`` (metadata: datatypes and shapes from the Signature, ``-1``
  for a variable dimension), ``GET /v2/models/{name}[/versions/1]/ready``;
* ``POST /v2/models/{name}[/versions/1]/infer``: JSON tensors (``data`` flat or nested, row-major)
  or the binary tensor data extension (``Inference-Header-Content-Length`` gives the JSON part's
  length; inputs with ``"parameters": {"binary_data_size": n}`` follow it as little-endian bytes,
  ``BYTES`` elements as a 4-byte length then the bytes). Outputs asked for with
  ``"binary_data": true`` (or every output with ``"parameters": {"binary_data_output": true}``)
  come back the same way. Only the outputs named in ``outputs`` are computed and returned. The classification
  and shared memory extensions are not served: a tensor asking for either gets 400 (an output asked for in a
  shared memory region was answered in the body, and the client read the region as it was).

The model's name is the package's service name (``manifest.json``: ``service.name``); its only
version is ``1``. Datatypes: FP16, FP32, FP64, INT8-64, UINT8-64, BOOL and BYTES (strings), each
mapped from the model's element type; an input must be sent with its exact datatype and shape (one whose first size
is over the row limit and that does not fit the input's shape, as an image sent flat, gets 400 naming the shape to
send, not 413), but for an
input of category codes (an XGBoost or LightGBM model fitted on pandas category columns), whose metadata says
INT32, the category values may be sent instead (BYTES text, or INT64/FP32/FP64/INT32 numbers), read as their
codes as ``/score`` reads them (a missing value: JSON null, NaN, or in BYTES an empty text, ``nan`` or
``None``, the texts tritonclient writes for NaN and None). In
JSON ``data`` an integer datatype takes whole numbers however they are written (``3`` or ``3.0``),
as ``/score`` does, and an input packaged to take missing values takes ``null`` as NaN; binary
tensors carry their own datatype's bytes, so there is nothing to read. A request body may be sent with
``Content-Encoding: gzip`` or ``deflate`` (tritonclient's ``request_compression_algorithm``), on every
route; its decompressed size is held to the body limit. An ``infer`` answer is compressed with gzip or
deflate when ``Accept-Encoding`` asks for it (``response_compression_algorithm``).

Errors: the Azure ML routes answer ``{"error": code, "message": text, "status": status}``, the v2
routes ``{"error": text}`` as the protocol says; a bad request gets a 4xx, never a 500 or a stack
trace (on the v2 routes that includes onnxruntime refusing checked values with INVALID_ARGUMENT, such
as an index past a table; its other failures are the model's, a 500). Malformed HTTP (a bad request
line, ``Content-Length``, ``Transfer-Encoding``, a NUL in a header, a bad chunk) gets the JSON body
with 400, and more than :data:`MAX_HEADERS` header lines or :data:`MAX_HEADER_BYTES` bytes of
headers get 431, a transfer coding other than ``chunked`` gets 501, when uvicorn runs its httptools
parser (always in the container: ``requirements.txt`` pins it). A NaN or infinite output is written as ``null``.
With an API key, every route but the health probes needs ``Authorization: Bearer <key>`` (the
scheme in any case, the key compared in constant time), checked before any answer that names the
model. ``BYTES`` elements reach the model as object arrays of the very strings sent (numpy's text
arrays would drop trailing NUL characters). On SIGTERM the kernel stops completing connections to the port (a
client connecting then is refused), the requests in flight are answered with ``Connection: close``, and so is a
keep-alive connection's next request already received or arriving within :data:`SHUTDOWN_IDLE_SECONDS`; a keep-alive
connection idle that long is then closed (a request its client sends from then on is not answered: HTTP leaves that
race to clients, which retry);
connections already accepted (those still in the listening socket's queue too) that have sent no request get
:data:`SHUTDOWN_FIRST_REQUEST_SECONDS` for their first; then the process exits with code 0. The requests are
served by ``workers`` worker processes (one by default) under a supervisor, and each worker does the same; a worker
that dies is replaced (after a wait that doubles while workers keep dying within :data:`WORKER_CRASH_LOOP_SECONDS`
of serving), one whose event loop stops, or whose oldest scoring call in the thread pool runs, for
:data:`WORKER_HANG_SECONDS` (a request that hangs onnxruntime or the model) is killed and replaced. A hung scoring call
in the thread pool leaves the worker's event loop running: the worker first answers the requests waiting for the
pool 503 (the route's error form, ``Retry-After``, ``Connection: close``; :data:`HANG_ANSWER_SECONDS`) and stops
accepting connections. A hung scoring call on the event loop stops it: a thread of the worker (:class:`_LoopWatch`)
answers that request 503 the same way, and the requests waiting on the worker's other connections, while the loop is
stopped; a call that hangs holding the GIL leaves no thread to answer, and the requests end unanswered. A worker
that cannot load the package once the service runs, :data:`WORKER_CRASH_LOOP_DEATHS` such deaths in a row, or as
many workers killed hung in a row with no request answered in between, stop the service with exit code 3, and the
workers stop if the supervisor is killed. Only the workers load the package (the supervisor holds no model, numpy or
onnxruntime). A port already in use, a ``score.py`` that does not run or a
model that does not load (in the first worker) is one line and exit code 2.

Scheduling and slow clients: a small request is scored on the event loop (no thread hop) while the model answers in
under :data:`INLINE_MAX_SECONDS` (all but the slowest of its last :data:`COST_WINDOW` calls, that one under
:data:`OUTLIER_MAX_SECONDS`); anything larger, or any request to a slower model, or any request before the worker has
timed one (the model's speed is not known yet), is scored in a thread pool so the health probes and other clients are
answered meanwhile. A request's head must arrive within :data:`REQUEST_HEAD_SECONDS`
of its first byte (or of the connection opening); its body may not pause longer than
:data:`REQUEST_BODY_IDLE_SECONDS`, and must arrive whole within :data:`REQUEST_BODY_SECONDS` of its head plus a
second for each :data:`REQUEST_BODY_MIN_RATE` bytes received; past any of these it gets 408 and the connection is
closed. A client that half-closes
the connection once its requests are sent (``nc -N``, ``socat``) gets an answer to each request it sent whole, then
the connection is closed. A 405 names the route's methods in ``Allow``.
The v2 routes are ``/v2`` and the paths under ``/v2/``; their errors from the HTTP layer (malformed
HTTP, 408, 431) and a 500 are in the protocol's ``{"error": text}`` form too. A request refused in its head (its
request line, headers, 408, 431) that is pipelined behind requests not yet answered gets its answer after theirs,
then the connection is closed.
"""

from __future__ import annotations

import argparse
import hmac
import importlib.util
import json
import os
import re
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType
from typing import Any, NoReturn

__all__ = [
    "DEFAULT_MAX_BODY_BYTES",
    "INLINE_MAX_BYTES",
    "INLINE_MAX_SECONDS",
    "MAX_HEADERS",
    "MAX_HEADER_BYTES",
    "REQUEST_BODY_IDLE_SECONDS",
    "REQUEST_BODY_MIN_RATE",
    "REQUEST_BODY_SECONDS",
    "REQUEST_HEAD_SECONDS",
    "V2_DATATYPES",
    "WORKER_CRASH_LOOP_DEATHS",
    "WORKER_HANG_SECONDS",
    "ScoringApp",
    "ServeError",
    "argument_error",
    "check_can_listen",
    "create_app",
    "http_protocol",
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
#: A v2 request whose JSON part is within INLINE_MAX_BYTES and whose binary tensors are within this
#: is scored on the event loop too: binary tensors cost no parsing, and the threadpool hop alone was
#: a third of the v2 p50 at 1,000 iris rows (32 KB) in bench/bench_serve.py.
V2_INLINE_BINARY_BYTES = 256 * 1024
#: A model whose scoring has taken this long (all but the slowest of its last COST_WINDOW calls) is scored in the
#: threadpool whatever the request's size: scored on the event loop, a 36 ms model held every other
#: client and the health probes (p50 241 ms at 4 clients) while small requests queued.
INLINE_MAX_SECONDS = 0.002
#: The scoring calls of a worker whose times decide where it scores a small request (:class:`_ScoringCost`): the
#: last this many. The slowest of them is not counted unless it took over OUTLIER_MAX_SECONDS, so one slow call (a
#: first call on a cold cache, another process taking the core) keeps the next small request in the thread pool, not
#: the next several: averaged, a first call of 30 ms to a 0.3 ms model kept the 6 after it there.
COST_WINDOW = 8
#: A scoring call this slow among the last COST_WINDOW keeps small requests in the thread pool even as the one slow
#: call let pass: a model that takes hundreds of ms on some calls is not let on the event loop by its fast ones.
OUTLIER_MAX_SECONDS = 0.05
#: Threads for large requests; onnxruntime releases the GIL while it runs.
SCORING_THREADS = 4
#: Seconds uvicorn waits for in-flight requests after SIGTERM.
GRACEFUL_SHUTDOWN_S = 30
#: Environment variables that carry the settings to uvicorn worker processes (--workers N).
ENV_DIR = "ONNXGATE_SERVE_DIR"
ENV_KEY_NAME = "ONNXGATE_SERVE_API_KEY_ENV"
ENV_MAX_BODY = "ONNXGATE_SERVE_MAX_BODY_BYTES"
ENV_MAX_ROWS = "ONNXGATE_MAX_ROWS"  # read by score.py's init()

#: Header lines and bytes of headers a request may carry; more get 431 (nginx allows 4 x 8 KiB).
MAX_HEADERS = 100
MAX_HEADER_BYTES = 64 * 1024
#: Seconds a request's head (request line and headers) may take to arrive from its first byte, or a new
#: connection to send its first byte; and seconds a body may go without a byte. Past either the request
#: gets 408 and the connection is closed: half-sent requests held their connections open for good.
REQUEST_HEAD_SECONDS = 30.0
REQUEST_BODY_IDLE_SECONDS = 30.0
#: Seconds a request body may take to arrive from the end of its head, plus one for each REQUEST_BODY_MIN_RATE bytes
#: of it received: a body slower than that on average gets 408 and the connection is closed. Pausing under
#: REQUEST_BODY_IDLE_SECONDS, a body sent a byte at a time held its connection for as long as its Content-Length
#: lasted (16 MiB at a byte every 29 s). Apache's mod_reqtimeout default (``body=20,MinRate=500``) is the model;
#: 500 bytes/s is 4 kbit/s, under any mobile link: a 1 MiB body may take 35 minutes.
REQUEST_BODY_SECONDS = 30.0
REQUEST_BODY_MIN_RATE = 500
#: Seconds a connection that has sent no whole request yet is given, on SIGTERM, for its first request to arrive;
#: that request is answered (``Connection: close``). uvicorn closed such connections at once, with the request
#: often already sent and unread: the client got a reset instead of an answer.
SHUTDOWN_FIRST_REQUEST_SECONDS = 2.0
#: Seconds a keep-alive connection idle between two requests is kept, on SIGTERM, for its next request (answered
#: with ``Connection: close``) before it is closed. A client that reuses a connection without first checking it
#: for the server's close (``http.client``, most scripts) sends its next request within this under load: closed at
#: once, 56 of 45,870 such requests were lost in 40 SIGTERMs under load (none in 369,371 with this wait); waiting 2 s
#: held the shutdown 2 s (now 0.6-0.9 s with an idle connection).
SHUTDOWN_IDLE_SECONDS = 0.5
#: A worker process that dies before it serves or within this many seconds of it counts towards a crash loop:
#: the next one starts after WORKER_RESTART_DELAY_SECONDS, doubled at each such death in a row, and after
#: WORKER_CRASH_LOOP_DEATHS of them the service stops with exit code 3. A worker that dies later is replaced at once.
WORKER_CRASH_LOOP_SECONDS = 10.0
WORKER_CRASH_LOOP_DEATHS = 5
WORKER_RESTART_DELAY_SECONDS = 0.5
#: A started worker whose event loop has not run for this long (it beats every HEARTBEAT_SECONDS), or whose oldest
#: scoring call in the thread pool has run this long, is hung: it is killed and replaced (``--hang-seconds``). A model
#: scored in the thread pool does not hold the loop (the health probes are answered) but holds one of its
#: SCORING_THREADS for good when it never returns. WORKER_CRASH_LOOP_DEATHS workers killed hung in a row, with no
#: POST answered (below 500) by any worker in between, stop the service with exit code 3: a worker hanging on every
#: request was killed and replaced for good, and a service answering other requests between the hangs goes on.
WORKER_HANG_SECONDS = 10.0
HEARTBEAT_SECONDS = 1.0
#: A worker whose event loop runs when one of its scoring calls in the thread pool reaches ``--hang-seconds`` answers
#: the requests waiting for the pool itself: 503, ``Retry-After`` and ``Connection: close``, then stops accepting
#: connections and tells the supervisor, which kills it at once (the stuck thread cannot be freed); a worker whose
#: scoring call on the event loop reaches it has that request, and those waiting on its other connections, answered
#: so by another thread (:class:`_LoopWatch`), and is killed then. The client of the hung request had its connection
#: closed with no answer. The supervisor gives the worker this many seconds past ``--hang-seconds`` (past the call's
#: start, on the event loop) to do so before it kills it anyway.
HANG_ANSWER_SECONDS = 1.0
#: ``Retry-After`` of those 503s: the worker stopped accepting connections, so a retry waits in the listening socket's
#: queue for another worker or the replacement (iris: 1.4-1.9 s from the kill to serving on a loaded 2-core machine).
HANG_RETRY_AFTER_SECONDS = 1
#: Most worker processes ``--workers`` starts. Each loads the model and runs SCORING_THREADS scoring threads, and a
#: worker beyond one per core adds no throughput to CPU-bound scoring: 64 is one per core of a 64-core host. A fixed
#: number, not one from ``os.cpu_count()``, so that a command that runs on one machine runs on the next, and because
#: in a container ``os.cpu_count()`` counts the host's cores, not the container's share. ``--workers 100000`` was
#: accepted and started spawning processes, each loading the model, until the machine ran out of memory.
MAX_WORKERS = 64
#: Open Inference Protocol datatype of each model element type (the Signature's names).
V2_DATATYPES = {
    "bool": "BOOL", "uint8": "UINT8", "uint16": "UINT16", "uint32": "UINT32", "uint64": "UINT64",
    "int8": "INT8", "int16": "INT16", "int32": "INT32", "int64": "INT64", "float16": "FP16",
    "float32": "FP32", "float64": "FP64", "string": "BYTES",
}
#: The datatypes an input of category codes takes (its own, INT32, first): the codes, or the category values
#: (text as BYTES, numbers), each read as its code by score.py's ``category_values``.
_CATEGORY_TYPES = ("INT32", "BYTES", "INT64", "FP32", "FP64")
_NUMPY_TYPES = {"INT32": "int32", "INT64": "int64", "FP32": "float32", "FP64": "float64"}
#: The texts a BYTES tensor of category values sends for a missing value (tritonclient writes str(None), str(NaN)).
_MISSING_TEXTS = ("", "nan", "None")
#: Digits of a byte count in a header, at most: 10**18 bytes is past any body (DEFAULT_MAX_BODY_BYTES is 8 digits).
_BYTE_COUNT_DIGITS = 18
#: The model's version on the v2 routes (a package holds one model).
V2_VERSION = "1"
#: The protocol extensions the v2 routes serve (server metadata's ``extensions``); a request for another one
#: (classification, shared memory) gets 400.
V2_EXTENSIONS = ("binary_tensor_data",)

_JSON = "application/json"
_SWAGGER_FILES = {"2": "swagger.json", "2.0": "swagger.json", "3": "swagger3.json", "3.0": "swagger3.json"}


class ServeError(ValueError):
    """The service cannot start: a missing package file or an unset API key variable."""


try:
    import orjson as _orjson
except ImportError:  # pragma: no cover - the standard library serves too
    _orjson = None  # type: ignore[assignment]


def _dumps(obj: Any) -> bytes:
    if _orjson is not None:
        return _orjson.dumps(obj)
    return json.dumps(obj).encode()


def _is_v2(path: str) -> bool:
    """A route of the Open Inference Protocol: ``/v2`` or under ``/v2/`` (not ``/v2beta``)."""
    return path == "/v2" or path.startswith("/v2/")


#: Headers whose value decides how a request is read or let in: given twice with different values, the
#: last one was used (Inference-Header-Content-Length 5 and the real length answered 200; helper-103).
_SINGLE_HEADERS = frozenset({b"authorization", b"inference-header-content-length", b"content-type",
                             b"content-encoding"})


def _conflicting_headers(pairs: list[tuple[bytes, bytes]]) -> list[str]:
    """The names in :data:`_SINGLE_HEADERS` that ``pairs`` give with more than one value."""
    seen: dict[bytes, set[bytes]] = {}
    for name, value in pairs:
        if name in _SINGLE_HEADERS:
            seen.setdefault(name, set()).add(value)
    return sorted(name.decode("latin-1") for name, values in seen.items() if len(values) > 1)


def _error_body(status: int, code: str, message: str) -> bytes:
    return _dumps({"error": code, "message": message, "status": status})


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
    script = _entry_script(folder)
    spec = importlib.util.spec_from_file_location(f"_onnxgate_score_{abs(hash(str(folder)))}", script)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except Exception as err:
        # an edited or truncated score.py: the container's server.py printed a traceback and exited 1, and
        # onnxgate serve called it an "unexpected SyntaxError ... please report it"
        raise ServeError(f"cannot load the package in {str(folder)!r}: its score.py does not run "
                         f"({type(err).__name__}: {err}); write the package again with 'onnxgate package MODEL "
                         "--target container -o DIR'") from err
    try:
        module.init()
    except Exception as err:  # a swapped model.onnx, an unreadable file: say which, not "unexpected"
        raise ServeError(f"cannot load the package in {str(folder)!r}: {err}") from err
    return module


def _entry_script(folder: Path) -> Path:
    """``folder``'s ``score.py``; :class:`ServeError` when it has none."""
    script = folder / "score.py"
    if not script.is_file():
        raise ServeError(
            f"{str(folder)!r} has no score.py; serve a folder written by "
            "'onnxgate package MODEL --target container -o DIR'"
        )
    return script


def check_can_listen(host: str, port: int) -> str:
    """Fail with one line (:class:`ServeError`) when ``host:port`` cannot be listened on; the address ``host``
    resolves to otherwise.

    Checked before the package loads: uvicorn logs half a dozen lines on a bind error and exits 3, after the
    start-up line had announced the service at that address.
    """
    import socket

    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as err:
        raise ServeError(f"--host {host!r} is not an address this machine can resolve: {err}; give an address of "
                         "this machine (127.0.0.1, the default, or 0.0.0.0 for every interface)") from None
    family, _, _, _, address = infos[0]
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds
        try:
            probe.bind(address)
        except OSError as err:
            raise ServeError(
                f"cannot listen on {host}:{port}: {err.strerror}. Choose a free port (--port) or an address "
                "of this machine (--host; the default 127.0.0.1 is reachable only from here)."
            ) from None
    return str(address[0])


def _read_key(api_key_env: str | None) -> str | None:
    if not api_key_env:
        return None
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", api_key_env):
        # 'export BAD NAME=<key>' (the fix said below) is no shell command
        raise ServeError(
            f"--api-key-env {api_key_env!r} is not an environment variable name: expected letters, digits and _, "
            "not starting with a digit; give the name of the variable holding the key, e.g. --api-key-env API_KEY"
        )
    key = os.environ.get(api_key_env, "")
    if not key:
        raise ServeError(
            f"--api-key-env names {api_key_env!r}, but that environment variable is unset or empty; "
            f"export {api_key_env}=<key> first"
        )
    if key != key.strip() or any(not ch.isprintable() for ch in key):
        # HTTP strips a header value's surrounding whitespace, so such a key could never be matched
        raise ServeError(
            f"the key in {api_key_env!r} starts or ends with whitespace or holds a control character (a line "
            "end from a file, often); no request could send it. Set the key without it, e.g. "
            f"export {api_key_env}=\"$(tr -d '[:space:]' < keyfile)\""
        )
    return key


class _TooLarge(Exception):
    pass


class _AnsweredFromAside(Exception):
    """A request scored on the event loop whose scoring call came back after :class:`_LoopWatch` had answered it
    503: nothing more is sent on its connection."""


class _Hung(Exception):
    """A request cut off by a scoring call that has run ``--hang-seconds``: answered 503 (:class:`ScoringApp`).
    ``own`` when that call is the request's own, not another request's on the same worker."""

    def __init__(self, own: bool) -> None:
        super().__init__("hung")
        self.own = own


_HEALTHY = b"Healthy"
_TEXT_HEADERS = [(b"content-type", b"text/plain; charset=utf-8")]
_JSON_TYPE = (b"content-type", b"application/json")
_ALLOW_GET = (b"allow", b"GET, HEAD")


class _BadEncoding(Exception):
    """A ``Content-Encoding`` the service cannot read (415) or a body it cannot decompress (400)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


#: zlib's window bits for each content coding read: gzip's wrapper, zlib's (what "deflate" means in HTTP).
_CODINGS = {b"gzip": 16 + 15, b"x-gzip": 16 + 15, b"deflate": 15}


def _decoded(body: bytes, encoding: bytes, limit: int) -> bytes:
    """``body`` with its ``Content-Encoding`` (gzip or deflate, as tritonclient and curl send) undone.

    The codings are undone last first; the decompressed size is held to ``limit`` as the body's is
    (:class:`_TooLarge` past it), so a small compressed body cannot expand without bound.
    """
    import zlib

    codings = [c.strip().lower() for c in encoding.split(b",") if c.strip()]
    unknown = [c.decode("latin-1") for c in codings if c not in _CODINGS and c != b"identity"]
    if unknown:
        raise _BadEncoding(415, f"Content-Encoding {unknown[0]!r} is not supported; send the body "
                           "uncompressed, gzip or deflate")
    for coding in reversed(codings):
        if coding == b"identity":
            continue
        wbits = _CODINGS[coding]
        tries = (wbits, -15) if coding == b"deflate" else (wbits,)  # some clients send deflate without zlib's header
        for i, bits in enumerate(tries):
            try:
                out, rest = _inflated(body, bits, limit, coding)
                # gzip allows several members one after another (RFC 1952, as `cat a.gz b.gz` makes): each
                # is read, under the same limit; only zero padding may follow the last one
                while coding == b"gzip" and rest.strip(b"\0"):
                    more, rest = _inflated(rest, bits, limit - len(out), coding)
                    out += more
            except zlib.error as err:
                if i + 1 < len(tries):
                    continue
                raise _BadEncoding(400, f"the body is not valid {coding.decode()} data ({err}); compress it "
                                   "whole, or send it uncompressed") from None
            if coding != b"gzip" and rest:
                raise _BadEncoding(400, f"the {coding.decode()} body has {len(rest):,} byte(s) after its "
                                   "compressed data ends; send the compressed data alone")
            body = out
            break
    return body


def _inflated(data: bytes, wbits: int, limit: int, coding: bytes) -> tuple[bytes, bytes]:
    """One compressed stream at the start of ``data`` undone, and the bytes after it; :class:`_TooLarge`
    past ``limit`` bytes out, :class:`_BadEncoding` when the stream ends before its data does."""
    import zlib

    inflater = zlib.decompressobj(wbits)
    out = inflater.decompress(data, limit + 1)
    if len(out) > limit or inflater.unconsumed_tail:
        raise _TooLarge
    if not inflater.eof:
        raise _BadEncoding(400, f"the {coding.decode()} body ends before its compressed data does; send "
                           "it whole")
    return out, inflater.unused_data


def _compressed(body: bytes, accept: bytes) -> tuple[bytes, bytes | None]:
    """``body`` gzip- or deflate-compressed when ``Accept-Encoding`` asks for it (tritonclient's
    ``response_compression_algorithm``), with the coding used; as is otherwise."""
    if accept == b"identity":  # what http.client and urllib send: nothing to do, said fast
        return body, None
    import zlib

    wanted: dict[bytes, bool] = {}
    for part in accept.lower().split(b","):
        name, *params = part.split(b";")
        q = 1.0
        for param in params:
            key, _, value = param.partition(b"=")
            if key.strip() == b"q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        wanted[name.strip()] = q > 0
    for coding in (b"gzip", b"deflate"):
        if wanted.get(coding, coding == b"gzip" and wanted.get(b"*", False)):
            wbits = 16 + 15 if coding == b"gzip" else 15
            packer = zlib.compressobj(1, zlib.DEFLATED, wbits)
            return packer.compress(body) + packer.flush(), coding
    return body, None


class _V2Error(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def _v2_loads(raw: bytes, what: str = "the request body") -> Any:
    """Parse a v2 request's JSON; ``what`` names it in the error (the whole body, or the binary form's header)."""
    if _orjson is not None:
        try:
            return _orjson.loads(raw)
        except _orjson.JSONDecodeError as err:
            if "depth" in str(err):
                raise _V2Error(400, "the request JSON nests deeper than 1024 levels (the limit)") from None
            # fall through, as score.py does for /score: the standard library names the error, and reads
            # the NaN and Infinity literals that Python's json.dumps (and tritonclient's JSON mode) write,
            # so they reach the model's NaN rule
    try:
        text = raw.decode("utf-8")
        parsed = json.loads(text)
    except RecursionError:
        raise _V2Error(400, "the request JSON nests too deep (the limit is 1024 levels)") from None
    except ValueError as err:
        hint = ""
        if what == "the request body" and isinstance(err, UnicodeDecodeError):
            # binary tensor data after a JSON header: the header's length is the request's to say
            hint = ("; a request with binary tensor data gives the length of its JSON header in the "
                    "Inference-Header-Content-Length header")
        raise _V2Error(400, f"{what} is not valid JSON: {err}{hint}") from None
    if "\\u" in text:
        try:  # the standard library reads a lone surrogate escape ("\\ud800") into a string no encoder writes
            json.dumps(parsed, ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError:
            raise _V2Error(400, f"{what} is not valid JSON: it escapes half a UTF-16 surrogate pair (\\ud800 to "
                           "\\udfff alone), which is no character; send the character itself or both halves of "
                           "its pair") from None
    return parsed


def _byte_count(value: bytes) -> int | None:
    """A header's byte count (``Inference-Header-Content-Length``): ASCII digits, spaces around them aside; None
    for anything else. More digits than any body has bytes are None too: ``int()`` raises ValueError past 4,300
    digits, and such a header got 500 ``scoring failed: ValueError`` instead of the 400 naming it."""
    digits = value.strip()
    if not digits.isdigit() or len(digits) > _BYTE_COUNT_DIGITS:
        return None
    return int(digits)


def _v2_shape(dims: Any) -> list[int]:
    if dims is None:
        return [-1]
    return [d if isinstance(d, int) else -1 for d in dims]


def _parameters(obj: dict[str, Any], where: str) -> dict[str, Any]:
    """The ``parameters`` object of a request, input or output (``{}`` when absent or null)."""
    params = obj.get("parameters")
    if params is None:
        return {}
    if not isinstance(params, dict):
        raise _V2Error(400, f"{where}: 'parameters' must be an object of settings by name, found a "
                       f"{type(params).__name__}")
    return params


def _flag(params: dict[str, Any], key: str, default: bool, where: str) -> bool:
    value = params.get(key, default)
    if not isinstance(value, bool):
        raise _V2Error(400, f"{where}: parameters.{key} must be true or false, found {value!r}")
    return value


def _whole_numbers_out_of_range(arr: Any, elem_type: str) -> bool:
    """Whether ``arr`` holds only whole numbers and one is beyond an integer input's range.

    Only for a package whose ``score.py`` has no ``as_integers`` (written before it), which does this
    check, and takes whole numbers written as floats, itself.

    numpy widens integers past int64 or uint64 to float or to Python ints (dtype object), and orjson
    parses integers past uint64 as floats, so without this they would be called fractions.
    """
    import numpy as np

    if not elem_type.startswith(("int", "uint")) or arr.dtype.kind not in "fO" or not arr.size:
        return False
    if arr.dtype.kind == "O":
        return all(isinstance(v, int) and not isinstance(v, bool) for v in arr.flat)  # else numpy had fit them
    info = np.iinfo(elem_type)
    whole = bool(np.isfinite(arr).all()) and bool((arr == np.trunc(arr)).all())
    # -2**63 - 1 parses to the double -2**63: for int64 the lowest value counts as beyond it
    low = arr <= float(info.min) if elem_type == "int64" else arr < float(info.min)
    return whole and bool((low | (arr >= float(info.max) + 1)).any())


def _refused_input(err: Exception) -> bool:
    """Whether onnxruntime failed with INVALID_ARGUMENT: a kernel refusing the values it was fed.

    The request has already passed the Signature's datatypes, shapes and row rules, so this is a
    value or a size the model's operators do not take (an index past a Gather's table, an empty
    dimension a kernel cannot handle): the client's to change, a 400. Every other status (FAIL,
    RUNTIME_EXCEPTION, NOT_IMPLEMENTED, an execution provider's failure, out of memory) stays a
    500: nothing in the request can fix it. Known by name, so this file imports no onnxruntime.
    """
    kind = type(err)
    return kind.__name__ == "InvalidArgument" and kind.__module__.startswith("onnxruntime.")


def _check_declared_shape(name: str, shape: list[int], expected: list[Any] | None) -> None:
    """Refuse a tensor's declared ``shape`` that the model's input shape cannot take (as ``check_array``
    would after decoding: a flat ``[N]`` for an ``[N,1]`` column is taken).

    Also checked when the first size is over the row limit: an image model's ``[N, 28, 28, 1]`` input sent flat, as
    ``[N*784]`` or ``[N*28, 28]``, was refused 413 for rows over the limit (its first size counted as rows), which
    sent the client to split a request whose shape was the fault. When the values make whole rows of the model's
    fixed sizes, the message gives the shape to send."""
    if expected is None:
        return
    shown = [shape[0], 1] if len(shape) == 1 and len(expected) == 2 and expected[1] == 1 else shape
    if len(shown) != len(expected) or any(isinstance(w, int) and w != g for w, g in zip(expected, shown)):
        wanted = ["N" if i == 0 and not isinstance(w, int) else w if isinstance(w, int) else "?"
                  for i, w in enumerate(expected)]
        hint = ""
        row = expected[1:]
        if expected and not isinstance(expected[0], int) and all(isinstance(w, int) and w > 0 for w in row):
            count = 1
            for d in shape:
                count *= d
            size = 1
            for w in row:
                size *= w
            if count and count % size == 0:
                hint = (f"; its {count} values are {count // size} row(s) of {row}: send shape "
                        f"{[count // size, *row]}")
        raise _V2Error(400, f"input {name!r}: shape {shape} does not fit the model's input shape "
                       f"[{', '.join(map(str, wanted))}] (N = rows){hint}")


def _bytes_elements(buffer: memoryview, count: int, name: str, exact: bool = True) -> Any:
    """Decode ``count`` BYTES elements (each a 4-byte little-endian length, then the bytes).

    An object array of the strings (``exact``): a numpy text array would drop their trailing NUL
    characters and make every cell as wide as the longest. A ``score.py`` written before ``string_array``
    refuses an object array for a string input, so it gets the text array (``exact=False``).
    """
    import numpy as np

    out: list[str] = []
    i = 0
    for _ in range(count):
        if i + 4 > len(buffer):
            raise _V2Error(400, f"input {name!r}: the binary data ends inside element {len(out)}")
        size = int.from_bytes(buffer[i:i + 4], "little")
        i += 4
        if i + size > len(buffer):
            raise _V2Error(400, f"input {name!r}: element {len(out)} claims {size} bytes past the binary data")
        try:
            out.append(bytes(buffer[i:i + size]).decode("utf-8"))
        except UnicodeDecodeError:
            raise _V2Error(400, f"input {name!r}: element {len(out)} is not UTF-8 text") from None
        i += size
    if i != len(buffer):
        raise _V2Error(400, f"input {name!r}: binary_data_size holds {len(buffer) - i} bytes after {count} elements")
    if exact:
        strings = np.empty(len(out), dtype=object)
        strings[:] = out
        return strings
    return np.array(out, dtype=str) if out else np.array([], dtype=str)


def _bytes_serialized(arr: Any) -> bytes:
    parts: list[bytes] = []
    for item in arr.reshape(-1).tolist():
        raw = item if isinstance(item, bytes) else str(item).encode("utf-8")
        parts.append(len(raw).to_bytes(4, "little"))
        parts.append(raw)
    return b"".join(parts)


_DATATYPE_OF: dict[Any, str] = {}


def _v2_datatype(dtype: Any) -> str:
    """The v2 datatype of a numpy dtype (``FP32``...), remembered: numpy's ``dtype.name`` costs
    microseconds per call, and a reply asks it for every output."""
    found = _DATATYPE_OF.get(dtype)
    if found is None:
        found = "BYTES" if dtype.kind in "OUS" else V2_DATATYPES.get(dtype.name, dtype.name.upper())
        _DATATYPE_OF[dtype] = found
    return found


def _no_shared_memory(where: str, how: str) -> str:
    """The error for a tensor that names a shared memory region (tritonclient's ``set_shared_memory``).

    Answered as if the region were not named, an output asked for in a region came back in the answer and left the
    region as it was: the client read whatever the region held before, with no error."""
    return (f"{where}: parameters.shared_memory_region asks for the shared memory extension, which this server does "
            f"not serve (its extensions: {', '.join(V2_EXTENSIONS)}); {how}")


class OpenInference:
    """The Open Inference Protocol (v2) over a package's entry script: metadata, tensors, errors.

    Arrays are built straight from the request (``numpy.frombuffer`` for binary tensors) and checked
    once, by the entry script's ``check_array``: element kind, shape against the Signature, row
    limit, NaN rule. The model runs only the outputs asked for.
    """

    def __init__(self, entry: ModuleType, name: str) -> None:
        self.entry = entry
        self.name = name
        signature = entry.CONFIG["signature"]
        self.inputs: dict[str, dict[str, Any]] = {s["name"]: s for s in signature["inputs"]}
        self.outputs: list[str] = [s["name"] for s in signature["outputs"]]
        self._output_specs = signature["outputs"]
        # a score.py written before these has none: strings then go through numpy's text arrays, and
        # the row limit is checked by check_array only
        self._string_array = getattr(entry, "string_array", None)
        self._nulls_as_nan = getattr(entry, "nulls_as_nan", None)
        self._check_rows = getattr(entry, "check_rows", None)
        # a score.py written before it reads an input of category codes as the codes only
        self._category_values: Any = getattr(entry, "category_values", None)

    # -- replies ----------------------------------------------------------------------------
    @staticmethod
    def error(status: int, message: str) -> tuple[int, bytes, list[tuple[bytes, bytes]]]:
        return status, _dumps({"error": message}), [_JSON_TYPE]

    def not_allowed(self, method: str, path: str) -> tuple[int, bytes, list[tuple[bytes, bytes]]]:
        """405 naming the route's method, with the ``Allow`` header HTTP asks for."""
        status, body, headers = self.error(405, f"use {method} {path}")
        return status, body, [*headers, _ALLOW_GET if method == "GET" else (b"allow", b"POST")]

    def unauthorised(self) -> tuple[int, bytes, list[tuple[bytes, bytes]]]:
        status, body, headers = self.error(401, "unauthorized: send the key as 'Authorization: Bearer <key>'")
        return status, body, [*headers, (b"www-authenticate", b"Bearer")]

    def server_metadata(self) -> dict[str, Any]:
        return {"name": "onnxgate", "version": str(self.entry.CONFIG.get("onnxgate_version", "")),
                "extensions": list(V2_EXTENSIONS)}

    def model_metadata(self) -> dict[str, Any]:
        def tensors(specs: Any) -> list[dict[str, Any]]:
            return [{"name": s["name"], "datatype": V2_DATATYPES.get(s["elem_type"], s["elem_type"].upper()),
                     "shape": _v2_shape(s["shape"])} for s in specs]

        signature = self.entry.CONFIG["signature"]
        return {"name": self.name, "versions": [V2_VERSION], "platform": "onnxruntime_onnx",
                "inputs": tensors(signature["inputs"]), "outputs": tensors(signature["outputs"])}

    # -- inference --------------------------------------------------------------------------
    def infer(self, headers: dict[bytes, bytes], body: bytes) -> tuple[int, bytes, list[tuple[bytes, bytes]]]:
        """Answer one ``POST .../infer``: status, body and headers."""
        request_error = self.entry.RequestError
        try:
            request, header, binary = self._split(headers, body)
            if "id" in request and not isinstance(request["id"], str):
                raise _V2Error(400, f"'id' must be a string, found a {type(request['id']).__name__}")
            # JSON booleans can only be in the JSON part: the binary tensors after it need no scan
            feeds = self._feeds(request, binary, maybe_bools=b"true" in header or b"false" in header)
            wanted = self._requested(request)
            results = self.entry.infer(feeds, [name for name, _ in wanted])
        except _V2Error as err:
            return self.error(err.status, err.message)
        except request_error as err:
            return self.error(err.status, err.message)
        except Exception as err:
            if _refused_input(err):
                return self.error(400, f"the model cannot score these values (onnxruntime: {err}); their datatypes "
                                  "and shapes are the model's, so a value or size is outside what the model "
                                  "accepts: change it")
            return self.error(500, f"onnxruntime failed: {err}")  # on checked input: the model's or server's fault
        return self._response(request, wanted, results)

    def _split(self, headers: dict[bytes, bytes], body: bytes) -> tuple[dict[str, Any], bytes, memoryview]:
        """The request's JSON object, its JSON bytes and the binary data after them.

        The binary data is copied out of the body, not viewed in it: the copy starts aligned, so the
        arrays read from it are too (after a JSON part of any length, a view's float64 values were not)."""
        declared = headers.get(b"inference-header-content-length")
        if declared is None:
            header, binary = body, b""
        else:
            size = _byte_count(declared)
            if size is None or size > len(body):
                raise _V2Error(400, f"Inference-Header-Content-Length {declared.decode('latin-1')!r} must be a "
                               f"byte count within the body's {len(body)} bytes")
            header, binary = body[:size], body[size:]
        self.entry.precheck(header)
        request = _v2_loads(header, "the request body" if declared is None else "the inference request header")
        if not isinstance(request, dict):
            raise _V2Error(400, f"expected an inference request object {{\"inputs\": [...]}}, found a "
                           f"{type(request).__name__}")
        return request, header, memoryview(binary)

    def _feeds(self, request: dict[str, Any], binary: memoryview, *, maybe_bools: bool) -> dict[str, Any]:
        import numpy as np

        inputs = request.get("inputs")
        if not isinstance(inputs, list) or not inputs:
            raise _V2Error(400, f"'inputs' must be a non-empty list of tensors; the model's inputs are "
                           f"{list(self.inputs)}")
        feeds: dict[str, Any] = {}
        offset = 0
        for tensor in inputs:
            if not isinstance(tensor, dict):
                raise _V2Error(400, f"each input must be an object with name, shape, datatype and data; found a "
                               f"{type(tensor).__name__}")
            name = tensor.get("name")
            if name is None:
                raise _V2Error(400, f"an input has no 'name'; give each input one of the model's input names "
                               f"{list(self.inputs)}")
            spec = self.inputs.get(name) if isinstance(name, str) else None
            if spec is None or not isinstance(name, str):
                raise _V2Error(400, f"unknown input {name!r}; the model's inputs are {list(self.inputs)}")
            if name in feeds:
                raise _V2Error(400, f"input {name!r} is given twice")
            datatype = V2_DATATYPES.get(spec["elem_type"], spec["elem_type"].upper())
            # an input of category codes also takes the category values (helper-221)
            by_value = spec.get("codes") and self._category_values is not None
            if tensor.get("datatype") != datatype and not (by_value and tensor.get("datatype") in _CATEGORY_TYPES):
                also = (f" (its category codes), or the category values as {', '.join(_CATEGORY_TYPES[1:])}"
                        if by_value else "")
                raise _V2Error(400, f"input {name!r}: expected datatype {datatype}{also}, found "
                               f"{tensor.get('datatype')!r}")
            if by_value:
                datatype = tensor["datatype"]
            shape = tensor.get("shape")
            if (not isinstance(shape, list) or not shape
                    or not all(isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape)):
                raise _V2Error(400, f"input {name!r}: 'shape' must be a list of sizes (integers >= 0), found "
                               f"{shape!r}")
            if shape[0] == 0 and (not hasattr(self.entry, "empty_rows") or self.entry.empty_rows(spec) is None):
                # answered only by a score.py that builds outputs of no rows (not one written before it could),
                # and only for an input whose other sizes are fixed
                raise _V2Error(400, f"input {name!r} has no rows (shape {shape}); send at least one row")
            if self._check_rows is not None:
                try:
                    self._check_rows(name, shape[0])  # before decoding BYTES elements, one object each
                except self.entry.RequestError:
                    _check_declared_shape(name, shape, spec["shape"])  # a flat image: its shape is the fault
                    raise
            count = 1
            for d in shape:
                count *= d
            params = _parameters(tensor, f"input {name!r}")
            size = params.get("binary_data_size")
            if size is not None:
                if "data" in tensor:
                    raise _V2Error(400, f"input {name!r} has both 'data' and parameters.binary_data_size; send its "
                                   "values one way: 'data' in the JSON, or binary_data_size bytes after it")
                if isinstance(size, bool) or not isinstance(size, int) or size < 0:
                    # "40" or 40.0 was called "not within the 160 bytes of binary data left", which it was
                    raise _V2Error(400, f"input {name!r}: parameters.binary_data_size must be a byte count (a whole "
                                   f"number, 0 or more), found {size!r}")
                if offset + size > len(binary):
                    raise _V2Error(400, f"input {name!r}: binary_data_size {size!r} is not within the "
                                   f"{len(binary) - offset} bytes of binary data left")
                chunk = binary[offset:offset + size]
                offset += size
                if datatype == "BYTES":
                    # each element becomes a Python string: a 16 MB body of 2,795,869 of them for an [N,1]
                    # input took 2 s and 250 MB before check_array refused the shape
                    _check_declared_shape(name, shape, spec["shape"])
                    arr = _bytes_elements(chunk, count, name, exact=self._string_array is not None)
                else:
                    dtype = np.dtype(_NUMPY_TYPES.get(datatype, spec["elem_type"])).newbyteorder("<")
                    if size != count * dtype.itemsize:
                        raise _V2Error(400, f"input {name!r}: shape {shape} of {datatype} needs "
                                       f"{count * dtype.itemsize} bytes, binary_data_size is {size}")
                    arr = np.frombuffer(chunk, dtype=dtype)
                    if datatype == "BOOL":
                        # numpy keeps the byte as it is: a 2 would reach the model as a true Not() leaves true
                        octets = np.frombuffer(chunk, np.uint8)
                        if octets.size and octets.max() > 1:
                            at = int(np.argmax(octets > 1))
                            raise _V2Error(400, f"input {name!r}: a BOOL element is one byte, 0 (false) or 1 "
                                           f"(true); element {at} is {int(octets[at])}")
            else:
                if "shared_memory_region" in params:
                    raise _V2Error(400, _no_shared_memory(f"input {name!r}", "drop parameters.shared_memory_region "
                                                          "and send its values in 'data', or as binary_data_size "
                                                          "bytes after the JSON"))
                if "data" not in tensor:
                    raise _V2Error(400, f"input {name!r} has neither 'data' nor parameters.binary_data_size")
                arr = (self._json_values(name, tensor["data"], shape) if by_value
                       else self._json_tensor(spec, tensor["data"], maybe_bools, shape))
            if arr.size != count:
                raise _V2Error(400, f"input {name!r}: shape {shape} holds {count} values, 'data' holds {arr.size}")
            if by_value:
                arr = self._as_codes(spec, arr.reshape(shape), text=datatype == "BYTES")
            elif spec.get("categories") and self._category_values is not None:
                # LightGBM's integer categories: a number none of them is refused, as /score refuses it (helper-233)
                self._category_values(spec, arr.reshape(-1).tolist())
            feeds[name] = self.entry.check_array(spec, arr.reshape(shape))
        if offset != len(binary):
            raise _V2Error(400, f"{len(binary) - offset} bytes of binary data follow the inputs and belong to none")
        missing = [n for n in self.inputs if n not in feeds]
        if missing:
            raise _V2Error(400, f"missing input(s) {missing}; the model's inputs are {list(self.inputs)}")
        self.entry.check_rows_agree(feeds)
        return feeds

    @staticmethod
    def _json_values(name: str, data: Any, shape: list[int]) -> Any:
        """The values of a JSON tensor for an input of category codes as an object array, flat or nested as
        ``shape``: category values (text, numbers), codes and null, for :meth:`_as_codes` to read."""
        import numpy as np

        try:
            arr = np.array(data if isinstance(data, list) else [data], dtype=object)
        except (ValueError, RecursionError):
            arr = None
        if arr is None or any(isinstance(v, (list, dict)) for v in arr.reshape(-1).tolist()):
            raise _V2Error(400, f"input {name!r}: 'data' is ragged or holds objects; send it flat or nested as its "
                           f"shape {shape}")
        if any(isinstance(v, bool) for v in arr.reshape(-1).tolist()):
            raise _V2Error(400, f"input {name!r}: found booleans; send category values, their codes or null")
        if arr.ndim > 1 and list(arr.shape) != shape:
            raise _V2Error(400, f"input {name!r}: 'data' is nested as {list(arr.shape)}, not as its shape {shape}; "
                           "send it flat or nested as the shape")
        return arr.reshape(-1)

    def _as_codes(self, spec: dict[str, Any], arr: Any, text: bool) -> Any:
        """``arr``, an input of category codes as sent, with each category value as its code, as ``/score``
        reads JSON (score.py's ``category_values``, the mapping onnxgate's feeds use); codes stay codes. In a
        BYTES tensor, which holds no null, a missing value is an empty text or the ``nan`` / ``None`` that
        tritonclient writes for a NaN or None, where that text is none of the model's categories."""
        import numpy as np

        shape = arr.shape
        rows = arr.reshape(shape[0], -1).tolist()
        if text:
            categories = {str(c) for _, cats in spec["codes"] if cats is not None for c in cats}
            missing = [m for m in _MISSING_TEXTS if m not in categories]
            rows = [[None if v in missing else v for v in row] for row in rows]
        try:
            mapped = self._category_values(spec, rows)
        except self.entry.RequestError as err:
            if text:
                raise _V2Error(err.status, f"{err.message} (in a BYTES tensor a missing value is an empty text, or "
                               "the 'nan' or 'None' tritonclient writes for NaN or None)") from None
            raise
        found = np.array(mapped, dtype=object).reshape(shape)
        kinds = {type(v) for v in found.reshape(-1).tolist()}
        if not kinds <= {int, float, type(None)}:
            return found  # values left in another column of the input: check_array names them
        return found.astype(np.float64 if kinds - {int} else np.int64)

    def _json_tensor(self, spec: dict[str, Any], data: Any, maybe_bools: bool, shape: list[int]) -> Any:
        import numpy as np

        name = spec["name"]
        if not isinstance(data, list):
            data = [data]

        def nested_as_shape(arr: Any) -> None:
            # data is flat or nested as its shape (row-major either way); [[a, b], [c, d]] for [1, 4] is neither
            if arr.ndim > 1 and list(arr.shape) != shape:
                raise _V2Error(400, f"input {name!r}: 'data' is nested as {list(arr.shape)}, not as its shape "
                               f"{shape}; send it flat or nested as the shape")

        if self._string_array is not None and spec["elem_type"] == "string":
            strings = self._string_array(spec, data)  # the strings as sent, NUL characters and all
            nested_as_shape(strings)
            return strings.reshape(-1) if strings.ndim else strings.reshape(1)
        try:
            arr = np.asarray(data)
        except (ValueError, RecursionError, OverflowError):
            raise _V2Error(400, f"input {name!r}: 'data' is ragged or holds values out of range") from None
        if arr.size == 0 and spec["elem_type"] != "string":
            arr = arr.astype(spec["elem_type"])  # no values: numpy's float64 of [] is no fraction of anything
        nested_as_shape(arr)
        check_strings = getattr(self.entry, "check_strings", None)  # a score.py written before it has none
        if check_strings is not None and spec["elem_type"] == "string" and arr.dtype.kind == "U":
            check_strings(spec, data)  # numpy made text of the numbers beside the strings
        if maybe_bools and spec["elem_type"] != "bool" and arr.dtype.kind in "iuf":
            stack: list[Any] = [data]
            while stack:
                item = stack.pop()
                if isinstance(item, list):
                    stack.extend(item)
                elif isinstance(item, bool):
                    raise _V2Error(400, f"input {name!r}: expected {spec['elem_type']} values, found booleans")
        if self._nulls_as_nan is not None and arr.dtype.kind == "O":
            arr = self._nulls_as_nan(spec, data, arr)  # null as NaN for an input that takes missing values
        # whole numbers written as 3.0 for an integer datatype, as /score takes them; integers beside
        # them come back from ``data`` exactly. A score.py written before as_integers refuses them as
        # fractions in check_array, and gets only the out-of-range check here.
        as_integers = getattr(self.entry, "as_integers", None)
        if as_integers is not None:
            arr = as_integers(spec, arr, data)
        elif _whole_numbers_out_of_range(arr, spec["elem_type"]):
            raise _V2Error(400, f"input {name!r}: a value is out of the {spec['elem_type']} range")
        return arr.reshape(-1) if arr.ndim else arr.reshape(1)

    def _requested(self, request: dict[str, Any]) -> list[tuple[str, bool]]:
        default = _flag(_parameters(request, "the request"), "binary_data_output", False, "the request")
        asked = request.get("outputs")
        if asked is None:
            return [(name, default) for name in self.outputs]
        if not isinstance(asked, list) or not all(isinstance(o, dict) for o in asked):
            raise _V2Error(400, "'outputs' must be a list of objects like {\"name\": ...}")
        if not asked:
            raise _V2Error(400, f"'outputs' is empty: name at least one of {self.outputs}, or leave 'outputs' out "
                           "for all of them")
        wanted: list[tuple[str, bool]] = []
        for out in asked:
            name = out.get("name")
            if name is None:
                raise _V2Error(400, f"an output has no 'name'; give each output one of the model's output names "
                               f"{self.outputs}")
            if name not in self.outputs:
                raise _V2Error(400, f"unknown output {name!r}; the model's outputs are {self.outputs}")
            if any(name == seen for seen, _ in wanted):
                raise _V2Error(400, f"output {name!r} is asked for twice; name each output once")
            where = f"output {name!r}"
            params = _parameters(out, where)
            if "classification" in params:
                raise _V2Error(400, f"{where}: the classification extension is not supported here; ask for the "
                               "output without it and take the top classes from its values")
            if "shared_memory_region" in params:
                raise _V2Error(400, _no_shared_memory(where, "ask for the output without it: its values come in the "
                                                      "answer, as 'data' or binary_data"))
            wanted.append((name, _flag(params, "binary_data", default, where)))
        return wanted

    def _response(self, request: dict[str, Any], wanted: list[tuple[str, bool]], results: list[Any]
                  ) -> tuple[int, bytes, list[tuple[bytes, bytes]]]:
        import numpy as np

        outputs: list[dict[str, Any]] = []
        chunks: list[Any] = []  # bytes, or arrays: joined into the body with the header, one copy
        for (name, binary), value in zip(wanted, results):
            arr = np.asarray(value)
            datatype = _v2_datatype(arr.dtype)
            entry: dict[str, Any] = {"name": name, "datatype": datatype, "shape": list(arr.shape)}
            if binary:
                if datatype == "BYTES":
                    raw: Any = _bytes_serialized(arr)
                    size = len(raw)
                else:
                    raw = np.ascontiguousarray(arr, dtype=arr.dtype.newbyteorder("<"))
                    size = raw.nbytes
                entry["parameters"] = {"binary_data_size": size}
                chunks.append(raw)
            elif datatype == "BYTES":
                entry["data"] = [v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v)
                                 for v in arr.reshape(-1).tolist()]
            else:
                entry["data"] = np.ascontiguousarray(arr.reshape(-1))
            outputs.append(entry)
        reply: dict[str, Any] = {"model_name": self.name, "model_version": V2_VERSION, "outputs": outputs}
        if "id" in request:
            reply["id"] = request["id"]
        header = self._encode(reply)
        if not chunks:
            return 200, header, [_JSON_TYPE]
        return 200, b"".join([header, *chunks]), [
            (b"content-type", b"application/octet-stream"),
            (b"inference-header-content-length", str(len(header)).encode()),
        ]

    @staticmethod
    def _encode(reply: dict[str, Any]) -> bytes:
        if _orjson is not None:
            return _orjson.dumps(reply, option=_orjson.OPT_SERIALIZE_NUMPY)  # NaN and infinity as null
        import numpy as np

        for entry in reply["outputs"]:
            data = entry.get("data")
            if isinstance(data, np.ndarray):
                if data.dtype.kind == "f" and not np.isfinite(data).all():
                    data = np.where(np.isfinite(data), data, None)
                entry["data"] = data.tolist()
        return json.dumps(reply, allow_nan=False).encode()


class _ScoringCost:
    """Whether a worker's model answers fast enough for a small request to be scored on the event loop, from the
    times of its last :data:`COST_WINDOW` scoring calls (on the event loop or in the thread pool): all of them but the
    slowest within :data:`INLINE_MAX_SECONDS`, and the slowest within :data:`OUTLIER_MAX_SECONDS`. Not fast until a
    call has been timed; one call alone is its own measure.

    An average over the recent calls, as before, let one slow call decide for several: a first call of 30 ms (a cold
    cache) to a 0.3 ms model kept the 6 small requests after it in the thread pool, and, started at zero, it put the
    second request to a model taking 5 ms on every call on the event loop."""

    def __init__(self) -> None:
        from collections import deque

        self._times: deque[float] = deque(maxlen=COST_WINDOW)
        self._lock = threading.Lock()  # calls come back on the event loop and in the pool's threads
        #: Read on the event loop for each small request: set by :meth:`add`, once per call.
        self.fast = False

    def add(self, seconds: float) -> None:
        """Count a scoring call that took ``seconds``."""
        with self._lock:  # set under the lock: a fast call's verdict written after a slow one's would let it inline
            self._times.append(seconds)
            ordered = sorted(self._times)
            others = ordered[-2] if len(ordered) > 1 else ordered[-1]  # the slowest but one
            self.fast = others <= INLINE_MAX_SECONDS and ordered[-1] <= OUTLIER_MAX_SECONDS


class ScoringApp:
    """The ASGI application: three routes, JSON errors, a body limit enforced while reading.

    A plain ASGI callable rather than a framework app: the whole service is three routes, and at
    one row per request the routing and request/response objects of a framework cost more than
    scoring (measured in-process on a loaded 2-core machine: 0.50 ms per request through a starlette
    app vs 0.38 ms through this one, the same score.py behind both).
    """

    def __init__(self, entry: ModuleType, swaggers: dict[str, bytes], *, api_key: str | None,
                 max_body_bytes: int, model_name: str = "onnx-model") -> None:
        self.entry = entry
        self.v2 = OpenInference(entry, model_name)
        self.swaggers = swaggers
        self.expected = api_key.encode() if api_key else None
        self.max_body_bytes = max_body_bytes
        self._pool: Any = None
        #: The times of the recent scoring calls (:meth:`_timed`), which say whether the model answers fast enough for
        #: a small request to be scored on the event loop. Until a call has come back every request is scored in the
        #: thread pool, as the model's speed is not known: scored on the event loop, a first request to a 6 s model
        #: left the health probes unanswered for its 6 s (0.03 s once the model was known to be slow).
        self.cost = _ScoringCost()
        self._running: dict[int, float] = {}  # pool thread -> time.monotonic() its scoring call began
        self._running_lock = threading.Lock()
        #: A shared double (a worker of :func:`_run_workers`) given the ``time.monotonic()`` at which the oldest
        #: scoring call still running in the thread pool began, 0.0 while none runs: its supervisor kills the
        #: worker when that call has run for ``--hang-seconds``. The event loop's heartbeat does not see such a
        #: call: hung, it held one of the SCORING_THREADS threads for good, and after four every large request
        #: waited forever while ``GET /`` said Healthy.
        self.scoring_clock: Any = None
        #: ``--hang-seconds`` in a worker of :func:`_run_workers`, None elsewhere (no cut-off). Once a scoring call in
        #: the thread pool has run this long, every request waiting for the pool, and every later one that would
        #: use it, is answered 503 (:meth:`_hung_answer`); ``on_hang`` is called once (the worker stops accepting
        #: connections), and ``hang_answered``, a shared double, gets ``time.monotonic()`` once the requests
        #: waiting are answered: the supervisor kills the worker then.
        self.hang_seconds: float | None = None
        self.on_hang: Any = None
        self.hang_answered: Any = None
        self._hung = False  # a scoring call has run hang_seconds: the worker is being replaced
        self._waiting: dict[Any, list[float]] = {}  # the pool's futures awaited -> when their call began ([] yet)
        self._watchdog: Any = None  # the event loop's timer of _watch, while requests wait for the pool
        #: The thread that answers a request whose scoring call on the event loop hangs (:class:`_LoopWatch`), in a
        #: worker of :func:`_run_workers`; None elsewhere.
        self.loop_watch: _LoopWatch | None = None

    def _authorised(self, headers: dict[bytes, bytes]) -> bool:
        """``Authorization: Bearer <key>``, the scheme in any case (RFC 7235), the key compared in constant time."""
        if self.expected is None:
            return True
        scheme, _, key = headers.get(b"authorization", b"").strip().partition(b" ")
        same_key = hmac.compare_digest(key.strip(b" \t"), self.expected)
        return same_key and scheme.lower() == b"bearer"

    def _score(self, body: bytes) -> tuple[int, bytes]:
        fast = getattr(self.entry, "score_bytes", None)
        if fast is not None:
            status, raw = fast(body)
            return int(status), raw
        status, payload = self.entry.score(body)  # a score.py written before score_bytes existed
        return status, json.dumps(payload).encode()

    def _timed(self, func: Any, *args: Any) -> Any:
        """``func(*args)``, its time folded into the running average that decides where scoring runs."""
        start = time.perf_counter()
        try:
            return func(*args)
        finally:
            self.cost.add(time.perf_counter() - start)

    def _inline(self, small: bool) -> bool:
        """Score on the event loop: a small request to a model that answers fast (a few per millisecond), once a
        scoring call has shown how fast it answers (:class:`_ScoringCost`)."""
        return small and self.cost.fast

    def _on_loop(self, scope: dict[str, Any], func: Any, *args: Any) -> Any:
        """``func(*args)`` on the event loop, timed (:meth:`_timed`); in a worker, watched by :attr:`loop_watch`,
        which answers the request 503 from its own thread when the call hangs. :class:`_AnsweredFromAside` when
        the call comes back after that."""
        watch = self.loop_watch
        if watch is None:
            return self._timed(func, *args)
        watch.begin(scope)
        try:
            return self._timed(func, *args)
        finally:
            if watch.end():
                raise _AnsweredFromAside  # the client has its 503 and the connection is shut

    async def _in_pool(self, func: Any, *args: Any) -> Any:
        import asyncio

        if self._pool is None:
            from concurrent.futures import ThreadPoolExecutor

            self._pool = ThreadPoolExecutor(max_workers=SCORING_THREADS, thread_name_prefix="score")
        loop = asyncio.get_running_loop()
        if self.hang_seconds is None:
            return await loop.run_in_executor(self._pool, self._watched, None, func, *args)
        if self._hung:
            raise _Hung(own=False)  # the worker is being replaced: its pool has a stuck thread
        started: list[float] = []
        future = loop.run_in_executor(self._pool, self._watched, started, func, *args)
        self._waiting[future] = started
        if self._watchdog is None:
            self._watchdog = loop.call_later(self.hang_seconds, self._watch)
        try:
            return await future
        except asyncio.CancelledError:
            if not self._hung:
                raise  # not cancelled by _watch: the request's task is
            own = bool(started) and time.monotonic() - started[0] >= self.hang_seconds
            raise _Hung(own) from None
        finally:
            del self._waiting[future]

    def _watch(self) -> None:
        """On the event loop, while requests wait for the thread pool: once the oldest scoring call running there
        has run :attr:`hang_seconds`, cancel every wait (each request is answered 503: :class:`_Hung`) and call
        :attr:`on_hang`; until then, look again when it would have. One timer for all the requests waiting:
        ``asyncio.wait`` with a timeout in each cost 57-165 us per request in the pool (of 0.69-0.83 ms)."""
        import asyncio

        assert self.hang_seconds is not None
        self._watchdog = None
        if not self._waiting:
            return
        with self._running_lock:
            oldest = min(self._running.values(), default=0.0)
        left = oldest + self.hang_seconds - time.monotonic() if oldest else self.hang_seconds
        if left > 0:
            self._watchdog = asyncio.get_running_loop().call_later(left, self._watch)
            return
        self._hung = True
        for future in self._waiting:
            future.cancel()  # the await ends; the thread stays stuck in its call, or ends it unheard
        if self.on_hang is not None:
            self.on_hang()

    def _hung_answer(self, path: str, own: bool) -> tuple[int, bytes, list[tuple[bytes, bytes]]]:
        """503 for a request cut off by a hung scoring call, in its route's error form, ``Retry-After`` and
        ``Connection: close`` (its worker is about to be killed)."""
        hang = self.hang_seconds or 0.0
        if own:
            code, message = "model_hung", (
                f"the model has not finished scoring this request within {hang:g} s (--hang-seconds); the worker "
                "serving it is being replaced: retry, or send a request the model can score")
        else:
            code, message = "worker_restarting", (
                f"another request has held the model on this worker for {hang:g} s (--hang-seconds); the worker is "
                "being replaced: retry")
        body = _dumps({"error": message}) if _is_v2(path) else _error_body(503, code, message)
        return 503, body, [_JSON_TYPE, (b"retry-after", str(HANG_RETRY_AFTER_SECONDS).encode()),
                           (b"connection", b"close")]

    def _watched(self, started: list[float] | None, func: Any, *args: Any) -> Any:
        """``func(*args)`` in a pool thread, its start kept in :attr:`scoring_clock` (the oldest running) until it
        returns, and appended to ``started``."""
        thread = threading.get_ident()
        with self._running_lock:
            self._running[thread] = begun = time.monotonic()
            self._publish_oldest()
        if started is not None:
            started.append(begun)
        try:
            return func(*args)
        finally:
            with self._running_lock:
                del self._running[thread]
                self._publish_oldest()

    def _publish_oldest(self) -> None:
        if self.scoring_clock is not None:
            self.scoring_clock.value = min(self._running.values(), default=0.0)

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
                body = b"".join(chunks)
                encoding = headers.get(b"content-encoding")
                return body if encoding is None else _decoded(body, encoding, self.max_body_bytes)

    async def _post_score(self, scope: dict[str, Any], headers: dict[bytes, bytes], receive: Any
                          ) -> tuple[int, bytes]:
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
        except _BadEncoding as err:
            return err.status, _error_body(err.status, "unsupported_media_type" if err.status == 415 else
                                           "bad_encoding", err.message)
        if self._inline(len(body) <= INLINE_MAX_BYTES):
            return self._on_loop(scope, self._score, body)  # type: ignore[no-any-return]
        result: tuple[int, bytes] = await self._in_pool(self._timed, self._score, body)
        return result

    async def _route(self, scope: dict[str, Any], receive: Any) -> tuple[int, bytes, list[tuple[bytes, bytes]]]:
        path, method = scope["path"], scope["method"]
        headers = dict(scope["headers"])
        if len(headers) < len(scope["headers"]):
            twice = _conflicting_headers(scope["headers"])
            if twice:
                message = (f"the header(s) {twice} are given more than once with different values; send each "
                           "once")
                if _is_v2(path):
                    return 400, _dumps({"error": message}), [_JSON_TYPE]
                return 400, _error_body(400, "bad_http", message), [_JSON_TYPE]
        if _is_v2(path):
            return await self._route_v2(scope, path, method, headers, receive)
        if path == "/score":
            if method != "POST":
                return 405, _error_body(405, "method_not_allowed", "use POST /score"), [_JSON_TYPE, (b"allow", b"POST")]
            status, body = await self._post_score(scope, headers, receive)
            extra = [(b"www-authenticate", b"Bearer")] if status == 401 else []
            return status, body, [_JSON_TYPE, *extra]
        if path == "/":
            if method not in ("GET", "HEAD"):
                return 405, _error_body(405, "method_not_allowed", "use GET /"), [_JSON_TYPE, _ALLOW_GET]
            return 200, _HEALTHY, _TEXT_HEADERS
        if path == "/swagger.json":
            if method not in ("GET", "HEAD"):
                return 405, _error_body(405, "method_not_allowed", "use GET /swagger.json"), [_JSON_TYPE, _ALLOW_GET]
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
                                "GET /swagger.json, /v2/... (Open Inference Protocol)"), [_JSON_TYPE]

    async def _route_v2(self, scope: dict[str, Any], path: str, method: str, headers: dict[bytes, bytes],
                        receive: Any) -> tuple[int, bytes, list[tuple[bytes, bytes]]]:
        v2 = self.v2
        parts = path.rstrip("/").split("/")[2:]  # "/v2/models/x/infer" -> ["models", "x", "infer"]
        if parts in ([], ["health", "live"], ["health", "ready"]):
            if method not in ("GET", "HEAD"):
                return v2.not_allowed("GET", path)
            if not parts:
                if not self._authorised(headers):
                    return v2.unauthorised()
                return 200, _dumps(v2.server_metadata()), [_JSON_TYPE]
            return 200, _dumps({parts[1]: True}), [_JSON_TYPE]
        if not self._authorised(headers):  # before any answer that names the model
            return v2.unauthorised()
        if len(parts) < 2 or parts[0] != "models":
            return v2.error(404, f"no route {path!r}; the v2 routes are /v2/health/live, /v2/health/ready, "
                            f"/v2/models/{v2.name}, /v2/models/{v2.name}/ready, /v2/models/{v2.name}/infer")
        name, rest = parts[1], parts[2:]
        if len(rest) >= 2 and rest[0] == "versions":
            if rest[1] != V2_VERSION:
                return v2.error(404, f"model {name!r} has no version {rest[1]!r}; its only version is "
                                f"{V2_VERSION!r}")
            rest = rest[2:]
        if name != v2.name:
            return v2.error(404, f"unknown model {name!r}; this server serves {v2.name!r}")
        action = rest[0] if len(rest) == 1 else "" if not rest else None
        if action not in ("", "ready", "infer"):
            return v2.error(404, f"no route {path!r}; use /v2/models/{v2.name}, .../ready or .../infer")
        want = "POST" if action == "infer" else "GET"
        if method != want and not (want == "GET" and method == "HEAD"):
            return v2.not_allowed(want, path)
        if action == "":
            return 200, _dumps(v2.model_metadata()), [_JSON_TYPE]
        if action == "ready":
            return 200, _dumps({"name": v2.name, "ready": True}), [_JSON_TYPE]
        try:
            body = await self._read_body(headers, receive)
        except _TooLarge:
            return v2.error(413, f"the request body is over {self.max_body_bytes} bytes; send fewer rows per "
                            "request")
        except _BadEncoding as err:
            return v2.error(err.status, err.message)
        json_size = _byte_count(headers.get(b"inference-header-content-length", b""))
        if json_size is None:
            json_size = len(body)
        if self._inline(min(json_size, len(body)) <= INLINE_MAX_BYTES
                        and len(body) - json_size <= V2_INLINE_BINARY_BYTES):
            result: tuple[int, bytes, list[tuple[bytes, bytes]]] = self._on_loop(scope, v2.infer, headers, body)
        else:
            result = await self._in_pool(self._timed, v2.infer, headers, body)
        accept = headers.get(b"accept-encoding")
        if accept is None or result[0] != 200:
            return result
        status, reply, reply_headers = result
        packed, coding = _compressed(reply, accept)
        if coding is None:
            return result
        return status, packed, [*reply_headers, (b"content-encoding", coding)]

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
        except _AnsweredFromAside:
            scope[_CONNECTION].transport.close()  # its 503 is sent and the socket shut for writing
            # the call came back before the kill (0.2 s at most): a connection accepted meanwhile was cut off by it
            # unanswered; it waits in the queue for another worker instead, and a request to the pool gets 503
            if not self._hung:
                self._hung = True
                if self.on_hang is not None:
                    self.on_hang()
            return
        except _Hung as err:
            status, body, headers = self._hung_answer(scope["path"], err.own)
        except Exception as err:  # never a stack trace to the client
            status, headers = 500, [_JSON_TYPE]
            body = (_dumps({"error": f"scoring failed: {type(err).__name__}"}) if _is_v2(scope["path"])
                    else _error_body(500, "internal_error", f"scoring failed: {type(err).__name__}"))
        await send({"type": "http.response.start", "status": status,
                    "headers": [*headers, (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": b"" if scope["method"] == "HEAD" else body})
        if self._hung and not self._waiting and self.hang_answered is not None:
            self.hang_answered.value = time.monotonic()  # the last request waiting for the pool is answered

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


#: The ASGI scope's key under which the service's HTTP protocol (:func:`http_protocol`) puts the request's connection
#: and cycle, for :class:`_LoopWatch` to answer the request from its own thread.
_CONNECTION = "onnxgate.connection"


class _LoopWatch:
    """A thread of a worker process that answers a request whose scoring call on the event loop hangs.

    A small request to a model timed as fast is scored on the event loop itself (:data:`INLINE_MAX_SECONDS`), which
    stops while the call runs: when the call never returns nothing on the loop can answer, and the supervisor killed
    the worker at ``--hang-seconds`` with the request's connection closed unanswered. This thread sleeps until the call
    running there (its start set by :meth:`begin`, cleared by :meth:`end`) has run ``hang_seconds``; then, the loop
    still stopped, it writes the request's 503 (:meth:`ScoringApp._hung_answer`: the route's error form,
    ``Retry-After``, ``Connection: close``) on the request's socket itself, and a ``worker_restarting`` 503 on each of
    the worker's other connections with a request waiting for an answer, shuts them for writing, and tells the
    supervisor (``cut``), which kills the worker at once. A lock makes its answer and the call coming back at that
    moment exclusive: either this thread answers and the loop sends nothing more on that connection (:meth:`end` is
    True), or the loop answers and this thread does not.

    Routing every small request through the thread pool instead, for the loop to answer a hung one, would undo what
    scoring on the loop is for (the thread hop was a third of the v2 p50). This costs the loop a clock read, a few
    attribute writes, two writes of a shared double and an uncontended lock per request scored there; the thread
    wakes about once per ``hang_seconds``. It needs the hung call to let go of the GIL, as onnxruntime's run and
    Python code do; one that holds it for good is killed unanswered :data:`HANG_ANSWER_SECONDS` later.
    """

    def __init__(self, hang_seconds: float, answer: Any, clock: Any = None, cut: Any = None) -> None:
        self.hang_seconds = hang_seconds
        self._answer = answer  # ScoringApp._hung_answer
        self._clock = clock  # a shared double for the supervisor: when the call running on the loop began; 0.0 none
        self._cut = cut  # a shared double: time.monotonic() once the requests are answered
        self._lock = threading.Lock()
        self._started = 0.0  # time.monotonic() the call running on the loop began, 0.0 while none runs
        self._scope: Any = None  # its request's ASGI scope
        self._answered = 0.0  # the _started of the call whose request this thread answered
        self._cut_off = False  # this thread has answered the requests: _clock keeps the hung call's start

    def start(self) -> None:
        threading.Thread(target=self._run, name="loop-watch", daemon=True).start()

    def begin(self, scope: dict[str, Any]) -> None:
        """On the event loop: a scoring call for the request of ``scope`` begins."""
        self._scope = scope
        self._started = started = time.monotonic()
        if self._clock is not None and not self._cut_off:
            self._clock.value = started

    def end(self) -> bool:
        """On the event loop: the call has come back. True when this thread has answered its request already."""
        with self._lock:
            answered = self._answered == self._started
            self._started, self._scope = 0.0, None
        if self._clock is not None and not self._cut_off:
            self._clock.value = 0.0  # once answered, it keeps the hung call's start: the supervisor's log says so
        return answered

    def _run(self) -> None:
        while True:
            started = self._started
            left = started + self.hang_seconds - time.monotonic() if started else self.hang_seconds
            if left > 0:
                time.sleep(left)
                continue
            with self._lock:
                if self._started != started:
                    continue  # the call came back meanwhile
                answered = self._answer_all(started)
            if answered and self._cut is not None:
                self._cut.value = time.monotonic()
            return  # answered, or cannot be (served without the service's protocol): the supervisor kills the worker

    def _answer_all(self, started: float) -> bool:
        """Under the lock, the event loop stopped in the call begun at ``started``: answer its request, then the
        requests waiting on the worker's other connections. False when served without the service's protocol."""
        protocol = self._scope.get(_CONNECTION)
        if protocol is None:
            return False  # served without the service's protocol (no httptools): nothing to write on
        cycle = protocol.cycle if protocol.cycle is not None and protocol.cycle.scope is self._scope else None
        self._cut_off = True
        if self._write(protocol, cycle, str(self._scope.get("path", "")), own=True):
            self._answered = started
        # else its client has gone (it closed the connection: the kernel refuses the shutdown), or a reply is half
        # sent there: the requests waiting on the other connections are answered all the same
        for other in list(getattr(protocol, "connections", ())):
            if other is not protocol:
                waiting = _waiting_request(other)
                if waiting is not None:
                    self._write(other, waiting[0], waiting[1], own=False)
        return True

    def _write(self, protocol: Any, cycle: Any, path: str, own: bool) -> bool:
        """Write the 503 on ``protocol``'s socket and shut it for writing; ``cycle`` (the request's, if parsed)
        then sends nothing. False when it cannot be written whole (a reply already under way, or the client gone)."""
        import socket
        from http import HTTPStatus

        transport = protocol.transport
        if transport.is_closing() or transport.get_write_buffer_size() or (
                cycle is not None and cycle.response_started):
            return False
        status, body, headers = self._answer(path, own)
        lines = [b"HTTP/1.1 %d %s\r\n" % (status, HTTPStatus(status).phrase.encode())]
        for name, value in [*protocol.server_state.default_headers, *headers,
                            (b"content-length", str(len(body)).encode())]:
            lines.append(b"%s: %s\r\n" % (name, value))
        try:
            fd = transport.get_extra_info("socket").fileno()
            with socket.socket(fileno=os.dup(fd)) as sock:
                sock.settimeout(1.0)  # the descriptor is already non-blocking (the event loop's)
                sock.sendall(b"".join(lines) + b"\r\n" + body)
                sock.shutdown(socket.SHUT_WR)
        except OSError:
            return False
        if cycle is not None:
            cycle.disconnected = True  # should the loop run again, it sends nothing more for this request
        return True


def _waiting_request(protocol: Any) -> tuple[Any, str] | None:
    """The cycle (None when not parsed yet) and path of the request waiting for an answer on ``protocol``'s
    connection, read while the event loop is stopped; None when none waits (an idle keep-alive connection)."""
    import contextlib
    import socket

    transport = protocol.transport
    if transport.is_closing():
        return None
    cycle = getattr(protocol, "cycle", None)
    if cycle is not None and not cycle.response_started and not cycle.response_complete:
        return cycle, str(cycle.scope.get("path", ""))  # read, waiting for the pool or its turn on the loop
    if getattr(protocol, "_in_request", False):
        url = bytes(getattr(protocol, "url", b"") or b"")  # its head in part read
        return None, url.split(b"?")[0].decode("latin-1")
    head = b""
    with contextlib.suppress(OSError):
        fd = transport.get_extra_info("socket").fileno()
        with socket.socket(fileno=os.dup(fd)) as sock:
            head = sock.recv(1024, socket.MSG_PEEK | socket.MSG_DONTWAIT)  # sent, not read by the loop yet
    if not head:
        return None  # nothing sent, or the client has closed
    words = head.split(b"\r\n", 1)[0].split(b" ")
    return None, (words[1] if len(words) > 1 else b"").split(b"?")[0].decode("latin-1")


_PROTOCOL: Any = None


def _has_httptools() -> bool:
    try:
        import httptools  # noqa: F401
    except ImportError:
        return False
    return True


def http_protocol(config: Any, server_state: Any, app_state: Any, _loop: Any = None) -> Any:
    """uvicorn's httptools protocol, answering malformed HTTP and oversized headers with JSON.

    uvicorn answers a request its parser rejects with a plain-text 400 and accepts any number of
    header lines; this subclass sends the service's JSON error body instead (400), and 431 past
    :data:`MAX_HEADERS` lines or :data:`MAX_HEADER_BYTES` bytes of headers, then closes the
    connection. Passed to uvicorn as ``http=`` (a callable building the protocol, as a class is).
    """
    global _PROTOCOL
    if _PROTOCOL is None:
        _PROTOCOL = _build_protocol_class()
    return _PROTOCOL(config=config, server_state=server_state, app_state=app_state, _loop=_loop)


#: Bytes of a request's start kept to read its target when the parser refuses its request line (a target is read
#: within them; a longer one gets the Azure ML error form, as one not read at all).
_REQUEST_LINE_BYTES = 8 * 1024


def _request_target(start: bytes) -> bytes:
    """The request target of the request line at the start of ``start`` (the blank lines HTTP lets precede it
    skipped): ``/v2/models/\xff`` of ``GET /v2/models/\xff HTTP/1.1``; empty when it holds none."""
    line = start.lstrip(b"\r\n").split(b"\n", 1)[0]
    parts = line.split(b" ", 2)
    return parts[1].rstrip(b"\r") if len(parts) > 1 else b""


def _request_start(data: bytes, number: int) -> int | None:
    """Where in ``data`` (bytes that begin between two requests) its request ``number`` (1 for the first) begins, as
    an HTTP parser reads them; None when it begins no such request. The parser says when a request begins, not where:
    a new parser is given ever longer starts of ``data`` (a halving search, on the error path only)."""
    import contextlib

    import httptools

    class Begins:
        count = 0

        def on_message_begin(self) -> None:
            self.count += 1

    def begun(size: int) -> int:
        seen = Begins()
        # the refused line itself raises: the begins before it are counted
        with contextlib.suppress(httptools.HttpParserError, httptools.HttpParserUpgrade):
            httptools.HttpRequestParser(seen).feed_data(data[:size])
        return seen.count

    low, high = 1, len(data)  # the smallest start of data in which `number` requests have begun
    if begun(high) < number:
        return None
    while low < high:
        middle = (low + high) // 2
        if begun(middle) >= number:
            high = middle
        else:
            low = middle + 1
    return low - 1  # the byte whose reading began it


def _build_protocol_class() -> Any:
    from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

    too_large = (431, "headers_too_large", f"the request headers are over {MAX_HEADER_BYTES} bytes (the limit); "
                 "send smaller headers")

    class JSONErrorHttpToolsProtocol(HttpToolsProtocol):  # type: ignore[misc]
        _in_head = True
        _head_bytes = 0
        _header_count = 0
        _header_bytes = 0
        _refusal: tuple[int, str, str] | None = None
        _deadline: Any = None  # the timer of REQUEST_HEAD_SECONDS, REQUEST_BODY_IDLE_SECONDS or REQUEST_BODY_SECONDS
        _in_body = False
        _body_started = 0.0  # the event loop's time at the end of the head of the request whose body is read
        _body_bytes = 0  # of that body, the bytes parsed
        _body_due_first = False  # _deadline is the body's whole deadline (due before its idle time ends)
        _draining = False  # shutdown() came: the request being read, or the next one, is the connection's last
        _in_request = False  # a request's first byte is parsed and its last is not
        _whole: Any = None  # the cycle of the last request parsed whole (eof_received)
        _line = b""  # the first bytes of the request being read, while they are known to start it (send_400_response)
        _line_known = False
        _begun = 0  # requests begun in the bytes of the last data_received
        _begins_known = 0  # of them, those whose start _line holds (the first, when they came between two requests)
        _read: bytes | None = None  # the bytes being parsed, while they begin between two requests (send_400_response)
        #: The answer to a request refused while those before it are answered (send_400_response): written, and the
        #: connection closed, once they are; the bytes that come meanwhile are not read.
        _refused_answer: bytes | None = None

        def _arm(self, seconds: float) -> None:
            if self._deadline is not None:
                self._deadline.cancel()
            self._deadline = self.loop.call_later(seconds, self._timed_out)

        def _disarm(self) -> None:
            if self._deadline is not None:
                self._deadline.cancel()
                self._deadline = None

        def _body_due(self) -> float:
            return self._body_started + REQUEST_BODY_SECONDS + self._body_bytes / REQUEST_BODY_MIN_RATE

        def _arm_body(self) -> None:
            """Sets the timer to the body's idle time, or to its whole deadline when that comes first."""
            left = self._body_due() - self.loop.time()
            self._body_due_first = left < REQUEST_BODY_IDLE_SECONDS
            self._arm(min(left, REQUEST_BODY_IDLE_SECONDS))

        def _timed_out(self) -> None:
            self._deadline = None
            if self.transport.is_closing():
                return
            if self.cycle is not None and self.cycle.response_started:
                self.transport.close()  # answered already (401, 415...); the rest of its body never came
                return
            if not self._in_body:
                message = f"the request line and headers did not arrive within {REQUEST_HEAD_SECONDS:g} s"
            elif not self._body_due_first:
                message = f"no byte of the request body arrived for {REQUEST_BODY_IDLE_SECONDS:g} s"
            elif self.loop.time() < self._body_due():
                self._arm_body()  # the bytes parsed since the timer was set moved the deadline on
                return
            else:
                message = (f"the request body arrived slower than {REQUEST_BODY_MIN_RATE} bytes a second "
                           f"({REQUEST_BODY_SECONDS:g} s, then 1 s more for each {REQUEST_BODY_MIN_RATE} bytes); "
                           "send it faster or in smaller requests")
            self._refusal = (408, "request_timeout", f"{message}; the connection is closed")
            self.send_400_response("")

        def connection_made(self, transport: Any) -> None:
            super().connection_made(transport)
            self._arm(REQUEST_HEAD_SECONDS)  # a connection that never sends a byte
            if getattr(self.server_state, _DRAINING, False):
                # accepted just before the shutdown began, its protocol made after uvicorn told every connection
                # to finish: it would be served as keep-alive, holding the shutdown until the graceful timeout
                self.shutdown()

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
            super().connection_lost(exc)

        def on_message_begin(self) -> None:
            super().on_message_begin()
            self._begun += 1
            # for _LoopWatch to answer the request from its thread (the protocol, not its cycle: the scope is the
            # cycle's, and a reference back would leave every request's objects to the garbage collector)
            self.scope[_CONNECTION] = self  # type: ignore[literal-required]
            self._in_request = True
            self._in_head, self._header_count, self._header_bytes = True, 0, 0
            self._in_body = False
            self._arm(REQUEST_HEAD_SECONDS)

        def on_header(self, name: bytes, value: bytes) -> None:
            self._header_count += 1
            if self._header_count > MAX_HEADERS:
                self._refusal = (431, "too_many_headers", f"the request has over {MAX_HEADERS} header lines (the "
                                 "limit); send fewer headers")
                raise ValueError("too many headers")  # httptools stops parsing: data_received sends the 431
            if name.lower() == b"transfer-encoding":
                codings = [c.strip().lower() for c in value.split(b",")]
                unknown = [c.decode("latin-1") for c in codings if c != b"chunked"]
                if unknown:  # httptools reads the chunks and drops the other codings: the body would be misread
                    self._refusal = (501, "transfer_encoding", f"Transfer-Encoding {unknown[0]!r} is not supported "
                                     "(RFC 9112: 501); send the body uncompressed, chunked or with Content-Length")
                    raise ValueError("unsupported transfer coding")
            # the head's bytes as parsed: a head that arrived in one read is complete before data_received
            # can count it (the request line, then "name: value\r\n" per header)
            self._header_bytes += len(name) + len(value) + 4
            if len(self.url) + self._header_bytes > MAX_HEADER_BYTES:
                self._refusal = too_large
                raise ValueError("headers too large")
            super().on_header(name, value)

        def on_headers_complete(self) -> None:
            self._in_head, self._head_bytes = False, 0
            self._in_body = True
            self._body_started, self._body_bytes = self.loop.time(), 0
            self._arm_body()
            super().on_headers_complete()
            if self._draining:
                self.cycle.keep_alive = False  # the server is stopping: this request is the connection's last

        def shutdown(self) -> None:
            """On SIGTERM: a request in progress finishes, as uvicorn does, answered with ``Connection: close``; so
            is a next request whose bytes have already arrived. A keep-alive connection idle between two requests
            gets :data:`SHUTDOWN_IDLE_SECONDS` for its next one before it is closed; a connection that has sent no
            request yet gets :data:`SHUTDOWN_FIRST_REQUEST_SECONDS` for its first one."""
            if self._draining or self.transport.is_closing():
                return
            self._draining = True
            if self._between_requests():
                if self.cycle is None:
                    self.loop.call_later(SHUTDOWN_FIRST_REQUEST_SECONDS, self._close_if_no_request)
                elif not _readable(self.transport):
                    # idle: a client reusing it under load sends its next request within the grace (answered);
                    # one sent after the close crosses it, the race HTTP leaves to clients
                    self.loop.call_later(SHUTDOWN_IDLE_SECONDS, self._close_if_idle)
                # else the next request is in the socket, unread: it is read next and answered
            elif self.cycle is not None and not self.cycle.response_complete:
                super().shutdown()  # the request's answer closes the connection
            # else a request head is arriving: on_headers_complete makes it the last (REQUEST_HEAD_SECONDS bounds it)

        def eof_received(self) -> bool | None:  # type: ignore[override]  # asyncio: True keeps it open
            """The client has sent its last byte (a half-close: ``nc -N``, ``socat``, a script's ``shutdown(SHUT_WR)``
            after its requests). The requests it sent whole are answered, then the connection is closed; uvicorn
            closed it at once, and a request still being scored, or pipelined behind one, got no answer (which of
            them did was a race: 0 to 3 of 3 pipelined requests), and its answer an error traceback in the log.
            A request cut short by the half-close is never answered; those sent whole before it still are (they got
            no answer, and one being scored an error traceback in the log, when the last bytes sent were a part of
            a request: a file for ``nc -N`` ending without the blank line after a GET's head)."""
            if self._refused_answer is not None:
                return True  # the requests before the refused one are answered, then its 400 closes the connection
            if self._in_request:  # its rest never comes: neither its deadline's 408 nor its turn in the pipeline
                self._disarm()
                if not self._in_head and self.pipeline and self.pipeline[0][0] is self.cycle:
                    self.pipeline.popleft()  # its head read and queued behind a request being answered
            last = self._whole
            if last is None or last.response_complete:
                return None  # nothing whole left to answer: close now
            last.keep_alive = False  # the last request received whole: its answer closes the connection
            return True  # keep the transport open for writing

        def _between_requests(self) -> bool:
            """No request is being read or answered: none came yet, or the last one is answered and no byte of
            the next one has been parsed."""
            return not self._in_request and (self.cycle is None or self.cycle.response_complete)

        def _close_if_idle(self) -> None:
            if self._between_requests() and not self.transport.is_closing() and not _readable(self.transport):
                _close_now(self.transport)  # else a next request came or is unread: it is answered, then closed

        def _close_if_no_request(self) -> None:
            if self._between_requests() and not self.transport.is_closing():
                self.transport.close()

        def on_body(self, body: bytes) -> None:
            self._body_bytes += len(body)
            super().on_body(body)

        def on_message_complete(self) -> None:
            super().on_message_complete()
            self._whole = self.cycle
            self._in_request = False
            self._in_head, self._head_bytes = True, 0
            self._in_body = False
            self._disarm()

        def data_received(self, data: bytes) -> None:
            if self._refused_answer is not None:
                return  # a request refused: the parser stopped at it, and the connection closes after its answer
            # the bytes starting the request whose line the parser may refuse: a request line it refuses is never
            # given to on_url, and its path decides the error's form (a raw byte past ASCII in a /v2 path got the
            # Azure ML form)
            if not self._in_request:
                self._line, self._line_known = data[:_REQUEST_LINE_BYTES], True
            elif self._in_head and self._line_known:
                self._line += data[:max(0, _REQUEST_LINE_BYTES - len(self._line))]
            else:  # in a body: a request begun in these bytes starts where its parse alone knows
                self._line_known = False
            self._begins_known = 0 if self._in_request else 1  # requests that may begin here, its start known
            self._begun = 0
            if self._in_head:
                self._head_bytes += len(data)
            elif self._in_body:
                self._arm_body()  # a byte of the body came: the idle time starts again
            self._read = None if self._in_request else data
            try:
                super().data_received(data)
            finally:
                self._read = None
            # a second request begun in these bytes: where it starts is not known
            self._line_known = self._line_known and self._begun <= self._begins_known
            if self._in_head and self._head_bytes > MAX_HEADER_BYTES and not self.transport.is_closing():
                self._refusal = too_large  # a head still arriving, in pieces: stop reading it
                self.send_400_response("")

        def send_400_response(self, msg: str) -> None:
            status, code, message = self._refusal or (
                400, "bad_http", "malformed HTTP request (request line, a header, Content-Length, "
                "Transfer-Encoding or a chunk); the connection is closed")
            self._disarm()
            url = bytes(getattr(self, "url", b"") or b"")
            if not url and self._line_known and self._begun <= self._begins_known:
                url = _request_target(self._line)  # a request line the parser refused before its target ended
            elif not url and self._read is not None and self._begun > 1:
                # such a line pipelined behind a request in the same read: found where the parser began it (the
                # Azure ML form on a /v2 path, where alone it got the protocol's)
                start = _request_start(self._read, self._begun)
                if start is not None:
                    url = _request_target(self._read[start:start + _REQUEST_LINE_BYTES])
            path = url.split(b"?")[0].decode("latin-1")
            body = _dumps({"error": message}) if _is_v2(path) else _error_body(status, code, message)
            head = [STATUS_LINE[status]]
            for name, value in self.server_state.default_headers:
                head.extend([name, b": ", value, b"\r\n"])
            head.extend([b"content-type: application/json\r\n", b"content-length: %d\r\n" % len(body),
                         b"connection: close\r\n\r\n", body])
            answer = b"".join(head)
            if self._in_head and self._unanswered():
                # a request pipelined behind others still being answered, refused in its head: its answer follows
                # theirs (written at once, it came first and closed the connection: a pipelining client read it
                # as the answer to its first request, whose own answer was lost)
                self._refused_answer = answer
                return
            self.transport.write(answer)
            self.transport.close()

        def _unanswered(self) -> bool:
            """A request received before the one being read has not been answered whole yet."""
            return bool(self.pipeline) or (self.cycle is not None and not self.cycle.response_complete)

        def on_response_complete(self) -> None:
            super().on_response_complete()
            if self._refused_answer is not None and not self.transport.is_closing() and not self._unanswered():
                self.transport.write(self._refused_answer)
                self.transport.close()

    return JSONErrorHttpToolsProtocol


#: The attribute of uvicorn's ServerState set once the server shuts down: a connection made from then on is drained.
_DRAINING = "onnxgate_draining"


def _readable(transport: Any) -> bool:
    """Bytes (or the end) of the connection wait in its socket, unread by the event loop yet."""
    import select

    fd = transport.get_extra_info("socket").fileno()
    if hasattr(select, "poll"):
        poller = select.poll()
        poller.register(fd, select.POLLIN)
        return bool(poller.poll(0))
    return bool(select.select([fd], [], [], 0)[0])  # pragma: no cover - Windows


def _close_now(transport: Any) -> None:
    """Close a connection with nothing left to send, its FIN sent now: the transport closes its socket only on the
    event loop's next turn, and a request arriving meanwhile, sent by a client that had seen no FIN, was reset
    (3 keep-alive clients at once, in 2 of 40 SIGTERMs under load)."""
    import contextlib
    import socket

    if transport.get_write_buffer_size() == 0:
        fd = transport.get_extra_info("socket").fileno()  # asyncio's wrapper of the socket refuses shutdown()
        with contextlib.suppress(OSError), socket.socket(fileno=os.dup(fd)) as sock:  # OSError: the client has gone
            sock.shutdown(socket.SHUT_WR)
    transport.close()


def _stop_accepting(sock: Any) -> bool:
    """Make the kernel drop every packet for the listening socket ``sock`` (a socket filter): it completes no new
    connection, so those it has queued are all there are, to accept, and closing the socket resets none. A client
    connecting meanwhile sends its SYN again a second later and is refused then. False where the kernel has no
    socket filters (not Linux): the queue is drained as it stands.
    """
    import ctypes
    import socket
    import struct

    if not sys.platform.startswith("linux"):
        return False
    drop = (ctypes.c_uint64 * 1)(0x06)  # one classic BPF instruction, BPF_RET | BPF_K with k = 0: keep 0 bytes
    program = struct.pack("HP", 1, ctypes.addressof(drop))  # struct sock_fprog: length, pointer to the code
    try:
        sock.setsockopt(socket.SOL_SOCKET, 26, program)  # SO_ATTACH_FILTER, which the socket module does not name
    except OSError:
        return False
    return True


def _draining_server(*, stop_accepting: bool = True, heartbeat: Any = None, ready_line: str | None = None) -> Any:
    """uvicorn's ``Server``, which first accepts the connections waiting in the listening socket's queue when it
    shuts down.

    uvicorn closed the listening socket with connections the kernel had accepted still queued in it: each was
    reset, its request already sent (six of eight clients opening a connection per request, at every SIGTERM).
    Accepted here, each gets :data:`SHUTDOWN_FIRST_REQUEST_SECONDS` for its request and its answer, as a
    connection accepted earlier does (the protocol's ``shutdown``); clients connecting after it are refused.

    With ``stop_accepting`` the kernel first stops completing connections (:func:`_stop_accepting`): one completed
    between the last accept and the close was reset, its request sent (1 in 83,674 requests over 40 SIGTERMs under
    load). A worker of :func:`_run_workers` leaves that to the supervisor, as its socket is every worker's.
    ``heartbeat``, a shared double, gets ``time.monotonic()`` every :data:`HEARTBEAT_SECONDS` while the event loop
    runs, for the supervisor to see a hung worker. ``ready_line`` is printed once the server has started.
    """
    import asyncio
    import socket

    import uvicorn

    class DrainingServer(uvicorn.Server):  # type: ignore[misc]
        async def startup(self, sockets: list[socket.socket] | None = None) -> None:
            await super().startup(sockets)
            if ready_line and self.started:
                print(ready_line, file=sys.stderr, flush=True)
            if heartbeat is not None:
                loop = asyncio.get_running_loop()

                def beat() -> None:
                    heartbeat.value = time.monotonic()
                    loop.call_later(HEARTBEAT_SECONDS, beat)

                beat()

        async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
            loop = asyncio.get_running_loop()
            config = self.config
            setattr(self.server_state, _DRAINING, True)

            def protocol() -> Any:
                return config.http_protocol_class(config=config, server_state=self.server_state,  # type: ignore[call-arg]
                                                  app_state=self.lifespan.state)

            queued: list[socket.socket] = []
            try:
                for server in self.servers:
                    for listening in server.sockets:
                        with socket.socket(fileno=os.dup(listening.fileno())) as listener:
                            if stop_accepting:
                                _stop_accepting(listener)
                            listener.setblocking(False)
                            while True:
                                try:
                                    queued.append(listener.accept()[0])
                                except OSError:  # BlockingIOError: the queue is empty
                                    break
                    server.close()  # at once, no await between: without the filter, one queued since is reset
                for conn in queued:
                    conn.setblocking(False)
                    await loop.connect_accepted_socket(protocol, conn)
            except (AttributeError, TypeError):
                # another uvicorn than the pinned one, without these attributes: shut down as uvicorn does, the
                # queued connections reset, rather than fail to stop
                for conn in queued:
                    conn.close()
            await super().shutdown(sockets)

    return DrainingServer


def _run_workers(factory: str, common: dict[str, Any], workers: int,
                 hang_seconds: float = WORKER_HANG_SECONDS, ready_line: str | None = None) -> None:
    """``workers`` processes serving one listening socket, each a :func:`_draining_server`; a worker that dies is
    replaced. On SIGTERM or SIGINT this process stops the kernel completing connections on the socket
    (:func:`_stop_accepting`), closes its copy and stops the workers, which answer their requests in flight and
    the queued connections as one process does; then it exits 0.

    Exit code 3 when a worker could not start, or when workers died before or within
    :data:`WORKER_CRASH_LOOP_SECONDS` of serving :data:`WORKER_CRASH_LOOP_DEATHS` times in a row (each restart
    waiting longer): a worker crashing right after it loaded was replaced at once for good (12 starts in 15 s, 2
    workers, each loading the model). A worker whose event loop stops running for ``hang_seconds`` is
    killed and replaced: a hung one was left holding its connections and its share of new ones, and with one worker
    (when it ran without a supervisor) the service answered no one again. Exit code 3 too after
    :data:`WORKER_CRASH_LOOP_DEATHS` workers killed hung in a row with no POST answered in between (counted in the
    shared ``answered``): a worker hanging on every request was killed and replaced for good, ten seconds a time.
    A worker whose oldest scoring call in its thread pool (a large request, or a slow model) has run for
    ``hang_seconds`` is hung too, its event loop running or not (the shared ``busy``); its event loop running, it
    answers the requests waiting for the pool 503 and says so in the shared ``cut``, and is killed then (or
    :data:`HANG_ANSWER_SECONDS` later when it does not). A worker whose event loop stopped in a scoring call (its
    start in the shared ``on_loop``) is given as long past that call's ``hang_seconds`` for its :class:`_LoopWatch`
    to answer the call's request and those waiting, then killed when ``cut`` says it has: the heartbeat alone killed
    it at ``hang_seconds``, its requests unanswered.

    This process does not load the package (numpy, onnxruntime, the model): the workers do. A worker that cannot
    load it sends the one-line reason on its pipe and exits 3; before any worker has served, that is the package's
    fault, raised here as :class:`ServeError` (exit code 2); later, the package changed under a running service
    (exit code 3). Loading it here too had doubled the service's memory (iris: 72 -> 155 MB) and its start-up.
    ``ready_line`` is printed by the first worker as it starts serving.

    uvicorn's own supervisor (``uvicorn.run(workers=N)``) kept its copy of the socket listening until every worker
    had stopped and its workers shut down as plain uvicorn servers: each SIGTERM under load reset every client's
    connection made in the meantime, its request sent (10 of 10 SIGTERMs, 83 requests, 6 clients, 2 workers).
    Its SIGHUP/SIGTTIN/SIGTTOU handling is not kept.
    """
    import multiprocessing
    import signal

    sock = _bind(common["host"], common["port"])
    spawn = multiprocessing.get_context("spawn")
    stopping: list[int] = []
    answered = spawn.RawValue("Q", 0)  # POST requests answered below 500 by any worker: the service still works
    load_error: list[str] = []  # the package did not load before any worker served: ServeError (exit code 2)

    def stop(sig: int, _frame: Any) -> None:
        if not stopping:
            stopping.append(sig)
            _stop_accepting(sock)  # before the workers drain the queue: nothing joins it after their last accept
            sock.close()  # connections from now on are refused once every worker has closed its copy

    class Worker:
        def __init__(self, announce: bool) -> None:
            self.beat = spawn.RawValue("d", 0.0)  # time.monotonic() of the worker's event loop, 0 until it serves
            self.busy = spawn.RawValue("d", 0.0)  # when its oldest scoring call in the thread pool began; 0: none
            self.cut = spawn.RawValue("d", 0.0)  # when it answered 503 the requests a hung scoring call cut off
            self.on_loop = spawn.RawValue("d", 0.0)  # when its scoring call on the event loop began; 0: none
            self.report, writer = spawn.Pipe(duplex=False)  # why it could not load the package
            self.process = spawn.Process(target=_serve_worker,
                                         args=(factory, common, sock, self.beat, answered, self.busy, writer,
                                               ready_line if announce else None, hang_seconds, self.cut,
                                               self.on_loop))
            self.process.start()
            writer.close()
            self.serving: float | None = None  # when the supervisor first saw it beat
            self.proven = False  # has served WORKER_CRASH_LOOP_SECONDS
            self.hung = False  # killed by the supervisor for not beating
            self.announce = announce  # prints ready_line once it serves

        def reason(self) -> str | None:
            """What the worker sent before it exited: why it could not load the package."""
            try:
                return str(self.report.recv()) if self.report.poll() else None
            except (EOFError, OSError):
                return None

    def why_hung(worker: Worker, now: float) -> tuple[str, str] | None:
        """Why ``worker`` is hung and what becomes of its requests; None when it is not (or not yet)."""
        beat, since, cut, on_loop = worker.beat.value, worker.busy.value, worker.cut.value, worker.on_loop.value
        lost = "its requests in flight, the hung one included, end unanswered"
        if not beat:
            return None
        if now - beat > hang_seconds:
            stopped = f"its event loop has not run for {now - beat:.0f} s"
            if cut and on_loop:
                return stopped, ("it has answered the request scored on its event loop, and the requests waiting on "
                                 "its other connections, with 503")
            if on_loop and not cut and now - on_loop <= hang_seconds + HANG_ANSWER_SECONDS:
                return None  # a scoring call on the loop: the worker answers its request first (_LoopWatch)
            return stopped, lost
        if cut and on_loop:  # the call came back after its request was answered, before this kill
            return (f"a scoring call on its event loop ran for over {hang_seconds:g} s",
                    "it has answered the request scored there, and the requests waiting on its other connections, "
                    "with 503, and stopped accepting connections")
        pool = f"a scoring call in its thread pool has run for {now - since if since else hang_seconds:.0f} s"
        if cut:
            return pool, ("it has answered the requests waiting for its scoring threads with 503; any other request "
                          "in flight ends unanswered")
        if since and now - since > hang_seconds + HANG_ANSWER_SECONDS:  # its event loop beats, but did not answer
            return pool, lost
        return None

    def exit_status(code: int) -> str:
        if code >= 0:
            return f"exited with {code}"
        try:
            return f"was killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"was killed by signal {-code}"

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    # the first slot's worker says the service is up, as it starts serving (the supervisor saw its heartbeat up to
    # 0.2 s later: a service stopped at once had not said it); its replacement does while none has
    slots: list[Worker | float] = [Worker(i == 0) for i in range(workers)]  # a float: when the next one starts
    announced = False
    failed = False
    quick_deaths = 0
    hangs, answered_then = 0, -1  # workers killed hung in a row with nothing answered in between; the count then
    served = False  # a worker has served: the package loads
    while not stopping:
        time.sleep(0.2)
        now = time.monotonic()
        for i, worker in enumerate(slots):
            if stopping:
                break
            if isinstance(worker, float):
                if now >= worker:
                    slots[i] = Worker(i == 0 and not announced)
                continue
            process = worker.process
            beat = worker.beat.value
            if worker.serving is None and beat:
                worker.serving = now
                served = True
                announced = announced or worker.announce
            if process.exitcode is None:
                serving = 0.0 if worker.serving is None else now - worker.serving
                if not worker.proven and serving >= WORKER_CRASH_LOOP_SECONDS:
                    worker.proven, quick_deaths = True, 0  # the workers run: earlier deaths were no loop
                hang = why_hung(worker, now)
                if hang:
                    print(f"worker process {process.pid} is hung ({hang[0]}, over --hang-seconds {hang_seconds:g}); "
                          f"killing it: {hang[1]}", file=sys.stderr, flush=True)
                    worker.hung = True
                    process.kill()
                    process.join()
                continue
            fatal: str | None = None  # why the service stops ("" when said elsewhere): stopped in one place below
            if process.exitcode == 3:  # could not load the package, or uvicorn's STARTUP_FAILURE: another would too
                reason = worker.reason()
                if reason is not None and not served:
                    load_error.append(reason)  # the package's fault: ServeError once the workers have stopped
                fatal = ("" if reason is None or not served
                         else f"worker process {process.pid} could not start: {reason}")
            elif worker.hung:  # not a crash: counted on its own, and replaced at once
                hangs = hangs + 1 if answered.value == answered_then else 1
                answered_then = answered.value
                if hangs >= WORKER_CRASH_LOOP_DEATHS:
                    fatal = (f"worker process {process.pid} was killed hung: workers hung {hangs} times in a row with "
                             "no request answered in between, so another would too; stopping the service (exit code 3)")
                else:
                    print(f"worker process {process.pid} was killed hung ({hangs} in a row with no request answered "
                          f"in between; {WORKER_CRASH_LOOP_DEATHS} stop the service); starting another",
                          file=sys.stderr, flush=True)
                    slots[i] = now
            else:
                serving = 0.0 if worker.serving is None else now - worker.serving
                quick_deaths = quick_deaths + 1 if serving < WORKER_CRASH_LOOP_SECONDS else 0
                status = f"worker process {process.pid} {exit_status(process.exitcode)} " + (
                    "before it served" if worker.serving is None else f"{serving:.1f} s after it started serving")
                if quick_deaths >= WORKER_CRASH_LOOP_DEATHS:
                    fatal = (f"{status}: workers died within {WORKER_CRASH_LOOP_SECONDS:g} s of serving {quick_deaths} "
                             "times in a row, so another would too; stopping the service (exit code 3)")
                else:
                    delay = WORKER_RESTART_DELAY_SECONDS * 2 ** (quick_deaths - 1) if quick_deaths else 0.0
                    print(f"{status}; starting another" + (f" in {delay:g} s" if delay else ""), file=sys.stderr,
                          flush=True)
                    slots[i] = now + delay
            if fatal is not None:
                if fatal:
                    print(fatal, file=sys.stderr, flush=True)
                failed = True
                stop(signal.SIGTERM, None)
                break
    running = [w.process for w in slots if isinstance(w, Worker) and w.process.exitcode is None]
    for process in running:
        process.terminate()  # SIGTERM
    for process in running:
        process.join(GRACEFUL_SHUTDOWN_S + 10)
        if process.exitcode is None:
            process.kill()
            process.join()
    if load_error:
        raise ServeError(load_error[0])
    if failed:
        sys.exit(3)


def _bind(host: str, port: int) -> Any:
    """The service's socket on ``host:port``, bound as uvicorn's ``Config.bind_socket`` binds it (the workers
    listen on it), without importing uvicorn into the supervisor or logging "Uvicorn running" before the package
    has loaded."""
    import socket

    sock = socket.socket(family=socket.AF_INET6 if ":" in host else socket.AF_INET)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as err:  # taken since check_can_listen
        sock.close()
        raise ServeError(f"cannot listen on {host}:{port}: {err.strerror}. Choose a free port (--port) or an "
                         "address of this machine (--host).") from None
    sock.set_inheritable(True)
    return sock


def _serve_worker(factory: str, common: dict[str, Any], sock: Any, beat: Any = None, answered: Any = None,
                  busy: Any = None, report: Any = None, ready_line: str | None = None,
                  hang_seconds: float | None = None, cut: Any = None, on_loop: Any = None) -> None:
    """One worker process of :func:`_run_workers`: the app from ``factory`` on the inherited socket, its event loop
    writing ``time.monotonic()`` into the shared ``beat``, each POST it answers below 500 counted in ``answered``,
    the start of its oldest scoring call in the thread pool kept in ``busy`` (:attr:`ScoringApp.scoring_clock`).
    Once one of those calls has run ``hang_seconds`` the app answers the requests waiting for the pool with 503, the
    worker stops accepting connections, and ``cut`` gets the time they were answered (:attr:`ScoringApp.hang_seconds`).
    A scoring call on the event loop that runs ``hang_seconds`` (its start in ``on_loop``) has its request, and those
    waiting on the worker's other connections, answered 503 from another thread (:class:`_LoopWatch`), then ``cut``.

    A package that does not load here is one line, sent on the pipe ``report`` for the supervisor to say, and exit
    3, which stops the service: uvicorn let the error through, the worker exited 1 and was replaced, with the same
    traceback, every second or so for good. The worker stops, as on SIGTERM, when the supervisor dies (a SIGKILL
    of it, which no handler sees): the workers had gone on serving the port, out of reach of any restart.
    """
    import multiprocessing
    import signal

    import uvicorn
    from uvicorn.importer import import_from_string

    _exit_zero_on_sigterm()
    supervisor = multiprocessing.parent_process()

    def stop_when_the_supervisor_dies() -> None:
        if supervisor is not None:  # None only when called outside a multiprocessing child
            supervisor.join()
            os.kill(os.getpid(), signal.SIGTERM)

    def could_not_start(err: Exception) -> NoReturn:
        reason = str(err) if type(err).__name__ == "ServeError" else f"{type(err).__name__}: {err}"  # one line
        if report is None:
            print(f"worker process {os.getpid()} could not start: {reason}", file=sys.stderr, flush=True)
        else:
            report.send(reason)
        sys.exit(3)

    threading.Thread(target=stop_when_the_supervisor_dies, name="supervisor-watch", daemon=True).start()
    try:
        app = import_from_string(factory)()
    except Exception as err:
        could_not_start(err)
    config = uvicorn.Config(app if answered is None else _counting_answers(app, answered), **common)
    server = _draining_server(stop_accepting=False, heartbeat=beat, ready_line=ready_line)(config=config)

    def stop_accepting() -> None:
        # this worker's copy of the socket only: a connection from now on waits in the queue for another worker or
        # the replacement, rather than being accepted here and cut off by the kill
        for listening in getattr(server, "servers", ()):
            listening.close()

    if hasattr(app, "scoring_clock"):
        app.scoring_clock = busy
        app.hang_seconds, app.hang_answered, app.on_hang = hang_seconds, cut, stop_accepting
        if hang_seconds is not None:
            app.loop_watch = _LoopWatch(hang_seconds, app._hung_answer, on_loop, cut)
            app.loop_watch.start()
    try:
        server.run(sockets=[sock])
    except KeyboardInterrupt:  # SIGINT (Ctrl-C reaches every process of the terminal's group)
        pass
    except Exception as err:
        if server.started:
            raise
        could_not_start(err)
    if not server.started:
        sys.exit(3)


def _counting_answers(app: Any, answered: Any) -> Any:
    """``app``, adding one to the shared ``answered`` for each POST request it answers with a status below 500."""

    async def counted(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["method"] != "POST":
            await app(scope, receive, send)
            return

        async def send_counted(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start" and message["status"] < 500:
                answered.value += 1
            await send(message)

        await app(scope, receive, send_counted)

    return counted


def _exit_zero_on_sigterm() -> None:
    """uvicorn re-raises SIGTERM once every request in flight is answered; exit 0 then, not -15."""
    import signal

    def _exit(_sig: int, _frame: Any) -> None:
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, _exit)


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
    # score.py's init() reads the limit from the environment; set for this load only: left set, every package
    # loaded later in the process took this one's limit
    before = os.environ.get(ENV_MAX_ROWS)
    if max_rows is not None:
        os.environ[ENV_MAX_ROWS] = str(int(max_rows))
    try:
        entry = load_entry_script(folder)
    finally:
        if before is None:
            os.environ.pop(ENV_MAX_ROWS, None)
        else:
            os.environ[ENV_MAX_ROWS] = before
    swaggers: dict[str, bytes] = {}
    for version, name in _SWAGGER_FILES.items():
        if (folder / name).is_file():
            swaggers[version] = (folder / name).read_bytes()
    return ScoringApp(entry, swaggers, api_key=api_key, max_body_bytes=max_body_bytes,
                      model_name=service_name(folder))


def service_name(folder: Path) -> str:
    """The package's service name (``manifest.json``), the model's name on the v2 routes."""
    try:
        manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
        name = manifest["service"]["name"]
    except (OSError, ValueError, KeyError, TypeError):
        return "onnx-model"  # the name package_container gives a model without one
    return str(name) if name else "onnx-model"


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
    hang_seconds: float = WORKER_HANG_SECONDS,
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
        Worker processes, each loading the model once, under a supervisor that replaces one that dies or hangs;
        1 to :data:`MAX_WORKERS`.
    max_rows, max_body_bytes : int
        Request limits (rows per request; bytes per body).
    access_log : bool
        Log every request (costs throughput).
    hang_seconds : float
        A worker whose event loop has not run for this long, or whose oldest scoring call in the thread pool has run
        this long (a request that hangs the model), is killed and replaced; it first answers the hung request 503 with
        ``Retry-After``, and the requests waiting for its thread pool (a call hung there) or on its other connections
        (a call hung on its event loop).

    Raises
    ------
    ServeError
        No ``score.py`` in the folder, a ``score.py`` or model that does not load, the key variable is unset,
        or ``host:port`` cannot be listened on.
    """
    _read_key(api_key_env)  # unset: one line here, not in every worker
    check_can_listen(host, port)
    folder = Path(package_dir).resolve()
    common: dict[str, Any] = {
        "host": host,
        "port": port,
        "access_log": access_log,
        "log_level": "info",
        "timeout_graceful_shutdown": GRACEFUL_SHUTDOWN_S,
        "server_header": False,
        "http": http_protocol if _has_httptools() else "auto",
    }
    # one worker runs under the supervisor too: alone, a request that hung the model (on the event loop) left the
    # service answering no one, its health probe included, for good
    if not 1 <= workers <= MAX_WORKERS:
        raise ServeError(f"workers must be between 1 and {MAX_WORKERS} (each loads the model), found {workers}")
    os.environ[ENV_DIR] = str(folder)
    os.environ[ENV_MAX_BODY] = str(max_body_bytes)
    if api_key_env:
        os.environ[ENV_KEY_NAME] = api_key_env
    if max_rows is not None:
        os.environ[ENV_MAX_ROWS] = str(int(max_rows))
    _entry_script(folder)  # the package itself loads in the workers: a load error comes back from the first
    if __name__ == "__main__" or __spec__ is None:  # run as the container's "python server.py"
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        module = Path(__file__).stem
    else:
        module = __spec__.name
    if _has_httptools():
        common["http"] = f"{module}:http_protocol"
    _run_workers(f"{module}:app_from_env", common, workers, hang_seconds,
                 ready_line=startup_line(folder, host, port, api_key_env))


def startup_line(folder: Path, host: str, port: int, api_key_env: str | None) -> str:
    """What ``serve`` says before uvicorn's lines: the routes, with the v2 model name, and the key rule."""
    base = f"http://{'[' + host + ']' if ':' in host else host}:{port}"
    name = service_name(folder)
    key = (f"requests need the key in ${api_key_env} (Authorization: Bearer KEY); health probes do not"
           if api_key_env else "no API key required")
    return (f"serving {name!r} from {folder} at {base}: POST /score (Azure ML), POST /v2/models/{name}/infer "
            f"(Open Inference Protocol), GET /swagger.json; {key}")


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="server.py", description="Serve this folder's score.py over HTTP.")
    p.add_argument("dir", nargs="?", default=str(Path(__file__).resolve().parent),
                   help="the package folder (default: the folder of this file)")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=5001)
    p.add_argument("--api-key-env", default=None, metavar="NAME")
    p.add_argument("--workers", type=int, default=1,
                   help=f"worker processes (default 1, at most {MAX_WORKERS}); one that dies or hangs is replaced, "
                        "one that cannot load the "
                        "package or workers that keep dying or hanging stop the service (exit 3); SIGHUP does not "
                        "reload")
    p.add_argument("--hang-seconds", type=float, default=WORKER_HANG_SECONDS,
                   help=f"a worker whose event loop has not run for this long, or one of whose scoring calls has run "
                        f"this long, is killed and replaced (default {WORKER_HANG_SECONDS:g}); a request hung in the "
                        "thread pool or on the event loop, and the others waiting for that worker, get 503 with "
                        "Retry-After first")
    p.add_argument("--max-rows", type=int, default=None)
    p.add_argument("--max-body-bytes", type=int, default=DEFAULT_MAX_BODY_BYTES)
    p.add_argument("--access-log", action="store_true")
    return p


def argument_error(args: argparse.Namespace) -> str | None:
    """What is wrong with the numbers of ``server.py``'s or ``onnxgate serve``'s arguments (``port``,
    ``hang_seconds``, ``workers``, ``max_rows``, ``max_body_bytes``), as one line; None when nothing is."""
    if not 1 <= args.port <= 65535:
        return f"--port must be between 1 and 65535, found {args.port}; give a free port such as 8080"
    hang = getattr(args, "hang_seconds", WORKER_HANG_SECONDS)
    if not 2 * HEARTBEAT_SECONDS <= hang < float("inf"):  # NaN too: a worker beats once a second
        return (f"--hang-seconds must be {2 * HEARTBEAT_SECONDS:g} or more, found {hang}; give a finite number of "
                f"seconds such as {WORKER_HANG_SECONDS:g} (the default)")
    for name in ("workers", "max_rows", "max_body_bytes"):
        value = getattr(args, name)
        if value is not None and value < 1:
            return f"--{name.replace('_', '-')} must be 1 or more, found {value}; give 1 or more, or leave it out"
    if args.workers > MAX_WORKERS:
        return (f"--workers must be at most {MAX_WORKERS} (one per core of a {MAX_WORKERS}-core host; each worker "
                f"loads the model), found {args.workers}: give at most one worker per core the service may use")
    return None


def main(argv: Sequence[str] | None = None) -> int:
    """``python server.py [DIR] [--host H] [--port P] ...`` (the container's command)."""
    args = _parser().parse_args(argv)
    problem = argument_error(args)
    if problem:
        print(f"server.py: error: {problem}", file=sys.stderr)
        return 2
    try:
        serve(args.dir, host=args.host, port=args.port, api_key_env=args.api_key_env, workers=args.workers,
              max_rows=args.max_rows, max_body_bytes=args.max_body_bytes, access_log=args.access_log,
              hang_seconds=args.hang_seconds)
    except ServeError as err:
        print(f"server.py: error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
