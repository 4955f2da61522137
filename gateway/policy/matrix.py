"""The access matrix: profession (TRE_G15) x document class (TRE_A03) -> read / write.

Kept as data in ``profiles/access-matrix.yaml`` (DOMAIN.md §3.5). Each profession row must
give a cell for *every* class, and each cell must say why, with ``source:`` (a published
fact) or ``choice:`` (our conservative default). A row may be refined by ``specialties``
(TRE_R38) and ``roles`` (TRE_R85); the most specific cell wins (role, then specialty, then
profession). ``deny_types`` removes single document types from a row. The row ``system`` is
used for EHPAD systems (caller kind ``system``).

:func:`parse_matrix` is pure and raises :class:`MatrixError` naming the faulty path;
:func:`load_matrix` reads the YAML file.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

SYSTEM_ROW = "system"


class MatrixError(ValueError):
    """The matrix file is malformed; the message names the path of the fault."""


@dataclass(frozen=True, slots=True)
class Cell:
    read: bool
    write: bool
    why: str


@dataclass(frozen=True, slots=True)
class Row:
    name: str
    cells: Mapping[str, Cell]
    deny_types: frozenset[str] = frozenset()
    specialties: Mapping[str, Mapping[str, Cell]] = field(default_factory=dict)
    roles: Mapping[str, Mapping[str, Cell]] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class AccessMatrix:
    classes: Mapping[str, str]
    rows: Mapping[str, Row]

    def has_row(self, profession: str | None) -> bool:
        return profession is not None and profession in self.rows

    def cell(
        self,
        profession: str | None,
        document_class: str,
        *,
        specialty: str | None = None,
        role: str | None = None,
    ) -> Cell | None:
        """The most specific cell, or None when the matrix says nothing (deny)."""
        row = self.rows.get(profession) if profession is not None else None
        if row is None:
            return None
        if role is not None and document_class in row.roles.get(role, {}):
            return row.roles[role][document_class]
        if specialty is not None and document_class in row.specialties.get(specialty, {}):
            return row.specialties[specialty][document_class]
        return row.cells.get(document_class)

    def type_denied(self, profession: str | None, document_type: str | None) -> bool:
        row = self.rows.get(profession) if profession is not None else None
        return row is not None and document_type is not None and document_type in row.deny_types


def _why(value: Mapping[str, Any], where: str) -> str:
    given = [k for k in ("source", "choice") if k in value]
    text = value[given[0]] if len(given) == 1 else None
    if not isinstance(text, str) or not text.strip():
        raise MatrixError(f"{where}: needs exactly one non-empty 'source' or 'choice'")
    return f"{given[0]}: {text.strip()}"


def _cells(data: object, classes: Mapping[str, str], where: str) -> dict[str, Cell]:
    if not isinstance(data, Mapping):
        raise MatrixError(f"{where}: expected a mapping of class -> cell")
    out: dict[str, Cell] = {}
    for key, value in data.items():
        klass = str(key)
        at = f"{where}.{klass}"
        if klass not in classes:
            raise MatrixError(f"{at}: unknown class")
        if not isinstance(value, Mapping):
            raise MatrixError(f"{at}: expected a mapping with read, write and source/choice")
        unknown = set(value) - {"read", "write", "source", "choice"}
        if unknown:
            raise MatrixError(f"{at}: unknown keys {sorted(unknown)}")
        read, write = value.get("read"), value.get("write")
        if not isinstance(read, bool) or not isinstance(write, bool):
            raise MatrixError(f"{at}: read and write must be booleans")
        out[klass] = Cell(read=read, write=write, why=_why(value, at))
    return out


def _overrides(
    data: object, classes: Mapping[str, str], where: str
) -> dict[str, Mapping[str, Cell]]:
    if data is None:
        return {}
    if not isinstance(data, Mapping):
        raise MatrixError(f"{where}: expected a mapping of code -> {{name, cells}}")
    out: dict[str, Mapping[str, Cell]] = {}
    for code, spec in data.items():
        at = f"{where}.{code}"
        if not isinstance(spec, Mapping) or "cells" not in spec:
            raise MatrixError(f"{at}: expected a mapping with 'cells'")
        out[str(code)] = _cells(spec["cells"], classes, f"{at}.cells")
    return out


def _deny_types(data: object, where: str) -> frozenset[str]:
    if data is None:
        return frozenset()
    if not isinstance(data, list):
        raise MatrixError(f"{where}: expected a list of {{code, source|choice}}")
    codes: set[str] = set()
    for i, item in enumerate(data):
        at = f"{where}[{i}]"
        if not isinstance(item, Mapping) or not isinstance(item.get("code"), str):
            raise MatrixError(f"{at}: expected a mapping with a string 'code'")
        _why(item, at)
        codes.add(item["code"])
    return frozenset(codes)


def parse_matrix(data: object) -> AccessMatrix:
    """Build the matrix from the parsed YAML document; every row must be complete."""
    if not isinstance(data, Mapping):
        raise MatrixError("matrix: expected a mapping")
    raw_classes = data.get("classes")
    if not isinstance(raw_classes, Mapping) or not raw_classes:
        raise MatrixError("classes: expected a non-empty mapping of code -> name")
    classes = {str(k): str(v) for k, v in raw_classes.items()}
    raw_rows = data.get("professions")
    if not isinstance(raw_rows, Mapping) or not raw_rows:
        raise MatrixError("professions: expected a non-empty mapping")
    rows: dict[str, Row] = {}
    for code, spec in raw_rows.items():
        at = f"professions.{code}"
        if not isinstance(spec, Mapping):
            raise MatrixError(f"{at}: expected a mapping")
        cells = _cells(spec.get("cells"), classes, f"{at}.cells")
        missing = sorted(set(classes) - set(cells))
        if missing:
            raise MatrixError(f"{at}.cells: no cell for classes {missing}")
        rows[str(code)] = Row(
            name=str(spec.get("name", code)),
            cells=cells,
            deny_types=_deny_types(spec.get("deny_types"), f"{at}.deny_types"),
            specialties=_overrides(spec.get("specialties"), classes, f"{at}.specialties"),
            roles=_overrides(spec.get("roles"), classes, f"{at}.roles"),
        )
    return AccessMatrix(classes=classes, rows=rows)


def load_matrix(path: Path) -> AccessMatrix:
    """Read and parse ``profiles/access-matrix.yaml`` (the only I/O of this module)."""
    with path.open(encoding="utf-8") as handle:
        return parse_matrix(yaml.safe_load(handle))
