"""Shell completion of ``lakefs://`` URIs: repositories, then refs, then object paths.

Completion runs the program on every TAB, before the root callback, so this module
resolves the configuration itself from the flags already typed, the environment and the
config file. A completion never fails loudly: any error completes nothing.
"""

from __future__ import annotations

import os
from typing import Any

import typer

from lakever_server.cli.config import resolve
from lakever_server.cli.uri import SCHEME

LIMIT = 100
TIMEOUT_S = 3.0


def _client(ctx: typer.Context) -> Any:
    from lakever_server.cli.client import LakeClient

    params = ctx.find_root().params
    flags = {
        "server.endpoint_url": params.get("endpoint"),
        "credentials.access_key_id": params.get("access_key_id"),
        "credentials.secret_access_key": params.get("secret_access_key"),
    }
    return LakeClient(resolve(flags, dict(os.environ), params.get("config")), pool_size=1)


def candidates(client: Any, incomplete: str) -> list[str]:
    """URIs extending ``incomplete`` by one level, from the server's listings."""
    rest = incomplete[len(SCHEME) :]
    if "/" not in rest:
        repos = client.repositories.list_repositories(
            prefix=rest, amount=LIMIT, _request_timeout=TIMEOUT_S
        )
        return [f"{SCHEME}{r.id}/" for r in repos.results]
    repository, _, rest = rest.partition("/")
    if "/" not in rest:
        found = [
            ref.id
            for api in (client.branches.list_branches, client.tags.list_tags)
            for ref in api(
                repository, prefix=rest, amount=LIMIT, _request_timeout=TIMEOUT_S
            ).results
        ]
        return [f"{SCHEME}{repository}/{ref}/" for ref in found]
    ref, _, path = rest.partition("/")
    listing = client.objects.list_objects(
        repository, ref, prefix=path, delimiter="/", amount=LIMIT, _request_timeout=TIMEOUT_S
    )
    return [f"{SCHEME}{repository}/{ref}/{item.path}" for item in listing.results]


def complete_uri(ctx: typer.Context, incomplete: str) -> list[str]:
    """Typer ``autocompletion`` callback for every ``lakefs://`` argument."""
    if not incomplete.startswith(SCHEME):
        return [SCHEME] if SCHEME.startswith(incomplete) else []
    try:
        client = _client(ctx)
        try:
            return candidates(client, incomplete)
        finally:
            client.close()
    except Exception:  # a completion must never print a traceback into the prompt
        return []
