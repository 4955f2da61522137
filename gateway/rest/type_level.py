"""Type-level interactions: create, search, and the conditional update/patch/delete.

https://hl7.org/fhir/R4/http.html#create (``If-None-Exist``), #cond-update,
#cond-delete, #search. Conditional criteria are ordinary search parameters; zero, one
or several matches decide what happens, and several matches give 412.
"""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode

from gateway.errors import BadRequest, NotFound, PreconditionFailed
from gateway.fhir.json import loads_stored
from gateway.fhir.patch import apply_json_patch
from gateway.fhir.structure import json_kind
from gateway.record.reader import RecordReader
from gateway.record.repository import Repository
from gateway.record.writer import RecordWriter
from gateway.rest.instance import patch_document
from gateway.rest.request import FhirRequest, FhirResponse
from gateway.rest.respond import parse_if_match, write_response
from gateway.rest.search import search as search_handler
from gateway.storage.records import StoredVersion


def criteria_of(raw: str, *, what: str) -> list[tuple[str, str]]:
    """Parse conditional criteria (a query string); refuse an empty one."""
    pairs = parse_qsl(raw.lstrip("?"), keep_blank_values=True)
    if not pairs:
        raise BadRequest(f"{what} needs search criteria", code="GW-1701")
    return pairs


def single_match(
    reader: RecordReader, rtype: str, criteria: list[tuple[str, str]], *, what: str
) -> StoredVersion | None:
    """The one resource matching ``criteria``, None for no match, 412 for several.

    Inside a write unit, writers with the same criteria are serialised until commit, so
    two concurrent conditional creates cannot both find nothing and both create.
    """
    if isinstance(reader, RecordWriter):
        canonical = urlencode(sorted(criteria))
        reader.tx.lock(f"{rtype}?{canonical}")
    matches = reader.match(rtype, criteria, limit=2)
    if len(matches) > 1:
        raise PreconditionFailed(
            f"{what}: the criteria match more than one {rtype}; be more selective",
            code="GW-3013",
        )
    return matches[0] if matches else None


def create(req: FhirRequest, repo: Repository) -> FhirResponse:
    rtype = req.segments[0]
    if not isinstance(req.resource, dict) or req.resource.get("resourceType") != rtype:
        raise BadRequest(
            f"POST to {rtype} needs a {rtype} resource in the body, not {json_kind(req.resource)}",
            expression="resourceType",
            code="GW-1204",
        )
    condition = req.header("if-none-exist")
    with repo.writing() as w:
        if condition is not None:
            criteria = criteria_of(condition, what="If-None-Exist")
            existing = single_match(w, rtype, criteria, what="If-None-Exist")
            if existing is not None:  # nothing written: 200, shaped by Prefer: return
                return write_response(req, existing, 200, location=False)
        result = w.create(req.resource, rid=req.assigned_id)
    return write_response(req, result.version, 201, result.issues)


def search(req: FhirRequest, repo: Repository) -> FhirResponse:
    return search_handler(req, repo)


def conditional_update(req: FhirRequest, repo: Repository) -> FhirResponse:
    rtype = req.segments[0]
    criteria = criteria_of_request(req, "Conditional update")
    if_match = parse_if_match(req.header("if-match"))
    body = req.resource
    if not isinstance(body, dict):
        raise BadRequest("Conditional update needs a resource in the body", code="GW-1001")
    with repo.writing() as w:
        match = single_match(w, rtype, criteria, what="Conditional update")
        if match is None:
            if "id" in body:
                result = w.update(rtype, str(body["id"]), body, if_match=if_match)
            else:
                result = w.create(body)
            return write_response(req, result.version, 201, result.issues)
        if "id" in body and body["id"] != match.id:
            raise BadRequest(
                f"The body's id '{body['id']}' differs from the matched {rtype}/{match.id}",
                expression=f"{rtype}.id",
                code="GW-1205",
            )
        result = w.update(rtype, match.id, {**body, "id": match.id}, if_match=if_match)
    return write_response(req, result.version, result.http_status, result.issues)


def conditional_patch(req: FhirRequest, repo: Repository) -> FhirResponse:
    rtype = req.segments[0]
    criteria = criteria_of_request(req, "Conditional patch")
    operations = patch_document(req)
    if_match = parse_if_match(req.header("if-match"))
    with repo.writing() as w:
        match = single_match(w, rtype, criteria, what="Conditional patch")
        if match is None:
            raise NotFound(f"Conditional patch: no {rtype} matches the criteria")
        patched = apply_json_patch(loads_stored(match.content or b"{}"), operations)
        result = w.update(rtype, match.id, patched, if_match=if_match, method="PATCH")
    return write_response(req, result.version, result.http_status, result.issues)


def conditional_delete(req: FhirRequest, repo: Repository) -> FhirResponse:
    rtype = req.segments[0]
    criteria = criteria_of_request(req, "Conditional delete")
    with repo.writing() as w:
        match = single_match(w, rtype, criteria, what="Conditional delete")
        if match is None:
            raise NotFound(f"Conditional delete: no {rtype} matches the criteria")
        result = w.delete(rtype, match.id)
    return FhirResponse(
        204 if not req.in_bundle else 200, None, {"ETag": f'W/"{result.version.version}"'}
    )


def criteria_of_request(req: FhirRequest, what: str) -> list[tuple[str, str]]:
    pairs = [(k, v) for k, v in req.query if k not in ("_format", "_pretty")]
    if not pairs:
        raise BadRequest(f"{what} needs search criteria in the URL", code="GW-1701")
    return pairs
