"""Every page of the web UI, through the real server process, as a signed-in user."""

from __future__ import annotations

import html
import re
from urllib.parse import parse_qs, urlsplit

from tests.server.ui import sample_files
from tests.server.ui.ui_client import Lake, UiSession
from tests.support.server import RunningServer

AIRFLOW_URL = "http://airflow.example:8080/dags/ingest/runs/manual__1/tasks/commit"


def test_login_with_the_quickstart_keys_opens_the_repository_list(
    lakever_server: RunningServer, lake: Lake
) -> None:
    lake.repository("listed-repo")
    session = UiSession(lakever_server)
    form = session.page("/login")
    assert 'name="access_key_id"' in form
    response = session.http.post(
        "/login",
        data={
            "access_key_id": lakever_server.access_key_id,
            "secret_access_key": lakever_server.secret_access_key,
            "next": "/repositories/listed-repo/branches",
        },
    )
    assert response.status_code == 303
    assert response.headers["location"] == "/repositories/listed-repo/branches"
    cookie = response.headers["set-cookie"]
    assert "internal_auth_session=" in cookie
    assert "HttpOnly" in cookie
    assert "listed-repo" in session.page("/")
    # The same session works for the REST API: one token scheme.
    assert session.get("/api/v1/user").json()["user"]["id"] == "admin"
    session.close()


def test_login_with_a_wrong_secret_is_refused(lakever_server: RunningServer) -> None:
    session = UiSession(lakever_server)
    response = session.http.post(
        "/login",
        data={"access_key_id": lakever_server.access_key_id, "secret_access_key": "wrong-one"},
    )
    assert response.status_code == 401
    assert "Invalid access key ID or secret access key" in response.text
    assert "set-cookie" not in response.headers
    assert session.get("/").status_code == 303
    session.close()


def test_login_sends_users_back_only_to_pages_of_this_server(
    lakever_server: RunningServer,
) -> None:
    session = UiSession(lakever_server)
    for target in ("//evil.example/", "https://evil.example/", "/\\evil.example"):
        response = session.http.post(
            "/login",
            data={
                "access_key_id": lakever_server.access_key_id,
                "secret_access_key": lakever_server.secret_access_key,
                "next": target,
            },
        )
        assert response.headers["location"] == "/"
    session.close()


def test_logout_ends_the_session(lakever_server: RunningServer) -> None:
    session = UiSession(lakever_server).login()
    session.page("/logout")
    response = session.submit("/logout", {})
    assert response.status_code == 303
    assert response.headers["location"] == "/login"
    assert session.get("/").status_code == 303
    session.close()


def test_repository_is_deleted_only_after_typing_its_name(ui: UiSession, lake: Lake) -> None:
    ui.page("/")
    created = ui.submit("/repositories", {"name": "made-in-ui", "default_branch": "trunk"})
    assert created.status_code == 303
    assert created.headers["location"] == "/repositories/made-in-ui/objects?ref=trunk"
    assert "made-in-ui" in ui.page("/")
    ui.page("/repositories/made-in-ui/delete")
    wrong = ui.submit("/repositories/made-in-ui/delete", {"confirm_name": "made-in"})
    assert wrong.status_code == 400
    assert "does not match" in wrong.text
    assert lake.api.get("/repositories/made-in-ui").status_code == 200
    deleted = ui.submit("/repositories/made-in-ui/delete", {"confirm_name": "made-in-ui"})
    assert deleted.status_code == 303
    assert lake.api.get("/repositories/made-in-ui").status_code == 404
    assert "made-in-ui" not in ui.page("/")


