"""Pharmacy message structure: ORC groups, and the medication pieces they share.

RDS^O13, RDE^O11 and RAS^O17 (HL7 v2.5 chapter 4A) repeat an order group that starts
with ORC and holds RXE / RXD / RXA segments, each followed by its RXR (route) and
TQ1 (timing) segments. :func:`order_groups` cuts the message into those groups.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from gateway.ingest.assembly import Assembly
from gateway.ingest.hl7v2.datatypes import cwe
from gateway.ingest.hl7v2.er7 import Composite, Er7Message, Segment
from gateway.normalise.codes import route
from gateway.normalise.errors import NormalisationError
from gateway.normalise.medication import MedicationCode, medication_code


@dataclass(slots=True)
class Item:
    """One RXE, RXD or RXA with the RXR and TQ1 segments that follow it."""

    segment: Segment
    routes: list[Segment] = field(default_factory=list)
    timings: list[Segment] = field(default_factory=list)


@dataclass(slots=True)
class OrderGroup:
    orc: Segment | None
    items: list[Item] = field(default_factory=list)
    timings: list[Segment] = field(default_factory=list)  # TQ1 before any item

    def first(self, name: str) -> Item | None:
        return next((i for i in self.items if i.segment.name == name), None)

    def placer(self) -> str:
        return self.orc.value(2) if self.orc else ""

    def filler(self) -> str:
        return self.orc.value(3) if self.orc else ""


def order_groups(message: Er7Message, item_names: frozenset[str]) -> list[OrderGroup]:
    """The ORC groups; items named in ``item_names`` collect the RXR/TQ1 that follow."""
    groups: list[OrderGroup] = []
    current: OrderGroup | None = None
    last: Item | None = None
    for seg in message.segments:
        if seg.name == "ORC":
            current = OrderGroup(seg)
            groups.append(current)
            last = None
        elif seg.name in item_names:
            if current is None:
                current = OrderGroup(None)
                groups.append(current)
            last = Item(seg)
            current.items.append(last)
        elif seg.name == "RXR" and last is not None:
            last.routes.append(seg)
        elif seg.name == "TQ1":
            if last is not None:
                last.timings.append(seg)
            elif current is not None:
                current.timings.append(seg)
    return groups


def medication_concept(
    comp: Composite, asm: Assembly, expression: str
) -> tuple[dict[str, Any] | None, MedicationCode | None]:
    """A medication CWE as a CodeableConcept in CIP13/UCD/CIS/ATC where possible."""
    if comp.empty:
        return None, None
    codings: list[dict[str, str]] = []
    primary: MedicationCode | None = None
    for code_at, text_at, system_at in ((1, 2, 3), (4, 5, 6)):
        code = comp.c(code_at)
        if not code:
            continue
        try:
            found = medication_code(
                code, comp.c(system_at), asm.terminology, asm.source, comp.c(text_at) or None
            )
        except NormalisationError as exc:
            asm.refuse(exc, comp.at(code_at), expression)
            continue
        asm.assume(found.assumption, comp.at(code_at))
        codings.append(found.coding.to_fhir())
        primary = primary or found
    concept: dict[str, Any] = {}
    if codings:
        concept["coding"] = codings
    text = comp.c(9) or comp.c(2) or comp.c(5)
    if text:
        concept["text"] = text
    return (concept or None), primary


def route_concept(item: Item, asm: Assembly) -> dict[str, Any] | None:
    """RXR-1 as an EDQM route when the ConceptMap knows it, else as sent."""
    if not item.routes:
        return None
    comp = item.routes[0].first(1)
    if comp.empty:
        return None
    mapped = route(comp.c(1), asm.terminology) or route(comp.c(2), asm.terminology)
    if mapped is not None:
        return {"coding": [mapped.to_fhir()], "text": comp.c(2) or mapped.display or comp.c(1)}
    return cwe(comp, asm)


def timing_text(item: Item | None, group: OrderGroup) -> str | None:
    """A readable timing from TQ1-3 (repeat pattern) and TQ1-9/11 (priority, text)."""
    timings = (item.timings if item else []) or group.timings
    for tq1 in timings:
        parts = [tq1.first(3).c(2) or tq1.value(3), tq1.value(11)]
        text = " ".join(p for p in parts if p)
        if text:
            return text
    return None
