"""The identity stage, pure: INS first, local id next, conflicts, probable matches, merges."""

from __future__ import annotations

from typing import Any

from gateway.ingest.result import MergeInstruction, PatientKey, PatientRef, PatientTraits
from gateway.intake.identity import (
    Conflict,
    Match,
    MergePair,
    New,
    StoredPatient,
    Unknown,
    identify,
    resolve_merge,
    trait_differences,
)

INS = "urn:oid:1.2.250.1.213.1.4.8"
LOCAL = "https://dmp-gateway.fr/fhir/sid/finess/750712184/patient"
INS_KEY = PatientKey(INS, "240037505612377", "ins-nir")
LOCAL_KEY = PatientKey(LOCAL, "R0042", "local")
TRAITS = PatientTraits("DUPONT", ("Marie-Hélène",), "1940-03-12", "female", "75056")


def _patient(pid: str, *identifiers: tuple[str, str], **fields: Any) -> StoredPatient:
    body: dict[str, Any] = {
        "resourceType": "Patient",
        "id": pid,
        "identifier": [{"system": s, "value": v} for s, v in identifiers],
        "name": [{"use": "official", "family": "Dupont", "given": ["Marie-Hélène"]}],
        "birthDate": "1940-03-12",
        "gender": "female",
        **fields,
    }
    return StoredPatient(pid, 1, body)


class FakeIndex:
    """An in-memory :class:`PatientIndex` (the protocol, implemented for real)."""

    def __init__(self, *patients: StoredPatient) -> None:
        self.patients = {p.id: p for p in patients}

    def by_identifier(self, key: PatientKey) -> list[StoredPatient]:
        return [
            p
            for p in self.patients.values()
            if any(
                i["system"] == key.system and i["value"] == key.value for i in p.body["identifier"]
            )
        ]

    def by_birth_date(self, birth_date: str) -> list[StoredPatient]:
        return [p for p in self.patients.values() if p.body.get("birthDate") == birth_date]

    def get(self, patient_id: str) -> StoredPatient | None:
        return self.patients.get(patient_id)


def _ref(*keys: PatientKey, traits: PatientTraits = TRAITS, in_bundle: bool = True) -> PatientRef:
    return PatientRef("urn:uuid:p", keys, traits, in_bundle)


def test_ins_first() -> None:
    a = _patient("a", (INS, "240037505612377"))
    decision = identify(_ref(INS_KEY, LOCAL_KEY), FakeIndex(a))
    assert isinstance(decision, Match) and decision.patient.id == "a" and decision.key == INS_KEY


def test_local_id_when_there_is_no_ins_match() -> None:
    b = _patient("b", (LOCAL, "R0042"), birthDate="1941-01-01")
    decision = identify(_ref(INS_KEY, LOCAL_KEY), FakeIndex(b))
    assert isinstance(decision, Match) and decision.key == LOCAL_KEY
    # A provisional identity matched by its local id may have its traits corrected.


def test_keys_designating_two_records_conflict() -> None:
    a = _patient("a", (INS, "240037505612377"))
    b = _patient("b", (LOCAL, "R0042"))
    decision = identify(_ref(INS_KEY, LOCAL_KEY), FakeIndex(a, b))
    assert isinstance(decision, Conflict)
    assert set(decision.details["patients"]) == {"Patient/a", "Patient/b"}


def test_an_identifier_on_two_records_conflicts() -> None:
    a = _patient("a", (LOCAL, "R0042"))
    b = _patient("b", (LOCAL, "R0042"))
    assert isinstance(identify(_ref(LOCAL_KEY), FakeIndex(a, b)), Conflict)


def test_another_ins_on_the_matched_record_conflicts() -> None:
    b = _patient("b", (LOCAL, "R0042"), (INS, "245101305502104"))
    decision = identify(_ref(INS_KEY, LOCAL_KEY), FakeIndex(b))
    assert isinstance(decision, Conflict) and decision.details["incoming"] == "240037505612377"


def test_ins_traits_must_agree_and_both_versions_are_shown() -> None:
    a = _patient("a", (INS, "240037505612377"), birthDate="1941-03-12")
    decision = identify(_ref(INS_KEY), FakeIndex(a))
    assert isinstance(decision, Conflict)
    assert decision.details["differences"] == ["birthDate"]
    assert decision.details["stored"]["birthDate"] == "1941-03-12"
    assert decision.details["incoming"]["birthDate"] == "1940-03-12"


def test_names_compare_without_case_accents_or_punctuation() -> None:
    stored = PatientTraits("Lefèvre-Martin", (), "1940-03-12", "female")
    incoming = PatientTraits("LEFEVRE MARTIN", (), "1940-03-12", "female")
    assert trait_differences(incoming, stored) == []
    assert trait_differences(PatientTraits(gender="male"), stored) == ["gender"]
    assert trait_differences(PatientTraits(), stored) == [], "missing traits never conflict"


