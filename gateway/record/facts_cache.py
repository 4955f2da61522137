"""A per-process cache of patients' access facts, exact by construction.

Facts are derived from Patient, Consent, CareTeam, Group, Practitioner, PractitionerRole
and Organization resources. Each cached entry is keyed by the patient and the stamp of
those types, read in the same transaction as the request, before the facts
(:meth:`StoreTx.generation`): every transaction that writes one of them moves the stamp
in the same commit, by any worker or process, so an entry filled under a stamp holds
facts at least as new as the stamp names, and a committed change makes every later
reader look under a new key (0 s invalidation, no Redis needed, never a guess).
Read-only units, and write units that have written none of those types yet, fill and
use it (they see committed state only); a unit that has written one of them reads its
own facts, and its uncommitted state never enters the cache.

On SQLite a unit sees one snapshot, so its facts are exactly those of the stamp. On
PostgreSQL (READ COMMITTED) each statement sees what was committed when it began: an
entry may then hold facts a little newer than its stamp (a change committed while they
were read), and a unit keeps using its stamp's entries for its own length, as a unit on
SQLite keeps its snapshot; never facts older than what the unit's stamp names.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Collection
from datetime import datetime

from gateway.policy import PatientFacts
from gateway.record.patient_facts import load_patients_facts
from gateway.storage.store import STAMPED_TYPES, StoreTx

FACT_TYPES = tuple(sorted(STAMPED_TYPES))


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


def warm(cache: FactsCache, tx: StoreTx, patient_ids: Collection[str], *, now: datetime) -> None:
    """Fill ``cache`` with the facts of the ``patient_ids`` it lacks at the stamp ``tx``
    reads now, loaded together (:func:`load_patients_facts`) in ``tx``: what each
    unit's first :meth:`RecordReader.patient_facts` of them would load and cache one at
    a time, under the same conditions. ``tx`` must have nothing queued: when it has
    written a fact-bearing type, its facts are its own and the cache is left alone."""
    if not tx.written.isdisjoint(FACT_TYPES):
        return
    generation = tx.generation()
    missing = [i for i in patient_ids if cache.get(i, generation) is None]
    for patient_id, facts in load_patients_facts(tx, missing, now=now).items():
        cache.put(patient_id, generation, facts)
