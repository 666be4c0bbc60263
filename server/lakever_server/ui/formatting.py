"""Jinja filters and helpers: sizes, dates, short ids, and links found in commit metadata."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlsplit

# Keys the Airflow provider stamps on every commit it makes
# (``airflow_provider_lakever.utils.stamps``; the server never imports the provider).
AIRFLOW_TASK_URL = "airflow.task_url"
AIRFLOW_DAG_ID = "airflow.dag_id"
AIRFLOW_RUN_ID = "airflow.run_id"
AIRFLOW_TASK_ID = "airflow.task_id"
AIRFLOW_TRY_NUMBER = "airflow.try_number"
# lakeFS's convention for links in commit metadata: ``::lakefs::<name>::url[url:ui]``.
_LAKEFS_LINK_PREFIX = "::lakefs::"
_LAKEFS_LINK_SUFFIX = "::url[url:ui]"


def human_size(size: int | None) -> str:
    if size is None:
        return ""
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            return f"{int(value)} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} B"  # pragma: no cover - loop always returns


def format_time(epoch: int | None) -> str:
    if not epoch:
        return ""
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def short_id(commit_id: str) -> str:
    return commit_id[:12]


def first_line(message: str) -> str:
    return message.splitlines()[0] if message else ""


def is_web_url(value: str) -> bool:
    """Only http(s) URLs become links: metadata is user input (no ``javascript:``)."""
    try:
        parts = urlsplit(value)
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.netloc)


@dataclass(frozen=True)
class MetadataLink:
    label: str
    url: str


def airflow_link(metadata: dict[str, str]) -> MetadataLink | None:
    """The link back to the Airflow task that made a commit, when its metadata has one."""
    url = metadata.get(AIRFLOW_TASK_URL, "")
    if not is_web_url(url):
        return None
    task = metadata.get(AIRFLOW_TASK_ID, "")
    dag = metadata.get(AIRFLOW_DAG_ID, "")
    label = f"{dag}.{task}" if dag and task else "Airflow task"
    try_number = metadata.get(AIRFLOW_TRY_NUMBER, "")
    if try_number:
        label += f" (try {try_number})"
    return MetadataLink(label, url)


def metadata_links(metadata: dict[str, str]) -> list[MetadataLink]:
    """Every link a commit's metadata carries: Airflow's, then lakeFS-style UI links."""
    links: list[MetadataLink] = []
    airflow = airflow_link(metadata)
    if airflow is not None:
        links.append(airflow)
    for key, value in sorted(metadata.items()):
        if key.startswith(_LAKEFS_LINK_PREFIX) and key.endswith(_LAKEFS_LINK_SUFFIX):
            name = key[len(_LAKEFS_LINK_PREFIX) : -len(_LAKEFS_LINK_SUFFIX)] or "link"
            if is_web_url(value):
                links.append(MetadataLink(name, value))
    return links


def parent_prefix(path: str) -> str:
    """The folder holding ``path`` (``a/b/`` for ``a/b/c`` and for ``a/b/c/``)."""
    trimmed = path[:-1] if path.endswith("/") else path
    cut = trimmed.rfind("/")
    return trimmed[: cut + 1] if cut >= 0 else ""


def breadcrumbs(path: str) -> list[tuple[str, str]]:
    """``[(label, prefix-or-path)]`` for each segment of ``path``."""
    crumbs: list[tuple[str, str]] = []
    start = 0
    while True:
        cut = path.find("/", start)
        if cut < 0:
            if start < len(path):
                crumbs.append((path[start:], path))
            return crumbs
        crumbs.append((path[start:cut], path[: cut + 1]))
        start = cut + 1


def display_name(path: str, prefix: str) -> str:
    """A listing row's name relative to the folder being shown."""
    return path[len(prefix) :] if path.startswith(prefix) else path


FILTERS = {
    "human_size": human_size,
    "format_time": format_time,
    "short_id": short_id,
    "first_line": first_line,
}
