"""Writing nodes, and building the levels of a tree bottom-up from a sorted stream.

``LevelBuilder`` keeps one ``Chunker`` per level: a node cut at level L is written and
its reference is appended to level L+1, so building holds at most one pending node per
level (plus one input batch), never the whole tree. The root is the first level that
ends with exactly one node, which makes the shape a function of the contents alone.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from itertools import islice, pairwise

from lakever_server.errors import InvalidValue
from lakever_server.graveler.tree.chunker import Chunker, ChunkingRule, Columns
from lakever_server.graveler.tree.codec import EMPTY_ID, Node, encode, encode_patch, node_id
from lakever_server.graveler.tree.nodes import DecodedNodeStore

_BATCH = 4096


class NodeWriter:
    """Encodes nodes, names them by hash and saves them; counts the writes it makes."""

    def __init__(self, nodes: DecodedNodeStore) -> None:
        self.nodes = nodes
        self.written = 0

    def write(self, node: Node) -> str:
        """Store ``node`` (as a patch of ``node.base`` when it names one); the reference
        its parent records (``codec``: "Located references")."""
        data = encode_patch(node) if node.base else encode(node)
        ref = self.nodes.save_node(node_id(data), node, data)
        self.written += 1
        return ref

    def write_empty(self) -> str:
        """The empty tree: known to every store without being stored."""
        return EMPTY_ID


class LevelBuilder:
    """Streams entries into levels ``base_level`` and up; ``finish`` returns the root id.

    Feed entries of ``base_level`` in key order with ``feed``. A level above the leaves
    must be fed at least two references (one reference would be the root itself).
    """

    def __init__(self, writer: NodeWriter, rule: ChunkingRule, base_level: int = 0) -> None:
        self._writer = writer
        self._rule = rule
        self._base = base_level
        self._chunkers: list[Chunker] = []
        self._emitted: list[int] = []
        self._last_id: list[str] = []

    def _level(self, level: int) -> int:
        at = level - self._base
        while len(self._chunkers) <= at:
            self._chunkers.append(Chunker(self._base + len(self._chunkers), self._rule))
            self._emitted.append(0)
            self._last_id.append("")
        return at

    def feed(self, level: int, cols: Columns) -> None:
        """Append entries (as columns) at ``level``; cut nodes cascade upward."""
        at = self._level(level)
        done = self._chunkers[at].feed(cols, 0, len(cols[0]))
        if done:
            self._emit(at, done)

    def _emit(self, at: int, nodes: list[Node]) -> None:
        ids = [self._writer.write(node) for node in nodes]
        self._emitted[at] += len(ids)
        self._last_id[at] = ids[-1]
        refs = ([node.keys[-1] for node in nodes], ids, [node.count for node in nodes])
        self.feed(self._base + at + 1, refs)

    def finish(self) -> str:
        """Flush every level bottom-up and return the root reference (the empty tree if
        none)."""
        at = 0
        while True:
            self._level(self._base + at)
            node = self._chunkers[at].flush()
            if node is not None:
                self._emit(at, [node])
            emitted = self._emitted[at]
            if emitted == 0:
                return self._writer.write_empty()
            if emitted == 1:
                return self._last_id[at]
            at += 1


def _check_batch(keys: list[bytes], values: list[bytes], previous: bytes | None) -> None:
    """Refuse keys that are not bytes and strictly increasing (continuing ``previous``)."""
    if not all(isinstance(k, bytes) for k in keys) or not all(isinstance(v, bytes) for v in values):
        raise InvalidValue("tree keys and values must be bytes", field="items")
    ordered = all(a < b for a, b in pairwise(keys))
    if not ordered or (previous is not None and keys[0] <= previous):
        raise InvalidValue("tree items must be sorted by key and unique", field="items")


def build_tree(writer: NodeWriter, rule: ChunkingRule, items: Iterable[tuple[bytes, bytes]]) -> str:
    """Build a tree from ``items`` (sorted, unique keys); return its root id."""
    builder = LevelBuilder(writer, rule)
    stream: Iterator[tuple[bytes, bytes]] = iter(items)
    previous: bytes | None = None
    while batch := list(islice(stream, _BATCH)):
        keys = [key for key, _ in batch]
        values = [value for _, value in batch]
        _check_batch(keys, values, previous)
        previous = keys[-1]
        builder.feed(0, (keys, values))
    return builder.finish()
