"""One record per INS: a Patient write may not give an INS that another live Patient holds.

The INS is the patient's national identity (DOMAIN.md §2): two Patient resources with the
same INS split one person's record in two, and a professional who cannot see the first
one (no care relationship yet) would otherwise create the second without knowing it — a
conditional create only sees what the caller may see. So the check is made on every
Patient carrying an INS the resource did not already hold, over *every* live Patient,
visible or not, and a clash is a 409 that names the INS system, never the other record.
This tells the caller that a record exists for an INS they already hold, which is what
the DMP's own existence test tells a professional; it reveals nothing else.

Patients the new version links to (``Patient.link.other``: a merge, A40) may keep the
same INS. Writers are serialised per INS (an advisory lock on PostgreSQL; SQLite writers
are serialised already), so two concurrent creates cannot both pass.
"""

from __future__ import annotations

import hashlib
import weakref
from collections.abc import Callable, Iterator
from typing import Any

import orjson

from gateway.errors import Conflict
from gateway.fhir.identifiers import INS_SYSTEMS
from gateway.storage.patient_lookup import patient_ids_for_ins
from gateway.storage.records import StoredVersion
from gateway.storage.store import StoreTx

INS_TAKEN = "GW-3016"


def _ins_of(resource: dict[str, Any] | None) -> Iterator[tuple[str, str]]:
    for ident in (resource or {}).get("identifier") or []:
        if isinstance(ident, dict) and ident.get("system") in INS_SYSTEMS:
            value = ident.get("value")
            if isinstance(value, str) and value:
                yield ident["system"], value


def _linked(resource: dict[str, Any]) -> set[str]:
    out: set[str] = set()
    for link in resource.get("link") or []:
        ref = ((link or {}).get("other") or {}).get("reference")
        if isinstance(ref, str) and ref.startswith("Patient/"):
            out.add(ref.removeprefix("Patient/"))
    return out


class UniqueIns:
    """A :class:`~gateway.record.seams.WriteCheck` for ``Patient``, run once the write is
    allowed and valid (so it tells nothing to a caller who may not write it)."""

    resource_type = "Patient"

    def __init__(self, stored: Callable[[str], str]) -> None:
        self._stored = stored  # the value as the index holds it (BlindIndex.identifier)
        # INS given in each open transaction, before its index rows exist (a transaction
        # Bundle with two Patients of one INS): value -> the Patient id that took it.
        self._claimed: weakref.WeakKeyDictionary[StoreTx, dict[str, str]] = (
            weakref.WeakKeyDictionary()
        )

    def check(
        self, tx: StoreTx, rid: str, resource: dict[str, Any], current: StoredVersion | None
    ) -> None:
        held: set[str] = set()
        if current is not None and current.content and not current.deleted:
            held = {v for _, v in _ins_of(orjson.loads(current.content))}
        allowed = {rid} | _linked(resource)
        claimed = self._claimed.setdefault(tx, {})
        for system, value in _ins_of(resource):
            if value in held:
                continue
            tx.lock("ins:" + hashlib.sha256(value.encode()).hexdigest())
            others = set(patient_ids_for_ins(tx.conn, value, self._stored))
            if value in claimed:
                others.add(claimed[value])
            claimed.setdefault(value, rid)
            if others - allowed:
                raise Conflict(
                    f"A patient record already exists for this INS ({system}); a second "
                    "Patient with the same INS would split the record. Search it by "
                    "identifier, or ask for access to it.",
                    expression="Patient.identifier",
                    code=INS_TAKEN,
                )
