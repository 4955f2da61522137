"""Structural findings: what the base definitions report about malformed R4 is a 400.

Writes are walked once by the compiled StructureDefinitions
(:class:`gateway.record.validation.WriteValidation`); the errors the walk against a
type's base definition reports about shape, primitive forms and base cardinalities refuse
the write as malformed (400) in every validation mode, while profile, binding and
invariant errors follow the mode (422 in strict, warnings in warn, unchecked in off).

The walk replaced the ``fhir.resources`` R4B models as the structural check. The
differential property below keeps the models as an oracle: whatever a model refuses,
the walk must call structural too (on mutations of real resources).
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway.errors import InvalidResource
from gateway.record.validation import Mode, WriteValidation
from gateway.validation import Validator
from tests.unit.validation.test_validation_property import JSON, _mutate, _paths

REPO = Path(__file__).resolve().parents[3]
MODES: tuple[Mode, ...] = ("strict", "warn", "off")


def _structural(
    validator: Validator, mode: Mode, resource: dict[str, Any]
) -> list[tuple[str, str]]:
    with pytest.raises(InvalidResource) as err:
        WriteValidation(validator, mode).check(resource)
    assert err.value.status == 400
    return [(i.code, i.expression[0] if i.expression else "") for i in err.value.extra_issues]


OBS = {"resourceType": "Observation", "status": "final", "code": {"text": "x"}}


P = {"resourceType": "Patient"}
CASES: list[tuple[dict[str, Any], tuple[str, str]]] = [
    ({**P, "foo": 1}, ("structure", "Patient.foo")),
    ({**P, "name": [{"family": "x", "zz": 1}]}, ("structure", "Patient.name[0].zz")),
    ({**P, "birthDate": "1970-13-01"}, ("value", "Patient.birthDate")),
    ({**P, "name": {"family": "x"}}, ("structure", "Patient.name")),
    ({**P, "active": "true"}, ("structure", "Patient.active")),
    ({**P, "extension": [{"valueString": "x"}]}, ("required", "Patient.extension[0].url")),
    ({**P, "meta": {"versionId": 1}}, ("structure", "Patient.meta.versionId")),
    ({"resourceType": "Observation", "status": "final"}, ("required", "Observation.code")),
    ({**OBS, "code": [{"text": "x"}]}, ("structure", "Observation.code")),
    (
        {**OBS, "code": {"coding": [{"system": 5}]}},
        ("structure", "Observation.code.coding[0].system"),
    ),
    ({**OBS, "issued": "2020-01-01"}, ("value", "Observation.issued")),
    (
        {**OBS, "effectiveDateTime": "2020", "effectivePeriod": {"start": "2020"}},
        ("structure", "Observation.effective"),
    ),
    (
        {**OBS, "valueQuantity": {"value": "3"}},
        ("structure", "Observation.value.ofType(Quantity).value"),
    ),
    (
        {**OBS, "contained": [{"resourceType": "Patient", "id": "p", "bar": 1}]},
        ("structure", "Observation.contained[0].bar"),
    ),
    (
        {**OBS, "contained": [{"resourceType": "Foo", "id": "f"}]},
        ("structure", "Observation.contained[0]"),
    ),
    ({"resourceType": "MedicinalProduct", "foo": 1}, ("structure", "MedicinalProduct.foo")),
]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(("resource", "expected"), CASES)
def test_malformed_r4_is_a_400_in_every_mode(
    validator: Validator, mode: Mode, resource: dict[str, Any], expected: tuple[str, str]
) -> None:
    assert expected in _structural(validator, mode, resource)


BAD_STATUS = {**OBS, "status": "finalx"}  # a required binding of the base definition


def test_a_binding_error_is_not_structural_and_follows_the_mode(validator: Validator) -> None:
    strict = WriteValidation(validator, "strict")
    findings = strict.check(BAD_STATUS)  # no 400
    assert findings.structural == []
    assert any(i.is_error and i.expression == ("Observation.status",) for i in findings.issues)
    assert any(i.is_error for i in strict.validate(BAD_STATUS, findings))
    warn = WriteValidation(validator, "warn")
    warnings = warn.validate(BAD_STATUS, warn.check(BAD_STATUS))
    assert warnings and all(not i.is_error for i in warnings)
    off = WriteValidation(validator, "off")
    assert off.validate(BAD_STATUS, off.check(BAD_STATUS)) == []


def test_a_profile_cardinality_is_not_structural(validator: Validator) -> None:
    """FR Core Patient requires what base Patient does not: a profile finding, not a 400."""
    patient = {
        "resourceType": "Patient",
        "meta": {"profile": ["https://hl7.fr/ig/fhir/core/StructureDefinition/fr-core-patient"]},
        "name": [{"family": "Martin"}],
        "extension": [{"url": "http://example.org/unknown-ext", "valueString": "x"}],
    }
    findings = WriteValidation(validator, "strict").check(patient)
    assert findings.structural == []


def test_the_findings_of_check_are_those_validate_would_find(validator: Validator) -> None:
    strict = WriteValidation(validator, "strict")
    assert strict.validate(BAD_STATUS, strict.check(BAD_STATUS)) == strict.validate(BAD_STATUS)


# -- the R4B models as an oracle -----------------------------------------------------------

# Types the R4B models lack or reshaped (R4 4.0.1 content they would refuse).
R4_ONLY = frozenset(
    {
        "EffectEvidenceSynthesis", "Evidence", "EvidenceVariable", "MedicinalProduct",
        "MedicinalProductAuthorization", "MedicinalProductContraindication",
        "MedicinalProductIndication", "MedicinalProductIngredient",
        "MedicinalProductInteraction", "MedicinalProductManufactured",
        "MedicinalProductPackaged", "MedicinalProductPharmaceutical",
        "MedicinalProductUndesirableEffect", "RiskEvidenceSynthesis", "SubstanceNucleicAcid",
        "SubstancePolymer", "SubstanceProtein", "SubstanceReferenceInformation",
        "SubstanceSourceMaterial", "SubstanceSpecification",
    }
)  # fmt: skip


def _seeds() -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for path in sorted((REPO / "fixtures" / "fr-core-examples").glob("*.json")):
        out.append(json.loads(path.read_text(encoding="utf-8")))
    bundle = json.loads(
        next((REPO / "fixtures" / "synthea").glob("Soila*.json")).read_text(encoding="utf-8")
    )
    seen: set[str] = set()
    for entry in bundle["entry"]:
        resource = entry["resource"]
        if resource["resourceType"] not in seen:  # one of each type
            seen.add(resource["resourceType"])
            out.append(resource)
    return [r for r in out if r.get("resourceType") not in R4_ONLY and "contained" not in r]


SEEDS = _seeds()


def _r4b_refuses(resource: dict[str, Any]) -> bool:
    from fhir.resources.R4B import get_fhir_model_class

    try:
        get_fhir_model_class(resource["resourceType"]).model_validate(resource)
    except Exception:
        return True
    return False


def test_the_seeds_are_valid_for_both(validator: Validator) -> None:
    assert len(SEEDS) > 20
    for seed in SEEDS:
        assert not _r4b_refuses(seed), seed["resourceType"]
        assert validator.check(seed, base_only=True).structural == [], seed["resourceType"]


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.sampled_from(SEEDS),
    data=st.data(),
    action=st.integers(min_value=0, max_value=4),
    new=JSON,
)
def test_what_the_r4b_model_refuses_the_walk_calls_structural(
    validator: Validator, seed: dict[str, Any], data: st.DataObject, action: int, new: Any
) -> None:
    resource = copy.deepcopy(seed)
    paths = [p for p in _paths(resource) if p and p != ("resourceType",)]
    path = data.draw(st.sampled_from(paths))
    mutated = _mutate(resource, path, action, new)
    if not isinstance(mutated, dict) or mutated.get("resourceType") != seed["resourceType"]:
        return
    if not _json_form_ok(mutated) or not _r4b_refuses(mutated):
        return
    findings = validator.check(mutated, base_only=True)
    assert findings.structural, (path, action, new)


def _json_form_ok(resource: dict[str, Any]) -> bool:
    """The JSON form (nulls, empties) is checked before the walk, by validate_json_form."""
    from gateway.fhir.structure import validate_json_form

    try:
        validate_json_form(resource)
    except InvalidResource:
        return False
    return True


PROFILED = [s for s in SEEDS if (s.get("meta") or {}).get("profile")]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.sampled_from(PROFILED),
    data=st.data(),
    action=st.integers(min_value=0, max_value=4),
    new=JSON,
)
def test_malformed_or_not_does_not_depend_on_the_profiles(
    validator: Validator, seed: dict[str, Any], data: st.DataObject, action: int, new: Any
) -> None:
    """A profile that derives from the base replaces it in the walk; its walk must still
    tell the base's faults apart, so that the 400 is the same in every mode."""
    resource = copy.deepcopy(seed)
    paths = [p for p in _paths(resource) if p and p[0] not in ("resourceType", "meta")]
    mutated = _mutate(resource, data.draw(st.sampled_from(paths)), action, new)
    if not isinstance(mutated, dict) or not _json_form_ok(mutated):
        return
    full = validator.check(mutated).structural
    base = validator.check(mutated, base_only=True).structural
    assert bool(full) == bool(base), (full, base)


