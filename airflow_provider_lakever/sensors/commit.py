"""A sensor for new commits on a branch, optionally filtered by metadata or paths."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from airflow_provider_lakever.conditions import CommitQuery, find_new_commit
from airflow_provider_lakever.links.lakever import LakeverCommitLink
from airflow_provider_lakever.sensors.base import LakeverBaseSensor
from airflow_provider_lakever.triggers.lakever import NewCommitTrigger

if TYPE_CHECKING:
    from airflow.sdk import Context


class CommitSensor(LakeverBaseSensor):
    """Wait for a new commit on a branch since a baseline.

    The baseline is ``baseline`` when given (a commit id or any ref expression, resolved
    once); otherwise the branch's head when the sensor first runs. It holds across pokes
    and deferral (the trigger carries it). In ``reschedule`` mode without an explicit
    baseline, "new" means created after the sensor's first poke (commit times are whole
    seconds: a commit made in that same second is not counted); pass ``baseline`` for an
    exact answer.

    :param repository: the repository id (templated).
    :param branch: the branch to watch (templated).
    :param baseline: the commit already seen (templated).
    :param metadata: required metadata key/values, e.g. ``{"source": "kafka"}`` (templated).
    :param prefixes: only commits that change something under one of these count.
    :param lakever_conn_id: the Airflow connection to the server (templated).
    :param deferrable: wait in the triggerer; defaults to ``[operators] default_deferrable``.
    :return: (XCom) ``{"commit_id", "message", "metadata", "creation_date"}`` of the newest
        matching commit.
    """

    template_fields: Sequence[str] = (
        *LakeverBaseSensor.template_fields,
        "branch",
        "baseline",
        "metadata",
    )
    operator_extra_links = (LakeverCommitLink(),)

    def __init__(
        self,
        *,
        branch: str,
        baseline: str | None = None,
        metadata: dict[str, str] | None = None,
        prefixes: Sequence[str] = (),
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.branch = branch
        self.baseline = baseline
        self.metadata = metadata
        self.prefixes = list(prefixes)
        self._resolved_baseline: str | None = None

    def _query(self, context: Context) -> CommitQuery | None:
        """The query for this poke, or ``None`` on the poke that only sets the baseline."""
        if self._resolved_baseline is None and self.baseline:
            self._resolved_baseline = self.hook.resolve_commit(self.repository, self.baseline).id
        if self._resolved_baseline is not None:
            return CommitQuery(
                baseline=self._resolved_baseline, metadata=self.metadata, prefixes=self.prefixes
            )
        if self.reschedule:
            first = context["ti"].get_first_reschedule_date(context)
            if first is not None:
                return CommitQuery(
                    since=first.timestamp(), metadata=self.metadata, prefixes=self.prefixes
                )
        self._resolved_baseline = self.hook.resolve_commit(self.repository, self.branch).id
        self.log.info("baseline: %s is at %s", self.branch, self._resolved_baseline)
        return None

    def find_match(self, context: Context) -> dict[str, Any] | None:
        query = self._query(context)
        if query is None:
            return None
        return find_new_commit(self.hook, self.repository, self.branch, query)

    def on_found(self, context: Context, found: dict[str, Any]) -> dict[str, Any]:
        self.log.info(
            "new commit on %s: %s (%s)", self.branch, found["commit_id"], found["message"]
        )
        self.remember_links(commit_id=found["commit_id"])
        return found

    def make_trigger(self) -> NewCommitTrigger:
        # Deferral follows a first poke, which resolved the baseline.
        return NewCommitTrigger(
            lakever_conn_id=self.lakever_conn_id,
            repository=self.repository,
            branch=self.branch,
            baseline=str(self._resolved_baseline),
            metadata=dict(self.metadata or {}),
            prefixes=self.prefixes,
            poke_interval=float(self.poke_interval),
        )
