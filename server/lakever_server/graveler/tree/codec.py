"""The binary encoding of tree nodes, and node ids.

A node is encoded deterministically so that equal contents give equal bytes and so an
equal id (the SHA-256 hex of the encoding). The layout favours fast decoding in Python:
fixed-width offset arrays are unpacked with one ``struct`` call each, then keys and
values are sliced out of contiguous blobs.

Format version 1, all integers little-endian::

    u8 version (1) | u8 level (0 = leaf) | u32 n (entries)
    leaf:      u32 key_end[n] | u32 value_end[n] | key bytes | value bytes
    internal:  u32 key_end[n] | u64 count[n] | 32-byte child id[n] | key bytes

``key_end``/``value_end`` are cumulative end offsets into their blob. An internal entry
is ``(last key of the child, child id, items under the child)``. Changing this layout, or
the chunking rule in ``chunker``, changes every root id: bump ``FORMAT_VERSION`` (the
golden-root-hash test pins both).
"""

from __future__ import annotations

import hashlib
import struct
import sys
from array import array
from dataclasses import dataclass, field
from itertools import accumulate

from lakever_server.errors import LakeverError

FORMAT_VERSION = 1

_HEADER = struct.Struct("<BBI")
_ID_BYTES = 32
_SWAP = sys.byteorder != "little"  # the format is little-endian; arrays are native
_U32 = next(code for code in "IL" if array(code).itemsize == 4)
_U64 = next(code for code in "LQ" if array(code).itemsize == 8)


class CorruptNode(LakeverError):
    """A stored node does not decode, or its bytes do not hash to its id."""

    def __init__(self, message: str, *, node_id: str = "") -> None:
        super().__init__(message)
        self.node_id = node_id


@dataclass(slots=True)
class Node:
    """A decoded node. Treated as immutable once built (it is shared through caches).

    A leaf (``level == 0``) holds ``keys`` and ``values``; an internal node holds, per
    child, its last key in ``keys``, its id in ``children`` and its item count in
    ``counts``. ``count`` is the number of items (leaf entries) under the node.
    """

    level: int
    keys: list[bytes]
    values: list[bytes] = field(default_factory=list)
    children: list[str] = field(default_factory=list)
    counts: list[int] = field(default_factory=list)
    count: int = 0

    @classmethod
    def leaf(cls, keys: list[bytes], values: list[bytes]) -> Node:
        return cls(0, keys, values, count=len(keys))

    @classmethod
    def internal(
        cls, level: int, keys: list[bytes], children: list[str], counts: list[int]
    ) -> Node:
        return cls(level, keys, children=children, counts=counts, count=sum(counts))

    @property
    def is_leaf(self) -> bool:
        return self.level == 0


def _ends(parts: list[bytes]) -> bytes:
    ends = array(_U32, accumulate(map(len, parts)))
    if _SWAP:
        ends.byteswap()
    return ends.tobytes()


def encode(node: Node) -> bytes:
    """The canonical bytes of ``node``."""
    n = len(node.keys)
    header = _HEADER.pack(FORMAT_VERSION, node.level, n)
    keys = b"".join(node.keys)
    if node.level == 0:
        values = b"".join(node.values)
        return b"".join((header, _ends(node.keys), _ends(node.values), keys, values))
    counts = array(_U64, node.counts)
    if _SWAP:
        counts.byteswap()
    ids = bytes.fromhex("".join(node.children))
    return b"".join((header, _ends(node.keys), counts.tobytes(), ids, keys))


def node_id(data: bytes) -> str:
    """The id of an encoded node: SHA-256 hex of its bytes."""
    return hashlib.sha256(data).hexdigest()


def _slices(data: bytes, base: int, ends: tuple[int, ...]) -> list[bytes]:
    starts = (0, *ends[:-1]) if ends else ()
    return [data[base + s : base + e] for s, e in zip(starts, ends, strict=True)]


def decode(data: bytes, expected_id: str = "") -> Node:
    """Decode a node; ``CorruptNode`` when the bytes are not a valid encoding."""
    try:
        version, level, n = _HEADER.unpack_from(data, 0)
        if version != FORMAT_VERSION:
            raise CorruptNode(f"unknown tree node format {version}", node_id=expected_id)
        at = _HEADER.size
        key_ends: tuple[int, ...] = struct.unpack_from(f"<{n}I", data, at)
        at += 4 * n
        key_bytes = key_ends[-1] if n else 0
        if level == 0:
            value_ends: tuple[int, ...] = struct.unpack_from(f"<{n}I", data, at)
            at += 4 * n
            value_bytes = value_ends[-1] if n else 0
            if at + key_bytes + value_bytes != len(data):
                raise CorruptNode("tree node has the wrong length", node_id=expected_id)
            keys = _slices(data, at, key_ends)
            return Node.leaf(keys, _slices(data, at + key_bytes, value_ends))
        counts = list(struct.unpack_from(f"<{n}Q", data, at))
        at += 8 * n
        ids = data[at : at + _ID_BYTES * n].hex()
        at += _ID_BYTES * n
        if at + key_bytes != len(data) or n == 0:
            raise CorruptNode("tree node has the wrong length", node_id=expected_id)
        children = [ids[i : i + 2 * _ID_BYTES] for i in range(0, len(ids), 2 * _ID_BYTES)]
        return Node.internal(level, _slices(data, at, key_ends), children, counts)
    except struct.error as err:
        raise CorruptNode(f"tree node does not decode: {err}", node_id=expected_id) from err


EMPTY_LEAF = Node.leaf([], [])
EMPTY_DATA = encode(EMPTY_LEAF)
EMPTY_ID = node_id(EMPTY_DATA)


def approximate_memory(node: Node, encoded_size: int) -> int:
    """A rough in-memory size of a decoded node, for bounding caches by bytes."""
    return encoded_size + 200 + 120 * len(node.keys)
