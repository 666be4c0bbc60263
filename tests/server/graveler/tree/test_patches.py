"""Nodes stored as patches of a base: what a scattered update writes (``codec``)."""

from __future__ import annotations

import pytest

from lakever_server.errors import NotFound
from lakever_server.graveler.tree import MemoryNodeStore, NodeCache, PackedNodeStore, Tree
from lakever_server.graveler.tree.codec import (
    PATCH_LIMIT,
    PATCH_LOCATED,
    CorruptNode,
    Node,
    decode,
    encode,
    encode_patch,
    is_patch,
    node_id,
    patch_base,
    ref_id,
)
from lakever_server.graveler.tree.nodes import decoding
from lakever_server.graveler.tree.packs import Locator
from lakever_server.storage.block.memory import MemoryBlockStore
from lakever_server.storage.kv.memory import MemoryKV

from .trees import lake_items, object_value, shape


def leaves(tree: Tree, root: str) -> dict[str, Node]:
    """Every leaf of the tree by id."""
    nodes = decoding(tree.store)
    loaded = {nid: nodes.load_node(nid) for nid in tree.walk_nodes(root)}
    return {nid: node for nid, node in loaded.items() if node.level == 0}


def test_a_scattered_update_stores_each_rewritten_node_as_a_small_patch() -> None:
    items = lake_items(20_000)
    store = MemoryNodeStore()
    tree = Tree(store)
    root = tree.build(items)
    before = set(store.nodes)
    changes = [(key, object_value(key, 1)) for key, _ in items[::1_000]]
    new_root = tree.apply(root, changes)

    written = {nid: data for nid, data in store.nodes.items() if nid not in before}
    assert len(written) >= len(changes)  # a leaf per change, and the nodes above
    new_leaves = {nid for nid, node in leaves(tree, new_root).items() if nid in written}
    assert len(new_leaves) == len(changes)
    assert all(is_patch(written[nid]) for nid in new_leaves)
    # Each patch names the old leaf as its base, and costs a value, not a leaf.
    old_leaves = leaves(tree, root)
    for nid in new_leaves:
        assert patch_base(written[nid]) in old_leaves
        assert len(written[nid]) < len(store.nodes[patch_base(written[nid])]) / 10
    expected = dict(items) | dict(changes)
    # Read back through a store that decodes every read (no cache): the same tree.
    assert list(Tree(store).iterate(new_root)) == sorted(expected.items())
    fresh = Tree(MemoryNodeStore())
    assert shape(tree, new_root) == shape(fresh, fresh.build(sorted(expected.items())))


