"""Content-addressed sorted trees (prolly trees): the committed state of a repository.

A tree maps ``bytes`` keys to ``bytes`` values, sorted bytewise. Its shape depends only
on its contents: node boundaries are chosen by a hash of each key, so equal contents give
equal nodes whatever the history, and a change rewrites only the nodes on the paths to
the changed keys. Node ids are the SHA-256 hex of the node's stored bytes. A node that
keeps its keys and replaces a few values is stored as a patch of its earlier version
(``codec``: "Patches"), so a scattered update writes about what changed, not whole
nodes; such a node has an id of its own, so equal contents give an equal root id when
written alike (a tree built afresh is made of whole nodes).

Interface (what graveler uses)::

    class NodeStore(Protocol):          # nodes.py
        def get(self, node_id: str) -> bytes: ...
        def put(self, node_id: str, data: bytes) -> None: ...

    PackedNodeStore(block: BlockStore, kv: KVStore, namespace: str, cache: NodeCache)
        what the server uses (packs.py): each flush's nodes in one pack blob; a node is
        found through its parent's reference, a root through an index row in the
        metadata store; see "Storage layout" below.
    BlockNodeStore(block: BlockStore, namespace: str, cache: NodeCache)
        the earlier layout, one blob per node at f"{namespace}/_lakever/nodes/{id[:2]}/{id}";
        still read (PackedNodeStore falls back to it) and kept for tests and benchmarks.
    Both share an LRU ``NodeCache`` of decoded nodes (immutable, so never invalidated).
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
            # a reference to every reachable node (codec.ref_id takes the id), for fsck
            # and garbage collection; the empty tree yields nothing
        nodes_written: int                   # node writes made, for metrics and tests
    EMPTY is never stored: every node store serves it, so a bare repository needs no node.
    BlockNodeStore(block, namespace, cache, *, write_concurrency=None)
        # puts run on a shared pool (inline for mem://); build/apply flush before
        # returning a root, so a returned root's nodes are always stored.
    NodeCache(max_bytes=256 MiB): hits, misses, evictions, size_bytes, len(); discard().
    CorruptNode(LakeverError): a stored node that does not decode or match its id.
    Tree.check_node(node_id) -> str | None
        # reads a node (an id or a reference) from storage past every cache and checks
        # it hashes to its id (fsck)
    PackedNodeStore(..., *, max_pack_bytes=3 MiB, max_pack_nodes=4096,
                    locator_cache=65536, read_concurrency=None)
        address(id) -> the blob holding the node (its pack, or its one-blob address)
        locate(ref) -> Locator | None; prefetch(refs); check_stored(ref); discard()
        packs_written: int; bytes_written: int   # packs and their bytes, for metrics
    A build or apply that fails midway discards its unflushed nodes (``discard``).

Storage layout (``PackedNodeStore``)::

    {namespace}/_lakever/packs/{pack id}     block store, written once, never changed
        b"LKVPACK1" | (u32 length | encoded node)*      pack id: a uuid4 hex
    in every internal node, per child: 32-byte id | 16-byte pack id | u64 offset | u32 length
        (``codec``: "Located references"): a reader goes from parent to child directly
    KV partition graveler/nodeindex/{namespace}
        key = root id (hex, ASCII): value = 16-byte pack id | u64 offset | u32 length
            (big-endian). Roots only: a commit names its tree by id. Stores written
            before references were located have a row per node, and a patch's row
            carries its 32-byte base id after the locator; both are still read.
        key = b"pack:" + pack id: the packs holding the bases of this pack's patches
            (and bases with no locator), so garbage collection keeps a live patch's
            base without reading the patch (``packs.DEPENDS``).

A commit rewrites one node per level per changed path: about 185 nodes for 100
scattered changes at 1,000,000 objects. One blob per node made the commit cost 185 file
creations (or S3 PUTs); a pack makes it one blob, and located references make it one
index row (the root's) where an index row per node cost 185 random inserts into an
index as large as the lake's history. The write cost follows the number of flushes,
and the per-node cost is an append.

Writes: ``save_node`` appends to the calling thread's buffer (and caches the decoded
node) and returns the node's reference: the buffer's pack id is chosen when the buffer
starts, and each node's offset is known as it is appended, so the parent, written
later, records where its children are. ``flush(root)`` (``build``/``apply`` call it
before returning a root) and a full buffer (``max_pack_bytes`` / ``max_pack_nodes``, so
a build of any size streams) write ONE pack with ``block.put`` (durable on return: fsync
of the file and its folder on local disk, one PUT on S3), THEN, in one ``write_batch``,
the root's index row and the pack's ``pack:`` row. A root is returned only after both,
so a commit record never names a node that cannot be found. A crash between pack and
index leaves an orphan pack, one between index and commit record an orphan row: both
harmless, nothing names them. Rows are written unconditionally: a node may sit in
several packs (two writers, a retried flush) and any row names a durable, immutable
copy, so the last writer winning is as good as the first; a reference names one copy,
and garbage collection keeps every pack a live reference names.

Every node a build or apply produces is written, even one already cached or buffered
by another thread: a pack never relies on another thread's unflushed buffer, and a
cached node may be one that nothing names any more (written by an operation that failed
before its commit record) and that garbage collection (``graveler.gc``) removes after
its grace period; skipping it would leave the new tree naming a node that is gone. A
duplicate costs its bytes only: the new tree's references name the new copy, and
collection takes the others. A failed pack write uncaches its nodes. A cached locator
whose pack is gone (collected after another server wrote the node again) falls back to
the index row.

Reads: ``load_node(ref)`` = node cache -> the thread's own buffer and other threads'
pending nodes -> the reference's locator (for a bare id, a root or a node of an earlier
version: a bounded locator cache, then the index row, one KV get) -> a ranged read of
the pack (``block.get(address, start, end)``); the bytes must hash to the id, and a
patch is applied to its base (loaded the same way; a prefetch loads the bases of the
patches it read in one more batch). With no index row the node is read from its earlier
one-blob-per-node address, so repositories written by earlier versions keep working
unchanged (they are never rewritten; new commits on them write packs, and a node
rewritten from an old one records located references for the children it rewrote and
bare ids for the others).

Batched reads: ``apply`` looks ahead a window of 256 changes and, level by level from
the top, asks the store to ``prefetch`` the nodes they fall in: their references say
where they are (one ``get_many`` for the bare ids among them), then one ranged read per
span of nearby nodes in a pack (parallel on remote stores). A commit's misses then cost
a round trip per level, not one per node, which matters on PostgreSQL and S3. Scans
(``iterate``) read ahead the same way: leaves in batches of 2, 4, then 8.
"""

from __future__ import annotations

from lakever_server.graveler.tree.block_nodes import BlockNodeStore
from lakever_server.graveler.tree.cache import DEFAULT_CACHE_BYTES, NodeCache
from lakever_server.graveler.tree.chunker import DEFAULT_RULE, ChunkingRule
from lakever_server.graveler.tree.codec import FORMAT_VERSION, CorruptNode, Node
from lakever_server.graveler.tree.cursor import TreeCursor
from lakever_server.graveler.tree.diff import Change
from lakever_server.graveler.tree.nodes import MemoryNodeStore, NodeStore
from lakever_server.graveler.tree.packs import PackedNodeStore
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
    "PackedNodeStore",
    "Tree",
    "TreeCursor",
]
