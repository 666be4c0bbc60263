"""The WebHDFS REST operations on a real server, as Hadoop's client calls them."""

from __future__ import annotations

import hashlib
import random
import uuid
from pathlib import Path
from typing import Any

import httpx
import lakefs_sdk
import pytest

from lakever_server.storage.block.digests import PART_BYTES
from tests.server.gateway.s3_support import s3_client
from tests.support.server import RunningServer

from .support import WebHdfs, access_token, token_url, webhdfs_server  # noqa: F401


@pytest.fixture(scope="module")
def server(webhdfs_server: RunningServer) -> RunningServer:  # noqa: F811
    return webhdfs_server


@pytest.fixture(scope="module")
def fs(server: RunningServer) -> WebHdfs:
    return WebHdfs(server, access_token(server))


@pytest.fixture
def repo(server: RunningServer) -> str:
    name = f"hdfs-{uuid.uuid4().hex[:8]}"
    with server.sdk_client() as client:
        lakefs_sdk.RepositoriesApi(client).create_repository(
            lakefs_sdk.RepositoryCreation(
                name=name, storage_namespace=f"local://{name}", default_branch="main"
            )
        )
    return name


def remote_exception(response: httpx.Response) -> tuple[int, str]:
    return response.status_code, response.json()["RemoteException"]["javaClassName"]


def test_the_token_endpoint_issues_bearer_tokens_for_access_keys(server: RunningServer) -> None:
    good = httpx.post(
        token_url(server),
        data={
            "grant_type": "client_credentials",
            "client_id": server.access_key_id,
            "client_secret": server.secret_access_key,
        },
    )
    assert good.status_code == 200
    assert good.json()["token_type"] == "Bearer"
    assert int(good.json()["expires_in"]) > 0
    bad = httpx.post(
        token_url(server),
        data={
            "grant_type": "client_credentials",
            "client_id": server.access_key_id,
            "client_secret": "wrong",
        },
    )
    assert bad.status_code == 401


def test_anonymous_and_bad_tokens_are_refused(server: RunningServer, repo: str) -> None:
    for token in (None, "not-a-token"):
        response = WebHdfs(server, token).call("GET", f"/{repo}/main", "GETFILESTATUS")
        assert response.status_code == 401
        assert remote_exception(response)[1] == "java.lang.SecurityException"


def test_create_open_and_status_of_a_file(fs: WebHdfs, repo: str) -> None:
    data = bytes(range(256)) * 1000
    created = fs.create(f"/{repo}/main/dir/file.bin", data)
    assert created.status_code == 201
    status = fs.json("GET", f"/{repo}/main/dir/file.bin", "GETFILESTATUS")["FileStatus"]
    assert (status["type"], status["length"]) == ("FILE", len(data))
    assert fs.open(f"/{repo}/main/dir/file.bin").content == data
    part = fs.open(f"/{repo}/main/dir/file.bin", offset=1000, length=10)
    assert part.content == data[1000:1010]
    directory = fs.json("GET", f"/{repo}/main/dir", "GETFILESTATUS")["FileStatus"]
    assert directory["type"] == "DIRECTORY"


def test_missing_paths_are_file_not_found(fs: WebHdfs, repo: str) -> None:
    response = fs.call("GET", f"/{repo}/main/nothing/here", "GETFILESTATUS")
    assert remote_exception(response) == (404, "java.io.FileNotFoundException")


def test_create_without_overwrite_refuses_an_existing_file(fs: WebHdfs, repo: str) -> None:
    fs.create(f"/{repo}/main/once.txt", b"1")
    again = fs.create(f"/{repo}/main/once.txt", b"2", overwrite=False)
    assert remote_exception(again) == (403, "org.apache.hadoop.fs.FileAlreadyExistsException")
    assert fs.open(f"/{repo}/main/once.txt").content == b"1"


def test_append_extends_a_file(fs: WebHdfs, repo: str) -> None:
    fs.create(f"/{repo}/main/log.txt", b"one\n")
    assert fs.append(f"/{repo}/main/log.txt", b"two\n").status_code == 200
    assert fs.open(f"/{repo}/main/log.txt").content == b"one\ntwo\n"


