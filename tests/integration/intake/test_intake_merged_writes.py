"""A unit that merges its writes (one HL7 message, a group of them): the queues of all
its writers go to the database together, and the audit trail is what it would be had
each interaction written its own queue when it ended: its record names the versions it
queued, and becomes the 409 refusal if writing them fails. Runs on SQLite and
PostgreSQL.
"""

from __future__ import annotations

import pytest

from gateway.access.context import AccessContext
from gateway.audit.events import AuditRecord
from gateway.errors import Conflict
from gateway.intake.gateway_writer import gateway_writer, write_provenance
from gateway.intake.unit import write_unit
from gateway.record.audit_trail import Interaction, record_of
from gateway.record.services import RecordServices


def _patient(family: str) -> dict[str, object]:
    return {"resourceType": "Patient", "name": [{"family": family}], "gender": "female"}


@pytest.mark.parametrize("merge", [False, True])
def test_the_audit_record_names_the_versions_of_its_interaction(
    services: RecordServices, merge: bool
) -> None:
    ctx = AccessContext.dev_open()
    with write_unit(services, merge_writes=merge) as unit:
        repo = unit.repository(ctx)
        repo.interaction = Interaction("create")
        with repo.writing() as writer:
            created = writer.create(_patient("Martin")).version
        record = unit.audit[-1]
        assert [(r.resource_type, r.id, r.version) for r in record.resources] == [
            ("Patient", created.id, 1)
        ]
        assert list(record.patients) == [created.id]
        assert record.reason is None
    stored = {(v.resource_type, v.id) for v in unit.committed}
    assert ("Patient", created.id) in stored
    assert all(v.seq is not None and v.pk is not None for v in unit.committed)


def test_merged_queues_are_written_in_writer_order(services: RecordServices) -> None:
    """The clinical writer's versions, then the gateway's (its Provenance), as when each
    wrote its own queue: history sequence numbers in that order."""
    ctx = AccessContext.dev_open()
    with write_unit(services, merge_writes=True) as unit:
        repo = unit.repository(ctx)
        with repo.writing() as writer:
            first = writer.create(_patient("Martin")).version
            second = writer.create(_patient("Durand")).version
        gateway = gateway_writer(unit, "1750000010", flush=False)
        provenance = write_provenance(
            gateway,
            {
                "resourceType": "Provenance",
                "target": [{"reference": f"Patient/{first.id}"}],
                "recorded": "2024-01-01T08:00:00+01:00",
                "agent": [{"who": {"display": "dmp-gateway"}}],
            },
        )
    seqs = {v.id: v.seq or 0 for v in unit.committed}
    assert 0 < seqs[first.id] < seqs[second.id] < seqs[provenance]


def test_a_conflict_on_the_merged_write_turns_the_record_into_its_refusal(
    services: RecordServices,
) -> None:
    ctx = AccessContext.dev_open()
    with write_unit(services) as unit:
        taken = unit.writer(ctx).create(_patient("Martin")).version.id
    seen: list[AuditRecord] = []

    def attempt() -> None:
        with write_unit(services, merge_writes=True) as unit:
            repo = unit.repository(ctx)
            repo.interaction = Interaction("create")
            with repo.writing() as writer:
                writer.create(_patient("Durand"), rid=taken)  # the same id: the INSERT fails
            assert unit.audit[-1].reason is None  # queued: nothing failed yet
            try:
                unit.flush()
            finally:
                seen.append(unit.audit[-1])

    with pytest.raises(Conflict):
        attempt()
    refused = seen[0]
    expected = record_of(Interaction("create"), ctx, 0, (), status=409, reason="GW-3011")
    assert (refused.outcome, refused.reason) == (expected.outcome, expected.reason)
    assert tuple(refused.resources) == () and tuple(refused.patients) == ()
