"""Every versioning verb of ``lakever`` against the real server process (in-process CLI)."""

from __future__ import annotations

import json

import pytest

from tests.cli.e2e.lakever_runner import Lakever, unique_repository


def put(lakever: Lakever, uri: str, content: str) -> None:
    """Upload ``content`` to ``uri`` through ``lakever fs upload`` from stdin."""
    lakever.run("fs", "upload", "-", uri, input=content)


def head(lakever: Lakever, repo: str, branch: str = "main") -> str:
    commit_id: str = lakever.json("branch", "show", f"lakefs://{repo}/{branch}")["commit_id"]
    return commit_id


def test_repo_create_list_show_and_delete(lakever: Lakever) -> None:
    name = unique_repository("repo")
    created = lakever.json("repo", "create", f"lakefs://{name}", "--default-branch", "trunk")
    assert created["id"] == name
    assert created["default_branch"] == "trunk"
    listed = lakever.json("repo", "list", "--prefix", name)
    assert [r["id"] for r in listed] == [name]
    assert name in lakever.run("repo", "list").stdout
    assert (
        lakever.json("repo", "show", f"lakefs://{name}")["storage_namespace"]
        == created["storage_namespace"]
    )
    assert lakever.json("branch", "list", f"lakefs://{name}")[0]["id"] == "trunk"
    exists = lakever.json_error("repo", "create", f"lakefs://{name}", code=4)
    assert exists["status"] == 409
    lakever.run("repo", "delete", f"lakefs://{name}", "--yes")
    gone = lakever.json_error("repo", "show", f"lakefs://{name}", code=3)
    assert gone["status"] == 404


def test_branch_create_list_show_reset_and_delete(lakever: Lakever, repo: str) -> None:
    created = lakever.json(
        "branch", "create", f"lakefs://{repo}/my-experiment", "--source", f"lakefs://{repo}/main"
    )
    assert created["commit_id"] == head(lakever, repo)
    # the story's short form: a bare source ref next to a URI
    lakever.run("branch", "create", f"lakefs://{repo}/other", "--source", "my-experiment")
    ids = [b["id"] for b in lakever.json("branch", "list", f"lakefs://{repo}")]
    assert ids == ["main", "my-experiment", "other"]
    assert (
        lakever.json("branch", "list", f"lakefs://{repo}", "--amount", "2")
        == lakever.json("branch", "list", f"lakefs://{repo}")[:2]
    )
    put(lakever, f"lakefs://{repo}/my-experiment/keep.txt", "keep")
    put(lakever, f"lakefs://{repo}/my-experiment/drop/a.txt", "a")
    lakever.run("branch", "reset", f"lakefs://{repo}/my-experiment", "--prefix", "drop/", "--yes")
    assert [d["path"] for d in lakever.json("diff", f"lakefs://{repo}/my-experiment")] == [
        "keep.txt"
    ]
    lakever.run("branch", "reset", f"lakefs://{repo}/my-experiment", "--yes")
    assert lakever.json("diff", f"lakefs://{repo}/my-experiment") == []
    shown = lakever.run("branch", "show", f"lakefs://{repo}/my-experiment").stdout
    assert "Repository created" in shown
    lakever.run("branch", "delete", f"lakefs://{repo}/other", "--yes")
    assert lakever.json_error("branch", "show", f"lakefs://{repo}/other", code=3)["status"] == 404


def test_tag_create_list_show_and_delete(lakever: Lakever, repo: str) -> None:
    commit_id = head(lakever, repo)
    tagged = lakever.json("tag", "create", f"lakefs://{repo}/v1", f"lakefs://{repo}/main")
    assert tagged["commit_id"] == commit_id
    assert lakever.json("tag", "list", f"lakefs://{repo}") == [{"id": "v1", "commit_id": commit_id}]
    assert lakever.json("tag", "show", f"lakefs://{repo}/v1")["commit_id"] == commit_id
    assert (
        lakever.json_error("tag", "create", f"lakefs://{repo}/v1", "main", code=4)["status"] == 409
    )
    lakever.run("tag", "delete", f"lakefs://{repo}/v1", "--yes")
    assert lakever.json("tag", "list", f"lakefs://{repo}") == []


