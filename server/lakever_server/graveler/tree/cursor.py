"""Positions inside a tree: seeking by key in O(depth) and stepping in key order.

A cursor keeps the path from the root as ``[node, index]`` frames, so stepping to the
next entry or node reads only the nodes it enters, and a seek reads one node per level.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterator

from lakever_server.graveler.tree.codec import Node
from lakever_server.graveler.tree.nodes import DecodedNodeStore, PrefetchingNodeStore

READ_AHEAD_LEAVES = 8
"""The most leaves a scan prefetches at once (on stores that can, ``prefetch``)."""


def child_index(node: Node, key: bytes) -> int:
    """The child of an internal node whose range holds ``key`` (the last one past the end)."""
    i = bisect_left(node.keys, key)
    return min(i, len(node.keys) - 1)


class LevelCursor:
    """Walks the nodes of one level of a tree, left to right (used by ``apply``)."""

    def __init__(self, nodes: DecodedNodeStore, root_id: str, root: Node, level: int) -> None:
        self._nodes = nodes
        self._root_id = root_id
        self._root = root
        self.level = level
        self._frames: list[tuple[Node, int]] = []
        self._floor: bytes | None = None  # a key every node on the path holds
        self.node_id = root_id
        self.node = root

    def seek(self, key: bytes) -> None:
        """Move to the node of this level whose key range holds ``key``.

        Keys sought in increasing order (as ``apply`` does) reuse the path: only the
        levels below the deepest node whose range still holds ``key`` are read again,
        instead of one node per level from the root.
        """
        frames = self._frames
        if self._floor is None or key < self._floor or not frames:
            keep = 0
        else:
            # Every node on the path holds ``_floor``, so its range starts below ``key``:
            # it holds ``key`` unless its range ends before (its last key, unless it is
            # the last node of its level).
            keep, last = len(frames), True
            for d, (node, i) in enumerate(frames):
                if d and not (last or key <= node.keys[-1]):
                    keep = d
                    break
                last = last and i == len(node.keys) - 1
            else:
                if last or key <= self.node.keys[-1]:
                    self._floor = key
                    return
        if keep:
            node = frames[keep - 1][0]
            del frames[keep - 1 :]
        else:
            frames.clear()
            node = self._root
        node_id = self._root_id
        while node.level > self.level:
            i = child_index(node, key)
            frames.append((node, i))
            node_id = node.children[i]
            node = self._nodes.load_node(node_id)
        self.node_id, self.node = node_id, node
        self._floor = key

    @property
    def root_level(self) -> int:
        return self._root.level

    def targets(self, keys: list[bytes], level: int | None = None) -> list[str]:
        """The ids of the nodes of ``level`` (default: this cursor's) that sorted ``keys``
        fall in, in order. The cursor's position is left as it was."""
        return self.route(keys, None, level)[0]

    def route(
        self,
        keys: list[bytes],
        fetch: Callable[[list[str]], object] | None = None,
        level: int | None = None,
    ) -> tuple[list[str], list[tuple[int, int]]]:
        """Route sorted ``keys`` down the tree to the nodes of ``level`` (default: this
        cursor's) they fall in: those nodes' ids, in order, and for each the span
        ``(start, end)`` of ``keys`` it holds (keys past the level's last key fall in its
        last node, as with ``seek``).

        One level at a time: ``fetch``, when given, gets each level's ids before any of
        them is read, so a store can load a level in one batch. Every internal node on
        the keys' paths is read once and splits its keys among its children by
        bisection. The cursor's position is left as it was.
        """
        target = self.level if level is None else level
        if self._root.level <= target:
            if fetch is not None:
                fetch([self._root_id])
            return [self._root_id], [(0, len(keys))]
        load = self._nodes.load_node
        groups: list[tuple[Node, int, int]] = [(self._root, 0, len(keys))]
        for below in range(self._root.level - 1, target - 1, -1):
            ids: list[str] = []
            spans: list[tuple[int, int]] = []
            for node, lo, hi in groups:
                node_keys, children = node.keys, node.children
                last = len(node_keys) - 1
                j = lo
                while j < hi:
                    i = min(bisect_left(node_keys, keys[j]), last)
                    k = bisect_right(keys, node_keys[i], j + 1, hi) if i < last else hi
                    ids.append(children[i])
                    spans.append((j, k))
                    j = k
            if fetch is not None:
                fetch(ids)
            if below == target:
                return ids, spans
            groups = [(load(nid), j, k) for nid, (j, k) in zip(ids, spans, strict=True)]
        raise AssertionError("unreachable: the target level returns")

    def is_last(self) -> bool:
        """Whether the current node is the last of its level."""
        return all(i == len(node.keys) - 1 for node, i in self._frames)

    def advance(self) -> None:
        """Move to the next node of the level (which must exist)."""
        depth = len(self._frames) - 1
        while self._frames[depth][1] == len(self._frames[depth][0].keys) - 1:
            depth -= 1
        parent, i = self._frames[depth]
        del self._frames[depth:]
        self._frames.append((parent, i + 1))
        node_id = parent.children[i + 1]
        node = self._nodes.load_node(node_id)
        while node.level > self.level:
            self._frames.append((node, 0))
            node_id = node.children[0]
            node = self._nodes.load_node(node_id)
        self.node_id, self.node = node_id, node
        self._floor = node.keys[0]


class TreeCursor(Iterator[tuple[bytes, bytes]]):
    """Iterates the items of a tree in key order within ``[start, end)``.

    The cursor can be peeked and moved forward with ``seek`` without re-reading the path
    when the target is in the current leaf; callers merging several sorted sources (a
    committed tree and staged writes) use both.
    """

    def __init__(
        self,
        nodes: DecodedNodeStore,
        root_id: str,
        start: bytes = b"",
        end: bytes | None = None,
    ) -> None:
        self._nodes = nodes
        self._prefetcher = nodes if isinstance(nodes, PrefetchingNodeStore) else None
        self._ahead_parent: Node | None = None  # read-ahead: leaves of this parent
        self._ahead_to = 0  # ... below this index were prefetched
        self._ahead = 2  # how many the next read-ahead asks for
        self._root = nodes.load_node(root_id)
        self._end = end
        self._path: list[tuple[Node, int]] = []
        self._leaf: Node = self._root
        self._index = 0
        self._descend(start)

    def _read_ahead(self, parent: Node, i: int) -> None:
        """Before entering leaf ``i`` of ``parent``: prefetch it and the next ones in one
        batch, twice as many each time up to ``READ_AHEAD_LEAVES`` (a long scan pays a
        round trip per batch, a short page reads at most about twice what it uses)."""
        if self._prefetcher is None:
            return
        if parent is not self._ahead_parent:
            self._ahead_parent, self._ahead_to = parent, i
        if i < self._ahead_to:
            return
        count = self._ahead
        self._ahead = min(2 * count, READ_AHEAD_LEAVES)
        self._ahead_to = i + count
        self._prefetcher.prefetch(parent.children[i : i + count])

    def _descend(self, key: bytes) -> None:
        frames: list[tuple[Node, int]] = []
        node = self._root
        while node.level > 0:
            i = child_index(node, key)
            frames.append((node, i))
            if node.level == 1:
                self._read_ahead(node, i)
            node = self._nodes.load_node(node.children[i])
        self._path = frames
        self._leaf = node
        self._index = bisect_left(node.keys, key)

    def _next_leaf(self) -> bool:
        """Move to the first entry of the next leaf; False at the end of the tree."""
        frames = self._path
        depth = len(frames) - 1
        while depth >= 0 and frames[depth][1] == len(frames[depth][0].keys) - 1:
            depth -= 1
        if depth < 0:
            return False
        parent, i = frames[depth]
        del frames[depth:]
        frames.append((parent, i + 1))
        if parent.level == 1:
            self._read_ahead(parent, i + 1)
        node = self._nodes.load_node(parent.children[i + 1])
        while node.level > 0:
            frames.append((node, 0))
            if node.level == 1:
                self._read_ahead(node, 0)
            node = self._nodes.load_node(node.children[0])
        self._leaf, self._index = node, 0
        return True

    def peek(self) -> tuple[bytes, bytes] | None:
        """The next item without consuming it, or None at the end."""
        while self._index >= len(self._leaf.keys):
            if not self._next_leaf():
                return None
        key = self._leaf.keys[self._index]
        if self._end is not None and key >= self._end:
            return None
        return key, self._leaf.values[self._index]

    def __next__(self) -> tuple[bytes, bytes]:
        # The common case inline (an entry left in the current leaf, before the end):
        # listings step through a thousand entries per page.
        leaf, index, end = self._leaf, self._index, self._end
        if index < len(leaf.keys):
            key = leaf.keys[index]
            if end is None or key < end:
                self._index = index + 1
                return key, leaf.values[index]
            raise StopIteration
        item = self.peek()
        if item is None:
            raise StopIteration
        self._index += 1
        return item

    def seek(self, key: bytes) -> None:
        """Skip forward to the first item with a key at or after ``key`` (never backward)."""
        item = self.peek()
        if item is None or item[0] >= key:
            return
        leaf = self._leaf
        if leaf.keys[-1] >= key:
            self._index = bisect_left(leaf.keys, key, self._index)
        else:
            self._descend(key)
