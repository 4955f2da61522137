"""Structure errors: JSON members that do not fit an object's :class:`Shape`.

A member the shape does not know (or a choice type the element does not allow), an array
where a single value is expected and the reverse, an empty array, and ``null`` where the
value carries no extension part. The walker decides when; these say what is wrong.

See https://hl7.org/fhir/R4/json.html (§2.6.2: arrays, ``null``, ``_name`` parts).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from gateway.validation import report as rc
from gateway.validation.report import Report

if TYPE_CHECKING:
    from gateway.validation.elements import ElementRule, Shape
    from gateway.validation.registry import ProfileRegistry


def report_array_shape(rule: ElementRule, value: Any, here: str, out: Report) -> None:
    """``value`` is a JSON array where ``rule`` wants one value, an empty array, or not one."""
    if value.__class__ is list:
        message = (
            "an array must not be empty" if rule.array else f"{rule.name} must not be an array"
        )
    else:
        message = f"{rule.name} must be a JSON array"
    out.error("structure", rc.STRUCTURE, message, here, True)


def report_unknown(
    shape: Shape, key: str, path: str, registry: ProfileRegistry, out: Report
) -> None:
    """Member ``key`` of an object at ``path`` is not in ``shape`` (nor a type it allows)."""
    for base, rule in shape.choices.items():
        if key.startswith(base) and key[len(base) : len(base) + 1].isupper():
            allowed = ", ".join(t.code for t in rule.types)
            suffix = key[len(base) :]
            out.error(
                "structure",
                rc.VALUE,
                f"{key}: type {suffix} is not allowed for {rule.path} (allowed: {allowed})",
                f"{path}.{base}",
                # Malformed R4 when the base definition refuses the type as well.
                not registry.base_allows_type(rule.path, suffix),
            )
            return
    out.error(
        "structure",
        rc.STRUCTURE,
        f"Unknown element {key!r}",
        f"{path}.{key.lstrip('_')}",
        True,
    )


def has_extension_part(owner: dict[str, Any] | None, key: str, index: int) -> bool:
    """A ``null`` primitive is allowed where its ``_key`` part carries extensions."""
    if owner is None:
        return False
    part = owner.get("_" + key)
    if index >= 0:
        return part.__class__ is list and index < len(part) and bool(part[index])
    return bool(part)