@pytest.mark.parametrize(
    ("kind", "make"),
    [
        pytest.param("branch", ("branch", "create", "{uri}", "--source", "main"), id="branches"),
        pytest.param("tag", ("tag", "create", "{uri}", "main"), id="tags"),
    ],
)
def test_ref_lists_filter_by_prefix_cap_by_amount_and_render_a_table(
    lakever: Lakever, repo: str, kind: str, make: tuple[str, ...]
) -> None:
    for name in ("nightly-1", "nightly-2", "release-1"):
        lakever.run(*(arg.format(uri=f"lakefs://{repo}/{name}") for arg in make))
    listing = (kind, "list", f"lakefs://{repo}")
    nightly = lakever.json(*listing, "--prefix", "nightly-")
    assert [r["id"] for r in nightly] == ["nightly-1", "nightly-2"]
    assert {r["commit_id"] for r in nightly} == {head(lakever, repo)}
    assert lakever.json(*listing, "--prefix", "nightly-", "--amount", "1") == nightly[:1]
    table = lakever.run(*listing, "--prefix", "release-").stdout
    assert "COMMIT ID" in table
    assert "release-1" in table
    assert "nightly-1" not in table


def test_commit_records_message_metadata_and_allows_empty(lakever: Lakever, repo: str) -> None:
    put(lakever, f"lakefs://{repo}/main/events/day=1.csv", "a,b\n")
    commit = lakever.json(
        "commit",
        f"lakefs://{repo}/main",
        "-m",
        "ingest day 1",
        "--meta",
        "dag_run=42",
        "--meta",
        "owner=etl",
    )
    assert commit["message"] == "ingest day 1"
    assert commit["metadata"] == {"dag_run": "42", "owner": "etl"}
    assert head(lakever, repo) == commit["id"]
    nothing = lakever.json_error("commit", f"lakefs://{repo}/main", "-m", "nothing", code=6)
    assert nothing["status"] == 400
    empty = lakever.json("commit", f"lakefs://{repo}/main", "-m", "marker", "--allow-empty")
    assert empty["parents"] == [commit["id"]]
    readable = lakever.run("show", "commit", f"lakefs://{repo}/{commit['id'][:12]}").stdout
    assert f"commit {commit['id']}" in readable
    assert "dag_run = 42" in readable
    assert lakever.json("show", "commit", f"lakefs://{repo}/main~1")["id"] == commit["id"]


def test_log_honours_amount_prefixes_and_first_parent(lakever: Lakever, repo: str) -> None:
    put(lakever, f"lakefs://{repo}/main/sales/a.csv", "1")
    lakever.run("commit", f"lakefs://{repo}/main", "-m", "sales")
    put(lakever, f"lakefs://{repo}/main/marketing/a.csv", "1")
    lakever.run("commit", f"lakefs://{repo}/main", "-m", "marketing")
    lakever.run("branch", "create", f"lakefs://{repo}/side", "--source", "main")
    put(lakever, f"lakefs://{repo}/side/side.csv", "1")
    lakever.run("commit", f"lakefs://{repo}/side", "-m", "side work")
    lakever.run("merge", f"lakefs://{repo}/side", "main", "-m", "merge side")
    messages = [c["message"] for c in lakever.json("log", f"lakefs://{repo}/main")]
    assert messages == ["merge side", "side work", "marketing", "sales", "Repository created"]
    assert [
        c["message"] for c in lakever.json("log", f"lakefs://{repo}/main", "--amount", "2")
    ] == [
        "merge side",
        "side work",
    ]
    first_parent = [
        c["message"] for c in lakever.json("log", f"lakefs://{repo}/main", "--first-parent")
    ]
    assert "side work" not in first_parent
    only_sales = lakever.json("log", f"lakefs://{repo}/main", "--prefixes", "sales/")
    assert [c["message"] for c in only_sales] == ["sales"]
    assert lakever.json("log", f"lakefs://{repo}/main", "--since", "2999-01-01") == []
    assert len(lakever.json("log", f"lakefs://{repo}/main", "--since", "2000-01-01")) == 5
    stopped = lakever.json("log", f"lakefs://{repo}/main", "--stop-at", "main~1", "--first-parent")
    assert [c["message"] for c in stopped] == ["merge side", "marketing"]
    text = lakever.run("log", f"lakefs://{repo}/main", "-n", "1").stdout
    assert text.startswith("commit ")
    assert "Merge:" in text
    assert "    merge side" in text


