"""``apply`` rewrites only the nodes a change touches and refuses malformed change streams."""

from __future__ import annotations

import random
import tracemalloc
from typing import Any

import pytest

from lakever_server.errors import InvalidValue
from lakever_server.graveler.tree import MemoryNodeStore, Tree
from lakever_server.graveler.tree.cursor import LevelCursor
from lakever_server.graveler.tree.nodes import decoding

from .trees import CountingNodeStore, lake_items, object_key, object_value


@pytest.fixture(scope="module")
def lake() -> tuple[CountingNodeStore, str, int]:
    """A 100,000-item tree: its store, root and depth (levels above the leaves)."""
    store = CountingNodeStore()
    tree = Tree(store)
    root = tree.build(lake_items(100_000))
    depth = tree.height(root)
    assert depth >= 2
    return store, root, depth


def test_100_scattered_changes_write_a_hundred_paths_not_the_tree(
    lake: tuple[CountingNodeStore, str, int],
) -> None:
    store, root, depth = lake
    tree = Tree(store)
    rnd = random.Random(3)
    keys = sorted(object_key(p, f) for f, p in enumerate(rnd.sample(range(1000), 100)))
    store.reset_counts()
    new_root = tree.apply(root, [(key, object_value(key, 1)) for key in keys])
    assert store.puts <= 100 * (depth + 1)
    assert store.puts < 100_000 / 64 / 4  # far fewer than the ~1,600 leaves
    assert store.gets <= 100 * (depth + 1) * 2
    assert tree.get(new_root, keys[0]) == object_value(keys[0], 1)
    assert tree.count(new_root) == 100_000


def test_a_new_partition_of_100_files_writes_a_handful_of_nodes(
    lake: tuple[CountingNodeStore, str, int],
) -> None:
    store, root, depth = lake
    tree = Tree(store)
    prefix = b"data/part-00500-late/"
    new_partition = [(prefix + b"file-%06d" % f, object_value(prefix, f)) for f in range(100)]
    store.reset_counts()
    new_root = tree.apply(root, new_partition)
    # 100 new items fill a few new leaves; above them one path per level is rewritten.
    assert store.puts <= 6 + 2 * (depth + 1)
    assert tree.count(new_root) == 100_100
    assert list(tree.iterate(new_root, prefix, prefix[:-1] + b"0")) == new_partition


def test_appending_after_the_last_key_keeps_the_cost_small(
    lake: tuple[CountingNodeStore, str, int],
) -> None:
    store, root, depth = lake
    tree = Tree(store)
    appended = [(b"zz/%03d" % i, b"v") for i in range(100)]
    store.reset_counts()
    new_root = tree.apply(root, appended)
    assert store.puts <= 6 + 2 * (depth + 1)
    assert list(tree.iterate(new_root, b"zz/")) == appended


def test_changes_out_of_order_are_refused() -> None:
    tree = Tree(CountingNodeStore())
    root = tree.build([(b"a", b"1"), (b"c", b"3")])
    with pytest.raises(InvalidValue) as raised:
        tree.apply(root, [(b"b", b"2"), (b"a", None)])
    assert raised.value.field == "changes"


def test_duplicate_change_keys_are_refused() -> None:
    tree = Tree(CountingNodeStore())
    with pytest.raises(InvalidValue):
        tree.apply(tree.EMPTY, [(b"a", b"1"), (b"a", b"2")])


def test_unsorted_build_input_is_refused() -> None:
    tree = Tree(CountingNodeStore())
    with pytest.raises(InvalidValue) as raised:
        tree.build([(b"b", b"1"), (b"a", b"2")])
    assert raised.value.field == "items"


def test_non_bytes_keys_are_refused() -> None:
    tree = Tree(CountingNodeStore())
    with pytest.raises(InvalidValue):
        tree.build([("a", b"1")])  # type: ignore[list-item]
    with pytest.raises(InvalidValue):
        tree.apply(tree.EMPTY, [(b"a", "1")])  # type: ignore[list-item]
    with pytest.raises(InvalidValue):
        tree.apply(tree.EMPTY, [(b"a", b"1"), ("b", b"2")])  # type: ignore[list-item]


def test_building_from_a_generator_does_not_need_a_list() -> None:
    tree = Tree(CountingNodeStore())
    root = tree.build((b"%08d" % i, b"v") for i in range(5_000))
    assert tree.count(root) == 5_000
    assert tree.get(root, b"%08d" % 4_321) == b"v"
    assert tree.get(root, b"%08d" % 5_000) is None


class DiscardingNodeStore:
    """Keeps no node, so only what building itself holds stays in memory."""

    def get(self, node_id: str) -> bytes:
        raise KeyError(node_id)

    def put(self, node_id: str, data: bytes) -> None:
        pass


def test_building_streams_its_input_instead_of_holding_it() -> None:
    count = 60_000
    stream = ((b"data/%08d" % i, b"v" * 150) for i in range(count))
    tracemalloc.start()
    try:
        root = Tree(DiscardingNodeStore()).build(stream)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert root != Tree.EMPTY
    # The input weighs ~10 MB; building holds a batch and one pending node per level.
    assert peak < 4 * 1024 * 1024


@pytest.mark.parametrize("size", [1, 2, 64, 5_000], ids=lambda n: f"{n}-items")
def test_applying_no_changes_returns_the_same_tree(size: int) -> None:
    tree = Tree(CountingNodeStore())
    root = tree.build(lake_items(size))
    assert tree.apply(root, []) == root
    assert tree.apply(root, iter(())) == root
    assert tree.count(root) == size


def test_a_level_cursor_sought_forward_lands_where_a_fresh_one_does() -> None:
    # Apply seeks in increasing key order and the cursor reuses the path it holds;
    # wherever it lands must be where a seek from the root lands, at every level.
    store = MemoryNodeStore()
    tree = Tree(store)
    items = lake_items(30_000)
    root = tree.build(items)
    nodes = decoding(store)
    top = nodes.load_node(root)
    assert top.level >= 2
    rng = random.Random(5)
    keys = sorted([*rng.sample([key for key, _ in items], 400), b"", b"\xff" * 8])
    keys += [b"\xff" * 8]  # the same key twice, past the end
    for level in range(top.level):
        cursor = LevelCursor(nodes, root, top, level)
        for i, key in enumerate(keys):
            cursor.seek(key)
            fresh = LevelCursor(nodes, root, top, level)
            fresh.seek(key)
            assert (cursor.node_id, cursor.is_last()) == (fresh.node_id, fresh.is_last())
            if i % 7 == 0 and not cursor.is_last():
                cursor.advance()  # apply steps on while re-chunking runs into a neighbour
        assert cursor.targets(keys) == list(dict.fromkeys(seek_each(nodes, root, top, level, keys)))


def seek_each(nodes: Any, root: str, top: Any, level: int, keys: list[bytes]) -> list[str]:
    """The node of ``level`` each key falls in, sought from the root every time."""
    found = []
    for key in keys:
        cursor = LevelCursor(nodes, root, top, level)
        cursor.seek(key)
        found.append(cursor.node_id)
    return found
