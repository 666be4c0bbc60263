"""Extra links from a task to the server's web UI: its commit, its branch, its diff.

Airflow 3 evaluates extra links in the worker when the task finishes and stores the URLs
in XCom, so the links read what the operator recorded during ``execute``
(``lakever_link_state``) and never call the server. The URL shapes are lakeFS's, which the
bundled server's UI serves too.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, urlencode

from airflow.sdk import BaseOperatorLink


def _state(operator: Any) -> dict[str, str]:
    return dict(getattr(operator, "lakever_link_state", None) or {})


def commit_url(ui_base_url: str, repository: str, commit_id: str) -> str:
    """The UI page of one commit."""
    return f"{ui_base_url}/repositories/{quote(repository)}/commits/{quote(commit_id)}"


def branch_url(ui_base_url: str, repository: str, branch: str) -> str:
    """The UI page listing the objects of one branch."""
    return f"{ui_base_url}/repositories/{quote(repository)}/objects?{urlencode({'ref': branch})}"


def diff_url(ui_base_url: str, repository: str, base: str, compare: str) -> str:
    """The UI page comparing ``compare`` against ``base``."""
    query = urlencode({"ref": base, "compare": compare})
    return f"{ui_base_url}/repositories/{quote(repository)}/compare?{query}"


class LakeverCommitLink(BaseOperatorLink):
    """The commit the task recorded (or the one a sensor found)."""

    name = "lakever commit"

    def get_link(self, operator: Any, *, ti_key: Any) -> str:
        state = _state(operator)
        if not state.get("commit_id"):
            return ""
        return commit_url(state["ui_base_url"], state["repository"], state["commit_id"])


class LakeverBranchLink(BaseOperatorLink):
    """The branch the task worked on."""

    name = "lakever branch"

    def get_link(self, operator: Any, *, ti_key: Any) -> str:
        state = _state(operator)
        if not state.get("branch"):
            return ""
        return branch_url(state["ui_base_url"], state["repository"], state["branch"])


class LakeverDiffLink(BaseOperatorLink):
    """The changes the task merged or compared."""

    name = "lakever diff"

    def get_link(self, operator: Any, *, ti_key: Any) -> str:
        state = _state(operator)
        if not (state.get("diff_base") and state.get("diff_compare")):
            return ""
        return diff_url(
            state["ui_base_url"], state["repository"], state["diff_base"], state["diff_compare"]
        )