def test_branches_are_created_from_a_ref_deleted_and_show_protection(
    ui: UiSession, lake: Lake
) -> None:
    repo = lake.repository("branchy")
    lake.put(repo, "main", "a.txt", b"a")
    first = lake.commit(repo, "main", "first")
    lake.put(repo, "main", "b.txt", b"b")
    lake.commit(repo, "main", "second")
    lake.protect(repo, "release-*")
    ui.page(f"/repositories/{repo}/branches")
    response = ui.submit(f"/repositories/{repo}/branches", {"name": "release-1", "source": first})
    assert response.status_code == 303
    assert lake.head(repo, "release-1") == first
    page = ui.page(f"/repositories/{repo}/branches")
    row = re.search(r"<tr>\s*<td><a[^>]*>release-1</a>.*?</tr>", page, re.S)
    assert row is not None
    assert "protected" in row.group(0)
    assert first[:12] in row.group(0)
    main_row = re.search(r"<tr>\s*<td><a[^>]*>main</a>.*?</tr>", page, re.S)
    assert main_row is not None
    assert "protected" not in main_row.group(0)
    # A protected branch is refused with the API's reason, an ordinary one goes.
    ui.submit(f"/repositories/{repo}/branches", {"name": "scratch", "source": "main"})
    refused = ui.submit(f"/repositories/{repo}/branches/delete", {"name": "release-1"})
    assert refused.status_code == 403
    gone = ui.submit(f"/repositories/{repo}/branches/delete", {"name": "scratch"})
    assert gone.status_code == 303
    assert lake.api.get(f"/repositories/{repo}/branches/scratch").status_code == 404


def test_tags_are_created_at_a_ref_and_deleted(ui: UiSession, lake: Lake) -> None:
    repo = lake.repository("tagged")
    lake.put(repo, "main", "x", b"x")
    commit = lake.commit(repo, "main", "tag me")
    ui.page(f"/repositories/{repo}/tags")
    assert ui.submit(f"/repositories/{repo}/tags", {"name": "v1", "ref": "main"}).status_code == 303
    page = ui.page(f"/repositories/{repo}/tags")
    assert ">v1</a>" in page
    assert commit[:12] in page
    ui.submit(f"/repositories/{repo}/tags/delete", {"name": "v1"})
    assert "No tags yet" in ui.page(f"/repositories/{repo}/tags")


def test_object_browser_shows_folders_stats_and_downloads(ui: UiSession, lake: Lake) -> None:
    repo = lake.repository("browsed")
    lake.put(repo, "main", "events/2026/day1.json", b'{"n": 1}\n')
    lake.put(repo, "main", "events/2026/day2.json", b'{"n": 2}\n')
    lake.put(repo, "main", "README.txt", b"hello lake\n" * 3)
    lake.commit(repo, "main", "seed")
    root = ui.page(f"/repositories/{repo}/objects?ref=main")
    assert 'href="/repositories/browsed/objects?ref=main&amp;path=events%2F"' in root
    assert "README.txt" in root
    assert "33 B" in root
    folder = ui.page(f"/repositories/{repo}/objects?ref=main&path=events/2026/")
    assert "day1.json" in folder
    assert "day2.json" in folder
    # A folder named without its trailing slash is still the folder.
    assert "day1.json" in ui.page(f"/repositories/{repo}/objects?ref=main&path=events/2026")
    download = ui.get(f"/repositories/{repo}/objects/download?ref=main&path=README.txt")
    assert download.status_code == 200
    assert download.content == b"hello lake\n" * 3
    assert download.headers["content-disposition"] == "attachment; filename*=UTF-8''README.txt"
    assert download.headers["content-type"] == "application/octet-stream"
    missing = ui.page(f"/repositories/{repo}/objects?ref=main&path=nothing/here", status=404)
    assert "nothing/here" in missing


def test_object_page_previews_text_images_csv_and_parquet(ui: UiSession, lake: Lake) -> None:
    repo = lake.repository("previews")
    lake.put(repo, "main", "notes/readme.md", b"# Title\nsome notes\n", "text/markdown")
    lake.put(repo, "main", "img/logo.png", sample_files.png(), "image/png")
    lake.put(repo, "main", "tables/orders.csv", sample_files.csv_rows(500), "text/csv")
    lake.put(repo, "main", "tables/events.parquet", sample_files.parquet_table(5000))
    lake.commit(repo, "main", "previewable files")
    base = f"/repositories/{repo}/objects?ref=main&path="

    text = ui.page(base + "notes/readme.md")
    assert '<pre class="text-preview"># Title\nsome notes\n</pre>' in text
    assert "text/markdown" in text

    image = ui.page(base + "img/logo.png")
    src = re.search(r'<img class="image-preview" src="([^"]+)"', image)
    assert src is not None
    inline = ui.get(html.unescape(src.group(1)))
    assert inline.headers["content-type"] == "image/png"
    assert inline.headers["content-disposition"] == "inline"
    assert inline.content == sample_files.png()

    csv_page = ui.page(base + "tables/orders.csv")
    assert "<th>order_id</th><th>customer</th><th>amount</th>" in csv_page
    assert "<td>49</td><td>customer-0</td><td>122.50</td>" in csv_page
    assert "<td>50</td>" not in csv_page  # only the first 50 rows
    assert "first 50 rows" in csv_page

    parquet = ui.page(base + "tables/events.parquet")
    assert "<th>event_id</th><th>kind</th><th>value</th>" in parquet
    assert "<td>2</td><td>buy</td><td>0.5</td>" in parquet
    assert "first 50 of 5000 rows" in parquet


