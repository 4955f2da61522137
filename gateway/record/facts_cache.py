"""A per-process cache of patients' access facts, exact by construction.

Facts are derived from Patient, Consent, CareTeam, Group, Practitioner, PractitionerRole
and Organization resources. Each cached entry is keyed by the patient and the newest
history sequence of those types, read in the same transaction as the request
(:meth:`StoreTx.generation`): any committed change to any of them, by any worker, changes
the key, so a stale entry is never used (0 s invalidation, no Redis needed, never a
guess). Read-only units, and write units that have written none of those types yet,
fill and use it (they see the committed state the stamp names); a unit that has written
one of them reads its own facts, and its uncommitted state never enters the cache.

The stamp is exact only where writers are serialised (SQLite). On PostgreSQL transactions
commit out of sequence order, so a change committed late with a lower sequence would
not move the stamp: there the cache is off and facts are read once per unit of work.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

from gateway.policy import PatientFacts

FACT_TYPES = (
    "Patient",
    "Consent",
    "CareTeam",
    "Group",
    "Practitioner",
    "PractitionerRole",
    "Organization",
)


class FactsCache:
    def __init__(self, capacity: int = 10_000) -> None:
        self._capacity = capacity
        self._entries: OrderedDict[tuple[str, int], PatientFacts] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, patient_id: str, generation: int) -> PatientFacts | None:
        with self._lock:
            key = (patient_id, generation)
            facts = self._entries.get(key)
            if facts is not None:
                self._entries.move_to_end(key)
            return facts

    def put(self, patient_id: str, generation: int, facts: PatientFacts) -> None:
        with self._lock:
            self._entries[(patient_id, generation)] = facts
            self._entries.move_to_end((patient_id, generation))
            while len(self._entries) > self._capacity:
                self._entries.popitem(last=False)

    def __len__(self) -> int:
        return len(self._entries)
