"""Content-addressed sorted trees (prolly trees): the committed state of a repository.

A tree maps ``bytes`` keys to ``bytes`` values, sorted bytewise. Its shape depends only
on its contents: node boundaries are chosen by a hash of each key, so equal contents give
an equal root id whatever the history, and a change rewrites only the nodes on the paths
to the changed keys. Node ids are the SHA-256 hex of the node's encoding.

Interface (what graveler uses)::

    class NodeStore(Protocol):          # nodes.py
        def get(self, node_id: str) -> bytes: ...
        def put(self, node_id: str, data: bytes) -> None: ...

    BlockNodeStore(block: BlockStore, namespace: str, cache: NodeCache)
        nodes at f"{namespace}/_lakever/nodes/{id[:2]}/{id}"; a shared LRU ``NodeCache``
        of decoded nodes (immutable, so never invalidated).
    MemoryNodeStore()                   # tests

    class Tree:                          # tree.py
        def __init__(self, store: NodeStore) -> None: ...
        EMPTY: str                       # root id of the empty tree
        def build(self, items: Iterable[tuple[bytes, bytes]]) -> str
            # items sorted by key, unique; streams: never holds the whole tree.
        def apply(self, root: str, changes: Iterable[tuple[bytes, bytes | None]]) -> str
            # changes sorted by key, unique; None deletes. Writes only touched nodes.
        def get(self, root: str, key: bytes) -> bytes | None
        def iterate(self, root: str, start: bytes = b"", end: bytes | None = None
                    ) -> Iterator[tuple[bytes, bytes]]
            # seeks to start in O(depth) node reads, then streams.
        def diff(self, left: str, right: str, start: bytes = b"", end: bytes | None = None
                 ) -> Iterator[Change]
            # Change(key, left: bytes | None, right: bytes | None), in key order;
            # subtrees with equal ids on both sides are skipped without being read.
        def count(self, root: str) -> int   # from counts kept in internal nodes

Additions (same contract, more for callers)::

    Tree(store, *, rule=DEFAULT_RULE)   # the chunking rule is part of the format
        def iterate_from(self, root, start=b"", end=None) -> TreeCursor
            # an iterator that can also peek() and seek(key) forward (merging sources)
        def count_range(self, root, start=b"", end=None) -> int   # reads two paths
        def height(self, root) -> int        # levels above the leaves
        def walk_nodes(self, root) -> Iterator[str]
            # every reachable node id, for fsck; the empty tree yields nothing
        nodes_written: int                   # node writes made, for metrics and tests
    EMPTY is never stored: every node store serves it, so a bare repository needs no node.
    BlockNodeStore(block, namespace, cache, *, write_concurrency=None)
        # puts run on a shared pool (inline for mem://); build/apply flush before
        # returning a root, so a returned root's nodes are always stored.
    NodeCache(max_bytes=256 MiB): hits, misses, evictions, size_bytes, len(); discard().
    CorruptNode(LakeverError): a stored node that does not decode or match its id.
"""

from __future__ import annotations

from lakever_server.graveler.tree.block_nodes import BlockNodeStore
from lakever_server.graveler.tree.cache import DEFAULT_CACHE_BYTES, NodeCache
from lakever_server.graveler.tree.chunker import DEFAULT_RULE, ChunkingRule
from lakever_server.graveler.tree.codec import FORMAT_VERSION, CorruptNode, Node
from lakever_server.graveler.tree.cursor import TreeCursor
from lakever_server.graveler.tree.diff import Change
from lakever_server.graveler.tree.nodes import MemoryNodeStore, NodeStore
from lakever_server.graveler.tree.tree import Tree

__all__ = [
    "DEFAULT_CACHE_BYTES",
    "DEFAULT_RULE",
    "FORMAT_VERSION",
    "BlockNodeStore",
    "Change",
    "ChunkingRule",
    "CorruptNode",
    "MemoryNodeStore",
    "Node",
    "NodeCache",
    "NodeStore",
    "Tree",
    "TreeCursor",
]
