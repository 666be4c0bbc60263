"""The long-lived objects one server process shares: stores, catalog and auth.

``build_services(settings)`` opens them from configuration; ``Services.close()`` releases
them. Protocol apps (REST API, S3 gateway) receive a ``Services`` and never open stores
themselves.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

from lakever_server.auth import AuthService
from lakever_server.auth.secrets import generate_secret_key
from lakever_server.catalog.catalog import Catalog
from lakever_server.catalog.interface import CatalogService
from lakever_server.config import Settings
from lakever_server.errors import InvalidValue
from lakever_server.storage.block import BlockStore, open_block_store
from lakever_server.storage.kv import KVStore, open_kv

log = logging.getLogger(__name__)

SECRET_KEY_FILE = "server.key"


@dataclass
class Services:
    settings: Settings
    kv: KVStore
    block: BlockStore
    catalog: CatalogService
    auth: AuthService

    @property
    def embedded_stores(self) -> bool:
        """Whether both stores are in-process (SQLite or memory, local disk or memory).

        Point reads on them take microseconds, so the API may call them on the event
        loop; on PostgreSQL or S3 a read waits on the network and goes to a thread.
        """
        # Not ``settings.metadata_url``: it resolves the data directory on disk, and
        # this is asked on every object read. No URL means the embedded SQLite file.
        url = self.settings.metadata.url
        scheme = url.partition("://")[0] if url else "sqlite"
        return scheme in ("sqlite", "memory") and self.settings.blockstore.type != "s3"

    def close(self) -> None:
        self.kv.close()


def open_metadata_store(settings: Settings) -> KVStore:
    """The metadata store, its schema first upgraded unless ``migrate_on_start`` is off."""
    if settings.metadata.migrate_on_start:
        from lakever_server.storage.kv.migrations import upgrade

        upgrade(settings.metadata_url)
    return open_kv(settings.metadata_url)


def open_blocks(settings: Settings) -> BlockStore:
    """The configured block store (``local`` rooted at ``blocks_path`` by default)."""
    kind = settings.blockstore.type
    if kind == "local":
        return open_block_store("local", root=str(settings.blocks_path))
    if kind == "s3":
        s3 = settings.blockstore.s3
        secret = s3.secret_access_key.get_secret_value() if s3.secret_access_key else None
        return open_block_store(
            "s3",
            endpoint_url=s3.endpoint_url,
            region=s3.region,
            access_key_id=s3.access_key_id,
            secret_access_key=secret,
            force_path_style=s3.force_path_style,
        )
    return open_block_store(kind)


def server_secret_key(settings: Settings) -> str:
    """``auth.encrypt.secret_key``; quickstart generates one and keeps it in the data dir."""
    configured = settings.auth.encrypt.secret_key
    if configured is not None and configured.get_secret_value():
        return configured.get_secret_value()
    key_file = settings.data_path / SECRET_KEY_FILE
    if key_file.exists():
        return key_file.read_text(encoding="utf-8").strip()
    if not settings.quickstart:
        raise InvalidValue(
            "auth.encrypt.secret_key is required (set LAKEVER_AUTH__ENCRYPT__SECRET_KEY), "
            "or run with --quickstart"
        )
    return _create_key_file(key_file)


def _create_key_file(key_file: Path) -> str:
    key = generate_secret_key()
    key_file.parent.mkdir(parents=True, exist_ok=True)
    # O_EXCL: two processes starting at once must not overwrite each other's key.
    try:
        fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return key_file.read_text(encoding="utf-8").strip()
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(key)
    return key


def build_services(settings: Settings) -> Services:
    """Open the stores, the catalog and auth as ``settings`` say."""
    settings.data_path.mkdir(parents=True, exist_ok=True)
    secret_key = server_secret_key(settings)
    kv = open_metadata_store(settings)
    try:
        block = open_blocks(settings)
        catalog: CatalogService = Catalog(kv, block)
        auth = AuthService(
            kv,
            secret_key,
            session_ttl_seconds=settings.auth.login_duration_seconds,
            cache_seconds=settings.auth.credential_cache_seconds,
        )
        if settings.quickstart:
            auth.ensure_quickstart_admin()
    except BaseException:
        kv.close()
        raise
    return Services(settings=settings, kv=kv, block=block, catalog=catalog, auth=auth)
