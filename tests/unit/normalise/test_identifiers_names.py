"""INS, professional and structure identifiers; per-source systems; names."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.fhir.identifiers import FINESS, IDNAT_PS, IDNAT_STRUCT, INS_NIA, INS_NIR, RPPS, nir_key
from gateway.normalise import SourceConfig
from gateway.normalise.errors import NormalisationError
from gateway.normalise.identifiers import (
    ins,
    ins_system_for_oid,
    local_patient,
    professional,
    structure,
    tddui_local_patient,
)
from gateway.normalise.names import BIRTH_LIST_GIVEN_NAME, human_name

NIR13 = "2840775123456"
NIR = NIR13 + f"{nir_key(NIR13):02d}"


def test_ins_key_verified_and_typed() -> None:
    ident = ins(NIR)
    assert ident.to_fhir() == {
        "use": "official",
        "type": {
            "coding": [
                {
                    "system": "https://hl7.fr/ig/fhir/core/CodeSystem/fr-core-cs-v2-0203",
                    "code": "INS-NIR",
                }
            ]
        },
        "system": INS_NIR,
        "value": NIR,
    }
    assert ident.is_ins
    spaced = " ".join([NIR[:1], NIR[1:3], NIR[3:5], NIR[5:7], NIR[7:10], NIR[10:13], NIR[13:]])
    assert ins(spaced).value == NIR
    assert ins(NIR, INS_NIA).kind == "ins-nia"


def test_ins_corsica() -> None:
    first13 = "184072A123456"
    value = first13 + f"{nir_key(first13):02d}"
    assert ins(value).value == value


@pytest.mark.parametrize("bad", [NIR13, NIR[:-2] + "00", "ABC", "9" * 15])
def test_ins_refuses_bad_keys(bad: str) -> None:
    with pytest.raises(NormalisationError) as err:
        ins(bad)
    assert err.value.kind == "identifier"


def test_ins_system_for_oid() -> None:
    assert ins_system_for_oid("1.2.250.1.213.1.4.8") == INS_NIR
    assert ins_system_for_oid("1.2.250.1.213.1.4.2") is None


def test_local_ids_are_per_source(source: SourceConfig) -> None:
    ident = local_patient(" R-0042 ", source)
    assert ident.system == "https://dmp-gateway.fr/fhir/sid/finess/750712184/patient"
    assert ident.value == "R-0042"
    assert ident.to_fhir()["type"]["coding"][0]["code"] == "PI"
    tddui = tddui_local_patient("R-0042", source)
    assert tddui.value == "3750712184/R-0042"
    other = SourceConfig("pharma", "130781016", system_base="urn:oid:1.2.250.1.999.1")
    assert local_patient("42", other).system == "urn:oid:1.2.250.1.999.1/patient"
    with pytest.raises(ValueError, match="FINESS"):
        SourceConfig("broken", "123456789")


def test_professionals() -> None:
    idnat, rpps = professional("10003456786")  # Luhn-valid RPPS
    assert (idnat.system, idnat.value) == (IDNAT_PS, "810003456786")
    assert (rpps.system, rpps.value) == (RPPS, "10003456786")
    assert professional("810003456786") == (idnat, rpps)
    (adeli,) = professional("751234567", "adeli")
    assert (adeli.system, adeli.value) == (IDNAT_PS, "0751234567")
    with pytest.raises(NormalisationError):
        professional("10003456780")  # Luhn fails
    with pytest.raises(NormalisationError):
        professional("12")


def test_structure() -> None:
    idnat, finess = structure("750712184")
    assert (idnat.system, idnat.value) == (IDNAT_STRUCT, "1750712184")
    assert (finess.system, finess.value) == (FINESS, "750712184")
    with pytest.raises(NormalisationError):
        structure("750712185")


def test_human_name_trims_and_keeps_case() -> None:
    assert human_name("  de La Fontaine ", [" Jean-Marie", "", None], use="official") == {
        "use": "official",
        "family": "de La Fontaine",
        "given": ["Jean-Marie"],
    }
    named = human_name("DUPONT", ["Marie"], birth_given_names="Marie Louise Anne")
    assert named is not None
    assert named["extension"] == [
        {"url": BIRTH_LIST_GIVEN_NAME, "valueString": "Marie Louise Anne"}
    ]
    assert human_name(" ", [" "]) is None


@given(st.text(max_size=20))
def test_identifier_normalisers_never_crash(text: str) -> None:
    for fn in (ins, professional, structure):
        with contextlib.suppress(NormalisationError):
            fn(text)
