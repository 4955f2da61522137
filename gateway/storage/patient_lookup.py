"""Which stored Patient carries an INS (for callers known by their INS: patient tokens)."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import and_, select
from sqlalchemy.engine import Connection

from gateway.fhir.identifiers import INS_SYSTEMS
from gateway.storage import schema as s


def patient_ids_for_ins(conn: Connection, ins: str, stored: Callable[[str], str]) -> list[str]:
    """Ids of the live Patients whose identifier is this INS (any INS system), by id.

    ``stored`` gives the value as the index holds it (``BlindIndex.identifier``)."""
    r, t = s.resource, s.idx_token
    stmt = (
        select(r.c.id)
        .join(t, t.c.resource_pk == r.c.pk)
        .where(
            and_(
                t.c.resource_type == "Patient",
                t.c.param == "identifier",
                t.c.code == stored(ins),
                t.c.system.in_(sorted(INS_SYSTEMS)),
                r.c.deleted.is_(False),
            )
        )
        .distinct()
        .order_by(r.c.id)
    )
    return [row.id for row in conn.execute(stmt)]
