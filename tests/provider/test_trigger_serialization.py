"""Every trigger survives the round trip through the triggerer's serialization."""

from __future__ import annotations

import importlib
from typing import Any

import pytest
from airflow.triggers.base import BaseTrigger

from airflow_provider_lakever.triggers.lakever import CommittedFileTrigger, NewCommitTrigger

TRIGGERS = [
    pytest.param(
        CommittedFileTrigger(
            lakever_conn_id="lake_conn",
            repository="lake",
            ref="main@",
            pattern="events/*/part-*.parquet",
            poke_interval=2.5,
        ),
        id="committed file trigger with a glob",
    ),
    pytest.param(
        CommittedFileTrigger(
            lakever_conn_id="lake_conn", repository="lake", ref="0" * 64, path="a/b.csv"
        ),
        id="committed file trigger on a commit id",
    ),
    pytest.param(
        NewCommitTrigger(
            lakever_conn_id="lake_conn",
            repository="lake",
            branch="ingest",
            baseline="f" * 64,
            metadata={"source": "kafka"},
            prefixes=["events/", "users/"],
            poke_interval=1.0,
        ),
        id="new commit trigger with filters",
    ),
]


def _rebuild(trigger: BaseTrigger) -> tuple[BaseTrigger, dict[str, Any]]:
    classpath, kwargs = trigger.serialize()
    module, _, name = classpath.rpartition(".")
    cls = getattr(importlib.import_module(module), name)
    return cls(**kwargs), kwargs


@pytest.mark.parametrize("trigger", TRIGGERS)
def test_trigger_round_trips_through_serialize(trigger: BaseTrigger) -> None:
    rebuilt, kwargs = _rebuild(trigger)
    assert type(rebuilt) is type(trigger)
    assert rebuilt.serialize() == trigger.serialize()
    assert rebuilt.serialize()[1] == kwargs


@pytest.mark.parametrize("trigger", TRIGGERS)
def test_serialized_kwargs_are_plain_json_values(trigger: BaseTrigger) -> None:
    import json

    _, kwargs = trigger.serialize()
    assert json.loads(json.dumps(kwargs)) == kwargs


def test_committed_file_trigger_needs_exactly_one_query() -> None:
    with pytest.raises(ValueError, match="exactly one"):
        CommittedFileTrigger(
            lakever_conn_id="c", repository="lake", ref="main", path="a", prefix="b/"
        )
