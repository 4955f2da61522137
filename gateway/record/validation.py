"""Profile validation on writes (the :class:`ProfileValidator` seam).

``strict``: profile errors refuse the write (422). ``warn``: they come back as warnings.
``off`` (dev only): profiles are not checked. In every mode, the few R4 types the R4B
models cannot check (:data:`gateway.fhir.resource_types.R4_ONLY_TYPES`) are checked
against their R4 StructureDefinition here, and a failure there is structural (400).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Literal

from gateway.errors import InvalidResource, Issue
from gateway.fhir.resource_types import R4_ONLY_TYPES
from gateway.validation import Validator

Mode = Literal["strict", "warn", "off"]


class WriteValidation:
    def __init__(self, validator: Validator, mode: Mode) -> None:
        self.validator = validator
        self.mode = mode

    def validate(self, resource: dict[str, Any]) -> list[Issue]:
        rtype = resource.get("resourceType")
        if rtype in R4_ONLY_TYPES:
            issues = self.validator.validate(resource)
            errors = [i for i in issues if i.is_error]
            if errors:
                raise InvalidResource(
                    f"{rtype} is not a valid FHIR R4 resource ({len(errors)} issue"
                    f"{'s' if len(errors) > 1 else ''})",
                    issues=errors,
                    expression=str(rtype),
                )
            return issues if self.mode != "off" else []
        if self.mode == "off":
            return []
        issues = self.validator.validate(resource)
        if self.mode == "warn":
            return [replace(i, severity="warning") if i.is_error else i for i in issues]
        return issues
