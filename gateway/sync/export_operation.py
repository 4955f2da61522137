"""``$export`` kick-off (FHIR Bulk Data Access 2.0, https://hl7.org/fhir/uv/bulkdata/export.html).

``GET [base]/Patient/$export`` (every patient the caller may see) and
``GET [base]/Group/[id]/$export`` (the members of a Group the caller may see), with
``_type`` (comma-separated resource types), ``_since`` (an instant: resources changed
after it) and ``_outputFormat`` (NDJSON only). ``Prefer: respond-async`` is required.
Any other parameter is refused (strict by default). The answer is ``202 Accepted`` with
``Content-Location``: the status URL under ``/sync/export/`` (see
:mod:`gateway.sync.export_status`). The job runs in the worker
(:mod:`gateway.sync.export_runner`) with the caller's rights, kept with the job.
"""

from __future__ import annotations

import uuid

import orjson

from gateway.errors import (
    BadRequest,
    Issue,
    NotFound,
    UnsupportedParameter,
    operation_outcome,
    shown,
)
from gateway.fhir.instant import parse_range
from gateway.fhir.json import dumps
from gateway.fhir.resource_types import RESOURCE_TYPES
from gateway.record.repository import Repository
from gateway.rest.operations import Operation, register
from gateway.rest.request import FhirRequest, FhirResponse
from gateway.storage.export_jobs import ExportJob, create_job
from gateway.sync.owner import caller_facts, key_of

FORMATS = frozenset({"application/fhir+ndjson", "application/ndjson", "ndjson"})
PARAMETERS = frozenset({"_type", "_since", "_outputFormat"})


def site_base(fhir_base: str) -> str:
    """The server root that ``/sync`` hangs from, given the FHIR base (``…/fhir``)."""
    return fhir_base[: -len("/fhir")] if fhir_base.endswith("/fhir") else fhir_base


def status_url(fhir_base: str, job_id: str) -> str:
    return f"{site_base(fhir_base)}/sync/export/{job_id}"


def _types(req: FhirRequest) -> list[str] | None:
    values = [t.strip() for raw in req.params("_type") for t in raw.split(",") if t.strip()]
    unknown = [t for t in values if t not in RESOURCE_TYPES]
    if unknown:
        raise BadRequest(f"Unknown resource type in _type: {unknown[0]}", expression="_type")
    return sorted(set(values)) or None


def kick_off(req: FhirRequest, repo: Repository) -> FhirResponse:
    segs = req.segments
    level = "group" if segs[0] == "Group" else "patient"
    if (level == "group" and len(segs) != 3) or (level == "patient" and len(segs) != 2):
        raise NotFound(
            "$export is served at Patient/$export and Group/[id]/$export", code="GW-3003"
        )
    for name, _ in req.query:
        if name not in PARAMETERS:
            raise UnsupportedParameter(
                f"Unsupported $export parameter '{shown(name)}'",
                expression=shown(name),
                code="GW-1002",
            )
    if "respond-async" not in req.prefer:
        raise BadRequest("$export needs the header 'Prefer: respond-async'", code="GW-1681")
    output = req.param("_outputFormat")
    if output is not None and output not in FORMATS:
        raise BadRequest("Only NDJSON output is served", expression="_outputFormat")
    since_raw = req.param("_since")
    since = parse_range(since_raw, what="_since")[0] if since_raw else None
    types = _types(req)
    facts = caller_facts(repo.ctx)
    group_id = segs[1] if level == "group" else None
    now = repo.services.clock()
    job_id = uuid.uuid4().hex
    with repo.writing() as writer:
        if group_id is not None:
            writer.read("Group", group_id)  # 404 unless the caller may see this Group
        create_job(
            writer.tx,
            ExportJob(
                id=job_id,
                owner=key_of(repo.ctx),
                caller=orjson.dumps(facts).decode(),
                level=level,
                group_id=group_id,
                types=",".join(types) if types else None,
                since=since,
                request=_request_url(req),
                state="queued",
                progress="queued",
                transaction_time=now,
                created=now,
                updated=now,
                holder=None,
                lease_until=0,
                error=None,
            ),
        )
    body = operation_outcome([Issue("information", "informational", "Export job accepted")])
    return FhirResponse(202, dumps(body), {"Content-Location": status_url(req.base, job_id)})


def _request_url(req: FhirRequest) -> str:
    from urllib.parse import urlencode

    path = f"{req.base}/{'/'.join(req.segments)}"
    return f"{path}?{urlencode(req.query)}" if req.query else path


register(
    Operation(
        name="export",
        levels=frozenset({"type", "instance"}),
        resource_types=frozenset({"Patient", "Group"}),
        methods=frozenset({"GET"}),
        handler=kick_off,
        definition="http://hl7.org/fhir/uv/bulkdata/OperationDefinition/group-export",
        type_definitions={
            "Patient": "http://hl7.org/fhir/uv/bulkdata/OperationDefinition/patient-export",
            "Group": "http://hl7.org/fhir/uv/bulkdata/OperationDefinition/group-export",
        },
    )
)
