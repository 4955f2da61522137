"""``Patient/{id}/$everything`` and ``Patient/$everything``.

https://hl7.org/fhir/R4/patient-operation-everything.html: the Patient, every resource
in its compartment (the R4 Patient CompartmentDefinition), and, with each page, the
resources the page references that are outside any patient compartment (practitioners,
organisations, locations, medications…) as ``search.mode=include``. At type level,
every Patient and every resource in some patient's compartment.

Parameters: ``_since`` (resources updated at or after this instant), ``_type``
(a comma-separated subset of the compartment's types), ``_count`` and our ``_page``
cursor. ``start``/``end`` (dates of care) are not served: strict handling refuses them
with a 400, lenient handling ignores them and says so. Everything goes through the
caller-bound repository like any search: what the caller may not see is left out, and
an unknown or hidden patient is a 404.
"""

from __future__ import annotations

from dataclasses import replace

from gateway.errors import UnsupportedParameter
from gateway.fhir.instant import parse_range
from gateway.record.repository import Repository
from gateway.rest.request import FhirRequest, FhirResponse
from gateway.rest.searchset import PAGE, SearchCall, lenient, searchset
from gateway.search.query import Clause, DateValue, IgnoredParameter

DEFINITION = "http://hl7.org/fhir/OperationDefinition/Patient-everything"
PATIENT = "Patient"
_PASSED = frozenset({"_type", "_count", PAGE})


def everything(req: FhirRequest, repo: Repository) -> FhirResponse:
    segs = req.segments
    pid = segs[1] if len(segs) == 3 else None
    handling = lenient(req)
    params: list[tuple[str, str]] = []
    ignored: list[IgnoredParameter] = []
    since: str | None = None
    for name, value in req.query:
        if name == "_since":
            since = value
        elif name in _PASSED:
            params.append((name, value))
        elif handling:
            ignored.append(IgnoredParameter(name, value, "not a parameter of $everything"))
        else:
            raise UnsupportedParameter(
                f"Unknown or unsupported $everything parameter '{name}'",
                expression=name,
                code="GW-1100",
            )
    engine = repo.services.search
    request = engine.parse(
        None, params, lenient=handling, compartment=(PATIENT, pid or "any"), reserved={PAGE}
    )
    criteria = list(request.criteria)
    if since:
        low = parse_range(since, what="_since")[0]
        criteria.append(
            Clause("_since", "_lastUpdated", "date", None, (DateValue("ge", low, low + 1, since),))
        )
    compartment = request.compartment
    assert compartment is not None
    request = replace(
        request,
        criteria=tuple(criteria),
        compartment=compartment if pid is not None else replace(compartment, id=None),
        ignored=(*request.ignored, *ignored),
    )
    if pid is not None:
        with repo.reading() as r:
            r.read(PATIENT, pid)  # 404 unknown or hidden, 410 deleted
    members = engine.registry.compartment_types(PATIENT) | {PATIENT}
    path = f"{req.base}/{'/'.join(segs)}"
    kept = [(k, v) for k, v in req.query if k != PAGE]
    call = SearchCall(
        request,
        path,
        kept,
        "everything",
        handling,
        referenced=engine.registry.resource_types - members,
    )
    return searchset(req, repo, call)
