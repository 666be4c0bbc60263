"""Tree storage owns no leaks: garbage collection removes what no commit names (and only
that), and deleting a repository removes its node index and its ``_lakever/`` blobs."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from lakever_server.catalog.catalog import Catalog
from lakever_server.catalog.entries import encode_entry
from lakever_server.errors import InvalidValue, NotFound
from lakever_server.graveler import gc
from lakever_server.graveler.commits import CommitRequest, new_commit
from lakever_server.graveler.graveler import Graveler
from lakever_server.graveler.tree import BlockNodeStore, NodeCache, PackedNodeStore, Tree
from lakever_server.graveler.tree.codec import Node, encode, node_id, patch_base, ref_id
from lakever_server.graveler.tree.packs import pack_nodes, row_pack
from lakever_server.storage.block.local import LocalBlockStore
from lakever_server.storage.kv.sqlite import SQLiteKV

NAMESPACE = "local://lake/repo1"
HOUR = 3600.0


class Stores:
    """SQLite + local disk, and a way to open them as a fresh process would."""

    def __init__(
        self, root: Path, kv: SQLiteKV | None = None, block: LocalBlockStore | None = None
    ) -> None:
        """The stores under ``root``; ``kv`` and ``block`` replace the plain ones (stores
        that fail on cue), and must live there too."""
        self.root = root
        self.kv = SQLiteKV(root / "meta.db") if kv is None else kv
        self.block = LocalBlockStore(root / "blocks") if block is None else block
        self.catalog = Catalog(self.kv, self.block)

    def fresh(self) -> Catalog:
        return Catalog(self.kv, LocalBlockStore(self.root / "blocks"))

    def blobs(self, folder: str, namespace: str = NAMESPACE) -> list[str]:
        prefix = f"{namespace}/_lakever/{folder}/"
        return [stat.address for stat in self.block.list_prefix(prefix)]

    def rows(self, namespace: str = NAMESPACE) -> list[bytes]:
        return [key for key, _ in self.kv.scan(f"graveler/nodeindex/{namespace}")]

    def age_blobs(self, seconds: float, namespace: str = NAMESPACE) -> None:
        """Make every ``_lakever/`` blob of the namespace ``seconds`` older."""
        for folder in ("packs", "nodes"):
            for address in self.blobs(folder, namespace):
                path = self.root / "blocks" / address.split("://", 1)[1]
                mtime = path.stat().st_mtime - seconds
                os.utime(path, (mtime, mtime))


@pytest.fixture
def stores(tmp_path: Path) -> Iterator[Stores]:
    s = Stores(tmp_path)
    s.catalog.create_repository("repo1", NAMESPACE)
    yield s
    s.kv.close()


def stage(catalog: Catalog, paths: Iterable[str], content: bytes, branch: str = "main") -> None:
    """Stage ``paths``, all naming one stored object."""
    paths = sorted(paths)
    entry = catalog.write_object("repo1", branch, paths[0], [content])
    staged = [(p.encode(), encode_entry(replace(entry, path=p))) for p in paths]
    catalog.graveler.set_many("repo1", branch, staged)


def commit_history(catalog: Catalog) -> list[str]:
    """A few commits on main and one on a branch that is then deleted: its commit is on
    no branch any more, and stays readable by id."""
    ids = []
    stage(catalog, [f"data/{i:05}" for i in range(3_000)], b"v1")
    ids.append(catalog.commit("repo1", "main", "first", "me").id)
    stage(catalog, [f"data/{i:05}" for i in range(0, 3_000, 37)], b"v2")
    ids.append(catalog.commit("repo1", "main", "second", "me").id)
    catalog.create_branch("repo1", "run", "main")
    stage(catalog, [f"run/{i:03}" for i in range(200)], b"run", branch="run")
    ids.append(catalog.commit("repo1", "run", "on a branch", "me").id)
    catalog.delete_branch("repo1", "run")
    return ids


def crash_left_orphans(stores: Stores, root: str) -> tuple[str, list[str]]:
    """What crashed writers leave: a pack whose index rows were written but whose commit
    record never was, and a pack whose index write never happened. Returns the indexed
    orphan tree's root and the unindexed pack's address."""
    writer = Tree(PackedNodeStore(stores.block, stores.kv, NAMESPACE, NodeCache()))
    changes = [(f"data/{i:05}".encode(), b"lost") for i in range(0, 3_000, 11)]
    orphan_root = writer.apply(root, changes)
    data = encode(Node.leaf([b"never/indexed"], [b"x"]))
    blob, _ = pack_nodes([(node_id(data), data)])
    address = f"{NAMESPACE}/_lakever/packs/{'f' * 32}"
    stores.block.put(address, [blob])
    return orphan_root, [address]


def entries(catalog: Catalog, commit_id: str, prefix: bytes = b"") -> int:
    """How many entries the commit's tree holds under ``prefix``, read from storage."""
    ctx = catalog.graveler.open("repo1")
    end = prefix[:-1] + bytes([prefix[-1] + 1]) if prefix else None
    return sum(1 for _ in ctx.tree.iterate(ctx.root_of(commit_id), prefix, end))


