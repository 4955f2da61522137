"""``vitals``: one row → one Observation per measurement (long or wide layout).

The unit of a value is, in this order: written in the cell (``72 bpm``, ``37,5°C``),
the ``unité`` column (long layout), the header (``Poids (kg)``), the mapping's
``default_units`` for that LOINC code (an assumption). Everything else is shared with
HL7 ORU (:mod:`gateway.ingest.observations`), including the natural-key identifier, so
that a measurement sent both ways is stored once.
"""

from __future__ import annotations

import re
from typing import Any

from gateway.ingest.csv.common import resident
from gateway.ingest.csv.rows import Row
from gateway.ingest.issues import CsvLocation
from gateway.ingest.observations import measurement_value, observation, observed_code
from gateway.ingest.patients import local_key
from gateway.ingest.result import PatientRef
from gateway.normalise.errors import NormalisationError
from gateway.normalise.numbers import parse_decimal
from gateway.normalise.vitals import BP_PANEL

_NUMBER_UNIT = re.compile(r"^\s*(?P<number>[-+]?[\d\s\u00a0.,]*\d)\s*(?P<unit>\D.*)?$")


def _split(cell: str) -> tuple[str, str]:
    """``72 bpm`` as ``("72", "bpm")``; a cell that is a number as a whole (``1e3``, an
    exponent, not the unit ``e3``) is not split."""
    try:
        parse_decimal(cell)
        return cell, ""
    except NormalisationError:
        pass
    match = _NUMBER_UNIT.match(cell)
    if match and match["unit"] and not match["unit"].strip().startswith(("/", "\\")):
        return match["number"], match["unit"].strip()
    return cell, ""


def _measure(
    row: Row,
    patient: PatientRef,
    label: str,
    cell: str,
    unit: str,
    location: CsvLocation,
    effective: str,
    performer: str | None,
    key: str,
    label_location: CsvLocation | None = None,
) -> None:
    """``location``: where the value is; ``label_location``: where the label is (the
    parameter column of the long layout), when not the same place."""
    asm = row.asm
    code = observed_code(asm, label, label)
    if code is None or code.spec is None:
        asm.refuse(
            NormalisationError(f"unknown measurement {label!r}", "code"),
            label_location or location,
            "Observation.code",
        )
        return
    value_text, cell_unit = (cell, "") if code.spec.loinc == BP_PANEL else _split(cell)
    default = None
    wide = row.mapping.wide
    if wide is not None and not (cell_unit or unit):
        default = wide.default_units.get(code.spec.loinc)
    value, code = measurement_value(
        asm, code, value_text, cell_unit or unit, location, default_unit=default
    )
    if value is None:
        return
    main = code.concept["coding"][0]["code"]
    extra: dict[str, Any] = {}
    if row.text("comment"):
        extra["note"] = [{"text": row.text("comment")}]
    observation(
        asm,
        code=code,
        identifier=asm.natural_id("observation", local_key(patient), main, effective, ""),
        status="final",
        subject=patient.reference,
        effective=effective,
        value=value,
        performer=performer,
        extra=extra,
        key=key,
        location=location,
    )


def build(row: Row) -> PatientRef | None:
    asm = row.asm
    patient = resident(row)
    when = row.when()
    who = row.professional("author", "author_name")
    performer = asm.practitioner_role(who) if who else None
    if patient is None or when is None:
        return patient
    if "measure" in row.header.fields:
        label, cell = row.text("measure"), row.text("value")
        if not label or not cell:
            row.missing("measure" if not label else "value")
            return patient
        _measure(
            row,
            patient,
            label,
            cell,
            row.text("unit"),
            row.location("value"),
            when.value,
            performer,
            "long",
            label_location=row.location("measure"),
        )
        return patient
    for column in row.header.measures:
        cell = row.cell(column.index)
        if cell:
            location = CsvLocation(row.line, column.header)
            _measure(
                row,
                patient,
                column.label,
                cell,
                column.unit or "",
                location,
                when.value,
                performer,
                column.header,
            )
    return patient
