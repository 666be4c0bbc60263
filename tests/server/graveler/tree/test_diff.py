"""``diff`` reports exactly the differing keys and reads only the nodes that differ."""

from __future__ import annotations

import random

import pytest

from lakever_server.graveler.tree import Change, ChunkingRule, MemoryNodeStore, Tree

from .trees import (
    CountingNodeStore,
    applied,
    dict_diff,
    lake_items,
    object_key,
    object_value,
    random_changes,
    random_items,
)


def as_tuples(changes: list[Change]) -> list[tuple[bytes, bytes | None, bytes | None]]:
    return [(c.key, c.left, c.right) for c in changes]


@pytest.mark.parametrize(
    "rule",
    [
        pytest.param(ChunkingRule(), id="default rule"),
        pytest.param(ChunkingRule(target_items=4, min_items=2, max_items=8), id="tiny nodes"),
    ],
)
@pytest.mark.parametrize("seed", [11, 12, 13, 14])
def test_diff_matches_a_brute_force_diff_of_random_edits(seed: int, rule: ChunkingRule) -> None:
    rnd = random.Random(seed)
    tree = Tree(MemoryNodeStore(), rule=rule)
    left = dict(random_items(rnd, 3_000))
    left_root = tree.build(sorted(left.items()))
    for count in (1, 10, 300, 3_000):
        changes = random_changes(rnd, left, count, delete_ratio=0.4)
        right = applied(left, changes)
        right_root = tree.apply(left_root, changes)
        assert as_tuples(list(tree.diff(left_root, right_root))) == dict_diff(left, right)
        assert as_tuples(list(tree.diff(right_root, left_root))) == dict_diff(right, left)


def test_diff_against_the_empty_tree_lists_every_item() -> None:
    rnd = random.Random(5)
    items = random_items(rnd, 1_000)
    tree = Tree(MemoryNodeStore())
    root = tree.build(items)
    assert list(tree.diff(tree.EMPTY, root)) == [Change(k, None, v) for k, v in items]
    assert list(tree.diff(root, tree.EMPTY)) == [Change(k, v, None) for k, v in items]


def test_diff_of_a_tree_with_itself_reads_nothing() -> None:
    store = CountingNodeStore()
    tree = Tree(store)
    root = tree.build(lake_items(1_000))
    store.reset_counts()
    assert list(tree.diff(root, root)) == []
    assert store.gets == 0


@pytest.mark.parametrize(
    ("start", "end"),
    [
        pytest.param(b"", None, id="unbounded"),
        pytest.param(b"\x40", None, id="from a start"),
        pytest.param(b"", b"\xa0", id="up to an end"),
        pytest.param(b"\x30", b"\x31", id="a narrow window"),
        pytest.param(b"\x90", b"\x10", id="an empty window"),
    ],
)
def test_diff_is_limited_to_the_start_end_window(start: bytes, end: bytes | None) -> None:
    rnd = random.Random(21)
    tree = Tree(MemoryNodeStore(), rule=ChunkingRule(target_items=8, min_items=2, max_items=32))
    left = dict(random_items(rnd, 4_000))
    changes = random_changes(rnd, left, 800)
    right = applied(left, changes)
    left_root = tree.build(sorted(left.items()))
    right_root = tree.apply(left_root, changes)
    expected = [c for c in dict_diff(left, right) if c[0] >= start and (end is None or c[0] < end)]
    assert as_tuples(list(tree.diff(left_root, right_root, start, end))) == expected


def test_diff_of_100_changes_in_100k_items_reads_only_their_paths() -> None:
    store = CountingNodeStore()
    tree = Tree(store)
    left_root = tree.build(lake_items(100_000))
    depth = tree.height(left_root)
    rnd = random.Random(9)
    keys = sorted(object_key(p, f) for f, p in enumerate(rnd.sample(range(1000), 100)))
    right_root = tree.apply(left_root, [(key, object_value(key, 2)) for key in keys])
    store.reset_counts()
    changes = list(tree.diff(left_root, right_root))
    assert [c.key for c in changes] == keys
    # Both sides of ~100 paths, plus a few neighbours where the walks are out of step.
    assert store.gets <= 2 * 100 * (depth + 1) * 1.5
    assert store.gets < 100_000 / 64 / 4
