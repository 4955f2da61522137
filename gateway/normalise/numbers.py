"""Numbers as French exports and HL7 senders write them.

``37,5`` (decimal comma), ``1 234,5`` (space or no-break space as thousands separator),
``1.234,5`` and ``1,234.5`` are all read; the result is an exact :class:`~decimal.Decimal`
that keeps the precision written (``37,0`` stays ``37.0``, as FHIR decimals should:
https://hl7.org/fhir/R4/datatypes.html#decimal).
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

from gateway.normalise.errors import NormalisationError

_SPACES = re.compile(r"[\s\u00a0\u202f']")
_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")
_MAX_LEN = 40


def parse_decimal(text: str) -> Decimal:
    """Read a decimal number; raises :class:`NormalisationError` when it is not one."""
    raw = text.strip()
    compact = _SPACES.sub("", raw)
    if not compact or len(compact) > _MAX_LEN:
        raise NormalisationError(f"{raw[:_MAX_LEN]!r} is not a number")
    if "," in compact and "." in compact:
        # Whichever comes last is the decimal mark; the other groups thousands.
        if compact.rfind(",") > compact.rfind("."):
            compact = compact.replace(".", "").replace(",", ".")
        else:
            compact = compact.replace(",", "")
    elif compact.count(",") == 1:
        compact = compact.replace(",", ".")
    if not _NUMBER.match(compact):
        raise NormalisationError(f"{raw[:_MAX_LEN]!r} is not a number")
    try:
        value = Decimal(compact)
    except InvalidOperation as exc:  # pragma: no cover - the regex already rules it out
        raise NormalisationError(f"{raw!r} is not a number") from exc
    if not value.is_finite() or abs(value.adjusted()) > 30:
        raise NormalisationError(f"{raw[:_MAX_LEN]!r} is out of range")
    return value


def json_number(value: Decimal) -> int | float:
    """The JSON form of a FHIR decimal: an int when integral as written, else a float."""
    exponent = value.as_tuple().exponent
    if isinstance(exponent, int) and exponent >= 0:
        return int(value)
    return float(value)


def significant_digits(value: Decimal) -> int:
    """Digits as written: ``70`` has two, ``0.05`` one, ``1.050`` four."""
    return max(len(value.as_tuple().digits), 1)


def round_significant(value: Decimal, digits: int) -> Decimal:
    """Round to ``digits`` significant digits (never past the units digit: no ``1.8E+2``)."""
    if value == 0 or significant_digits(value) <= digits:
        return value
    exponent = value.adjusted() - digits + 1
    return value.quantize(Decimal(1).scaleb(min(exponent, 0)))
