"""The high-level ``lakefs`` wrapper and ``lakefs-spec`` (fsspec) against the server,
unchanged: repositories, branches, transactions, readers and writers, imports, and
pandas/polars reading Parquet by ``lakefs://`` URL."""

from __future__ import annotations

import io
from datetime import timedelta
from typing import Any

import lakefs
import pandas as pd
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from lakefs.exceptions import ConflictException, NotFoundException, ObjectExistsException
from lakefs_spec import LakeFSFileSystem

from tests.support.server import RunningServer


@pytest.fixture(scope="module")
def client(lakever_server: RunningServer) -> Any:
    return lakever_server.lakefs_client()


@pytest.fixture(scope="module")
def repo(client: Any) -> Any:
    return lakefs.Repository("clients", client=client).create(
        storage_namespace="local://clients", exist_ok=False
    )


@pytest.fixture(scope="module")
def fs(lakever_server: RunningServer) -> LakeFSFileSystem:
    return LakeFSFileSystem(
        host=lakever_server.url,
        username=lakever_server.access_key_id,
        password=lakever_server.secret_access_key,
    )


def test_client_reads_server_version_and_storage_config(client: Any) -> None:
    assert client.version == "1.88.0"
    assert client.storage_config.blockstore_type == "local"
    assert client.storage_config.pre_sign_support is False


def test_repository_and_branch_lifecycle(client: Any, repo: Any) -> None:
    assert repo.properties.default_branch == "main"
    dev = repo.branch("dev").create(source_reference="main")
    assert dev.get_commit().id == repo.branch("main").get_commit().id
    assert "dev" in [b.id for b in repo.branches()]
    dev.delete()
    with pytest.raises(NotFoundException):
        repo.branch("dev").get_commit()


def test_writer_and_reader_round_trip(repo: Any) -> None:
    branch = repo.branch("rw").create(source_reference="main")
    with branch.object("text/hello.txt").writer("w", metadata={"kind": "greeting"}) as out:
        out.write("hello, lake")
    with branch.object("text/hello.txt").reader("r") as reader:
        assert reader.read() == "hello, lake"
    with branch.object("text/hello.txt").reader("rb") as reader:
        reader.seek(7)
        assert reader.read(4) == b"lake"
    stat = branch.object("text/hello.txt").stat()
    assert stat.size_bytes == len("hello, lake")
    assert stat.metadata == {"kind": "greeting"}
    with pytest.raises(ObjectExistsException):
        branch.object("text/hello.txt").upload(data="again", mode="x")


def test_commit_diff_and_merge_through_the_wrapper(repo: Any) -> None:
    branch = repo.branch("etl").create(source_reference="main")
    branch.object("out/a.csv").upload(data="a,b\n1,2\n")
    assert [c.path for c in branch.uncommitted()] == ["out/a.csv"]
    reference = branch.commit(message="etl output", metadata={"run": "7"})
    assert reference.get_commit().metadata == {"run": "7"}
    assert [d.path for d in repo.branch("main").diff(branch)] == ["out/a.csv"]
    branch.merge_into(repo.branch("main"))
    assert repo.branch("main").object("out/a.csv").exists()


def test_transaction_commits_on_success_and_discards_on_error(repo: Any) -> None:
    branch = repo.branch("tx").create(source_reference="main")
    with branch.transact(commit_message="transactional write") as tx:
        tx.object("tx/ok.txt").upload(data="ok")
    # The wrapper commits on an ephemeral branch and merges it into ours.
    messages = [c.message for c in branch.log(max_amount=2)]
    assert messages[1] == "transactional write"
    assert messages[0].startswith("Merge transaction")
    assert branch.object("tx/ok.txt").exists()
    head = branch.get_commit().id

    def failing_run() -> None:
        with branch.transact(commit_message="never") as tx:
            tx.object("tx/bad.txt").upload(data="bad")
            raise RuntimeError("pipeline failed")

    with pytest.raises(RuntimeError):
        failing_run()
    assert not branch.object("tx/bad.txt").exists()
    assert branch.get_commit().id == head


def test_merge_conflict_is_a_conflict_exception(repo: Any) -> None:
    left = repo.branch("conflict-left").create(source_reference="main")
    right = repo.branch("conflict-right").create(source_reference="main")
    left.object("same.txt").upload(data="left")
    right.object("same.txt").upload(data="right")
    left.commit(message="left")
    right.commit(message="right")
    with pytest.raises(ConflictException):
        left.merge_into(right)


