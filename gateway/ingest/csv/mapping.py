"""CSV mappings: the YAML files of ``profiles/mappings``, one per export kind, as data.

A mapping names the *logical fields* a kind's builder reads (``resident_id``, ``date``,
``value``…) and, for each, the column headers that carry it (``aliases``), its
``type`` (``text``, ``ins``, ``date``, ``time``, ``code``, ``professional``), whether it is
``required``, the FHIRPath ``target`` it feeds (used to locate issues), and the code maps
of ``code`` fields: inline ``values`` (code → labels) or a ``conceptmap`` by name.
``one_of`` lists groups of fields of which each row needs at least one. The ``vitals``
kind also has a ``wide`` section: measurement columns are recognised through a ConceptMap.

Headers and aliases are compared folded (:func:`~gateway.normalise.text.fold_label`:
case, accents, spacing and punctuation ignored); a unit in parentheses or brackets after
a header (``Poids (kg)``) is set apart. Loading validates the files strictly: a typo in
a mapping fails at start-up, not on the first row.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from gateway.normalise.terminology import default_profiles_dir
from gateway.normalise.text import fold_label

TYPES = frozenset({"text", "ins", "date", "time", "code", "professional"})
_COLUMN_KEYS = frozenset(
    {"aliases", "type", "required", "target", "values", "conceptmap", "default", "profession"}
)
_TOP_KEYS = frozenset({"kind", "title", "resource", "description", "one_of", "columns", "wide"})
_UNIT = re.compile(r"^(?P<name>.*?)\s*[(\[](?P<unit>[^)\]]*)[)\]]\s*$")


def split_header(header: str) -> tuple[str, str | None]:
    """A header's folded name and the unit written after it in parentheses, if any."""
    text = header.strip().lstrip("\ufeff")
    match = _UNIT.match(text)
    if match and match["name"]:
        return fold_label(match["name"]), match["unit"].strip() or None
    return fold_label(text), None


@dataclass(frozen=True, slots=True)
class Column:
    """One logical field of a kind and how to find and read it."""

    name: str
    aliases: frozenset[str]  # folded
    type: str
    target: str
    required: bool = False
    values: Mapping[str, str] = field(default_factory=dict)  # folded label -> code
    conceptmap: str | None = None
    default: str | None = None
    profession: str | None = None


@dataclass(frozen=True, slots=True)
class WideLayout:
    """Measurement columns recognised through a ConceptMap (``vitals``)."""

    conceptmap: str
    default_units: Mapping[str, str]  # LOINC code -> UCUM unit assumed


@dataclass(frozen=True, slots=True)
class CsvMapping:
    kind: str
    title: str
    resource: str
    columns: tuple[Column, ...]
    one_of: tuple[tuple[str, ...], ...] = ()
    wide: WideLayout | None = None

    def column(self, name: str) -> Column:
        return next(c for c in self.columns if c.name == name)

    def find(self, folded_header: str) -> Column | None:
        """The field a (folded) header carries, if any."""
        return next((c for c in self.columns if folded_header in c.aliases), None)


def _column(kind: str, name: str, spec: Any) -> Column:
    where = f"mapping {kind!r}, column {name!r}"
    if not isinstance(spec, dict):
        raise ValueError(f"{where}: expected a mapping")
    unknown = set(spec) - _COLUMN_KEYS
    if unknown:
        raise ValueError(f"{where}: unknown keys {sorted(unknown)}")
    kind_of = spec.get("type", "text")
    if kind_of not in TYPES:
        raise ValueError(f"{where}: unknown type {kind_of!r}")
    aliases = spec.get("aliases") or []
    if not aliases or not all(isinstance(a, str) for a in aliases):
        raise ValueError(f"{where}: aliases must be a non-empty list of strings")
    values: dict[str, str] = {}
    for code, labels in (spec.get("values") or {}).items():
        for label in [code, *labels]:
            values[fold_label(str(label))] = str(code)
    return Column(
        name=name,
        aliases=frozenset(fold_label(a) for a in aliases),
        type=kind_of,
        target=str(spec.get("target", "")),
        required=bool(spec.get("required", False)),
        values=values,
        conceptmap=spec.get("conceptmap"),
        default=spec.get("default"),
        profession=str(spec["profession"]) if "profession" in spec else None,
    )


def parse_mapping(document: Any) -> CsvMapping:
    """Validate one YAML document into a :class:`CsvMapping`; raises ValueError."""
    if not isinstance(document, dict):
        raise ValueError("a mapping file must hold a mapping")
    unknown = set(document) - _TOP_KEYS
    if unknown:
        raise ValueError(f"unknown top-level keys {sorted(unknown)}")
    kind = str(document["kind"])
    columns = tuple(_column(kind, n, s) for n, s in (document.get("columns") or {}).items())
    names = {c.name for c in columns}
    seen: dict[str, str] = {}
    for column in columns:
        for alias in column.aliases:
            if alias in seen:
                raise ValueError(
                    f"mapping {kind!r}: alias {alias!r} in {seen[alias]} and {column.name}"
                )
            seen[alias] = column.name
    one_of = tuple(tuple(group) for group in document.get("one_of") or [])
    for group in one_of:
        if not set(group) <= names:
            raise ValueError(f"mapping {kind!r}: one_of names unknown fields {group}")
    wide = None
    if document.get("wide"):
        spec = document["wide"]
        wide = WideLayout(str(spec["conceptmap"]), dict(spec.get("default_units") or {}))
    return CsvMapping(
        kind=kind,
        title=str(document.get("title", kind)),
        resource=str(document["resource"]),
        columns=columns,
        one_of=one_of,
        wide=wide,
    )


def load_mappings(directory: Path | None = None) -> dict[str, CsvMapping]:
    """Every ``*.yaml`` mapping in ``directory`` (default ``profiles/mappings``), by kind."""
    root = directory or default_profiles_dir() / "mappings"
    out: dict[str, CsvMapping] = {}
    for path in sorted(root.glob("*.yaml")):
        mapping = parse_mapping(yaml.safe_load(path.read_text(encoding="utf-8")))
        if mapping.kind in out:
            raise ValueError(f"two mappings for kind {mapping.kind!r}")
        out[mapping.kind] = mapping
    return out
