"""The search columns read back from an entry's bytes equal those written with it."""

from __future__ import annotations

from dataclasses import replace

import pytest

from gateway.access.context import AccessContext
from gateway.audit.columns import columns_of, same_client
from gateway.audit.entries import LogEntry, authentication_failure, log_entries
from gateway.audit.events import AuditRecord, ResourceVersion

ORIGIN = "dmp-gateway.test/audit"
T0 = 1_772_323_200_123_456

PROFESSIONAL = AccessContext(
    kind="professional",
    client_id="lgc-1",
    subject="810000000017",
    profession="10",
    structure="1750000010",
    software="Logiciel 2.1",
    request_id="req-1",
)
CALLERS = [
    PROFESSIONAL,
    replace(PROFESSIONAL, purpose_of_use="bris_de_glace", justification="urgence vitale"),
    replace(PROFESSIONAL, purpose_of_use="centre_15", structure=None),
    AccessContext(kind="system", client_id="ehpad-7", structure="1750000099"),
    AccessContext(kind="patient", client_id="mes", subject="285037512345688"),
    AccessContext(kind="auditor", client_id=None, subject="auditor-1"),
]
RECORDS = [
    AuditRecord("read", ctx, T0 + i, patients=["p1"], resources=[ResourceVersion("X", "1", 2)])
    for i, ctx in enumerate(CALLERS)
] + [
    AuditRecord(
        "search-type",
        PROFESSIONAL,
        T0 + 99,
        patients=["p2", "p3", "p2"],
        query=b"Observation?patient=p2",
    ),
    AuditRecord("create", PROFESSIONAL, T0, outcome=4, reason="GW-2001 forbidden"),
    AuditRecord("operation", PROFESSIONAL, T0, operation="audit-export", query=b"audit/export"),
]


def _entries() -> list[LogEntry]:
    out = [e for r in RECORDS for e in log_entries(r, ORIGIN)]
    out.append(authentication_failure(recorded=T0, origin=ORIGIN, reason="expired", jti="j1"))
    return out


@pytest.mark.parametrize("entry", _entries(), ids=lambda e: f"{e.event_type}-{e.interaction}")
def test_the_columns_of_the_bytes_are_the_columns_written(entry: LogEntry) -> None:
    got = columns_of(entry.content)
    assert got.recorded == entry.recorded
    assert (got.event_type, got.interaction, got.action) == (
        entry.event_type,
        entry.interaction,
        entry.action,
    )
    assert (got.outcome, got.purpose) == (entry.outcome, entry.purpose)
    assert (got.agent, got.structure) == (entry.agent, entry.structure)
    assert same_client(got.client, entry.client)
    assert got.patients == entry.patients


def test_both_entries_of_an_emergency_access_name_the_mode() -> None:
    rest, alert = log_entries(RECORDS[1], ORIGIN)
    assert columns_of(rest.content).purpose == columns_of(alert.content).purpose == "bris_de_glace"
    assert columns_of(alert.content).patients == ("p1",)


@pytest.mark.parametrize("content", [b"", b"[]", b"{}", b'{"recorded": "x"}', b"\xff"])
def test_bytes_that_are_no_entry_are_refused(content: bytes) -> None:
    with pytest.raises(ValueError, match="not a log entry"):
        columns_of(content)
