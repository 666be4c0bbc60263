"""Rolling back: revert commits atomically, and the rollback step of branch-per-run."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from airflow_provider_lakever.hooks.lakever import LakeverHook
from airflow_provider_lakever.links.lakever import (
    LakeverBranchLink,
    LakeverCommitLink,
    LakeverDiffLink,
)
from airflow_provider_lakever.operators.base import LakeverBaseOperator
from airflow_provider_lakever.utils.stamps import IDEMPOTENCY_KEY, stamped, task_stamp

log = logging.getLogger(__name__)

if TYPE_CHECKING:
    from airflow.sdk import Context
    from lakefs_sdk.models.commit import Commit


class RevertOperator(LakeverBaseOperator):
    """Revert one or several commits on a branch, atomically.

    Every ref is resolved first, against the branch as it is when the task starts, so
    ``main^1`` means the same commit however many reverts follow. Several refs are
    reverted, in the order given, on a scratch branch that is then merged into ``branch``
    in one step: readers see all of the reverts or none of them.

    Idempotent on retry: a revert this task instance already recorded is not made again.

    :param repository: the repository id (templated).
    :param branch: the branch to revert on (templated).
    :param refs: a commit id or ref expression (``main^1``, an XCom'd merge commit), or a
        list of them (templated).
    :param parent_number: for merge commits, the parent (from 1) to revert relative to.
    :param message: the message of the revert (templated).
    :param metadata: extra metadata, string keys and values (templated).
    :param lakever_conn_id: the Airflow connection to the server (templated).
    :return: (XCom) the branch's head commit id after the revert.
    """

    template_fields: Sequence[str] = (
        *LakeverBaseOperator.template_fields,
        "branch",
        "refs",
        "message",
        "metadata",
    )
    operator_extra_links = (LakeverCommitLink(), LakeverBranchLink(), LakeverDiffLink())

    def __init__(
        self,
        *,
        branch: str,
        refs: str | Sequence[str],
        parent_number: int = 1,
        message: str | None = None,
        metadata: dict[str, str] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.branch = branch
        self.refs = refs
        self.parent_number = parent_number
        self.message = message
        self.metadata = metadata

    def execute(self, context: Context) -> str:
        refs = [self.refs] if isinstance(self.refs, str) else list(self.refs)
        if not refs:
            raise ValueError("refs names no commit to revert")
        metadata = stamped(self.metadata, task_stamp(context, "revert"))
        before = self.hook.resolve_commit(self.repository, self.branch).id
        head = revert_atomically(
            self.hook,
            self.repository,
            self.branch,
            refs,
            parent_number=self.parent_number,
            message=self.message,
            metadata=metadata,
        )
        self.remember_links(commit_id=head, branch=self.branch, diff_base=before, diff_compare=head)
        return head


def revert_atomically(
    hook: LakeverHook,
    repository: str,
    branch: str,
    refs: Sequence[str],
    *,
    parent_number: int,
    message: str | None,
    metadata: dict[str, str],
) -> str:
    """Revert ``refs`` on ``branch`` in one visible step; return the new head.

    :param hook: the hook to the server.
    :param repository: the repository id.
    :param branch: the branch to revert on.
    :param refs: ref expressions, resolved before anything changes.
    :param parent_number: for merge commits, the parent to revert relative to.
    :param message: the message of the revert commit(s).
    :param metadata: stamped metadata carrying the idempotency key.
    """
    key = metadata[IDEMPOTENCY_KEY]
    earlier = hook.find_keyed_commit(repository, branch, key)
    if earlier is not None:
        log.info("an earlier try reverted already (%s): not again", earlier.id)
        return str(earlier.id)
    commits = [hook.resolve_commit(repository, ref) for ref in refs]
    for ref, commit in zip(refs, commits, strict=True):
        log.info("reverting %s (%s: %s)", ref, commit.id, commit.message)
    if len(commits) == 1:
        return hook.revert(
            repository,
            branch,
            commits[0],
            parent_number=parent_number,
            message=message or f"Revert {refs[0]} ({commits[0].id[:12]})",
            metadata=metadata,
        )
    return _revert_many(hook, repository, branch, commits, parent_number, message, metadata)


def _revert_many(
    hook: LakeverHook,
    repository: str,
    branch: str,
    commits: list[Commit],
    parent_number: int,
    message: str | None,
    metadata: dict[str, str],
) -> str:
    scratch = f"{branch}-revert-{metadata[IDEMPOTENCY_KEY][:12]}"[:64]
    hook.delete_branch(repository, scratch)  # the leftover of an interrupted try
    hook.create_branch(repository, scratch, branch)
    try:
        for commit in commits:
            step = {k: v for k, v in metadata.items() if k != IDEMPOTENCY_KEY}
            hook.revert(
                repository,
                scratch,
                commit,
                parent_number=parent_number,
                message=f"Revert {commit.id[:12]}: {commit.message}",
                metadata=step,
            )
        ids = ", ".join(c.id[:12] for c in commits)
        return hook.merge(
            repository,
            scratch,
            branch,
            message=message or f"Revert {ids}",
            metadata=metadata,
        )
    finally:
        hook.delete_branch(repository, scratch)


class RollbackOperator(LakeverBaseOperator):
    """The rollback step of a branch-per-run group (runs when an upstream task failed).

    When the run's merge reached the destination, the merge commit is reverted there;
    otherwise the destination is unchanged and nothing is reverted. The run branch is then
    kept for troubleshooting or left to the teardown to delete, as configured.

    :param repository: the repository id (templated).
    :param destination_branch: the branch the run merges into (templated).
    :param run_branch: the run's branch (templated).
    :param merge_task_id: the task whose XCom is the merge commit id.
    :param keep_branch: keep the run branch of a failed run for troubleshooting.
    :param lakever_conn_id: the Airflow connection to the server (templated).
    :return: (XCom) ``{"reverted": <commit id or None>, "keep_branch": bool,
        "run_branch": str, "destination_head": str}``.
    """

    template_fields: Sequence[str] = (
        *LakeverBaseOperator.template_fields,
        "destination_branch",
        "run_branch",
    )
    operator_extra_links = (LakeverBranchLink(), LakeverCommitLink())
    ui_color = "#f2d9d9"

    def __init__(
        self,
        *,
        destination_branch: str,
        run_branch: str,
        merge_task_id: str | None = None,
        keep_branch: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.destination_branch = destination_branch
        self.run_branch = run_branch
        self.merge_task_id = merge_task_id
        self.keep_branch = keep_branch

    def execute(self, context: Context) -> dict[str, Any]:
        merged = None
        if self.merge_task_id:
            merged = context["ti"].xcom_pull(task_ids=self.merge_task_id)
        reverted = None
        if merged:
            self.log.info(
                "the run merged %s into %s: reverting it", merged, self.destination_branch
            )
            reverted = revert_atomically(
                self.hook,
                self.repository,
                self.destination_branch,
                [str(merged)],
                parent_number=1,
                message=f"Roll back {merged[:12]} (run {context['ti'].run_id})",
                metadata=stamped(None, task_stamp(context, "rollback")),
            )
        else:
            self.log.info("nothing reached %s: it is unchanged", self.destination_branch)
        head = self.hook.resolve_commit(self.repository, self.destination_branch).id
        if self.keep_branch:
            self.log.info(
                "keeping run branch %s for troubleshooting; its commits show what the run wrote",
                self.run_branch,
            )
        self.remember_links(branch=self.run_branch, commit_id=reverted or head)
        return {
            "reverted": reverted,
            "keep_branch": self.keep_branch,
            "run_branch": self.run_branch,
            "destination_head": head,
        }