def test_commit_log_shows_metadata_and_links_back_to_the_airflow_task(
    ui: UiSession, lake: Lake
) -> None:
    repo = lake.repository("history")
    lake.put(repo, "main", "a", b"1")
    stamped = lake.commit(
        repo,
        "main",
        "ingest day 1",
        {
            "airflow.dag_id": "ingest",
            "airflow.task_id": "commit",
            "airflow.try_number": "2",
            "airflow.task_url": AIRFLOW_URL,
        },
    )
    lake.put(repo, "main", "b", b"2")
    plain = lake.commit(repo, "main", "by hand", {"airflow.task_url": "javascript:alert(1)"})
    page = ui.page(f"/repositories/{repo}/commits?ref=main")
    assert page.index(plain[:12]) < page.index(stamped[:12])  # newest first
    assert f'<a class="extlink" href="{AIRFLOW_URL}"' in page
    assert "ingest.commit (try 2)" in page
    assert 'href="javascript:' not in page
    assert "Repository created" in page
    commit = ui.page(f"/repositories/{repo}/commits/{stamped}")
    assert f'href="{AIRFLOW_URL}"' in commit
    assert "<th>airflow.dag_id</th><td>ingest</td>" in commit


def test_commit_page_shows_its_diff_against_its_parent(ui: UiSession, lake: Lake) -> None:
    repo = lake.repository("diffed")
    lake.put(repo, "main", "keep.txt", b"same")
    lake.put(repo, "main", "change.txt", b"v1")
    lake.put(repo, "main", "drop.txt", b"bye")
    parent = lake.commit(repo, "main", "before")
    lake.put(repo, "main", "change.txt", b"v2 longer")
    lake.put(repo, "main", "new.txt", b"new")
    lake.api.delete(f"/repositories/{repo}/branches/main/objects", params={"path": "drop.txt"})
    commit = lake.commit(repo, "main", "after")
    page = ui.page(f"/repositories/{repo}/commits/{commit}")
    changes = {
        path: kind
        for kind, path in re.findall(
            r'badge-(\w+)">\w+</span></td>\s*<td class="path">(?:<a[^>]*>)?([^<]+)', page
        )
    }
    assert changes == {"change.txt": "changed", "new.txt": "added", "drop.txt": "removed"}
    assert "keep.txt" not in page
    assert f'href="/repositories/{repo}/commits/{parent}"' in page


def test_compare_shows_the_diff_and_merges_with_the_chosen_strategy(
    ui: UiSession, lake: Lake
) -> None:
    repo = lake.repository("compared")
    lake.put(repo, "main", "shared.csv", b"a,b\n1,2\n")
    lake.commit(repo, "main", "base")
    lake.branch(repo, "run-1")
    lake.put(repo, "run-1", "out/result.csv", b"x\n1\n")
    lake.commit(repo, "run-1", "run output")
    page = ui.page(f"/repositories/{repo}/compare?ref=main&compare=run-1")
    assert "out/result.csv" in page
    assert "shared.csv" not in page.split("<table", 1)[1]
    assert 'name="strategy"' in page
    merged = ui.submit(
        f"/repositories/{repo}/compare/merge",
        {"ref": "main", "compare": "run-1", "strategy": "source-wins", "message": "ship run-1"},
    )
    assert merged.status_code == 303
    merge_commit = lake.head(repo, "main")
    assert merged.headers["location"] == f"/repositories/{repo}/commits/{merge_commit}"
    assert lake.read(repo, "main", "out/result.csv").content == b"x\n1\n"
    commit_page = ui.page(merged.headers["location"])
    assert "ship run-1" in commit_page
    assert "No differences" in ui.page(f"/repositories/{repo}/compare?ref=main&compare=run-1")


