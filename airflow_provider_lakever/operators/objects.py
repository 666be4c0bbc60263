"""Small-object operators (upload, get) and a diff summary usable by quality checks."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from airflow_provider_lakever.links.lakever import LakeverBranchLink, LakeverDiffLink
from airflow_provider_lakever.operators.base import LakeverBaseOperator

if TYPE_CHECKING:
    from airflow.sdk import Context

CHANGE_KINDS = ("added", "changed", "removed")


class UploadOperator(LakeverBaseOperator):
    """Upload a small object to a branch (it stays uncommitted until a commit).

    :param repository: the repository id (templated).
    :param branch: the branch to write to (templated).
    :param path: the object path (templated).
    :param content: the content, text (UTF-8) or bytes (templated).
    :param filename: a local file to upload instead of ``content`` (templated).
    :param lakever_conn_id: the Airflow connection to the server (templated).
    :return: (XCom) the object's checksum.
    """

    template_fields: Sequence[str] = (
        *LakeverBaseOperator.template_fields,
        "branch",
        "path",
        "content",
        "filename",
    )
    operator_extra_links = (LakeverBranchLink(),)

    def __init__(
        self,
        *,
        branch: str,
        path: str,
        content: str | bytes | None = None,
        filename: str | None = None,
        **kwargs: Any,
    ) -> None:
        if (content is None) == (filename is None):
            raise ValueError("give exactly one of content and filename")
        super().__init__(**kwargs)
        self.branch = branch
        self.path = path
        self.content = content
        self.filename = filename

    def execute(self, context: Context) -> str:
        if self.filename is not None:
            data = Path(self.filename).read_bytes()
        elif isinstance(self.content, str):
            data = self.content.encode()
        else:
            data = bytes(self.content or b"")
        stats = self.hook.upload(self.repository, self.branch, self.path, data)
        self.log.info("uploaded %d bytes to %s on %s", len(data), self.path, self.branch)
        self.remember_links(branch=self.branch)
        return str(stats.checksum)


class GetObjectOperator(LakeverBaseOperator):
    """Read a small object at a ref and return it through XCom.

    :param repository: the repository id (templated).
    :param ref: a branch, tag, commit id or ref expression (templated).
    :param path: the object path (templated).
    :param encoding: decode the content with it; ``None`` returns ``bytes`` (only for
        XCom backends that store bytes).
    :param lakever_conn_id: the Airflow connection to the server (templated).
    :return: (XCom) the content.
    """

    template_fields: Sequence[str] = (*LakeverBaseOperator.template_fields, "ref", "path")

    def __init__(
        self, *, ref: str, path: str, encoding: str | None = "utf-8", **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self.ref = ref
        self.path = path
        self.encoding = encoding

    def execute(self, context: Context) -> str | bytes:
        data = self.hook.get_object(self.repository, self.ref, self.path)
        return data.decode(self.encoding) if self.encoding else data


def summarize_diff(
    changes: Sequence[tuple[str, str]], *, prefix_depth: int = 1, max_paths: int = 1000
) -> dict[str, Any]:
    """Counts and paths of a diff, overall and per leading path prefix.

    :param changes: ``(kind, path)`` pairs; kinds other than added/changed/removed (a
        conflict) are counted under their own name.
    :param prefix_depth: how many leading path components make a prefix (``events/`` for 1).
    :param max_paths: the most paths listed per kind (counts are always exact).
    """
    counts: Counter[str] = Counter()
    paths: dict[str, list[str]] = defaultdict(list)
    by_prefix: dict[str, Counter[str]] = defaultdict(Counter)
    for kind, path in changes:
        counts[kind] += 1
        if len(paths[kind]) < max_paths:
            paths[kind].append(path)
        parts = path.split("/")
        prefix = "/".join(parts[:prefix_depth]) + "/" if len(parts) > prefix_depth else ""
        by_prefix[prefix][kind] += 1
    return {
        **{kind: counts.get(kind, 0) for kind in CHANGE_KINDS},
        "total": sum(counts.values()),
        "paths": {kind: paths.get(kind, []) for kind in sorted({*CHANGE_KINDS, *paths})},
        "by_prefix": {
            prefix: {kind: c.get(kind, 0) for kind in sorted({*CHANGE_KINDS, *c})}
            for prefix, c in sorted(by_prefix.items())
        },
        "truncated": any(n > max_paths for n in counts.values()),
    }


class DiffOperator(LakeverBaseOperator):
    """Summarize what ``right_ref`` changes relative to ``left_ref``, for checks.

    With the default ``three_dot`` diff, the changes are those made on ``right_ref`` since
    it forked from ``left_ref`` (what a merge of ``right_ref`` into ``left_ref`` brings).

    :param repository: the repository id (templated).
    :param left_ref: the base, e.g. ``main`` (templated).
    :param right_ref: what to compare, e.g. the run branch (templated).
    :param prefix: limit the diff to paths under it (templated).
    :param prefix_depth: leading path components grouped in ``by_prefix``.
    :param max_paths: the most paths listed per kind.
    :param diff_type: ``three_dot`` (since the merge base) or ``two_dot``.
    :param lakever_conn_id: the Airflow connection to the server (templated).
    :return: (XCom) ``{"added": n, "changed": n, "removed": n, "total": n, "paths":
        {kind: [...]}, "by_prefix": {prefix: {kind: n}}, "truncated": bool}``.
    """

    template_fields: Sequence[str] = (
        *LakeverBaseOperator.template_fields,
        "left_ref",
        "right_ref",
        "prefix",
    )
    operator_extra_links = (LakeverDiffLink(),)

    def __init__(
        self,
        *,
        left_ref: str,
        right_ref: str,
        prefix: str | None = None,
        prefix_depth: int = 1,
        max_paths: int = 1000,
        diff_type: str = "three_dot",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.left_ref = left_ref
        self.right_ref = right_ref
        self.prefix = prefix
        self.prefix_depth = prefix_depth
        self.max_paths = max_paths
        self.diff_type = diff_type

    def execute(self, context: Context) -> dict[str, Any]:
        changes = [
            (d.type, d.path)
            for d in self.hook.diff(
                self.repository,
                self.left_ref,
                self.right_ref,
                prefix=self.prefix,
                diff_type=self.diff_type,
            )
        ]
        summary = summarize_diff(changes, prefix_depth=self.prefix_depth, max_paths=self.max_paths)
        self.log.info(
            "%s...%s: %d added, %d changed, %d removed",
            self.left_ref,
            self.right_ref,
            summary["added"],
            summary["changed"],
            summary["removed"],
        )
        self.remember_links(diff_base=self.left_ref, diff_compare=self.right_ref)
        return summary
