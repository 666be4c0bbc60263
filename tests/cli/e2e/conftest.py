"""Fixtures of the CLI end-to-end tests: a real server and a ``lakever`` runner per module,
and a fresh repository per test (deleted afterwards)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.cli.e2e.lakever_runner import Lakever, unique_repository
from tests.support.server import RunningServer, lakever_server  # noqa: F401  (fixture)


@pytest.fixture(scope="module")
def lakever(lakever_server: RunningServer, tmp_path_factory: pytest.TempPathFactory) -> Lakever:  # noqa: F811
    """The CLI against this module's server, with a HOME of its own (no lakectl file)."""
    return Lakever(lakever_server, tmp_path_factory.mktemp("home"))


@pytest.fixture
def repo(lakever: Lakever) -> Iterator[str]:
    """A fresh repository with a ``main`` branch, deleted afterwards."""
    name = unique_repository("cli")
    lakever.run("repo", "create", f"lakefs://{name}")
    yield name
    lakever.run("repo", "delete", f"lakefs://{name}", "--yes")
