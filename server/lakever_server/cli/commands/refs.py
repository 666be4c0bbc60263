"""``lakever diff``, ``lakever merge`` and ``lakever cherry-pick``.

Users told us they could not see what a merge conflict looks like, so a conflicting
merge lists every conflicting path: from the server's 409 body when it carries them
(lakever does), otherwise computed here from the two sides' diffs against the merge
base (a plain lakeFS server only says "conflict found").
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from typing import TYPE_CHECKING, Annotated, Any

import typer

from lakever_server.cli.commands.common import (
    MetaOption,
    commit_row,
    default_repository,
    parse_meta,
)
from lakever_server.cli.completion import complete_uri
from lakever_server.cli.errors import ConflictEntry, UsageError, from_api_exception
from lakever_server.cli.output import OutputFormat, emit_message, emit_rows, format_size
from lakever_server.cli.paging import paginate
from lakever_server.cli.state import OutputOption, state_of
from lakever_server.cli.uri import parse_ref, parse_refs

if TYPE_CHECKING:
    from lakever_server.cli.client import LakeClient

DIFF_SYMBOLS = {
    "added": "+",
    "removed": "-",
    "changed": "~",
    "conflict": "!",
    "prefix_changed": "~",
}


def iter_diff(
    client: LakeClient, repository: str, left: str, right: str, *, prefix: str | None, two_dot: bool
) -> Iterator[Any]:
    api = client.refs
    return paginate(
        lambda after: api.diff_refs(
            repository,
            left,
            right,
            after=after,
            amount=1000,
            prefix=prefix,
            type="two_dot" if two_dot else "three_dot",
        )
    )


def _diff_row(item: Any) -> dict[str, Any]:
    return {
        "type": item.type,
        "path": item.path,
        "path_type": item.path_type,
        "size_bytes": item.size_bytes,
    }


def diff(
    ctx: typer.Context,
    left: Annotated[
        str,
        typer.Argument(
            help="lakefs://<repository>/<ref>; alone: its uncommitted changes.",
            autocompletion=complete_uri,
        ),
    ],
    right: Annotated[
        str | None, typer.Argument(help="Ref to compare with (URI or bare name).")
    ] = None,
    two_way: Annotated[
        bool,
        typer.Option("--two-way", help="Compare the refs directly, not from their merge base."),
    ] = False,
    prefix: Annotated[str | None, typer.Option("--prefix", help="Only paths under this.")] = None,
    output: OutputOption = None,
) -> None:
    """Show what changed between two refs, or a branch's uncommitted changes."""
    state = state_of(ctx)
    fmt = state.fmt(output)
    if right is None:
        branch = parse_ref(left, default_repository=default_repository(state), what="branch")
        api = state.client.branches
        items = paginate(
            lambda after: api.diff_branch(
                branch.repository, branch.ref_or_fail, after=after, amount=1000, prefix=prefix
            )
        )
    else:
        left_uri, right_uri = parse_refs(
            [left, right], default_repository=default_repository(state)
        )
        items = iter_diff(
            state.client,
            left_uri.repository,
            left_uri.ref_or_fail,
            right_uri.ref_or_fail,
            prefix=prefix,
            two_dot=two_way,
        )
    rows = [_diff_row(i) for i in items]
    if fmt is OutputFormat.JSON:
        emit_rows(rows, (), fmt)
        return
    if not rows:
        sys.stderr.write("No changes\n")
        return
    for row in rows:
        size = f"  ({format_size(row['size_bytes'])})" if row["size_bytes"] is not None else ""
        sys.stdout.write(
            f"{DIFF_SYMBOLS.get(row['type'], '?')} {row['type']:<8} {row['path']}{size}\n"
        )


def find_conflicts(
    client: LakeClient, repository: str, source: str, destination: str
) -> list[ConflictEntry]:
    """Paths changed on both sides since the merge base, to different content."""
    base = client.refs.find_merge_base(repository, source, destination)

    def changes(ref: str) -> dict[str, str]:
        return {
            d.path: d.type
            for d in iter_diff(
                client, repository, base.base_commit_id, ref, prefix=None, two_dot=True
            )
            if d.path_type == "object"
        }

    ours, theirs = changes(destination), changes(source)
    conflicts: list[ConflictEntry] = []
    for path in sorted(ours.keys() & theirs.keys()):
        if ours[path] == theirs[path] == "removed":
            continue
        if "removed" not in (ours[path], theirs[path]) and _same_content(
            client, repository, path, source, destination
        ):
            continue
        reason = f"{theirs[path]} on source, {ours[path]} on destination"
        conflicts.append(ConflictEntry(path, reason))
    return conflicts


