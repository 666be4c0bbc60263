"""Threads writing and committing to one branch: no lost update, no duplicate commit."""

from __future__ import annotations

import contextlib
import itertools
import threading

from lakever_server.catalog.catalog import Catalog
from lakever_server.errors import NoChanges

REPO = "repo1"
WRITERS, FILES_PER_WRITER, COMMITTERS = 4, 25, 2


def _run_all(threads: list[threading.Thread]) -> None:
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
        assert not thread.is_alive()


def test_concurrent_uploads_and_commits_lose_nothing(catalog: Catalog) -> None:
    errors: list[BaseException] = []
    writing = threading.Event()
    writing.set()
    made: list[str] = []
    made_lock = threading.Lock()

    def writer(n: int) -> None:
        try:
            for i in range(FILES_PER_WRITER):
                catalog.write_object(REPO, "main", f"w{n}/f{i:03}", [f"{n}-{i}".encode()])
        except BaseException as exc:  # surfaced by the assertion below
            errors.append(exc)

    def committer() -> None:
        while writing.is_set():
            try:
                commit = catalog.commit(REPO, "main", "periodic", "bot")
            except NoChanges:
                continue
            except BaseException as exc:
                errors.append(exc)
                return
            with made_lock:
                made.append(commit.id)

    writers = [threading.Thread(target=writer, args=(n,)) for n in range(WRITERS)]
    committers = [threading.Thread(target=committer) for _ in range(COMMITTERS)]
    for thread in committers:
        thread.start()
    _run_all(writers)
    writing.clear()
    for thread in committers:
        thread.join(timeout=120)
    assert errors == []
    with contextlib.suppress(NoChanges):
        made.append(catalog.commit(REPO, "main", "final", "bot").id)
    expected = sorted(f"w{n}/f{i:03}" for n in range(WRITERS) for i in range(FILES_PER_WRITER))
    listed = catalog.list_entries(REPO, "main@", amount=1000).results
    assert [e.path for e in listed] == expected
    assert catalog.diff_uncommitted(REPO, "main").results == []
    history = catalog.log(REPO, "main", amount=1000).results
    assert len(made) == len(set(made))
    assert {c.id for c in history} >= set(made)
    for child, parent in itertools.pairwise(history):
        assert child.parents == (parent.id,)  # one linear chain: no commit lost or forked
    assert catalog.verify(REPO) == []


def test_concurrent_merges_into_one_branch_all_land(catalog: Catalog) -> None:
    runs = [f"run-{i}" for i in range(4)]
    for run in runs:
        catalog.create_branch(REPO, run, "main")
        catalog.write_object(REPO, run, f"{run}/out.parquet", [run.encode()])
        catalog.commit(REPO, run, f"{run} output", "dag")
    errors: list[BaseException] = []

    def merge(run: str) -> None:
        try:
            catalog.merge(REPO, run, "main", "dag")
        except BaseException as exc:
            errors.append(exc)

    _run_all([threading.Thread(target=merge, args=(run,)) for run in runs])
    assert errors == []
    listed = [e.path for e in catalog.list_entries(REPO, "main").results]
    assert listed == sorted(f"{run}/out.parquet" for run in runs)
    merges = [
        c for c in catalog.log(REPO, "main", first_parent=True).results if len(c.parents) == 2
    ]
    assert len(merges) == len(runs)
