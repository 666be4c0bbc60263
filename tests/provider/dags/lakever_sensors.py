"""Deferrable sensors: a committed file lands on main, then a commit from a given source.

The connection goes through an observing proxy, so the tests can see the triggers poll.
"""

from __future__ import annotations

import pendulum
from airflow.sdk import DAG

from airflow_provider_lakever.sensors.commit import CommitSensor
from airflow_provider_lakever.sensors.file import FileSensor

START = pendulum.datetime(2026, 1, 1, tz="UTC")
SENSOR_REPOSITORY = "sensors"
OBSERVED_CONN_ID = "lakever_observed"

DAGS: dict[str, DAG] = {}

with DAG("lakever_deferred_sensors", schedule=None, start_date=START, catchup=False) as dag:
    landed = FileSensor(
        task_id="wait_for_committed_file",
        repository=SENSOR_REPOSITORY,
        ref="main",
        path="landing/ready.csv",
        lakever_conn_id=OBSERVED_CONN_ID,
        deferrable=True,
        poke_interval=0.2,
        timeout=120,
    )
    kafka = CommitSensor(
        task_id="wait_for_kafka_commit",
        repository=SENSOR_REPOSITORY,
        branch="main",
        metadata={"source": "kafka"},
        prefixes=["events/"],
        lakever_conn_id=OBSERVED_CONN_ID,
        deferrable=True,
        poke_interval=0.2,
        timeout=120,
    )
    landed >> kafka
    DAGS[dag.dag_id] = dag
