"""The commit operator: record a branch's staged changes, stamped with the task's identity."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from airflow_provider_lakever.links.lakever import LakeverBranchLink, LakeverCommitLink
from airflow_provider_lakever.operators.base import LakeverBaseOperator
from airflow_provider_lakever.utils.stamps import IDEMPOTENCY_KEY, stamped, task_stamp

if TYPE_CHECKING:
    from airflow.sdk import Context

DEFAULT_COMMIT_MESSAGE = "{{ ti.dag_id }}: {{ ti.task_id }} in {{ run_id }}"


class CommitOperator(LakeverBaseOperator):
    """Commit the staged changes of a branch.

    The commit's metadata carries the DAG id, run id, task id, try number, map index,
    logical date and the task's URL in the Airflow UI, next to ``metadata``.

    Idempotent on retry: when an earlier try of this task instance committed already and
    nothing was staged since, that commit is returned instead of recording a second one.

    :param repository: the repository id (templated).
    :param branch: the branch to commit on, e.g. the run branch's XCom (templated).
    :param message: the commit message (templated).
    :param metadata: extra metadata, string keys and values (templated).
    :param allow_empty: commit even when nothing is staged.
    :param lakever_conn_id: the Airflow connection to the server (templated).
    :return: (XCom) the commit id.
    """

    template_fields: Sequence[str] = (
        *LakeverBaseOperator.template_fields,
        "branch",
        "message",
        "metadata",
    )
    template_fields_renderers = {"metadata": "json"}
    operator_extra_links = (LakeverCommitLink(), LakeverBranchLink())

    def __init__(
        self,
        *,
        branch: str,
        message: str = DEFAULT_COMMIT_MESSAGE,
        metadata: dict[str, str] | None = None,
        allow_empty: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.branch = branch
        self.message = message
        self.metadata = metadata
        self.allow_empty = allow_empty

    def execute(self, context: Context) -> str:
        metadata = stamped(self.metadata, task_stamp(context, "commit"))
        key = metadata[IDEMPOTENCY_KEY]
        earlier = self.hook.find_keyed_commit(self.repository, self.branch, key)
        if earlier is not None and not self.hook.has_uncommitted_changes(
            self.repository, self.branch
        ):
            self.log.info(
                "an earlier try committed %s on %s and nothing was staged since: reusing it",
                earlier.id,
                self.branch,
            )
            commit_id = earlier.id
        else:
            commit = self.hook.commit(
                self.repository,
                self.branch,
                message=self.message,
                metadata=metadata,
                allow_empty=self.allow_empty,
            )
            commit_id = commit.id
            self.log.info("committed %s on %s", commit_id, self.branch)
        self.remember_links(commit_id=commit_id, branch=self.branch)
        return commit_id
