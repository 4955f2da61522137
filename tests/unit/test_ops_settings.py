"""Operations settings refuse what would be unsafe; interaction names never hold ids."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from gateway.api.interactions import fhir_interaction, interaction_name, request_class
from gateway.config import HttpSettings, Settings, TelemetrySettings, settings_from_environment


@pytest.mark.parametrize(
    "origin", ["*", "https://*.example", "app.example", "https://app.example/", "https://a/b"]
)
def test_cors_origins_must_be_exact(origin: str) -> None:
    with pytest.raises(ValidationError):
        HttpSettings(cors_origins=[origin])


def test_exact_origins_are_kept() -> None:
    http = HttpSettings(cors_origins=["https://app.example", "http://localhost:3000"])
    assert http.cors_origins == ["https://app.example", "http://localhost:3000"]


def test_a_metrics_token_is_long_and_required_for_token_mode() -> None:
    with pytest.raises(ValidationError):
        TelemetrySettings(metrics_token="short")
    with pytest.raises(ValidationError):
        TelemetrySettings(metrics="token")
    assert TelemetrySettings(metrics="token", metrics_token="x" * 16).metrics == "token"


def test_settings_groups_read_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GATEWAY_HTTP__CORS_ORIGINS", '["https://app.example"]')
    monkeypatch.setenv("GATEWAY_RATE_LIMITS__ON_REDIS_ERROR", "closed")
    monkeypatch.setenv("GATEWAY_TELEMETRY__LOG_FORMAT", "text")
    settings = Settings(env="dev")
    assert settings.http.cors_origins == ["https://app.example"]
    assert settings.rate_limits.on_redis_error == "closed"
    assert settings.telemetry.log_format == "text"


@pytest.mark.parametrize(
    ("method", "path", "name"),
    [
        ("GET", "/fhir/Patient/123", "read"),
        ("HEAD", "/fhir/Patient/123", "read"),
        ("GET", "/fhir/Patient/123/_history/2", "vread"),
        ("GET", "/fhir/Patient/123/_history", "history-instance"),
        ("GET", "/fhir/Patient", "search-type"),
        ("POST", "/fhir/Patient/_search", "search-type"),
        ("POST", "/fhir/Patient", "create"),
        ("PUT", "/fhir/Patient/1", "update"),
        ("PATCH", "/fhir/Patient/1", "patch"),
        ("DELETE", "/fhir/Patient/1", "delete"),
        ("POST", "/fhir", "batch-transaction"),
        ("GET", "/fhir/metadata", "capabilities"),
        ("GET", "/fhir/_history", "history-system"),
        ("GET", "/fhir/Patient/1/$everything", "operation:$everything"),
        ("GET", "/fhir/Patient/1/$secret-123", "operation"),
        ("GET", "/fhir/Patient/1/Observation", "search-compartment"),
    ],
)
def test_fhir_interactions_are_named_by_shape(method: str, path: str, name: str) -> None:
    assert interaction_name(method, path, "/fhir/{path:path}") == name


def test_other_routes_use_their_template() -> None:
    assert interaction_name("GET", "/ingest/quarantine/abc", "/ingest/quarantine/{entry_id}") == (
        "/ingest/quarantine/{entry_id}"
    )
    assert interaction_name("GET", "/nothing/here/42", None) == "unmatched"
    assert fhir_interaction("GET", []) == "search-system"


def test_ingestion_is_its_own_class() -> None:
    assert request_class("POST", "/fhir") == "ingest"
    assert request_class("POST", "/fhir/") == "ingest"
    assert request_class("POST", "/ingest/hl7v2") == "ingest"
    assert request_class("POST", "/ingest/csv/vitals") == "ingest"
    assert request_class("POST", "/ingest/quarantine/abc/$replay") == "ingest"
    assert request_class("GET", "/ingest/quarantine") == "api"
    assert request_class("POST", "/fhir/Patient") == "api"
    assert request_class("GET", "/fhir") == "api"


def test_secrets_can_come_from_a_secrets_dir(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    (tmp_path / "gateway_secret_key").write_text("ab" * 32)
    (tmp_path / "gateway_database_url").write_text("postgresql://gw:pw@db:5432/gw")
    monkeypatch.setenv("GATEWAY_SECRETS_DIR", str(tmp_path))
    monkeypatch.setenv("GATEWAY_ENV", "dev")
    settings = settings_from_environment()
    assert settings.secret_key is not None
    assert settings.secret_key.get_secret_value() == "ab" * 32
    assert settings.database_url == "postgresql://gw:pw@db:5432/gw"
    monkeypatch.delenv("GATEWAY_SECRETS_DIR")
    assert settings_from_environment().database_url is None
