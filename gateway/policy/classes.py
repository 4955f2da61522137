"""Which document class (TRE_A03, DOMAIN.md §4) a FHIR resource belongs to.

Two plain tables drive it:

- ``types``: every R4 resource type -> a class code, a gateway class (``administrative``,
  ``not-clinical``, ``audit``, ``consent``, ``roster``, ``excluded``), or one of the
  markers ``by-document-type`` (DocumentReference, Composition) and
  ``from-security-context`` (Binary: the caller must evaluate the DocumentReference that
  points at it); loaded from ``profiles/resource-classes.yaml``;
- ``document_types``: document type code -> class, i.e. the TRE_A03 ConceptMap as plain
  data. Keys are either ``system|code`` or a bare ``code``.

Unresolvable resources map to None, which the engine denies (fail closed).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from gateway.policy.facts import GATEWAY_CLASSES

BY_DOCUMENT_TYPE = "by-document-type"
FROM_SECURITY_CONTEXT = "from-security-context"
MARKERS = frozenset({BY_DOCUMENT_TYPE, FROM_SECURITY_CONTEXT})


class ClassMapError(ValueError):
    """The resource-class file is malformed; the message names the path of the fault."""


def _type_codings(resource: Mapping[str, Any]) -> list[tuple[str | None, str]]:
    concept = resource.get("type")
    if not isinstance(concept, Mapping):
        return []
    codings = concept.get("coding")
    if not isinstance(codings, list):
        return []
    out: list[tuple[str | None, str]] = []
    for coding in codings:
        if isinstance(coding, Mapping) and isinstance(coding.get("code"), str):
            system = coding.get("system")
            out.append((system if isinstance(system, str) else None, coding["code"]))
    return out


@dataclass(frozen=True, slots=True)
class ResourceClasses:
    types: Mapping[str, str]
    document_types: Mapping[str, str]

    def document_type_of(self, resource: Mapping[str, Any]) -> str | None:
        """The first type code of a DocumentReference or Composition."""
        codings = _type_codings(resource)
        return codings[0][1] if codings else None

    def class_of_type_codings(self, resource: Mapping[str, Any]) -> str | None:
        """The class of a document from its type; None if unknown or ambiguous."""
        found: set[str] = set()
        for system, code in _type_codings(resource):
            klass = self.document_types.get(f"{system}|{code}") if system else None
            if klass is None:
                klass = self.document_types.get(code)
            if klass is not None:
                found.add(klass)
        # Two codings that disagree could widen the audience: refuse to pick one.
        return found.pop() if len(found) == 1 else None

    def class_of(self, resource: Mapping[str, Any]) -> str | None:
        rtype = resource.get("resourceType")
        if not isinstance(rtype, str):
            return None
        klass = self.types.get(rtype)
        if klass == BY_DOCUMENT_TYPE:
            return self.class_of_type_codings(resource)
        if rtype == "Bundle" and resource.get("type") == "document":
            return self._class_of_document_bundle(resource)
        if klass == FROM_SECURITY_CONTEXT:
            return None
        return klass

    def _class_of_document_bundle(self, bundle: Mapping[str, Any]) -> str | None:
        entries = bundle.get("entry")
        if not isinstance(entries, list) or not entries or not isinstance(entries[0], Mapping):
            return None
        first = entries[0].get("resource")
        if not isinstance(first, Mapping) or first.get("resourceType") != "Composition":
            return None
        return self.class_of_type_codings(first)


def parse_resource_classes(
    data: object, document_types: Mapping[str, str], known_classes: frozenset[str]
) -> ResourceClasses:
    """Build the table from the parsed YAML; ``known_classes`` are the matrix's classes."""
    if not isinstance(data, Mapping) or not isinstance(data.get("types"), Mapping):
        raise ClassMapError("types: expected a mapping of resource type -> {class, why}")
    allowed = known_classes | GATEWAY_CLASSES | MARKERS
    types: dict[str, str] = {}
    for rtype, spec in data["types"].items():
        at = f"types.{rtype}"
        if not isinstance(spec, Mapping) or not isinstance(spec.get("class"), str):
            raise ClassMapError(f"{at}: expected a mapping with a string 'class'")
        if spec["class"] not in allowed:
            raise ClassMapError(f"{at}: unknown class {spec['class']!r}")
        if not any(isinstance(spec.get(k), str) and spec[k].strip() for k in ("source", "choice")):
            raise ClassMapError(f"{at}: needs a 'source' or a 'choice'")
        types[str(rtype)] = spec["class"]
    for code, klass in document_types.items():
        if klass not in known_classes:
            raise ClassMapError(f"document type {code}: unknown class {klass!r}")
    return ResourceClasses(types=types, document_types=dict(document_types))


def load_resource_classes(
    path: Path, document_types: Mapping[str, str], known_classes: frozenset[str]
) -> ResourceClasses:
    """Read ``profiles/resource-classes.yaml``; the document-type map comes from the
    ConceptMap the caller loaded."""
    with path.open(encoding="utf-8") as handle:
        return parse_resource_classes(yaml.safe_load(handle), document_types, known_classes)
