"""Reading a tree: point lookups, bounded iteration, resumable cursors, edge-case keys."""

from __future__ import annotations

import random

import pytest

from lakever_server.graveler.tree import ChunkingRule, MemoryNodeStore, Tree

from .trees import CountingNodeStore, lake_items, random_items

TINY = ChunkingRule(target_items=4, min_items=2, max_items=8)


@pytest.fixture(scope="module")
def sample() -> tuple[Tree, str, list[tuple[bytes, bytes]]]:
    items = random_items(random.Random(31), 5_000)
    tree = Tree(MemoryNodeStore(), rule=TINY)
    return tree, tree.build(items), items


@pytest.mark.parametrize(
    ("start", "end"),
    [
        pytest.param(b"", None, id="everything"),
        pytest.param(b"\x80", None, id="from the middle"),
        pytest.param(b"", b"\x80", id="up to the middle"),
        pytest.param(b"\x10\x20", b"\x10\x21", id="a narrow window"),
        pytest.param(
            b"\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff", None, id="past the end"
        ),
        pytest.param(b"\x50", b"\x50", id="an empty window"),
        pytest.param(b"\x60", b"\x20", id="an inverted window"),
    ],
)
def test_iterate_yields_exactly_the_items_in_start_end(
    sample: tuple[Tree, str, list[tuple[bytes, bytes]]], start: bytes, end: bytes | None
) -> None:
    tree, root, items = sample
    expected = [(k, v) for k, v in items if k >= start and (end is None or k < end)]
    assert list(tree.iterate(root, start, end)) == expected


def test_iterate_starting_at_an_existing_key_includes_it(
    sample: tuple[Tree, str, list[tuple[bytes, bytes]]],
) -> None:
    tree, root, items = sample
    key = items[1234][0]
    assert next(iter(tree.iterate(root, key))) == items[1234]


def test_get_finds_every_key_and_nothing_else(
    sample: tuple[Tree, str, list[tuple[bytes, bytes]]],
) -> None:
    tree, root, items = sample
    for key, value in items[::37]:
        assert tree.get(root, key) == value
        assert tree.get(root, key + b"\x00") is None
    assert tree.get(root, b"") is None


def test_the_empty_tree_has_no_items() -> None:
    tree = Tree(MemoryNodeStore())
    assert tree.build([]) == Tree.EMPTY
    assert list(tree.iterate(Tree.EMPTY)) == []
    assert tree.get(Tree.EMPTY, b"a") is None
    assert tree.count(Tree.EMPTY) == 0
    assert list(tree.walk_nodes(Tree.EMPTY)) == []


def test_a_single_item_tree() -> None:
    tree = Tree(MemoryNodeStore())
    root = tree.build([(b"only", b"one")])
    assert list(tree.iterate(root)) == [(b"only", b"one")]
    assert list(tree.iterate(root, b"only\x00")) == []
    assert tree.count(root) == 1
    assert tree.apply(Tree.EMPTY, [(b"only", b"one")]) == root
    assert tree.apply(root, [(b"only", None)]) == Tree.EMPTY


def test_binary_keys_with_nul_and_ff_bytes_sort_bytewise() -> None:
    keys = [
        b"",
        b"\x00",
        b"\x00\x00",
        b"\x00\xff",
        b"a",
        b"a\x00",
        b"\xff",
        b"\xff\x00",
        b"\xff\xff",
    ]
    tree = Tree(MemoryNodeStore(), rule=TINY)
    root = tree.build((key, key[::-1] + b"!") for key in keys)
    assert [k for k, _ in tree.iterate(root)] == keys
    assert [k for k, _ in tree.iterate(root, b"\x00", b"\xff")] == keys[1:6]
    assert tree.get(root, b"") == b"!"
    assert tree.get(root, b"\xff\xff") == b"\xff\xff!"


def test_large_values_survive_build_and_apply() -> None:
    tree = Tree(MemoryNodeStore())
    big = random.Random(2).randbytes(3 * 1024 * 1024)
    root = tree.build([(b"a", b"small"), (b"b", big)])
    root = tree.apply(root, [(b"c", big[::-1])])
    assert tree.get(root, b"b") == big
    assert tree.get(root, b"c") == big[::-1]


def test_a_cursor_peeks_seeks_forward_and_resumes(
    sample: tuple[Tree, str, list[tuple[bytes, bytes]]],
) -> None:
    tree, root, items = sample
    cursor = tree.iterate_from(root, items[10][0])
    assert cursor.peek() == items[10]
    assert next(cursor) == items[10]
    cursor.seek(items[12][0])  # inside the same or the next leaf
    assert next(cursor) == items[12]
    cursor.seek(items[4000][0] + b"\x00")  # far away: re-descends
    assert next(cursor) == items[4001]
    cursor.seek(items[100][0])  # never backward
    assert next(cursor) == items[4002]
    resumed = tree.iterate_from(root, items[4002][0] + b"\x00", items[4010][0])
    assert list(resumed) == items[4003:4010]
    assert resumed.peek() is None


def test_a_page_at_any_offset_reads_one_path_plus_the_page() -> None:
    store = CountingNodeStore()
    tree = Tree(store)
    items = lake_items(100_000)
    root = tree.build(items)
    depth = tree.height(root)
    store.reset_counts()
    page = [
        item for item, _ in zip(tree.iterate(root, items[77_777][0]), range(1_000), strict=False)
    ]
    assert page == items[77_777:78_777]
    leaves = 1_000 // 8 + 2  # pages of leaves never shorter than the minimum size
    assert store.gets <= depth + leaves + 2 * depth


def test_count_reads_only_the_root() -> None:
    store = CountingNodeStore()
    tree = Tree(store)
    root = tree.build(lake_items(20_000))
    store.reset_counts()
    assert tree.count(root) == 20_000
    assert store.gets == 1


def test_count_range_matches_counting_the_window(
    sample: tuple[Tree, str, list[tuple[bytes, bytes]]],
) -> None:
    tree, root, items = sample
    rnd = random.Random(4)
    bounds = [b"", b"\x00", b"\xff" * 14, *(rnd.randbytes(rnd.randint(1, 3)) for _ in range(40))]
    for start in bounds:
        for end in [None, *bounds[:12]]:
            expected = sum(1 for k, _ in items if k >= start and (end is None or k < end))
            assert tree.count_range(root, start, end) == expected, (start, end)


def test_count_range_reads_two_paths() -> None:
    store = CountingNodeStore()
    tree = Tree(store)
    items = lake_items(100_000)
    root = tree.build(items)
    depth = tree.height(root)
    store.reset_counts()
    assert tree.count_range(root, items[1_234][0], items[98_765][0]) == 98_765 - 1_234
    assert store.gets <= 2 * (depth + 1)
