"""Tree storage that nothing names: found by mark and sweep, and removed with its repository.

What is reachable. lakeFS's garbage collector never removes a commit ("you will still be
able to use commits containing hard-deleted objects") and keeps all metadata; it only
hard-deletes object data that no retained commit shows. Here likewise every commit
record a repository stores stays readable by its id, whether or not a branch or tag
still reaches it (``log``, ``~N`` and commit ids given to a client must keep working),
so the tree of every stored commit is live. Garbage is only what no commit record
names: the packs and index rows of a commit, merge or import that failed or crashed
after writing its nodes, a pack whose index write failed, and what a deleted
repository left in a namespace that another repository now uses. Object data is never
touched (objects are lakeFS's business of retention rules, not this collector's).

Mark: every commit record of every repository on the namespace, roots walked with
``Tree.walk_nodes``; a subtree already marked is not walked again (the walk sees
marked nodes as childless), so the cost follows the distinct internal nodes, and only
a set of node ids and a set of pack ids are held. Each reference the walk yields says
which pack holds its node (``codec``: "Located references"): that pack is live, even
for a node already marked through another copy.

Sweep: the index rows are scanned in key order. A marked node's row (a root's, or any
node's in a store written before references were located) makes its pack live. A node
stored as a patch needs its base: the ``pack:`` row of a pack names the packs holding
its patches' bases, and every pack so named by a live pack is live too (conservatively:
the whole pack, whether or not each patch in it is reachable); an earlier version's
patch names its base in its own row, and bases with no locator are listed in the
``pack:`` row: those bases are marked (a base is always a full node, so no further
round is needed). A node row is deleted when its node is unmarked and its pack is
older than the grace period (a ``delete_if`` on the row read, so a row rewritten
meanwhile by a writer is kept), a ``pack:`` row with its pack; a pack older than the
grace period is deleted unless live; an unmarked one-blob-per-node node older than the
grace period is deleted too.

Why a concurrent commit is safe. A commit writes its packs, then its index rows (its
root's, its packs' ``pack:`` rows), then its commit record. The packs considered are
listed (with their write times) before the mark starts, and only those written more than
``grace`` before are candidates. A commit whose record appears after the mark scanned
the commits started writing after ``start - grace`` unless it ran for longer than
``grace``: its packs are not candidates. So ``grace`` must exceed the longest commit,
merge or import (first pack to commit record); the default is a day.

Repository delete (``delete_repository``) removes the repository record first (its
name is free at once), then its staging partitions and its own metadata partition,
then, when no other repository uses its storage namespace, the namespace's
``_lakever/`` blobs and its node index. Intent records written first (partitions
``graveler/purges`` and ``graveler/purges/instances``) let a delete interrupted midway
be finished by the next ``collect_garbage``, or by the next repository created on the
namespace; meanwhile a repository created on the same name or namespace works: writers
never trust index rows they did not write, and a row whose pack is gone is garbage.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from lakever_server.errors import InvalidValue, PreconditionFailed
from lakever_server.graveler.model import BranchRecord, RepositoryRecord
from lakever_server.graveler.refs import BRANCH, REPOSITORIES, staging_partition
from lakever_server.graveler.tree import PackedNodeStore, Tree
from lakever_server.graveler.tree.codec import EMPTY_LEAF, Node, is_located, ref_id
from lakever_server.graveler.tree.packs import (
    DEPENDS,
    decode_depends,
    ref_pack,
    row_base,
    row_pack,
)
from lakever_server.storage.kv.base import prefix_end

if TYPE_CHECKING:
    from lakever_server.graveler.graveler import Graveler

DEFAULT_GRACE_SECONDS = 24 * 3600
"""Packs and blobs younger than this are never collected (see the module docstring)."""
PURGES = "graveler/purges"
"""Namespaces whose repository was deleted and whose tree storage is being removed."""
DROPS = "graveler/purges/instances"
"""Instance ids of deleted repositories whose metadata partitions are being dropped."""
_DELETE_BATCH = 1000


@dataclass
class GCReport:
    """What one collection found and removed (or, in a dry run, would remove)."""

    namespace: str
    repositories: list[str]
    dry_run: bool
    commits: int = 0
    nodes_marked: int = 0
    rows_deleted: int = 0
    packs_deleted: int = 0
    blobs_deleted: int = 0
    bytes_freed: int = 0
    packs_kept_young: int = 0
    purged: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        return dict(self.__dict__)


class _MarkedAreLeaves:
    """A node store showing marked nodes as childless, so ``Tree.walk_nodes`` does not
    walk a subtree already marked (the root of a walk is never marked)."""

    def __init__(self, store: PackedNodeStore, marked: set[str]) -> None:
        self._store = store
        self._marked = marked

    def get(self, node_id: str) -> bytes:
        return self._store.get(node_id)

    def put(self, node_id: str, data: bytes) -> None:
        raise AssertionError("garbage collection writes no node")

    def load_node(self, node_id: str) -> Node:
        if ref_id(node_id) in self._marked:
            return EMPTY_LEAF
        return self._store.load_node(node_id)

    def save_node(self, node_id: str, node: Node, data: bytes) -> str:
        raise AssertionError("garbage collection writes no node")

    def flush(self, root: str = "") -> None:
        pass


def namespace_key(storage_namespace: str) -> str:
    """The namespace as the node store names it (no trailing slash)."""
    return storage_namespace.rstrip("/")


def _store_of(graveler: Graveler, namespace: str) -> PackedNodeStore:
    store = graveler.tree_for(namespace).store
    if not isinstance(store, PackedNodeStore):
        raise InvalidValue("garbage collection needs packed tree storage", field="repository")
    return store


def _repositories_on(graveler: Graveler, namespace: str) -> list[RepositoryRecord]:
    return [
        repo
        for repo in graveler.refs.scan_repositories()
        if namespace_key(repo.storage_namespace) == namespace
    ]


def _blobs(store: PackedNodeStore, folder: str) -> Iterator[tuple[str, str, int, float]]:
    """``(name, address, size, mtime)`` of every blob under ``{namespace}/_lakever/{folder}/``."""
    for stat in store.block.list_prefix(f"{store.namespace}/_lakever/{folder}/"):
        yield stat.address.rsplit("/", 1)[-1], stat.address, stat.size, stat.mtime


# -- mark and sweep ----------------------------------------------------------------------
def collect_garbage(
    graveler: Graveler,
    repository: str,
    *,
    grace_seconds: float = DEFAULT_GRACE_SECONDS,
    dry_run: bool = False,
) -> GCReport:
    """Remove the tree storage of ``repository``'s namespace that no commit names.

    Pending purges of deleted repositories are finished first. Raises ``NotFound`` for
    an unknown repository and ``InvalidValue`` for a negative grace period.
    """
    if grace_seconds < 0:
        raise InvalidValue("the grace period cannot be negative", field="grace")
    namespace = namespace_key(graveler.refs.get_repository(repository).storage_namespace)
    purged = [] if dry_run else finish_purges(graveler)
    store = _store_of(graveler, namespace)
    started = time.time()
    old_before = started - grace_seconds
    # Candidates are chosen by write time against the start, wherever they are listed.
    old_packs: dict[str, int] = {}
    young = 0
    for pack_id, _, size, mtime in _blobs(store, "packs"):
        if mtime < old_before:
            old_packs[pack_id] = size
        else:
            young += 1
    repos = _repositories_on(graveler, namespace)
    report = GCReport(namespace, sorted(r.id for r in repos), dry_run, packs_kept_young=young)
    report.purged = purged
    marked, live_packs = _mark(graveler, store, repos, report)
    deleted_nodes = _sweep_rows(store, marked, live_packs, old_packs, report, dry_run)
    for pack_id, size in old_packs.items():
        if pack_id not in live_packs:
            if not dry_run:
                store.block.delete(store.pack_address(pack_id))
            report.packs_deleted += 1
            report.bytes_freed += size
    # The earlier one-blob-per-node layout, streamed (an old repository has many).
    for node_id, address, size, mtime in _blobs(store, "nodes"):
        if mtime < old_before and node_id not in marked:
            if not dry_run:
                store.block.delete(address)
                deleted_nodes.add(node_id)
            report.blobs_deleted += 1
            report.bytes_freed += size
    if not dry_run:
        _forget(graveler, store, deleted_nodes)
    return report


def _mark(
    graveler: Graveler, store: PackedNodeStore, repos: list[RepositoryRecord], report: GCReport
) -> tuple[set[str], set[str]]:
    """The ids of every node reachable from a commit record of ``repos``, and the packs
    their references locate (a node's parent says where it is; a root has an index row)."""
    marked: set[str] = set()
    live: set[str] = set()
    walker = Tree(_MarkedAreLeaves(store, marked))
    for repo in repos:
        for commit in graveler.refs.scan_commits(repo):
            report.commits += 1
            root = commit.meta_range_id
            if root in marked:
                continue
            # Marked once the walk is done: the walk reads a node after yielding it, and
            # must not see it marked (childless) before it has listed its subtree. Each
            # reference counts, the skipped ones too: one node may sit in several packs.
            found = list(walker.walk_nodes(root)) if root != Tree.EMPTY else []
            live.update(ref_pack(ref) for ref in found if is_located(ref))
            marked.update(map(ref_id, found))
    return marked, live


def _sweep_rows(
    store: PackedNodeStore,
    marked: set[str],
    live: set[str],
    old_packs: dict[str, int],
    report: GCReport,
    dry_run: bool,
) -> set[str]:
    """Complete ``live`` (the packs of marked nodes) with the packs of marked rows and
    what their patches need (``pack:`` rows, and the bases a patch's row names), then
    delete the index rows of unmarked nodes in old (or lost) packs, and the ``pack:``
    rows of the packs that go.

    Returns the deleted rows' node ids.
    """
    deleted: set[str] = set()
    bases: set[str] = set()
    depends: dict[str, tuple[list[str], list[str]]] = {}
    depends_rows: list[tuple[bytes, bytes, str]] = []
    unmarked: list[tuple[bytes, bytes, str]] = []
    for key, value in store.kv.scan(store.partition):
        pack_id = row_pack(key, value)
        if key.startswith(DEPENDS):
            depends[pack_id] = decode_depends(value)
            depends_rows.append((key, value, pack_id))
        elif key.decode() in marked:
            live.add(pack_id)
            bases.add(row_base(value))
        else:
            unmarked.append((key, value, pack_id))
    # A live pack keeps the packs holding its patches' bases (conservatively: all of
    # them, whether or not the patch itself is reachable), and their bases with no
    # locator. A base is a whole node, but its pack may hold patches too.
    stack = list(live)
    while stack:
        packs, unlocated = depends.get(stack.pop(), ((), ()))
        bases.update(unlocated)
        for pack in packs:
            if pack not in live:
                live.add(pack)
                stack.append(pack)
    bases.discard("")
    marked |= bases
    report.nodes_marked = len(marked)
    lost = _LostPacks(store)
    doomed: list[tuple[bytes, bytes]] = []
    for key, value, pack_id in unmarked:
        if key.decode() in bases:
            live.add(pack_id)  # the base of a live patch that no walk reached
        elif pack_id in old_packs or lost(pack_id):
            doomed.append((key, value))
    for key, value, pack_id in depends_rows:  # a pack: row goes with its pack
        if pack_id not in live and (pack_id in old_packs or lost(pack_id)):
            doomed.append((key, value))
    for key, value in doomed:
        if not dry_run:
            try:
                store.kv.delete_if(store.partition, key, value)
            except PreconditionFailed:
                continue  # rewritten by a writer meanwhile: its new pack is young
            if not key.startswith(DEPENDS):
                deleted.add(key.decode())
        report.rows_deleted += 1
    return deleted


class _LostPacks:
    """Whether a pack named by a row is gone from the block store (asked once per pack).

    A pack is written before its rows and deleted only by this module, so a row whose
    pack is absent names nothing: it is garbage (an interrupted purge or sweep left it).
    A pack absent from a listing may also be younger than the listing: hence the check.
    """

    def __init__(self, store: PackedNodeStore) -> None:
        self._store = store
        self._known: dict[str, bool] = {}

    def __call__(self, pack_id: str) -> bool:
        lost = self._known.get(pack_id)
        if lost is None:
            lost = not self._store.block.exists(self._store.pack_address(pack_id))
            self._known[pack_id] = lost
        return lost


def _forget(graveler: Graveler, store: PackedNodeStore, node_ids: set[str]) -> None:
    """Drop this process's cached copies of deleted nodes: a cached node counts as
    stored for writers, which would then skip writing it again."""
    for node_id in node_ids:
        store.cache.discard(store.blob_address(node_id))
    graveler.forget_tree(store.namespace)


# -- repository delete -------------------------------------------------------------------
def delete_repository(graveler: Graveler, repository: str) -> None:
    """Delete a repository's metadata, then its tree storage (unless shared)."""
    repo = graveler.refs.get_repository(repository)
    namespace = namespace_key(repo.storage_namespace)
    # The intents first: whatever happens next, the next collection finishes the work.
    graveler.kv.set(DROPS, repo.instance_id.encode(), repo.id.encode())
    graveler.kv.set(PURGES, namespace.encode(), repo.id.encode())
    graveler.kv.delete(REPOSITORIES, repo.id.encode())  # the name is free from here on
    drop_instance(graveler, repo.instance_id)
    purge_namespace(graveler, namespace)


def drop_instance(graveler: Graveler, instance_id: str) -> None:
    """Drop a deleted repository's staging partitions, then its own partition (which
    names them), then the intent."""
    partition = f"graveler/repo/{instance_id}"  # as refs.repo_partition names it
    for _, raw in graveler.kv.scan(partition, BRANCH, prefix_end(BRANCH)):
        for token in BranchRecord.decode(raw).tokens:
            graveler.kv.drop_partition(staging_partition(token))
    graveler.kv.drop_partition(partition)
    graveler.kv.delete(DROPS, instance_id.encode())


def purge_namespace(graveler: Graveler, namespace: str) -> bool:
    """Remove the tree storage of a namespace no repository uses; False if one does.

    Only the blobs listed before the check that no repository uses the namespace are
    removed, and only the rows naming them: a repository created on the namespace
    meanwhile is visible to the check (its record is written before any of its packs)
    or writes its packs after the listing. (Not a comparison of mtimes with the clock:
    file systems stamp mtimes from a coarse clock and S3 to the second, so a pack
    written just after the start could look older than it.) Blobs first, rows next, the
    intent record last: an interruption anywhere leaves the intent, and rows naming
    lost packs are harmless (rewritten when their node is written again, swept as
    garbage).
    """
    store = _store_of(graveler, namespace)
    listed = [
        (name, address)
        for folder in ("packs", "nodes")
        for name, address, *_ in _blobs(store, folder)
    ]
    if _repositories_on(graveler, namespace):
        graveler.kv.delete(PURGES, namespace.encode())
        return False
    removed: set[str] = set()
    for name, address in listed:
        store.block.delete(address)
        store.cache.discard(address)
        removed.add(name)
    # Every node of the namespace leaves this process's cache before its row goes: a
    # writer here would otherwise take a cached node for stored.
    lost = _LostPacks(store)
    batch: list[bytes] = []
    for key, value in store.kv.scan(store.partition):
        pack_id = row_pack(key, value)
        if pack_id in removed or lost(pack_id):
            if not key.startswith(DEPENDS):
                store.cache.discard(store.blob_address(key.decode()))
            batch.append(key)
        if len(batch) >= _DELETE_BATCH:
            store.kv.write_batch(store.partition, deletes=batch)
            batch = []
    if batch:
        store.kv.write_batch(store.partition, deletes=batch)
    graveler.forget_tree(namespace)
    graveler.kv.delete(PURGES, namespace.encode())
    return True


def finish_purge(graveler: Graveler, namespace: str) -> None:
    """Finish the purge of ``namespace`` if one was interrupted (one lookup otherwise)."""
    namespace = namespace_key(namespace)
    if graveler.kv.get(PURGES, namespace.encode()) is not None:
        purge_namespace(graveler, namespace)


def pending_purges(graveler: Graveler) -> list[str]:
    """Namespaces whose purge was started and not finished."""
    return [key.decode() for key, _ in graveler.kv.scan(PURGES)]


def finish_purges(graveler: Graveler) -> list[str]:
    """Finish every interrupted delete; return the namespaces purged."""
    for key, _ in list(graveler.kv.scan(DROPS)):
        drop_instance(graveler, key.decode())
    return [ns for ns in pending_purges(graveler) if purge_namespace(graveler, ns)]
