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

Patches. A node that keeps its keys and replaces a few values (or child references) may
be stored as a patch of a full node, its *base*: what a scattered update writes, so that
it costs the change and not the size of the node::

    u8 PATCH_VERSION (0x81) | u8 level | u32 n (entries) | u32 m (slots) | 32-byte base id
    u32 slot[m] (ascending, < n)
    leaf:      u32 value_end[m] | value bytes
    internal:  u64 count[m] | 32-byte child id[m]

The node is the base with its entries at ``slot[i]`` replaced. A base is always a full
node: rewriting a patched node again patches the same base with every slot replaced so
far (``Node.base``/``Node.patched`` carry them), until more than a quarter of the entries
are replaced and the node is written whole (``PATCH_LIMIT``). So a read costs at most
one extra node, and a patch's bytes grow with what changed since its base only.

Located references. A store that packs nodes (``packs.PackedNodeStore``) tells the
writer where it put each node, and the parent records it: a *reference* to a child is
then its id followed by a 28-byte locator (16-byte pack id, u64 offset, u32 length), so
a reader goes from parent to child with no index lookup, and a commit writes no index
row per node. As a string, a reference is the id's 64 hex digits, followed by the
locator's 56 when there is one (``ref_id`` takes the id). An internal node with any
located child is encoded as version 2, every child taking 60 bytes (32-byte id, then the
locator, all zero for a child without one); a patch naming a located base or child is
``PATCH_LOCATED`` (0x82), with 60-byte references in place of 32-byte ids::

    internal v2:  u8 2 | u8 level | u32 n | u32 key_end[n] | u64 count[n]
                  | (32-byte id | 28-byte locator)[n] | key bytes
    patch 0x82:   as 0x81 with a 60-byte base reference and 60-byte child references

Nodes without located children (every node of a store that does not pack) keep
version 1 and 0x81, byte for byte. The locators are part of the hashed bytes: like a
patch, a node's id then depends on where its children were written, not only on its
contents, and ``diff`` still compares entries wherever references differ.

