"""A request's interaction name and class, from its method and path shape alone.

Metrics label requests by interaction (``read``, ``search-type``, ``transaction``,
``operation:$everything``, ``/ingest/csv/{kind}``…), never by raw path: ids and
identifiers stay out of metrics, and the label set stays small whatever clients send.
The same shape decides the rate-limit class: ingestion (``/ingest/*`` posts, and
batch and transaction Bundles, which are posts to the FHIR base) has its own buckets.
"""

from __future__ import annotations

from gateway.auth.throttle import RequestClass

OPERATIONS = frozenset({"$everything", "$export", "$validate", "$meta", "$expand", "$lookup"})
_FHIR_BASE = "/fhir"


def request_class(method: str, path: str) -> RequestClass:
    if method != "POST":
        return "api"
    if path.startswith("/ingest/") and not path.startswith("/ingest/quarantine"):
        return "ingest"
    if path.rstrip("/") == _FHIR_BASE:
        return "ingest"  # batch or transaction
    if path.startswith("/ingest/quarantine/") and path.endswith("/$replay"):
        return "ingest"
    return "api"


def _operation(segment: str) -> str:
    return f"operation:{segment}" if segment in OPERATIONS else "operation"


def fhir_interaction(method: str, segments: list[str]) -> str:
    """The FHIR interaction (https://hl7.org/fhir/R4/http.html) a path shape names."""
    method = "GET" if method == "HEAD" else method
    n = len(segments)
    if n == 0:
        return "batch-transaction" if method == "POST" else "search-system"
    first = segments[0]
    if first == "metadata" and n == 1:
        return "capabilities"
    if first == "_history" and n == 1:
        return "history-system"
    if first == "_search" and n == 1:
        return "search-system"
    if first.startswith("$"):
        return _operation(first)
    if n == 1:
        return {"GET": "search-type", "POST": "create", "PUT": "update", "PATCH": "patch"}.get(
            method, "delete" if method == "DELETE" else "other"
        )
    second = segments[1]
    if n == 2:
        if second == "_search":
            return "search-type"
        if second == "_history":
            return "history-type"
        if second.startswith("$"):
            return _operation(second)
        return {"GET": "read", "PUT": "update", "PATCH": "patch", "DELETE": "delete"}.get(
            method, "other"
        )
    third = segments[2]
    if third == "_history":
        return "history-instance" if n == 3 else "vread"
    if third.startswith("$"):
        return _operation(third)
    return "search-compartment"


def interaction_name(method: str, path: str, route_path: str | None) -> str:
    """The label for a request: a FHIR interaction under ``/fhir``, else the route's
    template (``/ingest/quarantine/{entry_id}``), else ``unmatched``."""
    if path == _FHIR_BASE or path.startswith(_FHIR_BASE + "/"):
        segments = [s for s in path[len(_FHIR_BASE) :].split("/") if s]
        return fhir_interaction(method, segments)
    return route_path or "unmatched"
