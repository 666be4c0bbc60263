"""Three-way merge of trees, and revert and cherry-pick as merges with a chosen base.

Everything here walks two ``Tree.diff`` streams from the base (each skips subtrees
equal by id, so cost scales with the change) and joins them by key:

- changed on the source only: take the source's value;
- changed on the destination only: keep it;
- changed on both to the same identity (or both removed): not a conflict;
- changed on both differently: a conflict, unless a strategy picks a side.

Every conflict is collected before failing, so ``MergeConflict`` lists them all with
the reason for each; ``plan_merge`` computes the same without writing anything (a
dry run). Revert of commit C (parent P) on head H is ``merge(base=C,
source=P, destination=H)``; cherry-pick of C is ``merge(base=P, source=C,
destination=H)``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from lakever_server.errors import ConflictingPath, MergeConflict
from lakever_server.graveler.model import value_identity
from lakever_server.graveler.tree import Tree

Change = tuple[bytes, bytes | None]  # (key, new value or None to delete)


@dataclass
class MergeOutcome:
    """The merged tree and what the merge did to the destination."""

    root: str
    summary: dict[str, int] = field(default_factory=dict)


def _kind(before: bytes | None, after: bytes | None) -> str:
    if before is None:
        return "added"
    if after is None:
        return "removed"
    return "changed"


def _diff(
    tree: Tree, left: str, right: str, skipped: list[int] | None = None
) -> Iterator[tuple[bytes, bytes | None, bytes | None]]:
    """``(key, left, right)`` for keys whose identities differ (mtime-only changes skip;
    ``skipped[0]`` counts them when given)."""
    for change in tree.diff(left, right):
        if value_identity(change.left) != value_identity(change.right):
            yield change.key, change.left, change.right
        elif skipped is not None:
            skipped[0] += 1


def _reason(source: str, destination: str) -> str:
    if source == destination == "changed":
        return "changed on both sides"
    if source == destination == "added":
        return "added on both sides with different content"
    return f"{destination} on destination, {source} on source"


@dataclass
class MergePlan:
    """What a three-way merge would change on the destination, before anything is
    written: the changes to apply in key order, their counts, and every conflict."""

    changes: list[Change] = field(default_factory=list)
    summary: dict[str, int] = field(default_factory=dict)
    conflicts: list[ConflictingPath] = field(default_factory=list)
    source_whole: bool = False
    """Every difference of the source from the base is in ``changes`` (none was an
    mtime-only change left out), so applied to the base they give the source's tree."""


@dataclass(frozen=True)
class MergePreview:
    """What merging a source commit into a branch would do now (a dry run).

    ``changes`` counts the entries the merge would write (``summary`` breaks them down,
    with ``conflict`` counting paths changed differently on both sides); ``dirty`` means
    the destination has uncommitted changes, which a merge refuses.
    """

    base: str
    source: str
    destination: str
    summary: dict[str, int]
    conflicts: list[ConflictingPath]
    changes: int
    dirty: bool

    @property
    def can_merge(self) -> bool:
        """A merge now would succeed and record something (without ``allow_empty``)."""
        return not self.conflicts and not self.dirty and self.changes > 0


def plan_merge(
    tree: Tree, base: str, source: str, destination: str, strategy: str | None = None
) -> MergePlan:
    """Join the source's and the destination's changes since ``base``; reads only.

    Conflicts are collected, not raised (``strategy`` ``"dest-wins"`` or
    ``"source-wins"`` resolves them and they are only counted).
    """
    plan = MergePlan(summary={"added": 0, "removed": 0, "changed": 0, "conflict": 0})
    changes, conflicts, summary = plan.changes, plan.conflicts, plan.summary
    skipped = [0]
    src_iter, dst_iter = _diff(tree, base, source, skipped), _diff(tree, base, destination)
    src, dst = next(src_iter, None), next(dst_iter, None)
    while src is not None:
        if dst is not None and dst[0] < src[0]:
            dst = next(dst_iter, None)
            continue
        key, before, after = src
        if dst is None or dst[0] != key:
            changes.append((key, after))
            summary[_kind(before, after)] += 1
        elif value_identity(dst[2]) != value_identity(after):
            summary["conflict"] += 1
            if strategy == "source-wins":
                changes.append((key, after))
            elif strategy != "dest-wins":
                src_kind, dst_kind = _kind(before, after), _kind(dst[1], dst[2])
                conflicts.append(
                    ConflictingPath(
                        path=key.decode("utf-8", "replace"),
                        reason=_reason(src_kind, dst_kind),
                        source=src_kind,
                        destination=dst_kind,
                    )
                )
        src = next(src_iter, None)
    plan.source_whole = skipped[0] == 0 and summary["conflict"] == 0
    return plan


def three_way_merge(
    tree: Tree, base: str, source: str, destination: str, strategy: str | None = None
) -> MergeOutcome:
    """Merge ``source`` into ``destination`` against ``base``; returns the new root.

    Raises ``MergeConflict`` naming every conflicting path unless ``strategy`` is
    ``"dest-wins"`` or ``"source-wins"``.
    """
    plan = plan_merge(tree, base, source, destination, strategy)
    if plan.conflicts:
        raise MergeConflict(plan.conflicts)
    changes = plan.changes
    if changes and destination == base and plan.source_whole:
        # The destination has not moved since the base (a run branch merged back into
        # an unchanged main): the merged content is the source's, and since a tree's
        # shape depends only on its content, so is its root. Nothing to rewrite.
        return MergeOutcome(root=source, summary=plan.summary)
    root = tree.apply(destination, iter(changes)) if changes else destination
    return MergeOutcome(root=root, summary=plan.summary)
