"""``diffRefs`` with ``branch$`` on the right, through the real server and lakefs-sdk."""

from __future__ import annotations

import lakefs_sdk
import pytest
from lakefs_sdk.client import LakeFSClient

from tests.support.server import RunningServer

REPO = "staged-diff"


@pytest.fixture(scope="module")
def sdk(lakever_server: RunningServer) -> LakeFSClient:
    """``dev`` has one committed change and two uncommitted ones against ``main``."""
    client: LakeFSClient = lakever_server.lakefs_sdk_client()
    client.repositories_api.create_repository(
        lakefs_sdk.RepositoryCreation(name=REPO, storage_namespace=f"local://{REPO}")
    )
    for path in ("a.csv", "b.csv"):
        client.objects_api.upload_object(REPO, "main", path, content=b"v1")
    client.commits_api.commit(REPO, "main", lakefs_sdk.CommitCreation(message="seed"))
    client.branches_api.create_branch(REPO, lakefs_sdk.BranchCreation(name="dev", source="main"))
    client.objects_api.upload_object(REPO, "dev", "a.csv", content=b"v2")
    client.commits_api.commit(REPO, "dev", lakefs_sdk.CommitCreation(message="edit a"))
    client.objects_api.upload_object(REPO, "dev", "c.csv", content=b"new!")
    client.objects_api.delete_object(REPO, "dev", "b.csv")
    return client


def test_diff_to_branch_dollar_lists_committed_and_uncommitted_changes(
    sdk: LakeFSClient,
) -> None:
    for diff_type in ("two_dot", "three_dot"):
        diff = sdk.refs_api.diff_refs(REPO, "main", "dev$", type=diff_type)
        assert [(d.path, d.type) for d in diff.results] == [
            ("a.csv", "changed"),
            ("b.csv", "removed"),
            ("c.csv", "added"),
        ]
        assert diff.results[2].size_bytes == 4


def test_diff_to_the_plain_branch_shows_commits_only(sdk: LakeFSClient) -> None:
    diff = sdk.refs_api.diff_refs(REPO, "main", "dev")
    assert [(d.path, d.type) for d in diff.results] == [("a.csv", "changed")]
