"""Where the command line finds its endpoint and credentials.

Resolution order, highest first: command-line flags, ``LAKECTL_*`` environment
variables, then a YAML file in lakectl's format (``--config``, ``LAKECTL_CONFIG_FILE``,
or ``~/.lakectl.yaml``), so an existing lakectl setup works unchanged::

    credentials:
      access_key_id: AKIA...
      secret_access_key: ...
    server:
      endpoint_url: http://127.0.0.1:8000/api/v1
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from lakever_server.cli.errors import UsageError, mask_secret

DEFAULT_ENDPOINT = "http://127.0.0.1:8000"
API_PATH = "/api/v1"
CONFIG_FILE_ENV = "LAKECTL_CONFIG_FILE"
DEFAULT_CONFIG_NAME = ".lakectl.yaml"


@dataclass(frozen=True)
class Setting:
    """One setting: its dotted key in the file, its env var and its flag."""

    key: str
    env: str
    flag: str
    secret: bool = False


SETTINGS: tuple[Setting, ...] = (
    Setting("server.endpoint_url", "LAKECTL_SERVER_ENDPOINT_URL", "--endpoint"),
    Setting("credentials.access_key_id", "LAKECTL_CREDENTIALS_ACCESS_KEY_ID", "--access-key-id"),
    Setting(
        "credentials.secret_access_key",
        "LAKECTL_CREDENTIALS_SECRET_ACCESS_KEY",
        "--secret-access-key",
        secret=True,
    ),
)


@dataclass(frozen=True)
class ClientConfig:
    """The resolved configuration, and where each value came from."""

    endpoint_url: str
    access_key_id: str
    secret_access_key: str = field(repr=False)
    config_file: Path | None = None
    sources: Mapping[str, str] = field(default_factory=dict)

    @property
    def secrets(self) -> tuple[str, ...]:
        return (self.secret_access_key,)

    def describe(self) -> list[dict[str, str]]:
        """Every setting with its value (secrets masked) and its source."""
        values = {
            "server.endpoint_url": self.endpoint_url,
            "credentials.access_key_id": self.access_key_id,
            "credentials.secret_access_key": mask_secret(self.secret_access_key),
        }
        return [
            {"key": s.key, "value": values[s.key], "source": self.sources.get(s.key, "unset")}
            for s in SETTINGS
        ]


def normalize_endpoint(url: str) -> str:
    """``http://host:8000`` and ``http://host:8000/api/v1/`` both mean the API root."""
    url = url.strip().rstrip("/")
    if not url.startswith(("http://", "https://")):
        raise UsageError(f"invalid endpoint {url!r}: expected http://host:port or https://...")
    if not url.endswith(API_PATH):
        url += API_PATH
    return url


def config_file_path(flag: str | None, env: Mapping[str, str]) -> tuple[Path | None, bool]:
    """The config file to read, and whether the user named it explicitly."""
    if flag:
        return Path(flag).expanduser(), True
    if env.get(CONFIG_FILE_ENV):
        return Path(env[CONFIG_FILE_ENV]).expanduser(), True
    home = env.get("HOME")
    base = Path(home) if home else Path.home()
    return base / DEFAULT_CONFIG_NAME, False


def read_config_file(path: Path) -> dict[str, str]:
    """Flatten a lakectl-style YAML file to ``{"server.endpoint_url": ...}``."""
    try:
        loaded: Any = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise UsageError(f"config file {path} is not valid YAML: {exc}".splitlines()[0]) from exc
    if loaded is None:
        return {}
    if not isinstance(loaded, dict):
        raise UsageError(f"config file {path} must hold a mapping of sections")
    flat: dict[str, str] = {}
    for section, values in loaded.items():
        if isinstance(values, dict):
            for key, value in values.items():
                if value is not None and not isinstance(value, dict | list):
                    flat[f"{section}.{key}"] = str(value)
    return flat


def resolve(
    flags: Mapping[str, str | None],
    env: Mapping[str, str],
    config_flag: str | None = None,
) -> ClientConfig:
    """Resolve every setting: flags > ``LAKECTL_*`` env > config file > defaults.

    Args:
        flags: values from the command line, keyed by dotted setting key.
        env: the process environment.
        config_flag: the ``--config`` value, if given.

    Raises:
        UsageError: an explicitly named config file is missing or malformed, or the
            endpoint is not an http(s) URL.
    """
    path, explicit = config_file_path(config_flag, env)
    from_file: dict[str, str] = {}
    if path is not None and path.is_file():
        from_file = read_config_file(path)
    elif explicit:
        raise UsageError(f"config file {path} does not exist")
    values: dict[str, str] = {}
    sources: dict[str, str] = {}
    for setting in SETTINGS:
        candidates = (
            (flags.get(setting.key), f"flag {setting.flag}"),
            (env.get(setting.env), f"env {setting.env}"),
            (from_file.get(setting.key), f"file {path}"),
        )
        for value, source in candidates:
            if value:
                values[setting.key] = value
                sources[setting.key] = source
                break
    if "server.endpoint_url" not in values:
        values["server.endpoint_url"] = DEFAULT_ENDPOINT
        sources["server.endpoint_url"] = "default"
    return ClientConfig(
        endpoint_url=normalize_endpoint(values["server.endpoint_url"]),
        access_key_id=values.get("credentials.access_key_id", ""),
        secret_access_key=values.get("credentials.secret_access_key", ""),
        config_file=path if path is not None and path.is_file() else None,
        sources=sources,
    )
