"""Located ingestion issues: where in the payload, what is wrong, how to acknowledge it.

An :class:`IngestIssue` is a FHIR OperationOutcome issue (severity, IssueType code,
diagnostics, FHIRPath ``expression`` of the element it concerns) plus the place in the
*source* payload it comes from:

- :class:`Hl7Location`: segment, occurrence, field, repetition, component,
  sub-component, printed ``PID-3``, ``OBX[2]-5``, ``PID-3[2].1`` and rendered as the
  ERL data type in ERR-2 (HL7 v2.5 §2.A.27);
- :class:`CsvLocation`: the line of the file and the column header.

It also carries the HL7 error condition code (table 0357) that ERR-3 reports, and the
gateway's stable error code (``GW-41nn``, content rules of ingestion):

======== ============================================== =====
GW-4101  payload unreadable (encoding, framing, MSH)     AR
GW-4102  unsupported message type or trigger event       AR
GW-4103  required element missing                        AE
GW-4104  invalid value (data type, date, number)         AE
GW-4105  unknown or invalid code                         AE
GW-4106  identifier check key failed                     AE
GW-4107  unknown or inconvertible unit                   AE
GW-4108  CSV record malformed (cell count, quoting)      row
GW-4109  CSV required column missing                     file
GW-4110  content kept partially or not mapped            info
GW-4115  a stored fact restated with other content       AE
         (no superseding status): a conflict
GW-4116  more than one message in one payload (MLLP      AR
         frame or HTTP body), or a batch envelope
======== ============================================== =====
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from gateway.errors import Issue, Severity
from gateway.normalise.errors import NormalisationError

# HL7 table 0357, message error condition codes (v2.5 §2.15.5.3).
HL7_OK = "0"
HL7_SEGMENT_SEQUENCE = "100"
HL7_REQUIRED_MISSING = "101"
HL7_DATA_TYPE = "102"
HL7_TABLE_VALUE = "103"
HL7_UNSUPPORTED_TYPE = "200"
HL7_UNSUPPORTED_EVENT = "201"
HL7_UNSUPPORTED_PROCESSING = "202"
HL7_UNSUPPORTED_VERSION = "203"
HL7_UNKNOWN_KEY = "204"
HL7_INTERNAL = "207"

GW_UNREADABLE = "GW-4101"
GW_UNSUPPORTED = "GW-4102"
GW_REQUIRED = "GW-4103"
GW_VALUE = "GW-4104"
GW_CODE = "GW-4105"
GW_IDENTIFIER = "GW-4106"
GW_UNIT = "GW-4107"
GW_CSV_RECORD = "GW-4108"
GW_CSV_COLUMN = "GW-4109"
GW_PARTIAL = "GW-4110"
GW_SEVERAL = "GW-4116"

#: NormalisationError.kind -> (FHIR IssueType, HL7 table 0357 code, gateway code).
_BY_KIND = {
    "value": ("value", HL7_DATA_TYPE, GW_VALUE),
    "code": ("code-invalid", HL7_TABLE_VALUE, GW_CODE),
    "identifier": ("value", HL7_DATA_TYPE, GW_IDENTIFIER),
    "unit": ("code-invalid", HL7_TABLE_VALUE, GW_UNIT),
    "missing": ("required", HL7_REQUIRED_MISSING, GW_REQUIRED),
}


@dataclass(frozen=True, slots=True)
class Hl7Location:
    """A position in an HL7 v2 message; ``sequence`` counts occurrences of ``segment``."""

    segment: str
    sequence: int = 1
    field: int | None = None
    repetition: int | None = None
    component: int | None = None
    subcomponent: int | None = None

    def at(
        self,
        field: int | None = None,
        repetition: int | None = None,
        component: int | None = None,
        subcomponent: int | None = None,
    ) -> Hl7Location:
        """The same segment, a finer position."""
        return Hl7Location(self.segment, self.sequence, field, repetition, component, subcomponent)

    def __str__(self) -> str:
        out = self.segment + (f"[{self.sequence}]" if self.sequence > 1 else "")
        if self.field is None:
            return out
        out += f"-{self.field}"
        if self.repetition and self.repetition > 1:
            out += f"[{self.repetition}]"
        if self.component is not None:
            out += f".{self.component}"
            if self.subcomponent is not None:
                out += f".{self.subcomponent}"
        return out

    def erl(self, component_separator: str = "^") -> str:
        """ERR-2 (ERL): segment ^ sequence ^ field ^ repetition ^ component ^ sub-component."""
        parts = [self.segment, str(self.sequence)]
        for value in (self.field, self.repetition or (1 if self.field else None)):
            parts.append("" if value is None else str(value))
        parts.append("" if self.component is None else str(self.component))
        parts.append("" if self.subcomponent is None else str(self.subcomponent))
        return component_separator.join(parts).rstrip(component_separator)


@dataclass(frozen=True, slots=True)
class CsvLocation:
    """A position in a CSV file: the line a record starts on, and the column header."""

    line: int
    column: str | None = None

    def __str__(self) -> str:
        return f"line {self.line}" + (f", column {self.column!r}" if self.column else "")


Location = Hl7Location | CsvLocation


@dataclass(frozen=True, slots=True)
class IngestIssue:
    """One problem found while parsing, located in the source payload."""

    severity: Severity
    code: str  # FHIR IssueType
    diagnostics: str
    location: Location | None = None
    expression: tuple[str, ...] = ()  # FHIRPath of the produced element, when there is one
    gateway_code: str | None = None
    hl7_error: str = HL7_INTERNAL

    @property
    def is_error(self) -> bool:
        return self.severity in ("fatal", "error")

    @property
    def issue(self) -> Issue:
        """The gateway's :class:`~gateway.errors.Issue`, location folded into diagnostics."""
        prefix = f"{self.location}: " if self.location else ""
        return Issue(
            self.severity, self.code, prefix + self.diagnostics, self.expression, self.gateway_code
        )

    def to_fhir(self) -> dict[str, Any]:
        """An OperationOutcome.issue; the source position goes in ``location``."""
        out = Issue(
            self.severity, self.code, self.diagnostics, self.expression, self.gateway_code
        ).to_fhir()
        if self.location is not None:
            out["location"] = [str(self.location)]
        return out


def error(
    diagnostics: str,
    location: Location | None = None,
    *,
    code: str = "invalid",
    expression: tuple[str, ...] | str = (),
    gateway_code: str = GW_VALUE,
    hl7_error: str = HL7_DATA_TYPE,
    severity: Severity = "error",
) -> IngestIssue:
    expr = (expression,) if isinstance(expression, str) else expression
    return IngestIssue(severity, code, diagnostics, location, expr, gateway_code, hl7_error)


def warning(
    diagnostics: str,
    location: Location | None = None,
    *,
    code: str = "informational",
    expression: tuple[str, ...] | str = (),
    gateway_code: str = GW_PARTIAL,
) -> IngestIssue:
    expr = (expression,) if isinstance(expression, str) else expression
    return IngestIssue("warning", code, diagnostics, location, expr, gateway_code, HL7_OK)


def from_normalisation(
    exc: NormalisationError,
    location: Location | None,
    expression: tuple[str, ...] | str = (),
) -> IngestIssue:
    """The located issue for a normaliser's refusal."""
    code, hl7_code, gw = _BY_KIND[exc.kind]
    return error(
        exc.message,
        location,
        code=code,
        expression=expression,
        gateway_code=gw,
        hl7_error=hl7_code,
    )
