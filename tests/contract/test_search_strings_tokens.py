"""String and token search semantics on both back-ends (https://hl7.org/fhir/R4/search.html)."""

from __future__ import annotations

from typing import Any

from gateway.record.repository import Repository
from tests.contract.searching import idset, seed

LOINC = "http://loinc.org"
V2_0203 = "http://terminology.hl7.org/CodeSystem/v2-0203"


def _patient(rid: str, **fields: Any) -> dict[str, Any]:
    return {"resourceType": "Patient", "id": rid, **fields}


PATIENTS = [
    _patient("p1", name=[{"family": "Durand", "given": ["Léa"]}], active=True),
    _patient("p2", name=[{"family": "DURANDE", "given": ["Marc"]}], active=False),
    _patient("p3", name=[{"family": "Dupont", "given": ["Hélène", "Marie"]}]),
    _patient("p4", name=[{"family": "Müller", "given": ["Straße"]}]),
    _patient("p5", gender="other"),
    _patient("p6", name=[{"text": "Jean de la Fontaine"}]),
    _patient("p7", name=[{"family": "Ab_cd"}]),
    _patient("p8", name=[{"family": "Abxcd"}]),
]

STRING_CASES = [
    ("name=durand", {"p1", "p2"}),
    ("name=Durand", {"p1", "p2"}),
    ("name=dur", {"p1", "p2"}),
    ("name=lea", {"p1"}),
    ("name=LÉA", {"p1"}),
    ("name=helene", {"p3"}),
    ("name=strasse", {"p4"}),
    ("name=STRASSE", {"p4"}),
    ("name=straße", {"p4"}),
    ("name=muller", {"p4"}),
    ("name:exact=Durand", {"p1"}),
    ("name:exact=durand", set()),
    ("name:exact=Léa", {"p1"}),
    ("name:exact=Lea", set()),
    ("name:contains=ran", {"p1", "p2"}),
    ("name:contains=ont", {"p3", "p6"}),
    ("name:contains=b_c", {"p7"}),
    ("name:contains=b%25d", set()),
    ("name=fontaine", set()),
    ("name=jean", {"p6"}),
    ("name=jean de", {"p6"}),
    ("family=dupont", {"p3"}),
    ("given=marie", {"p3"}),
    ("name=durand,dupont", {"p1", "p2", "p3"}),
    ("name=durand&name=lea", {"p1"}),
    ("name=durand&given=marc", {"p2"}),
    ("name:missing=true", {"p5"}),
    ("name:missing=false", {"p1", "p2", "p3", "p4", "p6", "p7", "p8"}),
    ("active=true", {"p1"}),
    ("active=false", {"p2"}),
    ("active:missing=true", {"p3", "p4", "p5", "p6", "p7", "p8"}),
    ("gender=other", {"p5"}),
    ("gender:not=other", {"p1", "p2", "p3", "p4", "p6", "p7", "p8"}),
]


def test_string_search(repo: Repository) -> None:
    seed(repo, PATIENTS)
    failures = [
        (q, got, want) for q, want in STRING_CASES if (got := idset(repo, "Patient", q)) != want
    ]
    assert not failures


def _obs(rid: str, code: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return {"resourceType": "Observation", "id": rid, "status": "final", "code": code, **fields}


OBSERVATIONS = [
    _obs(
        "o1",
        {"coding": [{"system": LOINC, "code": "1", "display": "Body Height"}]},
        identifier=[
            {
                "system": "urn:ids",
                "value": "A1",
                "type": {"coding": [{"system": V2_0203, "code": "MR"}], "text": "Medical record"},
            }
        ],
    ),
    {
        **_obs("o2", {"coding": [{"system": "http://snomed.info/sct", "code": "1"}]}),
        "code": {
            "coding": [{"system": "http://snomed.info/sct", "code": "1"}],
            "text": "Height measured",
        },
        "status": "preliminary",
    },
    _obs("o3", {"coding": [{"code": "1"}]}),
    _obs(
        "o4",
        {"coding": [{"system": LOINC, "code": "2", "display": "Weight"}]},
        category=[{"coding": [{"code": "vital-signs"}]}],
    ),
    _obs("o5", {"text": "Free text only"}),
    _obs(
        "o6", {"coding": [{"system": "urn:x", "code": "a,b"}, {"system": "urn:x", "code": "c|d"}]}
    ),
]

TOKEN_CASES = [
    ("code=1", {"o1", "o2", "o3"}),
    (f"code={LOINC}|1", {"o1"}),
    ("code=|1", {"o3"}),
    (f"code={LOINC}|", {"o1", "o4"}),
    ("code=1,2", {"o1", "o2", "o3", "o4"}),
    (f"code={LOINC}|1,http://snomed.info/sct|1", {"o1", "o2"}),
    ("code:not=1", {"o4", "o5", "o6"}),
    (f"code:not={LOINC}|1", {"o2", "o3", "o4", "o5", "o6"}),
    ("code:text=body", {"o1"}),
    ("code:text=height", {"o2"}),
    ("code:text=HEIGHT MEAS", {"o2"}),
    ("code:text=free", {"o5"}),
    ("category:missing=true", {"o1", "o2", "o3", "o5", "o6"}),
    ("category:missing=false", {"o4"}),
    ("identifier=urn:ids|A1", {"o1"}),
    ("identifier=A1", {"o1"}),
    ("identifier=a1", set()),
    ("identifier=urn:other|A1", set()),
    (f"identifier:of-type={V2_0203}|MR|A1", {"o1"}),
    (f"identifier:of-type={V2_0203}|MR|A2", set()),
    ("identifier:text=medical", {"o1"}),
    ("status=final", {"o1", "o3", "o4", "o5", "o6"}),
    ("status:not=final", {"o2"}),
    ("status=final&code=1", {"o1", "o3"}),
    ("code=urn:x|a\\,b", {"o6"}),
    ("code=urn:x|c\\|d", {"o6"}),
    ("code=a", set()),
]


def test_token_search(repo: Repository) -> None:
    seed(repo, OBSERVATIONS)
    failures = [
        (q, got, want) for q, want in TOKEN_CASES if (got := idset(repo, "Observation", q)) != want
    ]
    assert not failures
