"""PostgreSQL: a standalone append in one statement, from the head this process last wrote.

The general append (:meth:`gateway.storage.audit_log.AuditLog.append`) locks and reads
the head, then inserts the entries, their patients and their nodes and writes the head
back: six statements, each a round trip, before the commit. When the head is still the
one this process committed last (the usual case: one gateway process appends most
reads), everything the append writes can be computed beforehand, and one statement
does it all::

    WITH lk AS (SELECT id FROM audit_head WHERE id = 1 AND <the head is as expected>
                FOR UPDATE NOWAIT),
         h  AS (UPDATE audit_head SET <the new head> FROM lk ... RETURNING id),
         e  AS (INSERT INTO audit_entry ... SELECT ... FROM h, unnest(...)),
         p  AS (INSERT INTO audit_patient ...), n AS (INSERT INTO audit_node ...)
    SELECT count(*) FROM h

The single sequencer stays the head row's lock: the statement takes it (``NOWAIT``: if
another appender holds it, this attempt gives way at once) and checks, under the lock,
that the head is exactly the one the entries were numbered and hashed from. Every
insert reads from ``h``, so when the head has moved on (another process appended) the
statement changes nothing, and the caller falls back to the general append. Appends
that are due to sign a checkpoint always take the general path.

The column arrays are sent as PostgreSQL array literals (text, cast in the statement),
built here rather than by psycopg: its list dumper inspects every list in Python to
find the element type, which cost a third of this statement's client CPU. The
literals follow the array input syntax exactly (every text element double-quoted with
``\\`` and ``"`` escaped, ``NULL`` unquoted; bytea as quoted hex), so the server stores
the very same values.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy.engine import Connection

from gateway.audit.entries import LogEntry
from gateway.audit.merkle import leaf_hash
from gateway.storage.audit_head import Head
from gateway.storage.sealing import seal_audit

# id = 1 is audit_head.HEAD_ID, the one head row (a literal: the statement is constant).
_STATEMENT = """
WITH lk AS (
    SELECT id FROM audit_head
    WHERE id = 1 AND size = %(old_size)s AND peaks = %(old_peaks)s
      AND checkpoint_size = %(old_cp_size)s AND checkpoint_time = %(old_cp_time)s
    FOR UPDATE NOWAIT
), h AS (
    UPDATE audit_head SET size = %(size)s, peaks = %(peaks)s, checkpoint_time = %(cp_time)s
    FROM lk WHERE audit_head.id = lk.id
    RETURNING audit_head.id
), e AS (
    INSERT INTO audit_entry (seq, recorded, event_type, interaction, action, outcome,
                             purpose, agent, client, structure, content, leaf)
    SELECT u.* FROM h, unnest(
        %(seq)s::bigint[], %(recorded)s::bigint[], %(event_type)s::text[],
        %(interaction)s::text[], %(action)s::text[], %(outcome)s::smallint[],
        %(purpose)s::text[], %(agent)s::text[], %(client)s::text[], %(structure)s::text[],
        %(content)s::bytea[], %(leaf)s::bytea[]) AS u
), p AS (
    INSERT INTO audit_patient (patient_id, seq)
    SELECT u.* FROM h, unnest(%(p_patient)s::text[], %(p_seq)s::bigint[]) AS u
), n AS (
    INSERT INTO audit_node (level, idx, hash)
    SELECT u.* FROM h, unnest(%(n_level)s::smallint[], %(n_idx)s::bigint[],
                              %(n_hash)s::bytea[]) AS u
)
SELECT count(*) FROM h
"""


_INT_FIELDS = ("recorded", "outcome")
_TEXT_FIELDS = ("event_type", "interaction", "action", "purpose", "agent", "client", "structure")
_ENTRY_FIELDS: tuple[str, ...] = (*_INT_FIELDS, *_TEXT_FIELDS)
_INT_ARRAYS = (*_INT_FIELDS, "seq", "p_seq", "n_level", "n_idx")
_TEXT_ARRAYS = (*_TEXT_FIELDS, "p_patient")
_BYTEA_ARRAYS = ("content", "leaf", "n_hash")
_ARRAYS: tuple[str, ...] = (*_INT_ARRAYS, *_TEXT_ARRAYS, *_BYTEA_ARRAYS)


def int_array(values: list[int]) -> str:
    """The array literal of integers: ``{1,2,3}``."""
    return "{" + ",".join(map(str, values)) + "}"


def _quoted(value: str | None) -> str:
    if value is None:
        return "NULL"
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def text_array(values: list[str | None]) -> str:
    """The array literal of strings: each double-quoted, ``\\`` and ``"`` escaped by a
    backslash (inside quotes nothing else is special); None is ``NULL``."""
    return "{" + ",".join([_quoted(v) for v in values]) + "}"


def bytea_array(values: list[bytes]) -> str:
    """The array literal of bytea values in hex input format: ``{"\\\\x00ff"}`` (the
    quoted element is ``\\x00ff``)."""
    return "{" + ",".join(['"\\\\x' + v.hex() + '"' for v in values]) + "}"


def _literals(p: dict[str, list[Any]]) -> dict[str, str]:
    out = {name: int_array(p[name]) for name in _INT_ARRAYS}
    out.update((name, text_array(p[name])) for name in _TEXT_ARRAYS)
    out.update((name, bytea_array(p[name])) for name in _BYTEA_ARRAYS)
    return out


def append_from(
    conn: Connection,
    head: Head,
    entries: Sequence[LogEntry],
    *,
    checkpoint_every: int,
    now: int,
) -> Head | None:
    """Append ``entries`` on top of ``head`` in one statement on ``conn``.

    On an autocommit connection the statement is a transaction of its own. Returns
    the new head, or None when nothing was written: the stored head is not ``head``,
    or a checkpoint falls due; the caller then takes the general path. A head locked
    by another appender raises (``lock_not_available``), also having written nothing.
    """
    frontier = head.frontier
    if frontier.size + len(entries) - head.checkpoint_size >= checkpoint_every:
        return None  # signing happens in the general path
    p: dict[str, list[Any]] = {name: [] for name in _ARRAYS}  # one array per column
    for entry in entries:
        seq = frontier.size
        leaf = leaf_hash(entry.content)
        frontier, nodes = frontier.append(leaf)
        for name in _ENTRY_FIELDS:
            p[name].append(getattr(entry, name))
        p["seq"].append(seq)
        p["content"].append(seal_audit(conn, seq, entry.content))
        p["leaf"].append(leaf)
        for patient in entry.patients:
            p["p_patient"].append(patient)
            p["p_seq"].append(seq)
        for node in nodes:
            p["n_level"].append(node.level)
            p["n_idx"].append(node.idx)
            p["n_hash"].append(node.hash)
    new = Head(frontier, head.checkpoint_size, head.checkpoint_time or now)
    params = {
        "old_size": head.size,
        "old_peaks": b"".join(head.frontier.peak_hashes),
        "old_cp_size": head.checkpoint_size,
        "old_cp_time": head.checkpoint_time,
        "size": new.size,
        "peaks": b"".join(new.frontier.peak_hashes),
        "cp_time": new.checkpoint_time,
        **_literals(p),
    }
    written = conn.exec_driver_sql(_STATEMENT, params).scalar_one()
    return new if written == 1 else None
