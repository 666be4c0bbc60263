"""Where tree nodes are stored: the ``NodeStore`` protocol and its implementations.

A node store is a content-addressed blob map: ``put(node_id, data)`` where ``node_id``
is the SHA-256 hex of ``data``, and ``get(node_id)``. Since equal content has an equal
id, a put of a node that already exists is a no-op and may be skipped.

``Tree`` works on decoded nodes through ``load_node``/``save_node``/``flush``; stores
that keep a cache of decoded nodes (``block_nodes.BlockNodeStore``) provide them, and
``decoding`` adapts any other store.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from typing import Protocol, runtime_checkable

from lakever_server.errors import NotFound
from lakever_server.graveler.tree.codec import (
    EMPTY_ID,
    EMPTY_LEAF,
    CorruptNode,
    Node,
    decode,
    decode_patch,
    is_patch,
    node_id,
    patch_base,
    ref_id,
)


class NodeStore(Protocol):
    """Encoded nodes by id."""

    def get(self, node_id: str) -> bytes:
        """The encoded node; ``errors.NotFound`` when absent."""
        ...

    def put(self, node_id: str, data: bytes) -> None:
        """Store an encoded node under its id (the SHA-256 hex of ``data``)."""
        ...


@runtime_checkable
class DecodedNodeStore(Protocol):
    """A node store that hands out decoded nodes (usually from a cache)."""

    def load_node(self, node_id: str) -> Node:
        """The node a reference names: an id, or an id and where the node is stored
        (``codec``: "Located references")."""
        ...

    def save_node(self, node_id: str, node: Node, data: bytes) -> str:
        """Store a node; the reference a parent records for it (its id, followed by its
        locator on a store that packs nodes)."""
        ...

    def flush(self, root: str = "") -> None:
        """Wait until every node this thread saved is stored; raise if one could not be.

        ``root``: the reference of the root just written, which must be found by its id
        alone (a store that locates nodes through their parents indexes it)."""
        ...


@runtime_checkable
class CheckedNodeStore(Protocol):
    """A node store that can check a stored node past its caches (for fsck)."""

    def check_stored(self, node_id: str) -> str | None:
        """What is wrong with the stored copy of ``node_id``, or None."""
        ...


@runtime_checkable
class DiscardingNodeStore(Protocol):
    """A node store that buffers writes and can drop a failed operation's buffer."""

    def discard(self) -> None:
        """Forget the nodes this thread saved and did not flush."""
        ...


@runtime_checkable
class PrefetchingNodeStore(Protocol):
    """A node store that can load many nodes into its cache in one go (``apply`` uses it
    for the nodes a window of changes falls in, so misses cost one batch, not one
    round trip each)."""

    def prefetch(self, node_ids: list[str]) -> None:
        """Cache those of ``node_ids`` that are stored and not cached; never raises for
        a node it cannot read (a later ``load_node`` reports that)."""
        ...


@runtime_checkable
class DemotingNodeStore(Protocol):
    """A node store whose cache can be told which nodes a write superseded."""

    def demote(self, node_ids: Iterable[str]) -> None:
        """Make those of ``node_ids`` that are cached the first to be evicted."""
        ...


def checked_decode(
    data: bytes, expected_id: str, load_base: Callable[[str], Node] | None = None
) -> Node:
    """Decode ``data``, refusing bytes that do not hash to ``expected_id``.

    A patch (``codec.is_patch``) is applied to its base, read with ``load_base``.
    """
    if node_id(data) != expected_id:
        raise CorruptNode(f"tree node {expected_id} does not match its hash", node_id=expected_id)
    if not is_patch(data):
        return decode(data, expected_id)
    base = patch_base(data)
    if not base or load_base is None:
        raise CorruptNode(f"tree node {expected_id} is a patch without a base", node_id=expected_id)
    return decode_patch(data, load_base(base), expected_id)


def patch_problem(nid: str, data: bytes, read: Callable[[str], bytes]) -> str | None:
    """What is wrong with a stored patch (``data``, already checked against its id) and
    its base, read with ``read`` past every cache; None for a sound patch or full node."""
    if not is_patch(data):
        return None
    try:
        checked_decode(data, nid, lambda base: checked_decode(read(base), ref_id(base)))
    except NotFound:
        return f"tree node {nid}: its base {ref_id(patch_base(data))} is missing"
    except CorruptNode as exc:
        return f"tree node {nid}: {exc.message}"
    return None


class _Decoding:
    """Decodes on every read: for stores without a cache (tests count every read).

    The empty tree is never stored: every store knows it.
    """

    def __init__(self, store: NodeStore) -> None:
        self._store = store

    def load_node(self, node_id: str) -> Node:
        if node_id == EMPTY_ID:
            return EMPTY_LEAF
        return checked_decode(self._store.get(node_id), node_id, self.load_node)

    def save_node(self, node_id: str, node: Node, data: bytes) -> str:
        self._store.put(node_id, data)
        return node_id

    def flush(self, root: str = "") -> None:
        pass


def decoding(store: NodeStore) -> DecodedNodeStore:
    """``store`` itself when it serves decoded nodes, else an adapter that decodes."""
    if isinstance(store, DecodedNodeStore):
        return store
    return _Decoding(store)


class MemoryNodeStore:
    """Encoded nodes in a dict. For tests and throwaway trees."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.nodes: dict[str, bytes] = {}

    def get(self, node_id: str) -> bytes:
        with self._lock:
            data = self.nodes.get(node_id)
        if data is None:
            raise NotFound(f"tree node {node_id} not found", kind="node", name=node_id)
        return data

    def put(self, node_id: str, data: bytes) -> None:
        with self._lock:
            self.nodes[node_id] = data
