"""Index extraction of token and string parameters, table-driven (R4 search §3.1.1.5)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest

from gateway.search import SearchRegistry, extract
from gateway.search.rows import (
    DateRow,
    IndexRows,
    NumberRow,
    QuantityRow,
    ReferenceRow,
    StringRow,
    TokenRow,
    UriRow,
)

UCUM = "http://unitsofmeasure.org"


def us(iso: str) -> int:
    dt = datetime.fromisoformat(iso)
    return int(dt.timestamp()) * 1_000_000 + dt.microsecond


Row = TokenRow | StringRow | DateRow | ReferenceRow | QuantityRow | NumberRow | UriRow


def all_rows(rows: IndexRows) -> list[Row]:
    return [
        *rows.tokens,
        *rows.strings,
        *rows.dates,
        *rows.references,
        *rows.quantities,
        *rows.numbers,
        *rows.uris,
    ]


def rows_for(registry: SearchRegistry, resource: dict[str, Any], param: str) -> list[Row]:
    return [r for r in all_rows(extract(resource, registry)) if r.param == param]


# --- token ------------------------------------------------------------------------------

TOKEN_CASES: list[tuple[str, dict[str, Any], str, list[Row]]] = [
    (
        "code",
        {"resourceType": "Patient", "gender": "female"},
        "gender",
        [TokenRow("gender", None, "female")],
    ),
    (
        "boolean true and false",
        {"resourceType": "Patient", "active": False},
        "active",
        [TokenRow("active", None, "false")],
    ),
    (
        "CodeableConcept: each coding, display for :text, text-only row for .text",
        {
            "resourceType": "Observation",
            "code": {
                "coding": [
                    {"system": "http://loinc.org", "code": "8302-2", "display": "Body Height"},
                    {"system": "http://snomed.info/sct", "code": "50373000"},
                ],
                "text": "Taille",
            },
        },
        "code",
        [
            TokenRow("code", "http://loinc.org", "8302-2", "body height"),
            # No display: the concept's text serves :text for this coding.
            TokenRow("code", "http://snomed.info/sct", "50373000", "taille"),
        ],
    ),
    (
        "CodeableConcept with text only: a text-only row for :text",
        {"resourceType": "Observation", "code": {"text": "Poids à la naissance"}},
        "code",
        [TokenRow("code", None, None, "poids a la naissance")],
    ),
    (
        "Coding (meta.tag)",
        {"resourceType": "Observation", "meta": {"tag": [{"system": "urn:s", "code": "t"}]}},
        "_tag",
        [TokenRow("_tag", "urn:s", "t")],
    ),
    (
        "Identifier with type: the :of-type row",
        {
            "resourceType": "Patient",
            "identifier": [
                {
                    "system": "urn:oid:1.2.250.1.213.1.4.8",
                    "value": "1234567890123",
                    "type": {
                        "coding": [
                            {
                                "system": "http://terminology.hl7.org/CodeSystem/v2-0203",
                                "code": "NH",
                            }
                        ],
                        "text": "NIR",
                    },
                },
                {"value": "local-1"},
            ],
        },
        "identifier",
        [
            TokenRow("identifier", "urn:oid:1.2.250.1.213.1.4.8", "1234567890123", "nir"),
            TokenRow("identifier", None, "local-1"),
        ],
    ),
    (
        "ContactPoint filtered by system",
        {
            "resourceType": "Patient",
            "telecom": [
                {"system": "phone", "value": "0102030405"},
                {"system": "email", "value": "a@b.fr"},
            ],
        },
        "email",
        [TokenRow("email", None, "a@b.fr")],
    ),
    ("missing element: no row", {"resourceType": "Patient"}, "gender", []),
    (
        "_id from Resource.id",
        {"resourceType": "Encounter", "id": "e1"},
        "_id",
        [TokenRow("_id", None, "e1")],
    ),
]


@pytest.mark.parametrize(
    ("label", "resource", "param", "expected"), TOKEN_CASES, ids=[c[0] for c in TOKEN_CASES]
)
def test_token_rows(
    registry: SearchRegistry, label: str, resource: dict[str, Any], param: str, expected: list[Row]
) -> None:
    assert rows_for(registry, resource, param) == expected


def test_identifier_of_type_rows(registry: SearchRegistry) -> None:
    resource = TOKEN_CASES[5][1]
    assert rows_for(registry, resource, "identifier:of-type") == [
        TokenRow(
            "identifier:of-type",
            "http://terminology.hl7.org/CodeSystem/v2-0203",
            "NH|1234567890123",
        )
    ]


def test_deceased_token_hand_compiled(registry: SearchRegistry) -> None:
    def deceased(extra: dict[str, Any]) -> list[Row]:
        return rows_for(registry, {"resourceType": "Patient", **extra}, "deceased")

    assert deceased({}) == [TokenRow("deceased", None, "false")]
    assert deceased({"deceasedBoolean": False}) == [TokenRow("deceased", None, "false")]
    assert deceased({"deceasedBoolean": True}) == [TokenRow("deceased", None, "true")]
    assert deceased({"deceasedDateTime": "2020"}) == [TokenRow("deceased", None, "true")]


# --- string -----------------------------------------------------------------------------


def test_human_name_parts_and_whole_name(registry: SearchRegistry) -> None:
    patient = {
        "resourceType": "Patient",
        "name": [{"family": "Lefèvre", "given": ["Hélène", "Marie"], "prefix": ["Mme"]}],
    }
    assert rows_for(registry, patient, "name") == [
        StringRow("name", "lefevre", "Lefèvre"),
        StringRow("name", "helene", "Hélène"),
        StringRow("name", "marie", "Marie"),
        StringRow("name", "mme", "Mme"),
        StringRow("name", "mme helene marie lefevre", "Mme Hélène Marie Lefèvre"),
    ]
    assert rows_for(registry, patient, "family") == [StringRow("family", "lefevre", "Lefèvre")]
    assert [r.exact for r in rows_for(registry, patient, "given")] == ["Hélène", "Marie"]  # type: ignore[union-attr]


def test_name_text_is_the_whole_name(registry: SearchRegistry) -> None:
    patient = {"resourceType": "Patient", "name": [{"text": "Jean DUPONT", "family": "Dupont"}]}
    assert {r.exact for r in rows_for(registry, patient, "name")} == {"Dupont", "Jean DUPONT"}  # type: ignore[union-attr]


def test_address_all_parts(registry: SearchRegistry) -> None:
    patient = {
        "resourceType": "Patient",
        "address": [
            {
                "line": ["12 rue de l'Église", "Bât. B"],
                "city": "Saint-Étienne",
                "postalCode": "42000",
                "country": "FR",
            }
        ],
    }
    assert [(r.norm, r.exact) for r in rows_for(registry, patient, "address")] == [  # type: ignore[union-attr]
        ("12 rue de l'eglise", "12 rue de l'Église"),
        ("bat. b", "Bât. B"),
        ("saint-etienne", "Saint-Étienne"),
        ("42000", "42000"),
        ("fr", "FR"),
    ]
    assert rows_for(registry, patient, "address-city") == [
        StringRow("address-city", "saint-etienne", "Saint-Étienne")
    ]


@pytest.mark.parametrize(
    ("text", "norm"),
    [
        ("Straße", "strasse"),
        ("ÉLODIE", "elodie"),
        ("ﬁlle", "fille"),  # ligature
        ("Ｍａｒｉｅ", "marie"),  # full width
        ("  Jean \t Pierre ", "jean pierre"),
        ("Ñandú", "nandu"),
    ],
)
def test_string_normalisation(registry: SearchRegistry, text: str, norm: str) -> None:
    rows = rows_for(registry, {"resourceType": "Patient", "name": [{"family": text}]}, "family")
    assert rows == [StringRow("family", norm, text)]
