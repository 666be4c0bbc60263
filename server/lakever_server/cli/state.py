"""Per-invocation state: global options, the resolved configuration and the client.

The root callback stores a :class:`CliState` in ``ctx.obj``; commands fetch it with
:func:`state_of`. The client is built on first use, so ``--help`` and local-only
commands never need a configuration.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated

import typer

from lakever_server.cli.config import ClientConfig, resolve
from lakever_server.cli.output import OutputFormat

if TYPE_CHECKING:
    from lakever_server.cli.client import LakeClient

# The format errors are reported in; set as soon as a command knows its --output.
error_format: ContextVar[OutputFormat] = ContextVar("error_format", default=OutputFormat.TABLE)

OutputOption = Annotated[
    OutputFormat | None,
    typer.Option("--output", "-o", help="Output format: table for people, json for scripts."),
]


@dataclass
class CliState:
    """Global options of one invocation (set by the root callback)."""

    flags: Mapping[str, str | None] = field(default_factory=dict)
    config_file: str | None = None
    output: OutputFormat | None = None
    repository: str | None = None
    parallelism: int = 8
    env: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))
    _config: ClientConfig | None = None
    _client: LakeClient | None = None

    @property
    def config(self) -> ClientConfig:
        if self._config is None:
            self._config = resolve(self.flags, self.env, self.config_file)
        return self._config

    @property
    def client(self) -> LakeClient:
        if self._client is None:
            # The SDK takes most of the start-up time: load it only for commands that
            # talk to the server (not for --help, completion or usage errors).
            from lakever_server.cli.client import LakeClient

            self._client = LakeClient(self.config, pool_size=max(4, self.parallelism * 2))
        return self._client

    @property
    def secrets(self) -> tuple[str, ...]:
        """Every secret this invocation knows, to mask in anything it prints."""
        known = self._config.secrets if self._config is not None else ()
        return known + tuple(v for k, v in self.flags.items() if "secret" in k and v)

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    def fmt(self, override: OutputFormat | None) -> OutputFormat:
        """The output format: the command's ``--output``, else the global one."""
        chosen = override or self.output or OutputFormat.TABLE
        error_format.set(chosen)
        return chosen


def state_of(ctx: typer.Context) -> CliState:
    """The state stored by the root callback (a fresh one when a command runs alone)."""
    root = ctx.find_root()
    if not isinstance(root.obj, CliState):
        root.obj = CliState()
    return root.obj
