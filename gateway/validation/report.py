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


#: Errors that break the FHIR R4 structure itself when the base definition of a type
#: reports them (not a profile): unknown elements, JSON shapes, primitive forms, the
#: base cardinalities. A write with one of these is malformed (400), in every mode.
STRUCTURAL_CODES: Final = frozenset({STRUCTURE, CARDINALITY, VALUE})


class Report:
    """Collects issues in order, dropping exact duplicates (several profiles, one fault).

    Errors are also noted as structural (:meth:`structural`) when the caller says so, or
    else when ``in_base`` is set (the walk against a type's base definition, and anything
    outside a walk) and their code is one of :data:`STRUCTURAL_CODES`. A walk against a
    profile says so itself: the chooser drops a base definition that a profile derives
    from, so its walk must tell the base's faults (shape, primitive forms, base
    cardinalities) from the profile's.
    """

    __slots__ = ("_seen", "_structural", "in_base", "issues")

    def __init__(self) -> None:
        self.issues: list[Issue] = []
        self._seen: dict[tuple[str, str, str, str], int] = {}  # key -> index in issues
        self._structural: set[int] = set()
        self.in_base = True

    def add(
        self,
        severity: Severity,
        code: str,
        gateway_code: str,
        message: str,
        path: str,
        structural: bool | None = None,
    ) -> None:
        """``structural``: whether the fault makes the input malformed R4 whatever the
        profile (None: decided by ``in_base`` and the gateway code)."""
        key = (severity, code, message, path)
        index = self._seen.get(key)
        if index is None:
            index = self._seen[key] = len(self.issues)
            self.issues.append(
                Issue(severity, code, message, (path,) if path else (), gateway_code)
            )
        if structural is None:
            structural = self.in_base and gateway_code in STRUCTURAL_CODES
        if structural and severity == "error":
            self._structural.add(index)

    def structural(self) -> list[Issue]:
        """The issues that make the resource malformed FHIR R4, in report order."""
        return [self.issues[i] for i in sorted(self._structural)]

    def error(
        self,
        code: str,
        gateway_code: str,
        message: str,
        path: str,
        structural: bool | None = None,
    ) -> None:
        self.add("error", code, gateway_code, message, path, structural)

    def warning(self, code: str, gateway_code: str, message: str, path: str) -> None:
        self.add("warning", code, gateway_code, message, path)

    def path_dependent(self) -> None:
        """The walk took a branch that depends on the instance path (see :class:`Recording`)."""

    @property
    def error_count(self) -> int:
        return sum(1 for i in self.issues if i.is_error)


class Recording(Report):
    """A :class:`Report` that also keeps each call to :meth:`add`, to be replayed elsewhere.

    Slice matching walks an item against a slice on a probe (:meth:`Walker.conforms`); when
    the item matches, the walk that follows at the item's own path would report exactly
    what the probe did, under another path prefix. Replaying the probe's calls, rather than
    walking again, halves the cost of such items (FR Core blood pressure components).
    ``replayable`` is cleared when a path did not start with the probe's prefix or when the
    walk depended on the path itself (extension contexts, nested resources).
    """

    __slots__ = ("calls", "prefix", "replayable")

    def __init__(self, prefix: str) -> None:
        super().__init__()
        self.prefix = prefix
        self.replayable = True
        self.calls: list[tuple[Severity, str, str, str, str, bool | None]] = []

    def add(
        self,
        severity: Severity,
        code: str,
        gateway_code: str,
        message: str,
        path: str,
        structural: bool | None = None,
    ) -> None:
        if not path.startswith(self.prefix):
            self.replayable = False
        self.calls.append((severity, code, gateway_code, message, path, structural))
        super().add(severity, code, gateway_code, message, path, structural)

    def path_dependent(self) -> None:
        self.replayable = False

    def replay(self, out: Report, path: str) -> None:
        """Report to ``out`` what was recorded, with ``path`` in place of the prefix."""
        cut = len(self.prefix)
        for severity, code, gateway_code, message, here, structural in self.calls:
            out.add(severity, code, gateway_code, message, path + here[cut:], structural)