A patch's id is the SHA-256 of the patch, like any stored node: ids name stored bytes,
and every store's contract (an id is the hash of what it names) holds unchanged. The
logical shape of a tree still depends only on its contents (boundaries come from keys),
but two trees with equal contents have equal root ids only when their nodes were
written alike: a tree rebuilt from scratch is made of full nodes, an updated one may
hold patches. ``diff`` compares entries where ids differ, so it stays exact; an update
that changes nothing writes nothing, so "no changes" is still detected by root id.
"""

from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass, field
from functools import lru_cache
from itertools import accumulate, pairwise

from lakever_server.errors import LakeverError

FORMAT_VERSION = 1
LOCATED_VERSION = 2
"""An internal node whose child references carry locators (see "Located references")."""
PATCH_VERSION = 0x81
PATCH_LOCATED = 0x82
PATCH_LIMIT = 4
"""A node is patched while at most 1/``PATCH_LIMIT`` of its entries differ from its base."""

_HEADER = struct.Struct("<BBI")
_PATCH_HEADER = struct.Struct("<BBII32s")  # version, level, n, m, base id
_PATCH_LOCATED_HEADER = struct.Struct("<BBII60s")  # version, level, n, m, base reference
_ID_BYTES = 32
ID_HEX = 2 * _ID_BYTES
LOCATOR_BYTES = 28
_LOCATED_BYTES = _ID_BYTES + LOCATOR_BYTES
_NO_LOCATOR = "0" * (2 * LOCATOR_BYTES)
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
    base: str = field(default="", compare=False)
    """When the node is stored as a patch: the id of its full base node, else empty."""
    patched: tuple[int, ...] = field(default=(), compare=False)
    """When stored as a patch: the ascending slots whose entries differ from the base."""

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


def _hex_ids(raw: bytes) -> list[str]:
    """Consecutive 32-byte ids as hex strings."""
    ids = raw.hex()
    return [ids[i : i + ID_HEX] for i in range(0, len(ids), ID_HEX)]


def ref_id(ref: str) -> str:
    """The node id a reference names (see "Located references")."""
    return ref[:ID_HEX]


def is_located(ref: str) -> bool:
    """Whether a reference carries a locator."""
    return len(ref) > ID_HEX


def _hex_refs(raw: bytes) -> list[str]:
    """Consecutive 60-byte references as strings; a child without a locator as its id."""
    refs = raw.hex()
    width = 2 * _LOCATED_BYTES
    out = [refs[i : i + width] for i in range(0, len(refs), width)]
    return [ref[:ID_HEX] if ref.endswith(_NO_LOCATOR) else ref for ref in out]


def _any_located(refs: list[str]) -> bool:
    return bool(refs) and max(map(len, refs)) > ID_HEX


def _raw_refs(refs: list[str]) -> bytes:
    """60-byte references (a missing locator as zeros)."""
    if min(map(len, refs), default=0) > ID_HEX:
        return bytes.fromhex("".join(refs))
    return bytes.fromhex("".join([ref if len(ref) > ID_HEX else ref + _NO_LOCATOR for ref in refs]))


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
    if _any_located(node.children):
        header = _HEADER.pack(LOCATED_VERSION, node.level, n)
        ids = _raw_refs(node.children)
    else:
        ids = bytes.fromhex("".join(node.children))
    if not node.ends:
        node.ends = _ends(node.keys)
    return b"".join((header, node.ends, counts, ids, keys))


def encode_patch(node: Node) -> bytes:
    """The patch encoding of ``node`` against ``node.base`` (see the module docstring)."""
    slots = node.patched
    m = len(slots)
    children = [node.children[s] for s in slots] if node.level else []
    if is_located(node.base) or _any_located(children):
        base = _raw_refs([node.base])
        header = _PATCH_LOCATED_HEADER.pack(PATCH_LOCATED, node.level, len(node.keys), m, base)
        ids = _raw_refs(children) if children else b""
    else:
        base = bytes.fromhex(node.base)
        header = _PATCH_HEADER.pack(PATCH_VERSION, node.level, len(node.keys), m, base)
        ids = bytes.fromhex("".join(children))
    at = _u32s(m).pack(*slots)
    if node.level == 0:
        values = [node.values[s] for s in slots]
        return b"".join((header, at, _ends(values), *values))
    counts = _u64s(m).pack(*[node.counts[s] for s in slots])
    return b"".join((header, at, counts, ids))


def is_patch(data: bytes) -> bool:
    return bool(data) and data[0] in (PATCH_VERSION, PATCH_LOCATED)


def _patch_header(data: bytes) -> struct.Struct:
    return _PATCH_LOCATED_HEADER if data[0] == PATCH_LOCATED else _PATCH_HEADER


def patch_base(data: bytes) -> str:
    """The base reference of an encoded patch; empty for a full node."""
    if not is_patch(data):
        return ""
    header = _patch_header(data)
    if len(data) < header.size:
        return ""
    if header is _PATCH_HEADER:
        return data[header.size - _ID_BYTES : header.size].hex()
    return _hex_refs(data[header.size - _LOCATED_BYTES : header.size])[0]


def decode_patch(data: bytes, base: Node, expected_id: str = "") -> Node:
    """The node an encoded patch makes of ``base`` (the node its header names)."""
    try:
        header = _patch_header(data)
        located = header is _PATCH_LOCATED_HEADER
        _, level, n, m, _ = header.unpack_from(data, 0)
        if base.base or level != base.level or n != len(base.keys) or not 0 < m <= n:
            raise CorruptNode("tree node patch does not fit its base", node_id=expected_id)
        at = header.size
        slots: tuple[int, ...] = _u32s(m).unpack_from(data, at)
        at += 4 * m
        if any(b <= a for a, b in pairwise(slots)) or slots[-1] >= n:
            raise CorruptNode("tree node patch has invalid slots", node_id=expected_id)
        if level == 0:
            ends: tuple[int, ...] = _u32s(m).unpack_from(data, at)
            at += 4 * m
            if at + ends[-1] != len(data):
                raise CorruptNode("tree node patch has the wrong length", node_id=expected_id)
            new_values = _slices(data, at, ends)
            values = list(base.values)
            grown = 0
            for s, value in zip(slots, new_values, strict=True):
                grown += len(value) - len(values[s])
                values[s] = value
            node = Node.leaf(base.keys, values)
            node.payload = base.payload_bytes() + grown
        else:
            new_counts = _u64s(m).unpack_from(data, at)
            at += 8 * m
            width = _LOCATED_BYTES if located else _ID_BYTES
            if at + width * m != len(data):
                raise CorruptNode("tree node patch has the wrong length", node_id=expected_id)
            new_children = _hex_refs(data[at:]) if located else _hex_ids(data[at:])
            children, counts = list(base.children), list(base.counts)
            total = base.count
            for s, child, count in zip(slots, new_children, new_counts, strict=True):
                children[s] = child
                total += count - counts[s]
                counts[s] = count
            node = Node(level, base.keys, children=children, counts=counts, count=total)
            node.payload = base.payload_bytes()
            node.ends = base.ends
    except struct.error as err:
        raise CorruptNode(f"tree node patch does not decode: {err}", node_id=expected_id) from err
    node.base, node.patched = patch_base(data), slots
    return node


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
        if version != FORMAT_VERSION and (version != LOCATED_VERSION or level == 0):
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
        if version == LOCATED_VERSION:
            children = _hex_refs(data[at : at + _LOCATED_BYTES * n])
            at += _LOCATED_BYTES * n
        else:
            children = _hex_ids(data[at : at + _ID_BYTES * n])
            at += _ID_BYTES * n
        if at + key_bytes != len(data) or n == 0:
            raise CorruptNode("tree node has the wrong length", node_id=expected_id)
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
    if node.level and is_located(node.children[0]):
        per_entry += 2 * LOCATOR_BYTES + 8  # a longer reference string
    if node.base:
        # A patched node holds its base's keys and values: count them as its own (the
        # base may be evicted first).
        encoded_size = max(encoded_size, node.payload_bytes() + 8 * len(node.keys))
    return encoded_size + 250 + per_entry * len(node.keys)
