"""Fixtures: a ``Catalog`` over every metadata/block store pair that exists here."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from lakever_server.catalog.catalog import Catalog
from lakever_server.storage.block.memory import MemoryBlockStore
from lakever_server.storage.kv.memory import MemoryKV
from lakever_server.storage.kv.postgres import PostgresKV
from tests.support import postgres


def _module(name: str) -> Any:
    try:
        return importlib.import_module(name)
    except ImportError:
        return None


_SQLITE = _module("lakever_server.storage.kv.sqlite")
_LOCAL = _module("lakever_server.storage.block.local")


def _memory(_: Path) -> tuple[Any, Any, str]:
    return MemoryKV(), MemoryBlockStore(), "mem://lake/repo1"


def _sqlite_local(tmp: Path) -> tuple[Any, Any, str]:
    kv = _SQLITE.SQLiteKV(tmp / "meta.db")
    if _LOCAL is not None:
        return kv, _LOCAL.LocalBlockStore(tmp / "blocks"), "local://lake/repo1"
    return kv, MemoryBlockStore(), "mem://lake/repo1"


BACKENDS: dict[str, Callable[[Path], tuple[Any, Any, str]]] = {"memory": _memory}
if _SQLITE is not None:
    BACKENDS["sqlite" + ("+local" if _LOCAL is not None else "+memory-blocks")] = _sqlite_local

# PostgreSQL (production metadata) joins when a server answers on 127.0.0.1:5432: one
# database for the session, emptied before each test.
_POSTGRES_URL: list[str] = []
if postgres.server_unreachable_reason() is None:
    BACKENDS["postgres+memory-blocks"] = lambda _tmp: _postgres()


def _postgres() -> tuple[Any, Any, str]:
    if not _POSTGRES_URL:
        _POSTGRES_URL.append(postgres.create_database())
    kv = PostgresKV(_POSTGRES_URL[0])
    with psycopg.connect(_POSTGRES_URL[0], autocommit=True) as conn:
        conn.execute("TRUNCATE kv")
    return kv, MemoryBlockStore(), "mem://lake/repo1"


@pytest.fixture(scope="session", autouse=True)
def _drop_postgres_database() -> Iterator[None]:
    yield
    if _POSTGRES_URL:
        postgres.drop_database(_POSTGRES_URL.pop())


def _backend_param(name: str) -> Any:
    marks = [pytest.mark.postgres] if name.startswith("postgres") else []
    return pytest.param(name, marks=marks, id=name)


@pytest.fixture(params=[_backend_param(name) for name in sorted(BACKENDS)])
def stores(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Any, Any, str]]:
    kv, block, namespace = BACKENDS[request.param](tmp_path)
    yield kv, block, namespace
    kv.close()


@pytest.fixture
def catalog(stores: tuple[Any, Any, str]) -> Catalog:
    kv, block, _ = stores
    return Catalog(kv, block)


@pytest.fixture
def namespace(stores: tuple[Any, Any, str]) -> str:
    return stores[2]


@pytest.fixture
def repo(catalog: Catalog, namespace: str) -> str:
    catalog.create_repository("repo1", namespace, "main", creator="tester")
    return "repo1"
