"""``Tree``: the operations graveler uses on content-addressed sorted trees."""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

from lakever_server.errors import NotFound
from lakever_server.graveler.tree.apply import apply_changes
from lakever_server.graveler.tree.build import NodeWriter, build_tree
from lakever_server.graveler.tree.chunker import DEFAULT_RULE, ChunkingRule
from lakever_server.graveler.tree.codec import EMPTY_ID, ref_id
from lakever_server.graveler.tree.codec import node_id as hash_id
from lakever_server.graveler.tree.cursor import TreeCursor, child_index
from lakever_server.graveler.tree.diff import Change, diff_trees
from lakever_server.graveler.tree.nodes import (
    CheckedNodeStore,
    DemotingNodeStore,
    DiscardingNodeStore,
    NodeStore,
    decoding,
)


class Tree:
    """Immutable sorted ``bytes -> bytes`` trees stored in a ``NodeStore``, named by root id.

    A ``Tree`` holds no state besides its store: every method takes the root id of the
    version it works on, and writes return the root id of a new version.

    Args:
        store: where nodes are read and written.
        rule: the chunking rule; part of the format, keep the default outside tests.
    """

    EMPTY: str = EMPTY_ID
    """Root id of the empty tree. It is never stored: every node store knows it."""

    def __init__(self, store: NodeStore, *, rule: ChunkingRule = DEFAULT_RULE) -> None:
        self.store = store
        self.rule = rule
        self._nodes = decoding(store)
        self._writer = NodeWriter(self._nodes)

    @property
    def nodes_written(self) -> int:
        """How many node writes this tree has made (puts of already cached nodes included)."""
        return self._writer.written

    def build(self, items: Iterable[tuple[bytes, bytes]]) -> str:
        """Build a tree from ``items`` sorted by key, keys unique; return its root id.

        Streams: holds one pending node per level, never the whole input.
        Raises ``InvalidValue`` on unsorted or duplicate keys.
        """
        with self._discarding_on_failure():
            root = build_tree(self._writer, self.rule, items)
            self._nodes.flush(root)
        return ref_id(root)

    def apply(self, root: str, changes: Iterable[tuple[bytes, bytes | None]]) -> str:
        """Apply ``changes`` (sorted, unique keys; a None value deletes) to ``root``.

        Writes only the nodes on the paths to the changed keys (and neighbours whose
        boundaries moved), so the cost follows the number of changes, not the tree's size.
        Deleting an absent key is a no-op. Returns the new root id (``root`` itself when
        nothing changed). Raises ``InvalidValue`` on unsorted or duplicate keys.
        """
        superseded: list[str] = []
        with self._discarding_on_failure():
            new_root = apply_changes(
                self._nodes, self._writer, self.rule, root, changes, superseded
            )
            self._nodes.flush(new_root)
        if isinstance(self._nodes, DemotingNodeStore):
            # The old versions are still part of earlier commits (and maybe of other
            # branches), but the branch just written reads the new ones: under cache
            # pressure, drop the old ones before nodes that are still being read.
            self._nodes.demote(superseded)
        return ref_id(new_root)

    @contextmanager
    def _discarding_on_failure(self) -> Iterator[None]:
        """On failure, drop the nodes saved and not flushed (nothing will name them)."""
        try:
            yield
        except BaseException:
            if isinstance(self._nodes, DiscardingNodeStore):
                self._nodes.discard()
            raise

    def get(self, root: str, key: bytes) -> bytes | None:
        """The value of ``key``, or None when absent. Reads one node per level."""
        node = self._nodes.load_node(root)
        while node.level > 0:
            node = self._nodes.load_node(node.children[child_index(node, key)])
        i = bisect_left(node.keys, key)
        if i < len(node.keys) and node.keys[i] == key:
            return node.values[i]
        return None

    def iterate(
        self, root: str, start: bytes = b"", end: bytes | None = None
    ) -> Iterator[tuple[bytes, bytes]]:
        """Items with ``start <= key < end`` in key order; seeks in O(depth) node reads."""
        return TreeCursor(self._nodes, root, start, end)

    def iterate_from(self, root: str, start: bytes = b"", end: bytes | None = None) -> TreeCursor:
        """A cursor over ``[start, end)`` that can also ``peek`` and ``seek`` forward."""
        return TreeCursor(self._nodes, root, start, end)

    def diff(
        self, left: str, right: str, start: bytes = b"", end: bytes | None = None
    ) -> Iterator[Change]:
        """Changes from ``left`` to ``right`` for keys in ``[start, end)``, in key order.

        Subtrees with equal ids on both sides are skipped without being read.
        """
        return diff_trees(self._nodes, left, right, start, end)

    def count(self, root: str) -> int:
        """Number of items, from the counts kept in the root (one node read)."""
        return self._nodes.load_node(root).count

    def height(self, root: str) -> int:
        """Levels above the leaves: 0 when the root is a leaf (one node read)."""
        return self._nodes.load_node(root).level

    def count_range(self, root: str, start: bytes = b"", end: bytes | None = None) -> int:
        """Number of items with ``start <= key < end``, reading two paths (O(depth))."""
        if end is not None and end <= start:
            return 0
        below_end = self.count(root) if end is None else self._rank(root, end)
        return below_end - self._rank(root, start) if start else below_end

    def _rank(self, root: str, key: bytes) -> int:
        """Number of items with a key before ``key``."""
        node = self._nodes.load_node(root)
        rank = 0
        while node.level > 0:
            i = child_index(node, key)
            rank += sum(node.counts[:i])
            node = self._nodes.load_node(node.children[i])
        return rank + bisect_left(node.keys, key)

    def check_node(self, node_id: str) -> str | None:
        """What is wrong with the stored copy of a node (read past every cache), or None.

        For fsck: a node may be readable from the cache and yet lost from storage.
        ``node_id`` may be a reference (``walk_nodes``): the copy it locates is checked.
        """
        if ref_id(node_id) == EMPTY_ID:
            return None
        if isinstance(self.store, CheckedNodeStore):
            return self.store.check_stored(node_id)
        nid = ref_id(node_id)
        try:
            data = self.store.get(nid)
        except NotFound as exc:
            return exc.message
        return None if hash_id(data) == nid else f"tree node {nid} does not match its hash"

    def walk_nodes(self, root: str) -> Iterator[str]:
        """A reference to every node reachable from ``root`` (root first, depth-first,
        in key order): its id, followed by where it is stored when its parent says
        (``codec``: "Located references"; ``codec.ref_id`` takes the id).

        Reads internal nodes only: a verifier checks each yielded node exists and hashes
        to its id (``check_node``). The empty tree has no stored node, so it yields
        nothing.
        """
        if root == EMPTY_ID:
            return
        yield root
        node = self._nodes.load_node(root)
        if node.level == 0:
            return
        stack = [iter(node.children)] if node.level > 1 else []
        if node.level == 1:
            yield from node.children
        while stack:
            child = next(stack[-1], None)
            if child is None:
                stack.pop()
                continue
            yield child
            sub = self._nodes.load_node(child)
            if sub.level == 1:
                yield from sub.children
            elif sub.level > 1:
                stack.append(iter(sub.children))
