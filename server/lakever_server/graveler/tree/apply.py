"""Merging a sorted change stream into a tree, rewriting only what the changes touch.

Level by level, from the leaves up: each change is routed to the node holding its key,
that node's entries are merged with the changes and re-chunked from the node's start
(the previous node ends at a boundary, so the chunker starts fresh there, exactly as
when the tree was built). Re-chunking runs on into the following old nodes only until a
new boundary falls at the end of an old node: from there on the new level is identical
to the old one. The rewritten nodes then become changes to the level above (old
references removed, new ones added), and so on up to the root. The cost is
O(changes x depth) node reads and writes, whatever the size of the tree.
"""

from __future__ import annotations

import itertools
from bisect import bisect_left
from collections import deque
from collections.abc import Iterable, Iterator
from typing import cast

from lakever_server.errors import InvalidValue
from lakever_server.graveler.tree.build import LevelBuilder, NodeWriter
from lakever_server.graveler.tree.chunker import (
    Chunker,
    ChunkingRule,
    Columns,
    Hint,
    entry_sizes,
    node_columns,
)
from lakever_server.graveler.tree.codec import PATCH_LIMIT, Node
from lakever_server.graveler.tree.cursor import LevelCursor
from lakever_server.graveler.tree.nodes import DecodedNodeStore, PrefetchingNodeStore

Payload = bytes | tuple[str, int]
"""What an entry carries: a value (leaf) or ``(child id, item count)`` (internal)."""
EntryChange = tuple[bytes, Payload | None]
Ref = tuple[bytes, str, int]  # (last key, node id, item count)
PREFETCH_WINDOW = 256
"""Changes whose nodes are loaded in one batch, on stores that can (``prefetch``)."""


def sorted_changes(changes: Iterable[tuple[bytes, bytes | None]]) -> Iterator[EntryChange]:
    """Pass ``changes`` through, refusing keys that are not strictly increasing."""
    previous: bytes | None = None
    for key, value in changes:
        if not isinstance(key, bytes) or not (value is None or isinstance(value, bytes)):
            raise InvalidValue("tree keys and values must be bytes", field="changes")
        if previous is not None and key <= previous:
            raise InvalidValue(
                f"tree changes must be sorted by key and unique: {key!r} after {previous!r}",
                field="changes",
            )
        previous = key
        yield key, value


class _Unreading(Iterator[EntryChange]):
    """An iterator of changes that can be handed back changes read ahead (``push``)."""

    __slots__ = ("_ahead", "_stream")

    def __init__(self, stream: Iterator[EntryChange]) -> None:
        self._stream = stream
        self._ahead: deque[EntryChange] = deque()

    def push(self, changes: list[EntryChange]) -> None:
        """Make ``changes`` (read from this iterator, in order) the next ones again."""
        self._ahead.extendleft(reversed(changes))

    def __next__(self) -> EntryChange:
        if self._ahead:
            return self._ahead.popleft()
        return next(self._stream)


