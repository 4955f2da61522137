"""The element type map: which FHIR types each element of each R4 type can hold.

Index extraction compiles a search parameter's FHIRPath expression once, at load time,
into plain dictionary walks. To know that ``Patient.name`` holds ``HumanName`` values,
that ``Observation.value[x]`` appears in JSON as ``valueQuantity``, ``valueString``…,
or that ``Questionnaire.item.item`` repeats ``Questionnaire.item``, it needs the
element definitions of the R4 StructureDefinitions. The full snapshots weigh 21 MB,
so :func:`build_element_map` derives a compact map from them once (see
``profiles/search-parameters/README.md``) and :meth:`ElementTypes.load` reads it.

Map format (``element-types.json``)::

    {"resources": ["Account", ...],            # concrete resource types
     "elements": {"Patient.name": "HumanName",
                  "Observation.value[x]": "Quantity CodeableConcept string ...",
                  "Observation.component": "BackboneElement",
                  "Questionnaire.item.item": "#Questionnaire.item"}}

``extension`` and ``modifierExtension`` are left out: every element has them and the
compiler handles them generically. See https://hl7.org/fhir/R4/elementdefinition.html.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# Elements whose type is one of these are "inline": their children are addressed by path.
_INLINE = frozenset({"BackboneElement", "Element"})
_FHIRPATH_SYSTEM = "http://hl7.org/fhirpath/System."
_SYSTEM_TO_FHIR = {"String": "string", "Boolean": "boolean", "Integer": "integer"}
_SKIPPED = frozenset({"extension", "modifierExtension"})

PRIMITIVES = frozenset(
    {
        "base64Binary",
        "boolean",
        "canonical",
        "code",
        "date",
        "dateTime",
        "decimal",
        "id",
        "instant",
        "integer",
        "markdown",
        "oid",
        "positiveInt",
        "string",
        "time",
        "unsignedInt",
        "uri",
        "url",
        "uuid",
        "xhtml",
    }
)


def upper_first(name: str) -> str:
    return name[:1].upper() + name[1:]


def fhir_type_name(name: str) -> str:
    """The FHIR type for a type name as written in FHIRPath (``Boolean`` → ``boolean``)."""
    lowered = name[:1].lower() + name[1:]
    if lowered in PRIMITIVES:
        return lowered
    return name


@dataclass(frozen=True, slots=True)
class Child:
    """One way to reach a child element: its JSON key, its FHIR type and its context.

    ``context`` is where the child's own children are looked up: the element path for
    backbone elements (``Observation.component``), the type name otherwise.
    """

    key: str
    type: str
    context: str


class ElementTypes:
    """Lookups in the element type map. Immutable once built."""

    __slots__ = ("_elements", "_names", "resources")

    def __init__(self, resources: Iterable[str], elements: dict[str, tuple[str, ...]]) -> None:
        self.resources: frozenset[str] = frozenset(resources)
        self._elements = elements
        names: dict[str, set[str]] = {}
        for path in elements:
            context, _, name = path.rpartition(".")
            names.setdefault(context, set()).add(name.removesuffix("[x]"))
        self._names = {k: frozenset(v) for k, v in names.items()}

    @classmethod
    def load(cls, path: Path) -> ElementTypes:
        data = json.loads(path.read_text(encoding="utf-8"))
        return cls.from_json(data)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ElementTypes:
        elements = {k: tuple(str(v).split()) for k, v in data["elements"].items()}
        return cls(data["resources"], elements)

    def is_resource(self, name: str) -> bool:
        return name in self.resources

    def has_element(self, context: str, name: str) -> bool:
        return f"{context}.{name}" in self._elements or f"{context}.{name}[x]" in self._elements

    def children(self, context: str, name: str) -> list[Child] | None:
        """The ways ``name`` appears under ``context``; several for a choice element.

        ``None`` when ``context`` has no such element.
        """
        path = f"{context}.{name}"
        types = self._elements.get(path)
        if types is not None:
            return [self._child(path, name, types[0], choice=False)]
        types = self._elements.get(path + "[x]")
        if types is None:
            return None
        return [self._child(path + "[x]", name, t, choice=True) for t in types]

    def _child(self, path: str, name: str, type_: str, *, choice: bool) -> Child:
        key = name + upper_first(type_) if choice else name
        if type_.startswith("#"):
            target = type_[1:]
            return Child(key, "BackboneElement", target)
        if type_ in _INLINE:
            return Child(key, type_, path)
        return Child(key, type_, type_)

    def element_names(self, context: str) -> frozenset[str]:
        """Child element names of a type or backbone path (choice elements without ``[x]``)."""
        return self._names.get(context, frozenset())


def build_element_map(structure_definitions: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """Derive the compact map from R4 StructureDefinitions (snapshots).

    Only base definitions count (``derivation`` absent or ``specialization``); profiles
    and logical models are skipped.
    """
    resources: list[str] = []
    elements: dict[str, str] = {}
    for sd in structure_definitions:
        if sd.get("resourceType") != "StructureDefinition":
            continue
        if sd.get("derivation") == "constraint" or sd.get("kind") == "logical":
            continue
        if sd.get("kind") == "resource" and not sd.get("abstract"):
            resources.append(sd["type"])
        for element in sd.get("snapshot", {}).get("element", []):
            path: str = element["path"]
            if "." not in path or path.rsplit(".", 1)[1] in _SKIPPED:
                continue
            if "contentReference" in element:
                elements[path] = element["contentReference"]
                continue
            codes = [_type_code(t["code"]) for t in element.get("type", [])]
            if codes:
                elements[path] = " ".join(codes)
    return {"resources": sorted(resources), "elements": dict(sorted(elements.items()))}


def _type_code(code: str) -> str:
    if code.startswith(_FHIRPATH_SYSTEM):
        return _SYSTEM_TO_FHIR.get(code[len(_FHIRPATH_SYSTEM) :], "string")
    return code


def _main(argv: list[str]) -> int:  # pragma: no cover - maintenance entry point
    """``python -m gateway.search.elements PACKAGE_DIR OUT_JSON``."""
    package, out = Path(argv[0]), Path(argv[1])
    sds = (
        json.loads(p.read_text(encoding="utf-8"))
        for p in sorted(package.glob("StructureDefinition-*.json"))
    )
    data = build_element_map(sds)
    data = {"source": "hl7.fhir.r4.core 4.0.1 StructureDefinition snapshots", **data}
    out.write_text(json.dumps(data, indent=0, ensure_ascii=False) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(_main(sys.argv[1:]))
