"""The storage schema: one set of tables for SQLite and PostgreSQL (SQLAlchemy Core).

- ``resource``: the current version of every resource (also deleted ones, as tombstones);
- ``resource_history``: every version ever written, in commit order (``seq``);
- ``idx_*``: search index rows of the *current* version, one table per search
  parameter type (see :mod:`gateway.search.rows`), rebuilt on every write.

Times are microseconds since the Unix epoch (UTC) in BIGINT columns: exact, compact and
ordered the same way in both dialects. Bodies are compact FHIR JSON bytes.
Changes to these tables go through Alembic migrations (``gateway/storage/migrations``).
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    SmallInteger,
    String,
    Table,
    Text,
    UniqueConstraint,
    false,
)

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
}

metadata = MetaData(naming_convention=NAMING)

# BIGINT identity on PostgreSQL; INTEGER PRIMARY KEY (the rowid alias) on SQLite.
BigId = BigInteger().with_variant(Integer(), "sqlite")
# Byte-order collation, so prefix ranges (norm >= 'ab' AND norm < 'ac') use the index.
OrderedText = Text().with_variant(Text(collation="C"), "postgresql")

resource = Table(
    "resource",
    metadata,
    Column("pk", BigId, primary_key=True, autoincrement=True),
    Column("resource_type", String(64), nullable=False),
    Column("id", String(64), nullable=False),
    Column("version", Integer, nullable=False),
    Column("last_updated", BigInteger, nullable=False),
    Column("deleted", Boolean, nullable=False),
    Column("patient_id", String(64), nullable=True),
    Column("content", LargeBinary, nullable=True),
    # Who created the resource (idNat_PS or INS) and for which structure, and when: the
    # access rules read authorship from here, never from the content (rule 7).
    Column("author", String(64), nullable=True),
    Column("author_structure", String(64), nullable=True),
    Column("created", BigInteger, nullable=True),
    UniqueConstraint("resource_type", "id"),
    Index(None, "resource_type", "last_updated"),
    Index(None, "patient_id", "resource_type"),
    # A type's resources in primary-key order: search pages without a selective criterion.
    Index(None, "resource_type", "pk"),
)

history = Table(
    "resource_history",
    metadata,
    Column("seq", BigId, primary_key=True, autoincrement=True),
    Column("resource_type", String(64), nullable=False),
    Column("id", String(64), nullable=False),
    Column("version", Integer, nullable=False),
    Column("last_updated", BigInteger, nullable=False),
    Column("method", String(8), nullable=False),
    Column("deleted", Boolean, nullable=False),
    Column("patient_id", String(64), nullable=True),
    Column("content", LargeBinary, nullable=True),
    Column("author", String(64), nullable=True),
    Column("author_structure", String(64), nullable=True),
    Column("created", BigInteger, nullable=True),
    UniqueConstraint("resource_type", "id", "version"),
    Index(None, "resource_type", "seq"),
    Index(None, "last_updated"),
)


def _index_table(name: str, *columns: Column[object], indexes: list[tuple[str, ...]]) -> Table:
    table = Table(
        name,
        metadata,
        Column(
            "resource_pk",
            BigInteger,
            ForeignKey("resource.pk", ondelete="CASCADE"),
            nullable=False,
        ),
        Column("resource_type", String(64), nullable=False),
        Column("param", String(100), nullable=False),
        *columns,
    )
    Index(None, table.c.resource_pk)
    for cols in indexes:
        Index(None, *(table.c[c] for c in cols))
    return table


idx_token = _index_table(
    "idx_token",
    Column("system", Text, nullable=True),
    Column("code", Text, nullable=True),
    Column("text", OrderedText, nullable=True),
    indexes=[("resource_type", "param", "code", "system")],
)

idx_string = _index_table(
    "idx_string",
    Column("norm", OrderedText, nullable=False),
    Column("exact", Text, nullable=False),
    indexes=[("resource_type", "param", "norm")],
)

idx_date = _index_table(
    "idx_date",
    Column("low", BigInteger, nullable=False),
    Column("high", BigInteger, nullable=False),
    indexes=[("resource_type", "param", "low", "high")],
)

idx_reference = _index_table(
    "idx_reference",
    Column("target_type", String(64), nullable=True),
    Column("target_id", String(64), nullable=True),
    Column("url", Text, nullable=True),
    Column("version", Text, nullable=True),  # of a canonical reference (url|version)
    indexes=[
        ("resource_type", "param", "target_id", "target_type"),
        ("target_type", "target_id"),
    ],
)

idx_quantity = _index_table(
    "idx_quantity",
    Column("value", Float, nullable=False),
    Column("low", Float, nullable=False),
    Column("high", Float, nullable=False),
    Column("system", Text, nullable=True),
    Column("code", Text, nullable=True),
    Column("unit", Text, nullable=True),
    # The extra row of a UCUM quantity, in its canonical unit (gateway.search.ucum).
    Column("canonical", Boolean, nullable=False, server_default=false()),
    indexes=[("resource_type", "param", "value")],
)

idx_number = _index_table(
    "idx_number",
    Column("value", Float, nullable=False),
    Column("low", Float, nullable=False),
    Column("high", Float, nullable=False),
    indexes=[("resource_type", "param", "value")],
)

idx_uri = _index_table(
    "idx_uri",
    Column("uri", OrderedText, nullable=False),
    indexes=[("resource_type", "param", "uri")],
)

token_jti = Table(
    "token_jti",
    metadata,
    Column("key", String(200), primary_key=True),
    Column("expires", BigInteger, nullable=False),
    Index(None, "expires"),
)
"""Bearer token ids already used, until their token expires (the replay guard)."""

type_stamp = Table(
    "type_stamp",
    metadata,
    Column("id", SmallInteger, primary_key=True, autoincrement=False),
    Column("n", BigInteger, nullable=False),
)
"""One row (id 1): a counter that every transaction writing a resource of a stamped type
moves just before it commits (:data:`gateway.storage.store.STAMPED_TYPES`), so that
what is derived from those types can be cached under an exact version stamp."""

INDEX_TABLES = (idx_token, idx_string, idx_date, idx_reference, idx_quantity, idx_number, idx_uri)

# -- the audit log (issue 7): see gateway/storage/audit_log.py ------------------------------

audit_entry = Table(
    "audit_entry",
    metadata,
    Column("seq", BigId, primary_key=True, autoincrement=False),  # the rowid on SQLite
    Column("recorded", BigInteger, nullable=False),
    Column("event_type", String(16), nullable=False),
    Column("interaction", String(32), nullable=False),
    Column("action", String(1), nullable=False),
    Column("outcome", SmallInteger, nullable=False),
    Column("purpose", String(16), nullable=False),
    Column("agent", String(64), nullable=True),
    Column("client", String(128), nullable=True),
    Column("structure", String(64), nullable=True),
    Column("content", LargeBinary, nullable=False),
    Column("leaf", LargeBinary, nullable=False),
    Index(None, "agent", "recorded"),
    Index(None, "structure", "recorded"),
    Index(None, "recorded"),
    Index(None, "purpose", "recorded"),
)

audit_patient = Table(
    "audit_patient",
    metadata,
    Column("patient_id", String(64), primary_key=True),
    Column("seq", BigInteger, primary_key=True),
    sqlite_with_rowid=False,  # one B-tree on the key (migration 0010)
)

audit_node = Table(
    "audit_node",
    metadata,
    Column("level", SmallInteger, primary_key=True, autoincrement=False),
    Column("idx", BigInteger, primary_key=True, autoincrement=False),
    Column("hash", LargeBinary, nullable=False),
    sqlite_with_rowid=False,  # one B-tree on the key (migration 0010)
)

audit_head = Table(
    "audit_head",
    metadata,
    Column("id", SmallInteger, primary_key=True, autoincrement=False),
    Column("size", BigInteger, nullable=False),
    Column("peaks", LargeBinary, nullable=False),
    Column("checkpoint_size", BigInteger, nullable=False),
    Column("checkpoint_time", BigInteger, nullable=False),
)

audit_checkpoint = Table(
    "audit_checkpoint",
    metadata,
    Column("size", BigInteger, primary_key=True, autoincrement=False),
    Column("note", Text, nullable=False),
    Column("created", BigInteger, nullable=False),
)

audit_key = Table(
    "audit_key",
    metadata,
    Column("vkey", String(300), primary_key=True),
    Column("created", BigInteger, nullable=False),
)

# -- publication and sync (issue 8) ------------------------------------------------------
# See gateway/sync/README.md. Nothing here carries clinical content.

sync_history_tx = Table(
    "sync_history_tx",
    metadata,
    Column("seq", BigInteger, primary_key=True, autoincrement=False),
    Column("txid", BigInteger, nullable=False),
    Index(None, "txid"),
)
"""PostgreSQL only: the writing transaction of each history row (``pg_current_xact_id()``),
filled by a statement trigger, so the change feed can cut windows between two snapshots
(rows commit out of ``seq`` order there). Empty on SQLite, where writers are serialised."""

sync_checkpoint = Table(
    "sync_checkpoint",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("position", Text, nullable=False),
    Column("holder", String(128), nullable=True),
    Column("lease_until", BigInteger, nullable=False),
)
"""Durable positions in the change feed of the worker's stages, with a lease."""

