"""Cut the HL7 FHIR R4 core package (hl7.fhir.r4.core 4.0.1) down to what validation needs.

Usage (from the repository root)::

    .venv/bin/python profiles/r4-core/make_subset.py /path/to/hl7.fhir.r4.core-4.0.1/package \
        profiles/r4-core [EXTRA_INSTANCE_DIR ...]

Kept (see README.md beside this file):

* every base type: the primitive types, complex types and resources (``derivation =
  specialization``) with their snapshots;
* every definition those, FR Core (``profiles/fr-core``) and our gateway profiles
  (``profiles/gateway``) reach: base definitions, type profiles (extensions, SimpleQuantity,
  the vital-signs profiles), ValueSets of ``required`` bindings and, for FR Core and gateway
  profiles, of ``extensible`` bindings too, and the CodeSystems those ValueSets include;
* the HL7 extensions that the instances in ``EXTRA_INSTANCE_DIR`` (fixtures, Synthea) use,
  and a few any resource may carry (``_EXTRA_ROOTS``: data-absent-reason, nullFlavor,
  originalText).

Stripped, because validation never reads them: narratives (``text``), ``differential`` of
HL7's own definitions (the snapshot is complete), ``mapping``, and the descriptive element
fields ``definition``, ``comment``, ``requirements``, ``alias``, ``example``,
``meaningWhenMissing``, ``isModifierReason``, ``constraint.xpath``; concept ``definition``
and ``designation`` in CodeSystems.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson

from gateway.validation.dependencies import closure, needs_of
from gateway.validation.package import ConformanceIndex, canonical_url

_DROP_TOP = ("text", "mapping", "contact")
#: Core extensions any resource may carry, kept although no profile we hold uses them.
_EXTRA_ROOTS = (
    "http://hl7.org/fhir/StructureDefinition/data-absent-reason",
    "http://hl7.org/fhir/StructureDefinition/iso21090-nullFlavor",
    "http://hl7.org/fhir/StructureDefinition/originalText",
)
_DROP_ELEMENT = (
    "definition",
    "comment",
    "requirements",
    "alias",
    "mapping",
    "example",
    "meaningWhenMissing",
    "isModifierReason",
)


def _extension_urls(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ("extension", "modifierExtension") and isinstance(value, list):
                for ext in value:
                    if isinstance(ext, dict) and isinstance(ext.get("url"), str):
                        yield ext["url"]
            yield from _extension_urls(value)
    elif isinstance(node, list):
        for item in node:
            yield from _extension_urls(item)


def _strip_element(element: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in element.items() if k not in _DROP_ELEMENT}
    if "constraint" in out:
        out["constraint"] = [
            {k: v for k, v in c.items() if k != "xpath"} for c in out["constraint"]
        ]
    return out


def _strip_concepts(concepts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for c in concepts:
        kept = {k: v for k, v in c.items() if k not in ("definition", "designation")}
        if "concept" in kept:
            kept["concept"] = _strip_concepts(kept["concept"])
        out.append(kept)
    return out


def strip(resource: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in resource.items() if k not in _DROP_TOP}
    if out.get("resourceType") == "StructureDefinition" and "snapshot" in out:
        out.pop("differential", None)
        out["snapshot"] = {"element": [_strip_element(e) for e in out["snapshot"]["element"]]}
    if out.get("resourceType") == "CodeSystem" and "concept" in out:
        out["concept"] = _strip_concepts(out["concept"])
    return out


def main(argv: list[str]) -> int:
    source_dir, target_dir = Path(argv[1]), Path(argv[2])
    extra_dirs = [Path(a) for a in argv[3:]]
    repo = Path(__file__).resolve().parents[2]
    source = ConformanceIndex.load(source_dir)
    ours = ConformanceIndex.load(repo / "profiles" / "fr-core")
    for gateway_resource in ConformanceIndex.load(repo / "profiles" / "gateway").by_url.values():
        ours.add(gateway_resource, source="gateway")

    roots: set[str] = set(_EXTRA_ROOTS)
    for sd in source.of_type("StructureDefinition"):
        if sd.get("kind") != "logical" and sd.get("derivation") in (None, "specialization"):
            roots.add(sd["url"])
    for resource in ours.by_url.values():
        for need in needs_of(resource, "extensible"):
            if ours.get(need.url) is None:
                roots.add(need.url)
    for directory in extra_dirs:
        for path in directory.rglob("*.json"):
            for url in _extension_urls(orjson.loads(path.read_bytes())):
                if source.structure(url) is not None:
                    roots.add(canonical_url(url))

    kept, missing = closure(sorted(roots), source, "required")
    target_dir.mkdir(parents=True, exist_ok=True)
    for old in target_dir.glob("*.json"):
        if old.name != "package.json":
            old.unlink()
    for url in sorted(kept):
        resource = strip(source.by_url[url])
        name = f"{resource['resourceType']}-{resource['id']}.json"
        (target_dir / name).write_bytes(orjson.dumps(resource))
    print(f"kept {len(kept)} of {len(source)} definitions; {len(missing)} needs unmet:")
    for need in sorted({(n.url, n.reason) for n in missing}):
        print("  ", *need)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
