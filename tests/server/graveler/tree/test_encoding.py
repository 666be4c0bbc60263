"""The node encoding is deterministic, versioned, and pinned by a golden root hash."""

from __future__ import annotations

import hashlib
import tracemalloc

import pytest

from lakever_server.graveler.tree import FORMAT_VERSION, CorruptNode, MemoryNodeStore, Node, Tree
from lakever_server.graveler.tree.codec import (
    EMPTY_DATA,
    LOCATED_VERSION,
    approximate_memory,
    decode,
    encode,
    is_located,
    node_id,
    ref_id,
)
from lakever_server.graveler.tree.packs import Locator

from .trees import lake_items, object_value

# If either of these changes, the node format or the chunking rule changed: existing
# repositories would stop matching their stored roots. Bump FORMAT_VERSION, then update.
GOLDEN_FORMAT_VERSION = 1
GOLDEN_EMPTY_ROOT = "36c159d76b52e03e496363607c5940227f62f4e048df344b050159bc97bba3d7"
GOLDEN_LAKE_ROOT = "effb02adecdd1d3f02e6c6421096ab1efb45ea48c2253c7f01288ca6e04d50fc"


def test_format_version_is_the_one_the_golden_hashes_were_taken_with() -> None:
    assert FORMAT_VERSION == GOLDEN_FORMAT_VERSION


def test_empty_tree_has_a_fixed_root_id() -> None:
    assert Tree.EMPTY == GOLDEN_EMPTY_ROOT
    assert node_id(EMPTY_DATA) == hashlib.sha256(b"\x01\x00\x00\x00\x00\x00").hexdigest()


def test_golden_dataset_builds_the_golden_root() -> None:
    tree = Tree(MemoryNodeStore())
    root = tree.build(lake_items(20_000))
    assert root == GOLDEN_LAKE_ROOT
    assert tree.count(root) == 20_000


def test_leaf_round_trips_through_its_encoding() -> None:
    leaf = Node.leaf([b"", b"\x00a", b"\xff" * 300], [b"v", b"", b"x" * 70_000])
    data = encode(leaf)
    assert data[0] == FORMAT_VERSION
    assert decode(data) == leaf
    assert encode(decode(data)) == data


def test_internal_node_round_trips_through_its_encoding() -> None:
    children = [hashlib.sha256(bytes([i])).hexdigest() for i in range(3)]
    node = Node.internal(2, [b"a", b"m", b"z"], children, [5, 70, 2**40])
    decoded = decode(encode(node))
    assert decoded == node
    assert decoded.count == 5 + 70 + 2**40


def test_an_internal_node_with_located_children_round_trips_as_version_2() -> None:
    ids = [hashlib.sha256(bytes([i])).hexdigest() for i in range(3)]
    located = Locator("ab" * 16, 1_234, 5_678)
    # Children written by a packing store say where they are; one from an earlier
    # version (a bare id) keeps no locator.
    children = [located.ref(ids[0]), ids[1], Locator("cd" * 16, 8, 9).ref(ids[2])]
    node = Node.internal(1, [b"a", b"m", b"z"], children, [5, 70, 2])
    data = encode(node)
    assert data[0] == LOCATED_VERSION
    assert len(data) == 6 + 3 * (4 + 8 + 60) + 3
    decoded = decode(data)
    assert decoded == node
    assert [ref_id(ref) for ref in decoded.children] == ids
    assert [is_located(ref) for ref in decoded.children] == [True, False, True]
    assert Locator.of_ref(decoded.children[0]) == located
    # Without located children the node is version 1, byte for byte as before.
    bare = Node.internal(1, [b"a", b"m", b"z"], ids, [5, 70, 2])
    assert encode(bare)[0] == FORMAT_VERSION
    assert decode(encode(bare)) == bare


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(b"", id="no bytes"),
        pytest.param(b"\x02\x00\x00\x00\x00\x00", id="a leaf cannot be version 2"),
        pytest.param(b"\x03\x01\x00\x00\x00\x00", id="unknown format version"),
        pytest.param(encode(Node.leaf([b"a"], [b"b"]))[:-1], id="truncated leaf"),
        pytest.param(encode(Node.leaf([b"a"], [b"b"])) + b"\x00", id="trailing bytes"),
        pytest.param(b"\x01\x01\x00\x00\x00\x00", id="internal node without children"),
    ],
)
def test_malformed_node_bytes_are_refused(data: bytes) -> None:
    with pytest.raises(CorruptNode):
        decode(data)


def test_a_node_whose_bytes_do_not_match_its_id_is_refused() -> None:
    store = MemoryNodeStore()
    tree = Tree(store)
    root = tree.build([(b"k", b"v")])
    store.nodes[root] = encode(Node.leaf([b"k"], [b"tampered"]))
    with pytest.raises(CorruptNode) as raised:
        tree.get(root, b"k")
    assert raised.value.node_id == root


@pytest.mark.parametrize("version", [1, 100_000], ids=["same value sizes", "longer values"])
def test_values_replaced_in_place_encode_as_the_same_tree_built_afresh(version: int) -> None:
    # An update replaces values in their nodes and, when the sizes stay, reuses the
    # nodes' offsets. Replacing every other value makes every node differ from its
    # old version by more than a patch covers (codec.PATCH_LIMIT): each is written
    # whole, and the result must be the very tree built from the new items.
    items = lake_items(5_000)
    changed = dict(items)
    for key, _ in items[::2]:
        changed[key] = object_value(key, version)
    tree = Tree(MemoryNodeStore())
    root = tree.apply(tree.build(items), [(k, changed[k]) for k, _ in items[::2]])
    assert root == Tree(MemoryNodeStore()).build(sorted(changed.items()))
    store = tree.store
    assert isinstance(store, MemoryNodeStore)
    assert all(node_id(encode(decode(data))) == nid for nid, data in store.nodes.items())


@pytest.mark.parametrize(
    ("level", "entries", "located"),
    [
        (0, 8, False),
        (0, 64, False),
        (0, 300, False),
        (1, 8, False),
        (1, 64, False),
        (2, 300, False),
        (1, 64, True),
        (2, 300, True),
    ],
)
def test_the_memory_charged_for_a_decoded_node_is_within_a_tenth_of_what_it_takes(
    level: int, entries: int, located: bool
) -> None:
    items = lake_items(entries)
    keys = [key for key, _ in items]
    if level == 0:
        node = Node.leaf(keys, [value for _, value in items])
    else:
        ids = [hashlib.sha256(key).hexdigest() for key in keys]
        if located:
            ids = [Locator("ab" * 16, 8 + 100 * i, 99).ref(nid) for i, nid in enumerate(ids)]
        node = Node.internal(level, keys, ids, [1_000 + i for i in range(entries)])
    encoded = [encode(node) for _ in range(50)]
    tracemalloc.start()
    try:
        start = tracemalloc.get_traced_memory()[0]
        decoded = [decode(data) for data in encoded]
        taken = (tracemalloc.get_traced_memory()[0] - start) / len(decoded)
    finally:
        tracemalloc.stop()
    charged = approximate_memory(decoded[0], len(encoded[0]))
    assert abs(charged - taken) <= taken / 10, (charged, taken)