def test_mkdirs_makes_an_empty_directory_that_lists_empty(fs: WebHdfs, repo: str) -> None:
    assert fs.json("PUT", f"/{repo}/main/out/_temporary/0", "MKDIRS") == {"boolean": True}
    status = fs.json("GET", f"/{repo}/main/out/_temporary/0", "GETFILESTATUS")["FileStatus"]
    assert status["type"] == "DIRECTORY"
    assert fs.names(f"/{repo}/main/out/_temporary/0") == []
    assert fs.names(f"/{repo}/main/out") == ["_temporary"]


def test_liststatus_shows_files_and_implied_directories(fs: WebHdfs, repo: str) -> None:
    for name in ("t/a.parquet", "t/day=1/p.parquet", "t/day=2/p.parquet"):
        fs.create(f"/{repo}/main/{name}", b"x")
    assert fs.names(f"/{repo}/main/t") == ["a.parquet", "day=1", "day=2"]
    statuses = fs.json("GET", f"/{repo}/main/t", "LISTSTATUS")["FileStatuses"]["FileStatus"]
    assert [s["type"] for s in statuses] == ["FILE", "DIRECTORY", "DIRECTORY"]
    assert repo in fs.names("/")
    assert fs.names(f"/{repo}") == ["main"]


def test_liststatus_batch_pages_with_start_after(fs: WebHdfs, repo: str) -> None:
    for i in range(3):
        fs.create(f"/{repo}/main/b/f{i}", b"x")
    fs.create(f"/{repo}/main/b/sub/x", b"x")
    first = fs.json("GET", f"/{repo}/main/b", "LISTSTATUS_BATCH")["DirectoryListing"]
    names = [s["pathSuffix"] for s in first["partialListing"]["FileStatuses"]["FileStatus"]]
    assert names == ["f0", "f1", "f2", "sub"]
    assert first["remainingEntries"] == 0
    after = fs.json("GET", f"/{repo}/main/b", "LISTSTATUS_BATCH", startAfter="f1")
    listed = after["DirectoryListing"]["partialListing"]["FileStatuses"]["FileStatus"]
    assert [s["pathSuffix"] for s in listed] == ["f2", "sub"]


def test_rename_moves_files_and_directories_without_copying_data(
    server: RunningServer, fs: WebHdfs, repo: str
) -> None:
    fs.create(f"/{repo}/main/src/a", b"A")
    fs.create(f"/{repo}/main/src/deep/b", b"B")
    with server.sdk_client() as client:
        before = lakefs_sdk.ObjectsApi(client).stat_object(repo, "main", "src/deep/b")
    moved = fs.json("PUT", f"/{repo}/main/src", "RENAME", destination=f"/{repo}/main/dst")
    assert moved == {"boolean": True}
    assert fs.open(f"/{repo}/main/dst/deep/b").content == b"B"
    assert fs.call("GET", f"/{repo}/main/src", "GETFILESTATUS").status_code == 404
    with server.sdk_client() as client:
        after = lakefs_sdk.ObjectsApi(client).stat_object(repo, "main", "dst/deep/b")
    assert after.physical_address == before.physical_address
    # Into an existing directory, as on HDFS; a missing source is simply false.
    fs.json("PUT", f"/{repo}/main/into", "MKDIRS")
    fs.json("PUT", f"/{repo}/main/dst/a", "RENAME", destination=f"/{repo}/main/into")
    assert fs.open(f"/{repo}/main/into/a").content == b"A"
    missing = fs.json("PUT", f"/{repo}/main/nope", "RENAME", destination=f"/{repo}/main/x")
    assert missing == {"boolean": False}


def test_delete_files_and_directories(fs: WebHdfs, repo: str) -> None:
    fs.create(f"/{repo}/main/d/x", b"x")
    fs.create(f"/{repo}/main/d/y/z", b"z")
    refused = fs.call("DELETE", f"/{repo}/main/d", "DELETE", recursive="false")
    assert remote_exception(refused)[0] == 403
    assert fs.json("DELETE", f"/{repo}/main/d/x", "DELETE") == {"boolean": True}
    assert fs.json("DELETE", f"/{repo}/main/d", "DELETE", recursive="true") == {"boolean": True}
    assert fs.json("DELETE", f"/{repo}/main/d", "DELETE", recursive="true") == {"boolean": False}
    assert fs.call("GET", f"/{repo}/main/d", "GETFILESTATUS").status_code == 404