def readable(catalog: Catalog, commit_ids: list[str]) -> dict[str, int]:
    return {cid: entries(catalog, cid) for cid in commit_ids}


def test_gc_removes_crash_left_orphan_packs_and_rows_and_keeps_every_commit(
    stores: Stores,
) -> None:
    catalog = stores.catalog
    ids = commit_history(catalog)
    before = readable(stores.fresh(), ids)
    head_root = catalog.graveler.open("repo1").root_of(ids[1])
    orphan_root, unindexed = crash_left_orphans(stores, head_root)
    packs_before, rows_before = set(stores.blobs("packs")), set(stores.rows())
    stores.age_blobs(2 * HOUR)

    report = catalog.graveler.collect_garbage("repo1", grace_seconds=HOUR)

    assert unindexed[0] not in stores.blobs("packs")
    assert report.packs_deleted == 2  # the indexed orphan's pack and the unindexed one
    assert report.rows_deleted > 0
    assert orphan_root.encode() not in stores.rows()
    assert len(stores.blobs("packs")) == len(packs_before) - 2
    assert len(stores.rows()) == len(rows_before) - report.rows_deleted
    assert report.commits == 4  # "Repository created" too
    fresh = stores.fresh()
    assert fresh.verify("repo1") == []
    assert readable(fresh, ids) == before  # the commit on no branch included
    again = fresh.graveler.collect_garbage("repo1", grace_seconds=HOUR)
    assert (again.packs_deleted, again.rows_deleted, again.blobs_deleted) == (0, 0, 0)


def test_gc_keeps_the_base_of_a_live_patch_that_no_commit_names_whole(stores: Stores) -> None:
    # One operation that applies twice (a multi-commit revert does) can leave the final
    # tree's patches based on whole nodes of an intermediate tree that nothing commits:
    # only the patches name those bases (and the ``pack:`` row of their pack, its pack).
    catalog = stores.catalog
    ids = commit_history(catalog)
    ctx = catalog.graveler.open("repo1")
    writer = Tree(PackedNodeStore(stores.block, stores.kv, NAMESPACE, NodeCache()))
    inserted = [(f"data/{i:05}-new".encode(), b"new") for i in range(0, 3_000, 7)]
    middle = writer.apply(ctx.root_of(ids[1]), inserted)  # inserts: nodes written whole
    updated = [(f"data/{i:05}".encode(), b"updated") for i in range(0, 3_000, 131)]
    final = writer.apply(middle, updated)  # a value each: patches of the middle's nodes
    commit = new_commit(ctx, [ids[1]], final, CommitRequest("me", "two applies", {}))
    final_refs = list(writer.walk_nodes(final))
    reachable = {ref_id(ref) for ref in final_refs} | {
        ref_id(ref) for cid in ids for ref in writer.walk_nodes(ctx.root_of(cid))
    }
    bases = {ref_id(patch_base(writer.store.get(ref))) for ref in final_refs}
    assert bases - {""} - reachable, "some patch must be based on a node no commit names"
    stores.age_blobs(2 * HOUR)

    report = catalog.graveler.collect_garbage("repo1", grace_seconds=HOUR)

    assert report.rows_deleted > 0  # the middle tree's other nodes are garbage
    fresh = stores.fresh()
    assert fresh.verify("repo1") == []
    fresh_ctx = fresh.graveler.open("repo1")
    items = dict(fresh_ctx.tree.iterate(final))
    assert len(items) == entries(catalog, ids[1]) + len(inserted)
    assert all(items[key] == b"updated" for key, _ in updated)
    assert readable(fresh, [*ids, commit.id]) == readable(catalog, [*ids, commit.id])


