"""Headless Chromium driven over the DevTools protocol, with a small standard-library websocket client.

The browser is started by the test (``--remote-debugging-port=0``: it picks a free port and writes it
to ``DevToolsActivePort`` in its profile folder), talked to over one websocket, and stopped by process
id. :meth:`Browser.open` loads a page and returns what a person would notice: console errors,
uncaught exceptions, log entries (CSP violations land there) and every network request the page made,
plus a full-page screenshot.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import shutil
import socket
import struct
import subprocess
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--disable-extensions",
    "--hide-scrollbars",
    "--mute-audio",
)


def find_chromium() -> str | None:
    """The Chromium executable, or None (scripts/setup-browser.sh installs Debian's ``chromium``)."""
    for name in CANDIDATES:
        path = shutil.which(name)
        if path:
            return path
    return "/usr/bin/chromium" if os.access("/usr/bin/chromium", os.X_OK) else None


class _WebSocket:
    """Just enough RFC 6455 for the DevTools protocol: masked text frames out, whole messages in."""

    def __init__(self, url: str, timeout: float) -> None:
        assert url.startswith("ws://")
        hostport, _, path = url[len("ws://"):].partition("/")
        host, _, port = hostport.partition(":")
        self.sock = socket.create_connection((host, int(port)), timeout=timeout)
        key = base64.b64encode(os.urandom(16)).decode()
        request = (
            f"GET /{path} HTTP/1.1\r\nHost: {hostport}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
        )
        self.sock.sendall(request.encode())
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = self.sock.recv(4096)
            if not chunk:
                raise ConnectionError("the browser closed the websocket during the handshake")
            head += chunk
        status, _, rest = head.partition(b"\r\n\r\n")
        if b" 101 " not in status.split(b"\r\n")[0]:
            raise ConnectionError(f"websocket handshake refused: {status[:200]!r}")
        self.buffer = rest

    def _read(self, n: int) -> bytes:
        while len(self.buffer) < n:
            chunk = self.sock.recv(1 << 20)
            if not chunk:
                raise ConnectionError("the browser closed the websocket")
            self.buffer += chunk
        out, self.buffer = self.buffer[:n], self.buffer[n:]
        return out

    def send(self, text: str) -> None:
        payload = text.encode()
        header = bytearray([0x81])  # FIN + text
        n = len(payload)
        if n < 126:
            header.append(0x80 | n)
        elif n < 1 << 16:
            header += bytes([0x80 | 126]) + struct.pack(">H", n)
        else:
            header += bytes([0x80 | 127]) + struct.pack(">Q", n)
        mask = os.urandom(4)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        self.sock.sendall(bytes(header) + mask + masked)

    def recv(self) -> str:
        parts: list[bytes] = []
        while True:
            b0, b1 = self._read(2)
            opcode, n = b0 & 0x0F, b1 & 0x7F
            if n == 126:
                (n,) = struct.unpack(">H", self._read(2))
            elif n == 127:
                (n,) = struct.unpack(">Q", self._read(8))
            mask = self._read(4) if b1 & 0x80 else b""
            data = self._read(n)
            if mask:
                data = bytes(b ^ mask[i % 4] for i, b in enumerate(data))
            if opcode == 0x8:
                raise ConnectionError("the browser closed the websocket")
            if opcode in (0x9, 0xA):  # ping / pong: not part of a message
                continue
            parts.append(data)
            if b0 & 0x80:
                return b"".join(parts).decode()

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.close()


@dataclass
class PageResult:
    """What loading one page produced."""

    url: str = ""
    console_errors: list[str] = field(default_factory=list)
    exceptions: list[str] = field(default_factory=list)
    log_errors: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)
    screenshot: bytes = b""
    checks: dict[str, Any] = field(default_factory=dict)

    @property
    def network_requests(self) -> list[str]:
        """Requests for anything but the page itself (and inline data)."""
        return [u for u in self.requests if u != self.url and not u.startswith(("data:", "about:"))]

    @property
    def errors(self) -> list[str]:
        return self.console_errors + self.exceptions + self.log_errors


