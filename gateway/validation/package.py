"""The conformance package index: every definition the validator may use, by canonical URL.

A profiles directory holds FHIR NPM-style package folders (``profiles/r4-core``,
``profiles/fr-core``, ``profiles/gateway``…), each a flat set of JSON resources. Loading
reads every ``*.json`` file below the directory once; nothing is read afterwards.

Canonical references may carry a version (``url|2.2.0``, FHIR R4 §2.17 "References
between canonical resources"). The index holds one version per URL and resolves a
versioned reference to it (the first loaded wins; :attr:`ConformanceIndex.duplicates`
lists the others so that a loader test can insist there are none).

See https://hl7.org/fhir/R4/references.html#canonical and
https://confluence.hl7.org/display/FHIR/NPM+Package+Specification.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

#: Resource types the validator indexes; anything else in a package folder is ignored.
CONFORMANCE_TYPES = frozenset({"StructureDefinition", "ValueSet", "CodeSystem", "ConceptMap"})

Resource = dict[str, Any]


def split_canonical(reference: str) -> tuple[str, str | None]:
    """``"url|version"`` → ``("url", "version")``; a plain URL has no version."""
    url, sep, version = reference.partition("|")
    return url, (version if sep else None)


#: Where HL7 publishes the definition of each R4 type (``type.code`` → StructureDefinition).
HL7_STRUCTURE = "http://hl7.org/fhir/StructureDefinition/"


def type_url(code: str) -> str:
    """The StructureDefinition URL of a type code (R4 §2.27: codes are relative to HL7's base)."""
    return code if ":" in code else HL7_STRUCTURE + code


def canonical_url(reference: str) -> str:
    """The URL part of a canonical reference, without ``|version`` or a ``#fragment``."""
    url = reference.partition("|")[0]
    return url.partition("#")[0]


@dataclass(slots=True)
class ConformanceIndex:
    """Every conformance resource loaded, indexed by canonical URL (without version)."""

    by_url: dict[str, Resource] = field(default_factory=dict)
    sources: dict[str, str] = field(default_factory=dict)
    duplicates: list[tuple[str, str]] = field(default_factory=list)
    errors: list[tuple[str, str]] = field(default_factory=list)

    @classmethod
    def load(cls, root: Path) -> ConformanceIndex:
        """Read every ``*.json`` conformance resource below ``root`` (sorted, so stable)."""
        index = cls()
        for path in sorted(root.rglob("*.json")):
            if path.name in ("package.json", ".index.json"):
                continue
            try:
                data = orjson.loads(path.read_bytes())
            except orjson.JSONDecodeError as exc:
                index.errors.append((str(path), f"not JSON: {exc}"))
                continue
            if isinstance(data, dict):
                index.add(data, source=str(path.relative_to(root)))
        return index

    @classmethod
    def of(cls, resources: Iterable[Resource]) -> ConformanceIndex:
        """Build an index from resources already in memory (tests, generated packages)."""
        index = cls()
        for resource in resources:
            index.add(resource, source="<memory>")
        return index

    def add(self, resource: Resource, *, source: str) -> None:
        if resource.get("resourceType") not in CONFORMANCE_TYPES:
            return
        url = resource.get("url")
        if not isinstance(url, str) or not url:
            self.errors.append((source, "conformance resource without a url"))
            return
        if url in self.by_url:
            self.duplicates.append((url, source))
            return
        self.by_url[url] = resource
        self.sources[url] = source

    def get(self, reference: str) -> Resource | None:
        return self.by_url.get(canonical_url(reference))

    def get_typed(self, reference: str, resource_type: str) -> Resource | None:
        found = self.get(reference)
        if found is not None and found.get("resourceType") == resource_type:
            return found
        return None

    def structure(self, reference: str) -> Resource | None:
        return self.get_typed(reference, "StructureDefinition")

    def value_set(self, reference: str) -> Resource | None:
        return self.get_typed(reference, "ValueSet")

    def code_system(self, reference: str) -> Resource | None:
        return self.get_typed(reference, "CodeSystem")

    def of_type(self, resource_type: str) -> Iterator[Resource]:
        return (r for r in self.by_url.values() if r.get("resourceType") == resource_type)

    def __len__(self) -> int:
        return len(self.by_url)
