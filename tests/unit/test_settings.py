from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from gateway.app import create_app
from gateway.config import Settings
from gateway.keyfile import ConfigurationError, server_secret


def test_auth_disabled_needs_dev() -> None:
    with pytest.raises(ValidationError, match="GATEWAY_AUTH=disabled"):
        Settings(env="prod", auth="disabled")
    assert Settings(env="dev", auth="disabled").auth == "disabled"


def test_an_open_api_outside_dev_is_refused(tmp_path: Path) -> None:
    settings = Settings(env="dev", auth="disabled", data_dir=tmp_path)
    object.__setattr__(settings, "env", "prod")  # bypassing the Settings check on purpose
    with pytest.raises(ConfigurationError, match="GATEWAY_AUTH=disabled"):
        create_app(settings)


def test_production_needs_an_explicit_secret(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="GATEWAY_SECRET_KEY"):
        server_secret(Settings(env="prod", data_dir=tmp_path))
    with pytest.raises(ConfigurationError, match="32 bytes"):
        server_secret(Settings(env="prod", data_dir=tmp_path, secret_key="short"))
    key = server_secret(Settings(env="prod", data_dir=tmp_path, secret_key="ab" * 32))
    assert key == bytes.fromhex("ab" * 32)


def test_dev_secret_is_generated_once_and_private(tmp_path: Path) -> None:
    settings = Settings(env="dev", data_dir=tmp_path)
    first = server_secret(settings)
    assert server_secret(settings) == first
    assert (tmp_path / "secret.key").stat().st_mode & 0o777 == 0o600


def test_database_urls(tmp_path: Path) -> None:
    assert Settings(data_dir=tmp_path).sqlalchemy_url.startswith("sqlite:///")
    pg = Settings(database_url="postgresql://u:p@h:5432/d")
    assert pg.sqlalchemy_url == "postgresql+psycopg://u:p@h:5432/d"
    assert not pg.is_sqlite


def test_environment_is_read_only_when_asked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GATEWAY_LIMITS__MAX_COUNT", "77")
    monkeypatch.setenv("GATEWAY_DATABASE_URL", "postgresql://x/y")
    settings = Settings()
    assert settings.limits.max_count == 77
    assert settings.database_url == "postgresql://x/y"


def test_a_gateway_variable_that_configures_nothing_is_named() -> None:
    from gateway.config import unknown_variables

    environ = {
        "GATEWAY_PORT": "8094",  # the port is a `serve` option, not a setting
        "GATEWAY_DATABASE_UR": "postgresql://x",  # a typo: SQLite would stay in force
        "GATEWAY_DATABASE_URL": "postgresql://x",
        "GATEWAY_LIMITS__MAX_COUNT": "50",
        "GATEWAY_LIMITS__MAX_CONT": "50",
        "GATEWAY_SYNC__ALLOWED_ORIGINS": "[]",
        "GATEWAY_SECRETS_DIR": "/run/secrets",
        "GATEWAY_TEST_WORKERS": "2",
        "PATH": "/usr/bin",
    }
    assert unknown_variables(environ) == [
        "GATEWAY_DATABASE_UR",
        "GATEWAY_LIMITS__MAX_CONT",
        "GATEWAY_PORT",
    ]
