"""What the clinical CSV kinds share: the resident they concern."""

from __future__ import annotations

from gateway.ingest.csv.rows import Row
from gateway.ingest.patients import ordered, refer_to_patient
from gateway.ingest.result import PatientRef
from gateway.normalise.identifiers import NormalisedIdentifier, local_patient


def resident(row: Row) -> PatientRef | None:
    """A conditional reference to the resident (INS first, then local id); no Patient entry."""
    keys: list[NormalisedIdentifier] = []
    ins = row.ins()
    if ins is not None:
        keys.append(ins)
    if row.text("resident_id"):
        keys.append(local_patient(row.text("resident_id"), row.asm.source))
    if not keys:
        return None
    return refer_to_patient(ordered(keys))
