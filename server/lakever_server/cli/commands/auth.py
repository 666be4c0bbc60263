"""``lakever auth whoami`` and ``lakever auth credentials create|list|delete``."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from lakever_server.cli.commands.common import YesOption, confirm
from lakever_server.cli.output import emit_message, emit_record, emit_rows, format_time, model_dict
from lakever_server.cli.paging import paginate
from lakever_server.cli.state import OutputOption, state_of

app = typer.Typer(help="Who you are, and your access keys.", no_args_is_help=True)
credentials_app = typer.Typer(help="Create, list and delete access keys.", no_args_is_help=True)
app.add_typer(credentials_app, name="credentials")

UserOption = Annotated[
    str | None, typer.Option("--user", "-u", help="User id (default: the current user).")
]


def _user_id(ctx: typer.Context, user: str | None) -> str:
    if user:
        return user
    current: str = state_of(ctx).client.auth.get_current_user().user.id
    return current


@app.command("whoami")
def whoami(ctx: typer.Context, output: OutputOption = None) -> None:
    """Show the user the configured credentials belong to."""
    state = state_of(ctx)
    fmt = state.fmt(output)
    user = state.client.auth.get_current_user().user
    row: dict[str, Any] = model_dict(user)
    row["created"] = format_time(user.creation_date)
    emit_record(row, fmt, keys=("id", "email", "created"))


@credentials_app.command("create")
def create(ctx: typer.Context, user: UserOption = None, output: OutputOption = None) -> None:
    """Create an access key; its secret is shown this one time only."""
    state = state_of(ctx)
    fmt = state.fmt(output)
    created = state.client.auth.create_credentials(_user_id(ctx, user))
    row: dict[str, Any] = model_dict(created)
    row["created"] = format_time(created.creation_date)
    emit_record(row, fmt, keys=("access_key_id", "secret_access_key", "created"))


@credentials_app.command("list")
def list_(ctx: typer.Context, user: UserOption = None, output: OutputOption = None) -> None:
    """List access keys (never their secrets)."""
    state = state_of(ctx)
    fmt = state.fmt(output)
    user_id = _user_id(ctx, user)
    api = state.client.auth
    items = paginate(lambda after: api.list_user_credentials(user_id, after=after, amount=1000))
    rows = [
        {"access_key_id": c.access_key_id, "created": format_time(c.creation_date)} for c in items
    ]
    emit_rows(rows, ("access_key_id", "created"), fmt)


@credentials_app.command("delete")
def delete(
    ctx: typer.Context,
    access_key_id: Annotated[str, typer.Argument(help="The access key to delete.")],
    user: UserOption = None,
    yes: YesOption = False,
    output: OutputOption = None,
) -> None:
    """Delete an access key; clients using it stop working."""
    state = state_of(ctx)
    fmt = state.fmt(output)
    user_id = _user_id(ctx, user)
    confirm(f"Delete access key {access_key_id} of {user_id}?", yes)
    state.client.auth.delete_credentials(user_id, access_key_id)
    emit_message(f"Access key {access_key_id} deleted", fmt, access_key_id=access_key_id)
