"""Operators on refs: create a (run) branch, delete it, tag a commit."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from lakefs_sdk.exceptions import ApiException

from airflow_provider_lakever.exceptions import BranchExistsElsewhereError, LakeverError
from airflow_provider_lakever.links.lakever import LakeverBranchLink, LakeverCommitLink
from airflow_provider_lakever.operators.base import LakeverBaseOperator
from airflow_provider_lakever.utils.naming import (
    DEFAULT_MAX_LENGTH,
    is_valid_branch_name,
    run_branch_name,
)
from airflow_provider_lakever.utils.stamps import DAG_ID, RUN_ID

if TYPE_CHECKING:
    from airflow.sdk import Context

#: How many commits of an existing branch are read to decide whether a retry may reuse it.
REUSE_SCAN_DEPTH = 1000


class CreateBranchOperator(LakeverBaseOperator):
    """Create a branch from a source ref; by default the branch of the current DAG run.

    Idempotent on retry: a branch that exists already is reused when it is this run's
    branch on the same source (the source's current head, plus only commits stamped with
    this DAG run); any other existing branch is an error, as it belongs to someone else.

    :param repository: the repository id (templated).
    :param source: the ref to branch from, e.g. ``main`` or a commit id (templated).
    :param branch: the branch name (templated); when omitted, a name derived from the DAG id
        and run id (see :func:`~airflow_provider_lakever.utils.naming.run_branch_name`).
    :param branch_prefix: the first word of derived names.
    :param max_length: the maximum length of derived names.
    :param lakever_conn_id: the Airflow connection to the server (templated).
    :return: (XCom) the branch name.
    """

    template_fields: Sequence[str] = (*LakeverBaseOperator.template_fields, "source", "branch")
    operator_extra_links = (LakeverBranchLink(), LakeverCommitLink())

    def __init__(
        self,
        *,
        source: str = "main",
        branch: str | None = None,
        branch_prefix: str = "run",
        max_length: int = DEFAULT_MAX_LENGTH,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.source = source
        self.branch = branch
        self.branch_prefix = branch_prefix
        self.max_length = max_length

    def branch_name(self, context: Context) -> str:
        """The branch to create: ``branch`` if given, else the run branch name."""
        if self.branch:
            return self.branch
        ti = context["ti"]
        return run_branch_name(
            ti.dag_id, ti.run_id, prefix=self.branch_prefix, max_length=self.max_length
        )

    def execute(self, context: Context) -> str:
        name = self.branch_name(context)
        if not is_valid_branch_name(name):
            raise ValueError(f"{name!r} is not a valid branch name (letters, digits, '_', '-')")
        source_head = self.hook.resolve_commit(self.repository, self.source).id
        try:
            head = self.hook.create_branch(self.repository, name, self.source)
            self.log.info("created branch %s from %s at %s", name, self.source, head)
        except LakeverError as exc:
            cause = exc.__cause__
            if not (isinstance(cause, ApiException) and cause.status == 409):
                raise
            head = self._reuse(name, source_head, context)
        self.remember_links(branch=name, commit_id=head)
        return name

    def _reuse(self, name: str, source_head: str, context: Context) -> str:
        """Reuse ``name`` if it is this run's branch: the source's head plus our commits only."""
        head = self.hook.get_branch_head(self.repository, name)
        if head is None:
            raise LakeverError(f"branch {name!r} was reported to exist but cannot be read")
        ti = context["ti"]
        ours = {DAG_ID: str(ti.dag_id), RUN_ID: str(ti.run_id)}
        for commit in self.hook.iter_log(self.repository, name, limit=REUSE_SCAN_DEPTH):
            if commit.id == source_head:
                self.log.info(
                    "branch %s exists on %s already (a retry): reusing it", name, self.source
                )
                return head
            metadata = commit.metadata or {}
            if any(metadata.get(key) != value for key, value in ours.items()):
                break
        raise BranchExistsElsewhereError(
            f"branch {name!r} exists but is not this run's branch on {self.source!r} "
            f"(head {source_head}): pick another name or delete it"
        )


class DeleteBranchOperator(LakeverBaseOperator):
    """Delete a branch; a branch that does not exist is success (this is a teardown).

    :param repository: the repository id (templated).
    :param branch: the branch to delete (templated).
    :param keep_if_requested_by: the id of a task whose XCom result, a dict, may carry
        ``{"keep_branch": true}`` (the branch-per-run rollback does, to keep a failed run's
        branch for troubleshooting); the branch is then kept.
    :param lakever_conn_id: the Airflow connection to the server (templated).
    :return: (XCom) ``True`` when a branch was deleted.
    """

    template_fields: Sequence[str] = (*LakeverBaseOperator.template_fields, "branch")
    ui_color = "#f2e6d9"

    def __init__(
        self, *, branch: str, keep_if_requested_by: str | None = None, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self.branch = branch
        self.keep_if_requested_by = keep_if_requested_by

    def execute(self, context: Context) -> bool:
        if self.keep_if_requested_by:
            verdict = context["ti"].xcom_pull(task_ids=self.keep_if_requested_by)
            if isinstance(verdict, dict) and verdict.get("keep_branch"):
                self.log.info(
                    "keeping branch %s for troubleshooting, as %s asked",
                    self.branch,
                    self.keep_if_requested_by,
                )
                return False
        deleted = self.hook.delete_branch(self.repository, self.branch)
        if deleted:
            self.log.info("deleted branch %s", self.branch)
        else:
            self.log.info("branch %s does not exist: nothing to delete", self.branch)
        return deleted


class TagOperator(LakeverBaseOperator):
    """Tag a ref; a tag that exists on the same commit already is success.

    :param repository: the repository id (templated).
    :param tag: the tag name (templated).
    :param ref: the ref to tag, e.g. an XCom'd merge commit id (templated).
    :param lakever_conn_id: the Airflow connection to the server (templated).
    :return: (XCom) the tagged commit id.
    """

    template_fields: Sequence[str] = (*LakeverBaseOperator.template_fields, "tag", "ref")
    operator_extra_links = (LakeverCommitLink(),)

    def __init__(self, *, tag: str, ref: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.tag = tag
        self.ref = ref

    def execute(self, context: Context) -> str:
        commit_id = self.hook.create_tag(self.repository, self.tag, self.ref)
        self.log.info("tag %s points at %s", self.tag, commit_id)
        self.remember_links(commit_id=commit_id)
        return commit_id
