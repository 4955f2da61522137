"""The identity stage's view of storage: every live Patient, in the unit's transaction.

Identifier lookups read the token index directly (the rows an ``identifier`` search
reads), *before* any access filtering, which is what matching needs: the gateway
matches, the access rules then judge the writes. Nothing read here is returned to the caller
beyond what the rules let through (a match only becomes ``Patient/<id>`` in the
caller's own writes; quarantine shows it only to the sender).

Birth-date lookups read the ``birthdate`` date rows the same way. They only run when a
payload would create a new Patient.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import orjson
from sqlalchemy import and_, bindparam, select

from gateway.errors import BadRequest
from gateway.fhir.instant import parse_range
from gateway.ingest.result import PatientKey
from gateway.intake.identity import StoredPatient
from gateway.record.services import RecordServices
from gateway.storage import schema as s
from gateway.storage.records import StoredVersion
from gateway.storage.store import StoreTx
from gateway.storage.version_rows import CURRENT_COLUMNS, bulk_version

MAX_CANDIDATES = 50

_r, _t = s.resource, s.idx_token
# Built once (every message looks its patient up; building the statement cost more
# than running it).
_BY_TOKEN = (
    select(*CURRENT_COLUMNS)
    .join(_t, _t.c.resource_pk == _r.c.pk)
    .where(
        and_(
            _t.c.resource_type == "Patient",
            _t.c.param == "identifier",
            _t.c.code == bindparam("code"),
            _t.c.system == bindparam("system"),
            _r.c.deleted.is_(False),
        )
    )
    .distinct()
    .limit(MAX_CANDIDATES)
)

# Several identifiers at once (a message's INS and local id; a CSV chunk's residents),
# with the token each row was found by.
_BY_TOKENS = (
    select(*CURRENT_COLUMNS, _t.c.system.label("token_system"), _t.c.code.label("token_code"))
    .join(_t, _t.c.resource_pk == _r.c.pk)
    .where(
        and_(
            _t.c.resource_type == "Patient",
            _t.c.param == "identifier",
            _t.c.code.in_(bindparam("codes", expanding=True)),
            _r.c.deleted.is_(False),
        )
    )
    .distinct()
    .limit(bindparam("limit"))
)
_PREFETCH = 500  # identifiers per query

_d = s.idx_date
_BY_BIRTH_DATE = (
    select(*CURRENT_COLUMNS)
    .join(_d, _d.c.resource_pk == _r.c.pk)
    .where(
        and_(
            _d.c.resource_type == "Patient",
            _d.c.param == "birthdate",
            _d.c.low >= bindparam("low"),
            _d.c.high <= bindparam("high"),
            _r.c.deleted.is_(False),
        )
    )
    .distinct()
    .limit(MAX_CANDIDATES)
)


def _patient(version: StoredVersion) -> StoredPatient | None:
    if version.deleted or version.content is None:
        return None
    body: Any = orjson.loads(version.content)
    return StoredPatient(version.id, version.version, body) if isinstance(body, dict) else None


class TxPatientIndex:
    def __init__(self, tx: StoreTx, services: RecordServices) -> None:
        self.tx = tx
        self._stored = services.blind.identifier
        self._by_key: dict[str, list[StoredPatient]] = {}

    def by_identifier(self, key: PatientKey) -> list[StoredPatient]:
        cached = self._by_key.get(key.token)
        if cached is None:
            cached = self._by_token(key.system, key.value)
            self._by_key[key.token] = cached
        return cached

    def prefetch(self, keys: Iterable[PatientKey]) -> None:
        """Look ``keys`` up in one query (instead of one per key). A key that matches
        one patient or none is answered from it; a key matching several is left to
        :meth:`by_identifier`'s own query, which lists them as it always has."""
        wanted = {k.token: k for k in keys if k.token not in self._by_key}
        todo = list(wanted.values())
        for start in range(0, len(todo), _PREFETCH):
            self._prefetch(todo[start : start + _PREFETCH])

    def _prefetch(self, keys: list[PatientKey]) -> None:
        by_stored = {(k.system, self._stored(k.value)): k for k in keys}
        limit = 2 * len(keys) + 1
        params = {"codes": sorted({code for _, code in by_stored}), "limit": limit}
        rows = self.tx.conn.execute(_BY_TOKENS, params).all()
        if len(rows) >= limit:
            return  # some identifiers are shared: each key asks for itself
        found: dict[str, list[Any]] = {}
        for row in rows:
            key = by_stored.get((row.token_system, row.token_code))
            if key is not None:
                found.setdefault(key.token, []).append(row)
        for key in keys:
            matches = found.get(key.token, [])
            if len({row.pk for row in matches}) > 1:
                continue
            self._by_key[key.token] = [
                p for row in matches[:1] if (p := _patient(bulk_version(row, self.tx.conn)))
            ]

    def _by_token(self, system: str, value: str) -> list[StoredPatient]:
        """Patients carrying ``system|value``, straight from the token index: the same
        rows an ``identifier`` search reads, found through the (type, param, code,
        system) index whatever the search engine plans. The value is hashed the way the
        index stores it (:class:`gateway.search.BlindIndex`)."""
        params = {"code": self._stored(value), "system": system}
        rows = self.tx.conn.execute(_BY_TOKEN, params).all()
        return [p for row in rows if (p := _patient(bulk_version(row, self.tx.conn))) is not None]

    def forget(self) -> None:
        """Drop cached lookups (after this unit created or changed patients)."""
        self._by_key.clear()

    def get(self, patient_id: str) -> StoredPatient | None:
        current = self.tx.current("Patient", patient_id)
        return _patient(current) if current is not None else None

    def by_birth_date(self, birth_date: str) -> list[StoredPatient]:
        """Patients born on ``birth_date``, from the ``birthdate`` index rows (the rows a
        ``birthdate=eq…`` search reads)."""
        try:
            low, high = parse_range(birth_date, what="birth date")
        except BadRequest:
            return []
        rows = self.tx.conn.execute(_BY_BIRTH_DATE, {"low": low, "high": high}).all()
        return [p for row in rows if (p := _patient(bulk_version(row, self.tx.conn))) is not None]


def group_loader(tx: StoreTx) -> Callable[[str], tuple[dict[str, Any], int] | None]:
    """Reads the roster Group an EHPAD system is bound to (body and version)."""

    def load(group_id: str) -> tuple[dict[str, Any], int] | None:
        current = tx.current("Group", group_id)
        if current is None or current.deleted or current.content is None:
            return None
        body: Any = orjson.loads(current.content)
        return (body, current.version) if isinstance(body, dict) else None

    return load
