"""Care dates, for ``$everything``'s ``start`` and ``end``.

https://hl7.org/fhir/R4/patient-operation-everything.html: "The date range relates to
care dates, not record currency dates [...] the specific date ranges are up to the
server". Here a resource's care date is the value of one date search parameter of its
type, so that it is answered from the index like any search:

- the R4 ``clinical-date`` parameter (code ``date``) for the 17 types that share it
  (AllergyIntolerance recordedDate, Encounter and EpisodeOfCare period, Observation
  and DiagnosticReport effective, Procedure performed, Immunization occurrence…);
- for other types of the patient compartment whose clinical date has another
  parameter, that parameter (:data:`OWN_CARE_DATE`: Condition onset, medications,
  orders, documents' context period…).

A resource is kept when one of its care dates overlaps the range, and also when it has
none, whether its type has no care date (the Patient, Coverage…) or the element is
absent: the spec lets the server keep what it cannot place in time, and leaving it out
would hide, say, an allergy nobody dated.
"""

from __future__ import annotations

from collections.abc import Iterable

from gateway.search.registry import SearchRegistry

CLINICAL_DATE = "http://hl7.org/fhir/SearchParameter/clinical-date"
OWN_CARE_DATE: dict[str, str] = {
    "AdverseEvent": "date",
    "Condition": "onset-date",
    "DocumentReference": "period",
    "ImagingStudy": "started",
    "Media": "created",
    "MedicationAdministration": "effective-time",
    "MedicationDispense": "whenhandedover",
    "MedicationRequest": "authoredon",
    "MedicationStatement": "effective",
    "QuestionnaireResponse": "authored",
    "ServiceRequest": "authored",
    "Specimen": "collected",
}
"""Types without the clinical-date parameter, and the date parameter of their care."""


def care_date_params(registry: SearchRegistry, types: Iterable[str]) -> tuple[tuple[str, str], ...]:
    """``(type, parameter code)`` of each of ``types`` that has a served care date."""
    out: list[tuple[str, str]] = []
    for rtype in types:
        clinical = registry.get(rtype, "date")
        if clinical is not None and clinical.definition.url == CLINICAL_DATE:
            code = "date"
        elif rtype in OWN_CARE_DATE:
            code = OWN_CARE_DATE[rtype]
        else:
            continue
        bound = registry.get(rtype, code)
        if bound is not None and bound.served and bound.type == "date":
            out.append((rtype, code))
    return tuple(out)


__all__ = ["CLINICAL_DATE", "OWN_CARE_DATE", "care_date_params"]
