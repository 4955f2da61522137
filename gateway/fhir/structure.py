"""The JSON form of a FHIR R4 resource (https://hl7.org/fhir/R4/json.html), checked first.

Before anything reads a body as a resource: it is a JSON object with a known
``resourceType``, has no ``null`` and no empty string, object or array, and its id is
1-64 characters of ``A-Z a-z 0-9 - .``. This is cheap and needs no definitions.

Element-level structure (unknown elements, types, primitive forms, base cardinalities)
is checked by the walk of the compiled R4 StructureDefinitions
(:meth:`gateway.validation.Validator.check`, used on writes by
:class:`gateway.record.validation.WriteValidation`), in the same walk as the profiles.
"""

from __future__ import annotations

import re
from typing import Any

from gateway.errors import InvalidResource, Issue
from gateway.fhir.resource_types import RESOURCE_TYPES

ID_RE = re.compile(r"^[A-Za-z0-9\-.]{1,64}$")


def is_valid_id(value: object) -> bool:
    return isinstance(value, str) and ID_RE.match(value) is not None


def json_kind(value: object) -> str:
    """What a parsed JSON body is, for a message: "a JSON array", "a Patient"..."""
    if value is None:
        return "no body"
    if isinstance(value, dict):
        rtype = value.get("resourceType")
        return f"a {rtype}" if isinstance(rtype, str) else "a JSON object without resourceType"
    if isinstance(value, bool):
        return "a JSON boolean"
    if isinstance(value, int | float):
        return "a JSON number"
    if isinstance(value, str):
        return "a JSON string"
    if isinstance(value, list):
        return "a JSON array"
    return f"a {type(value).__name__}"


def resource_type_of(resource: object, *, expression: str = "") -> str:
    """The ``resourceType`` of a JSON body, or a 400 saying why it has none."""
    where = expression or "resourceType"
    if not isinstance(resource, dict):
        raise InvalidResource(
            f"The body is {json_kind(resource)}, not a JSON object", expression=expression or None
        )
    rtype = resource.get("resourceType")
    if not isinstance(rtype, str):
        raise InvalidResource("The resource has no resourceType", expression=where)
    if rtype not in RESOURCE_TYPES:
        raise InvalidResource(f"Unknown resource type '{rtype}'", expression=where)
    return rtype


def validate_json_form(resource: dict[str, Any], *, expression: str | None = None) -> str:
    """Check the JSON form of ``resource`` (see above); return its type or raise a 400.

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
    if issues:
        raise InvalidResource(
            f"{rtype} is not a valid FHIR R4 resource ({len(issues)} issue"
            f"{'s' if len(issues) > 1 else ''})",
            issues=issues,
            expression=base,
        )
    return rtype


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
