"""Configuration resolution: flags > LAKECTL_* env > lakectl-style YAML file > defaults."""

from __future__ import annotations

from pathlib import Path

import pytest

from lakever_server.cli.config import normalize_endpoint, resolve
from lakever_server.cli.errors import UsageError

SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
NO_FLAGS: dict[str, str | None] = {}


def write_lakectl_yaml(
    path: Path, endpoint: str, key: str = "AKIAFILE", secret: str = "file-secret"
) -> Path:
    path.write_text(
        "credentials:\n"
        f"  access_key_id: {key}\n"
        f"  secret_access_key: {secret}\n"
        "server:\n"
        f"  endpoint_url: {endpoint}\n",
        encoding="utf-8",
    )
    return path


def test_an_existing_lakectl_yaml_in_home_is_read(tmp_path: Path) -> None:
    write_lakectl_yaml(tmp_path / ".lakectl.yaml", "http://lake.example:8000/api/v1")
    config = resolve(NO_FLAGS, {"HOME": str(tmp_path)})
    assert config.endpoint_url == "http://lake.example:8000/api/v1"
    assert config.access_key_id == "AKIAFILE"
    assert config.secret_access_key == "file-secret"
    assert config.sources["credentials.access_key_id"].startswith("file ")


def test_env_overrides_the_file_and_flags_override_env(tmp_path: Path) -> None:
    write_lakectl_yaml(tmp_path / ".lakectl.yaml", "http://file:1")
    env = {
        "HOME": str(tmp_path),
        "LAKECTL_SERVER_ENDPOINT_URL": "http://env:2",
        "LAKECTL_CREDENTIALS_ACCESS_KEY_ID": "AKIAENV",
    }
    from_env = resolve(NO_FLAGS, env)
    assert from_env.endpoint_url == "http://env:2/api/v1"
    assert from_env.access_key_id == "AKIAENV"
    assert from_env.secret_access_key == "file-secret"  # not in env: still from the file
    flags = {"server.endpoint_url": "http://flag:3", "credentials.access_key_id": None}
    from_flags = resolve(flags, env)
    assert from_flags.endpoint_url == "http://flag:3/api/v1"
    assert from_flags.access_key_id == "AKIAENV"  # an unset flag does not hide env
    assert from_flags.sources["server.endpoint_url"] == "flag --endpoint"
    assert (
        from_flags.sources["credentials.access_key_id"] == "env LAKECTL_CREDENTIALS_ACCESS_KEY_ID"
    )


def test_config_file_flag_beats_env_file_and_home(tmp_path: Path) -> None:
    write_lakectl_yaml(tmp_path / ".lakectl.yaml", "http://home:1")
    env_file = write_lakectl_yaml(tmp_path / "env.yaml", "http://envfile:2")
    flag_file = write_lakectl_yaml(tmp_path / "flag.yaml", "http://flagfile:3")
    env = {"HOME": str(tmp_path), "LAKECTL_CONFIG_FILE": str(env_file)}
    assert resolve(NO_FLAGS, env).endpoint_url == "http://envfile:2/api/v1"
    assert resolve(NO_FLAGS, env, str(flag_file)).endpoint_url == "http://flagfile:3/api/v1"


def test_without_any_configuration_the_local_server_is_the_default(tmp_path: Path) -> None:
    config = resolve(NO_FLAGS, {"HOME": str(tmp_path)})
    assert config.endpoint_url == "http://127.0.0.1:8000/api/v1"
    assert config.access_key_id == ""
    assert config.sources["server.endpoint_url"] == "default"


def test_a_named_config_file_that_does_not_exist_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="does not exist"):
        resolve(NO_FLAGS, {"HOME": str(tmp_path)}, str(tmp_path / "missing.yaml"))


def test_a_malformed_config_file_is_a_usage_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("credentials: [unclosed\n", encoding="utf-8")
    with pytest.raises(UsageError, match="not valid YAML"):
        resolve(NO_FLAGS, {"HOME": str(tmp_path)}, str(bad))
    bad.write_text("- a list\n", encoding="utf-8")
    with pytest.raises(UsageError, match="mapping"):
        resolve(NO_FLAGS, {"HOME": str(tmp_path)}, str(bad))


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("http://h:8000", "http://h:8000/api/v1"),
        ("http://h:8000/", "http://h:8000/api/v1"),
        ("http://h:8000/api/v1", "http://h:8000/api/v1"),
        ("https://lake.example/api/v1/", "https://lake.example/api/v1"),
    ],
)
def test_endpoint_with_or_without_api_path_means_the_api_root(given: str, expected: str) -> None:
    assert normalize_endpoint(given) == expected


def test_endpoint_must_be_http(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="invalid endpoint"):
        resolve({"server.endpoint_url": "ftp://x"}, {"HOME": str(tmp_path)})


def test_describe_masks_the_secret_and_names_sources(tmp_path: Path) -> None:
    env = {"HOME": str(tmp_path), "LAKECTL_CREDENTIALS_SECRET_ACCESS_KEY": SECRET}
    config = resolve(NO_FLAGS, env)
    described = {row["key"]: row for row in config.describe()}
    shown = described["credentials.secret_access_key"]["value"]
    assert SECRET not in shown
    assert shown.endswith(SECRET[-4:])
    assert SECRET not in repr(config)
