"""Reading the entries of a batch or transaction Bundle into interaction requests."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from gateway.errors import BadRequest, PayloadTooLarge
from gateway.rest.request import FhirRequest

METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")
# https://hl7.org/fhir/R4/http.html#trules: DELETE, then POST, then PUT/PATCH, then GET/HEAD.
ORDER = {"DELETE": 0, "POST": 1, "PUT": 2, "PATCH": 2, "GET": 3, "HEAD": 3}


@dataclass(slots=True)
class Entry:
    index: int
    method: str
    path: str  # relative URL path, e.g. "Patient/123"
    query: list[tuple[str, str]]
    full_url: str | None
    resource: Any
    headers: dict[str, str] = field(default_factory=dict)
    target: str | None = None  # "Type/id" once known

    @property
    def where(self) -> str:
        return f"Bundle.entry[{self.index}]"

    @property
    def segments(self) -> list[str]:
        return [unquote(s) for s in self.path.split("/") if s]

    def as_request(
        self, base: str, *, prefer: str | None, conditions_resolved: bool = False
    ) -> FhirRequest:
        headers = dict(self.headers)
        if conditions_resolved:
            headers.pop("if-none-exist", None)
        if prefer:
            headers["prefer"] = prefer
        return FhirRequest(
            method=self.method,
            segments=self.segments,
            query=list(self.query),
            headers=headers,
            resource=self.resource,
            base=base,
            in_bundle=True,
        )


def read_entries(bundle: Any, *, base: str, max_entries: int) -> tuple[str, list[Entry]]:
    """The Bundle type and its entries, or a 400/413 naming the faulty entry."""
    if not isinstance(bundle, dict) or bundle.get("resourceType") != "Bundle":
        raise BadRequest(
            "POST to the FHIR base needs a Bundle", expression="resourceType", code="GW-1801"
        )
    btype = bundle.get("type")
    if btype not in ("batch", "transaction"):
        raise BadRequest(
            f"Bundle.type must be 'batch' or 'transaction', not '{btype}'",
            expression="Bundle.type",
            code="GW-1802",
        )
    raw_entries = bundle.get("entry", [])
    if not isinstance(raw_entries, list):
        raise BadRequest("Bundle.entry must be an array", expression="Bundle.entry", code="GW-1803")
    if len(raw_entries) > max_entries:
        raise PayloadTooLarge(
            f"The Bundle has {len(raw_entries)} entries; the limit is {max_entries}",
            expression="Bundle.entry",
            code="GW-1804",
        )
    entries = [_entry(i, raw, base) for i, raw in enumerate(raw_entries)]
    _full_urls_unique(entries)
    return btype, entries


def _full_urls_unique(entries: list[Entry]) -> None:
    """bdl-7 (https://hl7.org/fhir/R4/bundle.html#invs): a fullUrl names one entry,
    unless the entries that share it hold different ``meta.versionId``; else which of
    them a ``urn:uuid:`` reference names would be a guess."""
    seen: dict[tuple[str, str], int] = {}
    for entry in entries:
        if entry.full_url is None:
            continue
        resource = entry.resource if isinstance(entry.resource, dict) else {}
        meta = resource.get("meta")
        version = meta.get("versionId") if isinstance(meta, dict) else None
        key = (entry.full_url, str(version) if version is not None else "")
        if key in seen:
            raise BadRequest(
                f"{entry.where}.fullUrl {entry.full_url[:200]} is the fullUrl of "
                f"Bundle.entry[{seen[key]}] too: a fullUrl must be unique in a Bundle (bdl-7)",
                expression=f"{entry.where}.fullUrl",
                code="GW-1811",
            )
        seen[key] = entry.index


def _entry(index: int, raw: Any, base: str) -> Entry:
    where = f"Bundle.entry[{index}]"
    if not isinstance(raw, dict):
        raise BadRequest(f"{where} is not an object", expression=where, code="GW-1803")
    request = raw.get("request")
    if not isinstance(request, dict):
        raise BadRequest(
            f"{where}.request is required", expression=f"{where}.request", code="GW-1805"
        )
    method = request.get("method")
    if method not in METHODS:
        raise BadRequest(
            f"{where}.request.method must be one of {', '.join(METHODS)}",
            expression=f"{where}.request.method",
            code="GW-1805",
        )
    url = request.get("url")
    if not isinstance(url, str) or not url:
        raise BadRequest(
            f"{where}.request.url is required", expression=f"{where}.request.url", code="GW-1805"
        )
    if url.startswith(base + "/"):
        url = url[len(base) + 1 :]
    parts = urlsplit(url)
    if parts.scheme or parts.netloc:
        raise BadRequest(
            f"{where}.request.url must be relative to this server's base",
            expression=f"{where}.request.url",
            code="GW-1806",
        )
    resource = raw.get("resource")
    searching = method == "POST" and parts.path.rstrip("/").endswith("_search")
    if searching and resource is not None:
        # As a POST _search over HTTP takes form parameters only: criteria in a resource
        # would be dropped and the answer unfiltered.
        raise BadRequest(
            f"{where} is a POST _search: its search parameters go in request.url, "
            "not in a resource",
            expression=f"{where}.resource",
            code="GW-1810",
        )
    if method in ("POST", "PUT", "PATCH") and resource is None and not searching:
        raise BadRequest(
            f"{where} needs a resource for {method}", expression=f"{where}.resource", code="GW-1807"
        )
    full_url = raw.get("fullUrl")
    if full_url is not None and not isinstance(full_url, str):
        raise BadRequest(
            f"{where}.fullUrl must be a string", expression=f"{where}.fullUrl", code="GW-1805"
        )
    headers: dict[str, str] = {}
    for field_name, header in (
        ("ifMatch", "if-match"),
        ("ifNoneMatch", "if-none-match"),
        ("ifModifiedSince", "if-modified-since"),
        ("ifNoneExist", "if-none-exist"),
    ):
        value = request.get(field_name)
        if isinstance(value, str):
            headers[header] = value
    return Entry(
        index=index,
        method=method,
        path=parts.path.strip("/"),
        query=parse_qsl(parts.query, keep_blank_values=True),
        full_url=full_url,
        resource=resource,
        headers=headers,
    )