class _LevelRewrite:
    """Applies one level's changes; collects the new and the replaced node references."""

    def __init__(
        self,
        nodes: DecodedNodeStore,
        writer: NodeWriter,
        rule: ChunkingRule,
        level: int,
        prefetcher: PrefetchingNodeStore | None = None,
    ) -> None:
        self._nodes = nodes
        self._writer = writer
        self._prefetcher = prefetcher
        self._chunker = Chunker(level, rule)
        self._level = level
        self.added: list[Ref] = []
        self.removed: dict[bytes, tuple[str, int]] = {}

    def _feed(
        self,
        cols: Columns,
        lo: int,
        hi: int,
        sizes: list[int] | None = None,
        hint: Hint | None = None,
    ) -> None:
        if lo < hi:
            for node in self._chunker.feed(cols, lo, hi, sizes, hint):
                self.added.append((node.keys[-1], self._writer.write(node), node.count))

    def _inserts(self) -> Columns:
        return ([], []) if self._level == 0 else ([], [], [])

    def _buffer(self, inserts: Columns, key: bytes, payload: Payload) -> None:
        inserts[0].append(key)
        if self._level == 0:
            inserts[1].append(payload)
        else:
            child, count = cast(tuple[str, int], payload)
            inserts[1].append(child)
            inserts[2].append(count)

    def _replace_values(self, node_id: str, node: Node, batch: list[EntryChange]) -> bool:
        """Rewrite the cursor's node when ``batch`` only replaces values of its keys.

        The node starts at a boundary (the chunker is empty) and keeps its keys, so the
        key-hash boundaries and the item count are unchanged; when neither the old nor
        the new node reaches ``max_bytes`` no byte limit cuts either, so re-chunking
        would give back the same keys with the new values. This is most changes of a
        scattered commit (and every change above the leaves that moves no boundary),
        and skips the re-chunking. The new node is written as a patch of the old one's
        base while few of its entries differ from it (``codec.PATCH_LIMIT``). Changes
        that change nothing (a value set to itself, a delete of an absent key) are
        dropped, and a batch of only those writes nothing. Returns False, writing
        nothing, when it does not apply.
        """
        keys, n = node.keys, len(node.keys)
        if not n or len(batch) > n:
            return False  # more changes than entries cannot all be replacements
        leaf = self._level == 0
        slots: list[int] = []
        payloads: list[Payload] = []
        grown = 0
        for key, payload in batch:
            j = bisect_left(keys, key)
            present = j < n and keys[j] == key
            if payload is None:
                if present:
                    return False
                continue
            if not present:
                return False
            if leaf:
                old = node.values[j]
                if payload == old:
                    continue
                grown += len(cast(bytes, payload)) - len(old)
            elif payload == (node.children[j], node.counts[j]):
                continue
            slots.append(j)
            payloads.append(payload)
        if not slots:
            return True
        size = node.payload_bytes()
        if max(size, size + grown) >= self._chunker.rule.max_bytes:
            return False
        if leaf:
            values = list(node.values)
            resized = False
            for j, payload in zip(slots, payloads, strict=True):
                resized = resized or len(cast(bytes, payload)) != len(values[j])
                values[j] = cast(bytes, payload)
            new = Node.leaf(keys, values)
            new.payload = size + grown
            if not resized:  # same keys, same value sizes: the same offsets
                new.ends = node.ends
        else:
            children, counts = list(node.children), list(node.counts)
            total = node.count
            for j, payload in zip(slots, payloads, strict=True):
                child, count = cast(tuple[str, int], payload)
                total += count - counts[j]
                children[j], counts[j] = child, count
            new = Node(self._level, keys, children=children, counts=counts, count=total)
            new.ends, new.payload = node.ends, size  # same keys: the same key offsets
        patched = sorted({*node.patched, *slots}) if node.base else slots
        if PATCH_LIMIT * len(patched) <= n:
            new.base, new.patched = node.base or node_id, tuple(patched)
        self.removed[keys[-1]] = (node_id, node.count)
        self.added.append((keys[-1], self._writer.write(new), new.count))
        return True

    def run(self, cursor: LevelCursor, stream: Iterator[EntryChange]) -> None:
        """Apply this level's sorted changes, a window of ``PREFETCH_WINDOW`` at a time.

        A window's keys are routed down the tree in one pass (loading each level's
        nodes in one batch on stores that can), which splits them among the nodes of
        this level. Each node's changes are first tried as value replacements
        (``_replace_values``); where they are not, the level is re-chunked from that
        node on (``_rechunk``) and the next window starts after what it took.
        """
        changes = _Unreading(stream)
        fetch = self._prefetcher.prefetch if self._prefetcher is not None else None
        load = self._nodes.load_node
        while True:
            window = list(itertools.islice(changes, PREFETCH_WINDOW))
            if not window:
                return
            full = len(window) == PREFETCH_WINDOW  # more changes may follow the window
            ids, spans = cursor.route([key for key, _ in window], fetch)
            rest = len(window)  # the changes from here on go back to the stream
            for nid, (j, k) in zip(ids, spans, strict=True):
                open_ended = full and k == len(window)  # its changes may go on past the window
                if open_ended and j:
                    rest = j  # the next window starts with this node
                    break
                if not open_ended and self._replace_values(nid, load(nid), window[j:k]):
                    continue
                # Re-chunk from this node on, streaming changes past the window if need be.
                changes.push(window[j + 1 :])
                pending = self._rechunk(cursor, window[j], changes)
                if pending is not None:
                    changes.push([pending])
                break
            changes.push(window[rest:])

    def _rechunk(
        self, cursor: LevelCursor, first: EntryChange, changes: _Unreading
    ) -> EntryChange | None:
        """Re-chunk the level from the node holding ``first``'s key, taking changes from
        ``changes`` until a new boundary falls at the end of an old node (the rest of the
        level is then unchanged); the first change not taken, if any."""
        chunker = self._chunker
        cursor.seek(first[0])
        pending: EntryChange | None = first
        while True:
            node = cursor.node
            last = cursor.is_last()
            keys, n = node.keys, len(node.keys)
            cols = node_columns(node)
            sizes = entry_sizes(self._level, cols)
            hint = chunker.hint(n, sizes[-1], last)
            if n:
                self.removed[keys[-1]] = (cursor.node_id, node.count)
            # New entries between two old ones are fed as one run.
            inserts = self._inserts()
            i = 0
            while pending is not None and (last or pending[0] <= keys[-1]):
                key, payload = pending
                j = bisect_left(keys, key, i)
                if j > i:
                    self._feed(inserts, 0, len(inserts[0]))
                    inserts = self._inserts()
                    self._feed(cols, i, j, sizes, hint)
                i = j + 1 if j < n and keys[j] == key else j
                if payload is not None:
                    self._buffer(inserts, key, payload)
                pending = next(changes, None)
            self._feed(inserts, 0, len(inserts[0]))
            self._feed(cols, i, n, sizes, hint)
            if last:
                final = chunker.flush()
                if final is not None:
                    self.added.append((final.keys[-1], self._writer.write(final), final.count))
                return pending
            if chunker.empty:
                return pending  # a new boundary at an old one: the rest is unchanged
            cursor.advance()

    def changes_above(self) -> list[EntryChange]:
        """This level's rewrite as sorted changes to the level above, no-ops dropped."""
        out: dict[bytes, Payload | None] = dict.fromkeys(self.removed)
        for key, nid, count in self.added:
            if self.removed.get(key) == (nid, count):
                del out[key]
            else:
                out[key] = (nid, count)
        return sorted(out.items(), key=lambda change: change[0])


