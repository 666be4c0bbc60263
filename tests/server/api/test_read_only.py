"""Read-only repositories over the real server: REST writes get lakeFS's 403
"read-only repository" unless ``force``; the S3 gateway refuses with AccessDenied; reads
keep working everywhere."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import lakefs_sdk
import pytest
from botocore.exceptions import ClientError
from lakefs_sdk.client import LakeFSClient
from lakefs_sdk.exceptions import ApiException

from tests.server.gateway.s3_support import s3_client
from tests.server.webhdfs.support import WebHdfs, access_token
from tests.support.server import RunningServer

REPO = "archive"
Call = Callable[[LakeFSClient, bool], Any]


@pytest.fixture(scope="module")
def sdk(lakever_server: RunningServer) -> LakeFSClient:
    """A read-only repository with ``a.txt`` committed on main, branches ``dev``, ``spare``."""
    client: LakeFSClient = lakever_server.lakefs_sdk_client()
    created = client.repositories_api.create_repository(
        lakefs_sdk.RepositoryCreation(
            name=REPO, storage_namespace=f"local://{REPO}", read_only=True
        )
    )
    assert created.read_only is True
    client.objects_api.upload_object(REPO, "main", "a.txt", content=b"kept", force=True)
    commit = lakefs_sdk.CommitCreation(message="seed", force=True)
    client.commits_api.commit(REPO, "main", commit)
    for name in ("dev", "spare"):
        branch = lakefs_sdk.BranchCreation(name=name, source="main", force=True)
        client.branches_api.create_branch(REPO, branch)
    return client


def refused(call: Callable[[], Any]) -> tuple[int, str]:
    with pytest.raises(ApiException) as caught:
        call()
    return caught.value.status, json.loads(caught.value.body)["message"]


CALLS: dict[str, Call] = {
    "upload": lambda c, f: c.objects_api.upload_object(
        REPO, "dev", "new.txt", content=b"x", force=f
    ),
    "delete object": lambda c, f: c.objects_api.delete_object(REPO, "spare", "a.txt", force=f),
    "commit": lambda c, f: c.commits_api.commit(
        REPO, "dev", lakefs_sdk.CommitCreation(message="m", allow_empty=True, force=f)
    ),
    "create branch": lambda c, f: c.branches_api.create_branch(
        REPO, lakefs_sdk.BranchCreation(name="feature", source="main", force=f)
    ),
    "merge": lambda c, f: c.refs_api.merge_into_branch(
        REPO, "dev", "main", merge=lakefs_sdk.Merge(allow_empty=True, force=f)
    ),
    "create tag": lambda c, f: c.tags_api.create_tag(
        REPO, lakefs_sdk.TagCreation(id="v1", ref="main", force=f)
    ),
    "delete branch": lambda c, f: c.branches_api.delete_branch(REPO, "spare", force=f),
}


@pytest.mark.parametrize("call", list(CALLS.values()), ids=list(CALLS))
def test_rest_write_is_refused_with_403_and_accepted_with_force(
    sdk: LakeFSClient, call: Call
) -> None:
    assert refused(lambda: call(sdk, False)) == (403, "read-only repository")
    call(sdk, True)


def test_reads_work_on_a_read_only_repository(
    lakever_server: RunningServer, sdk: LakeFSClient
) -> None:
    assert bytes(sdk.objects_api.get_object(REPO, "main", "a.txt")) == b"kept"
    listed = sdk.objects_api.list_objects(REPO, "main")
    assert "a.txt" in [o.path for o in listed.results]
    s3 = s3_client(lakever_server)
    assert s3.get_object(Bucket=REPO, Key="main/a.txt")["Body"].read() == b"kept"


def test_s3_put_and_delete_are_refused_with_access_denied(
    lakever_server: RunningServer, sdk: LakeFSClient
) -> None:
    s3 = s3_client(lakever_server)
    with pytest.raises(ClientError) as put:
        s3.put_object(Bucket=REPO, Key="main/by-s3.txt", Body=b"x")
    assert put.value.response["Error"]["Code"] == "AccessDenied"
    assert put.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    with pytest.raises(ClientError) as delete:
        s3.delete_object(Bucket=REPO, Key="main/a.txt")
    assert delete.value.response["Error"]["Code"] == "AccessDenied"
    assert bytes(sdk.objects_api.get_object(REPO, "main", "a.txt")) == b"kept"


def test_s3_multipart_upload_is_refused_before_any_part_is_sent(
    lakever_server: RunningServer,
) -> None:
    s3 = s3_client(lakever_server)
    with pytest.raises(ClientError) as create:
        s3.create_multipart_upload(Bucket=REPO, Key="main/big.bin")
    assert create.value.response["Error"]["Code"] == "AccessDenied"
    assert create.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403


def test_webhdfs_writes_are_refused_with_access_control_exception(
    lakever_server: RunningServer, sdk: LakeFSClient
) -> None:
    fs = WebHdfs(lakever_server, access_token(lakever_server))
    created = fs.create(f"/{REPO}/main/by-spark.txt", b"x")
    assert created.status_code == 403
    assert created.json()["RemoteException"]["exception"] == "AccessControlException"
    deleted = fs.call("DELETE", f"/{REPO}/main/a.txt", "DELETE")
    assert deleted.status_code == 403
    assert fs.open(f"/{REPO}/main/a.txt").content == b"kept"


def test_import_is_refused_before_it_starts(sdk: LakeFSClient) -> None:
    creation = lakefs_sdk.ImportCreation(
        paths=[lakefs_sdk.ImportLocation(type="common_prefix", path="local://x/", destination="")],
        commit=lakefs_sdk.CommitCreation(message="import"),
    )
    assert refused(lambda: sdk.import_api.import_start(REPO, "main", creation)) == (
        403,
        "read-only repository",
    )


def test_sample_data_cannot_fill_a_read_only_repository(sdk: LakeFSClient) -> None:
    creation = lakefs_sdk.RepositoryCreation(
        name="sampled", storage_namespace="local://sampled", read_only=True, sample_data=True
    )
    status, message = refused(lambda: sdk.repositories_api.create_repository(creation))
    assert status == 400
    assert "read_only" in message


def test_deleting_a_read_only_repository_needs_force(sdk: LakeFSClient) -> None:
    sdk.repositories_api.create_repository(
        lakefs_sdk.RepositoryCreation(
            name="doomed", storage_namespace="local://doomed", read_only=True
        )
    )
    assert refused(lambda: sdk.repositories_api.delete_repository("doomed")) == (
        403,
        "read-only repository",
    )
    sdk.repositories_api.delete_repository("doomed", force=True)
    assert refused(lambda: sdk.repositories_api.get_repository("doomed"))[0] == 404
