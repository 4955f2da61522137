"""Human names: trimmed, case preserved, nothing else touched.

INS identity traits must be kept exactly as the national referential gives them
(DOMAIN.md §1: "INS birth names are kept as given"), so names are only trimmed of
surrounding whitespace and control characters; inner spaces, hyphens, apostrophes and
case are preserved. Empty parts are dropped.

FR Core's official name may carry the list of birth given names
(``fr-core-patient-birth-list-given-name``, required by ``fr-core-patient-ins``).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from gateway.normalise.text import clean

BIRTH_LIST_GIVEN_NAME = (
    "https://hl7.fr/ig/fhir/core/StructureDefinition/fr-core-patient-birth-list-given-name"
)


def human_name(
    family: str | None,
    given: Iterable[str | None] = (),
    *,
    prefix: Iterable[str | None] = (),
    suffix: Iterable[str | None] = (),
    use: str | None = None,
    birth_given_names: str | None = None,
) -> dict[str, Any] | None:
    """A FHIR HumanName, or ``None`` when it would hold no name part."""
    out: dict[str, Any] = {}
    birth_list = clean(birth_given_names)
    if birth_list:
        out["extension"] = [{"url": BIRTH_LIST_GIVEN_NAME, "valueString": birth_list}]
    if use:
        out["use"] = use
    fam = clean(family)
    if fam:
        out["family"] = fam
    for key, parts in (("given", given), ("prefix", prefix), ("suffix", suffix)):
        values = [c for c in (clean(p) for p in parts) if c]
        if values:
            out[key] = values
    if not any(k in out for k in ("family", "given")):
        return None
    return out
