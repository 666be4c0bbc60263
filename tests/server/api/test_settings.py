"""Settings: defaults, config file, LAKEVER_* overrides, command-line flags, docs."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import BaseModel, ValidationError

from lakever_server.config import Settings, load_settings
from lakever_server.errors import InvalidValue

DOCS = Path(__file__).resolve().parents[3] / "docs" / "configuration.md"


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    for name in list(os.environ):
        if name.startswith("LAKEVER_"):
            monkeypatch.delenv(name)


def test_defaults_listen_on_localhost_8000_with_embedded_stores(tmp_path: Path) -> None:
    settings = load_settings(None, {"data_dir": str(tmp_path)})
    assert (settings.listen.host, settings.listen.port) == ("127.0.0.1", 8000)
    assert settings.metadata_url == f"sqlite:///{tmp_path / 'metadata.db'}"
    assert settings.blocks_path == tmp_path / "blocks"
    assert settings.namespace_prefix == "local://"


def test_environment_overrides_the_file_and_flags_override_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "lakever.yaml"
    config.write_text("listen:\n  host: 0.0.0.0\n  port: 9001\nlog_level: warning\n")
    monkeypatch.setenv("LAKEVER_LISTEN__PORT", "9002")
    monkeypatch.setenv("LAKEVER_CONFIG", str(config))
    from_env = load_settings()
    assert (from_env.listen.host, from_env.listen.port) == ("0.0.0.0", 9002)
    assert from_env.log_level == "warning"
    flagged = load_settings(None, {"listen": {"port": 9003}})
    assert (flagged.listen.host, flagged.listen.port) == ("0.0.0.0", 9003)


def test_unknown_keys_in_the_file_are_refused(tmp_path: Path) -> None:
    config = tmp_path / "lakever.yaml"
    config.write_text("listen:\n  prot: 9000\n")
    with pytest.raises(ValidationError, match="prot"):
        load_settings(config)


def test_a_file_that_is_not_a_mapping_is_refused(tmp_path: Path) -> None:
    config = tmp_path / "lakever.yaml"
    config.write_text("- just\n- a list\n")
    with pytest.raises(InvalidValue, match="mapping"):
        load_settings(config)


def test_secret_key_never_shows_in_the_settings_repr(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LAKEVER_AUTH__ENCRYPT__SECRET_KEY", "very-secret-value")
    settings = load_settings()
    assert settings.auth.encrypt.secret_key is not None
    assert settings.auth.encrypt.secret_key.get_secret_value() == "very-secret-value"
    assert "very-secret-value" not in repr(settings)


def _setting_names(model: type[BaseModel], prefix: str = "") -> list[str]:
    names = []
    for name, info in model.model_fields.items():
        annotation = info.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            names += _setting_names(annotation, f"{prefix}{name}.")
        else:
            names.append(prefix + name)
    return names


@pytest.mark.parametrize("name", _setting_names(Settings))
def test_every_setting_is_documented_with_its_environment_variable(name: str) -> None:
    docs = DOCS.read_text()
    assert f"`{name}`" in docs
    assert f"`LAKEVER_{name.upper().replace('.', '__')}`" in docs
