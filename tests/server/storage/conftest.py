"""Fixtures shared by the storage contract suites: real servers, started per module."""

from __future__ import annotations

from tests.support.postgres import postgres_url

__all__ = ["postgres_url"]
