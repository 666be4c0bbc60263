"""Objects and staging: writes, reads, deletes, conditional writes, views, listings."""

from __future__ import annotations

import hashlib

import pytest

from lakever_server.catalog.catalog import Catalog
from lakever_server.catalog.models import CommonPrefix, Entry
from lakever_server.errors import InvalidValue, NotFound, PreconditionFailed

from .support import commit_files, paths, put, read


def test_written_object_has_md5_size_and_content(
    catalog: Catalog, repo: str, namespace: str
) -> None:
    entry = catalog.write_object(
        repo,
        "main",
        "dir/file.csv",
        [b"ab", b"cd"],
        content_type="text/csv",
        metadata={"owner": "etl"},
    )
    assert entry.checksum == hashlib.md5(b"abcd").hexdigest()
    assert entry.size_bytes == 4
    assert entry.physical_address.startswith(f"{namespace}/data/")
    got = catalog.get_entry(repo, "main", "dir/file.csv")
    assert got.content_type == "text/csv"
    assert got.metadata == {"owner": "etl"}
    assert read(catalog, repo, "main", "dir/file.csv") == b"abcd"


def test_ranged_reads_return_the_requested_bytes(catalog: Catalog, repo: str) -> None:
    put(catalog, repo, "main", "f", b"0123456789")
    _, chunks = catalog.read_object(repo, "main", "f", start=2, end=5)
    assert b"".join(chunks) == b"234"


def test_staged_writes_show_over_committed_and_at_sign_shows_committed_only(
    catalog: Catalog, repo: str
) -> None:
    commit_files(catalog, repo, "main", {"a": "committed", "b": "committed"})
    put(catalog, repo, "main", "a", "staged")
    put(catalog, repo, "main", "c", "new")
    catalog.delete_object(repo, "main", "b")
    assert paths(catalog, repo, "main") == ["a", "c"]
    assert read(catalog, repo, "main", "a") == b"staged"
    assert paths(catalog, repo, "main@") == ["a", "b"]
    assert read(catalog, repo, "main@", "a") == b"committed"
    with pytest.raises(NotFound):
        catalog.get_entry(repo, "main", "b")


def test_dollar_names_the_uncommitted_workspace_and_needs_no_commit_to_read(
    catalog: Catalog, repo: str
) -> None:
    commit_files(catalog, repo, "main", {"old": "1", "gone": "1"})
    put(catalog, repo, "main", "new", "2")
    catalog.delete_object(repo, "main", "gone")
    assert paths(catalog, repo, "main$") == ["new", "old"]
    assert read(catalog, repo, "main$", "new") == b"2"
    with pytest.raises(NotFound):
        catalog.get_entry(repo, "main$", "gone")
    for needs_a_commit in (
        lambda: catalog.get_commit(repo, "main$"),
        lambda: catalog.log(repo, "main$"),
        lambda: catalog.create_branch(repo, "b", "main$"),
        lambda: catalog.create_tag(repo, "t", "main$"),
        lambda: catalog.diff_refs(repo, "main$", "main"),  # the right side may be "$"
    ):
        with pytest.raises(InvalidValue):
            needs_a_commit()


def test_deleting_an_absent_object_is_not_found(catalog: Catalog, repo: str) -> None:
    with pytest.raises(NotFound):
        catalog.delete_object(repo, "main", "missing")


def test_delete_objects_reports_failures_per_path(catalog: Catalog, repo: str) -> None:
    put(catalog, repo, "main", "a", "a")
    failed = catalog.delete_objects(repo, "main", ["a", "missing"])
    assert list(failed) == ["missing"]
    assert paths(catalog, repo, "main") == []


def test_if_absent_refuses_to_overwrite_and_links_nothing(catalog: Catalog, repo: str) -> None:
    put(catalog, repo, "main", "once", "first")
    with pytest.raises(PreconditionFailed):
        catalog.write_object(repo, "main", "once", [b"second"], if_absent=True)
    assert read(catalog, repo, "main", "once") == b"first"
    catalog.write_object(repo, "main", "fresh", [b"x"], if_absent=True)


def test_if_match_writes_only_over_the_expected_checksum(catalog: Catalog, repo: str) -> None:
    first = put(catalog, repo, "main", "obj", "v1")
    with pytest.raises(PreconditionFailed):
        catalog.write_object(repo, "main", "obj", [b"v2"], if_match="0" * 32)
    catalog.write_object(repo, "main", "obj", [b"v2"], if_match=f'"{first.checksum}"')
    assert read(catalog, repo, "main", "obj") == b"v2"


