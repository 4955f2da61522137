"""Concurrent writers on a real database: no lost update, no duplicate conditional create."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest

from gateway.access.context import AccessContext
from gateway.errors import Conflict, PreconditionFailed
from gateway.record.repository import Repository
from gateway.record.services import RecordServices
from gateway.rest.request import FhirRequest
from gateway.rest.router import dispatch


def _run_parallel(n: int, work: Callable[[int], None]) -> list[BaseException]:
    errors: list[BaseException] = []
    barrier = threading.Barrier(n)

    def target(i: int) -> None:
        barrier.wait()
        try:
            work(i)
        except BaseException as exc:  # collected and inspected by the test
            errors.append(exc)

    threads = [threading.Thread(target=target, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    return errors


def test_concurrent_conditional_creates_make_one_resource(services: RecordServices) -> None:
    body = {"resourceType": "Patient", "identifier": [{"system": "urn:c", "value": "1"}]}

    def create(_: int) -> None:
        repo = Repository(AccessContext.dev_open(), services)
        req = FhirRequest(
            "POST",
            ["Patient"],
            resource=dict(body),
            base="http://t/fhir",
            headers={"if-none-exist": "identifier=urn:c|1"},
        )
        dispatch(req, repo)

    errors = _run_parallel(6, create)
    assert errors == []
    repo = Repository(AccessContext.dev_open(), services)
    with repo.reading() as r:
        assert len(r.match("Patient", [("identifier", "urn:c|1")], limit=10)) == 1


def test_concurrent_updates_lose_nothing(services: RecordServices) -> None:
    repo = Repository(AccessContext.dev_open(), services)
    with repo.writing() as w:
        w.update(
            "Basic", "counter", {"resourceType": "Basic", "id": "counter", "code": {"text": "0"}}
        )

    def bump(i: int) -> None:
        own = Repository(AccessContext.dev_open(), services)
        for attempt in range(50):
            try:
                with own.writing() as w:
                    current = w.read("Basic", "counter")
                    w.update(
                        "Basic",
                        "counter",
                        {
                            "resourceType": "Basic",
                            "id": "counter",
                            "code": {"text": f"{i}-{attempt}"},
                        },
                        if_match=current.version,
                    )
                return
            except (Conflict, PreconditionFailed):
                continue
        pytest.fail("could not update after 50 attempts")

    errors = _run_parallel(5, bump)
    assert errors == []
    with repo.reading() as r:
        assert r.read("Basic", "counter").version == 6
        versions = [r.vread("Basic", "counter", v).version for v in range(1, 7)]
    assert versions == [1, 2, 3, 4, 5, 6]
