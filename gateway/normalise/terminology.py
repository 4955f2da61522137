"""The ConceptMaps of ``profiles/conceptmaps``, indexed for translation.

Each file is a FHIR R4 ConceptMap (https://hl7.org/fhir/R4/conceptmap.html). A
translation looks a source code up in one group: first exactly, then by its folded
label (:func:`~gateway.normalise.text.fold_label`: case, accents and separators
ignored), so that ``"Glycémie"``, ``"GLYCEMIE"`` and ``"glycemie"`` all match one
element. Targets whose ``equivalence`` is ``unmatched`` or ``disjoint`` are ignored.

Loading reads files; it happens once, when the application is built
(:meth:`Terminology.load`), never at import time.
"""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from gateway.normalise.text import fold_label

#: ConceptMap names (``ConceptMap.name``) the normalisers use.
VITAL_SIGNS = "LocalVitalSignToLoinc"
UNITS = "UnitLabelToUcum"
GENDER = "GenderToAdministrativeGender"
V2_CODING_SYSTEMS = "V2CodingSystemToUri"
MEDICATION_SYSTEMS = "MedicationCodeSystemToUri"
ROUTES = "RouteToEdqm"
DOCUMENT_TYPES = "V2DocumentTypeToLoinc"
DOCUMENT_CLASSES = "gw_document_type_to_class"  # profiles/gateway: shared with the access rules

_IGNORED = frozenset({"unmatched", "disjoint"})


@lru_cache(maxsize=4096)
def fold_unit(text: str) -> str:
    """A matching key for a unit label: compatibility-normalised, case-folded, no spaces.

    Gentler than :func:`fold_label`: ``/`` and ``.`` carry meaning in units (``/min`` is
    not ``min``).
    """
    return "".join(unicodedata.normalize("NFKC", text).casefold().split())


_MAX_ANSWERS = 10_000

#: How each ConceptMap folds its source codes; labels by default.
_FOLDS: dict[str, Callable[[str], str]] = {UNITS: fold_unit}


def default_profiles_dir() -> Path:
    """``profiles/`` at the root of the source tree."""
    return Path(__file__).resolve().parents[2] / "profiles"


@dataclass(frozen=True, slots=True)
class Coding:
    """A FHIR Coding."""

    system: str
    code: str
    display: str | None = None

    def to_fhir(self) -> dict[str, str]:
        out = {"system": self.system, "code": self.code}
        if self.display:
            out["display"] = self.display
        return out


@dataclass(frozen=True, slots=True)
class ConceptMapIndex:
    """One ConceptMap, indexed by group source system, then by code (exact and folded)."""

    url: str
    name: str
    exact: Mapping[str, Mapping[str, Coding]]
    folded: Mapping[str, Mapping[str, Coding]]
    fold: Callable[[str], str] = fold_label

    def translate(self, code: str, source: str | None = None) -> Coding | None:
        """The target of ``code`` in the group for ``source`` (or in any group)."""
        groups = [source] if source is not None else list(self.exact)
        for group in groups:
            hit = self.exact.get(group, {}).get(code)
            if hit is not None:
                return hit
        key = self.fold(code)
        for group in groups:
            hit = self.folded.get(group, {}).get(key)
            if hit is not None:
                return hit
        return None

    @classmethod
    def from_fhir(cls, resource: Mapping[str, Any]) -> ConceptMapIndex:
        if resource.get("resourceType") != "ConceptMap":
            raise ValueError("not a ConceptMap")
        fold = _FOLDS.get(str(resource.get("name")), fold_label)
        exact: dict[str, dict[str, Coding]] = {}
        folded: dict[str, dict[str, Coding]] = {}
        for group in resource.get("group", []):
            source = str(group.get("source", ""))
            target_system = str(group["target"])
            ex = exact.setdefault(source, {})
            fo = folded.setdefault(source, {})
            for element in group.get("element", []):
                target = next(
                    (t for t in element.get("target", []) if t.get("equivalence") not in _IGNORED),
                    None,
                )
                if target is None:
                    continue
                coding = Coding(target_system, str(target["code"]), target.get("display"))
                code = str(element["code"])
                ex.setdefault(code, coding)
                fo.setdefault(fold(code), coding)
        return cls(str(resource["url"]), str(resource["name"]), exact, folded, fold)


class Terminology:
    """All ConceptMaps the normalisers use, by name. Immutable once built."""

    def __init__(self, maps: Mapping[str, ConceptMapIndex]) -> None:
        self._maps = dict(maps)
        # Answers by (map, code, source): an export repeats a few codes and units
        # thousands of times. Bounded, since codes come from senders.
        self._answers: dict[tuple[str, str, str | None], Coding | None] = {}

    @classmethod
    def load(cls, directory: Path | None = None) -> Terminology:
        """Read every ``*.json`` ConceptMap in ``directory`` (default ``profiles/conceptmaps``)."""
        root = directory or default_profiles_dir() / "conceptmaps"
        maps: dict[str, ConceptMapIndex] = {}
        shared = root.parent / "gateway" / "ConceptMap-gw-document-type-to-class.json"
        for path in [*sorted(root.glob("*.json")), *([shared] if shared.exists() else [])]:
            index = ConceptMapIndex.from_fhir(json.loads(path.read_text(encoding="utf-8")))
            if index.name in maps:
                raise ValueError(f"two ConceptMaps are named {index.name!r}")
            maps[index.name] = index
        return cls(maps)

    @property
    def names(self) -> frozenset[str]:
        return frozenset(self._maps)

    def concept_map(self, name: str) -> ConceptMapIndex:
        try:
            return self._maps[name]
        except KeyError:
            raise KeyError(f"no ConceptMap named {name!r} is loaded") from None

    def translate(self, name: str, code: str, source: str | None = None) -> Coding | None:
        """Translate ``code`` through the ConceptMap ``name``; ``None`` when unmapped."""
        key = (name, code, source)
        if key in self._answers:
            return self._answers[key]
        index = self._maps.get(name)
        if index is None or not code:
            return None
        answer = index.translate(code, source)
        if len(self._answers) < _MAX_ANSWERS:
            self._answers[key] = answer
        return answer
