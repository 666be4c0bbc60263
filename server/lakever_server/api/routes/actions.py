"""Actions runs and hooks. lakever runs no hooks yet, so listings are empty."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends

from lakever_server.api import convert
from lakever_server.api.deps import After, Amount, CatalogDep, current_user
from lakever_server.catalog.models import Page
from lakever_server.errors import NotFound

router = APIRouter(tags=["actions"], dependencies=[Depends(current_user)])
RUNS = "/repositories/{repository}/actions/runs"


def _no_run(run_id: str) -> NotFound:
    return NotFound(f"action run {run_id} not found", kind="action_run", name=run_id)


@router.get(RUNS)
def list_repository_runs(
    repository: str,
    catalog: CatalogDep,
    after: After = "",
    amount: Amount = 100,
    branch: str | None = None,
    commit: str | None = None,
) -> dict[str, Any]:
    catalog.get_repository(repository)
    empty: Page[dict[str, Any]] = Page([], False)
    return convert.paginated(empty, dict)


@router.get(RUNS + "/{run_id}")
def get_run(repository: str, run_id: str, catalog: CatalogDep) -> dict[str, Any]:
    catalog.get_repository(repository)
    raise _no_run(run_id)


@router.get(RUNS + "/{run_id}/hooks")
def list_run_hooks(
    repository: str, run_id: str, catalog: CatalogDep, after: After = "", amount: Amount = 100
) -> dict[str, Any]:
    catalog.get_repository(repository)
    raise _no_run(run_id)


@router.get(RUNS + "/{run_id}/hooks/{hook_run_id}/output")
def get_run_hook_output(
    repository: str, run_id: str, hook_run_id: str, catalog: CatalogDep
) -> dict[str, Any]:
    catalog.get_repository(repository)
    raise _no_run(run_id)
