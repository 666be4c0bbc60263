"""The one settings object of lakever-server.

Sources, highest priority first: ``LAKEVER_*`` environment variables (``__`` separates
nested fields: ``LAKEVER_LISTEN__PORT=9000``), then a YAML configuration file (passed with
``--config`` or named by ``LAKEVER_CONFIG``), then the defaults below. Every field is
documented in ``docs/configuration.md``; a test fails when one is not.
"""

from __future__ import annotations

import os
from contextvars import ContextVar
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, SecretStr
from pydantic.fields import FieldInfo
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from lakever_server.errors import InvalidValue

CONFIG_ENV = "LAKEVER_CONFIG"
_file_values: ContextVar[dict[str, Any] | None] = ContextVar("lakever_config_file", default=None)
DEFAULT_DATA_DIR = "~/.lakever"


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ListenSettings(_Section):
    """Where the HTTP server listens."""

    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=0, le=65535)


class MetadataSettings(_Section):
    """The metadata (key/value) store."""

    url: str | None = None
    """``sqlite:///<path>`` or ``postgresql://...``; default ``sqlite:///<data_dir>/metadata.db``."""
    migrate_on_start: bool = True
    """Upgrade the metadata schema (Alembic) on start; else ``lakever-server migrate``."""


class LocalBlockstoreSettings(_Section):
    path: str | None = None
    """Root directory of ``local://`` blobs; default ``<data_dir>/blocks``."""


class S3BlockstoreSettings(_Section):
    endpoint_url: str | None = None
    region: str = "us-east-1"
    access_key_id: str | None = None
    secret_access_key: SecretStr | None = None
    force_path_style: bool = True


class BlockstoreSettings(_Section):
    """The block store holding object content and committed tree nodes."""

    type: Literal["local", "s3", "memory"] = "local"
    default_namespace_prefix: str | None = None
    """Prefix suggested for new repositories' storage namespaces; default ``<type>://``."""
    local: LocalBlockstoreSettings = Field(default_factory=LocalBlockstoreSettings)
    s3: S3BlockstoreSettings = Field(default_factory=S3BlockstoreSettings)


class EncryptSettings(_Section):
    secret_key: SecretStr | None = None
    """Key that encrypts secret access keys at rest and signs session tokens."""


class AuthSettings(_Section):
    encrypt: EncryptSettings = Field(default_factory=EncryptSettings)
    login_duration_seconds: int = Field(default=7 * 24 * 3600, gt=0)
    cookie_secure: bool = False
    """Mark the session cookie ``Secure`` (set when serving over HTTPS)."""
    credential_cache_seconds: float = Field(default=5.0, ge=0)
    """How long a verified access key stays cached; a deleted key stops working after it."""


class LimitsSettings(_Section):
    max_header_bytes: int = Field(default=64 * 1024, gt=0)
    """Largest total size of a request's headers; larger requests get 431."""
    max_json_body_bytes: int = Field(default=1024 * 1024, gt=0)
    max_object_bytes: int = Field(default=5 * 1024**4, gt=0)
    """Largest object accepted by the REST upload (5 TiB, as S3)."""
    max_bulk_delete_paths: int = Field(default=1000, gt=0)
    link_token_ttl_seconds: int = Field(default=3600, gt=0)
    """Validity of the signed token returned by ``get physical address``."""


class ObservabilitySettings(_Section):
    """Logs and metrics."""

    log_format: Literal["json", "text"] = "json"
    """``json``: one JSON object per line with the request id; ``text`` for humans."""
    metrics_host: str = "127.0.0.1"
    metrics_port: int | None = Field(default=None, ge=0, le=65535)
    """Serve Prometheus ``/metrics`` on this separate port; ``None``: no metrics listener."""


class Settings(BaseSettings):
    """Every setting of lakever-server (see ``docs/configuration.md``)."""

    model_config = SettingsConfigDict(
        env_prefix="LAKEVER_", env_nested_delimiter="__", extra="forbid"
    )

    data_dir: str = DEFAULT_DATA_DIR
    listen: ListenSettings = Field(default_factory=ListenSettings)
    metadata: MetadataSettings = Field(default_factory=MetadataSettings)
    blockstore: BlockstoreSettings = Field(default_factory=BlockstoreSettings)
    auth: AuthSettings = Field(default_factory=AuthSettings)
    limits: LimitsSettings = Field(default_factory=LimitsSettings)
    observability: ObservabilitySettings = Field(default_factory=ObservabilitySettings)
    quickstart: bool = False
    """Create the quickstart admin (``AKIAIOSFOLQUICKSTART``) on start when absent."""
    log_level: Literal["debug", "info", "warning", "error"] = "info"

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Command-line flags (init kwargs) beat the environment, which beats the file.
        return (init_settings, env_settings, _FileSource(settings_cls))

    # -- derived values -----------------------------------------------------------------
    @property
    def data_path(self) -> Path:
        return Path(self.data_dir).expanduser().resolve()

    @property
    def metadata_url(self) -> str:
        return self.metadata.url or f"sqlite:///{self.data_path / 'metadata.db'}"

    @property
    def blocks_path(self) -> Path:
        path = self.blockstore.local.path
        return Path(path).expanduser().resolve() if path else self.data_path / "blocks"

    @property
    def namespace_prefix(self) -> str:
        default = {"local": "local://", "s3": "s3://", "memory": "mem://"}[self.blockstore.type]
        return self.blockstore.default_namespace_prefix or default


class _FileSource(PydanticBaseSettingsSource):
    """The YAML configuration file's values, set by ``load_settings`` for one call."""

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return (_file_values.get() or {}).get(field_name), field_name, False

    def __call__(self) -> dict[str, Any]:
        return dict(_file_values.get() or {})


def read_config_file(path: str | Path) -> dict[str, Any]:
    """The YAML mapping in ``path`` (an empty file is an empty mapping)."""
    try:
        loaded = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as err:
        raise InvalidValue(f"cannot read configuration file {path}: {err}") from err
    if loaded is None:
        return {}
    if not isinstance(loaded, dict):
        raise InvalidValue(f"configuration file {path} must hold a mapping")
    return loaded


def load_settings(
    config_file: str | Path | None = None, overrides: dict[str, Any] | None = None
) -> Settings:
    """Settings from the config file (``config_file`` or ``$LAKEVER_CONFIG``), overridden
    by ``LAKEVER_*`` variables, overridden by command-line ``overrides`` (top-level fields
    with nested dicts; a nested dict replaces only the keys it names)."""
    path = config_file or os.environ.get(CONFIG_ENV)
    token = _file_values.set(read_config_file(path) if path else {})
    try:
        base = Settings()
        if not overrides:
            return base
        merged = _deep_merge(base.model_dump(), overrides)
        return Settings(**merged)
    finally:
        _file_values.reset(token)


def _deep_merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged
