"""Helpers shared by the tree tests: datasets, a counting node store, a reference model."""

from __future__ import annotations

import hashlib
import random

from lakever_server.graveler.tree import MemoryNodeStore, Tree
from lakever_server.graveler.tree.nodes import decoding

Items = list[tuple[bytes, bytes]]
Changes = list[tuple[bytes, bytes | None]]


class CountingNodeStore(MemoryNodeStore):
    """A memory node store that counts every read and write (it has no cache)."""

    def __init__(self) -> None:
        super().__init__()
        self.gets = 0
        self.puts = 0

    def get(self, node_id: str) -> bytes:
        self.gets += 1
        return super().get(node_id)

    def put(self, node_id: str, data: bytes) -> None:
        self.puts += 1
        super().put(node_id, data)

    def reset_counts(self) -> None:
        self.gets = 0
        self.puts = 0


def object_key(partition: int, file: int) -> bytes:
    return f"data/part-{partition:05d}/file-{file:06d}.parquet".encode()


def object_value(key: bytes, version: int = 0) -> bytes:
    """A deterministic ~150-byte value, like an encoded object entry."""
    digest = hashlib.sha256(key + version.to_bytes(4, "little")).hexdigest()
    size = len(key) * 1000 + version
    return f'{{"address":"{digest}","size":{size},"etag":"{digest[:32]}"}}'.encode()


def lake_items(count: int, files_per_partition: int = 100) -> Items:
    """``count`` object entries, sorted, in partitions of ``files_per_partition`` files."""
    return [
        (key, object_value(key))
        for key in (
            object_key(i // files_per_partition, i % files_per_partition) for i in range(count)
        )
    ]


def random_items(rnd: random.Random, count: int, max_key: int = 12) -> Items:
    keys = {rnd.randbytes(rnd.randint(1, max_key)) for _ in range(count)}
    return [(key, rnd.randbytes(rnd.randint(0, 20))) for key in sorted(keys)]


def random_changes(
    rnd: random.Random, model: dict[bytes, bytes], count: int, delete_ratio: float = 0.3
) -> Changes:
    """Updates, inserts and deletes (some of absent keys), sorted and unique."""
    existing = sorted(model)
    changes: dict[bytes, bytes | None] = {}
    for _ in range(count):
        known = existing and rnd.random() < 0.5
        key = rnd.choice(existing) if known else rnd.randbytes(rnd.randint(1, 12))
        changes[key] = None if rnd.random() < delete_ratio else rnd.randbytes(rnd.randint(0, 20))
    return sorted(changes.items())


def applied(model: dict[bytes, bytes], changes: Changes) -> dict[bytes, bytes]:
    """The reference model with ``changes`` applied."""
    out = dict(model)
    for key, value in changes:
        if value is None:
            out.pop(key, None)
        else:
            out[key] = value
    return out


def dict_diff(
    left: dict[bytes, bytes], right: dict[bytes, bytes]
) -> list[tuple[bytes, bytes | None, bytes | None]]:
    """Brute-force diff of two models, in key order."""
    keys = sorted(set(left) | set(right))
    return [(k, left.get(k), right.get(k)) for k in keys if left.get(k) != right.get(k)]


Shape = tuple[object, ...]


def shape(tree: Tree, root: str) -> Shape:
    """The tree's logical shape: each node's level and keys, the leaves' values, the
    internal nodes' counts and their children's shapes (not ids). What depends on the
    contents alone, whether a node is stored whole or as a patch of an earlier one."""
    nodes = decoding(tree.store)

    def walk(nid: str) -> Shape:
        node = nodes.load_node(nid)
        if node.level == 0:
            return (0, tuple(node.keys), tuple(node.values))
        below = tuple(walk(child) for child in node.children)
        return (node.level, tuple(node.keys), tuple(node.counts), below)

    return walk(root)