def test_merge_conflict_page_lists_every_conflicting_path_with_both_sides_stats(
    ui: UiSession, lake: Lake
) -> None:
    repo = lake.repository("conflicted")
    for name in ("a.csv", "b.csv", "c.csv"):
        lake.put(repo, "main", f"tables/{name}", b"original")
    lake.commit(repo, "main", "base")
    lake.branch(repo, "run-2")
    for name in ("a.csv", "b.csv"):
        lake.put(repo, "run-2", f"tables/{name}", b"from the run, longer")
    lake.api.delete(f"/repositories/{repo}/branches/run-2/objects", params={"path": "tables/c.csv"})
    lake.commit(repo, "run-2", "run writes")
    for name in ("a.csv", "b.csv", "c.csv"):
        lake.put(repo, "main", f"tables/{name}", b"main!")
    lake.commit(repo, "main", "someone else writes")
    main_head = lake.head(repo, "main")
    ui.page(f"/repositories/{repo}/compare?ref=main&compare=run-2")
    response = ui.submit(
        f"/repositories/{repo}/compare/merge", {"ref": "main", "compare": "run-2", "strategy": ""}
    )
    assert response.status_code == 409
    page = response.text
    assert "Merge conflict" in page
    assert "<strong>3</strong> conflicting paths" in page
    rows = re.findall(r'<td class="path">([^<]+)</td>(.*?)</tr>', page, re.S)
    assert [path for path, _ in rows] == ["tables/a.csv", "tables/b.csv", "tables/c.csv"]
    by_path = dict(rows)
    assert "20 B" in by_path["tables/a.csv"]  # the run's side
    assert "5 B" in by_path["tables/a.csv"]  # main's side
    assert "no object" in by_path["tables/c.csv"]  # removed on the run
    assert lake.head(repo, "main") == main_head  # nothing merged
    # The page offers the merge again with a strategy, which resolves it.
    resolved = ui.submit(
        f"/repositories/{repo}/compare/merge",
        {"ref": "main", "compare": "run-2", "strategy": "source-wins"},
    )
    assert resolved.status_code == 303
    assert lake.read(repo, "main", "tables/a.csv").content == b"from the run, longer"
    assert lake.read(repo, "main", "tables/c.csv").status_code == 404


def _conflicting_pair(lake: Lake, name: str, paths: list[str]) -> str:
    """``run`` and ``main`` both change every path of ``paths`` differently; ``run``
    alone adds ``only-run.txt``."""
    repo = lake.repository(name)
    for path in paths:
        lake.put(repo, "main", path, b"original")
    lake.commit(repo, "main", "base")
    lake.branch(repo, "run")
    for path in paths:
        lake.put(repo, "run", path, b"from the run, longer")
    lake.put(repo, "run", "only-run.txt", b"new")
    lake.commit(repo, "run", "run writes")
    for path in paths:
        lake.put(repo, "main", path, b"main!")
    lake.commit(repo, "main", "someone else writes")
    return repo


def test_compare_url_shows_every_conflict_of_a_pair_without_merging(
    ui: UiSession, lake: Lake
) -> None:
    paths = [f"tables/t{i:02}.csv" for i in range(12)]
    repo = _conflicting_pair(lake, "shared-conflict", paths)
    main_head, run_head = lake.head(repo, "main"), lake.head(repo, "run")
    page = ui.page(f"/repositories/{repo}/compare?ref=main&compare=run")
    assert "<strong>12</strong> conflicting paths" in page
    rows = re.findall(r'<td class="path">([^<]+)</td>(.*?)</tr>', page, re.S)
    assert [path for path, _ in rows] == paths
    for _, sides in rows:
        assert "20 B" in sides  # the run's side
        assert "5 B" in sides  # main's side
    assert f"{run_head[:8]}" in page
    assert f"{main_head[:8]}" in page
    assert '<option value="">' not in page  # only strategies that resolve conflicts
    assert 'value="source-wins"' in page
    assert lake.head(repo, "main") == main_head  # looking merged nothing
    # The answer to a failed merge links to the same page.
    failed = ui.submit(
        f"/repositories/{repo}/compare/merge", {"ref": "main", "compare": "run", "strategy": ""}
    )
    assert failed.status_code == 409
    assert f'href="/repositories/{repo}/compare?ref=main&amp;compare=run"' in failed.text


