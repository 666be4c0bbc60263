"""Small helpers shared by the catalog tests."""

from __future__ import annotations

from lakever_server.catalog.catalog import Catalog
from lakever_server.catalog.models import Entry


def put(catalog: Catalog, repo: str, branch: str, path: str, data: bytes | str) -> Entry:
    body = data.encode() if isinstance(data, str) else data
    return catalog.write_object(repo, branch, path, [body])


def read(catalog: Catalog, repo: str, ref: str, path: str) -> bytes:
    _, chunks = catalog.read_object(repo, ref, path)
    return b"".join(chunks)


def paths(catalog: Catalog, repo: str, ref: str, **kwargs: object) -> list[str]:
    page = catalog.list_entries(repo, ref, **kwargs)  # type: ignore[arg-type]
    return [item.path for item in page.results]


def commit_files(
    catalog: Catalog, repo: str, branch: str, files: dict[str, str], message: str = "change"
) -> str:
    """Write ``files`` (``""`` content deletes) and commit; returns the commit id."""
    for path, data in files.items():
        if data == "":
            catalog.delete_object(repo, branch, path)
        else:
            put(catalog, repo, branch, path, data)
    return catalog.commit(repo, branch, message, "tester").id
