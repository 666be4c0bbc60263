"""The lakefs:// asset scheme: valid URIs, parsing, and Airflow accepting the assets."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from airflow.sdk import Asset

from airflow_provider_lakever.assets.lakefs import (
    create_asset,
    is_lakefs_asset,
    parse_uri,
    sanitize_uri,
)


def test_create_asset_builds_a_lakefs_uri() -> None:
    asset = create_asset(repository="lake", ref="main", path="/events/2026/")
    # Airflow normalizes asset URIs and drops the trailing slash of a prefix.
    assert asset.uri == "lakefs://lake/main/events/2026"
    assert is_lakefs_asset(asset)
    assert not is_lakefs_asset(Asset("s3://bucket/key"))


def test_parse_uri_splits_repository_ref_and_path() -> None:
    location = parse_uri("lakefs://lake/main/events/2026/part-0.parquet")
    assert (location.repository, location.ref, location.path) == (
        "lake",
        "main",
        "events/2026/part-0.parquet",
    )
    assert location.uri == "lakefs://lake/main/events/2026/part-0.parquet"


@pytest.mark.parametrize(
    "uri",
    [
        pytest.param("lakefs:///main/x", id="no repository"),
        pytest.param("lakefs://lake", id="no branch"),
        pytest.param("lakefs://lake/", id="an empty branch"),
    ],
)
def test_incomplete_uris_are_refused(uri: str) -> None:
    with pytest.raises(ValueError, match="must name"):
        sanitize_uri(urlsplit(uri))


def test_parse_uri_refuses_other_schemes() -> None:
    with pytest.raises(ValueError, match="not a lakefs"):
        parse_uri("s3://lake/main/x")
