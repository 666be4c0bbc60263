"""Fixtures: a ``Catalog`` over memory stores and over SQLite + local disk."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from lakever_server.catalog.catalog import Catalog
from lakever_server.storage.block.local import LocalBlockStore
from lakever_server.storage.block.memory import MemoryBlockStore
from lakever_server.storage.kv.memory import MemoryKV
from lakever_server.storage.kv.sqlite import SQLiteKV


@pytest.fixture(params=["memory", "sqlite+local"])
def catalog(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Catalog]:
    if request.param == "memory":
        cat = Catalog(MemoryKV(), MemoryBlockStore())
        cat.create_repository("repo1", "mem://lake/repo1")
    else:
        cat = Catalog(SQLiteKV(tmp_path / "meta.db"), LocalBlockStore(tmp_path / "blocks"))
        cat.create_repository("repo1", "local://lake/repo1")
    yield cat
    cat.kv.close()
