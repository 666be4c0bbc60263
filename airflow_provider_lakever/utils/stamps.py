"""Metadata that ties a commit to the Airflow task that made it.

Every commit, merge and revert the provider records carries the DAG id, run id, task id,
try number, map index, logical date and the task's URL in the Airflow UI, so a commit found
on ``main`` months later leads straight back to the run and its logs. It also carries an
*idempotency key*, equal for every try of the same task instance: a retried task finds its
earlier commit by that key instead of recording the change twice.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

IDEMPOTENCY_KEY = "lakever.idempotency_key"
DAG_ID = "airflow.dag_id"
RUN_ID = "airflow.run_id"
TASK_ID = "airflow.task_id"
TRY_NUMBER = "airflow.try_number"
MAP_INDEX = "airflow.map_index"
LOGICAL_DATE = "airflow.logical_date"
TASK_URL = "airflow.task_url"


def idempotency_key(dag_id: str, run_id: str, task_id: str, map_index: int, purpose: str) -> str:
    """A key equal for every try of one task instance, distinct across instances.

    :param purpose: what the task records (``commit``, ``merge``...), so two kinds of write
        made by one task never share a key.
    """
    raw = "\x1f".join((dag_id, run_id, task_id, str(map_index), purpose))
    return hashlib.sha256(raw.encode()).hexdigest()[:32]


def task_stamp(context: Mapping[str, Any], purpose: str) -> dict[str, str]:
    """The metadata a commit made by the task running in ``context`` carries.

    :param context: the Airflow task context.
    :param purpose: see :func:`idempotency_key`.
    """
    ti = context["ti"]
    map_index = getattr(ti, "map_index", -1)
    map_index = -1 if map_index is None else int(map_index)
    logical_date = context.get("logical_date")
    return {
        DAG_ID: str(ti.dag_id),
        RUN_ID: str(ti.run_id),
        TASK_ID: str(ti.task_id),
        TRY_NUMBER: str(getattr(ti, "try_number", "") or ""),
        MAP_INDEX: str(map_index),
        LOGICAL_DATE: logical_date.isoformat() if logical_date is not None else "",
        TASK_URL: str(getattr(ti, "log_url", "") or ""),
        IDEMPOTENCY_KEY: idempotency_key(
            str(ti.dag_id), str(ti.run_id), str(ti.task_id), map_index, purpose
        ),
    }


def stamped(user_metadata: Mapping[str, Any] | None, stamp: Mapping[str, str]) -> dict[str, str]:
    """Merge the user's metadata with the stamp; the stamp wins, values become strings."""
    merged = {str(k): str(v) for k, v in (user_metadata or {}).items()}
    merged.update(stamp)
    return merged
