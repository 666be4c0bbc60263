"""``lakever tag create|list|show|delete``."""

from __future__ import annotations

from typing import Annotated

import typer

from lakever_server.cli.commands.common import (
    AmountOption,
    PrefixOption,
    RepositoryArg,
    YesOption,
    confirm,
    default_repository,
    list_refs,
)
from lakever_server.cli.completion import complete_uri
from lakever_server.cli.output import emit_message, emit_record, model_dict
from lakever_server.cli.state import OutputOption, state_of
from lakever_server.cli.uri import parse_ref, parse_refs

app = typer.Typer(help="Create, list, show and delete tags.", no_args_is_help=True)

TagArg = Annotated[
    str,
    typer.Argument(
        help="lakefs://<repository>/<tag>", metavar="TAG_URI", autocompletion=complete_uri
    ),
]


@app.command("create")
def create(
    ctx: typer.Context,
    uri: TagArg,
    commit: Annotated[
        str,
        typer.Argument(
            help="Commit or ref to tag: lakefs://repo/main or an id.", autocompletion=complete_uri
        ),
    ],
    output: OutputOption = None,
) -> None:
    """Tag a commit."""
    state = state_of(ctx)
    fmt = state.fmt(output)
    tag_uri, target = parse_refs([uri, commit], default_repository=default_repository(state))
    from lakefs_sdk.models.tag_creation import TagCreation

    creation = TagCreation.from_dict({"id": tag_uri.ref_or_fail, "ref": target.ref_or_fail})
    ref = state.client.tags.create_tag(tag_uri.repository, creation)
    emit_message(
        f"Tag {ref.id} created at {ref.commit_id}",
        fmt,
        repository=tag_uri.repository,
        tag=ref.id,
        commit_id=ref.commit_id,
    )


@app.command("list")
def list_(
    ctx: typer.Context,
    uri: RepositoryArg,
    prefix: PrefixOption = None,
    amount: AmountOption = None,
    output: OutputOption = None,
) -> None:
    """List the tags of a repository."""
    list_refs(ctx, uri, lambda c: c.tags.list_tags, prefix=prefix, amount=amount, output=output)


@app.command("show")
def show(ctx: typer.Context, uri: TagArg, output: OutputOption = None) -> None:
    """Show the commit a tag points at."""
    state = state_of(ctx)
    fmt = state.fmt(output)
    tag = parse_ref(uri, default_repository=default_repository(state), what="tag")
    ref = state.client.tags.get_tag(tag.repository, tag.ref_or_fail)
    emit_record(model_dict(ref), fmt)


@app.command("delete")
def delete(
    ctx: typer.Context, uri: TagArg, yes: YesOption = False, output: OutputOption = None
) -> None:
    """Delete a tag (the commit stays)."""
    state = state_of(ctx)
    fmt = state.fmt(output)
    tag = parse_ref(uri, default_repository=default_repository(state), what="tag")
    confirm(f"Delete tag {tag.ref} of {tag.repository}?", yes)
    state.client.tags.delete_tag(tag.repository, tag.ref_or_fail)
    emit_message(f"Tag {tag.ref} deleted", fmt, repository=tag.repository, tag=tag.ref)
