"""Decoding ``aws-chunked`` bodies copies as little as it can: received blocks that lie
inside a chunk's data are handed on as they are, and only small pieces are joined."""

from __future__ import annotations

import base64
import os
import zlib

from lakever_server.gateway import sigv4
from lakever_server.gateway.payload import verified_body
from lakever_server.gateway.sigv4 import SignableRequest

MIB = 1024 * 1024


def _unsigned_trailer_request(size: int) -> tuple[SignableRequest, sigv4.Authenticated]:
    request = SignableRequest(
        "PUT",
        "/bucket/key",
        "",
        [
            ("x-amz-content-sha256", sigv4.STREAMING_UNSIGNED_TRAILER),
            ("content-encoding", "aws-chunked"),
            ("x-amz-trailer", "x-amz-checksum-crc32"),
            ("x-amz-decoded-content-length", str(size)),
        ],
    )
    return request, sigv4.Authenticated("key", sigv4.STREAMING_UNSIGNED_TRAILER)


def _framed(chunks: list[bytes]) -> bytes:
    crc = 0
    for chunk in chunks:
        crc = zlib.crc32(chunk, crc)
    trailer = base64.b64encode(crc.to_bytes(4, "big"))
    body = b"".join(b"%x\r\n" % len(chunk) + chunk + b"\r\n" for chunk in chunks)
    return body + b"0\r\nx-amz-checksum-crc32:" + trailer + b"\r\n\r\n"


def test_blocks_inside_a_chunk_are_handed_on_without_a_copy() -> None:
    data = [os.urandom(MIB) for _ in range(3)]
    framed = _framed(data)
    # Received in 100 KiB blocks: most fall inside a chunk's data.
    step = 100 * 1024
    blocks = [framed[i : i + step] for i in range(0, len(framed), step)]
    request, auth = _unsigned_trailer_request(3 * MIB)
    pieces = list(verified_body(blocks, auth, request))
    assert b"".join(pieces) == b"".join(data)
    received = {id(block) for block in blocks}
    passed_whole = [piece for piece in pieces if id(piece) in received]
    assert len(passed_whole) >= len(blocks) - 2 * len(data) - 2


def test_small_chunks_are_joined_into_larger_pieces() -> None:
    data = [os.urandom(8 * 1024) for _ in range(64)]
    framed = _framed(data)
    request, auth = _unsigned_trailer_request(sum(map(len, data)))
    pieces = list(verified_body([framed], auth, request))
    assert b"".join(pieces) == b"".join(data)
    assert len(pieces) <= 8