def test_gc_keeps_packs_younger_than_the_grace_period(stores: Stores) -> None:
    ids = commit_history(stores.catalog)
    head_root = stores.catalog.graveler.open("repo1").root_of(ids[1])
    crash_left_orphans(stores, head_root)
    packs, rows = stores.blobs("packs"), stores.rows()
    report = stores.catalog.graveler.collect_garbage("repo1", grace_seconds=HOUR)
    assert (report.packs_deleted, report.rows_deleted) == (0, 0)
    assert report.packs_kept_young == len(packs)
    assert (stores.blobs("packs"), stores.rows()) == (packs, rows)


def test_a_dry_run_reports_what_gc_would_remove_and_removes_nothing(stores: Stores) -> None:
    ids = commit_history(stores.catalog)
    crash_left_orphans(stores, stores.catalog.graveler.open("repo1").root_of(ids[1]))
    stores.age_blobs(2 * HOUR)
    packs, rows = stores.blobs("packs"), stores.rows()
    dry = stores.catalog.graveler.collect_garbage("repo1", grace_seconds=HOUR, dry_run=True)
    assert (stores.blobs("packs"), stores.rows()) == (packs, rows)
    real = stores.catalog.graveler.collect_garbage("repo1", grace_seconds=HOUR)
    assert (dry.packs_deleted, dry.rows_deleted, dry.bytes_freed) == (
        real.packs_deleted,
        real.rows_deleted,
        real.bytes_freed,
    )
    assert real.packs_deleted == 2


class CommitDuringSweep(SQLiteKV):
    """SQLite that runs ``during`` once, when the node index scan starts (the sweep)."""

    during: Any = None

    def scan(self, partition: str, *args: Any, **kwargs: Any) -> Iterator[tuple[bytes, bytes]]:
        if partition.startswith("graveler/nodeindex/") and self.during is not None:
            during, self.during = self.during, None
            during()
        return super().scan(partition, *args, **kwargs)


def test_a_commit_made_while_gc_sweeps_keeps_every_node(tmp_path: Path) -> None:
    kv = CommitDuringSweep(tmp_path / "meta.db")
    stores = Stores(tmp_path, kv)
    catalog = stores.catalog
    catalog.create_repository("repo1", NAMESPACE)
    commit_history(catalog)
    stores.age_blobs(2 * HOUR)
    late: list[str] = []

    def commit_now() -> None:
        # Written after the packs were listed and the commits marked: its pack is young.
        stage(catalog, [f"late/{i:04}" for i in range(500)], b"late")
        late.append(catalog.commit("repo1", "main", "during gc", "me").id)

    kv.during = commit_now
    catalog.graveler.collect_garbage("repo1", grace_seconds=HOUR)
    assert late
    fresh = stores.fresh()
    assert fresh.verify("repo1") == []
    assert entries(fresh, late[0], b"late/") == 500
    kv.close()


