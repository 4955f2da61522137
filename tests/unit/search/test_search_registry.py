"""The registry: definitions loaded, bound per type, served or not (and why), compartments."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from gateway.search import SearchRegistry, compartments_of, extract, patient_of
from gateway.search.care_dates import OWN_CARE_DATE, care_date_params
from gateway.search.definitions import read_search_parameter
from gateway.search.elements import ElementTypes, build_element_map
from gateway.search.pathexpr import (
    Branch,
    Cast,
    ExtensionStep,
    Field,
    Index,
    Unsupported,
    WhereEquals,
    WhereHasExtension,
    WhereResolve,
    parse_path,
)

COMMON = ("_id", "_lastUpdated", "_tag", "_profile", "_security", "_source")


def test_loads_all_published_definitions(registry: SearchRegistry) -> None:
    stats = registry.stats()
    core = [d for d in registry.definitions if d.source == "core"]
    assert len(core) == 1400
    assert stats.unbound == 13  # 3 examples, 10 extension parameters without a base
    assert stats.served > 2500
    assert stats.fallback == 0
    assert stats.unserved == {
        "no FHIRPath expression (not supported)": 437,
        "composite parameters are not served yet": 72,
        "special parameters are not served": 147,
    }


@pytest.mark.parametrize("code", COMMON)
def test_resource_parameters_on_every_type(registry: SearchRegistry, code: str) -> None:
    for rtype in registry.resource_types:
        param = registry.get(rtype, code)
        assert param is not None, (rtype, code)
        assert param.served, (rtype, code)
    common = registry.common(code)
    assert common is not None
    assert common.code == code


def test_types_of_common_parameters(registry: SearchRegistry) -> None:
    kinds = {code: registry.get("Patient", code).type for code in COMMON}  # type: ignore[union-attr]
    assert kinds == {
        "_id": "token",
        "_lastUpdated": "date",
        "_tag": "token",
        "_profile": "uri",
        "_security": "token",
        "_source": "uri",
    }


@pytest.mark.parametrize(
    ("rtype", "code", "reason"),
    [
        ("Patient", "_text", "no FHIRPath expression"),
        ("Observation", "_content", "no FHIRPath expression"),
        ("Observation", "_query", "no FHIRPath expression"),
        ("Patient", "_filter", "special parameters"),
        ("Location", "near", "special parameters"),
        ("Observation", "code-value-quantity", "composite"),
    ],
)
def test_known_but_not_served(registry: SearchRegistry, rtype: str, code: str, reason: str) -> None:
    param = registry.get(rtype, code)
    assert param is not None
    assert not param.served
    assert param.reason is not None
    assert reason in param.reason


def test_text_is_not_on_non_domain_resources(registry: SearchRegistry) -> None:
    assert registry.get("Bundle", "_text") is None
    assert registry.get("Bundle", "_id") is not None


def test_composite_components_are_parsed(registry: SearchRegistry) -> None:
    param = registry.get("Observation", "code-value-quantity")
    assert param is not None
    assert [(c.code, c.type, c.expression) for c in param.components] == [
        ("code", "token", "code"),
        ("value-quantity", "quantity", "value.as(Quantity)"),
    ]


def test_multi_base_parameter_is_bound_per_type(registry: SearchRegistry) -> None:
    for rtype in ("Observation", "Condition", "Procedure", "AllergyIntolerance"):
        param = registry.get(rtype, "code")
        assert param is not None
        assert param.served
        assert param.type == "token"
        assert param.definition.id == "clinical-code"
    assert registry.get("Observation", "code").value_types == frozenset({"CodeableConcept"})  # type: ignore[union-attr]


def test_gateway_parameters(registry: SearchRegistry) -> None:
    for rtype, code, kind in [
        ("DocumentReference", "isArchived", "token"),
        ("List", "isArchived", "token"),
        ("DocumentReference", "period-start", "date"),
        ("DocumentReference", "period-end", "date"),
        ("DocumentReference", "creation", "date"),
        ("List", "authorOrg", "reference"),
    ]:
        param = registry.get(rtype, code)
        assert param is not None
        assert param.served
        assert param.type == kind
        assert param.definition.source == "gateway"


def test_examples_are_not_bound(registry: SearchRegistry) -> None:
    # The published example "part-agree" on Patient must not exist as a parameter.
    assert registry.get("Patient", "part-agree") is None
    assert registry.get("Condition", "subject").definition.id == "Condition-subject"  # type: ignore[union-attr]


def test_capability_entries_list_served_parameters_only(registry: SearchRegistry) -> None:
    entries = registry.capability_search_params("Observation")
    names = [e["name"] for e in entries]
    assert names == sorted(names)
    assert "code" in names
    assert "_id" in names
    assert "value-quantity" in names
    assert "code-value-quantity" not in names
    assert "_text" not in names
    code = next(e for e in entries if e["name"] == "code")
    assert code["definition"] == "http://hl7.org/fhir/SearchParameter/clinical-code"
    assert code["type"] == "token"


def test_compartment_parameters(registry: SearchRegistry) -> None:
    assert registry.compartments() == ("Patient",)
    assert registry.compartment_params("Patient", "Observation") == ("subject", "performer")
    assert registry.compartment_params("Patient", "Organization") == ()
    assert "Encounter" in registry.compartment_types("Patient")
    assert "Organization" not in registry.compartment_types("Patient")


def test_every_compartment_parameter_is_a_served_reference(registry: SearchRegistry) -> None:
    for rtype in registry.compartment_types("Patient"):
        for code in registry.compartment_params("Patient", rtype):
            param = registry.get(rtype, code)
            assert param is not None, (rtype, code)
            assert (param.served, param.type) == (True, "reference"), (rtype, code)


# --- patient_of / compartments_of ---------------------------------------------------------


@pytest.mark.parametrize(
    ("resource", "expected"),
    [
        ({"resourceType": "Patient", "id": "p1"}, "p1"),
        ({"resourceType": "Observation", "subject": {"reference": "Patient/p1"}}, "p1"),
        (
            {
                "resourceType": "Observation",
                "subject": {"reference": "Group/g"},
                "performer": [{"reference": "Patient/p2"}],
            },
            "p2",
        ),
        (
            {
                "resourceType": "Observation",
                "subject": {"reference": "Patient/p1"},
                "performer": [{"reference": "Patient/p2"}],
            },
            "p1",
        ),
        ({"resourceType": "Encounter", "subject": {"reference": "http://x/fhir/Patient/p3"}}, "p3"),
        ({"resourceType": "Organization", "id": "o1"}, None),
        ({"resourceType": "Observation", "subject": {"reference": "urn:uuid:1"}}, None),
        (
            {
                "resourceType": "Group",
                "member": [
                    {"entity": {"reference": "Patient/a"}},
                    {"entity": {"reference": "Patient/b"}},
                ],
            },
            None,
        ),
    ],
)
def test_patient_of(
    registry: SearchRegistry, resource: dict[str, Any], expected: str | None
) -> None:
    assert patient_of(resource, registry) == expected
    assert patient_of(resource, registry, extract(resource, registry)) == expected


def test_compartments_of(registry: SearchRegistry) -> None:
    obs = {
        "resourceType": "Observation",
        "subject": {"reference": "Patient/p1"},
        "performer": [{"reference": "Patient/p2"}, {"reference": "Practitioner/d"}],
    }
    assert compartments_of(obs, registry) == {"Patient": frozenset({"p1", "p2"})}
    assert compartments_of({"resourceType": "Patient", "id": "p9"}, registry) == {
        "Patient": frozenset({"p9"})
    }
    assert compartments_of({"resourceType": "Organization", "id": "o"}, registry) == {}


def test_synthea_resources_belong_to_their_patient(
    registry: SearchRegistry, synthea: list[dict[str, Any]]
) -> None:
    patient_id = next(r["id"] for r in synthea if r["resourceType"] == "Patient")
    for resource in synthea:
        owner = patient_of(resource, registry)
        if resource["resourceType"] in (
            "Organization",
            "Location",
            "Practitioner",
            "PractitionerRole",
        ):
            assert owner is None
        else:
            assert owner == patient_id, resource["resourceType"]


# --- the pieces ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expression", "branches"),
    [
        ("Patient.name", [Branch("Patient", (Field("name"),))]),
        ("name | alias", [Branch(None, (Field("name"),)), Branch(None, (Field("alias"),))]),
        (
            "(Observation.value as Quantity)",
            [Branch("Observation", (Field("value"), Cast("Quantity")))],
        ),
        ("Condition.onset.as(Age)", [Branch("Condition", (Field("onset"), Cast("Age")))]),
        (
            "Observation.subject.where(resolve() is Patient)",
            [Branch("Observation", (Field("subject"), WhereResolve("Patient")))],
        ),
        (
            "Patient.telecom.where(system='phone')",
            [Branch("Patient", (Field("telecom"), WhereEquals("system", "phone")))],
        ),
        (
            "Bundle.entry[0].resource",
            [Branch("Bundle", (Field("entry"), Index(0), Field("resource")))],
        ),
        (
            "X.item.where(hasExtension('u')).answer.value.ofType(Reference)",
            [
                Branch(
                    "X",
                    (
                        Field("item"),
                        WhereHasExtension("u"),
                        Field("answer"),
                        Field("value"),
                        Cast("Reference"),
                    ),
                )
            ],
        ),
        (
            "(extension('http://a').value as Boolean)",
            [Branch(None, (ExtensionStep("http://a"), Field("value"), Cast("Boolean")))],
        ),
        (
            "(Observation.value as CodeableConcept).text",
            [Branch("Observation", (Field("value"), Cast("CodeableConcept"), Field("text")))],
        ),
    ],
)
def test_path_parser(expression: str, branches: list[Branch]) -> None:
    assert parse_path(expression) == branches


@pytest.mark.parametrize(
    "expression",
    [
        "Patient.deceased.exists() and Patient.deceased != false",
        "%resource.referenceSeq",
        "Patient.name.select(given)",
        "Patient.name[x]",
        "Patient.",
        "(Patient.name",
        "Patient.where(name = 3)",
        "Patient #",
    ],
)
def test_path_parser_refuses_the_rest(expression: str) -> None:
    with pytest.raises(Unsupported):
        parse_path(expression)


def test_read_search_parameter_rejects_incomplete_definitions() -> None:
    with pytest.raises(ValueError, match="lacks"):
        read_search_parameter({"resourceType": "SearchParameter", "code": "x"}, source="t")
    with pytest.raises(ValueError, match="not a SearchParameter"):
        read_search_parameter({"resourceType": "Patient"}, source="t")


def test_element_map_builder() -> None:
    sds = [
        {
            "resourceType": "StructureDefinition",
            "kind": "resource",
            "type": "Thing",
            "derivation": "specialization",
            "snapshot": {
                "element": [
                    {"path": "Thing"},
                    {
                        "path": "Thing.id",
                        "type": [{"code": "http://hl7.org/fhirpath/System.String"}],
                    },
                    {"path": "Thing.extension", "type": [{"code": "Extension"}]},
                    {"path": "Thing.value[x]", "type": [{"code": "string"}, {"code": "Quantity"}]},
                    {"path": "Thing.part", "type": [{"code": "BackboneElement"}]},
                    {"path": "Thing.part.part", "contentReference": "#Thing.part"},
                ]
            },
        },
        {
            "resourceType": "StructureDefinition",
            "kind": "resource",
            "type": "P",
            "derivation": "constraint",
        },
    ]
    data = build_element_map(sds)  # type: ignore[arg-type]
    assert data == {
        "resources": ["Thing"],
        "elements": {
            "Thing.id": "string",
            "Thing.part": "BackboneElement",
            "Thing.part.part": "#Thing.part",
            "Thing.value[x]": "string Quantity",
        },
    }
    types = ElementTypes.from_json(data)
    assert [(c.key, c.type) for c in types.children("Thing", "value") or []] == [
        ("valueString", "string"),
        ("valueQuantity", "Quantity"),
    ]
    nested = (types.children("Thing", "part") or [])[0]
    assert nested.context == "Thing.part"
    assert (types.children(nested.context, "part") or [])[0].context == "Thing.part"
    assert types.children("Thing", "nope") is None
    assert types.element_names("Thing") == frozenset({"id", "part", "value"})


def _bundle(*resources: dict[str, Any]) -> str:
    return json.dumps(
        {
            "resourceType": "Bundle",
            "type": "collection",
            "entry": [{"resource": r} for r in resources],
        }
    )


def _param(url: str, code: str, expression: str) -> dict[str, Any]:
    return {
        "resourceType": "SearchParameter",
        "url": url,
        "code": code,
        "type": "token",
        "base": ["Thing"],
        "expression": expression,
    }


def test_load_from_a_profiles_directory_and_override(tmp_path: Path) -> None:
    sp = tmp_path / "search-parameters"
    sp.mkdir()
    (tmp_path / "compartments").mkdir()
    (sp / "element-types.json").write_text(
        json.dumps(
            {"resources": ["Thing"], "elements": {"Thing.status": "code", "Thing.kind": "code"}}
        )
    )
    (sp / "search-parameters-r4-core.json").write_text(
        _bundle(_param("http://core/status", "status", "Thing.status"))
    )
    registry = SearchRegistry.load(tmp_path)
    assert registry.get("Thing", "status").definition.url == "http://core/status"  # type: ignore[union-attr]
    assert registry.compartments() == ()
    (sp / "gateway-search-parameters.json").write_text(
        _bundle(
            _param("http://gw/status", "status", "Thing.kind"),
            _param("http://gw/bad", "bad", "Thing.nope"),
        )
    )
    registry = SearchRegistry.load(tmp_path)
    status = registry.get("Thing", "status")
    assert status is not None
    assert status.definition.url == "http://gw/status"
    assert (
        extract({"resourceType": "Thing", "status": "a", "kind": "b"}, registry).tokens[0].code
        == "b"
    )
    bad = registry.get("Thing", "bad")
    assert bad is not None
    assert not bad.served
    assert bad.reason is not None
    assert "Thing.nope" in bad.reason


def test_every_care_date_of_everything_is_a_served_date_parameter(
    registry: SearchRegistry,
) -> None:
    """``$everything?start=&end=`` reads these; a registry change must not drop one
    silently (its type's resources would then all count as undated, hence kept)."""
    members = sorted(registry.compartment_types("Patient") | {"Patient"})
    found = dict(care_date_params(registry, members))
    assert {t: found.get(t) for t in OWN_CARE_DATE} == OWN_CARE_DATE
    assert found["Observation"] == found["Encounter"] == "date"
    assert "Patient" not in found and "Coverage" not in found
    assert len(found) == 17 + len(OWN_CARE_DATE)
