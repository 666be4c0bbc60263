"""Stock PySpark (local mode, no extra JAR) writing and reading branches over WebHDFS."""

from __future__ import annotations

import io
import uuid
from collections.abc import Iterator
from typing import Any

import lakefs_sdk
import pyarrow.parquet as pq
import pytest
from pyspark.sql import SparkSession
from pyspark.sql.functions import col, udf
from pyspark.sql.types import LongType

from tests.support.server import RunningServer

from .support import webhdfs_server  # noqa: F401

pytestmark = [
    pytest.mark.slow,
    pytest.mark.filterwarnings("ignore:PySpark does not yet fully support pandas:FutureWarning"),
]


@pytest.fixture(scope="module")
def server(webhdfs_server: RunningServer) -> RunningServer:  # noqa: F811
    return webhdfs_server


def spark_conf(server: RunningServer) -> dict[str, str]:
    """The whole client-side setup: Hadoop's own OAuth2 support, a lakever key pair."""
    return {
        "spark.hadoop.dfs.webhdfs.oauth2.enabled": "true",
        "spark.hadoop.dfs.webhdfs.oauth2.access.token.provider": (
            "org.apache.hadoop.hdfs.web.oauth2.ConfCredentialBasedAccessTokenProvider"
        ),
        "spark.hadoop.dfs.webhdfs.oauth2.client.id": server.access_key_id,
        "spark.hadoop.dfs.webhdfs.oauth2.credential": server.secret_access_key,
        "spark.hadoop.dfs.webhdfs.oauth2.refresh.url": f"{server.url}/webhdfs/oauth2/token",
    }


@pytest.fixture(scope="module")
def spark(server: RunningServer) -> Iterator[SparkSession]:
    builder = SparkSession.builder.master("local[2]").appName("lakever-webhdfs-tests")
    builder = builder.config("spark.ui.enabled", "false")
    builder = builder.config("spark.sql.shuffle.partitions", "2")
    for key, value in spark_conf(server).items():
        builder = builder.config(key, value)
    session = builder.getOrCreate()
    try:
        yield session
    finally:
        session.stop()


@pytest.fixture
def repo(server: RunningServer) -> str:
    name = f"spark-{uuid.uuid4().hex[:8]}"
    with server.sdk_client() as client:
        lakefs_sdk.RepositoriesApi(client).create_repository(
            lakefs_sdk.RepositoryCreation(
                name=name, storage_namespace=f"local://{name}", default_branch="main"
            )
        )
    return name


def url(server: RunningServer, repo: str, ref: str, path: str) -> str:
    return f"webhdfs://127.0.0.1:{server.port}/{repo}/{ref}/{path}"


def events(spark: SparkSession, ids: range) -> Any:
    rows = [(i, f"2026-01-0{1 + i % 3}", f"user-{i}") for i in ids]
    return spark.createDataFrame(rows, "id long, day string, user string")


def list_paths(server: RunningServer, repo: str, ref: str, prefix: str) -> list[str]:
    with server.sdk_client() as client:
        listed = lakefs_sdk.ObjectsApi(client).list_objects(repo, ref, prefix=prefix, amount=1000)
    return [o.path for o in listed.results]


def test_a_partitioned_dataset_written_by_spark_is_committed_and_read_back(
    server: RunningServer, spark: SparkSession, repo: str
) -> None:
    target = url(server, repo, "main", "events")
    events(spark, range(300)).write.partitionBy("day").parquet(target)
    with server.sdk_client() as client:
        commit = lakefs_sdk.CommitsApi(client).commit(
            repo, "main", lakefs_sdk.CommitCreation(message="spark write")
        )
    paths = list_paths(server, repo, commit.id, "events/")
    parts = [p for p in paths if p.endswith(".parquet")]
    assert {p.split("/")[1] for p in parts} == {
        "day=2026-01-01",
        "day=2026-01-02",
        "day=2026-01-03",
    }
    assert "events/_SUCCESS" in paths
    assert not [p for p in paths if "_temporary" in p]

    back = spark.read.parquet(url(server, repo, commit.id, "events"))
    assert back.count() == 300
    assert sorted(r.id for r in back.select("id").collect()) == list(range(300))

    rows = 0
    with server.sdk_client() as client:
        objects = lakefs_sdk.ObjectsApi(client)
        for path in parts:
            rows += pq.read_table(io.BytesIO(objects.get_object(repo, commit.id, path))).num_rows
    assert rows == 300


def test_overwrite_mode_replaces_the_dataset(
    server: RunningServer, spark: SparkSession, repo: str
) -> None:
    target = url(server, repo, "main", "table")
    events(spark, range(100)).write.parquet(target)
    events(spark, range(1000, 1010)).write.mode("overwrite").parquet(target)
    back = spark.read.parquet(target)
    assert sorted(r.id for r in back.select("id").collect()) == list(range(1000, 1010))


def test_a_failed_job_leaves_nothing_visible_after_reset(
    server: RunningServer, spark: SparkSession, repo: str
) -> None:
    def explode_on_77(value: int) -> int:
        if value == 77:
            raise ValueError("bad record")
        return value

    checked = udf(explode_on_77, LongType(), useArrow=False)
    failing = events(spark, range(200)).repartition(4).withColumn("id", checked(col("id")))
    with pytest.raises(Exception, match="bad record"):
        failing.write.partitionBy("day").parquet(url(server, repo, "main", "broken"))
    with server.sdk_client() as client:
        lakefs_sdk.BranchesApi(client).reset_branch(
            repo, "main", lakefs_sdk.ResetCreation(type="reset")
        )
    assert list_paths(server, repo, "main", "broken") == []