def test_a_reference_to_an_unknown_patient_is_unknown() -> None:
    decision = identify(_ref(LOCAL_KEY, in_bundle=False), FakeIndex())
    assert isinstance(decision, Unknown) and "R0042" in decision.diagnostics


def test_a_new_patient_with_similar_traits_is_a_probable_match_never_a_match() -> None:
    twin = _patient("t", (LOCAL, "R9999"))
    other_sex = _patient("m", (LOCAL, "R8888"), gender="male")
    other_name = _patient("n", (LOCAL, "R7777"), name=[{"family": "Martin", "given": ["Paul"]}])
    decision = identify(_ref(LOCAL_KEY), FakeIndex(twin, other_sex, other_name))
    assert isinstance(decision, New)
    assert [p.id for p in decision.probable] == ["t"]


def test_no_probable_match_without_a_birth_date() -> None:
    twin = _patient("t", (LOCAL, "R9999"))
    traits = PatientTraits("DUPONT", ("Marie-Hélène",))
    decision = identify(_ref(LOCAL_KEY, traits=traits), FakeIndex(twin))
    assert decision == New(())


def test_a_retired_record_stands_for_the_one_that_replaced_it() -> None:
    old = _patient(
        "old",
        (LOCAL, "R0042"),
        active=False,
        link=[{"other": {"reference": "Patient/new"}, "type": "replaced-by"}],
    )
    new = _patient("new", (INS, "240037505612377"))
    decision = identify(_ref(LOCAL_KEY), FakeIndex(old, new))
    assert isinstance(decision, Match) and decision.patient.id == "new"


def test_merge_sides_resolve_or_conflict() -> None:
    survivor = _patient("s", (INS, "240037505612377"))
    retired = _patient("r", (LOCAL, "R0099"))
    merge = MergeInstruction((INS_KEY,), (PatientKey(LOCAL, "R0099", "local"),), "MRG")
    pair = resolve_merge(merge, FakeIndex(survivor, retired))
    assert isinstance(pair, MergePair) and (pair.surviving.id, pair.retired.id) == ("s", "r")
    missing = resolve_merge(merge, FakeIndex(survivor))
    assert isinstance(missing, Conflict) and "no stored patient" in missing.diagnostics
    itself = MergeInstruction((INS_KEY,), (INS_KEY,), "MRG")
    assert isinstance(resolve_merge(itself, FakeIndex(survivor)), Conflict)
    elsewhere = _patient(
        "r", (LOCAL, "R0099"), link=[{"other": {"reference": "Patient/x"}, "type": "replaced-by"}]
    )
    assert isinstance(resolve_merge(merge, FakeIndex(survivor, elsewhere)), Conflict)


def test_a_merge_sent_the_other_way_round_is_refused() -> None:
    """After R0099 was merged into the INS record, an A40 naming the retired record as
    the survivor would retire the qualified identity: refused, both ways it can arrive."""
    r0050 = PatientKey(LOCAL, "R0050", "local")
    r0099 = PatientKey(LOCAL, "R0099", "local")
    survivor = _patient(
        "s",
        (INS, "240037505612377"),
        (LOCAL, "R0050"),
        link=[{"other": {"reference": "Patient/r"}, "type": "replaces"}],
    )
    retired = _patient(
        "r", (LOCAL, "R0099"), link=[{"other": {"reference": "Patient/s"}, "type": "replaced-by"}]
    )
    reverse = MergeInstruction((r0099,), (r0050,), "MRG")
    refused = resolve_merge(reverse, FakeIndex(survivor, retired))
    assert isinstance(refused, Conflict)
    assert "Patient/r was merged into Patient/s" in refused.diagnostics


def test_a_qualified_identity_is_not_merged_into_a_provisional_one() -> None:
    provisional = _patient("p", (LOCAL, "R0099"))
    qualified = _patient("q", (INS, "240037505612377"), (LOCAL, "R0050"))
    merge = MergeInstruction(
        (PatientKey(LOCAL, "R0099", "local"),), (PatientKey(LOCAL, "R0050", "local"),), "MRG"
    )
    refused = resolve_merge(merge, FakeIndex(provisional, qualified))
    assert isinstance(refused, Conflict) and "INS" in refused.diagnostics
    both = _patient("p", (INS, "240037505612377"), (LOCAL, "R0099"))
    other = _patient("q", (INS, "285037512345688"), (LOCAL, "R0050"))
    assert isinstance(resolve_merge(merge, FakeIndex(both, other)), MergePair), (
        "two qualified identities may be merged (the survivor's INS stands)"
    )
