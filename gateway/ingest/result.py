"""What a parser returns: :class:`ParseResult` and the values it is made of.

See the package docstring (:mod:`gateway.ingest`) for the contract; this module only
defines the shapes and the pure helpers that act on them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Literal
from urllib.parse import quote

from gateway.ingest.issues import IngestIssue, Location

AckCode = Literal["AA", "AE", "AR"]
PatientKeyKind = Literal["ins-nir", "ins-nia", "ins-nir-test", "ins-nir-demo", "local"]


_PLAIN = {":/": re.compile(r"^[A-Za-z0-9._~:/-]*$"), "": re.compile(r"^[A-Za-z0-9._~-]*$")}


def _encode(text: str, safe: str) -> str:
    # quote() is slow; most systems and values need no encoding at all.
    return text if _PLAIN[safe].match(text) else quote(text, safe=safe)


def identifier_query(system: str, value: str) -> str:
    """``identifier=system|value`` for a conditional create or reference.

    The value is escaped as FHIR token search requires (``\\``, ``|``, ``,``, ``$``:
    https://hl7.org/fhir/R4/search.html#escaping), then both parts are percent-encoded
    so that any character a source puts in an id survives the URL.
    """
    escaped = value
    for char in ("\\", "|", ",", "$"):
        escaped = escaped.replace(char, "\\" + char)
    return f"identifier={_encode(system, ':/')}|{_encode(escaped, '')}"


@dataclass(frozen=True, slots=True)
class MessageHeader:
    """The MSH facts of an HL7 v2 message (what idempotency and the ACK need)."""

    sending_application: str = ""
    sending_facility: str = ""
    receiving_application: str = ""
    receiving_facility: str = ""
    message_control_id: str = ""
    message_type: str = ""
    trigger_event: str = ""
    structure: str = ""
    processing_id: str = ""
    version: str = ""
    timestamp: str | None = None  # MSH-7 as a FHIR dateTime
    charset: str = "utf-8"  # how the payload was decoded
    sending_application_hd: tuple[tuple[str, ...], ...] = ()
    """MSH-3 whole: its components' sub-components, unescaped (the ACK's MSH-5)."""
    sending_facility_hd: tuple[tuple[str, ...], ...] = ()
    """MSH-4 whole (the ACK's MSH-6)."""

    @property
    def idempotency_key(self) -> tuple[str, str, str] | None:
        """(sending application, sending facility, MSH-10); None without a control id."""
        if not self.message_control_id:
            return None
        return (self.sending_application, self.sending_facility, self.message_control_id)

    @property
    def event(self) -> str:
        """``ADT^A01``-style message type and trigger."""
        return (
            f"{self.message_type}^{self.trigger_event}" if self.trigger_event else self.message_type
        )


@dataclass(frozen=True, slots=True)
class Entry:
    """One transaction Bundle entry (https://hl7.org/fhir/R4/bundle.html#transaction).

    ``url`` is the request URL: a type for POST (``Observation``), a conditional URL for
    a conditional update (``Patient?identifier=…``). ``if_none_exist`` makes a POST a
    conditional create keyed on a business identifier; ``if_match`` makes a PUT a
    version-aware update (``W/"n"``: the pipeline's update of a corrected fact).
    ``location`` is where the payload states the fact (the OBX, RXA or CSV line), to
    name it when the fact is refused; it is not part of the entry's value.
    ``replaces``: the payload says in so many words that this fact replaces the stored
    one of the same identifier (ORC-1 ``XO``, a changed order), whatever its status.
    """

    full_url: str
    resource: dict[str, Any]
    method: Literal["POST", "PUT"] = "POST"
    url: str = ""
    if_none_exist: str | None = None
    if_match: str | None = None
    location: Location | None = field(default=None, compare=False)
    replaces: bool = False

    @property
    def resource_type(self) -> str:
        return str(self.resource["resourceType"])

    def to_fhir(self) -> dict[str, Any]:
        request: dict[str, Any] = {"method": self.method, "url": self.url or self.resource_type}
        if self.if_none_exist:
            request["ifNoneExist"] = self.if_none_exist
        if self.if_match:
            request["ifMatch"] = self.if_match
        return {"fullUrl": self.full_url, "resource": self.resource, "request": request}


@dataclass(frozen=True, slots=True)
class PatientKey:
    """A business identifier a Patient can be matched on, strongest first (INS, then local)."""

    system: str
    value: str
    kind: PatientKeyKind

    @property
    def token(self) -> str:
        return f"{self.system}|{self.value}"

    @property
    def search(self) -> str:
        """The search query: ``identifier=system|value`` (escaped, percent-encoded)."""
        return identifier_query(self.system, self.value)

    @property
    def conditional_reference(self) -> str:
        """``Patient?identifier=system|value``."""
        return f"Patient?{self.search}"

    @property
    def is_ins(self) -> bool:
        return self.kind != "local"


@dataclass(frozen=True, slots=True)
class PatientTraits:
    """The identity traits a message gives, to compare with a stored Patient."""

    family: str | None = None
    given: tuple[str, ...] = ()
    birth_date: str | None = None
    gender: str | None = None
    birth_place: str | None = None  # INSEE code


@dataclass(frozen=True, slots=True)
class PatientRef:
    """How the produced resources reference their patient.

    ``reference`` is the string every ``subject``/``patient`` reference in the entries
    holds: the ``urn:uuid`` fullUrl of the Patient entry when the result carries one
    (``in_bundle``), else a conditional reference (``Patient?identifier=…``) to an
    existing Patient. ``update`` is True when the payload asserts the patient's current
    demographics (ADT A01/A04/A08/A28/A31, a resident roster): after matching and the
    trait-conflict check, the identity stage may apply them to the stored Patient. The
    Patient entry itself is only ever a conditional create.
    """

    reference: str
    keys: tuple[PatientKey, ...]
    traits: PatientTraits = field(default_factory=PatientTraits)
    in_bundle: bool = True
    update: bool = False


@dataclass(frozen=True, slots=True)
class MergeInstruction:
    """An ADT^A40 merge: ``retired`` is replaced by ``surviving``; never a silent overwrite.

    The pipeline resolves both patients by their keys, then (in one transaction) sets
    on the retired Patient ``active=false`` and ``link`` ``{other: surviving, type:
    replaced-by}``, and adds to the surviving Patient ``link`` ``{other: retired, type:
    replaces}`` (https://hl7.org/fhir/R4/patient.html#links). If either cannot be
    resolved, or they are the same, the message goes to quarantine.
    """

    surviving: tuple[PatientKey, ...]
    retired: tuple[PatientKey, ...]
    location: str = ""


@dataclass(frozen=True, slots=True)
class ParseResult:
    """The outcome of parsing one unit of input (an HL7 message, or one CSV record)."""

    format: Literal["hl7v2", "csv"]
    kind: str  # "ADT^A01", "csv:vitals"…
    ack_code: AckCode
    entries: tuple[Entry, ...] = ()
    issues: tuple[IngestIssue, ...] = ()
    assumptions: tuple[str, ...] = ()
    header: MessageHeader | None = None
    patient: PatientRef | None = None
    merges: tuple[MergeInstruction, ...] = ()
    author: str | None = None  # fullUrl of the PractitionerRole entry of the sending professional

    @property
    def ok(self) -> bool:
        """True when the result may be committed (ACK AA)."""
        return self.ack_code == "AA"

    @property
    def message_id(self) -> str | None:
        return self.header.message_control_id if self.header else None

    @property
    def resources(self) -> list[dict[str, Any]]:
        return [e.resource for e in self.entries]

    @property
    def patient_keys(self) -> tuple[PatientKey, ...]:
        return self.patient.keys if self.patient else ()

    @property
    def errors(self) -> tuple[IngestIssue, ...]:
        return tuple(i for i in self.issues if i.is_error)

    def transaction(self) -> dict[str, Any]:
        """The entries as a FHIR transaction Bundle (no Provenance: the pipeline adds it)."""
        return transaction(self.entries)


def transaction(entries: Iterable[Entry]) -> dict[str, Any]:
    """A transaction Bundle; entries sharing a fullUrl (the same business object) appear once."""
    seen: set[str] = set()
    out = []
    for entry in entries:
        if entry.full_url in seen:
            continue
        seen.add(entry.full_url)
        out.append(entry.to_fhir())
    return {"resourceType": "Bundle", "type": "transaction", "entry": out}


def _rewrite(node: Any, mapping: Mapping[str, str]) -> Any:
    """``node`` with its references remapped; parts with nothing to remap are shared,
    not copied (entries are never mutated in place). A container is only copied once
    something in it changes: it runs over every resource of every unit."""
    if isinstance(node, dict):
        out: dict[str, Any] | None = None
        for key, value in node.items():
            kind = type(value)
            if kind is str:  # most values: settled without an isinstance() on a union
                if key != "reference" or value not in mapping:
                    continue
                new = mapping[value]
            elif kind is dict or kind is list or isinstance(value, dict | list):
                new = _rewrite(value, mapping)
            elif key == "reference" and isinstance(value, str) and value in mapping:
                new = mapping[value]
            else:
                continue
            if new is value:
                continue
            if out is None:
                out = dict(node)
            out[key] = new
        return node if out is None else out
    if isinstance(node, list):
        items: list[Any] | None = None
        for i, value in enumerate(node):
            kind = type(value)
            if kind is dict or kind is list or (kind is not str and isinstance(value, dict | list)):
                new = _rewrite(value, mapping)
                if new is not value:
                    if items is None:
                        items = list(node)
                    items[i] = new
        return node if items is None else items
    return node


def rebind(result: ParseResult, mapping: Mapping[str, str]) -> ParseResult:
    """Point references elsewhere and drop the entries they no longer need.

    ``mapping`` maps a fullUrl (or a conditional reference) to the reference to use
    instead, e.g. ``{result.patient.reference: "Patient/123"}`` once the identity stage
    has matched the patient. Entries whose fullUrl is remapped are dropped.
    """
    entries = tuple(
        replace(e, resource=_rewrite(e.resource, mapping))
        for e in result.entries
        if e.full_url not in mapping
    )
    patient = result.patient
    if patient is not None and patient.reference in mapping:
        patient = replace(patient, reference=mapping[patient.reference], in_bundle=False)
    author = mapping.get(result.author, result.author) if result.author else None
    return replace(result, entries=entries, patient=patient, author=author)


@dataclass(frozen=True, slots=True)
class CsvRow:
    """An accepted CSV record: where it was, what it said, what it produced."""

    line: int
    raw: str
    result: ParseResult


@dataclass(frozen=True, slots=True)
class RejectedRow:
    """A CSV record to quarantine: its line, its exact text, and why."""

    line: int
    raw: str
    issues: tuple[IngestIssue, ...]


@dataclass(frozen=True, slots=True)
class CsvParseResult:
    """The outcome of one CSV file: accepted and rejected records, nothing else.

    Every non-blank record after the header is in exactly one of ``accepted`` and
    ``rejected`` (``submitted == len(accepted) + len(rejected)``). ``issues`` and
    ``assumptions`` concern the whole file (encoding, separator, columns); a row's own
    are in its result. A file-level error (a required column missing) rejects every row.
    """

    kind: str
    encoding: str
    delimiter: str
    header: tuple[str, ...]
    accepted: tuple[CsvRow, ...]
    rejected: tuple[RejectedRow, ...]
    issues: tuple[IngestIssue, ...] = ()
    assumptions: tuple[str, ...] = ()

    @property
    def submitted(self) -> int:
        return len(self.accepted) + len(self.rejected)

    @property
    def entries(self) -> tuple[Entry, ...]:
        """The entries of every accepted row, in order (shared objects repeat)."""
        return tuple(e for row in self.accepted for e in row.result.entries)

    def transaction(self) -> dict[str, Any]:
        """All accepted rows as one transaction Bundle (shared objects once)."""
        return transaction(self.entries)
