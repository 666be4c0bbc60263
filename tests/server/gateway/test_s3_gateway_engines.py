"""Engines through the S3 gateway: pyarrow's S3FileSystem and pandas via s3fs."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import pandas as pd
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.fs
import pyarrow.parquet as pq
import pytest

from tests.support.server import RunningServer, lakever_server  # noqa: F401

from .s3_support import commit, create_repository, s3_client


@pytest.fixture(scope="module")
def server(lakever_server: RunningServer) -> RunningServer:  # noqa: F811
    return lakever_server


@pytest.fixture(scope="module")
def repo(server: RunningServer) -> str:
    return create_repository(server)


@pytest.fixture(scope="module")
def arrow_fs(server: RunningServer) -> pyarrow.fs.S3FileSystem:
    return pyarrow.fs.S3FileSystem(
        access_key=server.access_key_id,
        secret_key=server.secret_access_key,
        endpoint_override=urlsplit(server.url).netloc,
        scheme="http",
        region="us-east-1",
        allow_bucket_creation=False,
    )


def storage_options(server: RunningServer) -> dict[str, Any]:
    return {
        "key": server.access_key_id,
        "secret": server.secret_access_key,
        "client_kwargs": {"endpoint_url": server.url, "region_name": "us-east-1"},
    }


def table(rows: int) -> pa.Table:
    return pa.table(
        {
            "id": pa.array(range(rows), pa.int64()),
            "day": pa.array([f"2026-01-0{1 + i % 3}" for i in range(rows)]),
            "value": pa.array([i * 0.5 for i in range(rows)]),
        }
    )


def test_pyarrow_writes_and_reads_a_parquet_file(
    arrow_fs: pyarrow.fs.S3FileSystem, repo: str
) -> None:
    data = table(1000)
    pq.write_table(data, f"{repo}/main/arrow/one.parquet", filesystem=arrow_fs)
    info = arrow_fs.get_file_info(f"{repo}/main/arrow/one.parquet")
    assert info.type == pyarrow.fs.FileType.File
    assert info.size > 0
    assert pq.read_table(f"{repo}/main/arrow/one.parquet", filesystem=arrow_fs).equals(data)


def test_pyarrow_writes_and_reads_a_partitioned_dataset(
    arrow_fs: pyarrow.fs.S3FileSystem, repo: str, server: RunningServer
) -> None:
    data = table(300)
    ds.write_dataset(
        data,
        f"{repo}/main/events",
        filesystem=arrow_fs,
        format="parquet",
        partitioning=["day"],
        partitioning_flavor="hive",
    )
    selector = pyarrow.fs.FileSelector(f"{repo}/main/events", recursive=True)
    files = [i.path for i in arrow_fs.get_file_info(selector) if i.type == pyarrow.fs.FileType.File]
    assert len(files) == 3
    assert all("/day=2026-01-0" in f for f in files)
    commit_id = commit(server, repo, "main", "events")
    dataset = ds.dataset(
        f"{repo}/{commit_id}/events", filesystem=arrow_fs, format="parquet", partitioning="hive"
    )
    back = dataset.to_table().sort_by("id")
    assert back.column("id").to_pylist() == list(range(300))
    assert back.column("day").to_pylist() == data.column("day").to_pylist()


def test_pyarrow_streams_a_large_object_in_parts(
    arrow_fs: pyarrow.fs.S3FileSystem, repo: str
) -> None:
    block = bytes(range(256)) * 4096  # 1 MiB
    with arrow_fs.open_output_stream(f"{repo}/main/large.bin") as out:
        for _ in range(24):  # above pyarrow's part size: a multipart upload
            out.write(block)
    with arrow_fs.open_input_file(f"{repo}/main/large.bin") as source:
        assert source.size() == 24 * len(block)
        source.seek(5 * len(block) + 3)
        assert source.read(5) == block[3:8]


def test_pandas_reads_and_writes_parquet_through_s3fs(server: RunningServer, repo: str) -> None:
    frame = pd.DataFrame({"id": range(500), "name": [f"n{i}" for i in range(500)]})
    url = f"s3://{repo}/main/pandas/frame.parquet"
    frame.to_parquet(url, storage_options=storage_options(server), index=False)
    listed = s3_client(server).list_objects_v2(Bucket=repo, Prefix="main/pandas/")
    assert [o["Key"] for o in listed["Contents"]] == ["main/pandas/frame.parquet"]
    back = pd.read_parquet(url, storage_options=storage_options(server))
    pd.testing.assert_frame_equal(back, frame)


def test_pandas_reads_csv_from_a_commit(server: RunningServer, repo: str) -> None:
    s3_client(server).put_object(Bucket=repo, Key="main/csv/a.csv", Body=b"x,y\n1,2\n3,4\n")
    commit_id = commit(server, repo, "main", "csv")
    frame = pd.read_csv(
        f"s3://{repo}/{commit_id}/csv/a.csv", storage_options=storage_options(server)
    )
    assert frame.to_dict("list") == {"x": [1, 3], "y": [2, 4]}


def test_pyarrow_walks_a_whole_repository(
    arrow_fs: pyarrow.fs.S3FileSystem, server: RunningServer
) -> None:
    walked_repo = create_repository(server, "walk")
    for key in ("main/a.txt", "main/dir/b.txt"):
        s3_client(server).put_object(Bucket=walked_repo, Key=key, Body=b"x")
    selector = pyarrow.fs.FileSelector(walked_repo, recursive=True)
    files = sorted(
        i.path for i in arrow_fs.get_file_info(selector) if i.type == pyarrow.fs.FileType.File
    )
    assert files == [f"{walked_repo}/main/a.txt", f"{walked_repo}/main/dir/b.txt"]
    top = pyarrow.fs.FileSelector(walked_repo)
    assert [i.base_name for i in arrow_fs.get_file_info(top)] == ["main"]