def test_summary_checksum_home_and_block_locations(fs: WebHdfs, repo: str) -> None:
    fs.create(f"/{repo}/main/s/a", b"12345")
    fs.create(f"/{repo}/main/s/b/c", b"678")
    summary = fs.json("GET", f"/{repo}/main/s", "GETCONTENTSUMMARY")["ContentSummary"]
    assert (summary["directoryCount"], summary["fileCount"], summary["length"]) == (2, 2, 8)
    first = fs.call("GET", f"/{repo}/main/s/a", "GETFILECHECKSUM")
    assert first.status_code == 307
    checksum = fs.http.get(first.headers["Location"]).json()["FileChecksum"]
    fs.create(f"/{repo}/main/s/a2", b"12345")
    second = fs.http.get(
        fs.call("GET", f"/{repo}/main/s/a2", "GETFILECHECKSUM").headers["Location"]
    )
    assert checksum == second.json()["FileChecksum"]
    assert (
        checksum["bytes"][-32:]
        == hashlib.md5(hashlib.md5(b"12345").hexdigest().encode()).hexdigest()
    )
    assert fs.json("GET", "/", "GETHOMEDIRECTORY")["Path"].startswith("/user/")
    blocks = fs.json("GET", f"/{repo}/main/s/a", "GETFILEBLOCKLOCATIONS")
    assert blocks["BlockLocations"]["BlockLocation"][0]["length"] == 5


def test_writes_outside_branches_are_refused(server: RunningServer, fs: WebHdfs, repo: str) -> None:
    fs.create(f"/{repo}/main/c.txt", b"c")
    with server.sdk_client() as client:
        commit = lakefs_sdk.CommitsApi(client).commit(
            repo, "main", lakefs_sdk.CommitCreation(message="c")
        )
    assert fs.open(f"/{repo}/{commit.id}/c.txt").content == b"c"
    refused = fs.create(f"/{repo}/{commit.id}/new.txt", b"n")
    assert remote_exception(refused) == (403, "org.apache.hadoop.security.AccessControlException")


def test_unknown_operations_are_illegal_arguments(fs: WebHdfs, repo: str) -> None:
    response: Any = fs.call("GET", f"/{repo}/main", "GETSNAPSHOTDIFF")
    assert remote_exception(response) == (400, "java.lang.IllegalArgumentException")
    assert "Invalid value for webhdfs parameter" in response.json()["RemoteException"]["message"]


def test_renames_up_the_tree_check_the_parent_as_hdfs_does(fs: WebHdfs, repo: str) -> None:
    # An output committer's move: the target's parent is an ancestor of the source.
    fs.create(f"/{repo}/main/out/_temporary/0/task/part-0", b"p")
    moved = fs.json(
        "PUT",
        f"/{repo}/main/out/_temporary/0/task/part-0",
        "RENAME",
        destination=f"/{repo}/main/out/part-0",
    )
    assert moved == {"boolean": True}
    assert fs.open(f"/{repo}/main/out/part-0").content == b"p"
    # Up to the root of the branch.
    to_root = fs.json("PUT", f"/{repo}/main/out/part-0", "RENAME", destination=f"/{repo}/main/top")
    assert to_root == {"boolean": True}
    assert fs.open(f"/{repo}/main/top").content == b"p"
    # An ancestor that is also a file (an object store allows "f" and "f/x") is no parent.
    fs.create(f"/{repo}/main/f", b"file")
    fs.create(f"/{repo}/main/f/deep/x", b"x")
    refused = fs.json("PUT", f"/{repo}/main/f/deep/x", "RENAME", destination=f"/{repo}/main/f/x")
    assert refused == {"boolean": False}
    assert fs.open(f"/{repo}/main/f/deep/x").content == b"x"
    assert fs.call("GET", f"/{repo}/main/f/x", "GETFILESTATUS").status_code == 404
    # A parent elsewhere is still looked up: missing is false, a directory is fine.
    elsewhere = fs.json("PUT", f"/{repo}/main/top", "RENAME", destination=f"/{repo}/main/no/x")
    assert elsewhere == {"boolean": False}
    fs.json("PUT", f"/{repo}/main/there", "MKDIRS")
    there = fs.json("PUT", f"/{repo}/main/top", "RENAME", destination=f"/{repo}/main/there/x")
    assert there == {"boolean": True}


