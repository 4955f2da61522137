"""``$meta-add`` and ``$meta-delete`` of security labels (https://hl7.org/fhir/R4/resource-operation-meta-add.html).

How a patient masks a document of their record from professionals (``MASQUE_PS``) or
shows it again, and how an author labels what they wrote, without sending the whole
resource back: ``POST [type]/[id]/$meta-add`` (or ``$meta-delete``) with a Parameters
body whose ``meta`` parameter (``valueMeta``) holds the ``security`` codings to add (or
remove). The change is judged as ``UPDATE_LABELS`` (gateway/policy/README.md: a patient
may change the labels of what they can see; which labels who may add or remove is the
label rule's), written as a new version, audited, and fed to the change feed like any
update. The answer is the resulting ``meta`` (``return`` parameter).

Only ``security`` is served: the gateway keeps ``meta.profile`` to its validation and
has no use for tags, so a ``meta`` carrying either is a 400 (not silently ignored).
"""

from __future__ import annotations

from typing import Any

from gateway.errors import BadRequest
from gateway.fhir.json import dumps, loads_stored
from gateway.record.repository import Repository
from gateway.rest.operations import Operation, register
from gateway.rest.request import FhirRequest, FhirResponse

_CODING_KEYS = frozenset({"system", "version", "code", "display", "userSelected"})


def _security(req: FhirRequest, name: str) -> list[dict[str, Any]]:
    body = req.resource
    where = f"${name}"
    if not isinstance(body, dict) or body.get("resourceType") != "Parameters":
        raise BadRequest(f"{where} needs a Parameters body with a 'meta' parameter", code="GW-1040")
    metas = [
        p.get("valueMeta")
        for p in body.get("parameter") or []
        if isinstance(p, dict) and p.get("name") == "meta"
    ]
    if len(metas) != 1 or not isinstance(metas[0], dict):
        raise BadRequest(
            f"{where} needs exactly one 'meta' parameter with a valueMeta",
            expression="Parameters.parameter",
            code="GW-1040",
        )
    meta = metas[0]
    other = sorted(k for k in meta if k != "security")
    if other:
        raise BadRequest(
            f"{where} changes security labels only; not {', '.join(other)}",
            expression=f"Parameters.parameter.valueMeta.{other[0]}",
            code="GW-1040",
        )
    codings = meta.get("security")
    if not isinstance(codings, list) or not codings:
        raise BadRequest(
            f"{where} needs at least one security coding",
            expression="Parameters.parameter.valueMeta.security",
            code="GW-1040",
        )
    for i, coding in enumerate(codings):
        at = f"Parameters.parameter.valueMeta.security[{i}]"
        if (
            not isinstance(coding, dict)
            or not set(coding) <= _CODING_KEYS
            or not all(isinstance(coding.get(k), str) and coding[k] for k in ("system", "code"))
        ):
            raise BadRequest(
                f"{where}: each security label is a Coding with a system and a code",
                expression=at,
                code="GW-1040",
            )
    return codings


def _handler(name: str, *, adding: bool) -> Any:
    def run(req: FhirRequest, repo: Repository) -> FhirResponse:
        rtype, rid = req.segments[0], req.segments[1]
        codings = _security(req, name)
        with repo.writing() as writer:
            result = writer.update_labels(
                rtype, rid, add=codings if adding else [], remove=[] if adding else codings
            )
        meta = loads_stored(result.version.content or b"{}").get("meta") or {}
        answer = {
            "resourceType": "Parameters",
            "parameter": [{"name": "return", "valueMeta": meta}],
        }
        headers = {"ETag": f'W/"{result.version.version}"'}
        return FhirResponse(200, dumps(answer), headers)

    return run


for _name, _adding in (("meta-add", True), ("meta-delete", False)):
    register(
        Operation(
            name=_name,
            levels=frozenset({"instance"}),
            resource_types=None,
            methods=frozenset({"POST"}),
            handler=_handler(_name, adding=_adding),
            definition=f"http://hl7.org/fhir/OperationDefinition/Resource-{_name}",
        )
    )
