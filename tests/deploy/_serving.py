"""Helpers for the serving tests: package zoo models, start servers on 127.0.0.1, stop them by pid."""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
ONNXGATE = [sys.executable, "-m", "onnxgate"]
START_TIMEOUT_S = 60.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def package_zoo(name: str, out: Path, rows: int = 40, precision: str = "auto",
                **options: Any) -> tuple[Path, Any, Any]:
    """Build, convert and package a zoo model for ``container``; returns (folder, native model, X)."""
    import onnxgate as og

    native, X, _y = og.zoo.get(name).build()
    conv = og.convert(native, X[:rows], precision=precision)
    og.package(conv, target="container", out=out, **options)
    return out, native, X


class Server:
    """A server subprocess in its own session; ``stop()`` signals its process group by pid."""

    def __init__(self, argv: list[str], port: int, *, env: Mapping[str, str] | None = None,
                 cwd: str | None = None) -> None:
        self.port = port
        self.proc = subprocess.Popen(
            argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env={**os.environ, **(env or {})},
            cwd=cwd, start_new_session=True,
        )
        self.pid = self.proc.pid
        self.output = ""

    def wait_healthy(self, timeout: float = START_TIMEOUT_S) -> Server:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                out = self.proc.stdout.read().decode(errors="replace") if self.proc.stdout else ""
                raise RuntimeError(f"server exited with {self.proc.returncode}:\n{out[-3000:]}")
            try:
                status, _ = self.get("/", timeout=1)
                if status == 200:
                    return self
            except OSError:
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"server on 127.0.0.1:{self.port} not healthy after {timeout} s")

    def request(self, method: str, path: str, body: bytes | None = None,
                headers: Mapping[str, str] | None = None, timeout: float = 30) -> tuple[int, bytes]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            conn.request(method, path, body=body, headers=dict(headers or {}))
            resp = conn.getresponse()
            return resp.status, resp.read()
        finally:
            conn.close()

    def get(self, path: str, **kw: Any) -> tuple[int, bytes]:
        return self.request("GET", path, **kw)

    def score(self, payload: Any, headers: Mapping[str, str] | None = None) -> tuple[int, Any]:
        body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        status, out = self.request("POST", "/score", body,
                                   {"Content-Type": "application/json", **(headers or {})})
        return status, json.loads(out)

    def worker_pid(self) -> int:
        """The process serving the requests: the supervisor's one worker (``--workers 1``)."""
        out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(self.pid)], capture_output=True, text=True, check=False)
        pids = [int(pid) for pid in out.stdout.split()
                if b"spawn_main" in Path(f"/proc/{pid.strip()}/cmdline").read_bytes()]
        if len(pids) != 1:
            raise RuntimeError(f"expected one worker process of {self.pid}, found {pids}")
        return pids[0]

    def status_kb(self, field: str = "VmRSS") -> int:
        """``field`` of the worker's /proc status (VmRSS, VmHWM), in kB."""
        with open(f"/proc/{self.worker_pid()}/status", encoding="ascii") as handle:
            for line in handle:
                if line.startswith(f"{field}:"):
                    return int(line.split()[1])
        raise RuntimeError(f"no {field}")

    def rss_kb(self) -> int:
        return self.status_kb("VmRSS")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 20) -> int | None:
        """Signal the process group (servers fork workers), wait, then SIGKILL if needed."""
        if self.proc.poll() is None:
            try:
                os.killpg(self.pid, sig)
                self.proc.wait(timeout=timeout)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.pid, signal.SIGKILL)
                self.proc.wait(timeout=5)
        if self.proc.stdout:
            os.set_blocking(self.proc.stdout.fileno(), False)  # a lingering child holding the pipe must not hang us
            self.output = (self.proc.stdout.read() or b"").decode(errors="replace")  # what the server printed
            self.proc.stdout.close()
        return self.proc.returncode


def request_in_flight(port: int, body: bytes, sent: int = 10, timeout: float = START_TIMEOUT_S) -> socket.socket:
    """A POST /score whose head and first ``sent`` body bytes are sent, returned once the server has read the head.

    The head asks ``Expect: 100-continue``: the server's ``100 Continue`` proves the request is in flight (head
    parsed, the app reading the body). A fixed sleep instead raced the server under load: a SIGTERM that
    arrives before the server has read the head closes the connection as idle.
    """
    sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    sock.sendall(b"POST /score HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nExpect: 100-continue\r\n"
                 b"Content-Length: %d\r\n\r\n" % len(body) + body[:sent])
    interim = b""
    while not interim.endswith(b"\r\n\r\n"):
        part = sock.recv(1)
        if not part:
            break
        interim += part
    if not interim.startswith(b"HTTP/1.1 100"):
        sock.close()
        raise RuntimeError(f"expected 'HTTP/1.1 100 Continue' from the server, found {interim[:200]!r}")
    return sock


def onnxgate_serve(package: Path, *extra: str, env: Mapping[str, str] | None = None) -> Server:
    port = free_port()
    return Server([*ONNXGATE, "serve", str(package), "--port", str(port), *extra], port, env=env)


def read_response(sock: socket.socket) -> tuple[bytes, bytes]:
    """(status line + headers, body) of one HTTP/1.1 response with a Content-Length."""
    data = b""
    while b"\r\n\r\n" not in data:
        part = sock.recv(65536)
        if not part:
            break
        data += part
    head, _, body = data.partition(b"\r\n\r\n")
    length = next((int(line.split(b":", 1)[1]) for line in head.split(b"\r\n")
                   if line.lower().startswith(b"content-length:")), 0)
    while len(body) < length:
        part = sock.recv(65536)
        if not part:
            break
        body += part
    return head, body
