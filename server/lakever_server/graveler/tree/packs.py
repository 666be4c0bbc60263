"""``PackedNodeStore``: tree nodes packed per flush into one blob, found through their
parents' references (``codec``: "Located references"), roots through an index.

A commit writes one node per level per changed path, each a few kilobytes. Stored one
blob per node, a scattered commit on a large tree cost one file creation (or one S3
PUT) per node; packed, it costs one blob and one metadata write (the root's index row)
whatever the number of nodes. The layout, the write order and why a crash anywhere leaves a
consistent repository are described in the package docstring (``tree/__init__.py``).
"""

from __future__ import annotations

import struct
import threading
import uuid
from collections import OrderedDict
from collections.abc import Iterable
from typing import NamedTuple

from lakever_server.errors import LakeverError, NotFound
from lakever_server.graveler.tree.cache import NodeCache
from lakever_server.graveler.tree.codec import (
    EMPTY_DATA,
    EMPTY_ID,
    EMPTY_LEAF,
    ID_HEX,
    CorruptNode,
    Node,
    approximate_memory,
    is_located,
    is_patch,
    patch_base,
    ref_id,
)
from lakever_server.graveler.tree.codec import node_id as hash_id
from lakever_server.graveler.tree.nodes import checked_decode, patch_problem
from lakever_server.storage.block.base import BlockStore, UndigestedPutStore
from lakever_server.storage.kv.base import KVStore
from lakever_server.storage.pools import SharedPool

PACK_MAGIC = b"LKVPACK1"
"""The first bytes of every pack: the format, so a pack is recognizable on its own."""
DEFAULT_PACK_BYTES = 3 * 1024 * 1024
"""A build writes a pack about every this many bytes (plus at most one node). Below the
local block store's ``O_DIRECT`` threshold (``storage.block.direct.DIRECT_AFTER``):
nodes are read back at random, one or a few at a time, and belong in the page cache."""
DEFAULT_PACK_NODES = 4096
DEFAULT_LOCATOR_CACHE = 65536
DEFAULT_READ_CONCURRENCY = 16
SPAN_GAP = 64 * 1024  # nodes this close in a pack are read together (one request)
SPAN_BYTES = 4 * 1024 * 1024
_LENGTH = struct.Struct("<I")  # before each node in a pack: a pack lists its own nodes
_LOCATOR = struct.Struct(">16sQI")  # index value: pack id, offset, length


class Locator(NamedTuple):
    """Where a node's bytes are: ``[offset, offset + length)`` of pack ``pack_id``."""

    pack_id: str
    offset: int
    length: int

    def encode(self) -> bytes:
        return _LOCATOR.pack(bytes.fromhex(self.pack_id), self.offset, self.length)

    @classmethod
    def decode(cls, data: bytes) -> Locator:
        """The locator of an index row (a patch's row carries its base id after it)."""
        pack, offset, length = _LOCATOR.unpack_from(data)
        return cls(pack.hex(), offset, length)

    @classmethod
    def of_ref(cls, ref: str) -> Locator | None:
        """The locator a node reference carries (``codec``: "Located references")."""
        return cls.decode(bytes.fromhex(ref[ID_HEX:])) if is_located(ref) else None

    def ref(self, node_id: str) -> str:
        """The reference to ``node_id`` stored here."""
        return node_id + self.encode().hex()


def ref_pack(ref: str) -> str:
    """The pack id a located reference names (its locator's first 16 bytes, in hex),
    without decoding the rest: what garbage collection and pack dependencies need."""
    return ref[ID_HEX : ID_HEX + 32]


DEPENDS = b"pack:"
"""Index rows keyed ``pack:{pack id}`` list what the pack's patches need besides it:
the packs holding their bases, and the bases with no locator (written before packs
located their nodes), so that garbage collection keeps a base while a patch lives."""
_DEPENDS_COUNT = struct.Struct(">I")


def encode_depends(packs: Iterable[str], bases: Iterable[str]) -> bytes:
    """The value of a ``pack:`` row: u32 count | 16-byte pack ids | 32-byte base ids."""
    packs = sorted(packs)
    parts = [_DEPENDS_COUNT.pack(len(packs)), *map(bytes.fromhex, packs)]
    return b"".join(parts + [bytes.fromhex(base) for base in sorted(bases)])


