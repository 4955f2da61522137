"""Assembling a :class:`ParseResult`: entries, fullUrls, business identifiers, issues.

Parsers describe what they found; an :class:`Assembly` turns it into transaction
entries, deterministically: parsing the same payload twice gives identical output.

**fullUrls.** Resources that stand for a business object shared across messages
(Patient, Practitioner, PractitionerRole, Organization, Medication) get a
``urn:uuid`` derived (UUID v5) from their business identifier, so the same object has
the same fullUrl in every result and results can be merged into one Bundle
(:func:`gateway.ingest.result.transaction` keeps one entry per fullUrl). The other
resources get a ``urn:uuid`` derived from the message seed and their place in it.

**Business identifiers** (what makes re-ingestion and cross-channel duplicates
harmless, through ``ifNoneExist``): see :meth:`Assembly.business_id` and
:meth:`Assembly.natural_id`, and the rules in :mod:`gateway.ingest`.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from dataclasses import dataclass
from typing import Any, Literal

from gateway.ingest.issues import IngestIssue, Location, from_normalisation
from gateway.ingest.result import (
    AckCode,
    Entry,
    MergeInstruction,
    MessageHeader,
    ParseResult,
    PatientRef,
    identifier_query,
)
from gateway.ingest.tidy import tidy
from gateway.normalise.errors import NormalisationError
from gateway.normalise.identifiers import NormalisedIdentifier, structure
from gateway.normalise.source import SourceConfig
from gateway.normalise.terminology import Coding, Terminology
from gateway.normalise.times import FhirTime, as_instant

_NAMESPACE = uuid.UUID("5b0c2f0e-8a3e-5d8a-9a55-6d6d70676177").bytes
_UNSAFE = re.compile(r"[^A-Za-z0-9._\-]+")
PROFESSION_SYSTEM = (
    "https://mos.esante.gouv.fr/NOS/TRE_G15-ProfessionSante/FHIR/TRE-G15-ProfessionSante"
)
PHARMACIST = Coding(PROFESSION_SYSTEM, "21", "Pharmacien")
NURSE = Coding(PROFESSION_SYSTEM, "60", "Infirmier")
PHYSICIAN = Coding(PROFESSION_SYSTEM, "10", "Médecin")


@dataclass(frozen=True, slots=True)
class Professional:
    """A professional found in the payload: identifiers (idNat_PS first) and name."""

    identifiers: tuple[NormalisedIdentifier, ...]
    name: dict[str, Any] | None = None

    @property
    def key(self) -> str:
        first = self.identifiers[0]
        return f"{first.system}|{first.value}"


def _uuid5(name: str) -> str:
    """``urn:uuid:`` + RFC 4122 UUID v5 of ``name`` (what :func:`uuid.uuid5` computes, faster)."""
    digest = bytearray(
        hashlib.sha1(_NAMESPACE + name.encode("utf-8"), usedforsecurity=False).digest()[:16]
    )
    digest[6] = (digest[6] & 0x0F) | 0x50
    digest[8] = (digest[8] & 0x3F) | 0x80
    h = digest.hex()
    return f"urn:uuid:{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


class Assembly:
    """Collects the entries, issues and assumptions of one :class:`ParseResult`."""

    def __init__(
        self,
        source: SourceConfig,
        terminology: Terminology,
        seed: str,
        shared: dict[tuple[str, ...], list[Entry]] | None = None,
    ) -> None:
        self.source = source
        self.terminology = terminology
        self.seed = seed
        # Shared actors built once per file (CSV): key -> the entries it adds, in order.
        self._shared = shared if shared is not None else {}
        self._entries: dict[str, Entry] = {}
        self.issues: list[IngestIssue] = []
        self._assumptions: dict[str, list[str]] = {}
        self.author: str | None = None  # fullUrl of the PractitionerRole who authored the content

    # -- fullUrls and entries ------------------------------------------------------

    def urn(self, key: str) -> str:
        """A fullUrl local to this payload."""
        return _uuid5(f"{self.source.source_id}|{self.seed}|{key}")

    @staticmethod
    def shared_urn(key: str) -> str:
        """A fullUrl shared by every payload that names the same business object."""
        return _uuid5(key)

    def add(
        self,
        resource: dict[str, Any],
        full_url: str,
        *,
        method: Literal["POST", "PUT"] = "POST",
        url: str = "",
        if_none_exist: str | None = None,
        location: Location | None = None,
        replaces: bool = False,
    ) -> str:
        """Add an entry (once per fullUrl, tidied); returns the fullUrl to reference it by.
        ``location``, ``replaces``: see :class:`Entry`."""
        if full_url not in self._entries:
            self._entries[full_url] = Entry(
                full_url,
                tidy(resource),
                method,
                url,
                if_none_exist,
                location=location,
                replaces=replaces,
            )
        return full_url

    def entries(self) -> tuple[Entry, ...]:
        return tuple(self._entries.values())

    # -- identifiers -------------------------------------------------------------------

    def business_id(self, kind: str, value: str) -> dict[str, str]:
        """An identifier the source assigned (order number, visit number…) in its own system."""
        return {"system": self.source.system(kind), "value": value}

    def code_system(self, name: str) -> str:
        """The source's own code system for a coding-system name nobody else knows."""
        safe = _UNSAFE.sub("-", name).strip("-")[:40] or "local"
        return self.source.system(f"cs/{safe}")

    def natural_id(self, kind: str, *parts: str) -> dict[str, str]:
        """An identifier derived from the facts themselves, when the source gives none.

        The value hashes the parts (SHA-256, first 32 hex digits) so that no identity
        trait leaks into it; the same facts from two channels of one source give the
        same identifier.
        """
        digest = hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()[:32]
        return {"system": self.source.system(kind), "value": f"nk-{digest}"}

    # -- shared actors -----------------------------------------------------------------

    def _reuse(self, key: tuple[str, ...]) -> str | None:
        entries = self._shared.get(key)
        if entries is None:
            return None
        for entry in entries:
            self._entries.setdefault(entry.full_url, entry)
        return entries[-1].full_url

    def _remember(self, key: tuple[str, ...], *full_urls: str) -> str:
        self._shared[key] = [self._entries[u] for u in full_urls]
        return full_urls[-1]

    def organization(self) -> str:
        """The source's own Organization (idNat_Struct and FINESS), created if missing."""
        key = ("Organization",)
        found = self._reuse(key)
        if found:
            return found
        identifiers = structure(self.source.finess)
        resource: dict[str, Any] = {
            "resourceType": "Organization",
            "identifier": [i.to_fhir() for i in identifiers],
        }
        if self.source.name:
            resource["name"] = self.source.name
        first = identifiers[0]
        url = self.add(
            resource,
            self.shared_urn(f"Organization|{first.token}"),
            if_none_exist=identifier_query(first.system, first.value),
        )
        return self._remember(key, url)

    def practitioner(self, who: Professional) -> str:
        """The Practitioner (conditional create on its first identifier, idNat_PS if any)."""
        first = who.identifiers[0]
        key = ("Practitioner", first.token, repr(who.name))
        found = self._reuse(key)
        if found:
            return found
        practitioner: dict[str, Any] = {
            "resourceType": "Practitioner",
            "identifier": [i.to_fhir() for i in who.identifiers],
        }
        if who.name:
            practitioner["name"] = [who.name]
        url = self.add(
            practitioner,
            self.shared_urn(f"Practitioner|{first.token}"),
            if_none_exist=identifier_query(first.system, first.value),
        )
        return self._remember(key, url)

    def practitioner_role(self, who: Professional, profession: Coding | None = None) -> str:
        """Practitioner + PractitionerRole at the source's organization; returns the role."""
        first = who.identifiers[0]
        key = (
            "PractitionerRole",
            first.token,
            repr(who.name),
            profession.code if profession else "",
        )
        found = self._reuse(key)
        if found:
            return found
        practitioner_url = self.practitioner(who)
        organization = self.organization()
        role_value = f"{first.value}/{profession.code}" if profession else first.value
        role_id = self.business_id("practitioner-role", role_value)
        role: dict[str, Any] = {
            "resourceType": "PractitionerRole",
            "identifier": [role_id],
            "active": True,
            "practitioner": {"reference": practitioner_url},
            "organization": {"reference": organization},
        }
        if profession:
            role["code"] = [{"coding": [profession.to_fhir()]}]
        token = f"{role_id['system']}|{role_id['value']}"
        url = self.add(
            role,
            self.shared_urn(f"PractitionerRole|{token}"),
            if_none_exist=self.condition(role_id),
        )
        return self._remember(key, practitioner_url, organization, url)

    @staticmethod
    def condition(identifier: dict[str, str]) -> str:
        """The ``ifNoneExist`` query for an identifier dict."""
        return identifier_query(identifier["system"], identifier["value"])

    # -- issues and assumptions -------------------------------------------------------

    def report(self, issue: IngestIssue) -> None:
        self.issues.append(issue)

    def refuse(
        self, exc: NormalisationError, location: Location | None, expression: str = ""
    ) -> None:
        """Report a normaliser's refusal as a located error."""
        self.issues.append(from_normalisation(exc, location, expression))

    def assume(self, text: str | None, location: Location | str | None = None) -> None:
        """Record an assumption; identical texts are merged, their locations listed."""
        if not text:
            return
        places = self._assumptions.setdefault(text, [])
        if location is not None and str(location) not in places:
            places.append(str(location))

    def assumptions(self) -> tuple[str, ...]:
        return tuple(
            f"{text} [{', '.join(places)}]" if places else text
            for text, places in self._assumptions.items()
        )

    def instant(self, value: FhirTime, location: Location | None, expression: str) -> str | None:
        """``value`` as a FHIR instant (a date becomes local midnight); None if too vague."""
        try:
            instant = as_instant(value)
        except NormalisationError as exc:
            self.refuse(exc, location, expression)
            return None
        if instant is not value:
            self.assume(instant.assumption, location)
        return instant.value

    @property
    def has_errors(self) -> bool:
        return any(i.is_error for i in self.issues)

    def finish(
        self,
        *,
        format: Literal["hl7v2", "csv"],
        kind: str,
        header: MessageHeader | None = None,
        patient: PatientRef | None = None,
        merges: tuple[MergeInstruction, ...] = (),
    ) -> ParseResult:
        """The result; with any error the ACK is AE and no entry is returned."""
        ack: AckCode = "AE" if self.has_errors else "AA"
        author = self.author
        return ParseResult(
            format=format,
            kind=kind,
            ack_code=ack,
            entries=self.entries() if ack == "AA" else (),
            issues=tuple(self.issues),
            assumptions=self.assumptions(),
            header=header,
            patient=patient,
            merges=merges if ack == "AA" else (),
            author=author if ack == "AA" else None,
        )
