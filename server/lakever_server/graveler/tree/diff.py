"""The difference between two trees, skipping every subtree they share.

Both trees are walked together as frontiers of ``[node, index]`` frames. When the heads
of both frontiers are references to the same node id, the whole subtree is identical on
both sides and is skipped without being read. Because node boundaries depend only on
the keys, unchanged regions of two versions are made of the very same nodes, so a diff
reads O(changes x depth) nodes.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from lakever_server.graveler.tree.codec import Node
from lakever_server.graveler.tree.nodes import DecodedNodeStore


@dataclass(frozen=True, slots=True)
class Change:
    """A key whose value differs: ``left`` or ``right`` is None where the key is absent."""

    key: bytes
    left: bytes | None
    right: bytes | None


class _Frontier:
    """The remaining entries of one tree, in key order, as a stack of node frames.

    Each frame is ``[node, index, low]`` where ``low`` is the exclusive lower bound of the
    node's keys (None: unbounded), so every head knows its key range.
    """

    def __init__(self, nodes: DecodedNodeStore, root: Node) -> None:
        self._nodes = nodes
        self.frames: list[tuple[Node, int, bytes | None]] = [(root, 0, None)]
        self.settle()

    def settle(self) -> None:
        frames = self.frames
        while frames and frames[-1][1] >= len(frames[-1][0].keys):
            frames.pop()
            if frames:
                node, i, low = frames[-1]
                frames[-1] = (node, i + 1, low)

    @property
    def done(self) -> bool:
        return not self.frames

    @property
    def level(self) -> int:
        """Level of the head: -1 for an item, else the level of the referenced node."""
        return self.frames[-1][0].level - 1

    @property
    def key(self) -> bytes:
        """The head item's key, or the last key of the head subtree."""
        node, i, _ = self.frames[-1]
        return node.keys[i]

    @property
    def low(self) -> bytes | None:
        """Exclusive lower bound of the head's keys."""
        node, i, low = self.frames[-1]
        return node.keys[i - 1] if i else low

    @property
    def value(self) -> bytes:
        node, i, _ = self.frames[-1]
        return node.values[i]

    @property
    def child(self) -> str:
        node, i, _ = self.frames[-1]
        return node.children[i]

    def advance(self) -> None:
        node, i, low = self.frames[-1]
        self.frames[-1] = (node, i + 1, low)
        self.settle()

    def stop(self) -> None:
        """Drop every remaining entry."""
        self.frames.clear()

    def expand(self) -> None:
        """Replace the head subtree reference by the subtree's entries."""
        low = self.low
        self.frames.append((self._nodes.load_node(self.child), 0, low))
        self.settle()


def _before(side: _Frontier, start: bytes) -> bool:
    """Whether the head lies wholly before ``start``."""
    return side.key < start


def _past(side: _Frontier, end: bytes | None) -> bool:
    """Whether the head (and so all that follows) lies at or after ``end``."""
    if end is None:
        return False
    if side.level < 0:
        return side.key >= end
    low = side.low
    return low is not None and low >= end


def diff_trees(
    nodes: DecodedNodeStore,
    left_id: str,
    right_id: str,
    start: bytes = b"",
    end: bytes | None = None,
) -> Iterator[Change]:
    """Yield ``Change`` for every key in ``[start, end)`` whose value differs, in order."""
    if left_id == right_id:
        return
    left = _Frontier(nodes, nodes.load_node(left_id))
    right = _Frontier(nodes, nodes.load_node(right_id))
    while True:
        for side in (left, right):
            while not side.done and (_before(side, start) or _past(side, end)):
                if _past(side, end):
                    side.stop()
                else:
                    side.advance()
        if left.done and right.done:
            return
        if left.done or right.done:
            side = right if left.done else left
            if side.level >= 0:
                side.expand()
            else:
                value = side.value
                yield Change(side.key, None, value) if left.done else Change(side.key, value, None)
                side.advance()
            continue
        yield from _step(left, right, end)


def _step(left: _Frontier, right: _Frontier, end: bytes | None) -> Iterator[Change]:
    """Make progress on two non-empty frontiers, within keys before ``end``."""
    lvl, rvl = left.level, right.level
    if lvl < 0 and rvl < 0:
        yield from _merge_leaves(left, right, end)
        return
    if lvl >= 0 and rvl >= 0 and left.child == right.child:
        left.advance()  # the same subtree on both sides: skipped unread
        right.advance()
        return
    # A head wholly before the other's range holds keys only its side has: open it.
    rlow, llow = right.low, left.low
    if lvl >= 0 and rlow is not None and left.key <= rlow:
        left.expand()
    elif rvl >= 0 and llow is not None and right.key <= llow:
        right.expand()
    elif lvl < 0 and rlow is not None and left.key <= rlow:
        yield Change(left.key, left.value, None)
        left.advance()
    elif rvl < 0 and llow is not None and right.key <= llow:
        yield Change(right.key, None, right.value)
        right.advance()
    elif lvl > rvl:
        left.expand()
    elif rvl > lvl:
        right.expand()
    else:
        left.expand()
        right.expand()


def _merge_leaves(left: _Frontier, right: _Frontier, end: bytes | None) -> Iterator[Change]:
    """Compare two leaves entry by entry until one of them (or the window) ends."""
    lnode, li, llow = left.frames[-1]
    rnode, ri, rlow = right.frames[-1]
    lkeys, lvalues, ln = lnode.keys, lnode.values, len(lnode.keys)
    rkeys, rvalues, rn = rnode.keys, rnode.values, len(rnode.keys)
    while li < ln and ri < rn:
        lk, rk = lkeys[li], rkeys[ri]
        if end is not None and min(lk, rk) >= end:
            break
        if lk == rk:
            if lvalues[li] != rvalues[ri]:
                yield Change(lk, lvalues[li], rvalues[ri])
            li += 1
            ri += 1
        elif lk < rk:
            yield Change(lk, lvalues[li], None)
            li += 1
        else:
            yield Change(rk, None, rvalues[ri])
            ri += 1
    left.frames[-1] = (lnode, li, llow)
    right.frames[-1] = (rnode, ri, rlow)
    left.settle()
    right.settle()