def apply_changes(
    nodes: DecodedNodeStore,
    writer: NodeWriter,
    rule: ChunkingRule,
    root_id: str,
    changes: Iterable[tuple[bytes, bytes | None]],
    superseded: list[str] | None = None,
) -> str:
    """Apply sorted ``changes`` (``None`` deletes) to the tree at ``root_id``; new root id.

    ``superseded``, when given, receives the ids of the old nodes the new tree no longer
    holds (those rewritten, at every level).
    """
    checked = sorted_changes(changes)
    first = next(checked, None)
    if first is None:
        # No change, no new tree: the rewrite below would otherwise see a root level with
        # nothing rewritten and return the empty tree.
        return root_id
    root = nodes.load_node(root_id)
    level_changes: Iterator[EntryChange] = itertools.chain([first], checked)
    prefetcher = nodes if isinstance(nodes, PrefetchingNodeStore) else None
    for level in range(root.level + 1):
        # The leaf level's routing loads every node on the changes' paths: the levels
        # above rewrite the parents of nodes rewritten below, which it loaded.
        rewrite = _LevelRewrite(nodes, writer, rule, level, prefetcher if level == 0 else None)
        rewrite.run(LevelCursor(nodes, root_id, root, level), level_changes)
        if superseded is not None:
            kept = {nid for _, nid, _ in rewrite.added}
            superseded.extend(nid for nid, _ in rewrite.removed.values() if nid not in kept)
        if level == root.level:
            if not rewrite.removed and not rewrite.added:
                return root_id  # every change was a no-op (``_replace_values``)
            return _new_root(nodes, writer, rule, level, rewrite.added)
        above = rewrite.changes_above()
        if not above:
            return root_id
        level_changes = iter(above)
    raise AssertionError("unreachable: the root level returns")


def _new_root(
    nodes: DecodedNodeStore, writer: NodeWriter, rule: ChunkingRule, level: int, top: list[Ref]
) -> str:
    """The root over ``top``, the complete rewritten top level (nodes of ``level``)."""
    if not top:
        return writer.write_empty()
    if len(top) == 1:
        # The tree may have shrunk: a root with a single child is that child.
        nid = top[0][1]
        node = nodes.load_node(nid)
        while node.level > 0 and len(node.keys) == 1:
            nid = node.children[0]
            node = nodes.load_node(nid)
        return nid
    builder = LevelBuilder(writer, rule, base_level=level + 1)
    builder.feed(level + 1, ([r[0] for r in top], [r[1] for r in top], [r[2] for r in top]))
    return builder.finish()
