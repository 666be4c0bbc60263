"""Following ``next_offset`` through paginated listings (no SDK import: cheap to load)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

PAGE_SIZE = 1000


def paginate(fetch: Callable[[str], Any], *, limit: int | None = None) -> Iterator[Any]:
    """Every result of a paginated listing, following ``next_offset``.

    Args:
        fetch: called with the ``after`` token; returns a ``*List`` model with
            ``results`` and ``pagination``.
        limit: stop after this many results (``None``: all of them).
    """
    after = ""
    produced = 0
    while True:
        page = fetch(after)
        for item in page.results:
            if limit is not None and produced >= limit:
                return
            produced += 1
            yield item
        pagination = page.pagination
        if not pagination.has_more or not pagination.next_offset:
            return
        after = pagination.next_offset


def page_size(limit: int | None) -> int:
    """The ``amount`` to ask per page for a listing capped at ``limit``."""
    return PAGE_SIZE if limit is None else max(1, min(limit, PAGE_SIZE))
