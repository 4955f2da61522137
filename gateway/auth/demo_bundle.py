"""The demo record: structures, professionals, patients with valid INS, an EHPAD with its
residents, care teams, one patient choice and a little clinical data, as one idempotent
FHIR transaction (PUT with fixed ids). Loaded by ``dmp-gateway demo``."""

from __future__ import annotations

from typing import Any

from gateway.auth import demo
from gateway.fhir.identifiers import FINESS, IDNAT_PS, IDNAT_STRUCT, INS_NIR

TRE_G15 = "https://mos.esante.gouv.fr/NOS/TRE_G15-ProfessionSante/FHIR/TRE-G15-ProfessionSante"
TRE_A07 = (
    "https://mos.esante.gouv.fr/NOS/TRE_A07-StatusVisibiliteDocument/FHIR/"
    "TRE-A07-StatusVisibiliteDocument"
)
LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"

STRUCTURES = {
    demo.HOSPITAL: ("org-hospital", "Centre hospitalier de démonstration"),
    demo.PHARMACY: ("org-pharmacy", "Pharmacie du Marché"),
    demo.EHPAD: ("org-ehpad", "EHPAD Résidence Les Tilleuls"),
    demo.SAMU: ("org-samu", "SAMU 13, centre 15"),
}

PATIENTS = (
    # id, INS, family, given, gender, birth date (consistent with the NIR: sex, year, month)
    ("alice", demo.PATIENT_INS[0], "Dupont", "Alice", "female", "1985-03-12"),
    ("bruno", demo.PATIENT_INS[1], "Lambert", "Bruno", "male", "1962-01-30"),
    ("chloe", demo.PATIENT_INS[2], "Fabre", "Chloé", "female", "2012-06-05"),
    ("gaston", demo.PATIENT_INS[3], "Mercier", "Gaston", "male", "1945-11-02"),
)
PROFESSIONALS = (
    "physician",
    "pharmacist",
    "nurse",
    "idec",
    "regulator",
    "dentist",
    "physiotherapist",
)


def _put(resource: dict[str, Any]) -> dict[str, Any]:
    return {
        "fullUrl": f"{resource['resourceType']}/{resource['id']}",
        "resource": resource,
        "request": {"method": "PUT", "url": f"{resource['resourceType']}/{resource['id']}"},
    }


def _organizations() -> list[dict[str, Any]]:
    return [
        {
            "resourceType": "Organization",
            "id": rid,
            "identifier": [
                {"system": IDNAT_STRUCT, "value": idnat},
                {"system": FINESS, "value": idnat[1:]},
            ],
            "name": name,
        }
        for idnat, (rid, name) in STRUCTURES.items()
    ]


def _professionals() -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for key in PROFESSIONALS:
        actor = demo.ACTORS[key]
        family, _, given = actor.name.split(",")[0].removeprefix("Dr ").partition(" ")
        out.append(
            {
                "resourceType": "Practitioner",
                "id": f"pr-{key}",
                "identifier": [{"system": IDNAT_PS, "value": actor.subject}],
                "name": [{"family": given or family, "given": [family] if given else []}],
            }
        )
        structure = actor.structure or demo.HOSPITAL
        org_id = STRUCTURES[structure][0]
        namespace = f"https://dmp-gateway.fr/fhir/sid/finess/{structure[1:]}/practitioner-role"
        out.append(
            {
                "resourceType": "PractitionerRole",
                "id": f"role-{key}",
                # The identifier the intake pipeline gives a sender's role: in the FINESS
                # namespace of its structure, idNat_PS/profession (gateway/intake).
                "identifier": [
                    {"system": namespace, "value": f"{actor.subject}/{actor.profession}"}
                ],
                "practitioner": {"reference": f"Practitioner/pr-{key}"},
                "organization": {"reference": f"Organization/{org_id}"},
                "code": [{"coding": [{"system": TRE_G15, "code": actor.profession}]}],
            }
        )
    return out


def _patients() -> list[dict[str, Any]]:
    return [
        {
            "resourceType": "Patient",
            "id": rid,
            "identifier": [{"use": "official", "system": INS_NIR, "value": ins}],
            "name": [{"use": "official", "family": family, "given": [given]}],
            "gender": gender,
            "birthDate": born,
        }
        for rid, ins, family, given, gender, born in PATIENTS
    ]


