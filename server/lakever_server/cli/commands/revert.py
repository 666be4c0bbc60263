"""``lakever branch revert`` / ``lakever revert``: undo commits that landed bad data.

Several commits are reverted **atomically**: the reverts are made on a hidden branch
cut from the target's head, and that branch is merged into the target in one step, so
readers see either none or all of the reverts, never a half-repaired branch. A conflict
(the target moved on those paths meanwhile) leaves the target untouched. ``--no-atomic``
reverts directly on the target, one commit at a time, as lakectl does.

Refs are resolved to commit ids before anything changes, so ``main main~1`` means the
two newest commits of ``main`` as it was when the command started.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Annotated, Any

import typer

from lakever_server.cli.commands.common import YesOption, confirm, default_repository
from lakever_server.cli.completion import complete_uri
from lakever_server.cli.errors import CliError, UsageError, from_exception
from lakever_server.cli.output import OutputFormat, emit_message, emit_record
from lakever_server.cli.state import OutputOption, state_of
from lakever_server.cli.uri import parse_ref

if TYPE_CHECKING:
    from lakever_server.cli.client import LakeClient

BranchArg = Annotated[
    str,
    typer.Argument(
        help="lakefs://<repository>/<branch>", metavar="BRANCH_URI", autocompletion=complete_uri
    ),
]
CommitsArg = Annotated[
    list[str], typer.Argument(help="Commits (ids or refs such as main~1) to revert, in order.")
]
ParentOption = Annotated[
    int | None,
    typer.Option(
        "--parent-number", "-m", min=1, help="For a merge commit: the parent to diff against."
    ),
]
AllowEmptyOption = Annotated[
    bool, typer.Option("--allow-empty", help="Commit even when the revert changes nothing.")
]
AtomicOption = Annotated[
    bool,
    typer.Option(
        "--atomic/--no-atomic",
        help="Several commits: land all reverts in one merge (default), or one by one.",
    ),
]


def _revert_on(
    client: LakeClient,
    repository: str,
    branch: str,
    commit_ids: list[str],
    parent_number: int | None,
    allow_empty: bool,
) -> None:
    from lakefs_sdk.models.revert_creation import RevertCreation

    for commit_id in commit_ids:
        creation = RevertCreation.from_dict(
            {"ref": commit_id, "parent_number": parent_number or 0, "allow_empty": allow_empty}
        )
        try:
            client.branches.revert_branch(repository, branch, creation)
        except Exception as exc:
            error = from_exception(exc)
            raise CliError(
                f"revert {commit_id[:12]}: {error.message}",
                error.exit_code,
                status=error.status,
                conflicts=error.conflicts,
            ) from exc


def _revert_atomically(
    client: LakeClient,
    repository: str,
    branch: str,
    commit_ids: list[str],
    parent_number: int | None,
    allow_empty: bool,
) -> None:
    from lakefs_sdk.models.branch_creation import BranchCreation
    from lakefs_sdk.models.merge import Merge

    head = client.branches.get_branch(repository, branch).commit_id
    staging = f"lakever-revert-{uuid.uuid4().hex[:12]}"
    creation = BranchCreation.from_dict({"name": staging, "source": head, "hidden": True})
    client.branches.create_branch(repository, creation)
    try:
        _revert_on(client, repository, staging, commit_ids, parent_number, allow_empty)
        short = ", ".join(c[:12] for c in commit_ids)
        body = Merge.from_dict(
            {
                "message": f"Revert {len(commit_ids)} commits: {short}",
                "metadata": {"lakever.reverted": ",".join(commit_ids)},
            }
        )
        client.refs.merge_into_branch(repository, staging, branch, merge=body)
    finally:
        client.branches.delete_branch(repository, staging)


def revert_commits(
    ctx: typer.Context,
    uri: str,
    commits: list[str],
    *,
    parent_number: int | None,
    allow_empty: bool,
    atomic: bool,
    yes: bool,
    output: OutputFormat | None,
) -> None:
    """Revert ``commits`` on a branch in the order given (see the module docstring)."""
    state = state_of(ctx)
    fmt = state.fmt(output)
    target = parse_ref(uri, default_repository=default_repository(state), what="branch")
    repository, branch = target.repository, target.ref_or_fail
    if not commits:
        raise UsageError("give at least one commit to revert")
    refs = [parse_ref(c, default_repository=repository, what="commit") for c in commits]
    if any(r.repository != repository for r in refs):
        raise UsageError("commits to revert must be in the branch's repository")
    client = state.client
    commit_ids = [client.commits.get_commit(repository, r.ref_or_fail).id for r in refs]
    confirm(f"Revert {len(commit_ids)} commit(s) on {branch}?", yes)
    all_at_once = atomic and len(commit_ids) > 1
    if all_at_once:
        _revert_atomically(client, repository, branch, commit_ids, parent_number, allow_empty)
    else:
        _revert_on(client, repository, branch, commit_ids, parent_number, allow_empty)
    head = client.branches.get_branch(repository, branch).commit_id
    result: dict[str, Any] = {
        "branch": branch,
        "reverted": commit_ids,
        "commit_id": head,
        "atomic": all_at_once or len(commit_ids) == 1,
    }
    if fmt is OutputFormat.JSON:
        emit_record(result, fmt)
        return
    listed = ", ".join(c[:12] for c in commit_ids)
    emit_message(f"Reverted {listed} on {branch}: head is now {head}", fmt)


def revert(
    ctx: typer.Context,
    uri: BranchArg,
    commits: CommitsArg,
    parent_number: ParentOption = None,
    allow_empty: AllowEmptyOption = False,
    atomic: AtomicOption = True,
    yes: YesOption = False,
    output: OutputOption = None,
) -> None:
    """Revert one or more commits on a branch: `branch revert lakefs://repo/main a1 b2`."""
    revert_commits(
        ctx,
        uri,
        commits,
        parent_number=parent_number,
        allow_empty=allow_empty,
        atomic=atomic,
        yes=yes,
        output=output,
    )