@pytest.mark.parametrize("seed", PROFILED, ids=lambda s: f"{s['resourceType']}-{s.get('id')}")
def test_removing_any_element_gives_one_verdict_with_or_without_profiles(
    validator: Validator, seed: dict[str, Any]
) -> None:
    """Every deletion, exhaustively: the base cardinalities a profile narrows."""
    for path in _paths(seed):
        if len(path) not in (1, 2, 3) or path[0] in ("resourceType", "meta"):
            continue
        mutated = _mutate(copy.deepcopy(seed), path, 1, None)
        if not _json_form_ok(mutated):
            continue
        full = validator.check(mutated).structural
        base = validator.check(mutated, base_only=True).structural
        assert bool(full) == bool(base), (path, full, base)


def test_an_id_carries_no_extension_part(validator: Validator) -> None:
    """Resource.id and Element.id are System.String: ``_id`` is malformed R4 (found by the
    oracle test above: ``_id`` on an Appointment)."""
    seed = next(s for s in SEEDS if s["resourceType"] == "Appointment")
    resource = {**copy.deepcopy(seed), "_id": {"id": "0"}}
    assert _r4b_refuses(resource)
    assert validator.check(resource, base_only=True).structural
    fine = {**copy.deepcopy(seed), "_status": {"id": "s1"}}
    assert validator.check(fine, base_only=True).structural == []


def test_an_extension_url_carries_no_extension_part(validator: Validator) -> None:
    """Extension.url is System.String as well: ``_url`` in an extension is malformed R4,
    while ``_url`` of a resource's own ``url`` (a uri primitive) is fine."""
    seed = next(s for s in SEEDS if s["resourceType"] == "Appointment")
    ext = {"url": "http://example.org/fhir/StructureDefinition/note", "valueString": "x"}
    resource = {**copy.deepcopy(seed), "extension": [{**ext, "_url": {"id": "u1"}}]}
    assert _r4b_refuses(resource)
    assert validator.check(resource, base_only=True).structural
    plain = {**copy.deepcopy(seed), "extension": [ext]}
    assert validator.check(plain, base_only=True).structural == []
    value_set = {
        "resourceType": "ValueSet",
        "status": "draft",
        "url": "http://example.org/fhir/ValueSet/v",
        "_url": {"id": "u2"},
    }
    assert not _r4b_refuses(value_set)
    assert validator.check(value_set, base_only=True).structural == []
