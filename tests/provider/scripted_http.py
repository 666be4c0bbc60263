"""A tiny real HTTP server on a free port that answers from a script, for retry tests.

Each request takes the next step of the script: an HTTP status with a JSON body, or
``RESET`` (the connection is closed with a TCP reset, no response at all). Every request
line is recorded, so a test can count what reached the server.
"""

from __future__ import annotations

import json
import socket
import struct
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

RESET = "reset"


@dataclass
class Reply:
    status: int
    body: Any = None


@dataclass
class Script:
    steps: list[Reply | str]
    default: Reply = field(default_factory=lambda: Reply(200, {}))
    requests: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def next_step(self, request_line: str) -> Reply | str:
        with self.lock:
            self.requests.append(request_line)
            return self.steps.pop(0) if self.steps else self.default


def _handler(script: Script) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            if length:
                self.rfile.read(length)
            step = script.next_step(f"{self.command} {self.path}")
            if step == RESET:
                # SO_LINGER 0: close() sends RST, the client sees "connection reset".
                self.connection.setsockopt(
                    socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
                )
                self.close_connection = True
                self.connection.close()
                return
            assert isinstance(step, Reply)
            payload = b"" if step.body is None else json.dumps(step.body).encode()
            self.send_response(step.status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        do_GET = do_POST = do_DELETE = do_PUT = _answer

        def log_message(self, format: str, *args: Any) -> None:
            return

    return Handler


@contextmanager
def scripted_server(script: Script) -> Iterator[str]:
    """Serve ``script`` on 127.0.0.1 and a free port; yield the base URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(script))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
