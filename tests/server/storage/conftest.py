"""Fixtures shared by the storage contract suites: real servers, started once."""

from __future__ import annotations

from tests.support.postgres import postgres_url
from tests.support.s3 import s3_bucket, s3_server

__all__ = ["postgres_url", "s3_bucket", "s3_server"]
