"""Node sizes follow the chunking rule: near the target on average, always within bounds."""

from __future__ import annotations

import random
import statistics
from collections.abc import Iterator

import pytest

from lakever_server.errors import InvalidValue
from lakever_server.graveler.tree import DEFAULT_RULE, ChunkingRule, MemoryNodeStore, Node, Tree
from lakever_server.graveler.tree.codec import decode
from lakever_server.graveler.tree.nodes import decoding

from .trees import object_value


def nodes_by_level(store: MemoryNodeStore) -> dict[int, list[Node]]:
    levels: dict[int, list[Node]] = {}
    for data in store.nodes.values():
        node = decode(data)
        levels.setdefault(node.level, []).append(node)
    return levels


def leaf_sizes(store: MemoryNodeStore) -> list[int]:
    return [len(node.keys) for node in nodes_by_level(store)[0]]


def last_keys(store: MemoryNodeStore, root: str) -> Iterator[bytes]:
    """The last key of every leaf, left to right."""
    node = decoding(store).load_node(root)
    if node.level == 0:
        yield node.keys[-1]
        return
    for child in node.children:
        yield from last_keys(store, child)


def test_leaf_sizes_of_100k_random_keys_average_the_target_within_bounds() -> None:
    rnd = random.Random(42)
    keys = sorted({rnd.randbytes(16) for _ in range(100_000)})
    store = MemoryNodeStore()
    tree = Tree(store)
    root = tree.build((key, b"v") for key in keys)
    sizes = leaf_sizes(store)
    assert sum(sizes) == len(keys) == tree.count(root)
    assert abs(statistics.mean(sizes) - DEFAULT_RULE.target_items) < 0.1 * DEFAULT_RULE.target_items
    # Only the last leaf may be shorter than the minimum.
    assert sorted(sizes)[1] >= DEFAULT_RULE.min_items
    assert max(sizes) <= DEFAULT_RULE.max_items
    internal = [len(node.keys) for node in nodes_by_level(store)[1]]
    assert (
        abs(statistics.mean(internal) - DEFAULT_RULE.target_items)
        < 0.35 * DEFAULT_RULE.target_items
    )


def test_keys_that_never_hit_a_boundary_are_cut_at_the_maximum_size() -> None:
    # A threshold of 1 in 2**32 stands in for adversarial keys whose hashes never qualify.
    rule = ChunkingRule(target_items=2**32, min_items=2, max_items=50)
    store = MemoryNodeStore()
    Tree(store, rule=rule).build((b"%06d" % i, b"") for i in range(1_000))
    assert sorted(leaf_sizes(store)) == [50] * 20


def test_large_values_are_cut_at_the_maximum_bytes() -> None:
    store = MemoryNodeStore()
    tree = Tree(store)
    big = b"x" * (100 * 1024)
    root = tree.build((b"%04d" % i, big) for i in range(40))
    assert all(len(node.keys) <= 3 for node in nodes_by_level(store)[0])
    assert [value for _, value in tree.iterate(root)] == [big] * 40


def test_updating_values_never_moves_a_boundary() -> None:
    keys = [b"key-%06d" % i for i in range(20_000)]
    store = MemoryNodeStore()
    tree = Tree(store)
    root = tree.build((key, object_value(key)) for key in keys)
    bigger = tree.apply(root, [(key, object_value(key) * 3) for key in keys[::7]])
    assert bigger != root
    assert list(last_keys(store, bigger)) == list(last_keys(store, root))


@pytest.mark.parametrize(
    "bounds",
    [
        pytest.param({"min_items": 0}, id="no minimum"),
        pytest.param({"min_items": 64, "target_items": 64}, id="minimum at the target"),
        pytest.param({"min_items": 8, "max_items": 4}, id="maximum below the minimum"),
        pytest.param({"max_bytes": 0}, id="no byte budget"),
    ],
)
def test_a_chunking_rule_that_cannot_chunk_is_refused(bounds: dict[str, int]) -> None:
    with pytest.raises(InvalidValue):
        ChunkingRule(**bounds)
