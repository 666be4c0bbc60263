"""Request bodies, with lakeFS's field names. Unknown fields are refused (400)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RepositoryCreation(Body):
    name: str
    storage_namespace: str
    default_branch: str | None = None
    sample_data: bool = False
    read_only: bool = False
    storage_id: str | None = None


class RepositoryMetadataSet(Body):
    metadata: dict[str, str]


class RepositoryMetadataKeys(Body):
    keys: list[str]


class BranchProtectionRule(Body):
    pattern: str = Field(min_length=1)


class GarbageCollectionRule(Body):
    branch_id: str
    retention_days: int


class GarbageCollectionRules(Body):
    default_retention_days: int
    branches: list[GarbageCollectionRule] = Field(default_factory=list)


class BranchCreation(Body):
    name: str
    source: str
    force: bool = False
    hidden: bool = False


class ResetCreation(Body):
    type: Literal["object", "common_prefix", "reset"]
    path: str | None = None
    force: bool = False


class CommitOverrides(Body):
    message: str | None = None
    metadata: dict[str, str] | None = None


class RevertCreation(Body):
    ref: str
    parent_number: int = 0
    commit_overrides: CommitOverrides | None = None
    force: bool = False
    allow_empty: bool = False


class CherryPickCreation(Body):
    ref: str
    parent_number: int | None = None
    commit_overrides: CommitOverrides | None = None
    force: bool = False


class CommitCreation(Body):
    message: str
    metadata: dict[str, str] | None = None
    date: int | None = None
    allow_empty: bool = False
    force: bool = False


class Merge(Body):
    message: str | None = None
    metadata: dict[str, str] | None = None
    strategy: Literal["dest-wins", "source-wins"] | None = None
    force: bool = False
    allow_empty: bool = False
    squash_merge: bool = False


class TagCreation(Body):
    id: str
    ref: str
    force: bool = False


class ObjectCopyCreation(Body):
    src_path: str
    src_ref: str | None = None
    force: bool = False
    shallow: bool = False


class UpdateObjectUserMetadata(Body):
    set: dict[str, str]


class PathList(Body):
    paths: list[str]


class StagingLocation(Body):
    physical_address: str | None = None
    presigned_url: str | None = None
    presigned_url_expiry: int | None = None


class StagingMetadata(Body):
    staging: StagingLocation
    checksum: str
    size_bytes: int = Field(ge=0)
    user_metadata: dict[str, str] | None = None
    content_type: str | None = None
    mtime: int | None = None
    force: bool = False


class ImportLocation(Body):
    type: Literal["common_prefix", "object"]
    path: str
    destination: str


class ImportCreation(Body):
    paths: list[ImportLocation] = Field(min_length=1)
    commit: CommitCreation
    force: bool = False


class AccessKeyCredentials(Body):
    access_key_id: str
    secret_access_key: str


class Setup(Body):
    username: str
    key: AccessKeyCredentials | None = None
    first_name: str | None = None
    last_name: str | None = None
    email: str | None = None
    company_name: str | None = None
    country: str | None = None
    feature_updates: bool | None = None
    security_updates: bool | None = None


class CommPrefsInput(Body):
    first_name: str | None = None
    last_name: str | None = None
    email: str | None = None
    company_name: str | None = None
    country: str | None = None
    feature_updates: bool
    security_updates: bool


class LoginInformation(Body):
    access_key_id: str
    secret_access_key: str


class UserCreation(Body):
    id: str
    invite_user: bool | None = None