sync_delivery = Table(
    "sync_delivery",
    metadata,
    Column("pk", BigId, primary_key=True, autoincrement=True),
    Column("subscription_id", String(64), nullable=False),
    Column("event_id", String(200), nullable=False),
    Column("resource_type", String(64), nullable=False),
    Column("resource_id", String(64), nullable=False),
    Column("version", Integer, nullable=False),
    Column("created", BigInteger, nullable=False),
    Column("due", BigInteger, nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("state", String(16), nullable=False),
    Column("last_error", Text, nullable=True),
    Column("finished", BigInteger, nullable=True),
    UniqueConstraint("subscription_id", "event_id"),
    Index(None, "state", "due"),
)
"""One rest-hook notification to deliver: unique per subscription and event (no duplicates)."""

sync_export_job = Table(
    "sync_export_job",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("owner", String(64), nullable=False),
    Column("caller", Text, nullable=False),
    Column("level", String(16), nullable=False),
    Column("group_id", String(64), nullable=True),
    Column("types", Text, nullable=True),
    Column("since", BigInteger, nullable=True),
    Column("request", Text, nullable=False),
    Column("state", String(16), nullable=False),
    Column("progress", String(200), nullable=True),
    Column("transaction_time", BigInteger, nullable=False),
    Column("created", BigInteger, nullable=False),
    Column("updated", BigInteger, nullable=False),
    Column("holder", String(128), nullable=True),
    Column("lease_until", BigInteger, nullable=False),
    Column("error", Text, nullable=True),
    Index(None, "state", "lease_until"),
)
"""Bulk Data export jobs; ``caller`` holds the facts of the caller who started it."""

sync_export_file = Table(
    "sync_export_file",
    metadata,
    Column(
        "job_id",
        String(64),
        ForeignKey("sync_export_job.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("name", String(128), primary_key=True),
    Column("resource_type", String(64), nullable=False),
    Column("count", Integer, nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("patients", Text, nullable=True),
)
"""Every NDJSON file an export wrote; ``patients``: the ids of the patients whose data it
holds, space-separated (NULL for files written before revision 0012)."""

sync_notice = Table(
    "sync_notice",
    metadata,
    Column("id", String(128), primary_key=True),
    Column("kind", String(32), nullable=False),
    Column("patient_id", String(64), nullable=True),
    Column("created", BigInteger, nullable=False),
    Column("sent", BigInteger, nullable=True),
)
"""Patient notices handed to the sender (duplicates suppressed by notice id)."""

sync_announcement = Table(
    "sync_announcement",
    metadata,
    Column("resource_type", String(64), primary_key=True),
    Column("resource_id", String(64), primary_key=True),
    Column("patient_id", String(64), nullable=False),
    Column("due", BigInteger, nullable=False),
    Column("state", String(16), nullable=False),
    Column("queued_at", BigInteger, nullable=True),
    Index(None, "state", "due"),
)
"""Documents hidden from the patient (INVISIBLE_PATIENT) to announce after the delay."""

# -- intake (issue 5): idempotency ledger and quarantine ----------------------------------
# Added by the intake work; migration 0004_intake.py. Times are microseconds (UTC).

intake_message = Table(
    "intake_message",
    metadata,
    # SHA-256 (hex) of the idempotency key: source, structure and the message's own id
    # (HL7: sending application, facility, MSH-10), or the payload hash when it has none.
    Column("key", String(64), primary_key=True),
    Column("source", String(64), nullable=False),
    Column("structure", String(64), nullable=False),
    Column("format", String(16), nullable=False),
    Column("kind", String(64), nullable=False),
    Column("message_id", String(200), nullable=True),
    Column("payload_sha256", String(64), nullable=False),
    # HL7: the message as content (MSH-7 aside, gateway.ingest.hl7v2.er7.content_digest),
    # to tell a resend from another message reusing the control id. NULL before 0008.
    Column("content_sha256", String(64), nullable=True),
    Column("received", BigInteger, nullable=False),
    Column("status", String(16), nullable=False),  # accepted | duplicate | quarantined
    Column("ack_code", String(2), nullable=True),
    Column("response", LargeBinary, nullable=False),  # the first answer, returned again
    Column("quarantine_id", String(36), nullable=True),
    Column("provenance_id", String(64), nullable=True),
    Index(None, "source", "structure", "received"),
)
"""One row per message (HL7) or record (CSV) ever ingested: its first outcome."""

intake_quarantine = Table(
    "intake_quarantine",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("source", String(64), nullable=False),  # client id of the sender
    Column("structure", String(64), nullable=False),  # idNat_Struct it sent for
    Column("format", String(16), nullable=False),  # hl7v2 | csv | fhir
    Column("kind", String(64), nullable=False),  # ADT^A01, csv:vitals, …
    Column("reason", String(16), nullable=False),  # rejected | conflict | review
    Column("status", String(16), nullable=False),  # open | replayed | discarded
    Column("received", BigInteger, nullable=False),
    Column("updated", BigInteger, nullable=False),
    Column("message_id", String(200), nullable=True),
    Column("idempotency_key", String(64), nullable=True),
    Column("line", Integer, nullable=True),  # CSV: the record's line in its file
    Column("payload", LargeBinary, nullable=True),  # raw bytes; dropped when discarded
    Column("payload_sha256", String(64), nullable=False),
    Column("issues", LargeBinary, nullable=False),  # JSON: OperationOutcome.issue list
    Column("details", LargeBinary, nullable=True),  # JSON: conflicting versions, candidates
    Column("patient_id", String(64), nullable=True),
    Column("attempts", Integer, nullable=False),
    # idNat_PS of the professional who sent it; NULL for a system sender (and rows from
    # before 0011). Part of who owns the entry (gateway/intake/visibility.py).
    Column("subject", String(64), nullable=True),
    Index(None, "source", "structure", "received"),
    Index(None, "status", "received"),
)
"""Every rejected message or CSV record, identity conflict and probable match, durably."""

# -- encryption at rest (issue 9): data keys, see gateway/storage/keys.py -----------------

data_key = Table(
    "data_key",
    metadata,
    Column("key_id", String(32), primary_key=True),  # hex of the 16 bytes sealed blobs name
    Column("scope", String(16), nullable=False),  # patient | resource | quarantine | audit
    Column("owner", String(160), nullable=False),  # patient id, Type/id, quarantine id, log
    Column("kek_id", String(64), nullable=False),  # the KEK that wraps it
    Column("wrapped", LargeBinary, nullable=True),  # wiped (NULL) when shredded
    Column("created", BigInteger, nullable=False),
    Column("shredded", BigInteger, nullable=True),
    UniqueConstraint("scope", "owner"),
    Index(None, "kek_id"),
)
"""One data key (DEK) per patient, per patient-less resource or quarantine entry, and one
for the audit log; wrapped by a key-encryption key. Shredding wipes ``wrapped``."""
