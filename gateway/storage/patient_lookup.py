"""Which stored Patient carries an INS (for callers known by their INS: patient tokens)."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import and_, bindparam, select
from sqlalchemy.engine import Connection

from gateway.fhir.identifiers import INS_SYSTEMS
from gateway.storage import schema as s

_r, _t = s.resource, s.idx_token
# Built once: every Patient write checks its INS (gateway.record.ins_unique), and
# building the statement cost more than running it.
_BY_INS = (
    select(_r.c.id)
    .join(_t, _t.c.resource_pk == _r.c.pk)
    .where(
        and_(
            _t.c.resource_type == "Patient",
            _t.c.param == "identifier",
            _t.c.code == bindparam("code"),
            _t.c.system.in_(sorted(INS_SYSTEMS)),
            _r.c.deleted.is_(False),
        )
    )
    .distinct()
    .order_by(_r.c.id)
)


def patient_ids_for_ins(conn: Connection, ins: str, stored: Callable[[str], str]) -> list[str]:
    """Ids of the live Patients whose identifier is this INS (any INS system), by id.

    ``stored`` gives the value as the index holds it (``BlindIndex.identifier``)."""
    return [row.id for row in conn.execute(_BY_INS, {"code": stored(ins)})]