def test_diff_between_refs_and_of_uncommitted_changes(lakever: Lakever, repo: str) -> None:
    put(lakever, f"lakefs://{repo}/main/keep.csv", "1")
    put(lakever, f"lakefs://{repo}/main/gone.csv", "1")
    lakever.run("commit", f"lakefs://{repo}/main", "-m", "base")
    lakever.run("branch", "create", f"lakefs://{repo}/dev", "--source", "main")
    put(lakever, f"lakefs://{repo}/dev/new.csv", "2")
    put(lakever, f"lakefs://{repo}/dev/keep.csv", "changed")
    lakever.run("fs", "rm", f"lakefs://{repo}/dev/gone.csv")
    uncommitted = {d["path"]: d["type"] for d in lakever.json("diff", f"lakefs://{repo}/dev")}
    assert uncommitted == {"new.csv": "added", "keep.csv": "changed", "gone.csv": "removed"}
    lakever.run("commit", f"lakefs://{repo}/dev", "-m", "work")
    between = {d["path"]: d["type"] for d in lakever.json("diff", f"lakefs://{repo}/main", "dev")}
    assert between == uncommitted
    assert lakever.json("diff", f"lakefs://{repo}/main", "dev", "--prefix", "new") == [
        {"type": "added", "path": "new.csv", "path_type": "object", "size_bytes": 1}
    ]
    text = lakever.run("diff", f"lakefs://{repo}/main", f"lakefs://{repo}/dev").stdout
    assert "+ added    new.csv" in text
    assert "- removed  gone.csv" in text


def test_merge_reports_every_conflicting_path(lakever: Lakever, repo: str) -> None:
    paths = [f"tables/part-{i:02d}.csv" for i in range(15)]
    for path in paths:
        put(lakever, f"lakefs://{repo}/main/{path}", "base")
    lakever.run("commit", f"lakefs://{repo}/main", "-m", "base")
    lakever.run("branch", "create", f"lakefs://{repo}/my-branch", "--source", "main")
    for branch in ("main", "my-branch"):
        for path in paths:
            put(lakever, f"lakefs://{repo}/{branch}/{path}", f"changed on {branch}")
        lakever.run("commit", f"lakefs://{repo}/{branch}", "-m", f"change on {branch}")
    failed = lakever.run("merge", f"lakefs://{repo}/my-branch", "main", code=4)
    lines = failed.stderr.splitlines()
    assert lines[0].startswith("lakever: error: merge my-branch into main:")
    assert "(HTTP 409)" in lines[0]
    reported = [line.split("conflict: ", 1)[1].split(" (")[0] for line in lines[1:]]
    assert reported == paths  # all 15, not the first ten of a message
    error = lakever.json_error("merge", f"lakefs://{repo}/my-branch", "main", code=4)
    assert sorted(c["path"] for c in error["conflicts"]) == paths
    assert lakever.json("diff", f"lakefs://{repo}/main", "my-branch", "--two-way")  # nothing merged


def test_merge_strategy_and_squash(lakever: Lakever, repo: str) -> None:
    put(lakever, f"lakefs://{repo}/main/t.csv", "base")
    lakever.run("commit", f"lakefs://{repo}/main", "-m", "base")
    lakever.run("branch", "create", f"lakefs://{repo}/feature", "--source", "main")
    put(lakever, f"lakefs://{repo}/main/t.csv", "main side")
    lakever.run("commit", f"lakefs://{repo}/main", "-m", "main change")
    put(lakever, f"lakefs://{repo}/feature/t.csv", "feature side")
    lakever.run("commit", f"lakefs://{repo}/feature", "-m", "feature change")
    merged = lakever.json(
        "merge",
        f"lakefs://{repo}/feature",
        f"lakefs://{repo}/main",
        "--strategy",
        "source-wins",
        "--squash",
    )
    assert merged["reference"] == head(lakever, repo)
    assert lakever.run("fs", "cat", f"lakefs://{repo}/main/t.csv").stdout == "feature side"
    assert len(lakever.json("show", "commit", f"lakefs://{repo}/main")["parents"]) == 1  # squashed


