"""Digests computed on another thread are exactly those of the stream, in order."""

from __future__ import annotations

import hashlib
import os
import zlib

import pytest

from lakever_server.storage.block.digests import INLINE_BELOW, BackgroundDigests


class Crc32:
    def __init__(self) -> None:
        self.value = 0

    def update(self, data: bytes) -> None:
        self.value = zlib.crc32(data, self.value)

    def digest(self) -> bytes:
        return self.value.to_bytes(4, "big")


@pytest.mark.parametrize(
    "sizes",
    [[], [10], [INLINE_BELOW - 1, 1, 5], [3 * INLINE_BELOW, 7, INLINE_BELOW, 100_000] * 5],
    ids=["empty", "one small block", "small blocks filling a batch", "mixed sizes"],
)
def test_background_digests_equal_the_digests_of_the_whole_stream(sizes: list[int]) -> None:
    blocks = [os.urandom(size) for size in sizes]
    md5, sha256, crc = hashlib.md5(), hashlib.sha256(), Crc32()
    digests = BackgroundDigests([md5, sha256, crc])
    for block in blocks:
        digests.update(block)
    digests.finish()
    whole = b"".join(blocks)
    assert md5.digest() == hashlib.md5(whole).digest()
    assert sha256.digest() == hashlib.sha256(whole).digest()
    assert crc.value == zlib.crc32(whole)


def test_a_failing_hasher_surfaces_from_the_caller() -> None:
    class Broken:
        def update(self, data: bytes) -> None:
            raise ValueError("hasher failed")

        def digest(self) -> bytes:
            return b""

    digests = BackgroundDigests([Broken()])
    digests.update(b"x" * INLINE_BELOW)
    with pytest.raises(ValueError, match="hasher failed"):
        digests.update(b"y" * INLINE_BELOW)
