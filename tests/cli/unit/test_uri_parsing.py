"""``lakefs://repo/ref/path`` parsing: what users type, and the usage errors they get."""

from __future__ import annotations

import pytest

from lakever_server.cli.errors import ExitCode, UsageError
from lakever_server.cli.uri import (
    LakeUri,
    parse_path,
    parse_ref,
    parse_refs,
    parse_repository,
    parse_uri,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("lakefs://repo", LakeUri("repo"), id="repository only"),
        pytest.param("lakefs://repo/main", LakeUri("repo", "main"), id="repository and ref"),
        pytest.param(
            "lakefs://repo/main/", LakeUri("repo", "main", ""), id="trailing slash is an empty path"
        ),
        pytest.param(
            "lakefs://repo/main/events/by-date/day=1/part.parquet",
            LakeUri("repo", "main", "events/by-date/day=1/part.parquet"),
            id="nested object path",
        ),
        pytest.param("lakefs://repo/main~2/a", LakeUri("repo", "main~2", "a"), id="ref expression"),
        pytest.param(
            "lakefs://example-repo/20c30c96", LakeUri("example-repo", "20c30c96"), id="commit id"
        ),
    ],
)
def test_parse_uri_splits_repository_ref_and_path(text: str, expected: LakeUri) -> None:
    assert parse_uri(text) == expected


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        pytest.param(
            "s3://bucket/key", "expected lakefs://<repository>/<ref>/<path>", id="wrong scheme"
        ),
        pytest.param("lakefs://", "missing repository", id="no repository"),
        pytest.param("lakefs:///main", "missing repository", id="empty repository"),
        pytest.param("lakefs://Repo/main", "lower-case", id="upper-case repository"),
        pytest.param("lakefs://ab/main", "3-63", id="too short repository"),
        pytest.param("lakefs://repo//path", "empty ref", id="empty ref"),
        pytest.param("main", "expected lakefs://", id="bare word"),
    ],
)
def test_malformed_uri_is_a_usage_error_naming_the_form(text: str, fragment: str) -> None:
    with pytest.raises(UsageError) as caught:
        parse_uri(text)
    assert fragment in caught.value.message
    assert text in caught.value.message
    assert caught.value.exit_code is ExitCode.USAGE


def test_uri_round_trips_to_text() -> None:
    for text in ("lakefs://repo", "lakefs://repo/main", "lakefs://repo/main/a/b.csv"):
        assert str(parse_uri(text)) == text


def test_repository_uri_refuses_a_ref() -> None:
    assert parse_repository("lakefs://repo").repository == "repo"
    with pytest.raises(UsageError, match="expected lakefs://<repository>"):
        parse_repository("lakefs://repo/main")


def test_ref_uri_refuses_an_object_path_and_needs_a_ref() -> None:
    assert parse_ref("lakefs://repo/main") == LakeUri("repo", "main")
    with pytest.raises(UsageError, match="takes no object path"):
        parse_ref("lakefs://repo/main/file.csv")
    with pytest.raises(UsageError, match="expected lakefs://<repository>/<ref>"):
        parse_ref("lakefs://repo")


def test_bare_ref_needs_a_repository_from_somewhere() -> None:
    assert parse_ref("main^1", default_repository="repo") == LakeUri("repo", "main^1")
    with pytest.raises(UsageError, match="--repository"):
        parse_ref("main^1")


def test_bare_refs_take_the_repository_of_the_uri_beside_them() -> None:
    refs = parse_refs(["lakefs://example-repo/main", "20c30c96", "ababea32"])
    assert refs == [
        LakeUri("example-repo", "main"),
        LakeUri("example-repo", "20c30c96"),
        LakeUri("example-repo", "ababea32"),
    ]


def test_refs_of_two_repositories_are_refused() -> None:
    with pytest.raises(UsageError, match="one repository"):
        parse_refs(["lakefs://one-repo/main", "lakefs://two-repo/dev"])


def test_path_uri_defaults_to_the_root_and_can_require_a_key() -> None:
    assert parse_path("lakefs://repo/main") == LakeUri("repo", "main", "")
    assert parse_path("lakefs://repo/main/a.txt").path == "a.txt"
    with pytest.raises(UsageError, match="missing object path"):
        parse_path("lakefs://repo/main/", require_path=True)
    with pytest.raises(UsageError, match="expected lakefs://"):
        parse_path("lakefs://repo")