def test_gc_removes_unreferenced_one_blob_nodes_of_the_earlier_layout(stores: Stores) -> None:
    commit_history(stores.catalog)
    old_layout = BlockNodeStore(stores.block, NAMESPACE, NodeCache())
    orphan = Tree(old_layout).build([(f"old/{i:05}".encode(), b"x") for i in range(2_000)])
    assert stores.blobs("nodes")
    stores.age_blobs(2 * HOUR)
    report = stores.catalog.graveler.collect_garbage("repo1", grace_seconds=HOUR)
    assert report.blobs_deleted > 0
    assert stores.blobs("nodes") == []
    assert orphan not in {a.rsplit("/", 1)[-1] for a in stores.blobs("nodes")}
    assert stores.fresh().verify("repo1") == []


def test_gc_of_an_unknown_repository_or_a_negative_grace_is_refused(stores: Stores) -> None:
    with pytest.raises(NotFound):
        stores.catalog.graveler.collect_garbage("nope")
    with pytest.raises(InvalidValue):
        stores.catalog.graveler.collect_garbage("repo1", grace_seconds=-1)


# -- repository delete ---------------------------------------------------------------------
def test_deleting_a_repository_removes_its_index_and_tree_blobs_but_not_objects(
    stores: Stores,
) -> None:
    catalog = stores.catalog
    commit_history(catalog)
    objects = [s.address for s in stores.block.list_prefix(f"{NAMESPACE}/data/")]
    assert stores.rows()
    assert stores.blobs("packs")
    catalog.delete_repository("repo1")
    assert stores.rows() == []
    assert stores.blobs("packs") == []
    assert stores.blobs("nodes") == []
    assert gc.pending_purges(catalog.graveler) == []
    # Object data stays, as lakeFS leaves it: the user owns the namespace's objects.
    assert [s.address for s in stores.block.list_prefix(f"{NAMESPACE}/data/")] == objects


def test_deleting_one_of_two_repositories_sharing_a_namespace_keeps_the_others_trees(
    stores: Stores,
) -> None:
    catalog = stores.catalog
    ids = commit_history(catalog)
    catalog.create_repository("repo2", NAMESPACE)
    before = readable(stores.fresh(), ids)
    catalog.delete_repository("repo2")
    fresh = stores.fresh()
    assert fresh.verify("repo1") == []
    assert readable(fresh, ids) == before


class FailingDeletes(LocalBlockStore):
    """Local disk whose deletes fail after ``allowed`` of them (a crash midway)."""

    allowed: int | None = None

    def delete(self, address: str) -> None:
        if self.allowed is not None:
            if self.allowed == 0:
                raise OSError("the process died here")
            self.allowed -= 1
        super().delete(address)


class FailingIndexDeletes(SQLiteKV):
    """SQLite whose node index deletes fail while ``failing`` is set."""

    failing = False

    def write_batch(self, partition: str, sets: Any = (), deletes: Any = ()) -> None:
        if self.failing and partition.startswith("graveler/nodeindex/"):
            raise OSError("the process died here")
        super().write_batch(partition, sets, deletes)


@pytest.mark.parametrize(
    "crash",
    [
        pytest.param(0, id="before any blob is deleted"),
        pytest.param(2, id="after some packs are deleted"),
        pytest.param("index", id="after the packs, before the index rows"),
    ],
)
def test_a_delete_interrupted_midway_never_breaks_a_repository_created_in_its_place(
    tmp_path: Path, crash: int | str
) -> None:
    kv, block = FailingIndexDeletes(tmp_path / "meta.db"), FailingDeletes(tmp_path / "blocks")
    stores = Stores(tmp_path, kv, block)
    catalog = stores.catalog
    catalog.create_repository("repo1", NAMESPACE)
    commit_history(catalog)
    assert len(stores.blobs("packs")) >= 3
    if crash == "index":
        kv.failing = True
    else:
        block.allowed = int(crash)
    with pytest.raises(OSError, match="died"):
        catalog.delete_repository("repo1")
    assert gc.pending_purges(catalog.graveler) == [NAMESPACE]
    with pytest.raises(NotFound):
        catalog.get_repository("repo1")  # the name is free already
    block.allowed, kv.failing = None, False
    # Mtimes ahead of the clock (coarse file-system clocks, S3's whole seconds) never
    # keep the deleted repository's blobs: the purge removes what it listed.
    stores.age_blobs(-HOUR)
    # A new process creates the same repository again: the purge is finished first.
    again = stores.fresh()
    again.create_repository("repo1", NAMESPACE)
    assert gc.pending_purges(again.graveler) == []
    assert stores.rows() == []
    assert stores.blobs("packs") == []
    stage(again, [f"data/{i:05}" for i in range(3_000)], b"v1")  # the same content
    commit = again.commit("repo1", "main", "first again", "me")
    fresh = stores.fresh()
    assert fresh.verify("repo1") == []
    assert entries(fresh, commit.id) == 3_000
    kv.close()


