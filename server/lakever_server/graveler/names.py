"""Validation of repository ids, branch and tag names, and ref expressions.

Ref expressions follow lakeFS: a base (commit id or unique prefix, branch, tag),
optionally ``@`` (committed state only) or ``$`` (the uncommitted workspace: staged over
committed, refused by operations that need a commit) directly after it, then
any number of ``~N`` (N-th first-parent ancestor) and ``^N`` (N-th parent) modifiers;
a bare ``~`` or ``^`` means 1.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from lakever_server.errors import InvalidValue

REPOSITORY_ID = re.compile(r"^[a-z0-9][a-z0-9-]{2,62}$")
BRANCH_NAME = re.compile(r"^\w[-\w]*$")
COMMIT_ID = re.compile(r"^[0-9a-f]{64}$")
HEX = re.compile(r"^[0-9a-f]+$")
_REF = re.compile(r"^(?P<base>[^~^@$\s]+)(?P<modifier>[@$]?)(?P<ops>(?:[~^][0-9]*)*)$")
_OP = re.compile(r"([~^])([0-9]*)")
_TAG_FORBIDDEN = re.compile(r"[\x00-\x20\x7f~^:?*\[\\]")
MAX_AMOUNT = 1000


def validate_repository_id(repository: str) -> str:
    if not isinstance(repository, str) or not REPOSITORY_ID.match(repository):
        raise InvalidValue(
            f"invalid repository id {repository!r}: expected {REPOSITORY_ID.pattern}",
            field="repository",
        )
    return repository


def validate_branch_name(branch: str) -> str:
    if not isinstance(branch, str) or not BRANCH_NAME.match(branch):
        raise InvalidValue(
            f"invalid branch name {branch!r}: expected {BRANCH_NAME.pattern}", field="branch"
        )
    return branch


def validate_tag_name(tag: str) -> str:
    """Git's ref-name rules (``git check-ref-format``), applied to one tag name."""
    bad = (
        not isinstance(tag, str)
        or not tag
        or tag == "@"
        or _TAG_FORBIDDEN.search(tag) is not None
        or ".." in tag
        or "@{" in tag
        or "//" in tag
        or tag.startswith("/")
        or tag.endswith(("/", ".", ".lock"))
        or any(part.startswith(".") for part in tag.split("/"))
    )
    if bad:
        raise InvalidValue(f"invalid tag name {tag!r}", field="tag")
    return tag


def validate_amount(amount: int) -> int:
    if not isinstance(amount, int) or not 1 <= amount <= MAX_AMOUNT:
        raise InvalidValue(f"amount must be between 1 and {MAX_AMOUNT}", field="amount")
    return amount


Modifier = Literal["", "@", "$"]


@dataclass(frozen=True)
class RefExpression:
    """A parsed ref: base name, branch modifier, and ancestry steps ``("~"|"^", n)``."""

    base: str
    modifier: Modifier
    steps: tuple[tuple[str, int], ...]


def parse_ref(text: str) -> RefExpression:
    """Parse a ref expression strictly; ``InvalidValue`` when malformed."""
    if not isinstance(text, str) or not text or len(text) > 1024:
        raise InvalidValue(f"invalid ref {text!r}", field="ref")
    match = _REF.match(text)
    if match is None:
        raise InvalidValue(f"invalid ref expression {text!r}", field="ref")
    steps: list[tuple[str, int]] = []
    for op, digits in _OP.findall(match.group("ops")):
        steps.append((op, int(digits) if digits else 1))
    modifier = match.group("modifier")
    if modifier == "$" and steps:
        raise InvalidValue(f"invalid ref expression {text!r}: '$' takes no modifiers", field="ref")
    return RefExpression(match.group("base"), modifier, tuple(steps))  # type: ignore[arg-type]
