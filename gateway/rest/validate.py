"""``$validate`` at type and instance level (https://hl7.org/fhir/R4/resource-operation-validate.html).

Input: the resource as the body, or a Parameters body with ``resource``, ``mode``
(create | update | delete) and ``profile``; ``mode`` and ``profile`` may also come in the
query. Output: 200 with an OperationOutcome listing every issue (structure, profiles,
and whether the caller may make the write the mode names, under the access rules), or
"All OK". Nothing is
written. An unknown ``profile`` is a 400.
"""

from __future__ import annotations

from typing import Any

from gateway.errors import BadRequest, GatewayError, Issue, operation_outcome
from gateway.fhir.json import dumps
from gateway.fhir.structure import validate_json_form
from gateway.policy import Action
from gateway.record.repository import Repository
from gateway.rest.operations import Operation, register
from gateway.rest.request import FhirRequest, FhirResponse

MODES = ("create", "update", "delete")


def _inputs(req: FhirRequest) -> tuple[dict[str, Any] | None, str, str | None]:
    body = req.resource
    mode = req.param("mode") or "create"
    profile = req.param("profile")
    if isinstance(body, dict) and body.get("resourceType") == "Parameters":
        resource = None
        for param in body.get("parameter") or []:
            name = param.get("name") if isinstance(param, dict) else None
            if name == "resource":
                resource = param.get("resource")
            elif name == "mode":
                mode = str(param.get("valueCode", mode))
            elif name == "profile":
                profile = param.get("valueUri") or param.get("valueCanonical")
        return resource, mode, profile
    return body if isinstance(body, dict) else None, mode, profile


def validate(req: FhirRequest, repo: Repository) -> FhirResponse:
    rtype = req.segments[0]
    rid = req.segments[1] if len(req.segments) == 3 else None
    resource, mode, profile = _inputs(req)
    if mode not in MODES:
        raise BadRequest(f"mode must be one of {', '.join(MODES)}", expression="mode")
    validator = getattr(repo.services.validator, "validator", None)
    if profile is not None and (validator is None or not validator.knows_profile(profile)):
        raise BadRequest(f"Unknown profile '{profile}'", expression="profile", code="GW-4111")
    issues: list[Issue] = []
    if mode == "delete":
        if rid is None:
            raise BadRequest("mode=delete needs an instance: [type]/[id]/$validate")
        with repo.reading() as reader:
            current = reader.read(rtype, rid)
            issues += reader.write_refusal(Action.DELETE, None, current)
        return _answer(issues)
    if resource is None:
        raise BadRequest("$validate needs a resource (the body, or a 'resource' parameter)")
    if resource.get("resourceType") != rtype:
        raise BadRequest(f"The resource is not a {rtype}", expression="resourceType")
    if mode == "update" and rid is not None and resource.get("id") != rid:
        issues.append(
            Issue(
                "error",
                "invalid",
                "The resource's id is not the id in the URL",
                (f"{rtype}.id",),
                "GW-1205",
            )
        )
    structural: list[Issue] = []
    try:
        validate_json_form(resource)
    except GatewayError as exc:
        structural = list(exc.issues)
    issues += structural
    if validator is not None:
        # The profile validator takes any JSON, so it reports its findings too; where the
        # structural check already named an element, its issue stands for both.
        named = {i.expression for i in structural if i.expression}
        found = validator.check(resource, [profile] if profile else ())
        issues += [i for i in found.issues if not i.expression or i.expression not in named]
        structural += found.structural  # malformed R4, as a write would refuse it (400)
    if structural:
        return _answer(issues)
    with repo.reading() as reader:
        if mode == "update" and rid is not None:
            current = reader.read(rtype, rid)
            issues += reader.write_refusal(Action.UPDATE, resource, current)
        else:  # a create, as POST [type] would decide it
            issues += reader.write_refusal(Action.CREATE, resource, None)
    return _answer(issues)


def _answer(issues: list[Issue]) -> FhirResponse:
    return FhirResponse(200, dumps(operation_outcome(issues)))


register(
    Operation(
        name="validate",
        levels=frozenset({"type", "instance"}),
        resource_types=None,
        methods=frozenset({"POST"}),
        handler=validate,
        definition="http://hl7.org/fhir/OperationDefinition/Resource-validate",
    )
)
