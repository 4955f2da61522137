"""The identity stage: which stored Patient a payload is about (DOMAIN.md §1, issue 5).

Rules, in order:

1. **INS first, then the source's local id** (:attr:`PatientRef.keys` is already in that
   order). Each key is looked up among *all* stored patients, whatever the caller may
   see: matching is the gateway's job, and a patient hidden from the caller must not be
   duplicated because of it (the caller's writes are then judged by the access rules).
   A retired Patient (``link`` ``replaced-by``, set by an A40 merge) stands for the one
   that replaced it.
2. Keys that designate **different** patients, an identifier carried by several
   patients, or an incoming INS that differs from the matched patient's INS: a
   **conflict** (quarantine).
3. Matched **by INS**, the INS traits must agree (birth date, sex, birth family name,
   birth place INSEE code, each compared when both sides have it; names without case,
   accents or punctuation): an INS is only carried by a qualified identity, so another
   birth date is another person or an error. A conflict shows both versions. Matched by
   a local id only, traits may change (a provisional identity being corrected).
4. **No key matches**: a payload that describes the patient creates it; a payload that
   only refers to one (a CSV vitals row) is about an **unknown** patient (quarantine).
   Before creating, patients with the same birth date and a similar name are looked
   up: a **probable match** is never merged, only flagged for review.

Everything here is pure; :class:`PatientIndex` is what it asks of storage.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from gateway.fhir.identifiers import INS_SYSTEMS
from gateway.ingest.patients import BIRTH_PLACE, INSEE_CODE, traits_of
from gateway.ingest.result import MergeInstruction, PatientKey, PatientRef, PatientTraits


@dataclass(frozen=True, slots=True)
class StoredPatient:
    id: str
    version: int
    body: dict[str, Any]

    @property
    def reference(self) -> str:
        return f"Patient/{self.id}"

    @property
    def ins(self) -> dict[str, set[str]]:
        """INS values by system."""
        out: dict[str, set[str]] = {}
        for ident in self.body.get("identifier") or []:
            if isinstance(ident, Mapping) and ident.get("system") in INS_SYSTEMS:
                value = ident.get("value")
                if isinstance(value, str):
                    out.setdefault(str(ident["system"]), set()).add(value)
        return out

    @property
    def traits(self) -> PatientTraits:
        return traits_of(self.body, birth_place_of(self.body))

    @property
    def replaced_by(self) -> str | None:
        """The id of the Patient that replaced this one (an A40 merge), if any."""
        for link in self.body.get("link") or []:
            if isinstance(link, Mapping) and link.get("type") == "replaced-by":
                ref = (link.get("other") or {}).get("reference")
                if isinstance(ref, str) and ref.startswith("Patient/"):
                    return ref.split("/", 1)[1]
        return None


class PatientIndex(Protocol):
    """Lookups among every stored, live Patient (not filtered by the caller's rights)."""

    def by_identifier(self, key: PatientKey) -> list[StoredPatient]: ...

    def by_birth_date(self, birth_date: str) -> list[StoredPatient]: ...

    def get(self, patient_id: str) -> StoredPatient | None: ...


@dataclass(frozen=True, slots=True)
class Match:
    patient: StoredPatient
    key: PatientKey


@dataclass(frozen=True, slots=True)
class Conflict:
    diagnostics: str
    details: dict[str, Any] = field(default_factory=dict)
    patient_id: str | None = None


@dataclass(frozen=True, slots=True)
class Unknown:
    keys: tuple[PatientKey, ...]

    @property
    def diagnostics(self) -> str:
        tokens = ", ".join(k.token for k in self.keys)
        return f"no stored patient has the identifier(s) {tokens}: send the resident first"


@dataclass(frozen=True, slots=True)
class New:
    probable: tuple[StoredPatient, ...] = ()


Decision = Match | Conflict | Unknown | New


def _fold(text: str | None) -> str:
    """Case, accents, punctuation and spacing removed: ``Lefèvre-Marie`` → ``lefevremarie``."""
    if not text:
        return ""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if c.isalnum()).casefold()


def birth_place_of(body: Mapping[str, Any]) -> str | None:
    """The INSEE code of the birth place extension (FR Core), if any."""
    for ext in body.get("extension") or []:
        if not isinstance(ext, Mapping) or ext.get("url") != BIRTH_PLACE:
            continue
        address = ext.get("valueAddress") or {}
        for inner in address.get("extension") or []:
            if isinstance(inner, Mapping) and inner.get("url") == INSEE_CODE:
                code = (inner.get("valueCoding") or {}).get("code")
                return code if isinstance(code, str) else None
    return None


def traits_view(traits: PatientTraits) -> dict[str, Any]:
    """The traits as shown in a conflict (both versions, side by side)."""
    return {
        "family": traits.family,
        "given": list(traits.given),
        "birthDate": traits.birth_date,
        "gender": traits.gender,
        "birthPlace": traits.birth_place,
    }


def trait_differences(incoming: PatientTraits, stored: PatientTraits) -> list[str]:
    """The INS traits that both sides give and that differ."""
    out = []
    pairs = (
        ("birthDate", incoming.birth_date, stored.birth_date),
        ("gender", incoming.gender, stored.gender),
        ("family", _fold(incoming.family), _fold(stored.family)),
        ("birthPlace", incoming.birth_place, stored.birth_place),
    )
    for name, mine, theirs in pairs:
        if mine and theirs and mine != theirs:
            out.append(name)
    return out


