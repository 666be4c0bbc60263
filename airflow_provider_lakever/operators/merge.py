"""The merge operator: publish a branch into another one atomically, and announce it."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from airflow_provider_lakever.assets.lakefs import create_asset, is_lakefs_asset, parse_uri
from airflow_provider_lakever.links.lakever import LakeverCommitLink, LakeverDiffLink
from airflow_provider_lakever.operators.base import LakeverBaseOperator
from airflow_provider_lakever.utils.stamps import IDEMPOTENCY_KEY, stamped, task_stamp

if TYPE_CHECKING:
    from airflow.sdk import Context

STRATEGIES = (None, "dest-wins", "source-wins")


class MergeOperator(LakeverBaseOperator):
    """Merge a source ref into a destination branch; return the merge commit id.

    A conflict fails the task without retry, and its error lists every conflicting path;
    the task's "lakever diff" link then opens the compare page of the source's head commit
    against the destination, which shows every conflict. After a merge, the links show the
    merge commit and its changes.
    Idempotent on retry: when the destination holds a merge this task instance made (or
    the source's head is already in the destination's history), no second merge happens.

    Each ``lakefs://`` asset in ``outlets`` (``publishes`` adds some) gets an asset event
    whose extra holds the merge commit id, so downstream DAGs read exactly what was merged.

    :param repository: the repository id (templated).
    :param source_ref: the ref to merge, e.g. the run branch's XCom (templated).
    :param destination_branch: the branch to merge into (templated).
    :param message: the merge commit message (templated); a default names the source.
    :param metadata: extra metadata, string keys and values (templated).
    :param strategy: ``None`` (fail on conflict), ``"source-wins"`` or ``"dest-wins"``.
    :param squash: record one commit whose only parent is the destination's head.
    :param allow_empty: merge even when the source brings no change.
    :param publishes: paths (or prefixes ending in ``/``) this merge publishes on the
        destination; each becomes an outlet asset ``lakefs://<repo>/<branch>/<path>``.
        Needs ``repository`` and ``destination_branch`` known when the DAG is parsed.
    :param lakever_conn_id: the Airflow connection to the server (templated).
    :return: (XCom) the merge commit id.
    """

    template_fields: Sequence[str] = (
        *LakeverBaseOperator.template_fields,
        "source_ref",
        "destination_branch",
        "message",
        "metadata",
    )
    template_fields_renderers = {"metadata": "json"}
    operator_extra_links = (LakeverCommitLink(), LakeverDiffLink())

    def __init__(
        self,
        *,
        source_ref: str,
        destination_branch: str = "main",
        message: str | None = None,
        metadata: dict[str, str] | None = None,
        strategy: str | None = None,
        squash: bool = False,
        allow_empty: bool = False,
        publishes: Sequence[str] = (),
        **kwargs: Any,
    ) -> None:
        if strategy not in STRATEGIES:
            raise ValueError(f"strategy must be one of {STRATEGIES}, not {strategy!r}")
        if publishes:
            assets = [
                create_asset(repository=kwargs["repository"], ref=destination_branch, path=p)
                for p in publishes
            ]
            kwargs["outlets"] = [*(kwargs.get("outlets") or []), *assets]
        super().__init__(**kwargs)
        self.source_ref = source_ref
        self.destination_branch = destination_branch
        self.message = message
        self.metadata = metadata
        self.strategy = strategy
        self.squash = squash
        self.allow_empty = allow_empty

    def execute(self, context: Context) -> str:
        # Recorded before merging: when the merge conflicts, the failed task's diff link
        # opens the compare page, which lists every conflicting path. It names the source's
        # commit, so it still opens after a teardown deleted the source (a run branch).
        self.remember_links(diff_base=self.destination_branch, diff_compare=self.source_ref)
        metadata = stamped(self.metadata, task_stamp(context, "merge"))
        source_head = self.hook.resolve_commit(self.repository, self.source_ref).id
        self.remember_links(diff_base=self.destination_branch, diff_compare=source_head)
        merge_id = self._earlier_merge(metadata[IDEMPOTENCY_KEY], source_head)
        if merge_id is None:
            merge_id = self.hook.merge(
                self.repository,
                self.source_ref,
                self.destination_branch,
                message=self.message or f"Merge {self.source_ref} into {self.destination_branch}",
                metadata=metadata,
                strategy=self.strategy,
                squash=self.squash,
                allow_empty=self.allow_empty,
            )
            self.log.info(
                "merged %s (%s) into %s: %s",
                self.source_ref,
                source_head,
                self.destination_branch,
                merge_id,
            )
        self.remember_links(commit_id=merge_id, diff_base=f"{merge_id}~1", diff_compare=merge_id)
        self._announce(context, merge_id, source_head)
        return merge_id

    def _earlier_merge(self, key: str, source_head: str) -> str | None:
        def ours(commit: Any) -> bool:
            return (commit.metadata or {}).get(IDEMPOTENCY_KEY) == key or (
                source_head in commit.parents and len(commit.parents) > 1
            )

        earlier = self.hook.find_commit(self.repository, self.destination_branch, ours)
        if earlier is not None:
            self.log.info(
                "%s is merged into %s already (by %s): not merging again",
                self.source_ref,
                self.destination_branch,
                earlier.id,
            )
            return str(earlier.id)
        return None

    def _announce(self, context: Context, merge_id: str, source_head: str) -> None:
        outlet_events = context.get("outlet_events")
        if outlet_events is None:
            return
        for outlet in self.outlets or []:
            if not is_lakefs_asset(outlet):
                continue
            location = parse_uri(outlet.uri)
            outlet_events[outlet].extra.update(
                {
                    "commit_id": merge_id,
                    "repository": location.repository,
                    "branch": location.ref,
                    "path": location.path,
                    "source_ref": self.source_ref,
                    "source_commit_id": source_head,
                    # The data exactly as merged, whatever happens to the branch later.
                    "commit_uri": f"lakefs://{location.repository}/{merge_id}/{location.path}",
                }
            )
