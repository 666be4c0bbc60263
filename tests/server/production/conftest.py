"""Two real ``lakever-server`` replicas on one PostgreSQL database and one block store."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from lakever_server.catalog.catalog import Catalog
from lakever_server.storage.block import BlockStore, open_block_store
from lakever_server.storage.kv.postgres import PostgresKV
from tests.support import postgres
from tests.support.s3 import (
    S3Server,
    create_bucket,
    s3_server,  # noqa: F401  (pytest fixture)
)
from tests.support.server import RunningServer, start_server


@dataclass
class Replicas:
    """Two server processes sharing ``kv_url`` and one block store."""

    a: RunningServer
    b: RunningServer
    kv_url: str
    namespace_prefix: str
    block_kind: str
    block_options: dict[str, Any]

    def namespace(self, repository: str) -> str:
        return f"{self.namespace_prefix}{repository}"

    def open_block_store(self) -> BlockStore:
        return open_block_store(self.block_kind, **self.block_options)

    def verify(self, repository: str) -> list[str]:
        """fsck the repository from a third process-local catalog on the same stores."""
        kv = PostgresKV(self.kv_url, pool_size=1, max_overflow=0)
        try:
            return Catalog(kv, self.open_block_store()).verify(repository)
        finally:
            kv.close()


def start_replicas(
    kv_url: str,
    work: Path,
    block_env: dict[str, str],
    extra_env: dict[str, str] | None = None,
) -> tuple[RunningServer, RunningServer]:
    env = {**block_env, **(extra_env or {})}
    a = start_server(work / "replica-a", kv_url=kv_url, extra_env=env)
    try:
        b = start_server(work / "replica-b", kv_url=kv_url, extra_env=env)
    except BaseException:
        a.stop()
        raise
    return a, b


# Replicas trust the metadata store for credentials on every request (see
# docs/deployment.md): a key deleted on one replica is refused by all at once.
REPLICA_ENV = {"LAKEVER_AUTH__CREDENTIAL_CACHE_SECONDS": "0"}


@pytest.fixture(scope="module", params=["shared-directory", "s3"])
def replicas(request: pytest.FixtureRequest) -> Iterator[Replicas]:
    """Replicas on PostgreSQL with a shared local directory, or with moto's S3."""
    reason = postgres.server_unreachable_reason()
    if reason is not None:
        pytest.skip(reason)
    with tempfile.TemporaryDirectory(prefix="lakever-replicas-") as tmp:
        work = Path(tmp)
        kv_url = postgres.create_database()
        try:
            if request.param == "s3":
                s3: S3Server = request.getfixturevalue("s3_server")
                bucket = create_bucket(s3)
                block_env = {
                    "LAKEVER_BLOCKSTORE__TYPE": "s3",
                    "LAKEVER_BLOCKSTORE__S3__ENDPOINT_URL": s3.endpoint_url,
                    "LAKEVER_BLOCKSTORE__S3__ACCESS_KEY_ID": s3.access_key_id,
                    "LAKEVER_BLOCKSTORE__S3__SECRET_ACCESS_KEY": s3.secret_access_key,
                }
                prefix, kind, options = f"s3://{bucket.name}/", "s3", s3.options()
            else:
                blocks = work / "shared-blocks"
                block_env = {"LAKEVER_BLOCKSTORE__LOCAL__PATH": str(blocks)}
                prefix, kind, options = "local://", "local", {"root": str(blocks)}
            a, b = start_replicas(kv_url, work, block_env, REPLICA_ENV)
            try:
                yield Replicas(a, b, kv_url, prefix, kind, options)
            finally:
                a.stop()
                b.stop()
        finally:
            postgres.drop_database(kv_url)
