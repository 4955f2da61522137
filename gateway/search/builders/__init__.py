"""Index rows from typed values: one builder per (search parameter type, FHIR type).

The mappings follow https://hl7.org/fhir/R4/search.html §3.1.1.5; each module states
its own: :mod:`.token_rows`, :mod:`.string_rows`, :mod:`.date_rows`,
:mod:`.reference_rows`, :mod:`.quantity_rows` (quantity, number and uri). The registry
picks a builder once per compiled path (:func:`builder_for`); extension values, whose
type is only known from their JSON key, go through :func:`dynamic_builder`.
"""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from gateway.search.builders.base import Builder
from gateway.search.builders.date_rows import date_period, date_timing, date_value
from gateway.search.builders.quantity_rows import (
    money,
    number,
    quantity,
    quantity_number,
    range_,
    uri,
)
from gateway.search.builders.reference_rows import (
    reference,
    reference_canonical,
    reference_resource,
)
from gateway.search.builders.string_rows import (
    string_address,
    string_concept,
    string_field,
    string_name,
    string_text,
)
from gateway.search.builders.token_rows import (
    token_boolean,
    token_coding,
    token_concept,
    token_contact,
    token_identifier,
    token_text,
)
from gateway.search.elements import fhir_type_name
from gateway.search.rows import IndexRows

_TEXTUAL = ("string", "code", "id", "uri", "url", "canonical", "oid", "uuid", "markdown")
_QUANTITIES = (
    "Quantity",
    "Age",
    "Count",
    "Distance",
    "Duration",
    "MoneyQuantity",
    "SimpleQuantity",
)
_NUMBERS = ("integer", "decimal", "positiveInt", "unsignedInt")
_DATES = ("date", "dateTime", "instant")

BUILDERS: dict[str, dict[str, Builder]] = {
    "token": {
        **dict.fromkeys(_TEXTUAL, token_text),
        "boolean": token_boolean,
        "Coding": token_coding,
        "CodeableConcept": token_concept,
        "Identifier": token_identifier,
        "ContactPoint": token_contact,
    },
    "string": {
        **dict.fromkeys(_TEXTUAL, string_text),
        "HumanName": string_name,
        "Address": string_address,
        "CodeableConcept": string_concept,
        "Coding": string_concept,
        "Annotation": string_field("text"),
        "ContactPoint": string_field("value"),
        "Identifier": string_field("value"),
        "Attachment": string_field("title"),
    },
    "date": {
        **dict.fromkeys(_DATES, date_value),
        "Period": date_period,
        "Timing": date_timing,
    },
    "reference": {
        "Reference": reference,
        "canonical": reference_canonical,
        "uri": reference_canonical,
        "url": reference_canonical,
        "Resource": reference_resource,
    },
    "quantity": {
        **dict.fromkeys(_QUANTITIES, quantity),
        "Money": money,
        "Range": range_,
        **dict.fromkeys(_NUMBERS, quantity_number),
    },
    "number": dict.fromkeys(_NUMBERS, number),
    "uri": dict.fromkeys(("uri", "url", "canonical", "oid", "uuid", "string", "id"), uri),
}


def builder_for(param_type: str, value_type: str) -> Builder | None:
    """The builder for values of FHIR type ``value_type`` under a ``param_type`` parameter."""
    return BUILDERS.get(param_type, {}).get(value_type)


def dynamic_builder(param_type: str) -> Builder:
    """Builder for choice ``value[x]`` holders (extensions): dispatch on the JSON key."""
    table = BUILDERS.get(param_type, {})

    def build(
        code: str, values: list[Any], rows: IndexRows, root: dict[str, Any], tz: ZoneInfo
    ) -> None:
        for holder in values:
            if holder.__class__ is not dict:
                continue
            for key, value in holder.items():
                if key.startswith("value") and len(key) > 5:
                    builder = table.get(fhir_type_name(key[5:]))
                    if builder is not None:
                        builder(code, value if isinstance(value, list) else [value], rows, root, tz)

    return build


__all__ = ["BUILDERS", "Builder", "builder_for", "dynamic_builder"]