def decode_depends(value: bytes) -> tuple[list[str], list[str]]:
    """The packs and the base ids a ``pack:`` row names."""
    (count,) = _DEPENDS_COUNT.unpack_from(value)
    at = _DEPENDS_COUNT.size
    packs = [value[at + 16 * i : at + 16 * (i + 1)].hex() for i in range(count)]
    at += 16 * count
    bases = [value[i : i + 32].hex() for i in range(at, len(value), 32)]
    return packs, bases


def row_pack(key: bytes, value: bytes) -> str:
    """The pack an index row is about: its node's pack, or the pack a ``pack:`` row
    describes."""
    if key.startswith(DEPENDS):
        return key[len(DEPENDS) :].decode()
    return Locator.decode(value).pack_id


def row_base(row: bytes) -> str:
    """The base id an index row names (its node is a patch of it), else empty."""
    return row[_LOCATOR.size :].hex()


def pack_nodes(nodes: list[tuple[str, bytes]]) -> tuple[bytes, list[tuple[str, int, int]]]:
    """The pack of ``nodes`` (``(id, encoded)``), and each node's ``(id, offset, length)``."""
    parts = [PACK_MAGIC]
    where: list[tuple[str, int, int]] = []
    offset = len(PACK_MAGIC)
    for nid, data in nodes:
        parts.append(_LENGTH.pack(len(data)))
        parts.append(data)
        offset += _LENGTH.size
        where.append((nid, offset, len(data)))
        offset += len(data)
    return b"".join(parts), where


def unpack_nodes(pack: bytes) -> list[tuple[str, int, int]]:
    """Every node of a pack as ``(id, offset, length)``: what references to them say."""
    if not pack.startswith(PACK_MAGIC):
        raise CorruptNode("not a node pack", node_id="")
    found: list[tuple[str, int, int]] = []
    offset = len(PACK_MAGIC)
    while offset < len(pack):
        (length,) = _LENGTH.unpack_from(pack, offset)
        offset += _LENGTH.size
        found.append((hash_id(pack[offset : offset + length]), offset, length))
        offset += length
    return found


def _spans(located: list[tuple[str, Locator]]) -> list[list[tuple[str, Locator]]]:
    """Group nodes sorted by location into spans of one pack worth one read each: nodes
    at most ``SPAN_GAP`` bytes apart, up to ``SPAN_BYTES`` per span."""
    spans: list[list[tuple[str, Locator]]] = []
    for nid, locator in located:
        if spans:
            first, last = spans[-1][0][1], spans[-1][-1][1]
            if (
                locator.pack_id == last.pack_id
                and locator.offset - (last.offset + last.length) <= SPAN_GAP
                and locator.offset + locator.length - first.offset <= SPAN_BYTES
            ):
                spans[-1].append((nid, locator))
                continue
        spans.append([(nid, locator)])
    return spans


_read_pool = SharedPool(DEFAULT_READ_CONCURRENCY, "lakever-node-read")
"""The process-wide pool that reads pack spans from remote stores."""


class _Buffer:
    """One thread's nodes saved since its last pack, in write order, and the pack they
    will form: its id and each node's place in it are known as the node is saved."""

    def __init__(self) -> None:
        self.pack_id = uuid.uuid4().hex
        self.pack_raw = bytes.fromhex(self.pack_id)
        self.nodes: dict[str, bytes] = {}
        self.refs: dict[str, str] = {}
        self.end = len(PACK_MAGIC)  # where the next node's length goes
        self.size = 0
        self.depends: set[str] = set()  # other packs holding bases of these patches
        self.bases: set[str] = set()  # bases with no locator (see ``DEPENDS``)


