"""The gateway's single error currency, rendered as a FHIR OperationOutcome.

Hierarchy (status, FHIR issue code)::

    GatewayError                      500 exception
    ├── BadRequest                    400 invalid
    │   ├── InvalidResource           400 structure  (not FHIR R4 structurally)
    │   ├── UnsupportedParameter      400 not-supported
    │   └── InvalidReference          400 invalid
    ├── Unauthorized                  401 login
    ├── Forbidden                     403 forbidden
    ├── NotFound                      404 not-found
    ├── MethodNotAllowed              405 not-supported
    ├── NotAcceptable                 406 not-supported
    ├── Conflict                      409 conflict
    ├── Gone                          410 deleted
    ├── PreconditionFailed            412 conflict
    ├── PayloadTooLarge               413 too-costly
    ├── UnsupportedMediaType          415 not-supported
    ├── Unprocessable                 422 processing (profile or business rule)
    ├── TooManyRequests               429 throttled  (rate limit; with Retry-After)
    └── ServiceUnavailable            503 transient

Each error carries one or more :class:`Issue` with a FHIRPath ``expression`` where a
location exists, and a stable code (``GW-nnnn``) in ``issue.details`` so that clients
can branch on it. Codes group by their first digit: 1 request syntax and limits,
2 authentication and access, 3 resource state, 4 content rules, 5 server.
A 500 never shows internals: see :mod:`gateway.api.errors`.

See https://hl7.org/fhir/R4/operationoutcome.html and
https://hl7.org/fhir/R4/http.html#summary for the status codes.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

Severity = Literal["fatal", "error", "warning", "information"]

ERROR_CODE_SYSTEM = "https://dmp-gateway.fr/fhir/CodeSystem/gateway-error"


@dataclass(frozen=True, slots=True)
class Issue:
    """One OperationOutcome.issue. ``code`` is a FHIR IssueType code."""

    severity: Severity
    code: str
    diagnostics: str
    expression: tuple[str, ...] = ()
    gateway_code: str | None = None

    def to_fhir(self) -> dict[str, Any]:
        out: dict[str, Any] = {"severity": self.severity, "code": self.code}
        if self.gateway_code:
            out["details"] = {"coding": [{"system": ERROR_CODE_SYSTEM, "code": self.gateway_code}]}
        out["diagnostics"] = self.diagnostics
        if self.expression:
            out["expression"] = list(self.expression)
        return out

    @property
    def is_error(self) -> bool:
        return self.severity in ("fatal", "error")


def operation_outcome(issues: Iterable[Issue]) -> dict[str, Any]:
    """Build an OperationOutcome resource; an empty list gives the 'all ok' outcome."""
    rendered = [i.to_fhir() for i in issues]
    if not rendered:
        rendered = [{"severity": "information", "code": "informational", "diagnostics": "All OK"}]
    return {"resourceType": "OperationOutcome", "issue": rendered}


class GatewayError(Exception):
    """Root of every error the gateway reports to a caller."""

    status: ClassVar[int] = 500
    issue_code: ClassVar[str] = "exception"
    gateway_code: ClassVar[str] = "GW-5000"

    def __init__(
        self,
        diagnostics: str,
        *,
        expression: str | Sequence[str] | None = None,
        issues: Sequence[Issue] | None = None,
        code: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(diagnostics)
        self.diagnostics = diagnostics
        if isinstance(expression, str):
            expression = (expression,)
        self.expression: tuple[str, ...] = tuple(expression or ())
        self.code = code or self.gateway_code
        self.extra_issues: tuple[Issue, ...] = tuple(issues or ())
        self.headers: dict[str, str] = dict(headers or {})

    @property
    def issues(self) -> tuple[Issue, ...]:
        """The issues to report; the error's own issue first unless it only wraps others."""
        if self.extra_issues and not self.diagnostics:
            return self.extra_issues
        head = Issue("error", self.issue_code, self.diagnostics, self.expression, self.code)
        return (head, *self.extra_issues)

    def outcome(self) -> dict[str, Any]:
        return operation_outcome(self.issues)


class BadRequest(GatewayError):
    status = 400
    issue_code = "invalid"
    gateway_code = "GW-1000"


class InvalidResource(BadRequest):
    """The body is not a structurally valid FHIR R4 resource."""

    issue_code = "structure"
    gateway_code = "GW-1001"


class UnsupportedParameter(BadRequest):
    issue_code = "not-supported"
    gateway_code = "GW-1002"


class InvalidReference(BadRequest):
    gateway_code = "GW-1003"


class Unauthorized(GatewayError):
    status = 401
    issue_code = "login"
    gateway_code = "GW-2001"


class Forbidden(GatewayError):
    status = 403
    issue_code = "forbidden"
    gateway_code = "GW-2003"


class NotFound(GatewayError):
    status = 404
    issue_code = "not-found"
    gateway_code = "GW-3004"


class MethodNotAllowed(GatewayError):
    status = 405
    issue_code = "not-supported"
    gateway_code = "GW-3005"


class NotAcceptable(GatewayError):
    status = 406
    issue_code = "not-supported"
    gateway_code = "GW-1017"


class Conflict(GatewayError):
    status = 409
    issue_code = "conflict"
    gateway_code = "GW-3009"


class Gone(GatewayError):
    status = 410
    issue_code = "deleted"
    gateway_code = "GW-3010"


class PreconditionFailed(GatewayError):
    status = 412
    issue_code = "conflict"
    gateway_code = "GW-3012"


class PayloadTooLarge(GatewayError):
    status = 413
    issue_code = "too-costly"
    gateway_code = "GW-1013"


class UnsupportedMediaType(GatewayError):
    status = 415
    issue_code = "not-supported"
    gateway_code = "GW-1015"


class Unprocessable(GatewayError):
    """The resource is well formed but breaks a profile or a business rule."""

    status = 422
    issue_code = "processing"
    gateway_code = "GW-4022"


class TooManyRequests(GatewayError):
    """A rate limit refused the request; ``Retry-After`` says when to come back."""

    status = 429
    issue_code = "throttled"
    gateway_code = "GW-1029"


class ServiceUnavailable(GatewayError):
    status = 503
    issue_code = "transient"
    gateway_code = "GW-5003"


def shown(value: str, limit: int = 64) -> str:
    """``value`` as a diagnostics may echo it: at most ``limit`` characters, and any
    control or other unprintable character escaped (``\\x00``), so that a URL's ``%00``
    or ``%1B`` does not reach a terminal or a log viewer raw."""
    text = "".join(
        c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in value[:limit]
    )
    return text + ("..." if len(value) > limit else "")


def errors_of(issues: Iterable[Issue]) -> list[Issue]:
    return [i for i in issues if i.is_error]


__all__ = [
    "ERROR_CODE_SYSTEM",
    "BadRequest",
    "Conflict",
    "Forbidden",
    "GatewayError",
    "Gone",
    "InvalidReference",
    "InvalidResource",
    "Issue",
    "MethodNotAllowed",
    "NotAcceptable",
    "NotFound",
    "PayloadTooLarge",
    "PreconditionFailed",
    "ServiceUnavailable",
    "TooManyRequests",
    "Unauthorized",
    "Unprocessable",
    "UnsupportedMediaType",
    "UnsupportedParameter",
    "errors_of",
    "operation_outcome",
    "shown",
]