class Browser:
    """One headless Chromium process and a DevTools session on one page."""

    def __init__(self, executable: str, profile: Path, *, width: int = 1200, timeout: float = 60.0) -> None:
        self.timeout = timeout
        self.width = width
        self.proc = subprocess.Popen(
            [executable, *FLAGS, "--remote-debugging-port=0", "--remote-allow-origins=*",
             f"--user-data-dir={profile}", f"--window-size={width},900", "about:blank"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        self.next_id = 0
        self.ws: _WebSocket | None = None
        try:
            port = self._port(profile / "DevToolsActivePort")
            self.ws = _WebSocket(self._page_url(port), timeout)
            for method in ("Page.enable", "Runtime.enable", "Log.enable", "Network.enable"):
                self.call(method)
        except BaseException:
            self.close()
            raise

    def _port(self, active: Path) -> int:
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"chromium exited with code {self.proc.returncode} before it listened")
            if active.exists():
                lines = active.read_text().splitlines()
                if lines and lines[0].strip().isdigit():
                    return int(lines[0])
            time.sleep(0.05)
        raise TimeoutError("chromium did not open its DevTools port")

    def _page_url(self, port: int) -> str:
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=5) as response:
                targets = json.loads(response.read())
            pages = [t for t in targets if t.get("type") == "page" and t.get("webSocketDebuggerUrl")]
            if pages:
                return str(pages[0]["webSocketDebuggerUrl"])
            time.sleep(0.05)
        raise TimeoutError("chromium has no page target")

    def call(self, method: str, events: list[dict[str, Any]] | None = None, **params: Any) -> dict[str, Any]:
        """Send one command and wait for its answer; events that arrive meanwhile go to ``events``."""
        assert self.ws is not None
        self.next_id += 1
        self.ws.send(json.dumps({"id": self.next_id, "method": method, "params": params}))
        while True:
            message = json.loads(self.ws.recv())
            if message.get("id") == self.next_id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return dict(message.get("result") or {})
            if events is not None and "method" in message:
                events.append(message)

    def _events_until(self, events: list[dict[str, Any]], method: str) -> None:
        assert self.ws is not None
        deadline = time.monotonic() + self.timeout
        while not any(e["method"] == method for e in events):
            if time.monotonic() > deadline:
                raise TimeoutError(f"no {method} within {self.timeout}s")
            message = json.loads(self.ws.recv())
            if "method" in message:
                events.append(message)

    def open(self, url: str, *, settle: float = 0.5, checks: dict[str, str] | None = None) -> PageResult:
        """Load ``url``, wait for its load event (and ``settle`` seconds), screenshot the whole page."""
        events: list[dict[str, Any]] = []
        self.call("Page.navigate", events, url=url)
        self._events_until(events, "Page.loadEventFired")
        end = time.monotonic() + settle
        while time.monotonic() < end:  # late events (a lazy request, a timer's error)
            self.call("Runtime.evaluate", events, expression="1")
            time.sleep(0.05)
        result = PageResult(url=url)
        for name, expression in (checks or {}).items():
            value = self.call("Runtime.evaluate", events, expression=expression, returnByValue=True)
            result.checks[name] = value.get("result", {}).get("value")
        metrics = self.call("Page.getLayoutMetrics", events)
        size = metrics.get("cssContentSize") or metrics["contentSize"]
        shot = self.call(
            "Page.captureScreenshot", events, format="png", captureBeyondViewport=True,
            clip={"x": 0, "y": 0, "width": self.width, "height": float(size["height"]), "scale": 1},
        )
        result.screenshot = base64.b64decode(shot["data"])
        for e in events:
            params = e.get("params", {})
            if e["method"] == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert", "warning"):
                result.console_errors.append(" ".join(str(a.get("value", a.get("description", "")))
                                                      for a in params.get("args", [])))
            elif e["method"] == "Runtime.exceptionThrown":
                result.exceptions.append(str(params.get("exceptionDetails", {}).get("text", params)))
            elif e["method"] == "Log.entryAdded" and params.get("entry", {}).get("level") in ("error", "warning"):
                entry = params["entry"]
                result.log_errors.append(f"{entry.get('source')}: {entry.get('text')} {entry.get('url', '')}")
            elif e["method"] == "Network.requestWillBeSent":
                result.requests.append(str(params.get("request", {}).get("url", "")))
        return result

    def close(self) -> None:
        """Stop the browser by its process id."""
        if self.ws is not None:
            self.ws.close()
            self.ws = None
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