def test_compare_url_of_a_clean_pair_offers_the_merge(ui: UiSession, lake: Lake) -> None:
    repo = lake.repository("clean-pair")
    lake.put(repo, "main", "keep.txt", b"1")
    lake.commit(repo, "main", "base")
    lake.branch(repo, "run")
    lake.put(repo, "run", "a.txt", b"1")
    lake.put(repo, "run", "b.txt", b"2")
    lake.commit(repo, "run", "two files")
    page = ui.page(f"/repositories/{repo}/compare?ref=main&compare=run")
    assert "Can merge: no conflicts, 2 changes (2 added, 0 changed, 0 removed)" in page
    assert "conflicting path" not in page
    assert f'action="/repositories/{repo}/compare/merge"' in page
    assert '<option value="">none (fail on conflicts)</option>' in page
    lake.put(repo, "run", "c.txt", b"staged on the run")
    workspace = ui.page(f"/repositories/{repo}/compare?ref=main&compare=run%24")
    assert "c.txt" in workspace
    assert "uncommitted changes; only committed changes can be merged" in workspace
    assert f'action="/repositories/{repo}/compare/merge"' not in workspace
    lake.put(repo, "main", "staged.txt", b"uncommitted")
    blocked = ui.page(f"/repositories/{repo}/compare?ref=main&compare=run")
    assert "Cannot merge yet" in blocked
    assert f'action="/repositories/{repo}/compare/merge"' not in blocked


def test_uncommitted_changes_are_committed_and_reset(ui: UiSession, lake: Lake) -> None:
    repo = lake.repository("staged")
    lake.put(repo, "main", "kept.txt", b"kept")
    page = ui.page(f"/repositories/{repo}/changes?ref=main")
    assert "kept.txt" in page
    committed = ui.submit(
        f"/repositories/{repo}/changes/commit?ref=main",
        {"message": "from the UI", "metadata": "owner=data-team\nticket = DQ-7"},
    )
    assert committed.status_code == 303
    commit_id = urlsplit(committed.headers["location"]).path.rsplit("/", 1)[-1]
    commit = lake.api.get(f"/repositories/{repo}/commits/{commit_id}").json()
    assert commit["message"] == "from the UI"
    assert commit["metadata"] == {"owner": "data-team", "ticket": "DQ-7"}
    assert "No uncommitted changes" in ui.page(f"/repositories/{repo}/changes?ref=main")
    lake.put(repo, "main", "oops.txt", b"oops")
    ui.page(f"/repositories/{repo}/changes?ref=main")
    reset = ui.submit(f"/repositories/{repo}/changes/reset?ref=main", {})
    assert reset.status_code == 303
    assert parse_qs(urlsplit(reset.headers["location"]).query) == {"ref": ["main"]}
    assert lake.read(repo, "main", "oops.txt").status_code == 404


def test_the_provider_extra_links_land_on_pages_that_answer(ui: UiSession, lake: Lake) -> None:
    from airflow_provider_lakever.links.lakever import branch_url, commit_url, diff_url

    repo = lake.repository("linked")
    lake.branch(repo, "run-3")
    lake.put(repo, "run-3", "part-0.csv", b"a\n")
    commit = lake.commit(repo, "run-3", "run commit")
    base = ui.server.url
    for url, expected in (
        (commit_url(base, repo, commit), "run commit"),
        (branch_url(base, repo, "run-3"), "part-0.csv"),
        (diff_url(base, repo, "main", "run-3"), "part-0.csv"),
    ):
        assert expected in ui.page(url.removeprefix(base))