def test_every_operation_refuses_anonymous_callers_first(
    server: RunningServer, fs: WebHdfs, repo: str
) -> None:
    anonymous = WebHdfs(server, None)
    calls = [
        ("GET", f"/{repo}/main", "GETHOMEDIRECTORY", {}),
        ("GET", f"/{repo}/main", "GETSERVERDEFAULTS", {}),
        ("GET", f"/{repo}/main", "GETXATTRS", {}),
        ("GET", f"/{repo}/main", "GETSNAPSHOTDIFF", {}),  # unknown: still 401 first
        ("GET", f"/{repo}/main/../x", "GETFILESTATUS", {}),  # bad path: still 401 first
        ("GET", f"/{repo}/main/x", "OPEN", {"offset": "nope", "data": "true"}),
        ("PUT", f"/{repo}/main/new.bin", "CREATE", {}),  # the redirect step
        ("PUT", f"/{repo}/main/x", "RENAME", {}),  # no destination
        ("PUT", f"/{repo}/main/dir", "MKDIRS", {}),
        ("DELETE", f"/{repo}/main/new.bin", "DELETE", {}),
    ]
    for method, path, op, params in calls:
        response = anonymous.call(method, path, op, **params)
        assert remote_exception(response) == (401, "java.lang.SecurityException"), (op, path)
    # The data step of a write is refused too, and nothing is written.
    url = f"/{repo}/main/new.bin?op=CREATE&data=true&overwrite=true"
    body = anonymous.http.put(url, content=b"x" * (1 << 20))
    assert body.status_code == 401
    assert fs.call("GET", f"/{repo}/main/new.bin", "GETFILESTATUS").status_code == 404
    assert fs.call("GET", f"/{repo}/main/dir", "GETFILESTATUS").status_code == 404
    # Authenticated, the same calls answer as before.
    home = fs.json("GET", f"/{repo}/main", "GETHOMEDIRECTORY")["Path"]
    assert home.startswith("/user/")
    assert len(home) > len("/user/")


def test_a_directory_exists_while_anything_visible_lies_below_it(fs: WebHdfs, repo: str) -> None:
    # Moves out of a subfolder leave staged deletions under the directory's prefix.
    for i in range(5):
        fs.create(f"/{repo}/main/d/_t/{i}/part", b"p")
    fs.create(f"/{repo}/main/d/z", b"z")
    for i in range(5):
        fs.json("PUT", f"/{repo}/main/d/_t/{i}/part", "RENAME", destination=f"/{repo}/main/p{i}")
    status = fs.json("GET", f"/{repo}/main/d", "GETFILESTATUS")["FileStatus"]
    assert status["type"] == "DIRECTORY"
    assert fs.call("GET", f"/{repo}/main/d/_t", "GETFILESTATUS").status_code == 404
    fs.json("PUT", f"/{repo}/main/d/z", "RENAME", destination=f"/{repo}/main/z")
    assert fs.call("GET", f"/{repo}/main/d", "GETFILESTATUS").status_code == 404
    fs.create(f"/{repo}/main/d/deep/er/x", b"x")
    status = fs.json("GET", f"/{repo}/main/d", "GETFILESTATUS")["FileStatus"]
    assert status["type"] == "DIRECTORY"


def test_large_files_get_the_checksum_boto3_gives_the_same_bytes(
    server: RunningServer, fs: WebHdfs, repo: str, tmp_path: Path
) -> None:
    """WebHDFS writes hash 8 MiB parts on several cores: a file of 8 MiB or more gets
    the multipart checksum that boto3's default ``upload_file`` gives the same bytes
    through the S3 gateway, and a smaller one its plain MD5."""
    data = random.Random(5).randbytes(PART_BYTES * 2 + 12345)
    assert fs.create(f"/{repo}/main/big.bin", data).status_code == 201
    assert fs.create(f"/{repo}/main/small.bin", data[:1000]).status_code == 201
    local = tmp_path / "big.bin"
    local.write_bytes(data)
    s3 = s3_client(server)
    s3.upload_file(str(local), repo, "main/uploaded.bin")
    uploaded = s3.head_object(Bucket=repo, Key="main/uploaded.bin")["ETag"]
    written = s3.head_object(Bucket=repo, Key="main/big.bin")["ETag"]
    assert written == uploaded
    assert written.strip('"').endswith("-3")
    small = s3.head_object(Bucket=repo, Key="main/small.bin")["ETag"]
    assert small.strip('"') == hashlib.md5(data[:1000]).hexdigest()
    assert fs.open(f"/{repo}/main/big.bin").content == data
