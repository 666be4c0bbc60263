"""Merging staging tokens and the committed tree: the newest source wins a key."""

from __future__ import annotations

from lakever_server.graveler.staging import merge_newest_first


def test_newest_source_wins_each_key_and_all_keys_come_once_in_order() -> None:
    newest = [(b"b", b"new-b"), (b"d", None)]
    older = [(b"a", b"old-a"), (b"b", b"old-b"), (b"c", b"old-c")]
    committed = [(b"a", b"tree-a"), (b"d", b"tree-d"), (b"e", b"tree-e"), (b"f", b"tree-f")]
    merged = list(merge_newest_first([newest, older, committed]))
    assert merged == [
        (b"a", b"old-a"),
        (b"b", b"new-b"),
        (b"c", b"old-c"),
        (b"d", None),
        (b"e", b"tree-e"),
        (b"f", b"tree-f"),
    ]


def test_empty_sources_and_a_single_source_pass_through() -> None:
    assert list(merge_newest_first([[], [(b"x", b"1")], []])) == [(b"x", b"1")]
    assert list(merge_newest_first([[]])) == []
