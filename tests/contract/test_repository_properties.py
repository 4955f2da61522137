"""Property tests of the repository on both back-ends (Hypothesis)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from gateway.errors import GatewayError
from gateway.fhir.json import loads
from gateway.fhir.meta import without_server_meta
from gateway.record.repository import Repository
from gateway.rest.bundle_processing import process
from gateway.rest.request import FhirRequest
from gateway.storage import schema as s

text = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), min_size=1, max_size=12
).filter(lambda t: t.strip() == t and t != "")

patients = st.fixed_dictionaries(
    {"resourceType": st.just("Patient")},
    optional={
        "active": st.booleans(),
        "gender": st.sampled_from(["male", "female", "other", "unknown"]),
        "birthDate": st.dates().map(lambda d: d.isoformat()),
        "name": st.lists(
            st.fixed_dictionaries(
                {"family": text}, optional={"given": st.lists(text, min_size=1, max_size=2)}
            ),
            min_size=1,
            max_size=2,
        ),
        "identifier": st.lists(
            st.fixed_dictionaries({"system": st.just("urn:test"), "value": text}),
            min_size=1,
            max_size=2,
        ),
    },
)

observations = st.fixed_dictionaries(
    {
        "resourceType": st.just("Observation"),
        "status": st.sampled_from(["final", "preliminary", "amended"]),
        "code": st.fixed_dictionaries({"text": text}),
        "valueQuantity": st.fixed_dictionaries(
            {
                "value": st.decimals(min_value=-1000, max_value=1000, places=3).map(
                    lambda d: d if d != 0 else Decimal("0.0")
                ),
                "unit": st.sampled_from(["mm[Hg]", "kg", "Cel"]),
            }
        ),
    },
)

resources = st.one_of(patients, observations)
PROPERTY = settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def _body(content: bytes | None) -> dict[str, Any]:
    assert content is not None
    value: dict[str, Any] = loads(content)
    return value


@PROPERTY
@given(resource=resources)
def test_create_then_read_returns_the_same_content(
    repo: Repository, resource: dict[str, Any]
) -> None:
    with repo.writing() as w:
        created = w.create(resource)
    with repo.reading() as r:
        stored = r.read(created.version.resource_type, created.version.id)
    body = _body(stored.content)
    assert without_server_meta({**body, "id": None}) == without_server_meta(
        {**resource, "id": None}
    )
    assert body["meta"]["versionId"] == "1"


@PROPERTY
@given(first=patients, updates=st.lists(patients, min_size=1, max_size=4))
def test_every_version_stays_readable(
    repo: Repository, first: dict[str, Any], updates: list[dict[str, Any]]
) -> None:
    with repo.writing() as w:
        rid = w.create(first).version.id
    written = [first]
    for update in updates:
        with repo.writing() as w:
            result = w.update("Patient", rid, {**update, "id": rid})
        if result.status == "updated":
            written.append(update)
    with repo.reading() as r:
        for number, expected in enumerate(written, start=1):
            body = _body(r.vread("Patient", rid, number).content)
            assert body["meta"]["versionId"] == str(number)
            assert without_server_meta({**body, "id": rid}) == without_server_meta(
                {**expected, "id": rid}
            )


def _count(repo: Repository) -> tuple[int, int]:
    with repo.services.store.reader() as tx:
        return (
            tx.conn.execute(select(func.count()).select_from(s.resource)).scalar_one(),
            tx.conn.execute(select(func.count()).select_from(s.history)).scalar_one(),
        )


@PROPERTY
@given(
    good=st.lists(resources, min_size=1, max_size=6),
    poison_at=st.one_of(st.none(), st.integers(min_value=0, max_value=6)),
)
def test_a_transaction_applies_fully_or_leaves_no_trace(
    repo: Repository, good: list[dict[str, Any]], poison_at: int | None
) -> None:
    entries = [
        {"resource": r, "request": {"method": "POST", "url": r["resourceType"]}} for r in good
    ]
    if poison_at is not None:
        poison = {"resourceType": "Observation", "status": "final"}  # no code: invalid
        entries.insert(
            min(poison_at, len(entries)),
            {"resource": poison, "request": {"method": "POST", "url": "Observation"}},
        )
    before = _count(repo)
    req = FhirRequest(
        "POST",
        [],
        resource={"resourceType": "Bundle", "type": "transaction", "entry": entries},
        base="http://test/fhir",
    )
    if poison_at is None:
        response = process(req, repo)
        assert response.status == 200
        assert _count(repo) == (before[0] + len(good), before[1] + len(good))
    else:
        with pytest.raises(GatewayError):
            process(req, repo)
        assert _count(repo) == before
