"""A commit-aware file sensor: only committed objects count."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from airflow_provider_lakever.conditions import FileQuery, find_committed_file
from airflow_provider_lakever.links.lakever import LakeverCommitLink
from airflow_provider_lakever.sensors.base import LakeverBaseSensor
from airflow_provider_lakever.triggers.lakever import CommittedFileTrigger

if TYPE_CHECKING:
    from airflow.sdk import Context


class FileSensor(LakeverBaseSensor):
    """Wait until a path, a prefix or a glob exists in a *committed* state of a ref.

    The ref is resolved to its commit first (a branch to its head commit, ``branch@`` to the
    same), and objects are looked up at that commit: files staged on a branch but not
    committed never satisfy this sensor.

    :param repository: the repository id (templated).
    :param ref: a branch, ``branch@``, a tag or a commit id (templated).
    :param path: an exact object path (templated).
    :param prefix: succeed when any object exists under this prefix (templated).
    :param pattern: a glob over full object paths, e.g. ``events/*/part-*.parquet``
        (templated; ``*`` also matches ``/``).
    :param lakever_conn_id: the Airflow connection to the server (templated).
    :param deferrable: wait in the triggerer; defaults to ``[operators] default_deferrable``.
    :return: (XCom) ``{"commit_id": ..., "path": ...}`` of the first match.
    """

    template_fields: Sequence[str] = (
        *LakeverBaseSensor.template_fields,
        "ref",
        "path",
        "prefix",
        "pattern",
    )
    operator_extra_links = (LakeverCommitLink(),)

    def __init__(
        self,
        *,
        ref: str,
        path: str | None = None,
        prefix: str | None = None,
        pattern: str | None = None,
        **kwargs: Any,
    ) -> None:
        FileQuery(path=path, prefix=prefix, pattern=pattern)  # fail at parse time
        super().__init__(**kwargs)
        self.ref = ref
        self.path = path
        self.prefix = prefix
        self.pattern = pattern

    @property
    def query(self) -> FileQuery:
        return FileQuery(path=self.path, prefix=self.prefix, pattern=self.pattern)

    def find_match(self, context: Context) -> dict[str, Any] | None:
        self.log.info(
            "looking for %s in the committed state of %s", self.query.describe(), self.ref
        )
        return find_committed_file(self.hook, self.repository, self.ref, self.query)

    def on_found(self, context: Context, found: dict[str, Any]) -> dict[str, Any]:
        self.log.info("found %s at commit %s", found["path"], found["commit_id"])
        self.remember_links(commit_id=found["commit_id"])
        return {"commit_id": found["commit_id"], "path": found["path"]}

    def make_trigger(self) -> CommittedFileTrigger:
        return CommittedFileTrigger(
            lakever_conn_id=self.lakever_conn_id,
            repository=self.repository,
            ref=self.ref,
            path=self.path,
            prefix=self.prefix,
            pattern=self.pattern,
            poke_interval=float(self.poke_interval),
        )
