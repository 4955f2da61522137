"""The route table: every FHIR interaction the gateway serves, one small handler each.

The CapabilityStatement is built from this table, so it lists exactly what is served.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlencode

from gateway.errors import BadRequest, GatewayError, MethodNotAllowed, NotFound, shown
from gateway.fhir.resource_types import RESOURCE_TYPES
from gateway.fhir.structure import is_valid_id
from gateway.record.audit_trail import Interaction
from gateway.record.repository import Repository
from gateway.rest import (
    audit_events,
    bundle_processing,
    capabilities,
    compartment,
    history,
    instance,
    type_level,
)
from gateway.rest import meta_labels as _meta_operations  # noqa: F401 - $meta-add/-delete
from gateway.rest import validate as _validate_operation  # noqa: F401 - registers $validate
from gateway.rest.operations import OPERATIONS, run_operation
from gateway.rest.request import FhirRequest, FhirResponse

Handler = Callable[[FhirRequest, Repository], FhirResponse]


@dataclass(frozen=True, slots=True)
class Route:
    method: str
    shape: tuple[str, ...]
    interaction: str  # FHIR TypeRestfulInteraction / SystemRestfulInteraction code
    handler: Handler


ROUTES: tuple[Route, ...] = (
    Route("GET", ("metadata",), "capabilities", capabilities.metadata),
    Route("POST", (), "transaction", bundle_processing.process),
    Route("GET", ("_history",), "history-system", history.history),
    Route("POST", ("{type}",), "create", type_level.create),
    Route("GET", ("{type}",), "search-type", type_level.search),
    Route("POST", ("{type}", "_search"), "search-type", type_level.search),
    Route("PUT", ("{type}",), "update", type_level.conditional_update),
    Route("PATCH", ("{type}",), "patch", type_level.conditional_patch),
    Route("DELETE", ("{type}",), "delete", type_level.conditional_delete),
    Route("GET", ("{type}", "_history"), "history-type", history.history),
    Route("GET", ("{type}", "{id}"), "read", instance.read),
    Route("PUT", ("{type}", "{id}"), "update", instance.update),
    Route("PATCH", ("{type}", "{id}"), "patch", instance.patch),
    Route("DELETE", ("{type}", "{id}"), "delete", instance.delete),
    Route("GET", ("{type}", "{id}", "_history"), "history-instance", history.history),
    Route("GET", ("{type}", "{id}", "{type}"), "search-type", compartment.search),
    Route("GET", ("{type}", "{id}", "_history", "{vid}"), "vread", instance.vread),
)


def _matches(shape: tuple[str, ...], segments: list[str]) -> bool:
    if len(shape) != len(segments):
        return False
    for part, seg in zip(shape, segments, strict=True):
        if part == "{type}":
            if seg not in RESOURCE_TYPES:
                return False
        elif part in ("{id}", "{vid}"):
            if seg.startswith(("$", "_")):
                return False
        elif part != seg:
            return False
    return True


AUDIT_ROUTES: tuple[Route, ...] = (
    Route("GET", ("AuditEvent",), "search-type", audit_events.search),
    Route("GET", ("AuditEvent", "{id}"), "read", audit_events.read),
)

# Types the gateway alone writes: their type and instance paths are served by these
# routes only, any other verb is 405 (the CapabilityStatement lists these alone).
GATEWAY_WRITTEN: dict[str, tuple[Route, ...]] = {"AuditEvent": AUDIT_ROUTES}


def type_interactions(resource_type: str) -> frozenset[str]:
    """The FHIR interaction codes served on ``resource_type``'s own paths."""
    own = GATEWAY_WRITTEN.get(resource_type)
    if own is not None:
        return frozenset(r.interaction for r in own)
    return frozenset(r.interaction for r in ROUTES if r.shape[:1] == ("{type}",))


def resolve(req: FhirRequest) -> Route:
    """The route for ``req``; 404 for an unknown path, 405 for a known path and wrong verb."""
    segs = req.segments
    if segs and segs[0] in GATEWAY_WRITTEN:
        # The audit log: read and search only; the gateway alone writes AuditEvents, once
        # each (no versions, no history), and no other interaction reaches them.
        own = GATEWAY_WRITTEN[segs[0]]
        for route in own:
            if (
                _matches(route.shape, segs)
                and route.method in (req.method, "GET")
                and (req.method in ("GET", "HEAD"))
            ):
                return route
        verbs = allowed_methods(segs)
        if not verbs:
            raise NotFound(
                f"No FHIR interaction at '{shown('/'.join(segs), 200)}': the audit log serves "
                "read and search; each AuditEvent is written once, without versions or history",
                code="GW-3002",
            )
        raise MethodNotAllowed(
            f"AuditEvents are written by the gateway only; allowed: {', '.join(verbs)}",
            headers={"Allow": ", ".join(verbs)},
        )
    if segs and segs[-1].startswith("$"):
        if len(segs) == 3:  # [type]/[id]/$name names an id like any instance URL
            _check_id(segs[1])
        return Route(req.method, tuple(segs), "operation", run_operation)
    # The method is compared before the shape: every entry of a transaction comes here.
    for route in ROUTES:
        if route.method == req.method and _matches(route.shape, segs):
            return _with_valid_id(route, segs)
    allowed = [r for r in ROUTES if _matches(r.shape, segs)]
    if req.method == "HEAD":
        for route in allowed:
            if route.method == "GET":
                return _with_valid_id(route, segs)
    if allowed:
        verbs = allowed_methods(segs)
        raise MethodNotAllowed(
            f"{req.method} is not allowed on this path; allowed: {', '.join(verbs)}",
            headers={"Allow": ", ".join(verbs)},
        )
    if segs and segs[0] not in RESOURCE_TYPES and segs[0] not in ("metadata", "_history"):
        raise NotFound(f"Unknown resource type '{shown(segs[0])}'", code="GW-3001")
    raise NotFound(f"No FHIR interaction at '{shown('/'.join(segs), 200)}'", code="GW-3002")


