"""Writing nodes, and building the levels of a tree bottom-up from a sorted stream.

``LevelBuilder`` keeps one ``Chunker`` per level: a node cut at level L is written and
its reference is appended to level L+1, so building holds at most one pending node per
level, never the whole tree. The root is the first level that ends with exactly one
node, which makes the shape a function of the contents alone.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from lakever_server.errors import InvalidValue
from lakever_server.graveler.tree.chunker import Chunker, ChunkingRule, Payload
from lakever_server.graveler.tree.codec import (
    EMPTY_DATA,
    EMPTY_ID,
    EMPTY_LEAF,
    Node,
    encode,
    node_id,
)
from lakever_server.graveler.tree.nodes import DecodedNodeStore


class NodeWriter:
    """Encodes nodes, names them by hash and saves them; counts the writes it makes."""

    def __init__(self, nodes: DecodedNodeStore) -> None:
        self.nodes = nodes
        self.written = 0

    def write(self, node: Node) -> str:
        data = encode(node)
        nid = node_id(data)
        self.nodes.save_node(nid, node, data)
        self.written += 1
        return nid

    def write_empty(self) -> str:
        self.nodes.save_node(EMPTY_ID, EMPTY_LEAF, EMPTY_DATA)
        return EMPTY_ID


class LevelBuilder:
    """Streams entries into levels ``base_level`` and up; ``finish`` returns the root id.

    Feed entries of ``base_level`` in key order with ``add``. A level above the leaves
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

    def chunker(self, level: int) -> Chunker:
        """The chunker of ``level``; whoever adds to it directly must ``emit`` its cuts."""
        return self._chunkers[self._level(level)]

    def add(self, level: int, key: bytes, payload: Payload) -> None:
        """Append one entry at ``level``; cascades cut nodes upward."""
        chunker = self.chunker(level)
        if chunker.add(key, payload):
            self.emit(level, chunker.cut())

    def emit(self, level: int, node: Node) -> None:
        """Write a node cut at ``level`` and reference it from the level above."""
        at = self._level(level)
        nid = self._writer.write(node)
        self._emitted[at] += 1
        self._last_id[at] = nid
        self.add(level + 1, node.keys[-1], (nid, node.count))

    def finish(self) -> str:
        """Flush every level bottom-up and return the root id (the empty tree if none)."""
        at = 0
        while True:
            self._level(self._base + at)
            node = self._chunkers[at].flush()
            if node is not None:
                self.emit(self._base + at, node)
            emitted = self._emitted[at]
            if emitted == 0:
                return self._writer.write_empty()
            if emitted == 1:
                return self._last_id[at]
            at += 1


def sorted_items(items: Iterable[tuple[bytes, bytes]]) -> Iterator[tuple[bytes, bytes]]:
    """Pass ``items`` through, refusing keys that are not strictly increasing."""
    previous: bytes | None = None
    for key, value in items:
        if previous is not None and key <= previous:
            raise InvalidValue(
                f"tree items must be sorted by key and unique: {key!r} after {previous!r}",
                field="items",
            )
        if not isinstance(key, bytes) or not isinstance(value, bytes):
            raise InvalidValue("tree keys and values must be bytes", field="items")
        previous = key
        yield key, value


def build_tree(writer: NodeWriter, rule: ChunkingRule, items: Iterable[tuple[bytes, bytes]]) -> str:
    """Build a tree from ``items`` (sorted, unique keys); return its root id."""
    builder = LevelBuilder(writer, rule)
    leaves = builder.chunker(0)  # the hot loop talks to the leaf chunker directly
    for key, value in sorted_items(items):
        if leaves.add(key, value):
            builder.emit(0, leaves.cut())
    return builder.finish()
