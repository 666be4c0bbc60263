"""Where node boundaries fall: the rule that makes a tree's shape depend on its contents.

A boundary falls after an entry when a hash of the entry's *key* is below a threshold, so
the boundaries depend only on the keys: updating a value never moves a boundary, and the
same keys always give the same nodes whatever order they were written in. Each level
hashes with its own salt (a different 32-bit word of the SHA-256): a child's last key
already met the rule one level down, so hashing it the same way again would cut after
every entry.

Bounds keep pathological keys from making tiny or giant nodes: no natural boundary before
``min_items`` entries, and a forced one at ``max_items`` entries or ``max_bytes`` of keys
and values. The counts restart after every boundary, so a boundary depends on the keys
since the previous boundary only; that is what lets ``apply`` stop re-chunking as soon as
a new boundary coincides with an old one.
"""

from __future__ import annotations

import hashlib
import struct
from bisect import bisect_left
from dataclasses import dataclass
from itertools import accumulate, repeat
from operator import add
from typing import Any, Final, cast

from lakever_server.errors import InvalidValue
from lakever_server.graveler.tree.codec import REF_BYTES as _REF_BYTES
from lakever_server.graveler.tree.codec import Node

_WORDS: Final = struct.Struct("<8I")


@dataclass(frozen=True)
class ChunkingRule:
    """The parameters of the boundary rule. Part of the format: changing them changes ids.

    The mean node size is about ``target_items`` entries: a boundary is possible from the
    ``min_items``-th entry on, each time with probability ``1 / (target - min + 1)``.
    """

    target_items: int = 64
    min_items: int = 8
    max_items: int = 512
    max_bytes: int = 256 * 1024

    def __post_init__(self) -> None:
        if not 1 <= self.min_items < self.target_items or self.max_items < self.min_items:
            raise InvalidValue(
                "chunking needs 1 <= min_items < target_items and min_items <= max_items",
                field="rule",
            )
        if self.max_bytes < 1:
            raise InvalidValue("chunking needs max_bytes >= 1", field="rule")

    @property
    def threshold(self) -> int:
        return (1 << 32) // (self.target_items - self.min_items + 1)


DEFAULT_RULE = ChunkingRule()


def key_word(key: bytes, level: int) -> int:
    """The 32-bit hash of ``key`` that decides boundaries at ``level``."""
    if level < 8:
        return cast(int, _WORDS.unpack(hashlib.sha256(key).digest())[level])
    salted = hashlib.sha256(level.to_bytes(4, "little") + key).digest()
    return cast(int, _WORDS.unpack(salted)[0])


Columns = tuple[list[Any], ...]
"""Entries as parallel lists: ``(keys, values)`` for leaves, ``(keys, children, counts)``."""


@dataclass(frozen=True, slots=True)
class Hint:
    """What an old node tells about the boundary hashes of its entries.

    In an old node of ``n`` entries, an entry at index ``min_items - 1 <= t < n - 1`` did
    not end the node although it could have, so its key hash is known to miss the
    threshold (``misses``); the last entry of a node that was neither forced nor the end
    of its level is known to hit it (``hit``). The hash depends on the key and level
    only, so this holds in any new context and re-chunking an old node hashes only the
    few entries it knows nothing about.
    """

    misses: range
    hit: int


def entry_sizes(level: int, cols: Columns) -> list[int]:
    """Prefix sums of entry sizes (what ``max_bytes`` counts), starting at 0."""
    keys = cols[0]
    if level == 0:
        return list(accumulate(map(add, map(len, keys), map(len, cols[1])), initial=0))
    return list(accumulate(map(add, map(len, keys), repeat(_REF_BYTES)), initial=0))


class Chunker:
    """Collects the entries of one level and cuts them into nodes at boundaries.

    ``feed`` appends a run of entries and returns the nodes it completed; ``flush`` takes
    whatever is left at the end of the level. ``empty`` means the chunker stands at a
    boundary.
    """

    __slots__ = ("_bytes", "_cols", "_threshold", "level", "rule")

    def __init__(self, level: int, rule: ChunkingRule = DEFAULT_RULE) -> None:
        self.level = level
        self.rule = rule
        self._threshold = rule.threshold
        self._cols: Columns = ([], []) if level == 0 else ([], [], [])
        self._bytes = 0

    @property
    def empty(self) -> bool:
        return not self._cols[0]

    def hint(self, n: int, total_bytes: int, last_of_level: bool) -> Hint:
        """What an old node of this level, of ``n`` entries, tells about their hashes."""
        rule = self.rule
        natural_end = not last_of_level and n < rule.max_items and total_bytes < rule.max_bytes
        hit = n - 1 if natural_end and n >= rule.min_items else -1
        return Hint(range(rule.min_items - 1, n - 1), hit)

    def feed(
        self,
        cols: Columns,
        lo: int,
        hi: int,
        sizes: list[int] | None = None,
        hint: Hint | None = None,
    ) -> list[Node]:
        """Append entries ``lo..hi-1`` of ``cols``; return the nodes completed on the way.

        ``sizes`` are the prefix sums of ``entry_sizes(cols)`` when the caller has them;
        ``hint`` what the entries' old node tells about their hashes.
        """
        if sizes is None:
            sizes = entry_sizes(self.level, cols)
        rule, level, keys = self.rule, self.level, cols[0]
        threshold = self._threshold
        misses = hint.misses if hint is not None else range(0)
        hit = hint.hit if hint is not None else -1
        done: list[Node] = []
        t = lo
        while t < hi:
            pending = len(self._cols[0])
            # Forced cuts: the entry reaching max_items, or the first reaching max_bytes.
            forced = t + rule.max_items - pending - 1
            limit = min(hi, forced + 1)
            budget = rule.max_bytes - self._bytes + sizes[t]
            over = bisect_left(sizes, budget, t + 1, limit + 1)
            cut = over - 1 if over <= limit else (forced if forced < hi else -1)
            # The first natural boundary before that, once min_items is reached.
            scan = max(t, t + rule.min_items - pending - 1)
            stop = cut if cut >= 0 else hi
            while scan < stop:
                if scan in misses:
                    scan = misses.stop
                    continue
                if scan == hit or key_word(keys[scan], level) < threshold:
                    cut = scan
                    break
                scan += 1
            end = hi if cut < 0 else cut + 1
            for mine, theirs in zip(self._cols, cols, strict=True):
                mine.extend(theirs[t:end])
            self._bytes += sizes[end] - sizes[t]
            if cut >= 0:
                done.append(self.cut())
            t = end
        return done

    def cut(self) -> Node:
        """Take the pending entries as a node and start afresh."""
        cols = self._cols
        if self.level == 0:
            node = Node.leaf(cols[0], cols[1])
            self._cols = ([], [])
        else:
            node = Node.internal(self.level, cols[0], cols[1], cols[2])
            self._cols = ([], [], [])
        self._bytes = 0
        return node

    def flush(self) -> Node | None:
        """The last, possibly short, node of the level, or None when nothing is pending."""
        return None if self.empty else self.cut()


def node_columns(node: Node) -> Columns:
    """A node's entries as columns."""
    if node.level == 0:
        return (node.keys, node.values)
    return (node.keys, node.children, node.counts)