def _with_valid_id(route: Route, segments: list[str]) -> Route:
    """The route, when the id its URL names is a FHIR id (1-64 of ``[A-Za-z0-9\\-.]``):
    else 400 GW-1201 for every interaction alike (a read would otherwise answer 404 for
    an id no resource can have, and a PUT 400), the id shown without control characters.
    """
    if "{id}" in route.shape:
        _check_id(segments[route.shape.index("{id}")])
    return route


def _check_id(rid: str) -> None:
    if not is_valid_id(rid):
        raise BadRequest(
            f"Invalid resource id '{shown(rid)}' in the URL: 1-64 characters of A-Z a-z 0-9 - .",
            code="GW-1201",
        )


def allowed_methods(segments: list[str]) -> list[str]:
    """The methods served at a FHIR path (for a 405's ``Allow``); empty for an unknown path.

    The same answer :func:`resolve` and :func:`run_operation` give in their own 405s, for
    the methods that never reach them (OPTIONS, TRACE, any other verb without a route).
    """
    if segments and segments[0] in GATEWAY_WRITTEN:
        own = GATEWAY_WRITTEN[segments[0]]
        return sorted({r.method for r in own if _matches(r.shape, segments)})
    if segments and segments[-1].startswith("$"):
        level = {1: "system", 2: "type", 3: "instance"}.get(len(segments))
        op = OPERATIONS.get(segments[-1][1:])
        if level is None or op is None or level not in op.levels:
            return []
        if level != "system" and (
            segments[0] not in RESOURCE_TYPES
            or (op.resource_types is not None and segments[0] not in op.resource_types)
        ):
            return []
        return sorted(op.methods)
    return sorted({r.method for r in ROUTES if _matches(r.shape, segments)})


def dispatch(req: FhirRequest, repo: Repository) -> FhirResponse:
    """Serve one interaction; the outermost one is named for the audit record.

    A refused or failed interaction is recorded too (outcome 4 or 8), except when the
    failure is the audit log itself being unavailable.
    """
    if repo.interaction is not None:  # an entry inside a batch or transaction
        return resolve(req).handler(req, repo)
    try:
        route = resolve(req)
        code = route.interaction
        if code == "transaction" and isinstance(req.resource, dict):
            code = "batch" if req.resource.get("type") == "batch" else "transaction"
        if code == "capabilities":  # public and data-free: not worth an entry per call
            return route.handler(req, repo)
        operation = req.segments[-1] if code == "operation" else None
        repo.interaction = Interaction(code, _raw_query(req), operation)  # type: ignore[arg-type]
        return route.handler(req, repo)
    except GatewayError as exc:
        if exc.code not in UNRECORDABLE:
            if repo.interaction is None:
                repo.interaction = Interaction("operation", _raw_query(req), None)
            repo.record_failure(exc.status, exc.code)
        raise
    finally:
        repo.interaction = None


UNRECORDABLE = frozenset({"GW-5004", "GW-5005"})  # the audit log is unavailable or corrupt


def record_refusal(req: FhirRequest, repo: Repository, exc: GatewayError) -> None:
    """Record an interaction refused before it could be dispatched (its body unreadable,
    a format it cannot have), as :func:`dispatch` records one refused later: named for
    the interaction its method and path make (an operation when they make none)."""
    if exc.code in UNRECORDABLE:
        return
    try:
        code = resolve(req).interaction
    except GatewayError:
        code = "operation"
    if code == "capabilities":
        return
    operation = req.segments[-1] if code == "operation" and req.segments else None
    repo.interaction = Interaction(code, _raw_query(req), operation)  # type: ignore[arg-type]
    try:
        repo.record_failure(exc.status, exc.code)
    finally:
        repo.interaction = None


def _raw_query(req: FhirRequest) -> bytes:
    path = "/".join(req.segments)
    return (f"{path}?{urlencode(req.query)}" if req.query else path).encode("utf-8")


__all__ = [
    "GATEWAY_WRITTEN",
    "OPERATIONS",
    "ROUTES",
    "Route",
    "dispatch",
    "record_refusal",
    "resolve",
    "type_interactions",
]
