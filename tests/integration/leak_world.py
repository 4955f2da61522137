"""The generated world and the independent reference model of the differential leak test.

Nothing here imports ``gateway.policy``: the rules are re-derived from issue 6, DOMAIN.md §3
and the documented choices of ``gateway/policy/README.md``. The only data shared with the
gateway is ``profiles/access-matrix.yaml`` (the matrix is data by design, issue 6 rule 5);
it is parsed here on its own. See ``test_leak_differential`` for what is covered.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from gateway.fhir.identifiers import IDNAT_PS, IDNAT_STRUCT, INS_NIR, luhn_ok, nir_key

LOINC = "http://loinc.org"
TRE_A07 = (
    "https://mos.esante.gouv.fr/NOS/TRE_A07-StatusVisibiliteDocument/FHIR/"
    "TRE-A07-StatusVisibiliteDocument"
)
CONFIDENTIALITY = "http://terminology.hl7.org/CodeSystem/v3-Confidentiality"
ACT_REASON = "http://terminology.hl7.org/CodeSystem/v3-ActReason"
SCOPE = {
    "coding": [
        {"system": "http://terminology.hl7.org/CodeSystem/consentscope", "code": "patient-privacy"}
    ]
}
POLICY = [{"uri": "https://dmp-gateway.fr/fhir/policy/dmp-access"}]
VISIBILITY = ("MASQUE_PS", "INVISIBLE_PATIENT", "INVISIBLE_REPRESENTANTS_LEGAUX")
CONFIDENTIALITY_CODES = ("N", "R", "V")
UNKNOWN_LABEL = "urn:example:labels|SECRET"

# -- classes, from DOMAIN.md §4 (document types) and the class of each resource type ----------

DOCUMENT_TYPES = {  # DOMAIN.md §4: TRE_A03 class <- LOINC type
    "34112-3": "10",
    "11490-0": "10",
    "11488-4": "10",
    "11502-2": "10",
    "11506-3": "10",
    "60591-5": "11",
    "56445-0": "11",
    "88348-8": "11",
    "57833-6": "42",
    "57832-8": "42",
    "60593-1": "43",
    "18776-5": "44",
    "80788-3": "44",
    "80565-5": "45",
    "87273-9": "52",
}
UNMAPPED_TYPE = "11369-6"  # a LOINC type with no class: refused to everybody (fail closed)

RESOURCE_CLASSES = {  # DOMAIN.md §4 and the gateway classes of the policy README
    "Observation": "10",
    "Encounter": "10",
    "Condition": "11",
    "MedicationRequest": "42",
    "MedicationDispense": "43",
    "CarePlan": "44",
    "MedicationAdministration": "45",
    "Immunization": "52",
    "Patient": "administrative",
    "CareTeam": "administrative",
    "Practitioner": "administrative",
    "PractitionerRole": "administrative",
    "Organization": "administrative",
    "Consent": "consent",
    "Group": "roster",
    "Medication": "not-clinical",
    "Account": "excluded",
}
CLINICAL_TYPES = (
    "Observation",
    "Encounter",
    "Condition",
    "MedicationRequest",
    "MedicationDispense",
    "CarePlan",
    "MedicationAdministration",
    "Immunization",
)


def _luhn_complete(prefix: str) -> str:
    return next(prefix + d for d in "0123456789" if luhn_ok(prefix + d))


def idnat_ps(n: int) -> str:
    return "8" + _luhn_complete(f"1{n:09d}")


def idnat_struct(n: int) -> str:
    return "1" + _luhn_complete(f"75{n:06d}")


def make_ins(n: int, female: bool, year: int, month: int) -> str:
    first13 = f"{2 if female else 1}{year % 100:02d}{month:02d}75{n:03d}{n:03d}"
    return first13 + f"{nir_key(first13):02d}"


# -- the matrix, parsed on its own ---------------------------------------------------------


@dataclass(frozen=True)
class Matrix:
    rows: dict[str, Any]

    @classmethod
    def load(cls, path: Path) -> Matrix:
        return cls(yaml.safe_load(path.read_text("utf-8"))["professions"])

    def reads(self, row: str, klass: str, role: str | None, specialty: str | None) -> bool:
        spec = self.rows.get(row)
        if spec is None:
            return False
        for refine, key in (("roles", role), ("specialties", specialty)):
            override = ((spec.get(refine) or {}).get(key) or {}).get("cells", {})
            if key is not None and klass in override:
                return bool(override[klass]["read"])
        cell = spec["cells"].get(klass)
        return bool(cell and cell["read"])


# -- the world -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Pro:
    key: str
    sub: str
    profession: str
    structure: str
    role: str | None = None
    specialty: str | None = None


@dataclass
class PatientFacts:
    pid: str
    ins: str
    team: set[str] = field(default_factory=set)  # idNat_PS
    team_structures: set[str] = field(default_factory=set)
    blocked: set[str] = field(default_factory=set)
    blocked_structures: set[str] = field(default_factory=set)
    granted: set[str] = field(default_factory=set)
    designated: set[str] = field(default_factory=set)
    groups: set[str] = field(default_factory=set)
    btg_opposition: bool = False
    centre15_opposition: bool = False
    masked_emergency: bool = False
    team_opposition: bool = False
    general_opposition: bool = False
    closed: bool = False
    unreadable: bool = False


@dataclass
class Version:
    content: dict[str, Any] | None  # None: a deletion
    author: str | None
    structure: str | None


@dataclass
class Stored:
    rtype: str
    rid: str
    patient: str | None  # patient id
    versions: list[Version] = field(default_factory=list)
    grant_of: str | None = None  # a Consent that is an access grant to this idNat_PS only

    @property
    def key(self) -> str:
        return f"{self.rtype}/{self.rid}"

    @property
    def deleted(self) -> bool:
        return self.versions[-1].content is None

    def last_live(self) -> Version:
        return next(v for v in reversed(self.versions) if v.content is not None)


Write = tuple[Stored, dict[str, Any] | None, str | None, str | None]


@dataclass(frozen=True)
class Caller:
    kind: str
    sub: str
    profession: str | None = None
    role: str | None = None
    specialty: str | None = None
    structure: str | None = None
    patient: str | None = None  # INS claim
    mode: str = "normal"
    group: str | None = None

    def claims(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": self.kind, "sub": self.sub}
        for name in ("profession", "role", "specialty", "structure", "patient", "group"):
            if getattr(self, name) is not None:
                out[name] = getattr(self, name)
        if self.kind == "professional":
            out["purpose_of_use"] = self.mode
            if self.mode == "bris_de_glace":
                out["justification"] = "patient inconscient, urgence vitale"
        if self.kind in ("professional", "system"):
            out["software"] = {"name": "leak-test", "version": "1.0"}
        return out


HOSPITAL, CLINIC, PHARMACY, SAMU, EHPAD1, EHPAD2 = (idnat_struct(n) for n in range(1, 7))
STRUCTURES = {
    HOSPITAL: "org-hospital",
    CLINIC: "org-clinic",
    PHARMACY: "org-pharmacy",
    SAMU: "org-samu",
    EHPAD1: "org-ehpad-1",
    EHPAD2: "org-ehpad-2",
}
GROUPS = {"grp-ehpad-1": EHPAD1, "grp-ehpad-2": EHPAD2}

_PROS = [  # key, profession, structure, role, specialty: every TRE_G15 code of the matrix
    ("gp1", "10", HOSPITAL, None, "SM26"),
    ("gp2", "10", CLINIC, None, "SM26"),
    ("gp3", "10", EHPAD1, None, None),
    ("reg", "10", SAMU, "regulation", None),
    ("ph1", "21", PHARMACY, None, None),
    ("ph2", "21", PHARMACY, None, None),
    ("de1", "40", CLINIC, None, None),
    ("sf1", "50", HOSPITAL, None, None),
    ("in1", "60", HOSPITAL, None, None),
    ("in2", "60", CLINIC, None, None),
    ("idec1", "60", EHPAD1, "330", None),
    ("idec2", "60", EHPAD2, "330", None),
    ("ip1", "69", HOSPITAL, None, None),
    ("mk1", "70", CLINIC, None, None),
]
PROS = [Pro(k, idnat_ps(i + 1), p, s, r, sp) for i, (k, p, s, r, sp) in enumerate(_PROS)]
PRO_BY_SUB = {p.sub: p for p in PROS}


class World:
    """At least 50 patients with every kind of choice, and their record (deterministic)."""

    def __init__(self, matrix: Matrix, patients: int = 56, seed: int = 6) -> None:
        self.matrix = matrix
        self.rng = random.Random(seed)
        self.patients: dict[str, PatientFacts] = {}
        self.stored: dict[str, Stored] = {}
        self.writes: list[list[tuple[str, str | None, str | None, dict[str, Any] | None]]] = []
        self._directory()
        first: list[Write] = []
        for n in range(patients):
            first.extend(self._patient(n))
        self._groups(first)
        # Writes in rounds: creations, then updates, then deletions (versions 2, 3...).
        self._round(first)
        self._updates()
        self._deletions()

    # -- building -------------------------------------------------------------------------

    def _add(self, rtype: str, rid: str, patient: str | None, content: dict[str, Any]) -> Stored:
        stored = Stored(rtype, rid, patient)
        self.stored[stored.key] = stored
        content.update(resourceType=rtype, id=rid)
        return stored

    def _round(self, items: list[Write]) -> None:
        batch = []
        for stored, content, author, structure in items:
            stored.versions.append(Version(content, author, structure))
            batch.append((stored.key, author, structure, content))
        self.writes.append(batch)

    def _directory(self) -> None:
        first: list[Write] = []
        for idnat, rid in STRUCTURES.items():
            org: dict[str, Any] = {
                "identifier": [{"system": IDNAT_STRUCT, "value": idnat}],
                "name": rid,
            }
            first.append((self._add("Organization", rid, None, org), org, None, None))
        for pro in PROS:
            prac: dict[str, Any] = {
                "identifier": [{"system": IDNAT_PS, "value": pro.sub}],
                "name": [{"family": pro.key.upper()}],
            }
            first.append((self._add("Practitioner", f"pr-{pro.key}", None, prac), prac, None, None))
            role: dict[str, Any] = {
                "practitioner": {"reference": f"Practitioner/pr-{pro.key}"},
                "organization": {"reference": f"Organization/{STRUCTURES[pro.structure]}"},
            }
            first.append(
                (self._add("PractitionerRole", f"role-{pro.key}", None, role), role, None, None)
            )
        med: dict[str, Any] = {
            "code": {"coding": [{"system": "urn:example:cip", "code": "3400930000000"}]}
        }
        first.append((self._add("Medication", "med-1", None, med), med, None, None))
        self._round(first)

    def _labels(self) -> list[dict[str, str]]:
        rng = self.rng
        roll = rng.random()
        if roll < 0.45:
            return []
        if roll < 0.62:
            return [{"system": TRE_A07, "code": "MASQUE_PS"}]
        if roll < 0.74:
            return [{"system": TRE_A07, "code": "INVISIBLE_PATIENT"}]
        if roll < 0.80:
            return [{"system": TRE_A07, "code": "INVISIBLE_REPRESENTANTS_LEGAUX"}]
        if roll < 0.97:
            return [{"system": CONFIDENTIALITY, "code": rng.choice(CONFIDENTIALITY_CODES)}]
        if roll < 0.985:
            system, code = UNKNOWN_LABEL.split("|")
            return [{"system": system, "code": code}]
        return [{"system": CONFIDENTIALITY, "code": "N"}, {"system": CONFIDENTIALITY, "code": "V"}]

    def _author(self, facts: PatientFacts) -> tuple[str | None, str | None]:
        rng = self.rng
        roll = rng.random()
        if roll < 0.1 and facts.groups:
            group = rng.choice(sorted(facts.groups))
            return "ehpad-sync", GROUPS[group]
        if roll < 0.15:
            return facts.ins, None  # the patient's own document
        pro = rng.choice(PROS)
        return pro.sub, pro.structure

    def _patient(self, n: int) -> Iterator[Write]:
        rng = self.rng
        female = n % 2 == 0
        year, month = 1930 + n, 1 + n % 12
        pid = f"p{n:02d}"
        ins = make_ins(n + 1, female, year, month)
        facts = PatientFacts(pid, ins)
        self.patients[pid] = facts
        ref = {"reference": f"Patient/{pid}"}
        patient: dict[str, Any] = {
            "identifier": [{"use": "official", "system": INS_NIR, "value": ins}],
            "name": [{"use": "official", "family": f"Famille{n}", "given": ["Prenom"]}],
            "gender": "female" if female else "male",
            "birthDate": f"{year}-{month:02d}-15",
        }
        if rng.random() < 0.2:
            gp = rng.choice([p for p in PROS if p.profession == "10"])
            patient["generalPractitioner"] = [{"reference": f"Practitioner/pr-{gp.key}"}]
            facts.team.add(gp.sub)
        yield self._add("Patient", pid, pid, patient), patient, None, None
        # care team(s)
        for t in range(rng.choice((0, 1, 1, 1, 2))):
            members = rng.sample(PROS, rng.randint(2, 7))
            active = rng.random() < 0.85
            participants = [{"member": {"reference": f"Practitioner/pr-{m.key}"}} for m in members]
            if rng.random() < 0.15:
                org = rng.choice(sorted(STRUCTURES))
                participants.append({"member": {"reference": f"Organization/{STRUCTURES[org]}"}})
                if active:
                    facts.team_structures.add(org)
            if active:
                facts.team.update(m.sub for m in members)
            team = {
                "status": "active" if active else "inactive",
                "subject": ref,
                "participant": participants,
            }
            yield self._add("CareTeam", f"team-{pid}-{t}", pid, team), team, None, None
        yield from self._consents(facts)
        yield from self._clinical(facts)

    def _consent(self, facts: PatientFacts, name: str, body: dict[str, Any]) -> Stored:
        body.update(status="active", scope=SCOPE, patient={"reference": f"Patient/{facts.pid}"})
        if "policyRule" not in body:
            body["policy"] = POLICY
        body["category"] = [{"coding": [{"system": LOINC, "code": "59284-0"}]}]
        return self._add("Consent", f"consent-{facts.pid}-{name}", facts.pid, body)

    def _consents(self, facts: PatientFacts) -> Iterator[Write]:
        rng = self.rng

        def actor(pro: Pro) -> list[dict[str, Any]]:
            return [
                {
                    "role": {"coding": [{"code": "PRCP"}]},
                    "reference": {"reference": f"Practitioner/pr-{pro.key}"},
                }
            ]

        def purposes(*codes: str) -> list[dict[str, str]]:
            return [{"system": ACT_REASON, "code": c} for c in codes]

        label = [{"system": TRE_A07, "code": "MASQUE_PS"}]
        made: list[tuple[str, dict[str, Any]]] = []
        if rng.random() < 0.15:
            pro = rng.choice(PROS)
            facts.blocked.add(pro.sub)
            made.append(("blocked", {"provision": {"type": "deny", "actor": actor(pro)}}))
        if rng.random() < 0.05:
            org = rng.choice(sorted(STRUCTURES))
            facts.blocked_structures.add(org)
            org_actor = [
                {
                    "role": {"coding": [{"code": "PRCP"}]},
                    "reference": {"reference": f"Organization/{STRUCTURES[org]}"},
                }
            ]
            made.append(("blocked-org", {"provision": {"type": "deny", "actor": org_actor}}))
        btg, c15 = rng.random() < 0.25, rng.random() < 0.2
        if btg or c15:
            facts.btg_opposition, facts.centre15_opposition = btg, c15
            codes = (["BTG"] if btg else []) + (["ETREAT"] if c15 else [])
            made.append(("emergency", {"provision": {"type": "deny", "purpose": purposes(*codes)}}))
        if rng.random() < 0.3:
            facts.masked_emergency = True
            body = {"type": "permit", "purpose": purposes("BTG", "ETREAT"), "securityLabel": label}
            made.append(("masked", {"provision": body}))
        if rng.random() < 0.25:
            pro = rng.choice(PROS)
            facts.designated.add(pro.sub)
            body = {"type": "permit", "actor": actor(pro), "securityLabel": label}
            made.append(("designation", {"provision": body}))
        grant: Pro | None = None
        if rng.random() < 0.3:
            grant = rng.choice(PROS)
            facts.granted.add(grant.sub)
            made.append(("grant", {"provision": {"type": "permit", "actor": actor(grant)}}))
        if rng.random() < 0.12:
            facts.team_opposition = True
            nested = rng.choice(PROS)
            facts.granted.add(nested.sub)
            body = {"type": "deny", "provision": [{"type": "permit", "actor": actor(nested)}]}
            made.append(("team-opposition", {"provision": body}))
        if rng.random() < 0.05:
            facts.general_opposition = True
            rule = {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode",
                                "code": "OPTOUT"}]}  # fmt: skip
            made.append(("optout", {"policyRule": rule, "provision": {"type": "deny"}}))
        if rng.random() < 0.04:
            facts.closed = True
            rule = {"coding": [{"system": "https://dmp-gateway.fr/fhir/CodeSystem/record-policy",
                                "code": "closed"}]}  # fmt: skip
            made.append(("closed", {"policyRule": rule}))
        if rng.random() < 0.04:
            facts.unreadable = True  # a deny with a purpose the gateway does not model
            made.append(("odd", {"provision": {"type": "deny", "purpose": purposes("HRESCH")}}))
        for name, body in made:
            stored = self._consent(facts, name, body)
            if name == "grant" and grant is not None:
                stored.grant_of = grant.sub
            # Choices recorded by the patient (as the API would: the patient's token).
            yield stored, body, facts.ins, None

    def _clinical(self, facts: PatientFacts) -> Iterator[Write]:
        rng, pid = self.rng, facts.pid
        ref = {"reference": f"Patient/{pid}"}
        enc_id = f"enc-{pid}"
        others = [f"p{m:02d}" for m in range(len(self.patients) - 1)]

        def meta(labels: list[dict[str, str]]) -> dict[str, Any]:
            return {"meta": {"security": labels}} if labels else {}

        bodies: dict[str, dict[str, Any]] = {
            "Encounter": {"status": "finished", "class": {"code": "AMB"}, "subject": ref},
            "Observation": {
                "status": "final",
                "code": {"coding": [{"system": LOINC, "code": rng.choice(("8867-4", "29463-7"))}]},
                "subject": ref,
                "encounter": {"reference": f"Encounter/{enc_id}"},
                "performer": [{"reference": f"Practitioner/pr-{rng.choice(PROS).key}"}],
            },
            "Condition": {
                "subject": ref,
                "code": {"text": "hypertension"},
                "encounter": {"reference": f"Encounter/{enc_id}"},
            },
            "MedicationRequest": {
                "status": "active",
                "intent": "order",
                "medicationReference": {"reference": "Medication/med-1"},
                "subject": ref,
            },
            "MedicationDispense": {
                "status": "completed",
                "medicationReference": {"reference": "Medication/med-1"},
                "subject": ref,
                "authorizingPrescription": [{"reference": f"MedicationRequest/mr-{pid}"}],
            },
            "CarePlan": {"status": "active", "intent": "plan", "subject": ref},
            "MedicationAdministration": {
                "status": "completed",
                "medicationReference": {"reference": "Medication/med-1"},
                "subject": ref,
                "effectiveDateTime": "2026-01-02T10:00:00+01:00",
            },
            "Immunization": {
                "status": "completed",
                "vaccineCode": {"text": "grippe"},
                "patient": ref,
                "occurrenceDateTime": "2026-01-03",
            },
        }
        if others and rng.random() < 0.3:  # a reference into another patient's record
            other = rng.choice(others)
            bodies["Observation"]["hasMember"] = [{"reference": f"Observation/obs-{other}"}]
        ids = {
            "Encounter": enc_id,
            "Observation": f"obs-{pid}",
            "Condition": f"cond-{pid}",
            "MedicationRequest": f"mr-{pid}",
            "MedicationDispense": f"md-{pid}",
            "CarePlan": f"cp-{pid}",
            "MedicationAdministration": f"ma-{pid}",
            "Immunization": f"imm-{pid}",
        }
        for rtype in CLINICAL_TYPES:
            body = {**bodies[rtype], **meta(self._labels())}
            author, structure = self._author(facts)
            if author == facts.ins:
                author, structure = self._author(facts)  # patients write documents only
            if author == facts.ins:
                author, structure = PROS[0].sub, PROS[0].structure
            yield self._add(rtype, ids[rtype], pid, body), body, author, structure
        types = [*DOCUMENT_TYPES, UNMAPPED_TYPE]
        for d, code in enumerate(rng.sample(types, 5)):
            body = {
                **meta(self._labels()),
                "status": "current",
                "type": {"coding": [{"system": LOINC, "code": code}]},
                "subject": ref,
                "context": {"encounter": [{"reference": f"Encounter/{enc_id}"}]},
                "content": [{"attachment": {"contentType": "text/plain", "data": "dGV4dGU="}}],
            }
            author, structure = self._author(facts)
            if author != facts.ins and author in PRO_BY_SUB:
                body["author"] = [{"reference": f"Practitioner/pr-{PRO_BY_SUB[author].key}"}]
            yield (
                self._add("DocumentReference", f"doc-{pid}-{d}", pid, body),
                body,
                author,
                structure,
            )

    def _groups(self, first: list[Write]) -> None:
        members: dict[str, list[str]] = {"grp-ehpad-1": [], "grp-ehpad-2": []}
        for n, pid in enumerate(sorted(self.patients)):
            if n % 4 == 0:
                members["grp-ehpad-1"].append(pid)
            if n % 7 == 0:
                members["grp-ehpad-2"].append(pid)
        for gid, pids in members.items():
            for pid in pids:
                self.patients[pid].groups.add(gid)
            body = {
                "type": "person",
                "actual": True,
                "managingEntity": {"reference": f"Organization/{STRUCTURES[GROUPS[gid]]}"},
                "member": [{"entity": {"reference": f"Patient/{p}"}} for p in pids],
            }
            first.append((self._add("Group", gid, None, body), body, None, None))

    def _updates(self) -> None:
        """Second versions: labels added or dropped, statuses changed (history, vread)."""
        rng = self.rng
        items: list[Write] = []
        for stored in list(self.stored.values()):
            if stored.rtype not in ("DocumentReference", "Observation", "Condition"):
                continue
            if rng.random() >= 0.3:
                continue
            last = stored.versions[-1]
            assert last.content is not None
            body = {k: v for k, v in last.content.items() if k != "meta"}
            labels = self._labels()
            if labels == (last.content.get("meta") or {}).get("security", []):
                labels = [] if labels else [{"system": TRE_A07, "code": "MASQUE_PS"}]
            if labels:
                body["meta"] = {"security": labels}
            if stored.rtype == "Observation":
                body["status"] = "amended"
            items.append((stored, body, last.author, last.structure))
        self._round(items)

    def _deletions(self) -> None:
        rng = self.rng
        items: list[Write] = []
        for stored in list(self.stored.values()):
            if stored.rtype in (*CLINICAL_TYPES, "DocumentReference") and rng.random() < 0.05:
                last = stored.versions[-1]
                items.append((stored, None, last.author, last.structure))
        self._round(items)

    # -- the reference model ----------------------------------------------------------------

    def klass(self, version: Version, rtype: str) -> str | None:
        if rtype == "DocumentReference":
            assert version.content is not None
            codes = [c["code"] for c in version.content["type"]["coding"]]
            found = {DOCUMENT_TYPES.get(c) for c in codes}
            return found.pop() if len(found) == 1 else None
        return RESOURCE_CLASSES.get(rtype)

    def allows(self, caller: Caller, stored: Stored, version: Version) -> bool:
        """May ``caller`` see this version's content? (DOMAIN.md §3, issue 6, README choices)"""
        assert version.content is not None
        klass = self.klass(version, stored.rtype)
        if klass is None or klass == "excluded":
            return False  # unmapped classes fail closed
        labels = set()
        for coding in (version.content.get("meta") or {}).get("security", []):
            system, code = coding["system"], coding["code"]
            if (system == TRE_A07 and code in VISIBILITY) or (
                system == CONFIDENTIALITY and code in CONFIDENTIALITY_CODES
            ):
                labels.add(code)
            else:
                return False  # an unknown label denies everything
        if len(labels & set(CONFIDENTIALITY_CODES)) > 1:
            return False  # two confidentiality levels: fail closed
        kind = caller.kind
        if klass == "not-clinical":
            return True
        if klass == "audit":
            return kind == "auditor"
        if kind == "auditor":
            return False  # auditors read audit data only
        if kind == "admin":  # directory and rosters, no patient data
            return klass in ("administrative", "roster") and stored.patient is None
        if klass == "roster":
            return kind == "system" and caller.group == stored.rid
        if stored.patient is None:
            return klass == "administrative"  # directory data
        facts = self.patients[stored.patient]
        if kind == "patient":
            # Their own record, minus INVISIBLE_PATIENT (not announced, under a month old);
            # INVISIBLE_REPRESENTANTS_LEGAUX hides from representatives only.
            return (
                caller.sub == facts.ins and not facts.closed and "INVISIBLE_PATIENT" not in labels
            )
        if kind == "professional" and caller.patient != facts.ins:
            return False  # the token must name this patient (VIHF)
        if facts.unreadable:
            return False
        # 1. blocked
        if kind == "professional" and caller.sub in facts.blocked:
            return False
        if caller.structure in facts.blocked_structures:
            return False
        # 2. closed record, general opposition
        if facts.closed or facts.general_opposition:
            return False
        # 3. mode
        emergency = caller.mode != "normal"
        if caller.mode == "bris_de_glace" and facts.btg_opposition:
            return False
        if caller.mode == "centre_15" and (
            caller.profession != "10" or caller.role != "regulation" or facts.centre15_opposition
        ):
            return False
        # 4. relationship
        if kind == "system":
            if caller.group not in facts.groups:
                return False
        else:
            in_team = caller.sub in facts.team or caller.structure in facts.team_structures
            related = (in_team and not facts.team_opposition) or caller.sub in facts.granted
            if not related and not emergency:
                return False
        # 5. matrix (the author may always re-read what they wrote)
        if kind == "system":
            is_author = version.structure is not None and version.structure == caller.structure
        else:
            is_author = version.author is not None and version.author == caller.sub
        if klass == "consent":
            # Choices are the patient's (matrix comment: professionals only *record* a
            # consent to their own access); a professional re-reads a grant naming only them.
            return kind == "professional" and stored.grant_of == caller.sub
        row = "system" if kind == "system" else str(caller.profession)
        role = None if kind == "system" else caller.role
        spec = None if kind == "system" else caller.specialty
        if not (self.matrix.reads(row, klass, role, spec) or is_author):
            return False
        # 6. labels
        masked = "MASQUE_PS" in labels or "V" in labels
        if masked and not is_author:
            designated = kind == "professional" and caller.sub in facts.designated
            if not designated and not (emergency and facts.masked_emergency):
                return False
        return not ("R" in labels and emergency and not facts.masked_emergency)

    def may_see_version(self, caller: Caller, stored: Stored, number: int) -> bool:
        """A version is shown only if the resource itself may be seen: its content and the
        resource's current state (the last live version for a deleted resource)."""
        version = stored.versions[number - 1]
        if version.content is None:
            version = stored.versions[number - 2]
        return self.allows(caller, stored, version) and self.allows(
            caller, stored, stored.last_live()
        )

    def may_see(self, caller: Caller, stored: Stored) -> bool:
        return self.allows(caller, stored, stored.last_live())
