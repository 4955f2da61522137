"""Sealing rows written before encryption was on (``dmp-gateway keys seal-existing``).

Online and batched: each batch is one short writer transaction; a row is only replaced
if its stored bytes are still the plaintext read (a concurrent write wins), so the pass
can run while the gateway serves. Running it again finds nothing left to do.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from sqlalchemy import Engine, Table, and_, bindparam, select, update
from sqlalchemy.engine import Connection

from gateway.crypto import envelope
from gateway.storage import schema as s
from gateway.storage.engine import WRITE
from gateway.storage.sealing import seal_audit, seal_quarantine, seal_resource

Sealer = Callable[[Connection, Any, bytes], bytes | None]


def _resource(conn: Connection, row: Any, value: bytes) -> bytes | None:
    return seal_resource(conn, row.resource_type, row.id, row.version, row.patient_id, value)


def _audit(conn: Connection, row: Any, value: bytes) -> bytes:
    return seal_audit(conn, row.seq, value)


def _quarantine(column: str) -> Sealer:
    def seal(conn: Connection, row: Any, value: bytes) -> bytes | None:
        return seal_quarantine(conn, row.id, row.patient_id, column, value)

    return seal


_R, _H, _Q = s.resource, s.history, s.intake_quarantine
PLANS: list[tuple[str, Table, str, str, tuple[str, ...], Sealer]] = [
    ("resource", _R, "pk", "content", ("resource_type", "id", "version", "patient_id"), _resource),
    ("history", _H, "seq", "content", ("resource_type", "id", "version", "patient_id"), _resource),
    ("audit", s.audit_entry, "seq", "content", (), _audit),
    *[
        (f"quarantine.{c}", _Q, "id", c, ("patient_id",), _quarantine(c))
        for c in ("payload", "issues", "details")
    ],
]


def seal_existing(engine: Engine, *, batch: int = 1000) -> Iterator[tuple[str, int]]:
    """Seal every plaintext value; yields ``(what, sealed so far)`` after each batch."""
    for name, table, key, column, extra, sealer in PLANS:
        k, c = table.c[key], table.c[column]
        cols = [k, c, *(table.c[e] for e in extra)]
        after: Any = None
        done = 0
        stmt = (
            update(table)
            .where(and_(k == bindparam("b_key"), c == bindparam("b_old")))
            .values({column: bindparam("b_new")})
        )
        while True:
            with engine.connect().execution_options(**WRITE) as conn, conn.begin():
                q = select(*cols).where(c.is_not(None)).order_by(k).limit(batch)
                if after is not None:
                    q = q.where(k > after)
                rows = conn.execute(q).all()
                params = []
                for row in rows:
                    old = bytes(row._mapping[column])
                    if envelope.is_sealed(old):
                        continue
                    new = sealer(conn, _Row(row._mapping, key), old)
                    if new is not None and new != old:
                        params.append({"b_key": row._mapping[key], "b_old": old, "b_new": new})
                if params:
                    conn.execute(stmt, params)
            done += len(params)
            if rows:
                yield name, done
            if len(rows) < batch:
                break
            after = rows[-1]._mapping[key]


class _Row:
    """Attribute access over a row mapping (``seq``/``id`` named as the sealers expect)."""

    def __init__(self, mapping: Any, key: str) -> None:
        self._m = mapping

    def __getattr__(self, name: str) -> Any:
        return self._m[name]
