"""Which top-level elements ``_summary`` keeps, per resource type.

``_summary=true`` returns the elements marked ``isSummary`` in the base
StructureDefinition; ``_summary=text`` returns ``text``, ``id``, ``meta`` and the
mandatory elements (``min >= 1``); ``_elements`` returns the requested elements plus the
mandatory ones (https://hl7.org/fhir/R4/search.html#summary, #elements). The flags come
from the R4 core snapshots, reduced once to ``profiles/search-parameters/summary-elements.json``
by :func:`build_summary_map` (``python -m gateway.search.summary PACKAGE_DIR OUT_JSON``).

Only top-level elements are filtered: a summary element keeps all its children.
Choice elements are named with ``[x]`` (``effective[x]``) and match every JSON key of
the choice (``effectiveDateTime``, ``effectivePeriod``…).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

FILE = "summary-elements.json"


@dataclass(frozen=True, slots=True)
class TypeSummary:
    """The summary and mandatory top-level element names of one type (``[x]`` kept),
    and the names of its choice elements (without ``[x]``)."""

    summary: frozenset[str]
    mandatory: frozenset[str]
    choices: frozenset[str] = frozenset()


class SummaryElements:
    """Lookups in the summary map; immutable."""

    __slots__ = ("_types",)

    def __init__(self, types: Mapping[str, TypeSummary]) -> None:
        self._types = dict(types)

    @classmethod
    def load(cls, path: Path) -> SummaryElements:
        data = json.loads(path.read_text(encoding="utf-8"))
        return cls(
            {
                rtype: TypeSummary(
                    frozenset(v["summary"]), frozenset(v["mandatory"]), frozenset(v["choices"])
                )
                for rtype, v in data["types"].items()
            }
        )

    def of(self, resource_type: str) -> TypeSummary:
        """The type's elements; an unknown type keeps only ``id`` and ``meta``."""
        return self._types.get(resource_type, TypeSummary(frozenset({"id", "meta"}), frozenset()))


def build_summary_map(structure_definitions: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """Summary and mandatory top-level elements of every concrete resource type."""
    types: dict[str, dict[str, list[str]]] = {}
    for sd in structure_definitions:
        if sd.get("resourceType") != "StructureDefinition" or sd.get("kind") != "resource":
            continue
        if sd.get("abstract") or sd.get("derivation") == "constraint":
            continue
        summary: list[str] = []
        mandatory: list[str] = []
        choices: list[str] = []
        for element in sd.get("snapshot", {}).get("element", []):
            path: str = element["path"]
            if path.count(".") != 1:
                continue
            name = path.split(".", 1)[1]
            if element.get("isSummary"):
                summary.append(name)
            if int(element.get("min", 0)) >= 1:
                mandatory.append(name)
            if name.endswith("[x]"):
                choices.append(name[:-3])
        types[sd["type"]] = {"summary": summary, "mandatory": mandatory, "choices": choices}
    return {"types": dict(sorted(types.items()))}


def _main(argv: list[str]) -> int:  # pragma: no cover - maintenance entry point
    package, out = Path(argv[0]), Path(argv[1])
    sds = (
        json.loads(p.read_text(encoding="utf-8"))
        for p in sorted(package.glob("StructureDefinition-*.json"))
    )
    data = {"source": "hl7.fhir.r4.core 4.0.1 StructureDefinition snapshots"}
    data |= build_summary_map(sds)
    out.write_text(json.dumps(data, indent=0, ensure_ascii=False) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(_main(sys.argv[1:]))
