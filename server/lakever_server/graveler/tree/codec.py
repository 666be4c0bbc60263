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
from dataclasses import dataclass, field
from functools import lru_cache
from itertools import accumulate

from lakever_server.errors import LakeverError

FORMAT_VERSION = 1

_HEADER = struct.Struct("<BBI")
_ID_BYTES = 32
REF_BYTES = 44
"""What an internal entry encodes besides its key: a u32 end, a u64 count, a 32-byte id."""


@lru_cache(maxsize=1024)
def _u32s(n: int) -> struct.Struct:
    """The little-endian layout of ``n`` u32s (one precompiled ``Struct`` per count:
    packing through it is about three times faster than building an ``array``)."""
    return struct.Struct(f"<{n}I")


@lru_cache(maxsize=1024)
def _u64s(n: int) -> struct.Struct:
    return struct.Struct(f"<{n}Q")


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
    payload: int = -1
    """Bytes of keys and values (leaf) or of keys plus ``REF_BYTES`` per child: what
    the chunking rule's ``max_bytes`` counts. -1 until known (see ``payload_bytes``)."""
    ends: bytes = field(default=b"", compare=False)
    """The encoded end offsets (``key_end[n]``, and ``value_end[n]`` in a leaf) once
    known, empty before. A node that keeps its keys and the sizes of its values (a
    rewrite that replaces values of equal size, the usual case of a scattered update)
    is given its old node's: encoding then skips recomputing them."""

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

    def payload_bytes(self) -> int:
        """``payload``, computed on first use and remembered (the node never changes)."""
        if self.payload < 0:
            size = sum(map(len, self.keys))
            size += sum(map(len, self.values)) if self.level == 0 else REF_BYTES * len(self.keys)
            self.payload = size
        return self.payload


def _ends(parts: list[bytes]) -> bytes:
    return _u32s(len(parts)).pack(*accumulate(map(len, parts)))


def encode(node: Node) -> bytes:
    """The canonical bytes of ``node``; also records its ``payload`` size."""
    n = len(node.keys)
    header = _HEADER.pack(FORMAT_VERSION, node.level, n)
    keys = b"".join(node.keys)
    if node.level == 0:
        values = b"".join(node.values)
        node.payload = len(keys) + len(values)
        if not node.ends:
            node.ends = _ends(node.keys) + _ends(node.values)
        return b"".join((header, node.ends, keys, values))
    node.payload = len(keys) + REF_BYTES * n
    counts = _u64s(n).pack(*node.counts)
    ids = bytes.fromhex("".join(node.children))
    if not node.ends:
        node.ends = _ends(node.keys)
    return b"".join((header, node.ends, counts, ids, keys))


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
        u32s = _u32s(n)
        key_ends: tuple[int, ...] = u32s.unpack_from(data, at)
        at += 4 * n
        key_bytes = key_ends[-1] if n else 0
        if level == 0:
            value_ends: tuple[int, ...] = u32s.unpack_from(data, at)
            at += 4 * n
            value_bytes = value_ends[-1] if n else 0
            if at + key_bytes + value_bytes != len(data):
                raise CorruptNode("tree node has the wrong length", node_id=expected_id)
            keys = _slices(data, at, key_ends)
            leaf = Node.leaf(keys, _slices(data, at + key_bytes, value_ends))
            leaf.payload = key_bytes + value_bytes
            leaf.ends = data[_HEADER.size : at]
            return leaf
        counts = list(_u64s(n).unpack_from(data, at))
        at += 8 * n
        ids = data[at : at + _ID_BYTES * n].hex()
        at += _ID_BYTES * n
        if at + key_bytes != len(data) or n == 0:
            raise CorruptNode("tree node has the wrong length", node_id=expected_id)
        children = [ids[i : i + 2 * _ID_BYTES] for i in range(0, len(ids), 2 * _ID_BYTES)]
        node = Node.internal(level, _slices(data, at, key_ends), children, counts)
        node.payload = key_bytes + REF_BYTES * n
        node.ends = data[_HEADER.size : _HEADER.size + 4 * n]
        return node
    except struct.error as err:
        raise CorruptNode(f"tree node does not decode: {err}", node_id=expected_id) from err


EMPTY_LEAF = Node.leaf([], [])
EMPTY_DATA = encode(EMPTY_LEAF)
EMPTY_ID = node_id(EMPTY_DATA)


def approximate_memory(node: Node, encoded_size: int) -> int:
    """The in-memory size of a decoded node, for bounding caches by bytes.

    Measured with ``tracemalloc`` on CPython 3.11 (``test_encoding`` holds it within 10%):
    a leaf costs its encoding plus about 88 bytes an entry (the objects of a key and a
    value and their list slots, less the bytes the encoding spends on them); an
    internal node about 150 (a hex id string and a count besides the key).
    """
    per_entry = 88 if node.level == 0 else 150
    return encoded_size + 250 + per_entry * len(node.keys)
