"""Validation on writes (the :class:`ProfileValidator` seam): one walk, two verdicts.

Every resource written is walked once by the compiled R4 StructureDefinitions
(:mod:`gateway.validation`). What the walk against the type's base definition reports
about the JSON shape, primitive forms and base cardinalities is *structural*: the body is
not well-formed FHIR R4 and the write is refused with 400, in every mode. The rest
(profiles, bindings, invariants) depends on the mode:

- ``strict``: errors refuse the write (422, raised by the writer);
- ``warn``: they come back as warnings;
- ``off`` (dev only): profiles are not walked at all; the structure still is.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Literal

from gateway.errors import InvalidResource, Issue
from gateway.validation import Findings, Validator

Mode = Literal["strict", "warn", "off"]


class WriteValidation:
    def __init__(self, validator: Validator, mode: Mode) -> None:
        self.validator = validator
        self.mode = mode

    def check(self, resource: dict[str, Any]) -> Findings:
        """Walk ``resource`` once; raise a 400 on a structural error, else keep the
        findings for :meth:`validate` (after the access rules have had their say)."""
        findings = self.validator.check(resource, base_only=self.mode == "off")
        if findings.structural:
            rtype = resource.get("resourceType")
            count = len(findings.structural)
            raise InvalidResource(
                f"{rtype} is not a valid FHIR R4 resource ({count} issue"
                f"{'s' if count > 1 else ''})",
                issues=findings.structural,
                expression=str(rtype),
            )
        return findings

    def validate(self, resource: dict[str, Any], findings: Findings | None = None) -> list[Issue]:
        """The profile issues of ``resource`` (``findings`` of :meth:`check` on this very
        resource when the caller has them; walked again otherwise)."""
        if self.mode == "off":
            return []
        issues = (findings or self.validator.check(resource)).issues
        if self.mode == "warn":
            return [replace(i, severity="warning") if i.is_error else i for i in issues]
        return issues
