"""Branches (create from a ref, delete, protection shown) and tags of a repository."""

from __future__ import annotations

import fnmatch

from starlette.responses import Response

from lakever_server.errors import InvalidValue
from lakever_server.ui import urls
from lakever_server.ui.pages import Page

PAGE_SIZE = 100


def branches(page: Page) -> Response:
    repo = page.catalog.get_repository(page.path_param("repo"))
    listing = page.catalog.list_branches(repo.id, after=page.param("after"), amount=PAGE_SIZE)
    rules, _ = page.catalog.protection_rules(repo.id)
    patterns = [rule.pattern for rule in rules]
    rows = [
        {
            "branch": branch,
            "protected_by": next((p for p in patterns if fnmatch.fnmatchcase(branch.id, p)), None),
        }
        for branch in listing.results
    ]
    return page.render(
        "branches.html",
        repo=repo,
        ref=repo.default_branch,
        section="branches",
        rows=rows,
        patterns=patterns,
        next_after=listing.next_after if listing.has_more else "",
    )


def create_branch(page: Page) -> Response:
    repo = page.catalog.get_repository(page.path_param("repo"))
    name = page.field("name")
    if not name:
        raise InvalidValue("branch name is required", field="name")
    source = page.field("source") or repo.default_branch
    branch = page.catalog.create_branch(repo.id, name, source)
    return page.redirect(urls.objects_url(repo.id, branch.id))


def delete_branch(page: Page) -> Response:
    repo = page.catalog.get_repository(page.path_param("repo"))
    page.catalog.delete_branch(repo.id, page.field("name"))
    return page.redirect(urls.repo_url(repo.id, "branches"))


def tags(page: Page) -> Response:
    repo = page.catalog.get_repository(page.path_param("repo"))
    listing = page.catalog.list_tags(repo.id, after=page.param("after"), amount=PAGE_SIZE)
    return page.render(
        "tags.html",
        repo=repo,
        ref=repo.default_branch,
        section="tags",
        tags=listing.results,
        next_after=listing.next_after if listing.has_more else "",
    )


def create_tag(page: Page) -> Response:
    repo = page.catalog.get_repository(page.path_param("repo"))
    name = page.field("name")
    if not name:
        raise InvalidValue("tag name is required", field="name")
    page.catalog.create_tag(repo.id, name, page.field("ref") or repo.default_branch)
    return page.redirect(urls.repo_url(repo.id, "tags"))


def delete_tag(page: Page) -> Response:
    repo = page.catalog.get_repository(page.path_param("repo"))
    page.catalog.delete_tag(repo.id, page.field("name"))
    return page.redirect(urls.repo_url(repo.id, "tags"))
