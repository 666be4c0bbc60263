"""Validation of ids and names, and the strict ref-expression parser."""

from __future__ import annotations

import pytest

from lakever_server.errors import InvalidValue
from lakever_server.graveler.names import (
    RefExpression,
    parse_ref,
    validate_amount,
    validate_branch_name,
    validate_repository_id,
    validate_tag_name,
)


@pytest.mark.parametrize("repo", ["abc", "a-b-c", "0repo", "x" * 63])
def test_valid_repository_ids(repo: str) -> None:
    assert validate_repository_id(repo) == repo


@pytest.mark.parametrize("repo", ["ab", "-abc", "ABC", "a_b", "x" * 64, "a.b"])
def test_invalid_repository_ids(repo: str) -> None:
    with pytest.raises(InvalidValue):
        validate_repository_id(repo)


@pytest.mark.parametrize("branch", ["main", "run-2024_01", "_x", "dev-"])
def test_valid_branch_names(branch: str) -> None:
    assert validate_branch_name(branch) == branch


@pytest.mark.parametrize("tag", ["v1.0", "release/2024-01", "a-b_c", "x@y"])
def test_valid_tag_names(tag: str) -> None:
    assert validate_tag_name(tag) == tag


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("main", RefExpression("main", "", ())),
        ("main@", RefExpression("main", "@", ())),
        ("main$", RefExpression("main", "$", ())),
        ("main~", RefExpression("main", "", (("~", 1),))),
        ("main~3^2", RefExpression("main", "", (("~", 3), ("^", 2)))),
        ("main@~1", RefExpression("main", "@", (("~", 1),))),
        ("abc123^", RefExpression("abc123", "", (("^", 1),))),
    ],
)
def test_ref_expressions_parse(text: str, expected: RefExpression) -> None:
    assert parse_ref(text) == expected


@pytest.mark.parametrize("text", ["", "main~a", "main$^1", "main@$", "~1", "ma in", "a" * 1025])
def test_malformed_ref_expressions_are_invalid(text: str) -> None:
    with pytest.raises(InvalidValue):
        parse_ref(text)


@pytest.mark.parametrize("amount", [0, -5, 1001])
def test_amounts_outside_1_to_1000_are_invalid(amount: int) -> None:
    with pytest.raises(InvalidValue):
        validate_amount(amount)
