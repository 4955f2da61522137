"""``Patient/{id}/$everything`` and ``Patient/$everything``.

https://hl7.org/fhir/R4/patient-operation-everything.html: the Patient, every resource
in its compartment (the R4 Patient CompartmentDefinition), and, with each page, the
resources the page references that are outside any patient compartment (practitioners,
organisations, locations, medications…) as ``search.mode=include``. At type level,
every Patient and every resource in some patient's compartment.

Parameters: ``start`` and ``end`` (dates of care, each a FHIR date or dateTime read
in Europe/Paris when it has no offset; a resource is kept when its care date overlaps
``[start, end]``, each end taken with the whole period it names, or when it has no care
date: :mod:`gateway.search.care_dates`), ``_since`` (resources updated at or after this
instant), ``_type`` (a comma-separated subset of the compartment's types), ``_count``
and our ``_page`` cursor. A malformed or repeated ``start``, ``end`` or ``_since``, or
a ``start`` after the ``end``, is a 400 naming it in both handling modes; any other
parameter is a 400 (strict) or ignored with a warning (lenient). Everything goes
through the caller-bound repository like any search: what the caller may not see is
left out, and an unknown or hidden patient is a 404.
"""

from __future__ import annotations

from dataclasses import replace

from gateway.errors import BadRequest, UnsupportedParameter, shown
from gateway.fhir.instant import parse_range
from gateway.record.repository import Repository
from gateway.rest.request import FhirRequest, FhirResponse
from gateway.rest.searchset import PAGE, SearchCall, lenient, searchset
from gateway.search.care_dates import care_date_params
from gateway.search.problems import invalid
from gateway.search.query import CareDateClause, Clause, DateValue, IgnoredParameter
from gateway.search.rows import MAX_INSTANT, MIN_INSTANT

DEFINITION = "http://hl7.org/fhir/OperationDefinition/Patient-everything"
PATIENT = "Patient"
_PASSED = frozenset({"_type", "_count", PAGE})
_DATES = ("start", "end", "_since")


def _range(name: str, value: str) -> tuple[int, int]:
    """``[low, high)`` of a date or dateTime parameter, or a 400 naming it."""
    try:
        return parse_range(value, what=name)
    except BadRequest as exc:
        raise BadRequest(exc.diagnostics, expression=name, code=exc.code) from None


def everything(req: FhirRequest, repo: Repository) -> FhirResponse:
    segs = req.segments
    pid = segs[1] if len(segs) == 3 else None
    handling = lenient(req)
    params: list[tuple[str, str]] = []
    ignored: list[IgnoredParameter] = []
    dates: dict[str, tuple[int, int]] = {}
    seen: set[str] = set()
    for name, value in req.query:
        if name in _DATES:
            if name in seen:
                raise invalid(name, f"'{name}' may appear only once")
            seen.add(name)
            if value:
                dates[name] = _range(name, value)
        elif name in _PASSED:
            params.append((name, value))
        elif handling:
            ignored.append(IgnoredParameter(name, value, "not a parameter of $everything"))
        else:
            raise UnsupportedParameter(
                f"Unknown or unsupported $everything parameter '{shown(name)}'",
                expression=shown(name),
                code="GW-1100",
            )
    engine = repo.services.search
    request = engine.parse(
        None, params, lenient=handling, compartment=(PATIENT, pid or "any"), reserved={PAGE}
    )
    criteria = list(request.criteria)
    if "_since" in dates:
        low = dates["_since"][0]
        text = req.param("_since") or ""
        criteria.append(
            Clause("_since", "_lastUpdated", "date", None, (DateValue("ge", low, low + 1, text),))
        )
    if "start" in dates or "end" in dates:
        low = dates["start"][0] if "start" in dates else MIN_INSTANT
        high = dates["end"][1] if "end" in dates else MAX_INSTANT
        if low >= high:
            raise invalid("end", "'end' is before 'start': the range of care dates is empty")
        name = "start" if "start" in dates else "end"
        criteria.append(
            CareDateClause(name, low, high, care_date_params(engine.registry, request.types))
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
