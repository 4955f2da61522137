"""The shipped data files: the access matrix and the resource classes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from gateway.policy import ResourceClasses, parse_matrix, parse_resource_classes
from gateway.policy.classes import ClassMapError
from gateway.policy.matrix import AccessMatrix, MatrixError

PROFILES = Path(__file__).resolve().parents[3] / "profiles"
# The 148 codes of CodeSystem-resource-types.json, hl7.fhir.r4.core 4.0.1 (copied here).
R4_TYPES = json.loads((Path(__file__).parent / "r4-resource-types.json").read_text())
CLINICAL = ("10", "11", "42", "43", "44", "45", "52", "90")

# (profession, role, class) -> (read, write): the facts of DOMAIN.md §3.5 and our choices.
EXPECTED = [
    *[(("10", None, c), (True, c not in ("43", "90"))) for c in CLINICAL],
    (("21", None, "10"), (False, False)),
    (("21", None, "42"), (True, False)),
    (("21", None, "43"), (True, True)),
    (("21", None, "11"), (True, True)),
    (("40", None, "10"), (True, True)),
    (("40", None, "44"), (False, False)),
    (("60", None, "43"), (False, False)),
    (("60", "330", "43"), (True, False)),
    (("60", "330", "44"), (True, True)),
    (("60", None, "44"), (True, True)),
    (("60", None, "90"), (False, False)),
    (("70", None, "11"), (False, False)),
    (("system", None, "44"), (True, True)),
    (("system", None, "90"), (False, False)),
]


@pytest.mark.parametrize(("key", "cell"), EXPECTED, ids=lambda v: str(v))
def test_matrix_cells(
    matrix: AccessMatrix, key: tuple[str, str | None, str], cell: tuple[bool, bool]
) -> None:
    profession, role, klass = key
    found = matrix.cell(profession, klass, role=role)
    assert found is not None
    assert (found.read, found.write) == cell
    assert found.why.startswith(("source: ", "choice: "))


def test_physicians_see_every_class(matrix: AccessMatrix) -> None:
    row = matrix.rows["10"]
    assert all(row.cells[c].read for c in matrix.classes)


def test_professionals_other_than_physicians_see_less(matrix: AccessMatrix) -> None:
    physician = {c for c, cell in matrix.rows["10"].cells.items() if cell.read}
    for code in ("21", "60", "69", "70"):
        seen = {c for c, cell in matrix.rows[code].cells.items() if cell.read}
        assert seen < physician, code


def test_nobody_writes_patient_documents(matrix: AccessMatrix) -> None:
    assert not any(row.cells["90"].write for row in matrix.rows.values())


def test_specialty_overrides_and_unknown_row(matrix: AccessMatrix) -> None:
    data = yaml.safe_load((PROFILES / "access-matrix.yaml").read_text(encoding="utf-8"))
    data["professions"]["10"]["specialties"] = {
        "SM26": {"cells": {"43": {"read": False, "write": False, "choice": "test"}}}
    }
    patched = parse_matrix(data)
    assert not patched.cell("10", "43", specialty="SM26").read  # type: ignore[union-attr]
    assert patched.cell("10", "43").read  # type: ignore[union-attr]
    assert matrix.cell("99", "10") is None
    assert matrix.cell(None, "10") is None


def _matrix_doc() -> dict[str, Any]:
    cell = {"read": True, "write": False, "source": "s"}
    return {"classes": {"10": "CR"}, "professions": {"10": {"cells": {"10": dict(cell)}}}}


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d.pop("classes"), "classes"),
        (lambda d: d["professions"]["10"]["cells"].pop("10"), "no cell for classes"),
        (lambda d: d["professions"]["10"]["cells"]["10"].pop("source"), "source' or 'choice"),
        (lambda d: d["professions"]["10"]["cells"]["10"].update(choice="c"), "exactly one"),
        (lambda d: d["professions"]["10"]["cells"]["10"].update(read="yes"), "booleans"),
        (lambda d: d["professions"]["10"]["cells"].update({"99": {}}), "unknown class"),
        (lambda d: d["professions"]["10"]["cells"]["10"].update(other=1), "unknown keys"),
        (lambda d: d["professions"]["10"].update(deny_types=[{"code": "x"}]), "deny_types"),
        (lambda d: d["professions"]["10"].update(roles={"330": {}}), "cells"),
        (lambda d: d.update(professions=[]), "professions"),
    ],
)
def test_matrix_errors_name_the_fault(mutate: Any, message: str) -> None:
    doc = _matrix_doc()
    mutate(doc)
    with pytest.raises(MatrixError, match=message):
        parse_matrix(doc)


def test_every_r4_type_has_a_class(classes: ResourceClasses) -> None:
    assert len(R4_TYPES) == 148
    assert set(classes.types) == set(R4_TYPES)


def test_domain_examples(classes: ResourceClasses) -> None:
    assert classes.class_of({"resourceType": "MedicationDispense"}) == "43"
    assert classes.class_of({"resourceType": "Condition"}) == "11"
    assert classes.class_of({"resourceType": "Observation"}) == "10"
    assert classes.class_of({"resourceType": "Group"}) == "roster"
    assert classes.class_of({"resourceType": "Binary"}) is None  # judged by its DocumentRef
    assert classes.class_of({"resourceType": "Nope"}) is None
    assert classes.class_of({}) is None


def _doc(*codings: tuple[str | None, str], rtype: str = "DocumentReference") -> dict[str, Any]:
    coding = [{"system": s, "code": c} if s else {"code": c} for s, c in codings]
    return {"resourceType": rtype, "type": {"coding": coding}}


@pytest.mark.parametrize(
    ("resource", "klass"),
    [
        (_doc(("http://loinc.org", "11488-4")), "10"),
        (_doc(("http://loinc.org", "60591-5"), rtype="Composition"), "11"),
        (_doc(("http://loinc.org", "57833-6")), "42"),
        (_doc(("http://loinc.org", "60593-1")), "43"),
        (_doc(("http://loinc.org", "80788-3")), "44"),
        (_doc(("http://loinc.org", "80565-5")), "45"),
        (_doc(("http://loinc.org", "87273-9")), "52"),
        (_doc((None, "patient-upload")), "90"),
        (_doc(("http://other.org", "11488-4")), None),  # a code of another system
        (_doc(("http://loinc.org", "99999-9")), None),  # unmapped: refused to everybody
        (_doc(("http://loinc.org", "11488-4"), ("http://loinc.org", "57833-6")), None),
        (_doc(("http://loinc.org", "11488-4"), ("http://loinc.org", "11490-0")), "10"),
        ({"resourceType": "DocumentReference"}, None),
        (
            {
                "resourceType": "Bundle",
                "type": "document",
                "entry": [{"resource": _doc(("http://loinc.org", "60591-5"), rtype="Composition")}],
            },
            "11",
        ),
        ({"resourceType": "Bundle", "type": "searchset"}, "excluded"),
        ({"resourceType": "Bundle", "type": "document", "entry": []}, None),
    ],
)
def test_document_classes(
    classes: ResourceClasses, resource: dict[str, Any], klass: str | None
) -> None:
    assert classes.class_of(resource) == klass


def test_class_file_errors(matrix: AccessMatrix) -> None:
    known = frozenset(matrix.classes)
    with pytest.raises(ClassMapError, match="unknown class"):
        parse_resource_classes({"types": {"X": {"class": "77", "choice": "c"}}}, {}, known)
    with pytest.raises(ClassMapError, match="source"):
        parse_resource_classes({"types": {"X": {"class": "10"}}}, {}, known)
    with pytest.raises(ClassMapError, match="document type"):
        parse_resource_classes({"types": {}}, {"c": "77"}, known)
