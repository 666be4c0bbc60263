"""The run branches of the example DAGs: the name a create task made, and its teardown.

A ``CreateBranchOperator`` returns the name of the branch it made (unique per run); later
tasks read it from XCom. The branch is deleted by a teardown, which runs once the work is
done whatever its outcome, so a failed run never leaves its branch behind by accident.
"""

from __future__ import annotations

from typing import Any

from airflow_provider_lakever.operators.branch import CreateBranchOperator, DeleteBranchOperator


def created_branch(create_task_id: str) -> str:
    """The branch the ``CreateBranchOperator`` task ``create_task_id`` made, as a template.

    :param create_task_id: the task id of the create task.
    """
    return f"{{{{ ti.xcom_pull(task_ids='{create_task_id}') }}}}"


def delete_when_done(
    create: CreateBranchOperator, *, after: Any, task_id: str, **kwargs: Any
) -> DeleteBranchOperator:
    """A teardown deleting the branch ``create`` made, once ``after`` ran.

    :param create: the setup task that made the branch.
    :param after: the task (or list of tasks) whose end the branch must outlive.
    :param task_id: the teardown's task id.
    :param kwargs: more ``DeleteBranchOperator`` arguments, e.g. ``keep_if_requested_by``.
    """
    cleanup = DeleteBranchOperator(
        task_id=task_id,
        repository=create.repository,
        branch=created_branch(create.task_id),
        **kwargs,
    )
    after >> cleanup.as_teardown(setups=create)
    return cleanup
