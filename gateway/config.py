"""One ``Settings`` class for the whole gateway (environment prefix ``GATEWAY_``).

Tests build ``Settings(...)`` directly and pass it to :func:`gateway.app.create_app`;
nothing reads the environment at import time.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

Environment = Literal["dev", "test", "prod"]


class LimitSettings(BaseModel):
    """Request limits. Beyond any of them the answer is 413 or 400, never a crash."""

    max_body_bytes: int = Field(default=10 * 1024 * 1024, ge=1024)
    max_bundle_entries: int = Field(default=1000, ge=1)
    default_count: int = Field(default=50, ge=1)
    max_count: int = Field(default=1000, ge=1)
    max_json_depth: int = Field(default=64, ge=8)
    max_json_container_items: int = Field(default=100_000, ge=100)
    max_string_bytes: int = Field(default=8 * 1024 * 1024, ge=1024)
    # Search (https://hl7.org/fhir/R4/search.html); past any of them a search is a 400.
    max_params: int = Field(default=100, ge=1)
    max_or_values: int = Field(default=100, ge=1)
    max_includes: int = Field(default=10, ge=0)
    max_iterate_depth: int = Field(default=3, ge=1)
    max_included_per_page: int = Field(default=1000, ge=1)
    max_link_candidates: int = Field(
        default=10_000,
        ge=1,
        description="Resources a chain, _has or _list may examine to find the visible ones.",
    )


class AuditSettings(BaseModel):
    """The tamper-evident audit log (issue 7): its identity, signing key and checkpoints.

    ``origin`` names the log in its checkpoints and is the signing key's name. The key
    file holds a signed-note signer key (``PRIVATE+KEY+<origin>+…``); without one the
    key is generated under the data dir in dev and test, and production refuses to start.
    """

    origin: str = Field(default="dmp-gateway.localhost/audit", pattern=r"^[!-*,-~]{1,200}$")
    key_file: Path | None = None
    checkpoint_every: int = Field(default=1000, ge=1, le=1000)
    checkpoint_seconds: float = Field(default=60.0, gt=0, le=60)
    append_timeout_seconds: float = Field(default=5.0, gt=0, le=60)


# -- publication and sync (issue 8) ------------------------------------------------------
class SyncSettings(BaseModel):
    """Change feed, subscriptions, bulk export and patient notices (``GATEWAY_SYNC__*``)."""

    stream_prefix: str = Field(
        default="dmpgw", description="Prefix of the Redis stream keys (one per deployment)."
    )
    stream_maxlen: int = Field(default=100_000, ge=10, description="XADD MAXLEN (approximate).")
    claim_idle_ms: int = Field(
        default=60_000, ge=0, description="Entries unacknowledged this long go to another worker."
    )
    feed_default_limit: int = Field(default=100, ge=1)
    feed_max_limit: int = Field(default=1000, ge=1)
    feed_max_wait: float = Field(default=60.0, ge=0, description="Long-poll cap in seconds.")
    feed_linger_ms: int = Field(
        default=20,
        ge=0,
        le=1000,
        description="After a long-poll wakes, wait this long for more changes to answer "
        "with (fewer, fuller answers under load).",
    )
    feed_share_reads: bool = Field(
        default=True,
        description="Feed callers woken together share the database reads of the changes "
        "(the access decision stays per caller); off: each caller reads alone.",
    )
    allowed_origins: list[str] = Field(
        default_factory=list,
        description="Exact origins (scheme://host[:port]) rest-hook endpoints may use.",
    )
    allow_private_addresses: bool = Field(
        default=False, description="Deliver to loopback, private or link-local addresses."
    )
    delivery_timeout: float = Field(default=10.0, gt=0)
    retry_base_seconds: float = Field(default=30.0, gt=0)
    retry_max_seconds: float = Field(default=6 * 3600.0, gt=0)
    retry_horizon_seconds: float = Field(
        default=72 * 3600.0, gt=0, description="Retry this long, then dead-letter."
    )
    signing_key_file: Path | None = Field(
        default=None,
        description="Ed25519 private JWK signing notifications; generated in the data dir "
        "in dev and test, required in production.",
    )
    export_dir: Path | None = Field(
        default=None, description="Where export files live (default: <data dir>/exports)."
    )
    export_file_resources: int = Field(default=50_000, ge=1, description="Resources per file.")
    notice_sender: str = Field(
        default="log", description="log, file, or module:factory of a NoticeSender."
    )
    notice_file: Path | None = Field(
        default=None, description="The file sender's output (default: <data dir>/notices.ndjson)."
    )
    announce_after_days: float = Field(default=14.0, ge=0)
    worker_poll_seconds: float = Field(default=1.0, gt=0)
    lease_seconds: float = Field(default=120.0, gt=0)
    delivery_concurrency: int = Field(default=4, ge=1, le=64)
    worker_in_server: Literal["auto", "on", "off"] = Field(
        default="auto",
        description="Run the sync worker inside the server process; auto: when there is "
        "no Redis (the in-process bus reaches no other process).",
    )


# -- operations (issue 9): rate limits, telemetry, HTTP hygiene ------------------------
class RateLimitSettings(BaseModel):
    """Token-bucket rate limits (``GATEWAY_RATE_LIMITS__*``).

    The rates themselves belong to each client in the registry (``rate_limit`` in
    ``clients.yaml``: the client, each professional, ingestion). Buckets live in Redis
    when ``GATEWAY_REDIS_URL`` is set (shared by every worker), else in each worker.
    """

    enabled: bool = Field(default=True, description="Apply the registry's rate limits.")
    on_redis_error: Literal["local", "open", "closed"] = Field(
        default="local",
        description="When Redis cannot be reached: fall back to per-worker buckets "
        "(local), let requests through (open), or refuse them with 503 (closed).",
    )
    audit_interval_seconds: float = Field(
        default=1.0,
        ge=0,
        description="Audit at most one refusal per bucket and worker in this interval "
        "(the others are counted in the next audited one and in /metrics).",
    )


class TelemetrySettings(BaseModel):
    """``/metrics`` and logs (``GATEWAY_TELEMETRY__*``)."""

    metrics: Literal["auto", "open", "token", "off"] = Field(
        default="auto",
        description="Who may read /metrics: anyone (open), a bearer of metrics_token "
        "(token), nobody (off; 404). auto: open in dev and test, token when "
        "metrics_token is set, otherwise off.",
    )
    metrics_token: SecretStr | None = Field(
        default=None, description="The bearer token /metrics asks for (16+ characters)."
    )
    log_format: Literal["json", "text"] = Field(
        default="json", description="One JSON object per line, or plain text (dev)."
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"

    @model_validator(mode="after")
    def _token_when_asked(self) -> TelemetrySettings:
        token = self.metrics_token.get_secret_value() if self.metrics_token else None
        if token is not None and len(token) < 16:
            raise ValueError("metrics_token: at least 16 characters")
        if self.metrics == "token" and token is None:
            raise ValueError("metrics=token needs metrics_token")
        return self


class HttpSettings(BaseModel):
    """HTTP hygiene (``GATEWAY_HTTP__*``): CORS, HSTS, timeouts, shutdown."""

    cors_origins: list[str] = Field(
        default_factory=list,
        description="Exact browser origins (scheme://host[:port]) allowed by CORS; "
        "none by default, never '*'.",
    )
    hsts_seconds: int = Field(
        default=0,
        ge=0,
        description="Strict-Transport-Security max-age; 0: no header (set it behind TLS).",
    )
    request_timeout: float = Field(
        default=30.0, gt=0, description="Seconds until the first byte of a response (503)."
    )
    ingest_timeout: float = Field(
        default=300.0, gt=0, description="The same for /ingest/* and batch/transaction."
    )
    shutdown_grace_seconds: float = Field(
        default=30.0,
        gt=0,
        description="On SIGTERM, wait this long for in-flight requests to finish.",
    )

    @model_validator(mode="after")
    def _exact_origins(self) -> HttpSettings:
        for origin in self.cors_origins:
            if "*" in origin or not origin.startswith(("https://", "http://")):
                raise ValueError(f"cors_origins: {origin!r} is not an exact origin")
            if origin.rstrip("/") != origin or origin.count("/") != 2:
                raise ValueError(f"cors_origins: {origin!r} must be scheme://host[:port]")
        return self


class CryptoSettings(BaseModel):
    """Encryption at rest and keyed index hashes (issue 9): see ``gateway/crypto/README.md``.

    Environment names: ``GATEWAY_CRYPTO__ENCRYPT``, ``GATEWAY_CRYPTO__KEK_FILE``, …
    """

    # Envelope encryption of stored content (resource bodies, history, quarantine, audit).
    encrypt: bool = Field(default=True, description="Seal stored content with AES-256-GCM.")
    kek_file: Path | None = Field(
        default=None,
        description="Key-encryption keys (JSON, mode 0600); dev: generated in the data dir.",
    )
    kek: SecretStr | None = Field(
        default=None,
        description="An environment-provided KEK (32 bytes, hex or base64), used instead "
        "of the key file's current one.",
    )
    kms: str | None = Field(
        default=None, description="A ``module:factory`` returning a KeyWrapper (KMS/HSM seam)."
    )
    key_cache_size: int = Field(
        default=100_000, ge=16, description="Unwrapped data keys kept in memory (LRU)."
    )
    key_cache_seconds: float = Field(
        default=10.0,
        ge=0,
        description="A cached data key is re-checked against its row after this long: how "
        "soon other processes stop reading a shredded patient.",
    )
    # Search indexes without exposing content.
    index_key_file: Path | None = Field(
        default=None,
        description="The HMAC-SHA-256 key for identifier hashes; dev: generated in the data dir.",
    )
    index_key: SecretStr | None = Field(
        default=None, description="An environment-provided index key (32 bytes, hex or base64)."
    )
    hash_identifiers: bool = Field(
        default=True,
        description="Store identifier values (INS, RPPS, any Identifier.value) in the search "
        "index as keyed hashes; after a change, run `dmp-gateway reindex`.",
    )
    clear_names: bool = Field(
        default=True,
        description="Keep person names' normalised form in clear in the search index "
        "(prefix and :contains search); false: keyed hashes, whole-name match only "
        "(then `dmp-gateway reindex`).",
    )


class Settings(BaseSettings):
    """Gateway configuration.

    ``GATEWAY_DATABASE_URL`` selects PostgreSQL (``postgresql://…``); without it the
    gateway stores its data in SQLite under ``GATEWAY_DATA_DIR`` (default ``./var``).
    Nested groups use ``__`` in environment names, e.g. ``GATEWAY_LIMITS__MAX_COUNT``.
    """

    model_config = SettingsConfigDict(
        env_prefix="GATEWAY_",
        env_nested_delimiter="__",
        extra="ignore",
    )

    env: Environment = "prod"
    auth: Literal["enabled", "disabled"] = "enabled"
    data_dir: Path = Path("var")
    database_url: str | None = None
    redis_url: str | None = None
    base_url: str | None = Field(
        default=None,
        description="Public base URL of the FHIR endpoint (for fullUrl and Location); "
        "derived from the request when unset.",
    )
    update_create: bool = Field(
        default=True, description="Allow PUT to create a resource with a client-chosen id."
    )
    migrate_on_start: bool = True
    secret_key: SecretStr | None = Field(
        default=None,
        description="Key for signing paging cursors (32+ random bytes, base64 or hex). "
        "Required in production; generated under the data dir in dev and test.",
    )
    limits: LimitSettings = Field(default_factory=LimitSettings)
    audience: str = Field(
        default="dmp-gateway",
        description="The value a bearer token's `aud` claim must carry.",
    )
    clients_file: Path | None = Field(
        default=None,
        description="The client registry (YAML); default: clients.yaml in the data dir.",
    )

    sync: SyncSettings = Field(default_factory=SyncSettings)
    rate_limits: RateLimitSettings = Field(default_factory=RateLimitSettings)
    telemetry: TelemetrySettings = Field(default_factory=TelemetrySettings)
    http: HttpSettings = Field(default_factory=HttpSettings)

    profiles_dir: Path | None = Field(
        default=None,
        description="Conformance data (profiles, search parameters, access matrix); default: "
        "the profiles/ folder of the source tree, else /opt/gateway/profiles.",
    )

    @property
    def profiles_path(self) -> Path:
        if self.profiles_dir is not None:
            return self.profiles_dir
        beside = Path(__file__).resolve().parents[1] / "profiles"
        return beside if beside.is_dir() else Path("/opt/gateway/profiles")

    @property
    def clients_path(self) -> Path:
        return self.clients_file or self.data_dir / "clients.yaml"

    validation: Literal["strict", "warn", "off"] = Field(
        default="strict",
        description="Profile validation on writes: errors refuse the write (strict), are "
        "returned as warnings (warn), or profiles are not checked (off, dev only).",
    )
    strict_profiles: bool = Field(
        default=False,
        description="An unknown meta.profile or extension is an error instead of a warning.",
    )
    default_profiles: dict[str, list[str]] = Field(
        default_factory=dict,
        description='Profiles every resource of a type must meet, e.g. {"MedicationDispense": '
        '["https://dmp-gateway.fr/fhir/StructureDefinition/gw-medication-dispense"]}.',
    )

    audit: AuditSettings = Field(default_factory=AuditSettings)
    crypto: CryptoSettings = Field(default_factory=CryptoSettings)

    @model_validator(mode="after")
    def _refuse_unsafe_combinations(self) -> Settings:
        if self.auth == "disabled" and self.env != "dev":
            raise ValueError(
                "GATEWAY_AUTH=disabled is only allowed with GATEWAY_ENV=dev; "
                "refusing to start an open API"
            )
        if self.validation == "off" and self.env != "dev":
            raise ValueError("GATEWAY_VALIDATION=off is only allowed with GATEWAY_ENV=dev")
        return self

    @property
    def sqlalchemy_url(self) -> str:
        """The SQLAlchemy URL: PostgreSQL through psycopg 3, or SQLite in the data dir."""
        if self.database_url:
            url = self.database_url
            for prefix in ("postgresql://", "postgres://"):
                if url.startswith(prefix):
                    return "postgresql+psycopg://" + url[len(prefix) :]
            return url
        return f"sqlite:///{(self.data_dir / 'gateway.sqlite3').resolve()}"

    @property
    def is_sqlite(self) -> bool:
        return self.sqlalchemy_url.startswith("sqlite")


def settings_from_environment() -> Settings:
    """``Settings()`` from the ``GATEWAY_*`` environment, plus, when
    ``GATEWAY_SECRETS_DIR`` names a folder (Docker secrets: ``/run/secrets``), one file per
    top-level setting named like its variable (``gateway_secret_key``,
    ``gateway_database_url``), so secrets never sit in the environment."""
    import os  # read here, when called: importing gateway reads no environment

    folder = os.environ.get("GATEWAY_SECRETS_DIR") or None
    return Settings(_secrets_dir=folder)


#: ``GATEWAY_*`` variables read outside :class:`Settings`.
OTHER_VARIABLES = frozenset({"GATEWAY_SECRETS_DIR", "GATEWAY_TEST_WORKERS"})


def unknown_variables(environ: Mapping[str, str]) -> list[str]:
    """The ``GATEWAY_*`` names in ``environ`` that configure nothing (a typo such as
    ``GATEWAY_DATABASE_UR`` would otherwise leave the default, SQLite, in force)."""
    out = []
    for name in sorted(environ):
        if not name.upper().startswith("GATEWAY_") or name.upper() in OTHER_VARIABLES:
            continue
        model: type[BaseModel] = Settings
        for part in name[len("GATEWAY_") :].lower().split("__"):
            field = model.model_fields.get(part)
            if field is None:
                out.append(name)
                break
            annotation = field.annotation
            if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
                break  # a value (or a mapping, whose keys are free)
            model = annotation
    return out