def _follow(found: StoredPatient, index: PatientIndex) -> StoredPatient:
    seen = {found.id}
    current = found
    while (target := current.replaced_by) is not None and target not in seen:
        nxt = index.get(target)
        if nxt is None:
            break
        seen.add(target)
        current = nxt
    return current


def _lookup(key: PatientKey, index: PatientIndex) -> list[StoredPatient]:
    found = {p.id: p for p in (_follow(p, index) for p in index.by_identifier(key))}
    return list(found.values())


def probable_matches(traits: PatientTraits, index: PatientIndex) -> tuple[StoredPatient, ...]:
    """Stored patients with the same birth date, a compatible sex and a similar name."""
    if not traits.birth_date or not (traits.family or traits.given):
        return ()
    family, given = _fold(traits.family), _fold(traits.given[0] if traits.given else None)
    out = []
    for candidate in index.by_birth_date(traits.birth_date):
        theirs = candidate.traits
        if traits.gender and theirs.gender and traits.gender != theirs.gender:
            continue
        names = {_fold(n.get("family")) for n in candidate.body.get("name") or []}
        givens = {_fold(g) for n in candidate.body.get("name") or [] for g in n.get("given") or []}
        if (family and family in names) or (given and given in givens):
            out.append(candidate)
    return tuple(out)


def identify(patient: PatientRef, index: PatientIndex) -> Decision:
    """Decide who ``patient`` is (see the module docstring for the rules)."""
    matches: list[tuple[PatientKey, StoredPatient]] = []
    for key in patient.keys:
        found = _lookup(key, index)
        if len(found) > 1:
            ids = ", ".join(p.reference for p in found)
            return Conflict(
                f"{key.token} designates several patients ({ids}): merge them first",
                {"identifier": key.token, "patients": [p.reference for p in found]},
            )
        if found:
            matches.append((key, found[0]))
    if not matches:
        if not patient.in_bundle:
            return Unknown(patient.keys)
        return New(probable_matches(patient.traits, index))
    key, first = matches[0]
    for other_key, other in matches[1:]:
        if other.id != first.id:
            return Conflict(
                f"{key.token} designates {first.reference} but {other_key.token} designates "
                f"{other.reference}",
                {
                    "incoming": traits_view(patient.traits),
                    "patients": {
                        first.reference: traits_view(first.traits),
                        other.reference: traits_view(other.traits),
                    },
                },
                first.id,
            )
    stored_ins = first.ins
    for incoming in (k for k in patient.keys if k.is_ins):
        values = stored_ins.get(incoming.system)
        if values and incoming.value not in values:
            return Conflict(
                f"{first.reference} carries another INS than {incoming.token}",
                {"stored": sorted(values), "incoming": incoming.value},
                first.id,
            )
    if key.is_ins:
        differences = trait_differences(patient.traits, first.traits)
        if differences:
            return Conflict(
                f"the traits of {key.token} differ from the stored identity "
                f"({', '.join(differences)})",
                {
                    "patient": first.reference,
                    "differences": differences,
                    "stored": traits_view(first.traits),
                    "incoming": traits_view(patient.traits),
                },
                first.id,
            )
    return Match(first, key)


@dataclass(frozen=True, slots=True)
class MergePair:
    surviving: StoredPatient
    retired: StoredPatient


def _resolve_side(keys: Sequence[PatientKey], index: PatientIndex) -> StoredPatient | Conflict:
    found: dict[str, StoredPatient] = {}
    for key in keys:
        # An already-retired patient is looked up as itself here, not followed.
        for p in index.by_identifier(key):
            found[p.id] = p
    if len(found) != 1:
        tokens = ", ".join(k.token for k in keys)
        what = "no stored patient" if not found else f"{len(found)} patients"
        return Conflict(f"{what} for {tokens}")
    return next(iter(found.values()))


def resolve_merge(merge: MergeInstruction, index: PatientIndex) -> MergePair | Conflict:
    """Both sides of an A40 merge, or why it cannot be applied (quarantine)."""
    surviving = _resolve_side(merge.surviving, index)
    if isinstance(surviving, Conflict):
        return Conflict(f"surviving patient: {surviving.diagnostics}")
    retired = _resolve_side(merge.retired, index)
    if isinstance(retired, Conflict):
        return Conflict(f"patient to merge ({merge.location}): {retired.diagnostics}")
    if retired.id == surviving.id:
        return Conflict(f"{retired.reference} cannot be merged into itself")
    if retired.replaced_by not in (None, surviving.id):
        return Conflict(
            f"{retired.reference} was already merged into Patient/{retired.replaced_by}"
        )
    if surviving.replaced_by is not None:  # e.g. the same merge sent the other way round
        return Conflict(
            f"{surviving.reference} was merged into Patient/{surviving.replaced_by}: a "
            "retired record cannot survive a merge"
        )
    if retired.ins and not surviving.ins:
        return Conflict(
            f"{retired.reference} carries an INS and {surviving.reference} none: a qualified "
            "identity is not merged into a provisional one (send the merge the other way)"
        )
    return MergePair(surviving, retired)