@pytest.mark.parametrize("path", ["", "nul\x00byte", "x" * 1025])
def test_invalid_paths_are_refused(catalog: Catalog, repo: str, path: str) -> None:
    with pytest.raises(InvalidValue):
        put(catalog, repo, "main", path, "x")


def test_path_of_exactly_1024_bytes_is_accepted(catalog: Catalog, repo: str) -> None:
    put(catalog, repo, "main", "é" * 512, "x")
    assert paths(catalog, repo, "main") == ["é" * 512]


def test_listing_with_delimiter_returns_common_prefixes(catalog: Catalog, repo: str) -> None:
    for path in ["a/1", "a/2", "a/b/3", "b/1", "c", "d/e/f"]:
        put(catalog, repo, "main", path, path)
    page = catalog.list_entries(repo, "main", delimiter="/")
    assert [(type(r).__name__, r.path) for r in page.results] == [
        ("CommonPrefix", "a/"),
        ("CommonPrefix", "b/"),
        ("Entry", "c"),
        ("CommonPrefix", "d/"),
    ]
    inner = catalog.list_entries(repo, "main", prefix="a/", delimiter="/")
    assert [r.path for r in inner.results] == ["a/1", "a/2", "a/b/"]


def test_delimited_listing_pages_past_common_prefixes(catalog: Catalog, repo: str) -> None:
    for path in ["a/1", "a/2", "b/1", "c", "d"]:
        put(catalog, repo, "main", path, path)
    first = catalog.list_entries(repo, "main", delimiter="/", amount=2)
    assert [r.path for r in first.results] == ["a/", "b/"]
    assert first.has_more
    assert first.next_after == "b/"
    second = catalog.list_entries(repo, "main", delimiter="/", amount=2, after=first.next_after)
    assert [r.path for r in second.results] == ["c", "d"]
    assert not second.has_more


def test_listing_pages_cover_every_entry_once(catalog: Catalog, repo: str) -> None:
    expected = [f"k/{i:04}" for i in range(57)]
    for i, path in enumerate(expected):
        put(catalog, repo, "main", path, str(i))
        if i == 30:
            catalog.commit(repo, "main", "half", "tester")
    seen: list[str] = []
    after = ""
    while True:
        page = catalog.list_entries(repo, "main", after=after, amount=10)
        seen.extend(r.path for r in page.results)
        if not page.has_more:
            break
        after = page.next_after
    assert seen == expected


@pytest.mark.parametrize("amount", [0, 1001, -1])
def test_amount_outside_1_to_1000_is_refused(catalog: Catalog, repo: str, amount: int) -> None:
    with pytest.raises(InvalidValue):
        catalog.list_entries(repo, "main", amount=amount)


def test_copy_shares_content_and_update_metadata_keeps_it(catalog: Catalog, repo: str) -> None:
    source = put(catalog, repo, "main", "src", "payload")
    copy = catalog.copy_object(repo, "main", "src", "main", "dst")
    assert copy.physical_address == source.physical_address
    catalog.update_object_metadata(repo, "main", "dst", {"k": "v"})
    got = catalog.get_entry(repo, "main", "dst")
    assert got.metadata == {"k": "v"}
    assert got.physical_address == source.physical_address


def test_stage_entry_links_existing_content(catalog: Catalog, repo: str) -> None:
    address = catalog.new_physical_address(repo)
    stored = catalog.block.put(address, [b"linked"])
    entry = Entry(
        path="linked",
        physical_address=address,
        checksum=stored.md5,
        size_bytes=stored.size,
        mtime=0,
    )
    catalog.stage_entry(repo, "main", entry)
    assert read(catalog, repo, "main", "linked") == b"linked"


def test_common_prefix_type_is_exported(catalog: Catalog, repo: str) -> None:
    put(catalog, repo, "main", "x/y", "1")
    assert catalog.list_entries(repo, "main", delimiter="/").results == [CommonPrefix("x/")]


def test_listed_entries_equal_entries_built_normally(catalog: Catalog, repo: str) -> None:
    written = catalog.write_object(
        repo, "main", "p", [b"data"], content_type="text/plain", metadata={"a": "b"}
    )
    listed = catalog.list_entries(repo, "main").results[0]
    assert listed == written
    assert isinstance(listed, Entry)
    assert listed.metadata == {"a": "b"}
