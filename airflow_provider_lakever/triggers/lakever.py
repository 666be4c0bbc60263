"""Triggers behind the deferrable sensors.

They run in the triggerer's event loop, so every server call (the synchronous
``lakefs-sdk``, retries and their waits included) runs in a worker thread through
``asyncio.to_thread``; the connection itself is fetched with the async API. A trigger never
raises: a failure becomes an ``{"status": "error"}`` event that the sensor's
``execute_complete`` turns into a task failure. A transient outage that outlasts the hook's
retries is logged and polled through, as a sensor would.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator, Callable
from typing import Any

from airflow.triggers.base import BaseTrigger, TriggerEvent

from airflow_provider_lakever.conditions import (
    CommitQuery,
    FileQuery,
    find_committed_file,
    find_new_commit,
)
from airflow_provider_lakever.hooks.lakever import LakeverHook
from airflow_provider_lakever.hooks.retry import is_transient


class _PollingTrigger(BaseTrigger):
    """Poll a condition every ``poke_interval`` seconds until it holds."""

    def __init__(self, *, lakever_conn_id: str, repository: str, poke_interval: float) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self.lakever_conn_id = lakever_conn_id
        self.repository = repository
        self.poke_interval = float(poke_interval)

    def _check(self, hook: LakeverHook) -> dict[str, Any] | None:
        raise NotImplementedError

    async def run(self) -> AsyncIterator[TriggerEvent]:
        try:
            hook = await LakeverHook.for_async(self.lakever_conn_id)
        except Exception as exc:
            yield TriggerEvent(  # type: ignore[no-untyped-call]
                {"status": "error", "message": f"connection: {exc}"}
            )
            return
        check: Callable[[LakeverHook], dict[str, Any] | None] = self._check
        while True:
            try:
                found = await asyncio.to_thread(check, hook)
            except Exception as exc:
                if _transient(exc):
                    self.log.warning("server unavailable, polling on: %s", exc)
                    found = None
                else:
                    yield TriggerEvent(  # type: ignore[no-untyped-call]
                        {"status": "error", "message": str(exc)}
                    )
                    return
            if found is not None:
                yield TriggerEvent(  # type: ignore[no-untyped-call]
                    {"status": "success", **found}
                )
                return
            await asyncio.sleep(self.poke_interval)


def _transient(exc: BaseException) -> bool:
    current: BaseException | None = exc
    while current is not None:
        if is_transient(current):
            return True
        current = current.__cause__
    return False


class CommittedFileTrigger(_PollingTrigger):
    """Fire when an object matching the query exists in the committed state of ``ref``.

    :param lakever_conn_id: the Airflow connection to the server.
    :param repository: the repository id.
    :param ref: a branch (its head commit is read), ``branch@``, a tag or a commit id.
    :param path: an exact object path.
    :param prefix: any object under this prefix.
    :param pattern: a glob over full object paths.
    :param poke_interval: seconds between two checks.
    """

    def __init__(
        self,
        *,
        lakever_conn_id: str,
        repository: str,
        ref: str,
        path: str | None = None,
        prefix: str | None = None,
        pattern: str | None = None,
        poke_interval: float = 30.0,
    ) -> None:
        super().__init__(
            lakever_conn_id=lakever_conn_id, repository=repository, poke_interval=poke_interval
        )
        self.ref = ref
        self.query = FileQuery(path=path, prefix=prefix, pattern=pattern)

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                "lakever_conn_id": self.lakever_conn_id,
                "repository": self.repository,
                "ref": self.ref,
                **dataclasses.asdict(self.query),
                "poke_interval": self.poke_interval,
            },
        )

    def _check(self, hook: LakeverHook) -> dict[str, Any] | None:
        return find_committed_file(hook, self.repository, self.ref, self.query)


class NewCommitTrigger(_PollingTrigger):
    """Fire when ``branch`` gets a commit after ``baseline`` that passes the filters.

    :param lakever_conn_id: the Airflow connection to the server.
    :param repository: the repository id.
    :param branch: the branch to watch.
    :param baseline: the commit id already seen.
    :param metadata: required metadata key/values.
    :param prefixes: the commit must change something under one of these.
    :param poke_interval: seconds between two checks.
    """

    def __init__(
        self,
        *,
        lakever_conn_id: str,
        repository: str,
        branch: str,
        baseline: str,
        metadata: dict[str, str] | None = None,
        prefixes: list[str] | tuple[str, ...] = (),
        poke_interval: float = 30.0,
    ) -> None:
        super().__init__(
            lakever_conn_id=lakever_conn_id, repository=repository, poke_interval=poke_interval
        )
        self.branch = branch
        self.baseline = baseline
        self.metadata = dict(metadata or {})
        self.prefixes = list(prefixes)

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                "lakever_conn_id": self.lakever_conn_id,
                "repository": self.repository,
                "branch": self.branch,
                "baseline": self.baseline,
                "metadata": self.metadata,
                "prefixes": self.prefixes,
                "poke_interval": self.poke_interval,
            },
        )

    def _check(self, hook: LakeverHook) -> dict[str, Any] | None:
        query = CommitQuery(baseline=self.baseline, metadata=self.metadata, prefixes=self.prefixes)
        return find_new_commit(hook, self.repository, self.branch, query)
