"""The difference between two trees, skipping every subtree they share.

Both trees are walked together as frontiers of ``[node, index]`` frames. When the heads
of both frontiers are references to the same node id, the whole subtree is identical on
both sides and is skipped without being read. Because node boundaries depend only on
the keys, unchanged regions of two versions are made of the very same nodes, so a diff
reads O(changes x depth) nodes.

On a store that can load many nodes at once (``PrefetchingNodeStore``), the nodes the
walk is about to read are loaded in batches, one per level per window of the keyspace
(see ``_Planner``), so a cold diff costs a round trip per level per window, not one per
node. Only nodes the walk is certain to read are batched: never a subtree whose id is
equal on both sides.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterator
from dataclasses import dataclass

from lakever_server.errors import LakeverError
from lakever_server.graveler.tree.codec import Node
from lakever_server.graveler.tree.nodes import DecodedNodeStore, PrefetchingNodeStore

PREFETCH_WINDOW = 256
"""Nodes per level loaded in one batch, on stores that can (``prefetch``)."""


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

    def __init__(self, nodes: DecodedNodeStore, root: Node, planner: _Planner | None) -> None:
        self._nodes = nodes
        self._planner = planner
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
        child = self.child
        node = None
        if self._planner is not None:
            self._planner.before_reading(low)
            node = self._planner.take(child)
        self.frames.append((self._nodes.load_node(child) if node is None else node, 0, low))
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
    planner: _Planner | None = None
    if isinstance(nodes, PrefetchingNodeStore):
        nodes.prefetch([left_id, right_id])
    left_root, right_root = nodes.load_node(left_id), nodes.load_node(right_id)
    if isinstance(nodes, PrefetchingNodeStore):
        planner = _Planner(nodes, nodes, (left_id, left_root), (right_id, right_root), start, end)
    left = _Frontier(nodes, left_root, planner)
    right = _Frontier(nodes, right_root, planner)
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


Span = tuple[bytes | None, bytes | None, str]
"""A node's key range and id: ``(low, high, id)``, keys in ``(low, high]``; None: unbounded."""


def _overlaps(span: Span, after: bytes | None, start: bytes, end: bytes | None) -> bool:
    """Whether the span holds keys after ``after`` within ``[start, end)``."""
    low, high, _ = span
    if high is not None and ((after is not None and high <= after) or high < start):
        return False
    return end is None or low is None or low < end


class _Cover:
    """The union of one side's spans at a level, to ask whether it holds a range whole."""

    def __init__(self, spans: list[Span]) -> None:
        """``spans``: one side's, in key order (they never overlap)."""
        merged: list[list[bytes | None]] = []
        for low, high, _ in spans:
            last = merged[-1] if merged else None
            if last is not None and last[1] is not None and low is not None and low <= last[1]:
                last[1] = None if high is None else max(high, last[1])
            else:
                merged.append([low, high])
        self._unbounded_low = merged[0] if merged and merged[0][0] is None else None
        self._intervals = [m for m in merged if m[0] is not None]
        self._lows = [m[0] for m in self._intervals]

    def holds(self, span: Span) -> bool:
        low, high, _ = span
        if low is None:
            interval = self._unbounded_low
        else:
            i = bisect_right(self._lows, low) - 1  # type: ignore[type-var]
            interval = self._intervals[i] if i >= 0 else self._unbounded_low
        if interval is None:
            return False
        top = interval[1]
        return top is None or (high is not None and high <= top)


def _node_children(node: Node, span: Span, only: set[str] | None = None) -> list[Span]:
    """The spans of a node's children (those in ``only`` if given); the first and last
    extend to the node's bounds (a key there is routed to them)."""
    low, high, _ = span
    keys, children = node.keys, node.children
    last = len(keys) - 1
    if only is None:
        picked: range | list[int] = range(len(keys))
    else:
        picked = [i for i, child in enumerate(children) if child in only]
    return [
        (keys[i - 1] if i else low, high if i == last else keys[i], children[i]) for i in picked
    ]


