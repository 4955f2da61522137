"""What a sender may be told about the stored facts its payload matches.

Business identifiers are looked up among everything stored (the same fact from two
channels must stay one resource), before the access rules judge the write. A match the
sender may not read must not change its answer: otherwise "duplicate" (AA) or a
conflict showing the stored value would tell a sender without rights what the record
holds. So a stored match counts only when the sender may read it (as its Bundle will
be judged: a professional for the patient of the item); a hidden one is left to the
write, whose conditional create searches with the sender's rights and whose access
rules decide, as for a fact stored nowhere.
"""

from __future__ import annotations

from collections.abc import Callable

from gateway.intake.plan import Plan
from gateway.intake.sender import Sender
from gateway.intake.unit import WriteUnit
from gateway.policy import Action
from gateway.record.reader import RecordReader
from gateway.storage.records import StoredVersion

#: Matches that tell a sender nothing of a patient's record: the directory (shared by
#: every professional) and the Patient itself, whom the identity stage has already
#: matched by the payload's own identifiers. Every other type is judged.
UNGUARDED = frozenset(
    {"Practitioner", "PractitionerRole", "Organization", "Location", "Medication", "Patient"}
)

MayRead = Callable[[int, StoredVersion], bool]
"""(the payload item, a stored version it matches) → whether its sender may read it."""


def may_read(unit: WriteUnit, sender: Sender, plan: Plan) -> MayRead:
    readers: dict[int, RecordReader] = {}

    def judge(item: int, version: StoredVersion) -> bool:
        reader = readers.get(item)
        if reader is None:
            planned = plan.items.get(item)
            claim = planned.claim if planned is not None else None
            ctx = sender.for_patient(claim).ctx
            reader = readers[item] = RecordReader(ctx, unit.services, unit.tx)
        return reader.visible(version, Action.READ)

    return judge