def test_a_node_patched_again_keeps_its_base_until_a_quarter_of_it_differs() -> None:
    items = lake_items(3_000)
    store = MemoryNodeStore()
    tree = Tree(store)
    root = tree.build(items)
    first_leaf_id, first_leaf = next(
        (nid, node) for nid, node in leaves(tree, root).items() if node.keys[0] == items[0][0]
    )
    n = len(first_leaf.keys)
    model = dict(items)
    for k in range(n // PATCH_LIMIT + 1):
        key = first_leaf.keys[k]
        model[key] = object_value(key, 1)
        root = tree.apply(root, [(key, model[key])])
        leaf_id = next(nid for nid, node in leaves(tree, root).items() if key in node.keys)
        data = store.nodes[leaf_id]
        if k + 1 <= n // PATCH_LIMIT:
            # One base, every slot replaced so far: reading costs one extra node.
            assert patch_base(data) == first_leaf_id
            assert decoding(store).load_node(leaf_id).patched == tuple(range(k + 1))
        else:
            # More than a quarter differs: written whole, as a fresh build writes it.
            assert not is_patch(data)
            rebuilt = Tree(MemoryNodeStore())
            rebuilt_root = rebuilt.build(sorted(model.items()))
            assert leaf_id in leaves(rebuilt, rebuilt_root)
    assert list(tree.iterate(root)) == sorted(model.items())


def test_a_change_that_changes_nothing_writes_nothing() -> None:
    items = lake_items(5_000)
    tree = Tree(MemoryNodeStore())
    root = tree.build(items)
    patched = tree.apply(root, [(key, object_value(key, 1)) for key, _ in items[::500]])
    written = tree.nodes_written
    same = [(key, object_value(key, 1)) for key, _ in items[::500]]
    absent = [(items[0][0] + b"-absent", None)]
    assert tree.apply(patched, same) == patched
    assert tree.apply(patched, sorted([*same, *absent])) == patched
    assert tree.nodes_written == written
    # A tree whose root is its only leaf: the root stays, it does not become empty.
    one = tree.build(items[:3])
    assert tree.apply(one, items[:3]) == one
    assert tree.apply(one, [(items[0][0] + b"-absent", None)]) == one
    assert list(tree.iterate(one)) == items[:3]


def patch_of(base: Node, base_id: str, slot: int, value: bytes) -> bytes:
    values = list(base.values)
    values[slot] = value
    node = Node.leaf(base.keys, values)
    node.base, node.patched = base_id, (slot,)
    return encode_patch(node)


def test_a_patch_that_does_not_fit_its_base_is_refused() -> None:
    base = Node.leaf([b"a", b"b", b"c"], [b"1", b"2", b"3"])
    base_id = node_id(encode(base))
    good = patch_of(base, base_id, 1, b"two")
    store = MemoryNodeStore()
    store.put(base_id, encode(base))
    store.put(node_id(good), good)
    assert decoding(store).load_node(node_id(good)).values == [b"1", b"two", b"3"]
    # A slot past the base's entries; a base of another size; a base that is a patch.
    out_of_range = bytearray(good)
    out_of_range[42:46] = (7).to_bytes(4, "little")
    other_base = Node.leaf([b"a", b"b"], [b"1", b"2"])
    store.put(node_id(encode(other_base)), encode(other_base))
    wrong_size = patch_of(base, node_id(encode(other_base)), 1, b"two")
    on_a_patch = patch_of(base, node_id(good), 0, b"one")
    for data in (bytes(out_of_range), wrong_size, on_a_patch):
        store.put(node_id(data), data)
        with pytest.raises(CorruptNode):
            decoding(store).load_node(node_id(data))
    with pytest.raises(CorruptNode):
        decode(good)  # a patch never decodes without its base


def test_fsck_reports_a_patch_whose_base_is_gone() -> None:
    kv, block = MemoryKV(), MemoryBlockStore()
    # A pack per node, so that the base alone can be lost.
    store = PackedNodeStore(block, kv, "mem://lake/repo", NodeCache(), max_pack_nodes=1)
    tree = Tree(store)
    items = lake_items(5_000)
    root = tree.build(items)
    new_root = tree.apply(root, [(items[10][0], b"changed")])
    leaf_id = next(nid for nid, node in leaves(tree, new_root).items() if items[10][0] in node.keys)
    base = patch_base(store.read_stored(leaf_id))
    located = Locator.of_ref(base)
    assert located is not None  # the patch says where its base is
    assert tree.check_node(leaf_id) is None
    block.delete(store.pack_address(located.pack_id))  # the base's pack, and so the base, lost

    problem = tree.check_node(leaf_id)
    assert problem is not None
    assert ref_id(base) in problem
    assert "missing" in problem
    cold = Tree(PackedNodeStore(block, kv, "mem://lake/repo", NodeCache()))
    with pytest.raises(NotFound):
        cold.get(new_root, items[10][0])


def test_patches_in_packs_say_where_their_base_and_children_are() -> None:
    kv, block = MemoryKV(), MemoryBlockStore()
    store = PackedNodeStore(block, kv, "mem://lake/repo", NodeCache())
    tree = Tree(store)
    items = lake_items(20_000)
    root = tree.build(items)
    changes = [(key, b"changed") for key, _ in items[::400]]
    new_root = tree.apply(root, changes)
    stored = {ref: store.read_stored(ref) for ref in tree.walk_nodes(new_root)}
    patches = {ref: data for ref, data in stored.items() if is_patch(data)}
    assert len(patches) >= len(changes)
    assert all(data[0] == PATCH_LOCATED for data in patches.values())
    assert all(Locator.of_ref(patch_base(data)) for data in patches.values())
    # A cold reader follows the references.
    cold = Tree(PackedNodeStore(block, kv, "mem://lake/repo", NodeCache()))
    expected = dict(items) | dict(changes)
    assert dict(cold.iterate(new_root)) == expected
    reference = Tree(MemoryNodeStore())
    assert shape(cold, new_root) == shape(reference, reference.build(sorted(expected.items())))
    assert all(cold.check_node(ref) is None for ref in stored)
