"""``docs/api.md`` documents every route the REST app serves."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from fastapi.routing import APIRoute

from lakever_server.api import create_api_app
from lakever_server.auth import AuthService
from lakever_server.catalog.catalog import Catalog
from lakever_server.config import load_settings
from lakever_server.services import Services
from lakever_server.storage.block.memory import MemoryBlockStore
from lakever_server.storage.kv.memory import MemoryKV

DOCS = Path(__file__).resolve().parents[3] / "docs" / "api.md"


def _normalized(path: str) -> str:
    return re.sub(r"\{[^}]*\}", "{}", path.split("?", maxsplit=1)[0])


def _route_paths() -> list[str]:
    kv, block = MemoryKV(), MemoryBlockStore()
    settings = load_settings(None, {"data_dir": "/nonexistent-lakever-docs-test"})
    services = Services(settings, kv, block, Catalog(kv, block), AuthService(kv, "k" * 32))
    app = create_api_app(services)
    paths = {route.path for route in app.routes if isinstance(route, APIRoute)}
    return sorted(_normalized(path.removeprefix("/api/v1")) for path in paths)


def _documented() -> list[str]:
    spans = re.findall(r"`(?:[A-Z/]+ )?([./][^` ]*)`", DOCS.read_text())
    return [_normalized(span.removeprefix("/api/v1")) for span in spans if "/" in span]


@pytest.mark.parametrize("path", _route_paths())
def test_every_route_is_documented(path: str) -> None:
    documented = _documented()
    assert any(
        path == doc or (doc.startswith("...") and path.endswith(doc[3:])) for doc in documented
    ), f"{path} is missing from docs/api.md"
