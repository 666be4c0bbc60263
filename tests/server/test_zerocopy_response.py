"""``BlobResponse`` hands the server an open file range when the scope offers zero-copy
sending, and streams the chunks otherwise; either way the blob's file is closed after."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from lakever_server.storage.block.local import LocalBlockStore
from lakever_server.zerocopy import ZEROCOPY_SEND
from lakever_server.zerocopy.response import BlobResponse

DATA = os.urandom(3 * 1024 * 1024 + 17)
HEADERS = {"Content-Length": "2000000", "Content-Range": "bytes 100-2000099/3145745"}


@pytest.fixture
def store(tmp_path: Path) -> LocalBlockStore:
    blocks = LocalBlockStore(tmp_path)
    blocks.put("local://repo/blob", [DATA])
    return blocks


def scope(*, zero_copy: bool) -> dict[str, Any]:
    extensions = {ZEROCOPY_SEND: {}} if zero_copy else {}
    return {
        "type": "http",
        "method": "GET",
        "asgi": {"spec_version": "2.3"},
        "extensions": extensions,
    }


def answer(response: BlobResponse, request: dict[str, Any]) -> list[dict[str, Any]]:
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        await asyncio.Event().wait()  # the client never leaves
        raise AssertionError

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == ZEROCOPY_SEND:  # what the server does: read the range
            file = message["file"]
            message = {
                **message,
                "bytes": os.pread(file.fileno(), message["count"], message["offset"]),
            }
        sent.append(message)

    asyncio.run(response(request, receive, send))
    return sent


def test_a_local_blob_is_handed_to_the_server_as_its_open_range(
    store: LocalBlockStore,
) -> None:
    chunks = store.get("local://repo/blob", 100, 2_000_100)
    sent = answer(BlobResponse(chunks, 206, HEADERS), scope(zero_copy=True))
    assert [m["type"] for m in sent] == ["http.response.start", ZEROCOPY_SEND]
    assert sent[0]["status"] == 206
    assert (b"content-range", b"bytes 100-2000099/3145745") in sent[0]["headers"]
    assert (sent[1]["offset"], sent[1]["count"], sent[1]["more_body"]) == (100, 2_000_000, False)
    assert sent[1]["bytes"] == DATA[100:2_000_100]
    with pytest.raises(ValueError, match="closed file"):
        chunks.fileno()


def test_without_the_extension_the_blob_streams_in_chunks_and_is_closed(
    store: LocalBlockStore,
) -> None:
    chunks = store.get("local://repo/blob", 100, 2_000_100)
    sent = answer(BlobResponse(chunks, 206, HEADERS), scope(zero_copy=False))
    assert sent[0]["type"] == "http.response.start"
    bodies = [m for m in sent[1:] if m["type"] == "http.response.body"]
    assert len(bodies) > 1
    assert b"".join(m["body"] for m in bodies) == DATA[100:2_000_100]
    assert bodies[-1]["more_body"] is False
    with pytest.raises(ValueError, match="closed file"):
        chunks.fileno()


def test_a_blob_that_is_no_open_file_streams_even_when_the_server_offers_zero_copy() -> None:
    def pieces() -> Iterator[bytes]:
        yield DATA[:1000]
        yield DATA[1000:2000]

    sent = answer(BlobResponse(pieces(), headers={"Content-Length": "2000"}), scope(zero_copy=True))
    assert ZEROCOPY_SEND not in [m["type"] for m in sent]
    assert b"".join(m.get("body", b"") for m in sent[1:]) == DATA[:2000]
