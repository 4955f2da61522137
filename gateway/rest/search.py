"""Search (https://hl7.org/fhir/R4/search.html): ``GET [type]?…`` and ``POST [type]/_search``.

The form body of ``POST _search`` is merged into the query by the HTTP layer, so both
arrive here alike. Strict by default: an unknown or unsupported parameter, modifier or
chain is a 400 that names it; ``Prefer: handling=lenient`` ignores them and lists them
in the Bundle's OperationOutcome entry. A served parameter's malformed or unserved
value is a 400 in both modes (:mod:`gateway.search.problems`).
"""

from __future__ import annotations

from gateway.record.repository import Repository
from gateway.rest.request import FhirRequest, FhirResponse
from gateway.rest.searchset import PAGE, SearchCall, lenient, searchset


def search(req: FhirRequest, repo: Repository) -> FhirResponse:
    rtype = req.segments[0]
    handling = lenient(req)
    request = repo.services.search.parse(rtype, req.query, lenient=handling, reserved={PAGE})
    params = [(k, v) for k, v in req.query if k != PAGE]
    call = SearchCall(request, f"{req.base}/{rtype}", params, "search", handling)
    return searchset(req, repo, call)
