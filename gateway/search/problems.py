"""The errors search reports, each naming the offending parameter exactly.

Stable codes (``issue.details``), all in the request-syntax group:

========  =============================================  =========================
code      meaning                                        error (status)
========  =============================================  =========================
GW-1100   unknown or unserved search parameter           UnsupportedParameter 400
GW-1101   unsupported modifier                           UnsupportedParameter 400
GW-1102   value a served parameter cannot honour         UnsupportedParameter 400
          (functional ``_list``, ``_contained=true``)
GW-1103   malformed value                                BadRequest 400
GW-1104   limit exceeded                                 BadRequest 400
GW-1105   unsupported chain or ``_has`` form             UnsupportedParameter 400
GW-1106   invalid result control (``_count``, ``_sort``…) BadRequest 400
GW-1107   unknown resource type or compartment           BadRequest 400
GW-1108   chain, ``_has`` or ``_list`` over a type the   BadRequest 400
          caller may not search
GW-1110   (warning) parameter ignored, lenient handling
GW-1111   (warning) ``_count`` lowered to the maximum
========  =============================================  =========================

Lenient handling (``Prefer: handling=lenient``) may skip only what makes a *parameter*
unknown or unsupported (https://hl7.org/fhir/R4/search.html#errors): GW-1100, GW-1101
and GW-1105 (:func:`ignorable`). The value of a parameter the gateway serves is never
skipped, whether malformed (GW-1103) or not served (GW-1102): dropping it would widen a
clinical filter to every resource, silently but for a warning.

The issue's ``expression`` is the parameter name as the client wrote it
(``subject:Patient.name:exact``), the only location a query string has.
"""

from __future__ import annotations

from gateway.errors import BadRequest, GatewayError, UnsupportedParameter
from gateway.errors import shown as escaped

UNKNOWN_PARAM = "GW-1100"
UNSUPPORTED_MODIFIER = "GW-1101"
UNSUPPORTED_VALUE = "GW-1102"
MALFORMED_VALUE = "GW-1103"
LIMIT_EXCEEDED = "GW-1104"
UNSUPPORTED_CHAIN = "GW-1105"
INVALID_CONTROL = "GW-1106"
UNKNOWN_TYPE = "GW-1107"
FORBIDDEN_LINK = "GW-1108"
IGNORED = "GW-1110"
COUNT_LOWERED = "GW-1111"

_MAX_SHOWN = 120
_IGNORABLE = frozenset({UNKNOWN_PARAM, UNSUPPORTED_MODIFIER, UNSUPPORTED_CHAIN})


def shown(text: str) -> str:
    """A client-supplied string as diagnostics may echo it: cut short (with "…"), and
    unprintable characters escaped as :func:`gateway.errors.shown` escapes them."""
    cut = text if len(text) <= _MAX_SHOWN else text[:_MAX_SHOWN] + "…"
    return escaped(cut, len(cut))


def unsupported(name: str, diagnostics: str, code: str = UNKNOWN_PARAM) -> UnsupportedParameter:
    return UnsupportedParameter(diagnostics, expression=shown(name), code=code)


def invalid(name: str | None, diagnostics: str, code: str = MALFORMED_VALUE) -> BadRequest:
    """``name`` ``None`` when the problem has no single location (too many parameters)."""
    return BadRequest(diagnostics, expression=shown(name) if name else None, code=code)


def ignorable(error: GatewayError) -> bool:
    """Whether lenient handling may skip the parameter ``error`` names (see above)."""
    return isinstance(error, UnsupportedParameter) and error.code in _IGNORABLE
