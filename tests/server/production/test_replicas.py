"""Two real server processes on one PostgreSQL database and one block store.

Both replicas hammer one branch with concurrent uploads, commits and merges. Nothing
acknowledged may be lost, no commit may appear twice, every refused request is a 409 or
429 a client can retry, and fsck finds the repository consistent afterwards. Mutable
state changed through one replica (protection rules, credentials) is seen by the other
at once.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import httpx

from tests.server.production.conftest import Replicas
from tests.support.server import RunningServer

REPO = "hammer"
UPLOADERS_PER_REPLICA = 2
UPLOADS_EACH = 10
COMMITS_EACH = 5
MERGES_EACH = 3
ATTEMPTS = 40
MERGE_ATTEMPTS = 400
COMMITS_CAP = 400
RETRYABLE = {409, 429}
NO_CHANGES = "no changes"
DIRTY = "uncommitted changes"
"""lakeFS refuses to merge into a branch with staged changes (400): a merge into the
hammered branch succeeds only between a commit and the next upload, so mergers retry it."""


@dataclass
class Ledger:
    """What the servers acknowledged, and every refusal they answered with."""

    uploads: dict[str, str] = field(default_factory=dict)  # path -> checksum
    commits: list[str] = field(default_factory=list)
    refusals: list[tuple[str, int, str]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    writers_done: threading.Event = field(default_factory=threading.Event)

    def send(
        self,
        http: httpx.Client,
        method: str,
        url: str,
        *,
        attempts: int = ATTEMPTS,
        dirty_ok: bool = False,
        **kwargs: Any,
    ) -> httpx.Response:
        """Send until it succeeds, recording each refusal; a non-retryable one stops."""
        what = f"{method} {url}"
        for _ in range(attempts):
            response = http.request(method, url, **kwargs)
            if response.is_success:
                return response
            with self.lock:
                self.refusals.append((what, response.status_code, response.text))
            dirty = dirty_ok and response.status_code == 400 and DIRTY in response.text
            if response.status_code not in RETRYABLE and not dirty:
                raise AssertionError(f"{what}: {response.status_code} {response.text}")
        raise AssertionError(f"{what}: still refused after {attempts} attempts")


def upload(ledger: Ledger, http: httpx.Client, branch: str, path: str, data: bytes) -> None:
    reply = ledger.send(
        http,
        "POST",
        f"/repositories/{REPO}/branches/{branch}/objects",
        params={"path": path},
        content=data,
        headers={"Content-Type": "application/octet-stream"},
    )
    with ledger.lock:
        ledger.uploads[path] = reply.json()["checksum"]


def uploader(server: RunningServer, name: str, ledger: Ledger) -> None:
    with server.http() as http:
        for i in range(UPLOADS_EACH):
            upload(ledger, http, "main", f"uploads/{name}/{i:03}.txt", f"{name}:{i}".encode())


def committer(server: RunningServer, name: str, ledger: Ledger) -> None:
    """Commit at least ``COMMITS_EACH`` times, and on until the writers are done.

    A commit finding nothing staged (another replica's commit took it) is lakeFS's 400
    "no changes", a normal outcome here, not a refusal.
    """
    url = f"/repositories/{REPO}/branches/main/commits"
    with server.http() as http:
        for i in range(COMMITS_CAP):
            if i >= COMMITS_EACH and ledger.writers_done.is_set():
                return
            reply = http.post(url, json={"message": f"{name} commit {i}"})
            if reply.status_code == 201:
                with ledger.lock:
                    ledger.commits.append(reply.json()["id"])
            elif not (reply.status_code == 400 and NO_CHANGES in reply.text):
                with ledger.lock:
                    ledger.refusals.append((f"POST {url}", reply.status_code, reply.text))
                assert reply.status_code in RETRYABLE, reply.text


def merger(server: RunningServer, name: str, ledger: Ledger) -> None:
    """Branch from main, write and commit there, merge back; repeatedly."""
    branch = f"feature-{name}"
    with server.http() as http:
        created = http.post(
            f"/repositories/{REPO}/branches", json={"name": branch, "source": "main"}
        )
        assert created.status_code == 201, created.text
        for i in range(MERGES_EACH):
            upload(ledger, http, branch, f"merged/{name}/{i:03}.txt", f"{name}+{i}".encode())
            commit_url = f"/repositories/{REPO}/branches/{branch}/commits"
            body = {"message": f"{name} feature {i}"}
            committed = ledger.send(http, "POST", commit_url, json=body)
            merge_url = f"/repositories/{REPO}/refs/{branch}/merge/main"
            merged = ledger.send(
                http, "POST", merge_url, json={}, attempts=MERGE_ATTEMPTS, dirty_ok=True
            )
            with ledger.lock:
                ledger.commits += [committed.json()["id"], merged.json()["reference"]]


def listing(http: httpx.Client, ref: str) -> dict[str, str]:
    """Every object at ``ref`` (path -> checksum), all pages."""
    found: dict[str, str] = {}
    after = ""
    while True:
        page = http.get(
            f"/repositories/{REPO}/refs/{ref}/objects/ls", params={"after": after, "amount": 1000}
        ).json()
        found.update({o["path"]: o["checksum"] for o in page["results"]})
        if not page["pagination"]["has_more"]:
            return found
        after = page["pagination"]["next_offset"]


def log_ids(http: httpx.Client, ref: str) -> list[str]:
    ids: list[str] = []
    after = ""
    while True:
        page = http.get(
            f"/repositories/{REPO}/refs/{ref}/commits", params={"after": after, "amount": 1000}
        ).json()
        ids += [c["id"] for c in page["results"]]
        if not page["pagination"]["has_more"]:
            return ids
        after = page["pagination"]["next_offset"]


def hammer(replicas: Replicas) -> Ledger:
    ledger = Ledger()
    jobs: list[tuple[Callable[..., None], RunningServer, str]] = []
    for label, server in (("a", replicas.a), ("b", replicas.b)):
        jobs += [(uploader, server, f"{label}{n}") for n in range(UPLOADERS_PER_REPLICA)]
        jobs += [(committer, server, label), (merger, server, label)]
    with ThreadPoolExecutor(len(jobs)) as pool:
        futures = [(job, pool.submit(job, server, name, ledger)) for job, server, name in jobs]
        writers = [future for job, future in futures if job is not committer]
        try:
            for future in writers:
                future.result()
        finally:
            ledger.writers_done.set()
        for _, future in futures:
            future.result()
    return ledger


def test_two_replicas_hammering_one_branch_lose_no_update(replicas: Replicas) -> None:
    with replicas.a.http() as http:
        created = http.post(
            "/repositories", json={"name": REPO, "storage_namespace": replicas.namespace(REPO)}
        )
        assert created.status_code == 201, created.text

    ledger = hammer(replicas)

    for what, status, text in ledger.refusals:
        assert status in RETRYABLE or ("/merge/" in what and DIRTY in text), (what, text)
    with replicas.b.http() as http:
        # Acknowledged means visible on the branch (committed or still staged)...
        on_main = listing(http, "main")
        for path, checksum in ledger.uploads.items():
            assert on_main.get(path) == checksum, path
        final = http.post(f"/repositories/{REPO}/branches/main/commits", json={"message": "end"})
        if final.status_code == 400 and NO_CHANGES in final.text:
            final = http.get(f"/repositories/{REPO}/branches/main")
            final_id: str = final.json()["commit_id"]
        else:
            assert final.status_code == 201, final.text
            final_id = final.json()["id"]
        # ...and, once committed, in the commit, with nothing left behind in staging.
        assert http.get(f"/repositories/{REPO}/branches/main/diff").json()["results"] == []
        committed = listing(http, final_id)
        assert {p: committed.get(p) for p in ledger.uploads} == ledger.uploads
        history = log_ids(http, "main")
    assert len(history) == len(set(history)), "a commit appears twice in the log"
    assert len(ledger.commits) == len(set(ledger.commits)), "two acknowledgements, one commit"
    assert set(ledger.commits) <= set(history)
    assert replicas.verify(REPO) == []


def test_a_protection_rule_set_on_one_replica_binds_the_other_at_once(
    replicas: Replicas,
) -> None:
    name = "rules"
    with replicas.a.http() as a, replicas.b.http() as b:
        created = a.post(
            "/repositories", json={"name": name, "storage_namespace": replicas.namespace(name)}
        )
        assert created.status_code == 201, created.text
        assert b.post(f"/repositories/{name}/branches", json={"name": "guarded", "source": "main"})
        url = f"/repositories/{name}/branches/guarded/objects"
        before = b.post(url, params={"path": "x"}, content=b"1")
        assert before.status_code == 201
        rules = a.put(
            f"/repositories/{name}/settings/branch_protection", json=[{"pattern": "guarded"}]
        )
        assert rules.status_code == 204
        after = b.post(url, params={"path": "y"}, content=b"2")
        assert after.status_code == 403, after.text


def test_a_key_deleted_on_one_replica_is_refused_by_the_other_at_once(
    replicas: Replicas,
) -> None:
    with replicas.a.http() as a:
        created = a.post("/auth/users/admin/credentials")
        assert created.status_code == 201, created.text
        key: dict[str, Any] = created.json()
    pair = (key["access_key_id"], key["secret_access_key"])
    with httpx.Client(base_url=replicas.b.api_url, auth=pair) as b:
        assert b.get("/user").status_code == 200  # B has now verified (and seen) the key
        with replicas.a.http() as a:
            deleted = a.delete(f"/auth/users/admin/credentials/{pair[0]}")
            assert deleted.status_code == 204
        assert b.get("/user").status_code == 401


def test_an_import_started_on_one_replica_is_followed_and_finished_on_the_other(
    replicas: Replicas,
) -> None:
    name = "imported"
    source = replicas.namespace("import-source") + "/day=1/"
    store = replicas.open_block_store()
    rows = {f"part-{i}.csv": f"row {i}\n".encode() for i in range(3)}
    for file, data in rows.items():
        store.put(source + file, [data])
    with replicas.a.http() as a, replicas.b.http() as b:
        created = a.post(
            "/repositories", json={"name": name, "storage_namespace": replicas.namespace(name)}
        )
        assert created.status_code == 201, created.text
        location = {"type": "common_prefix", "path": source, "destination": "events/day=1/"}
        started = a.post(
            f"/repositories/{name}/branches/main/import",
            json={"paths": [location], "commit": {"message": "import day 1"}},
        )
        assert started.status_code == 202, started.text
        status_url = f"/repositories/{name}/branches/main/import"
        deadline = time.monotonic() + 120
        while True:
            status = b.get(status_url, params={"id": started.json()["id"]})
            assert status.status_code == 200, status.text
            body = status.json()
            if body["completed"] or "error" in body:
                break
            assert time.monotonic() < deadline, f"import still running: {body}"
            time.sleep(0.1)  # polling interval while the import runs
        assert body["completed"], body
        assert body["commit"]["message"] == "import day 1"
        listed = b.get(f"/repositories/{name}/refs/main/objects/ls", params={"prefix": "events/"})
        assert [r["path"] for r in listed.json()["results"]] == [
            f"events/day=1/{file}" for file in sorted(rows)
        ]
