"""The repository list (the home page), repository creation and deletion."""

from __future__ import annotations

from starlette.responses import Response

from lakever_server.errors import InvalidValue
from lakever_server.ui import urls
from lakever_server.ui.pages import Page

PAGE_SIZE = 100


def repository_list(page: Page) -> Response:
    listing = page.catalog.list_repositories(after=page.param("after"), amount=PAGE_SIZE)
    schemes = page.state.services.block.schemes
    return page.render(
        "repositories.html",
        repositories=listing.results,
        next_after=listing.next_after if listing.has_more else "",
        namespace_hint=f"{schemes[0]}://<name>" if schemes else "",
    )


def create_repository(page: Page) -> Response:
    name = page.field("name")
    if not name:
        raise InvalidValue("repository name is required", field="name")
    schemes = page.state.services.block.schemes
    namespace = page.field("storage_namespace") or f"{schemes[0]}://{name}"
    if namespace.partition("://")[0] not in schemes:
        allowed = ", ".join(f"{s}://" for s in schemes)
        raise InvalidValue(f"storage namespace must start with {allowed}")
    repo = page.catalog.create_repository(
        name, namespace, page.field("default_branch") or "main", creator=page.user.id
    )
    return page.redirect(urls.objects_url(repo.id, repo.default_branch))


def confirm_delete_repository(page: Page) -> Response:
    repo = page.catalog.get_repository(page.path_param("repo"))
    return page.render("repository_delete.html", repo=repo, mismatch=False)


def delete_repository(page: Page) -> Response:
    """Deletes only when the form repeats the repository's name (the confirmation)."""
    repo = page.catalog.get_repository(page.path_param("repo"))
    if page.field("confirm_name") != repo.id:
        return page.render("repository_delete.html", status=400, repo=repo, mismatch=True)
    page.catalog.delete_repository(repo.id)
    return page.redirect(urls.HOME)


def repository_home(page: Page) -> Response:
    repo = page.catalog.get_repository(page.path_param("repo"))
    return page.redirect(urls.objects_url(repo.id, repo.default_branch))
