"""Building responses for resource interactions: headers, ``Prefer: return``, outcomes."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from gateway.errors import BadRequest, Issue, operation_outcome
from gateway.fhir.instant import format_http_date, format_instant
from gateway.fhir.json import dumps, loads_stored
from gateway.record.writer import IfMatch, IfNoneMatch
from gateway.rest.request import FhirRequest, FhirResponse
from gateway.storage.records import StoredVersion


def etag(version: int) -> str:
    return f'W/"{version}"'


def parse_etag(value: str | None, *, header: str) -> int | None:
    """``W/"3"`` (or ``"3"``, or ``3``) → 3; None when absent; 400 when malformed."""
    if value is None:
        return None
    text = value.strip()
    if text.startswith("W/"):
        text = text[2:]
    text = text.strip('"')
    if not (text.isascii() and text.isdigit()):  # "²".isdigit() too, and int() refuses it
        raise BadRequest(f'Malformed {header} header: expected W/"<versionId>"', code="GW-1401")
    return int(text)


def parse_if_match(value: str | None) -> IfMatch:
    """``If-Match``: ``*`` (any current version: RFC 9110 §13.1.1) or one entity tag
    (``W/"3"``) → ``"*"`` or 3; None when absent; 400 when malformed."""
    if value is not None and value.strip() == "*":
        return "*"
    return parse_etag(value, header="If-Match")


def parse_if_none_match(value: str | None) -> IfNoneMatch:
    """``*`` or a list of entity tags (``W/"3", "4"``) → ``"*"`` or their version ids;
    None when absent; 400 when an entity tag is malformed."""
    if value is None:
        return None
    if value.strip() == "*":
        return "*"
    tags = [tag for tag in value.split(",") if tag.strip()]
    if not tags:
        return None
    return frozenset(
        v for tag in tags if (v := parse_etag(tag, header="If-None-Match")) is not None
    )


def version_headers(req: FhirRequest, v: StoredVersion, *, location: bool) -> dict[str, str]:
    headers = {
        "ETag": etag(v.version),
        "Last-Modified": format_http_date(v.last_updated),
    }
    if location:
        headers["Location"] = f"{req.base}/{v.resource_type}/{v.id}/_history/{v.version}"
    return headers


def write_response(
    req: FhirRequest,
    v: StoredVersion,
    status: int,
    issues: Sequence[Issue] = (),
    *,
    location: bool = True,
) -> FhirResponse:
    """The answer to create/update/patch, shaped by ``Prefer: return``."""
    headers = version_headers(req, v, location=location)
    outcome = operation_outcome(issues) if issues else None
    preference = req.return_preference
    if preference == "minimal":
        return FhirResponse(status, None, headers, outcome, v)
    if preference == "OperationOutcome":
        full = outcome or operation_outcome([])
        return FhirResponse(status, dumps(full), headers, full, v)
    return FhirResponse(status, v.content, headers, outcome, v)


def read_response(
    req: FhirRequest,
    v: StoredVersion,
    *,
    cut: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
) -> FhirResponse:
    """The answer to read and vread; 304 when the client's copy is current.

    ``cut`` makes the body a part of the resource (``_summary``/``_elements``); the
    headers (ETag, Last-Modified, Content-Location) are the version's either way.
    """
    headers = version_headers(req, v, location=False)
    headers["Content-Location"] = f"{req.base}/{v.resource_type}/{v.id}/_history/{v.version}"
    inm = req.header("if-none-match")
    ims = req.header("if-modified-since")
    if inm is not None:  # and If-Modified-Since is ignored (RFC 9110 §13.1.3)
        if _names_version(inm, v.version):
            return FhirResponse(304, None, headers, version=v)
    elif ims is not None and _not_modified_since(v.last_updated, ims):
        return FhirResponse(304, None, headers, version=v)
    if cut is not None:
        body = dumps(cut(loads_stored(v.content or b"{}")))
        return FhirResponse(200, body, headers, version=v)
    return FhirResponse(200, v.content, headers, version=v)


def _names_version(header: str, version: int) -> bool:
    """Whether a read's If-None-Match holds the version (``*``, or one of a list of entity
    tags, weak or strong: RFC 9110 §13.1.2). The same parser as a write's; a tag this
    server never issued matches nothing, so the read answers in full."""
    try:
        wanted = parse_if_none_match(header)
    except BadRequest:
        return False
    return wanted == "*" or (wanted is not None and version in wanted)


def _not_modified_since(last_updated: int, header: str) -> bool:
    from email.utils import parsedate_to_datetime

    from gateway.fhir.instant import to_micros

    try:
        since = parsedate_to_datetime(header)
    except (TypeError, ValueError):
        return False  # an invalid date is ignored (RFC 9110 §13.1.3)
    if since.tzinfo is None:
        return False
    return last_updated // 1_000_000 <= to_micros(since) // 1_000_000


__all__ = [
    "etag",
    "format_instant",
    "parse_etag",
    "parse_if_match",
    "parse_if_none_match",
    "read_response",
    "write_response",
]
