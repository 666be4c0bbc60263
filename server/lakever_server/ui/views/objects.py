"""The object browser of any ref: folders, object stats, previews and downloads."""

from __future__ import annotations

from urllib.parse import quote

from starlette.responses import Response

from lakever_server.catalog.models import CommonPrefix, Entry
from lakever_server.errors import InvalidValue, NotFound
from lakever_server.ui import formatting
from lakever_server.ui.pages import Page
from lakever_server.ui.preview import IMAGE_TYPES, build_preview, is_inline_image
from lakever_server.zerocopy.response import BlobResponse

PAGE_SIZE = 200


def _ref_and_path(page: Page, default_ref: str) -> tuple[str, str]:
    path = page.param("path")
    if "\x00" in path:
        raise InvalidValue("path contains a NUL character", field="path")
    return page.param("ref") or default_ref, path


def is_branch(page: Page, repository: str, ref: str) -> bool:
    try:
        page.catalog.get_branch(repository, ref)
    except (NotFound, InvalidValue):
        return False
    return True


def browse(page: Page) -> Response:
    """An object's page when ``path`` names one, else the folder ``path`` (a prefix)."""
    repo = page.catalog.get_repository(page.path_param("repo"))
    ref, path = _ref_and_path(page, repo.default_branch)
    if path and not path.endswith("/"):
        try:
            entry = page.catalog.get_entry(repo.id, ref, path)
        except NotFound:
            entry = None
        if entry is not None:
            return _object_page(page, repo.id, ref, entry)
        path += "/"  # "a/b" with no object of that name: the folder "a/b/", if any
    listing = page.catalog.list_entries(
        repo.id, ref, prefix=path, delimiter="/", after=page.param("after"), amount=PAGE_SIZE
    )
    if path and not listing.results and not page.param("after"):
        raise NotFound(f"no object or folder {path!r} at {ref}", kind="object", name=path)
    folders = [r for r in listing.results if isinstance(r, CommonPrefix)]
    objects = [r for r in listing.results if isinstance(r, Entry)]
    return page.render(
        "objects.html",
        repo=repo,
        ref=ref,
        section="objects",
        prefix=path,
        crumbs=formatting.breadcrumbs(path),
        folders=folders,
        objects=objects,
        display_name=formatting.display_name,
        ref_is_branch=is_branch(page, repo.id, ref),
        commit=page.catalog.get_commit(repo.id, ref),
        next_after=listing.next_after if listing.has_more else "",
    )


def _object_page(page: Page, repository: str, ref: str, entry: Entry) -> Response:
    repo = page.catalog.get_repository(repository)
    return page.render(
        "object.html",
        repo=repo,
        ref=ref,
        section="objects",
        entry=entry,
        crumbs=formatting.breadcrumbs(entry.path),
        parent=formatting.parent_prefix(entry.path),
        preview=build_preview(page.catalog, entry),
        ref_is_branch=is_branch(page, repo.id, ref),
    )


def download(page: Page) -> Response:
    """The object's bytes: an attachment, or inline for raster images (previews)."""
    repository = page.path_param("repo")
    ref, path = _ref_and_path(page, "")
    if not ref or not path:
        raise InvalidValue("ref and path are required")
    entry, chunks = page.catalog.read_object(repository, ref, path)
    inline = page.param("inline") == "1" and is_inline_image(entry)
    name = path.rsplit("/", 1)[-1] or "object"
    if inline:
        media_type = entry.content_type if entry.content_type in IMAGE_TYPES else _image_type(name)
        disposition = "inline"
    else:
        media_type = "application/octet-stream"
        disposition = f"attachment; filename*=UTF-8''{quote(name, safe='')}"
    headers = {
        "Content-Disposition": disposition,
        "Content-Length": str(entry.size_bytes),
        "ETag": f'"{entry.checksum}"',
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": "sandbox; default-src 'none'",
        "Cache-Control": "private, no-store",
    }
    return BlobResponse(chunks, media_type=media_type, headers=headers)


def _image_type(name: str) -> str:
    ext = name[name.rfind(".") :].lower()
    by_extension = {v: k for k, v in IMAGE_TYPES.items()} | {".jpeg": "image/jpeg"}
    return by_extension.get(ext, "application/octet-stream")
