"""Demo identities: professionals, patients, structures (all with valid check keys).

Used by ``dmp-gateway demo`` / ``dmp-gateway token`` and by tests. The numbers are made up:
RPPS and FINESS carry a valid Luhn key, INS a valid NIR key (DOMAIN.md §1), so they pass
the same validation as real ones; in production the INS of test patients must use the
test / demo OID (``urn:oid:1.2.250.1.213.1.4.10`` / ``.11``).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from gateway.access.context import AccessContext, CallerKind

HOSPITAL = "1750000010"  # idNat_Struct = "1" + FINESS 750000010
PHARMACY = "1750000028"
EHPAD = "1920000031"
SAMU = "1130000045"
EHPAD_GROUP = "ehpad-residents"

PATIENT_INS = ("285037512345688", "162017598765444", "212067511122239", "145111355566642")


@dataclass(frozen=True, slots=True)
class DemoActor:
    name: str
    kind: CallerKind
    subject: str
    profession: str | None = None
    specialty: str | None = None
    role: str | None = None
    structure: str | None = None
    group: str | None = None

    def context(self, **changes: Any) -> AccessContext:
        """The caller context this actor's token would give (fields overridable)."""
        ctx = AccessContext(
            kind=self.kind,
            client_id="demo",
            subject=self.subject,
            profession=self.profession,
            specialty=self.specialty,
            role=self.role,
            structure=self.structure,
            group=self.group,
            software="demo/1.0" if self.kind in ("professional", "system") else None,
            patient=self.subject if self.kind == "patient" else None,
        )
        return replace(ctx, **changes)

    def claims(self) -> dict[str, Any]:
        """The caller-fact claims of this actor's token (without iss, aud, times, jti)."""
        facts: dict[str, Any] = {
            "kind": self.kind,
            "sub": self.subject,
            "profession": self.profession,
            "specialty": self.specialty,
            "role": self.role,
            "structure": self.structure,
            "group": self.group,
        }
        if self.kind == "professional":
            facts["purpose_of_use"] = "normal"
        if self.kind in ("professional", "system"):
            facts["software"] = {"name": "demo", "version": "1.0"}
        return {k: v for k, v in facts.items() if v is not None}


PHYSICIAN = DemoActor(
    "Dr Claire Martin, general practitioner",
    "professional",
    "810000000017",
    profession="10",
    specialty="SM26",
    structure=HOSPITAL,
)
PHARMACIST = DemoActor(
    "Paul Bernard, pharmacist",
    "professional",
    "810000000025",
    profession="21",
    structure=PHARMACY,
)
NURSE = DemoActor(
    "Julie Petit, nurse",
    "professional",
    "810000000033",
    profession="60",
    structure=HOSPITAL,
)
IDEC = DemoActor(
    "Nadia Roux, EHPAD coordinating nurse",
    "professional",
    "810000000041",
    profession="60",
    role="330",
    structure=EHPAD,
)
REGULATOR = DemoActor(
    "Dr Marc Leroy, SAMU regulating physician",
    "professional",
    "810000000058",
    profession="10",
    role="regulation",
    structure=SAMU,
)
DENTIST = DemoActor(
    "Dr Anne Morel, dentist",
    "professional",
    "810000000066",
    profession="40",
    structure=HOSPITAL,
)
PHYSIOTHERAPIST = DemoActor(
    "Luc Girard, physiotherapist",
    "professional",
    "810000000074",
    profession="70",
    structure=HOSPITAL,
)
PATIENT = DemoActor("Alice Dupont, patient", "patient", PATIENT_INS[0])
EHPAD_SYSTEM = DemoActor(
    "Résidence Les Tilleuls (EHPAD software)",
    "system",
    "ehpad-sync",
    structure=EHPAD,
    group=EHPAD_GROUP,
)
AUDITOR = DemoActor("Audit tool of the hospital", "auditor", "auditor-1", structure=HOSPITAL)
ADMIN = DemoActor("Gateway operator", "admin", "admin-1")

ACTORS: dict[str, DemoActor] = {
    "physician": PHYSICIAN,
    "pharmacist": PHARMACIST,
    "nurse": NURSE,
    "idec": IDEC,
    "regulator": REGULATOR,
    "dentist": DENTIST,
    "physiotherapist": PHYSIOTHERAPIST,
    "patient": PATIENT,
    "ehpad": EHPAD_SYSTEM,
    "auditor": AUDITOR,
    "admin": ADMIN,
}
