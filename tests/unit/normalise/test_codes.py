"""Codes through the ConceptMaps: vital signs, medications, gender, routes, documents."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fhir.resources.R4B.conceptmap import ConceptMap

from gateway.normalise import SourceConfig
from gateway.normalise.codes import coding_system, document_class, document_type, gender, route
from gateway.normalise.errors import NormalisationError
from gateway.normalise.medication import ATC, CIP13, UCD, ean13_key, medication_code
from gateway.normalise.terminology import Terminology, default_profiles_dir
from gateway.normalise.vitals import FR_CORE_SD, for_unit, vital_sign

CONCEPTMAPS = sorted((default_profiles_dir() / "conceptmaps").glob("*.json"))


@pytest.mark.parametrize("path", CONCEPTMAPS, ids=lambda p: Path(p).stem)
def test_conceptmaps_are_valid_r4_conceptmaps(path: Path) -> None:
    resource = json.loads(path.read_text(encoding="utf-8"))
    ConceptMap.model_validate(resource)
    assert resource["description"]
    assert resource["url"].endswith(resource["id"])


@pytest.mark.parametrize(
    ("label", "loinc", "profile"),
    [
        ("TA", "85354-9", "fr-core-observation-bp"),
        ("PA", "85354-9", "fr-core-observation-bp"),
        ("FC", "8867-4", "fr-core-observation-heartrate"),
        ("Pouls", "8867-4", "fr-core-observation-heartrate"),
        ("POIDS", "29463-7", "fr-core-observation-body-weight"),
        ("Temp", "8310-5", "fr-core-observation-body-temperature"),
        ("Température", "8310-5", "fr-core-observation-body-temperature"),
        ("SpO2", "2708-6", "fr-core-observation-saturation-oxygen"),
        ("FR", "9279-1", "fr-core-observation-resp-rate"),
        ("Glycémie", "2339-0", None),
        ("glycemie capillaire", "2339-0", None),
        ("EVA douleur", "72514-3", None),
        ("8867-4", "8867-4", "fr-core-observation-heartrate"),
    ],
)
def test_vital_sign_labels(
    terminology: Terminology, label: str, loinc: str, profile: str | None
) -> None:
    spec = vital_sign(label, terminology)
    assert spec is not None
    assert spec.loinc == loinc
    assert spec.profile == (FR_CORE_SD + profile if profile else None)


def test_vital_sign_unknown_and_glucose_unit_variant(terminology: Terminology) -> None:
    assert vital_sign("Humeur", terminology) is None
    assert vital_sign("1234-5", terminology, system="http://loinc.org") is None
    glucose = vital_sign("Glycémie", terminology)
    assert glucose is not None
    assert for_unit(glucose, "mmol/L").loinc == "15074-8"
    assert for_unit(glucose, "g/L").loinc == "2339-0"
    spo2 = vital_sign("SpO2", terminology)
    assert spo2 is not None
    assert [c.code for c in spo2.codings] == ["2708-6", "59408-5"]


def test_ean13_key() -> None:
    assert ean13_key("340093351639") == 0  # CIP13 3400933516390 (FR document IG example)
    assert ean13_key("340089181747") == 8  # UCD13 3400891817478 (ANS e-prescription example)


def test_medication_codes(terminology: Terminology, source: SourceConfig) -> None:
    cip = medication_code("3400933516390", "CIP", terminology, source, "PARACETAMOL")
    assert (cip.coding.system, cip.coding.code, cip.standard) == (CIP13, "3400933516390", True)
    assert cip.assumption is None
    ucd = medication_code("3400891817478", "UCD", terminology, source)
    assert ucd.coding.system == UCD
    widened = medication_code("3351639", "CIP7", terminology, source)
    assert widened.coding.code == "3400933516390"
    assert widened.assumption is not None
    atc = medication_code("n02be01", "WC", terminology, source)
    assert (atc.coding.system, atc.coding.code) == (ATC, "N02BE01")
    oid = medication_code("3400933516390", "1.2.250.1.213.2.3.2", terminology, source)
    assert oid.coding.system == CIP13


def test_medication_code_guesses_and_local_fallback(
    terminology: Terminology, source: SourceConfig
) -> None:
    guessed = medication_code("3400933516390", None, terminology, source)
    assert guessed.coding.system == CIP13
    assert guessed.assumption is not None
    assert "recognised" in guessed.assumption
    local = medication_code("DOLI1000", "XYZ", terminology, source)
    assert local.coding.system == source.system("medication")
    assert not local.standard
    ndc = medication_code("00047040230", "NDC", terminology, source)
    assert ndc.coding.system == "http://hl7.org/fhir/sid/ndc"
    assert not ndc.standard


@pytest.mark.parametrize(
    ("code", "system"), [("3400933516391", "CIP13"), ("12345", "UCD"), ("XX", "ATC")]
)
def test_medication_code_check_failures(
    terminology: Terminology, source: SourceConfig, code: str, system: str
) -> None:
    with pytest.raises(NormalisationError) as err:
        medication_code(code, system, terminology, source)
    assert err.value.kind == "code"


@pytest.mark.parametrize(
    ("code", "hl7", "expected"),
    [
        ("F", True, "female"),
        ("M", True, "male"),
        ("U", True, "unknown"),
        ("O", True, "unknown"),
        ("H", False, "male"),
        ("Homme", False, "male"),
        ("femme", False, "female"),
        ("M", False, "male"),
        ("Indéterminé", False, "unknown"),
    ],
)
def test_gender(terminology: Terminology, code: str, hl7: bool, expected: str) -> None:
    assert gender(code, terminology, hl7=hl7) == expected


def test_gender_unknown_code(terminology: Terminology) -> None:
    with pytest.raises(NormalisationError):
        gender("Z", terminology)
    with pytest.raises(NormalisationError):
        gender(" ", terminology)


def test_routes_coding_systems_documents(terminology: Terminology) -> None:
    oral = route("PO", terminology)
    assert oral is not None
    assert (oral.system, oral.code) == ("http://standardterms.edqm.eu", "20053000")
    sc = route("sous-cutanée", terminology)
    assert sc is not None
    assert sc.code == "20066000"
    assert route("par la pensée", terminology) is None
    assert coding_system("LN", terminology) == "http://loinc.org"
    assert coding_system("SCT", terminology) == "http://snomed.info/sct"
    assert coding_system("urn:oid:1.2.3", terminology) == "urn:oid:1.2.3"
    assert coding_system("L", terminology) is None
    ds = document_type("DS", terminology)
    assert ds is not None
    assert ds.code == "11490-0"
    klass = document_class("11490-0", terminology)
    assert klass is not None
    assert klass.code == "10"
    loinc = document_type("11506-3", terminology)
    assert loinc is not None
    assert loinc.code == "11506-3"
