"""Equal contents give an equal tree shape, whatever sequence of edits produced them.

The shape is every node's keys and entries (``trees.shape``). Root ids are equal when
the nodes were written alike: a tree built afresh is made of whole nodes, while an
edited one may store a node as a patch of its earlier version (``codec``), which has
an id of its own.
"""

from __future__ import annotations

import random

import pytest

from lakever_server.graveler.tree import ChunkingRule, MemoryNodeStore, Tree
from lakever_server.graveler.tree.apply import PREFETCH_WINDOW

from .trees import applied, random_changes, random_items, shape

SEEDS = [1, 2, 3, 4, 5]
# Tiny nodes make deep trees out of few items, so every level's re-chunking is exercised.
RULES = [
    pytest.param(ChunkingRule(), id="default rule"),
    pytest.param(
        ChunkingRule(target_items=4, min_items=2, max_items=8, max_bytes=96), id="tiny nodes"
    ),
]


def sized(rule: ChunkingRule, items: int) -> int:
    """Fewer items with tiny nodes: they are already five levels deep at a thousand."""
    return items if rule.target_items >= 64 else items // 3


@pytest.mark.parametrize("rule", RULES)
@pytest.mark.parametrize("seed", SEEDS)
def test_applying_random_batches_in_any_order_gives_the_built_root(
    seed: int, rule: ChunkingRule
) -> None:
    rnd = random.Random(seed)
    items = random_items(rnd, sized(rule, 3_000))
    fresh = Tree(MemoryNodeStore(), rule=rule)
    built = fresh.build(items)

    shuffled = list(items)
    rnd.shuffle(shuffled)
    tree = Tree(MemoryNodeStore(), rule=rule)
    root = tree.EMPTY
    while shuffled:
        size = rnd.randint(1, 400)
        batch, shuffled = shuffled[:size], shuffled[size:]
        root = tree.apply(root, sorted(batch))
    assert shape(tree, root) == shape(fresh, built)
    assert list(tree.iterate(root)) == items


@pytest.mark.parametrize("rule", RULES)
@pytest.mark.parametrize("seed", SEEDS)
def test_random_edits_give_the_root_of_building_the_result(seed: int, rule: ChunkingRule) -> None:
    rnd = random.Random(seed)
    model = dict(random_items(rnd, sized(rule, 2_000)))
    tree = Tree(MemoryNodeStore(), rule=rule)
    root = tree.build(sorted(model.items()))
    for _ in range(15):
        changes = random_changes(rnd, model, rnd.randint(1, sized(rule, 120)))
        model = applied(model, changes)
        root = tree.apply(root, changes)
        fresh = Tree(MemoryNodeStore(), rule=rule)
        assert shape(tree, root) == shape(fresh, fresh.build(sorted(model.items())))


@pytest.mark.parametrize("rule", RULES)
@pytest.mark.parametrize("seed", SEEDS)
def test_deleting_then_re_adding_a_range_restores_the_root(seed: int, rule: ChunkingRule) -> None:
    rnd = random.Random(seed)
    items = random_items(rnd, sized(rule, 2_000))
    tree = Tree(MemoryNodeStore(), rule=rule)
    root = tree.build(items)
    lo = rnd.randrange(len(items))
    doomed = items[lo : lo + rnd.randint(1, 600)]
    emptied = tree.apply(root, [(key, None) for key, _ in doomed])
    assert tree.count(emptied) == len(items) - len(doomed)
    assert shape(tree, tree.apply(emptied, doomed)) == shape(tree, root)


@pytest.mark.parametrize("rule", RULES)
def test_deleting_every_item_gives_the_empty_tree(rule: ChunkingRule) -> None:
    rnd = random.Random(7)
    items = random_items(rnd, 2_500)
    tree = Tree(MemoryNodeStore(), rule=rule)
    root = tree.build(items)
    assert tree.apply(root, [(key, None) for key, _ in items]) == Tree.EMPTY
    assert list(tree.iterate(Tree.EMPTY)) == []
    assert tree.count(Tree.EMPTY) == 0


def test_a_change_that_changes_nothing_keeps_the_root() -> None:
    rnd = random.Random(8)
    items = random_items(rnd, 5_000)
    tree = Tree(MemoryNodeStore())
    root = tree.build(items)
    same_values = [items[i] for i in sorted(rnd.sample(range(len(items)), 50))]
    absent = [(b"\xff" * 20, None), (b"\x00" * 20, None)]
    assert tree.apply(root, same_values) == root
    assert tree.apply(root, sorted(absent)) == root
    assert tree.apply(root, []) == root


@pytest.mark.parametrize("rule", RULES)
@pytest.mark.parametrize("seed", SEEDS)
def test_value_updates_alone_give_the_root_of_building_the_result(
    seed: int, rule: ChunkingRule
) -> None:
    # Replacing values keeps every key, so apply rewrites nodes in place unless a node
    # crosses the byte limit; values that grow and shrink a lot cross it both ways.
    rnd = random.Random(seed)
    model = dict(random_items(rnd, sized(rule, 2_000)))
    tree = Tree(MemoryNodeStore(), rule=rule)
    root = tree.build(sorted(model.items()))
    for _ in range(6):
        keys = rnd.sample(sorted(model), rnd.randint(1, 60))
        big = max(1, rule.max_bytes // 4)
        changes = sorted((k, rnd.randbytes(rnd.choice([0, 3, big]))) for k in keys)
        model = applied(model, list(changes))
        root = tree.apply(root, changes)
        fresh = Tree(MemoryNodeStore(), rule=rule)
        assert shape(tree, root) == shape(fresh, fresh.build(sorted(model.items())))


@pytest.mark.parametrize("rule", RULES)
@pytest.mark.parametrize("seed", SEEDS)
def test_batches_longer_than_a_window_give_the_root_of_building_the_result(
    seed: int, rule: ChunkingRule
) -> None:
    # Apply routes ``PREFETCH_WINDOW`` changes at a time: dense runs of value updates put
    # many changes in one node, so a node's changes straddle two windows, next to
    # inserts and deletes that re-chunk.
    rnd = random.Random(seed)
    model = dict(random_items(rnd, sized(rule, 3_000)))
    tree = Tree(MemoryNodeStore(), rule=rule)
    root = tree.build(sorted(model.items()))
    for _ in range(3):
        keys = sorted(model)
        start = rnd.randrange(len(keys) // 2)
        dense = keys[start : start + rnd.randint(PREFETCH_WINDOW, 3 * PREFETCH_WINDOW)]
        changes = dict(random_changes(rnd, model, rnd.randint(1, 200)))
        changes.update((key, rnd.randbytes(rnd.randint(0, 20))) for key in dense)
        batch = sorted(changes.items())
        model = applied(model, batch)
        root = tree.apply(root, batch)
        fresh = Tree(MemoryNodeStore(), rule=rule)
        assert shape(tree, root) == shape(fresh, fresh.build(sorted(model.items())))
        assert dict(tree.iterate(root)) == model
