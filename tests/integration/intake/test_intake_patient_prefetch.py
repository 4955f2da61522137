"""The patient index's lookup of several identifiers in one query answers exactly as one
lookup per identifier: matches, misses, and identifiers several patients carry (left
to the per-key query). Runs on SQLite and PostgreSQL."""

from __future__ import annotations

from gateway.access.context import AccessContext
from gateway.ingest.result import PatientKey
from gateway.intake.identity import StoredPatient
from gateway.intake.patient_index import TxPatientIndex
from gateway.intake.unit import write_unit
from gateway.record.services import RecordServices

LOCAL = "urn:oid:1.2.250.1.71.4.2.7.1750000010.1"


def _patient(family: str, *locals_: str) -> dict[str, object]:
    return {
        "resourceType": "Patient",
        "identifier": [{"system": LOCAL, "value": v} for v in locals_],
        "name": [{"family": family}],
    }


def _ids(found: list[StoredPatient]) -> list[str]:
    return sorted(p.id for p in found)


def test_prefetch_answers_as_one_lookup_per_identifier(services: RecordServices) -> None:
    with write_unit(services) as unit:
        writer = unit.writer(AccessContext.dev_open())
        writer.create(_patient("Martin", "P-1", "P-1b"))
        writer.create(_patient("Durand", "P-2", "SHARED"))
        writer.create(_patient("Petit", "P-3", "SHARED"))
    keys = [
        PatientKey(LOCAL, value, "local")
        for value in ("P-1", "P-1b", "P-2", "SHARED", "NOBODY", "P-1")
    ]
    with services.store.reader() as tx:
        alone = {k.token: _ids(TxPatientIndex(tx, services).by_identifier(k)) for k in keys}
        index = TxPatientIndex(tx, services)
        index.prefetch(keys)
        together = {k.token: _ids(index.by_identifier(k)) for k in keys}
    assert together == alone
    assert len(alone[f"{LOCAL}|SHARED"]) == 2
    assert alone[f"{LOCAL}|NOBODY"] == []
    assert alone[f"{LOCAL}|P-1"] == alone[f"{LOCAL}|P-1b"] != []
