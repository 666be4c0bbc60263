"""A small real HTTP proxy in front of the server that injects transient faults.

Rules match a method and a path pattern and fire a number of times:

- ``"503"``: answer 503 without forwarding (the server never sees the request);
- ``"drop_after_forward"``: forward the request, let the server act on it, then reset the
  client's connection without an answer, the ambiguous failure that causes double commits
  in clients that retry blindly.

Every request is recorded (``seen``), so a test can wait, with a deadline, until a client
has polled a given number of times.
"""

from __future__ import annotations

import re
import socket
import struct
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx

_HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "host"}


@dataclass
class Fault:
    method: str
    path: str  # a regular expression searched in the request path
    action: str  # "503" or "drop_after_forward"
    times: int = 1


@dataclass
class FaultProxy:
    upstream: str
    faults: list[Fault] = field(default_factory=list)
    seen: list[tuple[str, str]] = field(default_factory=list)
    fired: list[tuple[str, str, str]] = field(default_factory=list)
    url: str = ""
    lock: threading.Lock = field(default_factory=threading.Lock)

    def take_fault(self, method: str, path: str) -> str | None:
        with self.lock:
            self.seen.append((method, path))
            for fault in self.faults:
                if fault.times > 0 and fault.method == method and re.search(fault.path, path):
                    fault.times -= 1
                    self.fired.append((method, path, fault.action))
                    return fault.action
        return None

    def count(self, method: str, path_pattern: str) -> int:
        with self.lock:
            return sum(1 for m, p in self.seen if m == method and re.search(path_pattern, p))

    def wait_for(self, method: str, path_pattern: str, n: int, deadline_s: float = 180) -> None:
        """Poll until ``n`` matching requests went through (fails after the deadline)."""
        deadline = time.monotonic() + deadline_s
        while self.count(method, path_pattern) < n:
            if time.monotonic() > deadline:
                raise TimeoutError(f"fewer than {n} {method} {path_pattern} within {deadline_s}s")
            time.sleep(0.02)  # polling interval of a condition, not a readiness wait


def _reset(connection: socket.socket) -> None:
    connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    connection.close()


def _handler(proxy: FaultProxy, client: httpx.Client) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _relay(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            action = proxy.take_fault(self.command, self.path)
            if action == "503":
                self._reply(503, {"content-type": "application/json"}, b'{"message":"busy"}')
                return
            headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP}
            upstream = client.request(self.command, self.path, headers=headers, content=body)
            if action == "drop_after_forward":
                self.close_connection = True
                _reset(self.connection)
                return
            out = {k: v for k, v in upstream.headers.items() if k.lower() not in _HOP_BY_HOP}
            self._reply(upstream.status_code, out, upstream.content)

        def _reply(self, status: int, headers: dict[str, str], payload: bytes) -> None:
            self.send_response(status)
            for key, value in headers.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = _relay

        def log_message(self, format: str, *args: Any) -> None:
            return

    return Handler


@contextmanager
def fault_proxy(upstream: str, faults: list[Fault] | None = None) -> Iterator[FaultProxy]:
    """Run a proxy to ``upstream`` on a free port; yield it (``.url`` is its base URL)."""
    proxy = FaultProxy(upstream=upstream, faults=list(faults or []))
    with httpx.Client(base_url=upstream, timeout=30.0) as client:
        server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(proxy, client))
        server.daemon_threads = True
        proxy.url = f"http://127.0.0.1:{server.server_address[1]}"
        thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
        thread.start()
        try:
            yield proxy
        finally:
            server.shutdown()
            server.server_close()
            thread.join()
