"""Numbers with their implicit precision (https://hl7.org/fhir/R4/search.html#number).

A number stands for the interval its significant digits imply: ``100`` is
``[99.5, 100.5)``, ``1.50`` is ``[1.495, 1.505)``, ``1e2`` is ``[50, 150)``. Decimals
arrive as :class:`decimal.Decimal` from the gateway's JSON parser, which keeps their
trailing zeros; floats are read through their shortest representation (``repr``), which
is what the sender wrote up to trailing zeros; integers are exact to the unit.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

_HALF = Decimal(5)


class InvalidNumber(ValueError):
    """The value is not a finite number."""


def to_decimal(value: object) -> Decimal:
    """A JSON number (Decimal, float or int, not bool) or numeric text as a Decimal."""
    if value.__class__ is bool:
        raise InvalidNumber(repr(value))
    try:
        if isinstance(value, Decimal):
            d = value
        elif isinstance(value, float):
            d = Decimal(repr(value))
        elif isinstance(value, int | str):
            d = Decimal(value)
        else:
            raise InvalidNumber(repr(value))
    except InvalidOperation as exc:
        raise InvalidNumber(repr(value)) from exc
    if not d.is_finite():
        raise InvalidNumber(repr(value))
    return d


def precision_range(d: Decimal) -> tuple[Decimal, Decimal]:
    """``[low, high)``: the value plus or minus half a unit of its last digit."""
    exponent = d.as_tuple().exponent
    assert isinstance(exponent, int)  # finite by construction
    half = _HALF.scaleb(exponent - 1)
    return d - half, d + half
