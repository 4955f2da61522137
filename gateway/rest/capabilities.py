"""``GET /metadata``: a CapabilityStatement built from the route and operation tables.

Nothing here is written by hand: the interactions come from
:data:`gateway.rest.router.ROUTES`, the operations from
:data:`gateway.rest.operations.OPERATIONS`, the search parameters from the search
engine's registry, so the statement lists exactly what is served.
https://hl7.org/fhir/R4/capabilitystatement.html
"""

from __future__ import annotations

from typing import Any

from gateway import __version__
from gateway.config import Settings
from gateway.fhir.instant import format_instant
from gateway.fhir.json import dumps
from gateway.fhir.resource_types import RESOURCE_TYPES
from gateway.record.repository import Repository
from gateway.rest.request import FhirRequest, FhirResponse

_TYPE_INTERACTIONS = (
    "read",
    "vread",
    "update",
    "patch",
    "delete",
    "history-instance",
    "history-type",
    "create",
    "search-type",
)


# https://hl7.org/fhir/R4/valueset-restful-security-service.html
_SECURITY_SERVICE = "http://terminology.hl7.org/CodeSystem/restful-security-service"


def _security(settings: Settings) -> dict[str, Any]:
    """``rest.security``: bearer JWS signed by each registered client (no SMART
    authorization server, no ``.well-known/smart-configuration``), CORS as configured."""
    if settings.auth == "disabled":
        description = "Authentication is disabled (development only): every call is trusted."
    else:
        description = (
            "Every call but GET /metadata carries 'Authorization: Bearer <JWS>', signed by a "
            "registered client (dmp-gateway clients) with the VIHF facts as claims (iss, "
            f"aud '{settings.audience}', iat, exp at most 5 minutes later, single-use jti, "
            "kind, sub, profession, structure, patient, purpose_of_use). There is no SMART "
            "authorization endpoint. A bad token is a 401 OperationOutcome."
        )
    return {
        "cors": bool(settings.http.cors_origins),
        "service": [
            {
                "coding": [{"system": _SECURITY_SERVICE, "code": "OAuth", "display": "OAuth"}],
                "text": "Bearer JWS signed by a registered client",
            }
        ],
        "description": description,
    }


def capability_statement(base: str, repo: Repository) -> dict[str, Any]:
    from gateway.rest.operations import OPERATIONS
    from gateway.rest.router import GATEWAY_WRITTEN, ROUTES, type_interactions

    settings = repo.services.settings
    system_codes = {r.interaction for r in ROUTES if r.shape[:1] != ("{type}",)}
    search = repo.services.search
    # Types whose resources the search engine stores and finds (not the audit log).
    searchable = sorted(RESOURCE_TYPES - GATEWAY_WRITTEN.keys())
    resources = []
    for rtype in sorted(RESOURCE_TYPES):
        codes = type_interactions(rtype)
        writable = bool(codes & {"create", "update", "patch", "delete"})
        entry: dict[str, Any] = {
            "type": rtype,
            "interaction": [{"code": c} for c in _TYPE_INTERACTIONS if c in codes],
        }
        if writable:
            entry |= {
                "versioning": "versioned-update",
                "readHistory": True,
                "updateCreate": settings.update_create,
                "conditionalCreate": True,
                "conditionalRead": "full-support",
                "conditionalUpdate": True,
                "conditionalDelete": "single",
            }
        params = search.describe(rtype)
        if params:
            entry["searchParam"] = params
        if rtype not in GATEWAY_WRITTEN:
            includes = search.registry.capability_includes(rtype)
            if includes:
                entry["searchInclude"] = includes
            revincludes = search.registry.capability_revincludes(rtype, searchable)
            if revincludes:
                entry["searchRevInclude"] = revincludes
        # A gateway-written type's own paths reach its routes only, never an operation.
        ops = [
            {"name": op.name, "definition": op.definition_for(rtype)}
            for op in OPERATIONS.values()
            if op.levels & {"type", "instance"}
            and (op.resource_types is None or rtype in op.resource_types)
            and rtype not in GATEWAY_WRITTEN
        ]
        if ops:
            entry["operation"] = ops
        resources.append(entry)
    rest: dict[str, Any] = {
        "mode": "server",
        "security": _security(settings),
        "resource": resources,
        "compartment": [
            f"http://hl7.org/fhir/CompartmentDefinition/{c.lower()}"
            for c in search.registry.compartments()
        ],
        "interaction": [
            {"code": code}
            for code in ("transaction", "batch", "history-system")
            if code in system_codes or code == "batch"
        ],
    }
    system_ops = [
        {"name": op.name, "definition": op.definition_for(None)}
        for op in OPERATIONS.values()
        if "system" in op.levels
    ]
    if system_ops:
        rest["operation"] = system_ops
    return {
        "resourceType": "CapabilityStatement",
        "status": "active",
        "date": format_instant(repo.services.clock())[:10],
        "publisher": "dmp-gateway",
        "kind": "instance",
        "software": {"name": "dmp-gateway", "version": __version__},
        "implementation": {"description": "DMP-style shared health-record gateway", "url": base},
        "fhirVersion": "4.0.1",
        "format": ["application/fhir+json", "json"],  # the mime type, and its short form
        "patchFormat": ["application/json-patch+json"],
        "rest": [rest],
    }


def metadata(req: FhirRequest, repo: Repository) -> FhirResponse:
    return FhirResponse(200, dumps(capability_statement(req.base, repo)))