class PackedNodeStore:
    """Nodes packed into blobs under ``{namespace}/_lakever/packs/``; roots indexed in the KV store.

    Args:
        block: the repository's block store.
        kv: the metadata store holding the index (partition ``graveler/nodeindex/...``).
        namespace: the repository's storage namespace.
        cache: the decoded-node cache, usually one per process.
        max_pack_bytes, max_pack_nodes: a thread's buffer is written as a pack when it
            reaches either, so building a tree of any size holds a bounded buffer.
        locator_cache: how many node locations to remember (an index lookup saved
            when a node has left the node cache).
        read_concurrency: parallel span reads in ``prefetch``. Default: 1 on memory and
            local disk (reads there cost CPU, not waiting), 16 elsewhere (S3).
    """

    def __init__(
        self,
        block: BlockStore,
        kv: KVStore,
        namespace: str,
        cache: NodeCache,
        *,
        max_pack_bytes: int = DEFAULT_PACK_BYTES,
        max_pack_nodes: int = DEFAULT_PACK_NODES,
        locator_cache: int = DEFAULT_LOCATOR_CACHE,
        read_concurrency: int | None = None,
    ) -> None:
        self.block = block
        self.kv = kv
        self.namespace = namespace.rstrip("/")
        self.partition = f"graveler/nodeindex/{self.namespace}"
        self.cache = cache
        self.max_pack_bytes = max_pack_bytes
        self.max_pack_nodes = max_pack_nodes
        self.locator_cache = locator_cache
        if read_concurrency is None:
            nearby = {"mem", "local"} & set(getattr(block, "schemes", ()))
            read_concurrency = 1 if nearby else DEFAULT_READ_CONCURRENCY
        self.read_concurrency = read_concurrency
        self.packs_written = 0
        self.bytes_written = 0
        self._lock = threading.Lock()
        # Saved by some thread and not yet indexed: readable here (another writer of the
        # same node writes its own copy: its pack must not count on this thread's flush).
        self._pending: dict[str, bytes] = {}
        self._locators: OrderedDict[str, Locator] = OrderedDict()
        self._mine = threading.local()
        # A pack's nodes are checked against their SHA-256 ids when read: no MD5 of the
        # pack where the store can skip it.
        self._undigested = block if isinstance(block, UndigestedPutStore) else None

    def __repr__(self) -> str:
        return f"PackedNodeStore({self.namespace!r})"

    # -- addresses ----------------------------------------------------------------------
    def blob_address(self, node_id: str) -> str:
        """The node's address in the one-blob-per-node layout; also its node cache key."""
        return f"{self.namespace}/_lakever/nodes/{node_id[:2]}/{node_id}"

    def address(self, node_id: str) -> str:
        """The block address holding the node (an id or a reference): its pack, else its
        one-blob address."""
        locator = self.locate(node_id, cached=False)
        if locator is None:
            return self.blob_address(ref_id(node_id))
        return self.pack_address(locator.pack_id)

    def pack_address(self, pack_id: str) -> str:
        return f"{self.namespace}/_lakever/packs/{pack_id}"

    # -- reads --------------------------------------------------------------------------
    def locate(self, node_id: str, *, cached: bool = True) -> Locator | None:
        """Where the node is: the locator its reference carries, else its index row
        (``None``: not packed), from the locator cache if allowed."""
        if is_located(node_id):
            return Locator.of_ref(node_id)
        if cached:
            with self._lock:
                locator = self._locators.get(node_id)
                if locator is not None:
                    self._locators.move_to_end(node_id)
                    return locator
        row = self.kv.get(self.partition, node_id.encode())
        if row is None:
            return None
        locator = Locator.decode(row)
        with self._lock:
            self._locators[node_id] = locator
            if len(self._locators) > self.locator_cache:
                self._locators.popitem(last=False)
        return locator

    def read_stored(self, node_id: str, *, cached: bool = True) -> bytes:
        """The node's bytes from storage (pack, else its earlier blob), not verified.

        ``node_id`` may be a reference: the copy it locates is read."""
        locator = self.locate(node_id, cached=cached)
        located = is_located(node_id)
        node_id = ref_id(node_id)
        if locator is None:
            try:
                return b"".join(self.block.get(self.blob_address(node_id)))
            except NotFound:
                raise NotFound(
                    f"tree node {node_id} not found", kind="node", name=node_id
                ) from None
        start = locator.offset
        try:
            address = self.pack_address(locator.pack_id)
            data = b"".join(self.block.get(address, start, start + locator.length))
        except NotFound:
            if cached and not located:
                # The remembered copy may have been collected (another server wrote the
                # node again and its index row now names that copy): ask the index.
                return self.read_stored(node_id, cached=False)
            raise NotFound(
                f"tree node {node_id}: its pack {locator.pack_id} is missing",
                kind="node",
                name=node_id,
            ) from None
        return data

    def _unstored(self, node_id: str) -> bytes | None:
        """A node saved and not yet indexed, by this thread or another, else None."""
        data = self._buffer().nodes.get(node_id)
        if data is None:
            with self._lock:
                data = self._pending.get(node_id)
        return data

    def get(self, node_id: str) -> bytes:
        if node_id == EMPTY_ID:
            return EMPTY_DATA
        data = self._unstored(ref_id(node_id))
        return data if data is not None else self.read_stored(node_id)

    def load_node(self, node_id: str) -> Node:
        if node_id == EMPTY_ID:
            return EMPTY_LEAF
        ref, node_id = node_id, ref_id(node_id)
        key = self.blob_address(node_id)
        node = self.cache.get(key)
        if node is None:
            data = self._unstored(node_id)
            if data is not None:
                # Not cached: the cache must only hold nodes that are stored or pending,
                # and the writer's failure may un-pend this one at any moment.
                return checked_decode(data, node_id, self.load_node)
            data = self.read_stored(ref)
            node = checked_decode(data, node_id, self.load_node)
            self.cache.add(key, node, approximate_memory(node, len(data)))
        return node

    def demote(self, node_ids: Iterable[str]) -> None:
        self.cache.demote(self.blob_address(ref_id(nid)) for nid in node_ids)

    def prefetch(self, node_ids: list[str]) -> None:
        """Cache the stored nodes among ``node_ids`` that are not cached, in one batch.

        Their references locate them (one index query, ``get_many``, for the bare
        ids among them: roots, nodes of earlier versions), then one ranged read per
        span of nearby nodes in a pack (a commit's or a build's nodes sit together),
        in parallel on remote stores. A node that cannot be read is left out: its
        ``load_node`` reports why.
        """
        self._prefetch(node_ids, bases=True)

    def _prefetch(self, node_ids: list[str], *, bases: bool) -> None:
        """``prefetch``; ``bases``: also batch-load the bases of the patches read."""
        wanted: list[str] = []  # references
        with self._lock:
            for ref in dict.fromkeys(node_ids):
                nid = ref_id(ref)
                if nid != EMPTY_ID and nid not in self._pending:
                    wanted.append(ref)
        wanted = [ref for ref in wanted if self.blob_address(ref_id(ref)) not in self.cache]
        if len(wanted) < 2:
            return  # a single read is as cheap done lazily
        found: dict[str, Locator] = {}
        unlocated: list[str] = []
        for ref in wanted:
            at = Locator.of_ref(ref)
            if at is not None:
                found[ref_id(ref)] = at
            else:
                unlocated.append(ref)
        with self._lock:
            for nid in unlocated:
                locator = self._locators.get(nid)
                if locator is not None:
                    found[nid] = locator
        asked = [nid.encode() for nid in unlocated if nid not in found]
        if asked:
            for key, row in self.kv.get_many(self.partition, asked).items():
                found[key.decode()] = Locator.decode(row)
        spans = _spans(sorted(found.items(), key=lambda item: item[1]))
        if self.read_concurrency > 1 and len(spans) > 1:
            records = [r for span in _read_pool().map(self._read_span, spans) for r in span]
        else:
            records = [r for span in spans for r in self._read_span(span)]
        # Whole nodes first; then the bases of the patches among them, in one batch of
        # their own (usually already cached: a diff reads a patch and its base side by
        # side), and the patches last.
        patches = []
        for nid, encoded in records:
            if is_patch(encoded):
                patches.append((nid, encoded))
            else:
                self._cache_record(nid, encoded)
        if patches:
            if bases:
                wanted_bases = [patch_base(encoded) for _, encoded in patches]
                self._prefetch([base for base in wanted_bases if base], bases=False)
            for nid, encoded in patches:
                self._cache_record(nid, encoded)

    def _read_span(self, span: list[tuple[str, Locator]]) -> list[tuple[str, bytes]]:
        """Read one span of a pack: each node's ``(id, stored bytes)``; none on failure."""
        first, last = span[0][1], span[-1][1]
        try:
            data = b"".join(
                self.block.get(
                    self.pack_address(first.pack_id), first.offset, last.offset + last.length
                )
            )
        except (LakeverError, OSError):
            return []
        start = first.offset
        return [(nid, data[at.offset - start : at.offset - start + at.length]) for nid, at in span]

    def _cache_record(self, nid: str, encoded: bytes) -> None:
        """Cache a node read from a pack when it hashes to its id (and its base loads)."""
        try:
            node = checked_decode(encoded, nid, self.load_node)
        except (LakeverError, OSError):
            return
        self.cache.add(self.blob_address(nid), node, approximate_memory(node, len(encoded)))

    def check_stored(self, node_id: str) -> str | None:
        """What is wrong with the stored copy of a node (past every cache), or None.

        ``node_id`` may be a reference: the copy it locates is checked."""
        if ref_id(node_id) == EMPTY_ID:
            return None
        try:
            data = self.read_stored(node_id, cached=False)
        except NotFound as exc:
            return exc.message
        nid = ref_id(node_id)
        if hash_id(data) != nid:
            return f"tree node {nid} does not match its hash"
        return patch_problem(nid, data, lambda base: self.read_stored(base, cached=False))

    # -- writes -------------------------------------------------------------------------
    def _buffer(self) -> _Buffer:
        buffer: _Buffer | None = getattr(self._mine, "buffer", None)
        if buffer is None:
            buffer = self._mine.buffer = _Buffer()
        return buffer

    def put(self, node_id: str, data: bytes) -> None:
        node = checked_decode(data, node_id, self.load_node)
        self.flush(self.save_node(node_id, node, data))

    def save_node(self, node_id: str, node: Node, data: bytes) -> str:
        buffer = self._buffer()
        ref = buffer.refs.get(node_id)
        if ref is not None:
            return ref
        # A node cached here is written again all the same: it may be one that nothing
        # names any more (written by an operation that failed before its commit record),
        # which garbage collection removes, and skipping it would leave the new tree
        # naming a node that is gone. A duplicate only costs its bytes; the new tree's
        # references name the new copy and collection takes the old one.
        offset = buffer.end + _LENGTH.size
        ref = node_id + _LOCATOR.pack(buffer.pack_raw, offset, len(data)).hex()  # Locator.ref
        buffer.end = offset + len(data)
        base = node.base
        if base:
            if not is_located(base):
                buffer.bases.add(base)
            elif ref_pack(base) != buffer.pack_id:
                buffer.depends.add(ref_pack(base))
        with self._lock:
            self._pending[node_id] = data
        buffer.nodes[node_id] = data
        buffer.refs[node_id] = ref
        buffer.size += len(data)
        self.cache.add(self.blob_address(node_id), node, approximate_memory(node, len(data)))
        if buffer.size >= self.max_pack_bytes or len(buffer.nodes) >= self.max_pack_nodes:
            self._write_pack(buffer)
        return ref

    def discard(self) -> None:
        """Drop this thread's unflushed nodes (a build or apply failed midway): nothing
        names them, and another writer must not take them for stored."""
        buffer = self._buffer()
        self._mine.buffer = _Buffer()
        nodes = list(buffer.nodes.items())
        for nid, _ in nodes:
            self.cache.discard(self.blob_address(nid))
        self._unpend(nodes)

    def flush(self, root: str = "") -> None:
        """Write this thread's buffered nodes as one pack, then index ``root``.

        Nodes are found through their parents' references; only a root (what a commit
        names by id) gets an index row, written once its pack is durable."""
        buffer = self._buffer()
        at = Locator.of_ref(root)  # None: no root, or one already indexed (a bare id)
        if buffer.nodes:
            self._write_pack(buffer, root, at)
        elif at is not None:
            self.kv.write_batch(self.partition, [(ref_id(root).encode(), at.encode())])
            self._remember(root, at)

    def _remember(self, root: str, at: Locator) -> None:
        """Keep the locator of a root just indexed: it is looked up by id next."""
        with self._lock:
            locators = self._locators
            locators[ref_id(root)] = at
            while len(locators) > self.locator_cache:
                locators.popitem(last=False)

    def _write_pack(self, buffer: _Buffer, root: str = "", at: Locator | None = None) -> None:
        """Write ``buffer`` as its pack, then the index rows: ``root``'s (located ``at``)
        and the pack's ``pack:`` row."""
        self._mine.buffer = _Buffer()
        nodes = list(buffer.nodes.items())
        pack_id = buffer.pack_id
        blob, where = pack_nodes(nodes)
        if where and where[-1][1] + where[-1][2] != buffer.end:
            raise AssertionError("a pack's layout differs from the references given out")
        try:
            address = self.pack_address(pack_id)
            if self._undigested is not None:  # either is durable when it returns
                self._undigested.put_undigested(address, blob)
            else:
                self.block.put(address, [blob])
            rows = [] if at is None else [(ref_id(root).encode(), at.encode())]
            if buffer.depends or buffer.bases:
                value = encode_depends(buffer.depends, buffer.bases)
                rows.append((DEPENDS + pack_id.encode(), value))
            if rows:
                self.kv.write_batch(self.partition, rows)
        except BaseException:
            # Uncache before un-pending: meanwhile another writer must see the node
            # either pending (and write it) or not cached (and write it), never as stored.
            for nid, _ in nodes:
                self.cache.discard(self.blob_address(nid))
            self._unpend(nodes)
            raise
        self._unpend(nodes)
        if at is not None:
            self._remember(root, at)
        with self._lock:
            self.packs_written += 1
            self.bytes_written += len(blob)

    def _unpend(self, nodes: list[tuple[str, bytes]]) -> None:
        with self._lock:
            for nid, _ in nodes:
                self._pending.pop(nid, None)