def _same_content(client: LakeClient, repository: str, path: str, left: str, right: str) -> bool:
    stats = [client.objects.stat_object(repository, ref, path) for ref in (left, right)]
    return bool(stats[0].checksum == stats[1].checksum)


def merge(
    ctx: typer.Context,
    source: Annotated[
        str,
        typer.Argument(
            help="Ref to merge: lakefs://repo/my-branch or my-branch.", autocompletion=complete_uri
        ),
    ],
    destination: Annotated[
        str,
        typer.Argument(
            help="Branch to merge into: lakefs://repo/main or main.", autocompletion=complete_uri
        ),
    ],
    strategy: Annotated[
        str | None,
        typer.Option("--strategy", help="On conflict, favour one side: dest-wins or source-wins."),
    ] = None,
    squash: Annotated[bool, typer.Option("--squash", help="One commit with one parent.")] = False,
    message: Annotated[
        str | None, typer.Option("--message", "-m", help="Merge commit message.")
    ] = None,
    meta: MetaOption = None,
    allow_empty: Annotated[
        bool, typer.Option("--allow-empty", help="Merge even when nothing changes.")
    ] = False,
    force: Annotated[bool, typer.Option("--force", help="Merge into a read-only branch.")] = False,
    output: OutputOption = None,
) -> None:
    """Merge a ref into a branch; a conflict lists every conflicting path (exit code 4)."""
    state = state_of(ctx)
    fmt = state.fmt(output)
    if strategy not in (None, "dest-wins", "source-wins"):
        raise UsageError(f"invalid --strategy {strategy!r}: expected dest-wins or source-wins")
    src, dst = parse_refs([source, destination], default_repository=default_repository(state))
    from lakefs_sdk.models.merge import Merge

    body = Merge.from_dict(
        {
            "message": message,
            "metadata": parse_meta(meta) or None,
            "strategy": strategy,
            "squash_merge": squash,
            "allow_empty": allow_empty,
            "force": force,
        }
    )
    client = state.client
    from lakefs_sdk.exceptions import ApiException

    try:
        result = client.refs.merge_into_branch(
            dst.repository, src.ref_or_fail, dst.ref_or_fail, merge=body
        )
    except ApiException as exc:
        error = from_api_exception(exc, context=f"merge {src.ref} into {dst.ref}")
        if exc.status == 409 and not error.conflicts:
            conflicts = find_conflicts(client, dst.repository, src.ref_or_fail, dst.ref_or_fail)
            error = error.with_conflicts(conflicts)
        raise error from exc
    emit_message(
        f"Merged {src.ref} into {dst.ref}: {result.reference}",
        fmt,
        repository=dst.repository,
        source=src.ref,
        destination=dst.ref,
        reference=result.reference,
    )


def cherry_pick(
    ctx: typer.Context,
    commit: Annotated[
        str,
        typer.Argument(
            help="Commit to apply: lakefs://repo/<id> or an id.", autocompletion=complete_uri
        ),
    ],
    branch: Annotated[
        str,
        typer.Argument(
            help="Branch to apply it on: lakefs://repo/main or main.", autocompletion=complete_uri
        ),
    ],
    parent_number: Annotated[
        int | None,
        typer.Option(
            "--parent-number", "-m", min=1, help="For a merge commit: its parent to diff with."
        ),
    ] = None,
    output: OutputOption = None,
) -> None:
    """Apply the changes of one commit on a branch, as a new commit."""
    state = state_of(ctx)
    fmt = state.fmt(output)
    picked, target = parse_refs([commit, branch], default_repository=default_repository(state))
    from lakefs_sdk.models.cherry_pick_creation import CherryPickCreation

    creation = CherryPickCreation.from_dict(
        {"ref": picked.ref_or_fail, "parent_number": parent_number}
    )
    created = state.client.branches.cherry_pick(target.repository, target.ref_or_fail, creation)
    row = commit_row(created)
    emit_message(
        f"Cherry-picked {picked.ref} onto {target.ref}: new commit {created.id}",
        fmt,
        commit=row,
    )
