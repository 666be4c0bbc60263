"""The ``lakefs://repository/branch/path`` asset URI scheme.

A merge publishes data at ``lakefs://<repository>/<branch>/<path>``; downstream DAGs
schedule on those assets, and the event's extra carries the merge commit id, so they read
exactly the data that was merged (``lakefs://<repository>/<commit id>/<path>``) even when
``main`` has moved on since.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import SplitResult, urlsplit

from airflow.sdk import Asset

SCHEME = "lakefs"


@dataclass(frozen=True)
class LakefsLocation:
    """Where a ``lakefs://`` URI points: a repository, a ref and a path under it."""

    repository: str
    ref: str
    path: str

    @property
    def uri(self) -> str:
        return f"{SCHEME}://{self.repository}/{self.ref}/{self.path}"


def sanitize_uri(uri: SplitResult) -> SplitResult:
    """Validate a ``lakefs://`` URI for Airflow (registered in ``get_provider_info``).

    :param uri: the split URI.
    :raises ValueError: when the repository or the branch is missing.
    """
    if not uri.netloc:
        raise ValueError("a lakefs:// URI must name a repository: lakefs://<repo>/<branch>/<path>")
    ref = uri.path.lstrip("/").split("/", 1)[0]
    if not ref:
        raise ValueError("a lakefs:// URI must name a branch: lakefs://<repo>/<branch>/<path>")
    return uri


def parse_uri(uri: str) -> LakefsLocation:
    """Split ``lakefs://repo/ref/path`` into its parts.

    :param uri: the URI.
    """
    parts = sanitize_uri(urlsplit(uri))
    if parts.scheme != SCHEME:
        raise ValueError(f"not a {SCHEME}:// URI: {uri!r}")
    ref, _, path = parts.path.lstrip("/").partition("/")
    return LakefsLocation(repository=parts.netloc, ref=ref, path=path)


def create_asset(
    *, repository: str, ref: str, path: str = "", extra: dict[str, Any] | None = None
) -> Asset:
    """An Airflow asset for ``path`` on ``ref`` of ``repository``.

    :param repository: the repository id.
    :param ref: the branch the data is published on (usually ``main``).
    :param path: an object path or a prefix ending in ``/``.
    :param extra: the asset's static extra.
    """
    location = LakefsLocation(repository=repository, ref=ref, path=path.lstrip("/"))
    return Asset(uri=location.uri, extra=extra or {})


def is_lakefs_asset(obj: Any) -> bool:
    """Whether ``obj`` is an asset with a ``lakefs://`` URI."""
    return isinstance(obj, Asset) and obj.uri.startswith(f"{SCHEME}://")
