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
from dataclasses import dataclass
from typing import Final, cast

from lakever_server.graveler.tree.codec import Node

Payload = bytes | tuple[str, int]
"""What an entry carries: a value (leaf) or ``(child id, item count)`` (internal)."""

_WORDS: Final = struct.Struct("<8I")
_REF_BYTES: Final = 44  # encoded size of a child reference besides its key


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


class Chunker:
    """Collects the entries of one level and cuts them into nodes at boundaries.

    ``add`` returns True when the entry just added ends a node; the caller then takes
    the node with ``cut``. ``flush`` takes whatever is left at the end of the level.
    """

    __slots__ = ("_bytes", "_children", "_counts", "_keys", "_values", "level", "rule")

    def __init__(self, level: int, rule: ChunkingRule = DEFAULT_RULE) -> None:
        self.level = level
        self.rule = rule
        self._keys: list[bytes] = []
        self._values: list[bytes] = []
        self._children: list[str] = []
        self._counts: list[int] = []
        self._bytes = 0

    @property
    def empty(self) -> bool:
        """Whether no entry is pending, i.e. the chunker stands at a boundary."""
        return not self._keys

    def add(self, key: bytes, payload: Payload) -> bool:
        """Append an entry; True when a boundary falls after it."""
        self._keys.append(key)
        if self.level == 0:
            value = cast(bytes, payload)
            self._values.append(value)
            self._bytes += len(key) + len(value)
        else:
            child, count = cast(tuple[str, int], payload)
            self._children.append(child)
            self._counts.append(count)
            self._bytes += len(key) + _REF_BYTES
        return self._at_boundary(key)

    def add_known(self, key: bytes, payload: Payload) -> None:
        """Append an entry known not to end a node (it did not in the same context)."""
        self._keys.append(key)
        if self.level == 0:
            value = cast(bytes, payload)
            self._values.append(value)
            self._bytes += len(key) + len(value)
        else:
            child, count = cast(tuple[str, int], payload)
            self._children.append(child)
            self._counts.append(count)
            self._bytes += len(key) + _REF_BYTES

    def _at_boundary(self, key: bytes) -> bool:
        rule = self.rule
        n = len(self._keys)
        if n >= rule.max_items or self._bytes >= rule.max_bytes:
            return True
        if n < rule.min_items:
            return False
        return key_word(key, self.level) < rule.threshold

    def cut(self) -> Node:
        """Take the pending entries as a node and start afresh."""
        if self.level == 0:
            node = Node.leaf(self._keys, self._values)
            self._values = []
        else:
            node = Node.internal(self.level, self._keys, self._children, self._counts)
            self._children = []
            self._counts = []
        self._keys = []
        self._bytes = 0
        return node

    def flush(self) -> Node | None:
        """The last, possibly short, node of the level, or None when nothing is pending."""
        return None if self.empty else self.cut()