def test_revert_of_two_commits_in_one_call(lakever: Lakever, repo: str) -> None:
    put(lakever, f"lakefs://{repo}/main/good.csv", "good")
    lakever.run("commit", f"lakefs://{repo}/main", "-m", "good data")
    good_head = head(lakever, repo)
    put(lakever, f"lakefs://{repo}/main/bad-1.csv", "bad")
    first_bad = lakever.json("commit", f"lakefs://{repo}/main", "-m", "bad 1")["id"]
    put(lakever, f"lakefs://{repo}/main/bad-2.csv", "bad")
    second_bad = lakever.json("commit", f"lakefs://{repo}/main", "-m", "bad 2")["id"]
    # newest first, with short ids, as the story does it
    reverted = lakever.json(
        "branch", "revert", f"lakefs://{repo}/main", second_bad[:8], first_bad[:8], "--yes"
    )
    assert reverted["reverted"] == [second_bad, first_bad]
    assert reverted["atomic"] is True
    assert reverted["commit_id"] == head(lakever, repo)
    assert lakever.json("diff", f"lakefs://{repo}/main", good_head, "--two-way") == []
    # both reverts land in one merge: no reader ever saw only one of them
    landed = lakever.json("show", "commit", f"lakefs://{repo}/main")
    assert landed["message"].startswith("Revert 2 commits")
    assert landed["parents"][0] == second_bad
    first_parent = [c["id"] for c in lakever.json("log", f"lakefs://{repo}/main", "--first-parent")]
    assert first_parent[:2] == [landed["id"], second_bad]
    # the hidden working branch is gone
    import lakefs_sdk

    with lakever.server.sdk_client() as api_client:
        branches = lakefs_sdk.BranchesApi(api_client).list_branches(repo, show_hidden=True)
    assert [b.id for b in branches.results] == ["main"]


def test_revert_one_by_one_and_with_ref_expressions(lakever: Lakever, repo: str) -> None:
    good_head = head(lakever, repo)
    for i in (1, 2):
        put(lakever, f"lakefs://{repo}/main/bad-{i}.csv", "bad")
        lakever.run("commit", f"lakefs://{repo}/main", "-m", f"bad {i}")
    # `main main~1` are resolved before anything changes: the two newest commits
    lakever.run("revert", f"lakefs://{repo}/main", "main", "main~1", "--no-atomic", "--yes")
    assert lakever.json("diff", f"lakefs://{repo}/main", good_head, "--two-way") == []
    messages = [c["message"] for c in lakever.json("log", f"lakefs://{repo}/main", "-n", "2")]
    assert all(m.startswith("Revert") for m in messages), messages
    missing = lakever.json_error("revert", f"lakefs://{repo}/main", "0" * 12, "--yes", code=3)
    assert missing["status"] == 404


def test_atomic_revert_that_fails_leaves_the_branch_untouched(lakever: Lakever, repo: str) -> None:
    put(lakever, f"lakefs://{repo}/main/a.csv", "v1")
    first = lakever.json("commit", f"lakefs://{repo}/main", "-m", "add a")["id"]
    put(lakever, f"lakefs://{repo}/main/b.csv", "v1")
    second = lakever.json("commit", f"lakefs://{repo}/main", "-m", "add b")["id"]
    put(lakever, f"lakefs://{repo}/main/a.csv", "v2")
    lakever.run("commit", f"lakefs://{repo}/main", "-m", "change a")
    before = head(lakever, repo)
    # b reverts cleanly, a does not (changed since): nothing may land
    failed = lakever.run("revert", f"lakefs://{repo}/main", second, first, "--yes", code=4)
    assert f"revert {first[:12]}" in failed.stderr
    assert head(lakever, repo) == before
    assert lakever.run("fs", "cat", f"lakefs://{repo}/main/b.csv").stdout == "v1"


def test_cherry_pick_applies_one_commit(lakever: Lakever, repo: str) -> None:
    lakever.run("branch", "create", f"lakefs://{repo}/hotfix", "--source", "main")
    put(lakever, f"lakefs://{repo}/hotfix/fix.csv", "fix")
    fix = lakever.json("commit", f"lakefs://{repo}/hotfix", "-m", "the fix")["id"]
    put(lakever, f"lakefs://{repo}/hotfix/other.csv", "other")
    lakever.run("commit", f"lakefs://{repo}/hotfix", "-m", "unrelated")
    picked = lakever.json("cherry-pick", f"lakefs://{repo}/{fix}", f"lakefs://{repo}/main")
    assert picked["commit"]["id"] == head(lakever, repo)
    paths = [o["path"] for o in lakever.json("fs", "ls", f"lakefs://{repo}/main/")]
    assert paths == ["fix.csv"]


def test_bare_refs_use_the_repository_option(lakever: Lakever, repo: str) -> None:
    lakever.run("--repository", repo, "branch", "create", "my-experiment", "--source", "main")
    shown = lakever.json("--repository", f"lakefs://{repo}", "branch", "show", "my-experiment")
    assert shown["branch"] == "my-experiment"
    by_env = lakever.run("branch", "show", "my-experiment", "-o", "json", LAKEVER_REPOSITORY=repo)
    assert json.loads(by_env.stdout)["branch"] == "my-experiment"
