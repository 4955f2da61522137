"""The profiles directory loads cleanly and holds everything validation needs.

``profiles/r4-core`` is a cut of hl7.fhir.r4.core 4.0.1 (see its README): this test proves
the cut is complete, i.e. every base definition, type, type profile and required binding
that any loaded definition names is loaded too, except the documented gaps below, which
belong to packages FR Core depends on that we do not ship (hl7.terminology.r4,
hl7.fhir.uv.extensions.r4, ans.fr.terminologies) and to terminologies never published as
FHIR resources. Each gap makes validation warn ("not held"), never fail.
"""

from __future__ import annotations

from pathlib import Path

from gateway.validation import Validator
from gateway.validation.dependencies import unmet_needs
from gateway.validation.package import ConformanceIndex

KNOWN_GAPS = {
    # hl7.fhir.uv.extensions.r4 5.2.0 (FR Core dependency)
    "http://hl7.org/fhir/5.0/StructureDefinition/extension-Organization.description",
    "http://hl7.org/fhir/StructureDefinition/note",
    # required binding of MolecularSequence.structureVariant.variantType (LOINC answer list)
    "http://loinc.org/vs/LL379-9",
    # ans.fr.terminologies 1.7.0 (FR Core dependency): RASS value sets
    "https://mos.esante.gouv.fr/NOS/JDV_J105-EnsembleDiplome-RASS/FHIR/JDV-J105-EnsembleDiplome-RASS",
    "https://mos.esante.gouv.fr/NOS/JDV_J106-EnsembleProfession-RASS/FHIR/JDV-J106-EnsembleProfession-RASS",
    "https://mos.esante.gouv.fr/NOS/JDV_J107-EnsembleSavoirFaire-RASS/FHIR/JDV-J107-EnsembleSavoirFaire-RASS",
    "https://mos.esante.gouv.fr/NOS/JDV_J81-TypeDiplome-RASS/FHIR/JDV-J81-TypeDiplome-RASS",
    "https://mos.esante.gouv.fr/NOS/JDV_J89-CategorieProfessionnelle-RASS/FHIR/JDV-J89-CategorieProfessionnelle-RASS",
    "https://mos.esante.gouv.fr/NOS/JDV_J91-TypeSavoirFaire-RASS/FHIR/JDV-J91-TypeSavoirFaire-RASS",
    # ans.fr.terminologies 1.7.0 (FR Core dependency): ANS code systems FR Core value sets
    # include whole
    *(
        f"https://mos.esante.gouv.fr/NOS/TRE_{name}/FHIR/TRE-{name}"
        for name in (
            "G05-SousSectionTableauCNOP",
            "R06-SectionTableauCNOP",
            "R11-CiviliteExercice",
            "R13-CommuneOM",
            "R20-Pays",
            "R21-Fonction",
            "R216-HL7RoleCode",
            "R217-ProtectionJuridique",
            "R22-GenreActivite",
            "R23-ModeExercice",
            "R24-TypeActiviteLiberale",
            "R256-TypeMessagerie",
            "R260-HL7RoleClass",
            "R32-StatutHospitalier",
            "R38-SpecialiteOrdinale",
            "R85-RolePriseCharge",
            "R96-AutreFonctionSanitaire",
        )
    ),
    # grammar-based or external systems included whole by R4 value sets
    "http://unitsofmeasure.org",
    "urn:ietf:bcp:13",
    "urn:iso:std:iso:4217",
}


def test_directory_loads_without_errors_or_duplicates(profiles_dir: Path) -> None:
    index = ConformanceIndex.load(profiles_dir)
    assert index.errors == []
    assert index.duplicates == []
    kinds = {r["resourceType"] for r in index.by_url.values()}
    assert kinds == {"StructureDefinition", "ValueSet", "CodeSystem", "ConceptMap"}


def test_nothing_needed_is_missing(validator: Validator) -> None:
    missing = {need.url for need in unmet_needs(validator.registry.index, "required")}
    assert missing == KNOWN_GAPS


def test_every_resource_type_has_its_definition(validator: Validator) -> None:
    assert len(validator.registry.resource_types) == 146
    for name in ("Patient", "Observation", "Bundle", "DocumentReference", "Consent", "AuditEvent"):
        assert name in validator.registry.resource_types


def test_every_definition_compiles(validator: Validator) -> None:
    assert validator.warm() == []
    assert validator.registry.problems == {}


def test_ships_the_gateway_profiles(validator: Validator) -> None:
    urls = {
        str(r["url"])
        for r in validator.registry.index.by_url.values()
        if str(r["url"]).startswith("https://dmp-gateway.fr/fhir/")
    }
    assert len([u for u in urls if "/StructureDefinition/" in u]) == 17
    assert "https://dmp-gateway.fr/fhir/ConceptMap/gw-document-type-to-class" in urls
    for generated in ("gw-patient-ins", "gw-document-reference", "gw-consent"):
        sd = validator.registry.index.structure(
            f"https://dmp-gateway.fr/fhir/StructureDefinition/{generated}"
        )
        assert sd is not None
        assert "snapshot" not in sd
        assert validator.registry.snapshot(str(sd["url"]))
