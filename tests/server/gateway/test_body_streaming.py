"""The bridges between the event loop and the blocking store: request bodies received
ahead of the consumer, and blobs read ahead of the socket."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from starlette.requests import ClientDisconnect, Request
from starlette.types import Message

from lakever_server.gateway.context import run_with_request_body
from lakever_server.zerocopy.response import read_ahead


def request_with_body(parts: list[bytes], *, disconnect: bool = False) -> Request:
    messages: list[Message] = [
        {"type": "http.request", "body": part, "more_body": True} for part in parts
    ]
    messages.append(
        {"type": "http.disconnect"}
        if disconnect
        else {"type": "http.request", "body": b"", "more_body": False}
    )

    async def receive() -> Message:
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    return Request({"type": "http", "method": "PUT", "headers": []}, receive)


def test_the_whole_body_reaches_the_consumer_as_received_without_copies() -> None:
    parts = [bytes([i]) * 300_000 for i in range(10)]

    async def main() -> list[bytes]:
        return await run_with_request_body(request_with_body(parts), list)

    pieces = asyncio.run(main())
    assert pieces == parts
    assert all(piece is part for piece, part in zip(pieces, parts, strict=True))


def test_a_consumer_that_stops_early_leaves_the_rest_unread() -> None:
    parts = [b"x" * 500_000] * 40

    async def main() -> bytes:
        return await run_with_request_body(request_with_body(parts), next)

    assert asyncio.run(main()) == parts[0]


def test_a_client_that_goes_away_fails_the_consumer() -> None:
    async def main() -> None:
        await run_with_request_body(request_with_body([b"x" * 10], disconnect=True), list)

    with pytest.raises(ClientDisconnect):
        asyncio.run(main())


class Source:
    """A blob being read: records how far it was read and whether it was closed."""

    def __init__(self, chunks: int) -> None:
        self.read = 0
        self.closed = False
        self.chunks = chunks

    def __iter__(self) -> Iterator[bytes]:
        try:
            for i in range(self.chunks):
                self.read += 1
                yield bytes([i]) * 10
        finally:
            self.closed = True


def test_read_ahead_yields_every_chunk_in_order_and_closes_the_source() -> None:
    source = Source(5)

    async def main() -> list[bytes]:
        return [chunk async for chunk in read_ahead(iter(source))]

    assert asyncio.run(main()) == [bytes([i]) * 10 for i in range(5)]
    assert source.closed


def test_read_ahead_stopped_early_closes_the_source_after_the_read_in_flight() -> None:
    source = Source(100)

    async def main() -> None:
        stream = read_ahead(iter(source))
        assert await stream.__anext__() == bytes(10)
        await stream.aclose()

    asyncio.run(main())
    assert source.closed
    assert source.read <= 2  # the chunk sent and at most the one read ahead