def test_import_links_block_store_data_without_copying(
    lakever_server: RunningServer, repo: Any
) -> None:
    # The client writes the data to the block store itself; import only links it.
    source = lakever_server.data_dir / "blocks" / "landing" / "2024-01-01"
    source.mkdir(parents=True)
    for name in ("a.json", "b.json"):
        (source / name).write_text(f'{{"file": "{name}"}}')
    branch = repo.branch("ingest").create(source_reference="main")
    status = (
        branch.import_data(commit_message="import landing")
        .prefix("local://landing/2024-01-01/", destination="raw/2024-01-01/")
        .run(poll_interval=timedelta(milliseconds=50))
    )
    assert status.completed
    assert status.commit.message == "import landing"
    paths = sorted(o.path for o in branch.objects(prefix="raw/"))
    assert paths == ["raw/2024-01-01/a.json", "raw/2024-01-01/b.json"]
    with branch.object("raw/2024-01-01/a.json").reader("r") as reader:
        assert reader.read() == '{"file": "a.json"}'
    stat = branch.object("raw/2024-01-01/a.json").stat()
    assert stat.physical_address == "local://landing/2024-01-01/a.json"


def test_import_of_a_single_object(lakever_server: RunningServer, repo: Any) -> None:
    landing = lakever_server.data_dir / "blocks" / "single"
    landing.mkdir(parents=True)
    (landing / "only.csv").write_text("x\n1\n")
    (landing / "shared.csv").write_text("a\n")
    (landing / "shared.csv.bak").write_text("b\n")
    branch = repo.branch("single").create(source_reference="main")
    status = (
        branch.import_data(commit_message="one object")
        .object("local://single/only.csv", destination="tables/only.csv")
        .run(poll_interval=timedelta(milliseconds=50))
    )
    assert status.completed
    assert [o.path for o in branch.objects(prefix="tables/")] == ["tables/only.csv"]
    with pytest.raises(lakefs.exceptions.BadRequestException):
        branch.import_data(commit_message="ambiguous").object(
            "local://single/shared.csv", destination="tables/shared.csv"
        ).start()


def _table() -> pa.Table:
    return pa.table({"id": [1, 2, 3], "name": ["ada", "grace", "edsger"]})


def test_pandas_and_polars_read_parquet_by_lakefs_url(fs: LakeFSFileSystem, repo: Any) -> None:
    buffer = io.BytesIO()
    pq.write_table(_table(), buffer)
    repo.branch("main").object("tables/people.parquet").upload(data=buffer.getvalue())
    repo.branch("main").commit(message="people table")
    url = "lakefs://clients/main/tables/people.parquet"
    frame = pd.read_parquet(url, filesystem=fs)
    assert frame["name"].tolist() == ["ada", "grace", "edsger"]
    with fs.open(url, "rb") as handle:
        polars_frame = pl.read_parquet(handle)
    assert polars_frame["id"].to_list() == [1, 2, 3]


def test_fsspec_lists_writes_and_removes(fs: LakeFSFileSystem, repo: Any) -> None:
    repo.branch("fsspec").create(source_reference="main")
    with fs.open("lakefs://clients/fsspec/notes/one.txt", "wb") as out:
        out.write(b"one")
    fs.pipe("lakefs://clients/fsspec/notes/two.txt", b"two")
    names = sorted(fs.ls("lakefs://clients/fsspec/notes/", detail=False))
    assert names == ["clients/fsspec/notes/one.txt", "clients/fsspec/notes/two.txt"]
    assert fs.cat("lakefs://clients/fsspec/notes/two.txt") == b"two"
    assert fs.info("lakefs://clients/fsspec/notes/one.txt")["size"] == 3
    fs.rm("lakefs://clients/fsspec/notes/one.txt")
    assert not fs.exists("lakefs://clients/fsspec/notes/one.txt")


def test_pandas_writes_parquet_through_fsspec(fs: LakeFSFileSystem, repo: Any) -> None:
    repo.branch("pandas").create(source_reference="main")
    url = "lakefs://clients/pandas/out/frame.parquet"
    pd.DataFrame({"x": [1.5, 2.5]}).to_parquet(url, filesystem=fs)
    assert pd.read_parquet(url, filesystem=fs)["x"].tolist() == [1.5, 2.5]
