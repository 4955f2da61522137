"""Auditor search parameters → SQL over the stored log, on both back-ends."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine

from gateway.access.context import AccessContext
from gateway.audit.entries import LogEntry, authentication_failure, log_entries
from gateway.audit.events import AuditRecord
from gateway.errors import BadRequest, UnsupportedParameter
from gateway.record.services import RecordServices
from gateway.storage.audit_search import PARAMETERS, audit_conditions, audit_count, audit_select
from tests.audit_support import ORIGIN, T0, new_log

DAY = 86_400_000_000
DOCTOR = AccessContext(kind="professional", client_id="c", subject="810000000001", structure="S1")
NURSE = AccessContext(kind="professional", client_id="c", subject="800000000002", structure="S2")
SAMU = AccessContext(
    kind="professional",
    client_id="c",
    subject="810000000003",
    structure="S1",
    purpose_of_use="centre_15",
    justification="appel 15",
)


def corpus() -> list[LogEntry]:
    """seq: 0 doctor reads p1 (day 0); 1 nurse searches p1,p2 (day 1, refused);
    2 SAMU reads p2 (day 2) + 3 its alert; 4 doctor updates p3 (day 3); 5 auth failure."""
    recs = [
        AuditRecord("read", DOCTOR, T0, patients=["p1"]),
        AuditRecord("search-type", NURSE, T0 + DAY, outcome=4, patients=["p1", "p2"]),
        AuditRecord("read", SAMU, T0 + 2 * DAY, patients=["p2"]),
        AuditRecord("update", DOCTOR, T0 + 3 * DAY, patients=["p3"]),
    ]
    out = [e for r in recs for e in log_entries(r, ORIGIN)]
    return [*out, authentication_failure(recorded=T0 + 4 * DAY, origin=ORIGIN, reason="x")]


@pytest.fixture
def engine(services: RecordServices) -> Engine:
    new_log(services.store.engine).append_standalone(corpus())
    return services.store.engine


def search(engine: Engine, query: str, *, limit: int = 50, before: int | None = None) -> list[int]:
    params = [tuple(p.split("=", 1)) for p in query.split("&") if p]
    conds = audit_conditions(params)  # type: ignore[arg-type]
    with engine.connect() as conn:
        rows = conn.execute(audit_select(conds, before_seq=before, limit=limit)).all()
        total = conn.execute(audit_count(conds)).scalar_one()
    seqs = [row.seq for row in rows]
    if before is None and len(seqs) < limit:
        assert total == len(seqs)
    return seqs


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("", [5, 4, 3, 2, 1, 0]),
        ("patient=p1", [1, 0]),
        ("patient=Patient/p2", [3, 2, 1]),
        ("patient=p1,p3", [4, 1, 0]),
        ("agent=810000000001", [4, 0]),
        ("agent:identifier=urn:oid:1.2.250.1.71.4.2.1|800000000002", [1]),
        ("date=ge2026-01-02&date=lt2026-01-04", [3, 2, 1]),
        ("date=2026-01-01", [0]),
        ("date=le2026-01-01", [0]),
        ("date=gt2026-01-04", [5]),
        ("date=ne2026-01-01&patient=p1", [1]),
        ("action=U", [4]),
        ("action=R,U&patient=p3", [4]),
        ("outcome=4", [5, 1]),
        ("purpose=ETREAT", [3, 2]),
        ("purpose=centre_15", [3, 2]),
        ("purpose=http://terminology.hl7.org/CodeSystem/v3-ActReason|TREAT", [5, 4, 1, 0]),
        ("structure=S1", [4, 3, 2, 0]),
        ("structure=S1&agent=810000000003", [3, 2]),
        ("type=110113", [3]),
        ("type=110114", [5]),
        ("subtype=search-type", [1]),
        ("_id=2,4", [4, 2]),
        ("patient=", [5, 4, 3, 2, 1, 0]),
    ],
)
def test_parameters_select_the_right_entries(
    engine: Engine, query: str, expected: list[int]
) -> None:
    assert search(engine, query) == expected


def test_a_capped_count_stops_past_the_cap(engine: Engine) -> None:
    """``_total=estimate``: counting stops one row past the cap, so a huge log is not
    scanned to estimate a total the caller gets only when it is small."""
    conds = audit_conditions([("structure", "S1")])
    with engine.connect() as conn:
        assert conn.execute(audit_count(conds, cap=10)).scalar_one() == 4
        assert conn.execute(audit_count(conds, cap=2)).scalar_one() == 3
        assert conn.execute(audit_count([], cap=0)).scalar_one() == 1


def test_paging_newest_first(engine: Engine) -> None:
    assert search(engine, "", limit=2) == [5, 4]
    assert search(engine, "", limit=2, before=4) == [3, 2]


@pytest.mark.parametrize(
    ("name", "value", "error"),
    [
        ("subject", "x", UnsupportedParameter),
        ("patient:missing", "true", UnsupportedParameter),
        ("agent:contains", "8", UnsupportedParameter),
        ("action", "X", BadRequest),
        ("outcome", "5", BadRequest),
        ("purpose", "PLAY", BadRequest),
        ("date", "yesterday", BadRequest),
        ("patient", "Observation/1", BadRequest),
        ("_id", "abc", BadRequest),
    ],
)
def test_bad_parameters_are_refused_naming_them(
    name: str, value: str, error: type[BadRequest]
) -> None:
    with pytest.raises(error) as caught:
        audit_conditions([(name, value)])
    assert caught.value.expression[0] in (name, name.partition(":")[0])


@settings(max_examples=200)
@given(
    st.lists(
        st.tuples(st.sampled_from([*PARAMETERS, "agent:identifier", "zz"]), st.text(max_size=20)),
        max_size=4,
    )
)
def test_no_parameter_value_crashes_the_mapping(params: list[tuple[str, str]]) -> None:
    with contextlib.suppress(BadRequest):  # UnsupportedParameter is a BadRequest
        audit_select(audit_conditions(params)).compile()
