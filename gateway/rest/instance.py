"""Instance-level interactions: read, vread, update, patch, delete.

https://hl7.org/fhir/R4/http.html#read, #vread, #update, #patch, #delete. Read and
vread honour ``_summary`` and ``_elements`` as a search does (the same
:func:`gateway.search.subset.subset`, so the part returned carries the same
``SUBSETTED`` tag); ``_summary=false`` and ``_summary=count`` return the whole resource.
Any other parameter is a 400 naming it, unless handling is lenient
(:func:`check_read_params`).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from typing import Any

from gateway.errors import BadRequest, UnsupportedMediaType, UnsupportedParameter, shown
from gateway.fhir.json import loads, loads_stored
from gateway.fhir.patch import apply_json_patch
from gateway.record.repository import Repository
from gateway.rest.request import FhirRequest, FhirResponse
from gateway.rest.respond import (
    parse_if_match,
    parse_if_none_match,
    read_response,
    write_response,
)
from gateway.rest.searchset import lenient
from gateway.search.controls import parse_elements, parse_summary
from gateway.search.subset import needs_subset, subset

JSON_PATCH = "application/json-patch+json"


# _format and _pretty are read (and taken off the query) by the HTTP layer.
READ_PARAMS = frozenset({"_summary", "_elements"})
UNKNOWN_PARAM = "GW-1112"


def check_read_params(req: FhirRequest) -> None:
    """Refuse a parameter read and vread do not define, naming it, as a strict search
    does (https://hl7.org/fhir/R4/search.html#errors): ``Patient/1?_count=1`` or
    ``?name=x`` is a client mistake the answer should not hide. With ``Prefer:
    handling=lenient`` it is ignored; the answer is the resource itself, which has no
    place for a warning."""
    if lenient(req):
        return
    for name, _ in req.query:
        if name not in READ_PARAMS:
            raise UnsupportedParameter(
                f"'{shown(name)}' is not a parameter of read or vread "
                "(they take _format, _pretty, _summary and _elements)",
                expression=shown(name),
                code=UNKNOWN_PARAM,
            )


def read(req: FhirRequest, repo: Repository) -> FhirResponse:
    rtype, rid = req.segments[0], req.segments[1]
    check_read_params(req)
    cut = subsetter(req, repo, rtype)
    with repo.reading() as r:
        return read_response(req, r.read(rtype, rid), cut=cut)


def vread(req: FhirRequest, repo: Repository) -> FhirResponse:
    rtype, rid, vid = req.segments[0], req.segments[1], req.segments[3]
    if not (vid.isascii() and vid.isdigit()):  # "²".isdigit() too, and int() refuses it
        raise BadRequest(f"Invalid version id '{shown(vid)}'", code="GW-1206")
    check_read_params(req)
    cut = subsetter(req, repo, rtype)
    with repo.reading() as r:
        return read_response(req, r.vread(rtype, rid, int(vid)), cut=cut)


def subsetter(
    req: FhirRequest, repo: Repository, rtype: str
) -> Callable[[dict[str, Any]], dict[str, Any]] | None:
    """What ``_summary``/``_elements`` keep of the resource read, or None for all of it.

    The values are checked as a search checks them (400 when malformed), and the cut is
    the search's, tagged ``SUBSETTED`` (https://hl7.org/fhir/R4/search.html#summary).
    """
    summary_value = req.param("_summary")
    elements_value = req.param("_elements")
    summary = parse_summary("_summary", summary_value) if summary_value is not None else None
    search = repo.services.search
    elements: tuple[str, ...] = ()
    if elements_value is not None:
        elements = parse_elements(search.registry, "_elements", elements_value, [rtype])
    if not needs_subset(summary, elements):
        return None
    table = search.summaries
    return lambda resource: subset(resource, table, summary=summary, elements=elements)


def update(req: FhirRequest, repo: Repository) -> FhirResponse:
    rtype, rid = req.segments[0], req.segments[1]
    if_match = parse_if_match(req.header("if-match"))
    if_none_match = parse_if_none_match(req.header("if-none-match"))
    with repo.writing() as w:
        result = w.update(rtype, rid, req.resource, if_match=if_match, if_none_match=if_none_match)
    return write_response(req, result.version, result.http_status, result.issues)


def patch(req: FhirRequest, repo: Repository) -> FhirResponse:
    rtype, rid = req.segments[0], req.segments[1]
    operations = patch_document(req)
    if_match = parse_if_match(req.header("if-match"))
    with repo.writing() as w:
        current = w.read(rtype, rid)
        patched = apply_json_patch(loads_stored(current.content or b"{}"), operations)
        result = w.update(rtype, rid, patched, if_match=if_match, method="PATCH")
    return write_response(req, result.version, result.http_status, result.issues)


def patch_document(req: FhirRequest) -> Any:
    """The JSON Patch document (RFC 6902) of a PATCH; FHIRPath Patch is not served.

    Over HTTP the body is the patch itself (``Content-Type: application/json-patch+json``);
    in a Bundle entry it is a Binary of that content type
    (https://hl7.org/fhir/R4/http.html#patch).
    """
    if req.in_bundle:
        binary = req.resource
        if not isinstance(binary, dict) or binary.get("resourceType") != "Binary":
            raise UnsupportedMediaType(
                "A PATCH entry must carry its JSON Patch as a Binary resource",
                code="GW-1016",
            )
        if binary.get("contentType") != JSON_PATCH or not isinstance(binary.get("data"), str):
            raise UnsupportedMediaType(
                f"The PATCH entry's Binary must have contentType {JSON_PATCH} and data",
                code="GW-1016",
            )
        try:
            return loads(base64.b64decode(binary["data"], validate=True))
        except binascii.Error:
            raise BadRequest("The PATCH entry's Binary data is not base64") from None
    ctype = (req.content_type or "").split(";")[0].strip().lower()
    if ctype != JSON_PATCH:
        raise UnsupportedMediaType(
            f"PATCH needs Content-Type {JSON_PATCH}; got '{ctype or 'none'}' "
            "(FHIRPath Patch is not supported)",
            code="GW-1016",
        )
    return req.resource


def delete(req: FhirRequest, repo: Repository) -> FhirResponse:
    rtype, rid = req.segments[0], req.segments[1]
    if_match = parse_if_match(req.header("if-match"))
    with repo.writing() as w:
        result = w.delete(rtype, rid, if_match=if_match)
    headers = {"ETag": f'W/"{result.version.version}"'}
    return FhirResponse(204 if not req.in_bundle else 200, None, headers)