def test_a_repository_created_over_an_interrupted_delete_without_finishing_it_works(
    tmp_path: Path,
) -> None:
    """Rows left naming deleted packs never fool a writer, and gc sweeps them."""
    kv, block = FailingIndexDeletes(tmp_path / "meta.db"), LocalBlockStore(tmp_path / "blocks")
    stores = Stores(tmp_path, kv, block)
    catalog = stores.catalog
    catalog.create_repository("repo1", NAMESPACE)
    commit_history(catalog)
    kv.failing = True
    with pytest.raises(OSError, match="died"):
        catalog.delete_repository("repo1")
    kv.failing = False
    left = stores.rows()
    assert left
    assert stores.blobs("packs") == []
    kv.delete(gc.PURGES, NAMESPACE.encode())  # as if the intent were lost
    again = stores.fresh()
    again.create_repository("repo1", NAMESPACE)
    stage(again, [f"data/{i:05}" for i in range(3_000)], b"v1")  # the same nodes again
    commit = again.commit("repo1", "main", "first again", "me")
    assert entries(stores.fresh(), commit.id) == 3_000
    report = stores.fresh().graveler.collect_garbage("repo1", grace_seconds=HOUR)
    assert report.rows_deleted > 0
    index = f"graveler/nodeindex/{NAMESPACE}"
    for key, value in kv.scan(index):  # every row left names a pack that exists
        assert block.exists(f"{NAMESPACE}/_lakever/packs/{row_pack(key, value)}")
    fresh = stores.fresh()
    assert fresh.verify("repo1") == []
    assert entries(fresh, commit.id) == 3_000
    kv.close()


def test_an_interrupted_delete_is_finished_by_the_next_gc(tmp_path: Path) -> None:
    kv, block = SQLiteKV(tmp_path / "meta.db"), FailingDeletes(tmp_path / "blocks")
    stores = Stores(tmp_path, kv, block)
    catalog = stores.catalog
    catalog.create_repository("repo1", NAMESPACE)
    catalog.create_repository("other", "local://lake/other")
    commit_history(catalog)
    block.allowed = 1
    with pytest.raises(OSError, match="died"):
        catalog.delete_repository("repo1")
    block.allowed = None
    report = stores.fresh().graveler.collect_garbage("other", grace_seconds=HOUR)
    assert report.purged == [NAMESPACE]
    assert stores.rows() == []
    assert stores.blobs("packs") == []
    kv.close()


