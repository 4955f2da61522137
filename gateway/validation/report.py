"""The issues one validation produces, deduplicated, with stable gateway codes.

Every issue is a :class:`gateway.errors.Issue`: severity, FHIR IssueType code
(https://hl7.org/fhir/R4/valueset-issue-type.html), a message, the FHIRPath expression of
the element at fault, and a stable ``GW-41nn`` code so that clients can branch on the kind
of rule that failed.
"""

from __future__ import annotations

from typing import Final

from gateway.errors import Issue, Severity

STRUCTURE: Final = "GW-4101"  # unknown element, wrong JSON shape
CARDINALITY: Final = "GW-4102"
VALUE: Final = "GW-4103"  # primitive value or type not allowed
FIXED: Final = "GW-4104"  # fixed[x] / pattern[x]
BINDING: Final = "GW-4105"
SLICING: Final = "GW-4106"
EXTENSION: Final = "GW-4107"
INVARIANT: Final = "GW-4108"
REFERENCE: Final = "GW-4109"
IDENTIFIER: Final = "GW-4110"  # INS-NIR, RPPS, idNat_PS, FINESS check keys
PROFILE: Final = "GW-4111"  # unknown or unusable profile
TERMINOLOGY: Final = "GW-4112"  # a ValueSet or CodeSystem we do not hold
NOT_EVALUATED: Final = "GW-4113"  # an invariant that could not be evaluated

GATEWAY_CODES: Final = (
    STRUCTURE,
    CARDINALITY,
    VALUE,
    FIXED,
    BINDING,
    SLICING,
    EXTENSION,
    INVARIANT,
    REFERENCE,
    IDENTIFIER,
    PROFILE,
    TERMINOLOGY,
    NOT_EVALUATED,
)


class Report:
    """Collects issues in order, dropping exact duplicates (several profiles, one fault)."""

    __slots__ = ("_seen", "issues")

    def __init__(self) -> None:
        self.issues: list[Issue] = []
        self._seen: set[tuple[str, str, str, str]] = set()

    def add(
        self, severity: Severity, code: str, gateway_code: str, message: str, path: str
    ) -> None:
        key = (severity, code, message, path)
        if key in self._seen:
            return
        self._seen.add(key)
        self.issues.append(Issue(severity, code, message, (path,) if path else (), gateway_code))

    def error(self, code: str, gateway_code: str, message: str, path: str) -> None:
        self.add("error", code, gateway_code, message, path)

    def warning(self, code: str, gateway_code: str, message: str, path: str) -> None:
        self.add("warning", code, gateway_code, message, path)

    @property
    def error_count(self) -> int:
        return sum(1 for i in self.issues if i.is_error)
