"""Helpers of the provider's integration tests: a real server, repositories, DAG runs."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from lakefs_sdk.client import LakeFSClient
from lakefs_sdk.models.repository_creation import RepositoryCreation

from tests.support.server import RunningServer

#: Airflow's own notice, raised while dag.test() starts its in-process API server.
STARLETTE_HTTPX_NOTICE = "ignore:Using `httpx` with `starlette.testclient` is deprecated"


def create_repository(server: RunningServer, name: str) -> LakeFSClient:
    """Create repository ``name`` with a ``main`` branch; return an SDK client."""
    client: LakeFSClient = server.lakefs_sdk_client()
    client.repositories_api.create_repository(
        RepositoryCreation.from_dict(
            {"name": name, "storage_namespace": f"local://{name}", "default_branch": "main"}
        )
    )
    return client


def connection_json(url: str, server: RunningServer, **extra: Any) -> str:
    return json.dumps(
        {
            "conn_type": "lakever",
            "host": url,
            "login": server.access_key_id,
            "password": server.secret_access_key,
            "extra": extra,
        }
    )


@contextmanager
def airflow_connection(
    conn_id: str, url: str, server: RunningServer, **extra: Any
) -> Iterator[str]:
    """Define connection ``conn_id`` to ``url`` (the server or a proxy) for a block."""
    name = f"AIRFLOW_CONN_{conn_id.upper()}"
    previous = os.environ.get(name)
    os.environ[name] = connection_json(url, server, **extra)
    try:
        yield conn_id
    finally:
        if previous is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = previous


def task_states(dag_id: str, run_id: str) -> dict[str, str | None]:
    """``{task_id: state}`` of one DAG run, read from the metadata database."""
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        rows = session.execute(
            select(TaskInstance.task_id, TaskInstance.state).where(
                TaskInstance.dag_id == dag_id, TaskInstance.run_id == run_id
            )
        ).all()
    return {task_id: (str(state) if state is not None else None) for task_id, state in rows}


def try_numbers(dag_id: str, run_id: str) -> dict[str, int]:
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        rows = session.execute(
            select(TaskInstance.task_id, TaskInstance.try_number).where(
                TaskInstance.dag_id == dag_id, TaskInstance.run_id == run_id
            )
        ).all()
    return dict(rows)


def xcom_value(dag_id: str, run_id: str, task_id: str, key: str = "return_value") -> Any:
    """The XCom ``key`` a task instance pushed (its return value by default)."""
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        return session.scalar(
            select(XComModel.value).where(
                XComModel.dag_id == dag_id,
                XComModel.run_id == run_id,
                XComModel.task_id == task_id,
                XComModel.key == key,
            )
        )


def branch_names(client: LakeFSClient, repository: str) -> set[str]:
    return {ref.id for ref in client.branches_api.list_branches(repository, amount=1000).results}


def head(client: LakeFSClient, repository: str, branch: str) -> str:
    return str(client.branches_api.get_branch(repository, branch).commit_id)


def paths(client: LakeFSClient, repository: str, ref: str) -> list[str]:
    listing = client.objects_api.list_objects(repository, ref, amount=1000)
    return sorted(obj.path for obj in listing.results)