def test_the_mark_walks_a_subtree_shared_by_many_commits_once(stores: Stores) -> None:
    catalog = stores.catalog
    stage(catalog, [f"data/{i:05}" for i in range(60_000)], b"v0")
    catalog.commit("repo1", "main", "base", "me")
    for n in range(1, 16):  # each commit rewrites one path of the tree
        stage(catalog, [f"data/{i:05}" for i in range(n * 3_000, n * 3_000 + 3)], b"v%d" % n)
        catalog.commit("repo1", "main", f"change {n}", "me")

    def lookups(run: Any) -> int:
        """Node lookups made by ``run`` on a graveler of its own (one per node read)."""
        cache = NodeCache()
        run(Graveler(stores.kv, stores.block, cache=cache))
        return cache.hits + cache.misses

    def walk_each_commit_whole(graveler: Graveler) -> None:
        ctx = graveler.open("repo1")
        for commit in graveler.refs.scan_commits(ctx.repo):
            for _ in ctx.tree.walk_nodes(commit.meta_range_id):
                pass

    def walk_the_head(graveler: Graveler) -> None:
        ctx = graveler.open("repo1")
        for _ in ctx.tree.walk_nodes(ctx.root_of(ctx.commit_id_of("main"))):
            pass

    one_tree = lookups(walk_the_head)
    marked = lookups(lambda graveler: graveler.collect_garbage("repo1", dry_run=True))
    whole = lookups(walk_each_commit_whole)
    # Each walk reads the tree's internal nodes, and the base of each patched one (a
    # commit's rewritten nodes are stored as patches of their earlier versions).
    assert whole >= 10 * one_tree
    # One tree, then per commit its root and the one rewritten node below it, and the
    # base of each when it is a patch.
    assert marked <= one_tree + 17 * 4 + 2


class FailingDrops(SQLiteKV):
    """SQLite whose drop of a repository's own partition fails while ``failing`` is set."""

    failing = False

    def drop_partition(self, partition: str) -> None:
        if self.failing and partition.startswith("graveler/repo/"):
            raise OSError("the process died here")
        super().drop_partition(partition)


def metadata_left(kv: SQLiteKV, instance_id: str, tokens: list[str]) -> int:
    partitions = [f"graveler/repo/{instance_id}", *(f"graveler/staging/{t}" for t in tokens)]
    return sum(1 for p in partitions for _ in kv.scan(p))


def test_a_delete_interrupted_before_dropping_the_metadata_is_finished_by_gc(
    tmp_path: Path,
) -> None:
    kv = FailingDrops(tmp_path / "meta.db")
    catalog = Catalog(kv, LocalBlockStore(tmp_path / "blocks"))
    catalog.create_repository("repo1", NAMESPACE)
    catalog.create_repository("other", "local://lake/other")
    commit_history(catalog)
    catalog.create_branch("repo1", "wip", "main")
    stage(catalog, ["wip/1", "wip/2"], b"staged", branch="wip")  # uncommitted
    repo = catalog.graveler.get_repository("repo1")
    tokens = [t for _, b in catalog.graveler.refs.scan_branches(repo) for t in b.tokens]
    assert metadata_left(kv, repo.instance_id, tokens) > 0
    kv.failing = True
    with pytest.raises(OSError, match="died"):
        catalog.delete_repository("repo1")
    kv.failing = False
    assert metadata_left(kv, repo.instance_id, tokens) > 0
    Catalog(kv, catalog.block).graveler.collect_garbage("other")
    assert metadata_left(kv, repo.instance_id, tokens) == 0
    assert stores_empty(kv, catalog)
    kv.close()


def stores_empty(kv: SQLiteKV, catalog: Catalog) -> bool:
    """No intent left, no index row and no pack of the deleted namespace."""
    rows = list(kv.scan(f"graveler/nodeindex/{NAMESPACE}"))
    packs = list(catalog.block.list_prefix(f"{NAMESPACE}/_lakever/"))
    return not (rows or packs or list(kv.scan(gc.PURGES)) or list(kv.scan(gc.DROPS)))


def test_a_completed_delete_leaves_no_metadata_of_the_repository(stores: Stores) -> None:
    catalog = stores.catalog
    commit_history(catalog)
    stage(catalog, ["wip/1"], b"staged")
    repo = catalog.graveler.get_repository("repo1")
    tokens = [t for _, b in catalog.graveler.refs.scan_branches(repo) for t in b.tokens]
    catalog.delete_repository("repo1")
    assert metadata_left(stores.kv, repo.instance_id, tokens) == 0
    assert stores_empty(stores.kv, catalog)
