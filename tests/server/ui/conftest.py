"""Fixtures of the UI suite: one quickstart server per module, a signed-in session."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.server.ui.ui_client import Lake, UiSession
from tests.support.server import (  # noqa: F401  (pytest fixture)
    RunningServer,
    lakever_server,
)


@pytest.fixture(scope="module")
def lake(lakever_server: RunningServer) -> Iterator[Lake]:  # noqa: F811
    helper = Lake(lakever_server)
    yield helper
    helper.close()


@pytest.fixture
def ui(lakever_server: RunningServer) -> Iterator[UiSession]:  # noqa: F811
    session = UiSession(lakever_server).login()
    yield session
    session.close()
