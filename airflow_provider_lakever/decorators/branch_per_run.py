"""Branch-per-run as a one-liner: a task group that isolates a DAG run on its own branch.

The group wires, each as a visible task::

    create_branch (setup) -> <your tasks> -> commit -> <your checks> -> merge
                                  \\_______________________________/
                                   one failed (a refused merge too) -> rollback
    delete_branch (teardown, after merge and rollback)

A DAG author writes only the data tasks and the checks. Each receives the run branch's
name (an ``XComArg``; the checks also get the commit id). ``main`` changes only through
the merge, which runs only when every check passed. When anything fails, ``rollback``
runs: nothing reached the destination, so nothing is reverted unless ``after_merge`` tasks
failed after the merge, in which case the merge is reverted. The failed run's branch is
kept for troubleshooting (``keep_branch_on_failure``) or deleted by the teardown.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any

from airflow.sdk import TaskGroup, TriggerRule

from airflow_provider_lakever.hooks.lakever import LakeverHook
from airflow_provider_lakever.operators.branch import CreateBranchOperator, DeleteBranchOperator
from airflow_provider_lakever.operators.commit import DEFAULT_COMMIT_MESSAGE, CommitOperator
from airflow_provider_lakever.operators.merge import MergeOperator
from airflow_provider_lakever.operators.revert import RollbackOperator

Builder = Callable[..., Any]


def _build(group: TaskGroup, builder: Builder | None, *args: Any) -> list[Any]:
    """Call ``builder`` inside ``group``; return the operators it created."""
    if builder is None:
        return []
    dag = group.dag
    if dag is None:
        raise ValueError("branch_per_run needs to be used inside a DAG")
    before = set(dag.task_dict)
    builder(*args)
    return [task for task_id, task in dag.task_dict.items() if task_id not in before]


def _roots(tasks: list[Any]) -> list[Any]:
    ids = {t.task_id for t in tasks}
    return [t for t in tasks if not (t.upstream_task_ids & ids)]


def _leaves(tasks: list[Any]) -> list[Any]:
    ids = {t.task_id for t in tasks}
    return [t for t in tasks if not (t.downstream_task_ids & ids)]


def branch_per_run(
    *,
    repository: str,
    work: Builder,
    checks: Builder | None = None,
    after_merge: Builder | None = None,
    group_id: str = "branch_per_run",
    source_branch: str = "main",
    lakever_conn_id: str = LakeverHook.default_conn_name,
    branch_prefix: str = "run",
    commit_message: str = DEFAULT_COMMIT_MESSAGE,
    commit_metadata: dict[str, str] | None = None,
    merge_strategy: str | None = None,
    squash: bool = False,
    publishes: Sequence[str] = (),
    keep_branch_on_failure: bool = True,
) -> TaskGroup:
    """Build the branch-per-run task group in the current DAG.

    :param repository: the repository id.
    :param work: ``work(branch)`` creates the data tasks; ``branch`` is the run branch's
        name (an ``XComArg``) and wires the dependency on ``create_branch`` by itself.
    :param checks: ``checks(branch, commit_id)`` creates the quality checks that gate the
        merge; a check fails by raising.
    :param after_merge: ``after_merge(merge_commit_id)`` creates tasks that run after the
        merge; when one fails, ``rollback`` reverts the merge on the destination.
    :param group_id: the task group's id.
    :param source_branch: the branch the run starts from and merges into.
    :param lakever_conn_id: the Airflow connection to the server.
    :param branch_prefix: the first word of the run branch's name.
    :param commit_message: the message of the run's commit (templated).
    :param commit_metadata: extra metadata of the run's commit.
    :param merge_strategy: ``None``, ``"source-wins"`` or ``"dest-wins"``.
    :param squash: squash the run's commits into one merge commit.
    :param publishes: paths or prefixes the merge publishes; each becomes an outlet asset
        ``lakefs://<repository>/<source_branch>/<path>``.
    :param keep_branch_on_failure: keep a failed run's branch for troubleshooting.
    :return: the task group.
    """
    common: dict[str, Any] = {"repository": repository, "lakever_conn_id": lakever_conn_id}
    with TaskGroup(group_id=group_id) as group:
        create = CreateBranchOperator(
            task_id="create_branch", source=source_branch, branch_prefix=branch_prefix, **common
        )
        branch: Any = create.output  # an XComArg: rendered to the name at run time
        work_tasks = _build(group, work, branch)
        commit = CommitOperator(
            task_id="commit",
            branch=branch,
            message=commit_message,
            metadata=commit_metadata,
            **common,
        )
        check_tasks = _build(group, checks, branch, commit.output)
        merge = MergeOperator(
            task_id="merge",
            source_ref=branch,
            destination_branch=source_branch,
            strategy=merge_strategy,
            squash=squash,
            publishes=publishes,
            **common,
        )
        after_tasks = _build(group, after_merge, merge.output)
        rollback = RollbackOperator(
            task_id="rollback",
            destination_branch=source_branch,
            # A template, not the XComArg: an XComArg would make the rollback a direct
            # downstream of the setup, which Airflow allows only with ALL_SUCCESS.
            run_branch=f"{{{{ ti.xcom_pull(task_ids='{create.task_id}') }}}}",
            merge_task_id=merge.task_id if after_tasks else None,
            keep_branch=keep_branch_on_failure,
            trigger_rule=TriggerRule.ONE_FAILED,
            **common,
        )
        delete = DeleteBranchOperator(
            task_id="delete_branch",
            branch=branch,
            keep_if_requested_by=rollback.task_id,
            **common,
        )

        for root in _roots(work_tasks):
            create >> root
        for leaf in _leaves(work_tasks) or [create]:
            leaf >> commit
        for root in _roots(check_tasks):
            commit >> root
        for leaf in _leaves(check_tasks) or [commit]:
            leaf >> merge
        for root in _roots(after_tasks):
            merge >> root
        # The merge is always under the rollback: a merge refused (a conflict) is a failed
        # run whose branch is kept for troubleshooting like any other. The rollback reverts
        # a merge only when tasks run after it (``merge_task_id``); a refused merge wrote
        # nothing to the destination.
        guarded = [*work_tasks, commit, *check_tasks, merge, *after_tasks]
        for task in guarded:
            task >> rollback
        [merge, rollback, *_leaves(after_tasks)] >> delete
        delete.as_teardown(setups=create)
        # The rollback is a teardown too, keeping its ONE_FAILED rule: Airflow then leaves it
        # out of the run's outcome, so a run whose check or export failed ends "failed" even
        # though its rollback succeeded.
        rollback.is_teardown = True
    return group


def branch_per_run_group(**options: Any) -> Callable[[Builder], Callable[..., TaskGroup]]:
    """Decorator form of :func:`branch_per_run`: the decorated function is ``work``.

    .. code-block:: python

        @branch_per_run_group(repository="lake", checks=row_count_checks)
        def ingest(branch):
            load_events(branch)

        ingest()

    :param options: the keyword arguments of :func:`branch_per_run` but ``work``;
        ``group_id`` defaults to the function's name.
    """

    def decorator(function: Builder) -> Callable[..., TaskGroup]:
        @functools.wraps(function)
        def build(**overrides: Any) -> TaskGroup:
            settings = {"group_id": function.__name__, **options, **overrides}
            return branch_per_run(work=function, **settings)

        return build

    return decorator
