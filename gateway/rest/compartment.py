"""Compartment search: ``GET [base]/Patient/{id}/{type}?…``.

The search runs over ``{type}`` resources in the compartment of ``Patient/{id}``: those
that one of the parameters the R4 Patient CompartmentDefinition lists for the type
references (https://hl7.org/fhir/R4/compartmentdefinition.html,
https://hl7.org/fhir/R4/search.html#compartments). Every other search feature applies.
Only compartments with a loaded CompartmentDefinition are served (Patient); others are
a 400 naming the compartment.
"""

from __future__ import annotations

from gateway.record.repository import Repository
from gateway.rest.request import FhirRequest, FhirResponse
from gateway.rest.searchset import PAGE, SearchCall, lenient, searchset


def search(req: FhirRequest, repo: Repository) -> FhirResponse:
    ctype, cid, rtype = req.segments
    handling = lenient(req)
    request = repo.services.search.parse(
        rtype, req.query, lenient=handling, compartment=(ctype, cid), reserved={PAGE}
    )
    params = [(k, v) for k, v in req.query if k != PAGE]
    path = f"{req.base}/{ctype}/{cid}/{rtype}"
    return searchset(req, repo, SearchCall(request, path, params, "compartment", handling))