def _care() -> list[dict[str, Any]]:
    team = {
        "resourceType": "CareTeam",
        "id": "team-alice",
        "status": "active",
        "subject": {"reference": "Patient/alice"},
        "participant": [
            {"member": {"reference": f"Practitioner/pr-{k}"}}
            for k in ("physician", "pharmacist", "nurse")
        ],
    }
    residents = {
        "resourceType": "Group",
        "id": demo.EHPAD_GROUP,
        "type": "person",
        "actual": True,
        "name": "Résidents de l'EHPAD Les Tilleuls",
        "managingEntity": {"reference": "Organization/org-ehpad"},
        "member": [{"entity": {"reference": "Patient/gaston"}}],
    }
    ehpad_team = {
        "resourceType": "CareTeam",
        "id": "team-gaston",
        "status": "active",
        "subject": {"reference": "Patient/gaston"},
        "participant": [
            {"member": {"reference": "Practitioner/pr-idec"}},
            {"member": {"reference": "Practitioner/pr-physician"}},
        ],
    }
    opposition = {
        "resourceType": "Consent",
        "id": "consent-bruno-no-btg",
        "status": "active",
        "scope": {
            "coding": [
                {
                    "system": "http://terminology.hl7.org/CodeSystem/consentscope",
                    "code": "patient-privacy",
                }
            ]
        },
        "category": [{"coding": [{"system": LOINC, "code": "59284-0"}]}],
        "policy": [{"uri": "https://dmp-gateway.fr/fhir/policy/dmp-access"}],
        "patient": {"reference": "Patient/bruno"},
        "provision": {
            "type": "deny",
            "purpose": [
                {"system": "http://terminology.hl7.org/CodeSystem/v3-ActReason", "code": "BTG"}
            ],
        },
    }
    return [team, residents, ehpad_team, opposition]


def _clinical() -> list[dict[str, Any]]:
    vital = {
        "resourceType": "Observation",
        "id": "bp-gaston-1",
        "status": "final",
        "category": [
            {
                "coding": [
                    {
                        "system": "http://terminology.hl7.org/CodeSystem/observation-category",
                        "code": "vital-signs",
                    }
                ]
            }
        ],
        "code": {
            "coding": [{"system": LOINC, "code": "85354-9", "display": "Blood pressure panel"}]
        },
        "subject": {"reference": "Patient/gaston"},
        "effectiveDateTime": "2026-11-20T08:30:00+01:00",
        "performer": [{"reference": "Practitioner/pr-idec"}],
        "component": [
            {
                "code": {"coding": [{"system": LOINC, "code": "8480-6"}]},
                "valueQuantity": {"value": 142, "unit": "mmHg", "system": UCUM, "code": "mm[Hg]"},
            },
            {
                "code": {"coding": [{"system": LOINC, "code": "8462-4"}]},
                "valueQuantity": {"value": 85, "unit": "mmHg", "system": UCUM, "code": "mm[Hg]"},
            },
        ],
    }
    note = {
        "resourceType": "DocumentReference",
        "id": "doc-alice-consultation",
        "meta": {"security": [{"system": TRE_A07, "code": "MASQUE_PS"}]},
        "status": "current",
        "type": {"coding": [{"system": LOINC, "code": "11488-4", "display": "Consultation note"}]},
        "subject": {"reference": "Patient/alice"},
        "author": [{"reference": "Practitioner/pr-physician"}],
        "content": [
            {
                "attachment": {
                    "contentType": "text/plain",
                    "data": "Q29tcHRlIHJlbmR1IGRlIGTDqW1vbnN0cmF0aW9uLg==",
                }
            }
        ],
    }
    return [vital, note]


def demo_transaction() -> dict[str, Any]:
    """The demo record as a FHIR transaction Bundle (idempotent: PUT with fixed ids)."""
    resources = _organizations() + _professionals() + _patients() + _care() + _clinical()
    return {"resourceType": "Bundle", "type": "transaction", "entry": [_put(r) for r in resources]}
