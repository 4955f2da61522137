"""Structural validation of FHIR R4 resources (shape, not profiles).

A resource is structurally valid when it parses into the ``fhir.resources`` R4B model of
its type (unknown elements, wrong types, bad primitive formats and malformed ids are
refused), and when it follows the JSON rules of https://hl7.org/fhir/R4/json.html:
no ``null``, no empty string, object or array, ids of at most 64 characters.

The few R4 types whose R4B model would refuse valid R4 content
(:data:`gateway.fhir.resource_types.R4_ONLY_TYPES`) are checked against their R4
StructureDefinition by the profile validator; here they get the JSON rules only.
Profile rules (bindings, slices, invariants) are the job of :mod:`gateway.validation`.
"""

from __future__ import annotations

import re
from functools import cache
from typing import Any

from gateway.errors import InvalidResource, Issue
from gateway.fhir.resource_types import R4_ONLY_TYPES, RESOURCE_TYPES

ID_RE = re.compile(r"^[A-Za-z0-9\-.]{1,64}$")


def is_valid_id(value: object) -> bool:
    return isinstance(value, str) and ID_RE.match(value) is not None


@cache
def _model(resource_type: str) -> Any:
    from fhir.resources.R4B import get_fhir_model_class

    return get_fhir_model_class(resource_type)


def resource_type_of(resource: object, *, expression: str = "") -> str:
    """The ``resourceType`` of a JSON body, or a 400 saying why it has none."""
    where = expression or "resourceType"
    if not isinstance(resource, dict):
        raise InvalidResource("The body is not a JSON object", expression=expression or None)
    rtype = resource.get("resourceType")
    if not isinstance(rtype, str):
        raise InvalidResource("The resource has no resourceType", expression=where)
    if rtype not in RESOURCE_TYPES:
        raise InvalidResource(f"Unknown resource type '{rtype}'", expression=where)
    return rtype


def validate_structure(resource: dict[str, Any], *, expression: str | None = None) -> str:
    """Check ``resource`` against the R4 structure; return its type or raise a 400.

    ``expression`` prefixes the FHIRPath of reported issues (e.g. ``Bundle.entry[3].resource``).
    """
    rtype = resource_type_of(
        resource, expression=f"{expression}.resourceType" if expression else ""
    )
    base = expression or rtype
    issues = _json_rule_issues(resource, base)
    if "id" in resource and not is_valid_id(resource["id"]):
        issues.append(
            Issue(
                "error",
                "value",
                "Invalid resource id: 1-64 characters of A-Z a-z 0-9 - .",
                (f"{base}.id",),
                "GW-1201",
            )
        )
    if not issues and rtype not in R4_ONLY_TYPES:
        issues.extend(_model_issues(rtype, resource, base))
    if issues:
        raise InvalidResource(
            f"{rtype} is not a valid FHIR R4 resource ({len(issues)} issue"
            f"{'s' if len(issues) > 1 else ''})",
            issues=issues,
            expression=base,
        )
    return rtype


def _model_issues(rtype: str, resource: dict[str, Any], base: str) -> list[Issue]:
    try:
        _model(rtype).model_validate(resource)
    except Exception as exc:  # pydantic ValidationError, or KeyError on a bad contained type
        errors = getattr(exc, "errors", None)
        if not callable(errors):
            return [
                Issue("error", "structure", "The resource could not be parsed", (base,), "GW-1202")
            ]
        return [_issue_from_pydantic(err, base) for err in errors()]
    return []


def _issue_from_pydantic(err: Any, base: str) -> Issue:
    loc = err.get("loc", ())
    kind = err.get("type", "")
    message = str(err.get("msg", "invalid value")).split("\n")[0]
    if message.startswith("Value error, "):
        message = message[len("Value error, ") :]
    if kind == "extra_forbidden":
        message = "Unknown element"
        code = "structure"
    elif kind == "missing":
        message = "Required element is missing"
        code = "required"
    else:
        code = "value" if loc else "structure"
    return Issue("error", code, message, (fhirpath_of(base, loc),), "GW-1203")


def fhirpath_of(base: str, loc: tuple[Any, ...] | list[Any]) -> str:
    """FHIRPath of a pydantic location: ``('name', 0, 'given')`` → ``Patient.name[0].given``."""
    path = base
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        elif part == "resource_type":
            path += ".resourceType"
        else:
            name = str(part)
            path += "." + (name[1:] if name.startswith("_") else name)
    return path


def _json_rule_issues(value: Any, base: str) -> list[Issue]:
    """Issues for ``null`` and empty strings, objects and arrays (JSON §2.6.2)."""
    if _json_ok(value):
        return []
    issues: list[Issue] = []
    _collect_json_issues(value, base, issues)
    return issues


def _json_ok(value: Any) -> bool:
    stack = [value]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            if not node:
                return False
            stack.extend(node.values())
        elif isinstance(node, list):
            if not node:
                return False
            stack.extend(node)
        elif node is None or node == "":
            return False
    return True


def _collect_json_issues(node: Any, path: str, out: list[Issue]) -> None:
    if node is None:
        out.append(
            Issue("error", "structure", "null is not allowed in FHIR JSON", (path,), "GW-1204")
        )
    elif isinstance(node, str) and not node:
        out.append(Issue("error", "value", "Empty strings are not allowed", (path,), "GW-1204"))
    elif isinstance(node, dict):
        if not node:
            out.append(
                Issue("error", "structure", "Empty objects are not allowed", (path,), "GW-1204")
            )
        for key, child in node.items():
            name = key[1:] if isinstance(key, str) and key.startswith("_") else key
            child_path = f"{path}.{name}"
            if isinstance(child, list):
                twin = node.get(f"_{key}") if not key.startswith("_") else node.get(name)
                _collect_list(child, twin, child_path, out)
            else:
                _collect_json_issues(child, child_path, out)
    elif isinstance(node, list):
        _collect_list(node, None, path, out)


def _collect_list(items: list[Any], twin: Any, path: str, out: list[Issue]) -> None:
    """A repeating primitive and its ``_name`` sidecar may pad with ``null`` (JSON §2.6.2.1)."""
    if not items:
        out.append(Issue("error", "structure", "Empty arrays are not allowed", (path,), "GW-1204"))
    for i, child in enumerate(items):
        if (
            child is None
            and isinstance(twin, list)
            and len(twin) == len(items)
            and twin[i] is not None
        ):
            continue
        _collect_json_issues(child, f"{path}[{i}]", out)
