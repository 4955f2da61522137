"""One ``Settings`` class for the whole gateway (environment prefix ``GATEWAY_``).

Tests build ``Settings(...)`` directly and pass it to :func:`gateway.app.create_app`;
nothing reads the environment at import time.
"""

from __future__ import annotations

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
        default=True, description="Store identifier values (INS, RPPS, …) as keyed hashes."
    )
    clear_names: bool = Field(
        default=True,
        description="Keep names' normalised form in clear so string search works; false: "
        "names are searchable by exact (hashed) match only.",
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
