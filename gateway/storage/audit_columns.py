"""Checking the audit log's search columns against its entries' bytes.

The Merkle tree vouches for each entry's bytes; auditors search by the columns stored
beside them, and a patient's access log is found through ``audit_patient``. Editing a
column (another ``agent``, ``outcome`` 0 for a refusal) or deleting a patient row would
hide an entry from those searches while the tree still verifies. :func:`mismatches`
reads the whole log once and names every entry whose columns are not those its bytes
stand for (:func:`gateway.audit.columns.columns_of`).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from sqlalchemy.engine import Connection

from gateway.audit.columns import Columns, columns_of, same_client
from gateway.crypto.errors import ContentIntegrityError
from gateway.storage.sealing import open_audit

_ENTRIES = (
    "SELECT seq, content, recorded, event_type, interaction, action, outcome, purpose,"
    " agent, client, structure FROM audit_entry ORDER BY seq"
)
_PATIENTS = "SELECT seq, patient_id FROM audit_patient ORDER BY seq, patient_id"


def _cursor(conn: Connection, name: str, sql: str, batch: int) -> Any:
    dbapi: Any = conn.connection.dbapi_connection
    if conn.dialect.name == "postgresql":
        cursor = dbapi.cursor(name=name)  # server-side: flat memory over a million rows
        cursor.itersize = batch
    else:
        cursor = dbapi.cursor()
        cursor.arraysize = batch
    cursor.execute(sql)
    return cursor


def _differences(derived: Columns, row: Any, patients: list[str]) -> list[str]:
    stored = {
        "recorded": row[2],
        "event_type": row[3],
        "interaction": row[4],
        "action": row[5],
        "outcome": row[6],
        "purpose": row[7],
        "agent": row[8],
        "structure": row[10],
    }
    out = [name for name, value in stored.items() if getattr(derived, name) != value]
    if not same_client(derived.client, row[9]):
        out.append("client")
    if sorted(derived.patients) != patients:
        out.append("patients")
    return out


def mismatches(conn: Connection, *, batch: int = 10_000) -> Iterator[tuple[int, str]]:
    """``(seq, what)`` for each entry whose stored columns or patient rows are not those
    its bytes stand for, in sequence order (an entry that cannot be opened or read is
    left to the tree's verification, which names it)."""
    entries = _cursor(conn, "audit_columns", _ENTRIES, batch)
    patients = _cursor(conn, "audit_column_patients", _PATIENTS, batch)
    pending = patients.fetchone()
    try:
        for row in entries:
            seq = row[0]
            mine: list[str] = []
            while pending is not None and pending[0] <= seq:
                if pending[0] == seq:
                    mine.append(pending[1])
                else:  # a patient row of no entry
                    yield pending[0], "a patient row names no entry"
                pending = patients.fetchone()
            try:
                derived = columns_of(open_audit(conn, seq, row[1]))
            except (ContentIntegrityError, ValueError):
                continue
            wrong = _differences(derived, row, sorted(mine))
            if wrong:
                yield seq, f"its {', '.join(wrong)} column(s) differ from its bytes"
        while pending is not None:
            yield pending[0], "a patient row names no entry"
            pending = patients.fetchone()
    finally:
        entries.close()
        patients.close()
