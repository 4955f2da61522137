"""Compartment membership of a resource (https://hl7.org/fhir/R4/compartmentdefinition.html).

A resource is in the compartment of Patient *p* when one of the parameters that the
Patient CompartmentDefinition lists for its type references *p* (and a Patient is in
its own compartment). The repository stores :func:`patient_of` in a column, for access
control and ``$everything``; :func:`compartments_of` gives every membership.

``patient_of`` picks the owner: the Patient reached through the *first* listed
parameter that references a Patient (``subject`` before ``performer`` for an
Observation). When that parameter references several different Patients (a Group's
``member``), there is no single owner and the answer is ``None``.
"""

from __future__ import annotations

from typing import Any

from gateway.search.extract import extract
from gateway.search.registry import SearchRegistry
from gateway.search.rows import IndexRows

PATIENT = "Patient"


def _references_by_param(
    resource: dict[str, Any],
    registry: SearchRegistry,
    compartment: str,
    rows: IndexRows | None,
) -> list[tuple[str, list[str]]]:
    rtype = resource.get("resourceType")
    if not isinstance(rtype, str):
        return []
    params = registry.compartment_params(compartment, rtype)
    if not params:
        return []
    if rows is None:
        rows = extract(resource, registry, only=frozenset(params))
    out = []
    for param in params:
        ids = [
            r.target_id
            for r in rows.references
            if r.param == param and r.target_type == compartment and r.target_id
        ]
        out.append((param, list(dict.fromkeys(ids))))
    return out


def patient_of(
    resource: dict[str, Any], registry: SearchRegistry, rows: IndexRows | None = None
) -> str | None:
    """The id of the Patient that owns ``resource``, or ``None`` (see module docstring).

    Pass the resource's ``rows`` from :func:`extract` to avoid extracting twice.
    """
    if resource.get("resourceType") == PATIENT:
        own = resource.get("id")
        return own if isinstance(own, str) and own else None
    for _param, ids in _references_by_param(resource, registry, PATIENT, rows):
        if ids:
            return ids[0] if len(ids) == 1 else None
    return None


def compartments_of(
    resource: dict[str, Any], registry: SearchRegistry, rows: IndexRows | None = None
) -> dict[str, frozenset[str]]:
    """Every compartment ``resource`` is in: ``{"Patient": {"p1", "p2"}, …}``.

    Only compartments with a loaded CompartmentDefinition are considered.
    """
    out: dict[str, frozenset[str]] = {}
    rtype = resource.get("resourceType")
    for compartment in registry.compartments():
        ids: set[str] = set()
        if rtype == compartment and isinstance(resource.get("id"), str) and resource["id"]:
            ids.add(resource["id"])
        for _param, found in _references_by_param(resource, registry, compartment, rows):
            ids.update(found)
        if ids:
            out[compartment] = frozenset(ids)
    return out
