"""Changes to stored Patients and to the EHPAD roster: pure functions on FHIR JSON.

- :func:`merged_patient`: a payload asserting current demographics (ADT A01/A04/A08/A28/
  A31, a roster row) updates the stored Patient *without losing* what other sources put
  there: identifiers are added, never removed; extensions are replaced by URL; the
  other elements the payload gives replace the stored ones; ``active`` and ``link``
  (merges) are never touched.
- :func:`linked` / :func:`retired`: an A40 merge is recorded as ``Patient.link``
  (https://hl7.org/fhir/R4/patient.html#links): the retired record gets ``active =
  false`` and ``replaced-by``, the surviving one ``replaces``. Nothing is deleted or
  overwritten; the resources of the retired record stay where they are.
- :func:`enrolled`: the Group of an EHPAD's residents with one more member.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gateway.fhir.meta import without_server_meta

_NEVER_FROM_PAYLOAD = frozenset({"resourceType", "id", "meta", "identifier", "extension", "link"})
_NEVER_FROM_PAYLOAD |= {"active", "text"}


def _identifiers(stored: list[Any], incoming: list[Any]) -> list[Any]:
    seen = {(i.get("system"), i.get("value")) for i in stored if isinstance(i, Mapping)}
    out = list(stored)
    for ident in incoming:
        if isinstance(ident, Mapping) and (ident.get("system"), ident.get("value")) not in seen:
            seen.add((ident.get("system"), ident.get("value")))
            out.append(ident)
    return out


def _extensions(stored: list[Any], incoming: list[Any]) -> list[Any]:
    urls = {e.get("url") for e in incoming if isinstance(e, Mapping)}
    kept = [e for e in stored if not (isinstance(e, Mapping) and e.get("url") in urls)]
    return kept + list(incoming)


def merged_patient(stored: Mapping[str, Any], incoming: Mapping[str, Any]) -> dict[str, Any]:
    """The stored Patient updated with the payload's demographics (server meta dropped)."""
    out = without_server_meta(dict(stored))
    for key, value in incoming.items():
        if key not in _NEVER_FROM_PAYLOAD:
            out[key] = value
    identifiers = _identifiers(out.get("identifier") or [], incoming.get("identifier") or [])
    if identifiers:
        out["identifier"] = identifiers
    extensions = _extensions(out.get("extension") or [], incoming.get("extension") or [])
    if extensions:
        out["extension"] = extensions
    return out


def linked(body: Mapping[str, Any], other_id: str, link_type: str) -> dict[str, Any]:
    """``body`` with a ``link`` to ``Patient/other_id`` of ``link_type`` (added once)."""
    out = dict(body)
    reference = f"Patient/{other_id}"
    links = [dict(x) for x in out.get("link") or [] if isinstance(x, Mapping)]
    if not any((x.get("other") or {}).get("reference") == reference for x in links):
        links.append({"other": {"reference": reference}, "type": link_type})
    out["link"] = links
    return out


def retired(body: Mapping[str, Any], surviving_id: str) -> dict[str, Any]:
    """The retired record of a merge: inactive, replaced by the surviving one."""
    out = linked(without_server_meta(dict(body)), surviving_id, "replaced-by")
    out["active"] = False
    return out


def is_member(group: Mapping[str, Any], patient_reference: str) -> bool:
    return any(
        isinstance(m, Mapping) and (m.get("entity") or {}).get("reference") == patient_reference
        for m in group.get("member") or []
    )


def enrolled(group: Mapping[str, Any], patient_references: list[str]) -> dict[str, Any] | None:
    """The roster Group with these patients as members; None when nothing changes."""
    missing = [r for r in patient_references if not is_member(group, r)]
    if not missing:
        return None
    out = without_server_meta(dict(group))
    out["member"] = [*(group.get("member") or []), *({"entity": {"reference": r}} for r in missing)]
    if out.get("quantity") is not None:
        out["quantity"] = len(out["member"])
    return out
