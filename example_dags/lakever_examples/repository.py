"""Set up the examples' repository and input with ``lakefs_sdk`` (no Airflow needed).

Used by ``scripts/demo.py``, ``scripts/airflow_standalone.sh`` and the tests, so every
entry point starts from the same committed input on ``main``.
"""

from __future__ import annotations

from typing import Any

from lakefs_sdk.exceptions import NotFoundException
from lakefs_sdk.models.commit_creation import CommitCreation
from lakefs_sdk.models.repository_creation import RepositoryCreation

from lakever_examples.data import csv_bytes, orders_path, orders_table


def ensure_repository(client: Any, name: str, *, default_branch: str = "main") -> None:
    """Create repository ``name`` on the server's local storage unless it exists.

    :param client: a ``lakefs_sdk.client.LakeFSClient``.
    :param name: the repository id.
    :param default_branch: its first branch.
    """
    try:
        client.repositories_api.get_repository(name)
        return
    except NotFoundException:
        pass
    client.repositories_api.create_repository(
        RepositoryCreation.from_dict(
            {
                "name": name,
                "storage_namespace": f"local://{name}",
                "default_branch": default_branch,
            }
        )
    )


def seed_orders(client: Any, repository: str, day: str, *, rows: int = 200) -> str:
    """Commit one day of orders on ``main`` (once); return ``main``'s head commit id.

    :param client: a ``lakefs_sdk.client.LakeFSClient``.
    :param repository: the repository id.
    :param day: ``YYYY-MM-DD``.
    :param rows: how many orders.
    """
    path = orders_path(day)
    try:
        client.objects_api.stat_object(repository, "main", path)
    except NotFoundException:
        content = csv_bytes(orders_table(day, rows))
        client.objects_api.upload_object(repository, "main", path, content=content)
        client.commits_api.commit(
            repository,
            "main",
            CommitCreation.from_dict(
                {
                    "message": f"Ingest orders of {day}",
                    "metadata": {"source": "lakever-examples seed", "date": day},
                }
            ),
        )
    return str(client.branches_api.get_branch(repository, "main").commit_id)
