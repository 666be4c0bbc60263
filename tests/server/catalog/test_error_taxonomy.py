"""The error taxonomy's HTTP statuses, defined once in ``errors`` for the API and the UI."""

from __future__ import annotations

import inspect

import pytest

from lakever_server import errors

KINDS = [
    kind
    for _, kind in inspect.getmembers(errors, inspect.isclass)
    if issubclass(kind, errors.LakeverError) and kind is not errors.LakeverError
]


def _instance(kind: type[errors.LakeverError]) -> errors.LakeverError:
    if kind is errors.MergeConflict:
        return errors.MergeConflict([errors.ConflictingPath("a", "both changed")])
    if kind is errors.RangeNotSatisfiable:
        return errors.RangeNotSatisfiable("outside", size=3)
    if kind in (errors.ProtectedBranch, errors.ReadOnlyRepository):
        return kind()
    return kind("message")


@pytest.mark.parametrize("kind", KINDS, ids=[k.__name__ for k in KINDS])
def test_every_error_kind_has_a_client_error_status(kind: type[errors.LakeverError]) -> None:
    assert 400 <= errors.http_status(_instance(kind)) < 500


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (errors.InvalidValue("bad"), 400),
        (errors.NoChanges("nothing"), 400),
        (errors.Unauthorized("who"), 401),
        (errors.ReadOnlyRepository(), 403),
        (errors.ProtectedBranch(), 403),
        (errors.NotFound("gone"), 404),
        (errors.MergeConflict([errors.ConflictingPath("a", "both changed")]), 409),
        (errors.PreconditionFailed("changed"), 412),
        (errors.RangeNotSatisfiable("outside", size=3), 416),
        (errors.TooManyRequests("busy"), 429),
    ],
    ids=lambda v: type(v).__name__ if isinstance(v, Exception) else str(v),
)
def test_the_most_specific_kind_decides_the_status(error: errors.LakeverError, status: int) -> None:
    assert errors.http_status(error) == status


def test_an_unknown_kind_is_a_server_error() -> None:
    class Unmapped(errors.LakeverError):
        pass

    assert errors.http_status(Unmapped("bug")) == 500
