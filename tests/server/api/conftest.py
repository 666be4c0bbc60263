"""Fixtures of the API suite: the server harness, on SQLite and on PostgreSQL."""

from __future__ import annotations

import pytest

from tests.support.server import (  # noqa: F401  (pytest fixtures)
    RunningServer,
    lakever_server,
    lakever_server_postgres,
)


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def api_server(request: pytest.FixtureRequest) -> RunningServer:
    """The same server on either metadata store: core API tests run against both."""
    name = "lakever_server" if request.param == "sqlite" else "lakever_server_postgres"
    server: RunningServer = request.getfixturevalue(name)
    return server
