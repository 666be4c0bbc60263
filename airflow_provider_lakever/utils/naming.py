"""Branch names for DAG runs.

A run id such as ``scheduled__2026-11-21T00:00:00+00:00`` is not a valid branch name
(``^\\w[-\\w]*$``, ASCII only). The name keeps a readable slug of the DAG id and run id and
ends in a hash of the full, unsanitized values, so two runs whose slugs collide (or get
truncated to the same prefix) still get distinct branches, and a retried task computes the
same name again.
"""

from __future__ import annotations

import hashlib
import re

BRANCH_NAME = re.compile(r"^[A-Za-z0-9_][-A-Za-z0-9_]*$")
DEFAULT_MAX_LENGTH = 64
HASH_LENGTH = 10
_INVALID = re.compile(r"[^A-Za-z0-9_-]+")
_DASHES = re.compile(r"-{2,}")


def sanitize_branch_name(text: str, *, max_length: int = DEFAULT_MAX_LENGTH) -> str:
    """Turn ``text`` into a valid branch name of at most ``max_length`` characters.

    Invalid characters become ``-``; the result always ends in a stable hash of ``text``.

    :param text: any string (a run id, a DAG id...).
    :param max_length: the upper bound of the name's length (at least ``HASH_LENGTH + 2``).
    """
    if max_length < HASH_LENGTH + 2:
        raise ValueError(f"max_length must be at least {HASH_LENGTH + 2}")
    digest = hashlib.sha256(text.encode()).hexdigest()[:HASH_LENGTH]
    slug = _DASHES.sub("-", _INVALID.sub("-", text)).strip("-_")
    slug = slug[: max_length - HASH_LENGTH - 1].rstrip("-_")
    return f"{slug}-{digest}" if slug else f"run-{digest}"[:max_length]


def run_branch_name(
    dag_id: str, run_id: str, *, prefix: str = "run", max_length: int = DEFAULT_MAX_LENGTH
) -> str:
    """The branch of one DAG run: ``<prefix>-<dag id>-<run id>-<hash>``, sanitized.

    :param dag_id: the DAG's id.
    :param run_id: the DAG run's id.
    :param prefix: a leading word that groups run branches in listings.
    :param max_length: the upper bound of the name's length.
    """
    return sanitize_branch_name(f"{prefix}-{dag_id}-{run_id}", max_length=max_length)


def is_valid_branch_name(name: str) -> bool:
    """Whether ``name`` is a branch name every lakeFS-compatible server accepts."""
    return bool(BRANCH_NAME.match(name))
