"""Helpers for the intake tests: a feeding set-up on the demo record, readers, messages."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import func, select

from gateway.access.context import AccessContext
from gateway.app import access_rules
from gateway.auth import demo
from gateway.auth.demo_bundle import TRE_G15, demo_transaction
from gateway.intake import Intake, Sender, sender_for
from gateway.record.repository import Repository
from gateway.record.services import RecordServices
from gateway.rest.request import FhirRequest
from gateway.rest.router import dispatch
from gateway.storage import schema as s
from gateway.storage.version_rows import CURRENT_COLUMNS, current_version

ROOT = Path(__file__).resolve().parents[3]
HL7 = ROOT / "fixtures" / "hl7v2"
CSV = ROOT / "fixtures" / "csv"
INTAKE = ROOT / "fixtures" / "intake"
ALICE_INS = demo.PATIENT_INS[0]
PHARMACY_FINESS = demo.PHARMACY[1:]


def directory() -> dict[str, Any]:
    """The demo pharmacist's role, with the identifier the pharmacy's software feeds by.

    Pharmacists may not create directory data (access matrix, administrative: write
    false), so the role their software names must be in the directory already.
    """
    role = {
        "resourceType": "PractitionerRole",
        "id": "role-pharmacist",
        "identifier": [
            {
                "system": f"https://dmp-gateway.fr/fhir/sid/finess/{PHARMACY_FINESS}/practitioner-role",
                "value": f"{demo.PHARMACIST.subject}/21",
            }
        ],
        "active": True,
        "practitioner": {"reference": "Practitioner/pr-pharmacist"},
        "organization": {"reference": "Organization/org-pharmacy"},
        "code": [{"coding": [{"system": TRE_G15, "code": "21"}]}],
    }
    return {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {
                "resource": role,
                "request": {"method": "PUT", "url": "PractitionerRole/role-pharmacist"},
            }
        ],
    }


def load_demo(services: RecordServices) -> None:
    """The demo record and the feeding directory, loaded as the trusted dev loader."""
    loader = replace(services, policy=access_rules(services.settings, trusted_loader=True))
    repo = Repository(AccessContext.dev_open(), loader)
    for bundle in (demo_transaction(), directory()):
        dispatch(FhirRequest("POST", [], resource=bundle, base="demo"), repo)


def ehpad_sender() -> Sender:
    return sender_for(demo.EHPAD_SYSTEM.context(client_id="demo-ehpad"))


def pharmacist_sender() -> Sender:
    ctx = demo.PHARMACIST.context(client_id="demo-vendor", patient=None)
    return sender_for(ctx)


def dev_sender(finess: str = "750712184") -> Sender:
    return sender_for(AccessContext.dev_open(), dev_finess=finess)


def hl7(name: str) -> bytes:
    for folder in (HL7, INTAKE, HL7 / "samples"):
        if (folder / name).exists():
            return (folder / name).read_bytes()
    raise FileNotFoundError(name)


def stored(services: RecordServices, resource_type: str) -> list[dict[str, Any]]:
    """Every live resource of a type, as stored (no access filtering: test oracle)."""
    r = s.resource
    with services.store.reader() as tx:
        rows = tx.conn.execute(
            select(*CURRENT_COLUMNS).where(
                r.c.resource_type == resource_type, r.c.deleted.is_(False)
            )
        ).all()
        # Through the store's decode function: content is sealed at rest.
        bodies = [current_version(row, tx.conn).content for row in rows]
    return [orjson.loads(body) for body in bodies if body is not None]


def count(services: RecordServices, table: Any = None) -> int:
    """Rows in ``table`` (default: every resource version ever written)."""
    with services.store.reader() as tx:
        return int(
            tx.conn.execute(
                select(func.count()).select_from(table if table is not None else s.history)
            ).scalar_one()
        )


def by_id(services: RecordServices, reference: str) -> dict[str, Any]:
    rtype, rid = reference.split("/", 1)
    with services.store.reader() as tx:
        current = tx.current(rtype, rid)
    assert current is not None and current.content is not None, reference
    body: dict[str, Any] = orjson.loads(current.content)
    return body


def profile_errors(services: RecordServices, resource: dict[str, Any]) -> list[str]:
    return [i.diagnostics for i in services.validator.validate(resource) if i.is_error]


def new_intake(services: RecordServices) -> Intake:
    return Intake.load(services, chunk_rows=50)


class RunningListener:
    """An :class:`MllpServer` on a free loopback port, its event loop in a thread."""

    def __init__(self, handler: Any, **options: Any) -> None:
        import asyncio
        import threading

        from gateway.mllp import MllpServer

        self.server = MllpServer(handler, port=0, **options)
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)

    def __enter__(self) -> RunningListener:
        import asyncio

        self._thread.start()
        asyncio.run_coroutine_threadsafe(self.server.start(), self.loop).result(30)
        return self

    @property
    def port(self) -> int:
        return self.server.bound_port

    def __exit__(self, *_exc: object) -> None:
        import asyncio

        asyncio.run_coroutine_threadsafe(self.server.close(), self.loop).result(60)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(30)
        self.loop.close()