class _Planner:
    """Loads, in batches, the nodes a diff is certain to read, one window at a time.

    A window starts where the walk first needs a node past the last window. From both
    roots down, level by level, the nodes to read are computed by ids alone: at a level
    where both trees have nodes, a node is read for certain when the other side's nodes
    at that level cover its whole key range and none of them has its id (an equal id
    would be skipped unread; a partial cover leaves the answer to the walk itself). A
    level where only the taller tree has nodes is read whole. Each level's nodes go to
    ``prefetch`` in one call, at most ``PREFETCH_WINDOW`` of them: the window ends at the
    last one's high key, and the next window starts from there.
    """

    def __init__(
        self,
        nodes: DecodedNodeStore,
        prefetcher: PrefetchingNodeStore,
        left: tuple[str, Node],
        right: tuple[str, Node],
        start: bytes,
        end: bytes | None,
    ) -> None:
        self._nodes = nodes
        self._prefetcher = prefetcher
        self._roots = (left[0], right[0])
        self._root_nodes = (left[1], right[1])
        # Internal nodes the last plan decoded, handed to the walk (saves a second lookup).
        self._loaded: dict[str, Node] = {}
        self._start = start
        self._end = end
        self._horizon: bytes | None = None
        self._done = False

    def before_reading(self, low: bytes | None) -> None:
        """The walk is about to read a node whose keys follow ``low``."""
        if self._done:
            return
        if self._horizon is not None and (low is None or low < self._horizon):
            return  # within the window planned last: its nodes were loaded then
        try:
            self._plan(low)
        except (LakeverError, ValueError, KeyError):
            self._done = True  # a node that cannot be read: the walk reports it

    def take(self, node_id: str) -> Node | None:
        """The node if the last plan decoded it (once), else None."""
        return self._loaded.pop(node_id, None)

    def _root_or_load(self, node_id: str) -> Node:
        for rid, root in zip(self._roots, self._root_nodes, strict=True):
            if node_id == rid:
                return root
        node = self._loaded.get(node_id)
        if node is None:
            node = self._loaded[node_id] = self._nodes.load_node(node_id)
        return node

    def _plan(self, after: bytes | None) -> None:
        self._loaded = {}
        levels = [root.level for root in self._root_nodes]
        # Per side, the nodes at ``level`` the walk will read, in key order (None: that
        # tree is not that tall).
        sides: list[list[Span] | None] = [None, None]
        cut: bytes | None = None
        for level in range(max(levels), -1, -1):
            for i in (0, 1):
                if levels[i] == level:
                    sides[i] = [(None, None, self._roots[i])]
            last = _window_end([side for side in sides if side is not None])
            if last is not None and (cut is None or last < cut):
                cut = last
                sides = [
                    None if side is None else [s for s in side if _before_cut(s, cut)]
                    for side in sides
                ]
            ids = [s[2] for side in sides if side is not None for s in side]
            if ids:
                self._prefetcher.prefetch(ids)
            if level == 0:
                break
            left, right = sides
            if left is not None and right is not None:
                sides = list(self._differing_children(left, right, after, cut))
            else:
                sides = [
                    None if side is None else self._children(side, None, after, cut)
                    for side in sides
                ]
        if cut is None:
            self._done = True
        else:
            self._horizon = cut

    def _children(
        self, spans: list[Span], only: set[str] | None, after: bytes | None, cut: bytes | None
    ) -> list[Span]:
        """The children of ``spans`` (those in ``only`` if given) within the window."""
        start, end = self._start, self._end
        out: list[Span] = []
        for span in spans:
            node = self._root_or_load(span[2])
            if only is None:
                kids = _node_children(node, span)
            else:
                wanted = only.intersection(node.children)
                if not wanted:
                    continue
                kids = _node_children(node, span, wanted)
            out.extend(
                kid for kid in kids if _overlaps(kid, after, start, end) and _before_cut(kid, cut)
            )
        return out

    def _differing_children(
        self, left: list[Span], right: list[Span], after: bytes | None, cut: bytes | None
    ) -> tuple[list[Span], list[Span]]:
        """The children of two sides' nodes that the walk will read.

        Nodes with the same key range on both sides (a node rewritten in place, the
        usual case) are compared by their children's ids alone. Elsewhere a child is read
        for certain when the other side's children cover its range and none has its id.
        """
        twins = {(s[0], s[1]): s for s in right}
        paired: set[str] = set()
        next_left: list[Span] = []
        next_right: list[Span] = []
        rest_left: list[Span] = []
        for span in left:
            twin = twins.get((span[0], span[1]))
            if twin is None:
                rest_left.append(span)
                continue
            paired.add(twin[2])
            lkids = set(self._root_or_load(span[2]).children)
            rkids = set(self._root_or_load(twin[2]).children)
            next_left += self._children([span], lkids - rkids, after, cut)
            next_right += self._children([twin], rkids - lkids, after, cut)
        rest_right = [s for s in right if s[2] not in paired]
        if rest_left or rest_right:
            lkids_all = self._children(rest_left, None, after, cut)
            rkids_all = self._children(rest_right, None, after, cut)
            left_ids, right_ids = {s[2] for s in lkids_all}, {s[2] for s in rkids_all}
            left_cover, right_cover = _Cover(lkids_all), _Cover(rkids_all)
            next_left += [s for s in lkids_all if s[2] not in right_ids and right_cover.holds(s)]
            next_right += [s for s in rkids_all if s[2] not in left_ids and left_cover.holds(s)]
            next_left.sort(key=_low_order)
            next_right.sort(key=_low_order)
        return next_left, next_right


def _low_order(span: Span) -> tuple[bool, bytes]:
    return span[0] is not None, span[0] or b""


def _before_cut(span: Span, cut: bytes | None) -> bool:
    low = span[0]
    return cut is None or low is None or low < cut


def _window_end(sides: list[list[Span]]) -> bytes | None:
    """The high key of the ``PREFETCH_WINDOW``-th span of ``sides`` in key order, or None
    when they hold no more (or the rest is unbounded)."""
    if sum(map(len, sides)) <= PREFETCH_WINDOW:
        return None
    wanted = sorted((s for side in sides for s in side), key=lambda s: (s[1] is None, s[1] or b""))
    return wanted[PREFETCH_WINDOW - 1][1]
