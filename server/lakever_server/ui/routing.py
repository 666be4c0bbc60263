"""The UI's route table: every page, form action and asset, and the app serving them."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.responses import Response
from starlette.routing import Route

from lakever_server.services import Services
from lakever_server.ui.pages import Page, UiState, create_environment, endpoint
from lakever_server.ui.views import changes, compare, history, login, objects, refs
from lakever_server.ui.views import repositories as repos

REPO = "/repositories/{repo}"


def _to_home(page: Page) -> Response:
    return page.redirect("/")


def routes() -> list[Route]:
    get, post = ["GET"], ["POST"]
    return [
        Route("/login", login.login_form, methods=get),
        Route("/login", login.login, methods=post),
        Route("/ui/static/{name}", login.static_asset, methods=get),
        Route("/logout", endpoint(login.logout_form), methods=get),
        Route("/logout", endpoint(login.logout), methods=post),
        Route("/", endpoint(repos.repository_list), methods=get),
        Route("/repositories", endpoint(_to_home), methods=get),
        Route("/repositories", endpoint(repos.create_repository), methods=post),
        Route(REPO, endpoint(repos.repository_home), methods=get),
        Route(REPO + "/delete", endpoint(repos.confirm_delete_repository), methods=get),
        Route(REPO + "/delete", endpoint(repos.delete_repository), methods=post),
        Route(REPO + "/branches", endpoint(refs.branches), methods=get),
        Route(REPO + "/branches", endpoint(refs.create_branch), methods=post),
        Route(REPO + "/branches/delete", endpoint(refs.delete_branch), methods=post),
        Route(REPO + "/tags", endpoint(refs.tags), methods=get),
        Route(REPO + "/tags", endpoint(refs.create_tag), methods=post),
        Route(REPO + "/tags/delete", endpoint(refs.delete_tag), methods=post),
        Route(REPO + "/objects", endpoint(objects.browse), methods=get),
        Route(REPO + "/objects/download", endpoint(objects.download), methods=get),
        Route(REPO + "/commits", endpoint(history.commit_log), methods=get),
        Route(REPO + "/commits/{commit_id}", endpoint(history.commit_page), methods=get),
        Route(REPO + "/compare", endpoint(compare.compare), methods=get),
        Route(REPO + "/compare/merge", endpoint(compare.merge), methods=post),
        Route(REPO + "/changes", endpoint(changes.changes), methods=get),
        Route(REPO + "/changes/commit", endpoint(changes.commit), methods=post),
        Route(REPO + "/changes/reset", endpoint(changes.reset), methods=post),
    ]


def create_ui_app(services: Services) -> Starlette:
    app = Starlette(routes=routes())
    app.state.ui = UiState(services=services, templates=create_environment())
    return app
