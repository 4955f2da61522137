"""Terminology bindings: is the coded value in the bound ValueSet?

``required`` → an error when the code is not in the set; ``extensible`` → a warning (the
code may come from elsewhere when the set has no suitable concept). A code from a system
we do not hold cannot be verified: a warning naming the system for ``required`` bindings,
nothing for ``extensible`` ones (they allow other codes anyway). A ValueSet we do not hold
at all is reported the same way. ``preferred`` and ``example`` bindings are not checked.

Coded types: ``code``/``string``/``uri`` (code alone), ``Coding`` (system and code),
``CodeableConcept`` (any one coding in the set suffices), ``Quantity`` (unit system and code).

See https://hl7.org/fhir/R4/terminologies.html#strength.
"""

from __future__ import annotations

from typing import Any

from gateway.validation import report as rc
from gateway.validation.elements import Binding
from gateway.validation.report import Report
from gateway.validation.terminology import Membership, Terminology

_CODE_TYPES = frozenset({"code", "string", "uri", "url", "canonical", "id", "markdown"})


def coded_values(type_code: str, value: Any) -> list[tuple[str | None, str]] | None:
    """(system, code) pairs carried by ``value``; ``None`` when the type is not coded."""
    if type_code in _CODE_TYPES:
        return [(None, value)] if isinstance(value, str) else []
    if not isinstance(value, dict):
        return None
    if type_code in ("Coding", "Quantity"):
        return _pair(value)
    if type_code == "CodeableConcept":
        pairs: list[tuple[str | None, str]] = []
        codings = value.get("coding")
        for coding in codings if isinstance(codings, list) else ():
            if isinstance(coding, dict):
                pairs.extend(_pair(coding))
        return pairs
    return None


def _pair(value: dict[str, Any]) -> list[tuple[str | None, str]]:
    code = value.get("code")
    if not isinstance(code, str):
        return []
    system = value.get("system")
    return [(system if isinstance(system, str) else None, code)]


def check_binding(
    binding: Binding,
    type_code: str,
    value: Any,
    path: str,
    terminology: Terminology,
    out: Report,
) -> None:
    pairs = coded_values(type_code, value)
    if pairs is None:
        return
    required = binding.strength == "required"
    expansion = terminology.expansion(binding.value_set)
    if expansion is None:
        if required:
            out.warning(
                "not-found",
                rc.TERMINOLOGY,
                f"ValueSet {binding.value_set} is not held; the code cannot be verified",
                path,
            )
        return
    if not pairs:
        if required and type_code != "Quantity":
            out.error(
                "code-invalid",
                rc.BINDING,
                f"No code given; a code from {binding.value_set} is required",
                path,
            )
        return
    unknown: list[str] = []
    outside: list[str] = []
    for system, code in pairs:
        verdict, why = expansion.check(system, code)
        if verdict is Membership.IN:
            return
        (unknown if verdict is Membership.UNKNOWN else outside).append(why)
    if required and not outside:
        out.warning("not-found", rc.TERMINOLOGY, f"Code not verified: {unknown[0]}", path)
    elif required and not unknown:
        out.error(
            "code-invalid",
            rc.BINDING,
            f"{outside[0]} (required binding to {binding.value_set})",
            path,
        )
    elif required:
        out.warning("not-found", rc.TERMINOLOGY, f"Code not verified: {unknown[0]}", path)
    elif not unknown:
        out.warning(
            "code-invalid",
            rc.BINDING,
            f"{outside[0]} (extensible binding to {binding.value_set})",
            path,
        )
