"""The request body reaches the worker thread a bounded distance ahead of it: a slow
consumer holds the receiver back (memory stays bounded), and every byte still arrives,
in order, once it catches up."""

from __future__ import annotations

import asyncio
import platform
import subprocess
import sys
import threading
from collections.abc import Iterator

import pytest
from starlette.requests import Request
from starlette.types import Message

from lakever_server.gateway.context import BLOCK_SIZE, PREFETCH_BLOCKS, run_with_request_body

PIECE = 256 * 1024


def test_a_slow_consumer_holds_the_receiver_a_bounded_distance_ahead() -> None:
    pieces = [bytes([i % 251]) * PIECE for i in range(8 * (PREFETCH_BLOCKS + 2) * 4)]
    pulled: list[int] = []
    settled = threading.Event()  # never set: waited on to let the receiver settle
    ahead: list[int] = []

    async def receive() -> Message:
        if len(pulled) == len(pieces):
            return {"type": "http.request", "body": b"", "more_body": False}
        pulled.append(len(pieces[len(pulled)]))
        return {"type": "http.request", "body": pieces[len(pulled) - 1], "more_body": True}

    def consume(body: Iterator[bytes]) -> list[bytes]:
        received = [next(body)]
        # Wait (in the worker thread) until the receiver stopped pulling, then measure.
        previous = -1
        while previous != len(pulled):
            previous = len(pulled)
            settled.wait(0.2)
        ahead.append(sum(pulled))
        received.extend(body)
        return received

    async def main() -> list[bytes]:
        request = Request({"type": "http", "method": "PUT", "headers": []}, receive)
        return await run_with_request_body(request, consume)

    received = asyncio.run(main())
    assert b"".join(received) == b"".join(pieces)
    # The group being read, PREFETCH_BLOCKS waiting, one being gathered: no more.
    assert ahead[0] <= (PREFETCH_BLOCKS + 2) * (BLOCK_SIZE + PIECE)
    assert ahead[0] < sum(len(piece) for piece in pieces)


FAULTS_SCRIPT = """
import asyncio, resource, time
import pytest
from starlette.requests import Request
from lakever_server.gateway.context import run_with_request_body

PIECE, PIECES = 256 * 1024, 512
sent = 0

async def receive():
    global sent
    sent += 1
    # A new buffer per piece, as the HTTP server hands each received piece on.
    body = bytes(bytearray(PIECE)) if sent <= PIECES else b""
    return {"type": "http.request", "body": body, "more_body": sent <= PIECES}

def consume(body):
    # Warm up past the largest working set the measured span can have: hold two groups
    # of pieces while the receiver runs as far ahead as the hand-over allows. Without
    # that, the heap grew by 2 MiB (512 fresh pages) whenever the receiver first got
    # one piece further ahead inside the measured span, in about a third of the runs.
    held = [next(body) for _ in range(16)]
    previous, deadline = -1, time.monotonic() + 30
    while previous != sent and time.monotonic() < deadline:
        previous = sent
        time.sleep(0.05)
    del held
    faults = []
    for i, _ in enumerate(body, start=16):
        if i in (128, 128 * 4 - 1):
            faults.append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt)
    return faults[1] - faults[0]

async def main():
    request = Request({"type": "http", "method": "PUT", "headers": []}, receive)
    return await run_with_request_body(request, consume)

print(asyncio.run(main()))
"""


@pytest.mark.skipif(
    not sys.platform.startswith("linux") or platform.libc_ver()[0] != "glibc",
    reason="malloc tuning for glibc on Linux",
)
def test_receiving_a_body_takes_no_fresh_pages_once_warm() -> None:
    """Freed piece buffers are reused rather than handed back to the system and faulted
    in again (untuned glibc takes thousands of fresh pages for these 96 MiB)."""
    run = subprocess.run(
        [sys.executable, "-c", FAULTS_SCRIPT], capture_output=True, text=True, check=True
    )
    # A few pages at most for the interpreter's own growth; none per piece.
    assert int(run.stdout) < 256
