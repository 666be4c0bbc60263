"""Per-repository settings kept by the catalog: branch protection, GC rules, metadata.

Each is one JSON document in graveler's settings. Branch-protection rules are glob
patterns (``fnmatch``) with an ETag (the SHA-256 of the stored document) so clients
can replace them with ``If-Match``.
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
from collections.abc import Sequence

from lakever_server.catalog.models import BranchProtectionRule, GarbageCollectionRules
from lakever_server.errors import InvalidValue, NotFound, PreconditionFailed
from lakever_server.graveler.graveler import Graveler
from lakever_server.graveler.model import RepositoryRecord, canonical_json

PROTECTION = "branch_protection"
GC_RULES = "gc_rules"
METADATA = "metadata"


def _etag(raw: bytes | None) -> str:
    return hashlib.sha256(raw).hexdigest() if raw else ""


class RepositorySettings:
    def __init__(self, graveler: Graveler) -> None:
        self.graveler = graveler

    # -- branch protection ------------------------------------------------------------
    def protection_rules(self, repository: str) -> tuple[list[BranchProtectionRule], str]:
        raw = self.graveler.get_setting(repository, PROTECTION)
        patterns = json.loads(raw) if raw else []
        return [BranchProtectionRule(pattern=p) for p in patterns], _etag(raw)

    def set_protection_rules(
        self, repository: str, rules: Sequence[BranchProtectionRule], if_match: str | None
    ) -> str:
        patterns = [r.pattern for r in rules]
        if any(not isinstance(p, str) or not p for p in patterns):
            raise InvalidValue("a protection rule needs a non-empty pattern", field="pattern")
        raw = canonical_json(patterns)
        current = self.graveler.get_setting(repository, PROTECTION)
        if if_match is not None and if_match.strip('"') != _etag(current):
            raise PreconditionFailed("branch protection rules changed (ETag mismatch)")
        try:
            self.graveler.set_setting(repository, PROTECTION, raw, expected=current, check=True)
        except PreconditionFailed as exc:
            raise PreconditionFailed("branch protection rules changed concurrently") from exc
        return _etag(raw)

    def is_protected(self, repository: str | RepositoryRecord, branch: str) -> bool:
        raw = self.graveler.get_setting(repository, PROTECTION)
        if not raw:
            return False
        return any(fnmatch.fnmatchcase(branch, p) for p in json.loads(raw))

    # -- garbage-collection rules -----------------------------------------------------
    def gc_rules(self, repository: str) -> GarbageCollectionRules:
        raw = self.graveler.get_setting(repository, GC_RULES)
        if raw is None:
            raise NotFound("no garbage collection rules", kind="gc_rules", name=repository)
        data = json.loads(raw)
        return GarbageCollectionRules(
            default_retention_days=int(data["default_retention_days"]),
            branches={str(k): int(v) for k, v in data["branches"].items()},
        )

    def set_gc_rules(self, repository: str, rules: GarbageCollectionRules) -> None:
        days = [rules.default_retention_days, *rules.branches.values()]
        if any(not isinstance(d, int) or d < 0 for d in days):
            raise InvalidValue("retention days must be non-negative integers", field="days")
        raw = canonical_json(
            {"default_retention_days": rules.default_retention_days, "branches": rules.branches}
        )
        self.graveler.set_setting(repository, GC_RULES, raw)

    def delete_gc_rules(self, repository: str) -> None:
        self.graveler.set_setting(repository, GC_RULES, None)

    # -- repository metadata ----------------------------------------------------------
    def metadata(self, repository: str) -> dict[str, str]:
        raw = self.graveler.get_setting(repository, METADATA)
        return {str(k): str(v) for k, v in json.loads(raw).items()} if raw else {}

    def update_metadata(
        self, repository: str, add: dict[str, str], remove: Sequence[str] = ()
    ) -> None:
        if any(not isinstance(k, str) or not isinstance(v, str) for k, v in add.items()):
            raise InvalidValue("metadata keys and values must be strings", field="metadata")
        current = self.metadata(repository)
        current.update(add)
        for key in remove:
            current.pop(key, None)
        self.graveler.set_setting(repository, METADATA, canonical_json(current))
