"""Ingestion, pure part: HL7 v2 and CSV payloads in, FHIR R4 transaction entries out.

Nothing here does I/O after loading its data files (ConceptMaps, CSV mappings), reads
the clock or the environment, or stores anything. The pipeline (storage, idempotency,
identity matching, quarantine, Provenance, HTTP, MLLP, CLI) calls these functions.

Entry points
============

Load once, at start-up::

    terminology = Terminology.load()            # profiles/conceptmaps/*.json
    mappings = load_mappings()                  # profiles/mappings/*.yaml, by kind
    source = SourceConfig("ehpad-tilleuls", finess="750712184", name="EHPAD Les Tilleuls")

Then, per payload::

    result = parse_hl7v2(payload, source, terminology)          # -> ParseResult
    ack = build_ack(result.header, result.ack_code, result.issues,
                    control_id=new_id, timestamp=now)           # -> str (ER7, \\r)
    table = parse_csv(payload, mappings["vitals"], source, terminology)  # -> CsvParseResult

``payload`` is ``bytes`` (preferred: the parsers detect the character set) or ``str``.
For MLLP, strip the framing (``0x0B`` … ``0x1C 0x0D``) first; stray framing bytes are
tolerated anyway. An unknown CSV kind is a ``KeyError`` on ``mappings`` (HTTP 404).

ParseResult (one HL7 message, or one CSV record)
================================================

========================  ==================================================================
``format``                ``"hl7v2"`` or ``"csv"``
``kind``                  ``"ADT^A01"``, ``"RDS^O13"``…, or ``"csv:vitals"``…
``ack_code``              ``"AA"`` (commit it), ``"AE"`` (content error: quarantine),
                          ``"AR"`` (unreadable or unsupported: quarantine). ``ok`` is
                          ``ack_code == "AA"``.
``entries``               :class:`Entry` tuple, empty unless AA: ``full_url``
                          (``urn:uuid:…``), ``resource`` (FHIR R4 JSON dict, no ``id``),
                          ``method`` (``POST``), ``url``, ``if_none_exist``
                          (``identifier=system|value``, escaped and percent-encoded).
                          ``to_fhir()`` gives the Bundle entry; ``resources`` the dicts.
``issues``                :class:`IngestIssue` tuple: ``severity``, ``code`` (FHIR IssueType),
                          ``diagnostics``, ``location`` (:class:`Hl7Location` ``PID-3[2].1`` /
                          :class:`CsvLocation` line + column), ``expression`` (FHIRPath),
                          ``gateway_code`` (``GW-41nn``), ``hl7_error`` (table 0357).
                          ``issue`` gives a :class:`gateway.errors.Issue`, ``to_fhir()`` an
                          OperationOutcome.issue with ``location``.
``assumptions``           texts for the Provenance (time zone assumed, unit converted, code
                          system guessed, encoding guessed…), with where they apply.
``header``                :class:`MessageHeader` (HL7 only): sending application/facility,
                          MSH-10, type, trigger, version, processing id, MSH-7, charset;
                          ``idempotency_key`` = (application, facility, MSH-10).
``patient``               :class:`PatientRef`: ``reference`` (what every subject/patient
                          reference in the entries holds), ``keys`` (:class:`PatientKey`,
                          INS first then the source's local id; ``search``,
                          ``conditional_reference``), ``traits`` (name, birth date, gender,
                          birth place, to detect conflicting traits for one INS),
                          ``in_bundle`` (a Patient entry is present), ``update`` (the
                          payload asserts current demographics: ADT, roster).
``merges``                :class:`MergeInstruction` tuple (ADT^A40): ``surviving`` and
                          ``retired`` keys; the pipeline links, never overwrites.
``author``                fullUrl of the PractitionerRole entry of the professional who
                          authored the content (pharmacist, nurse, prescriber, document
                          author), for the Provenance agent; None when unknown.
========================  ==================================================================

``transaction()`` returns the entries as a ``transaction`` Bundle (no Provenance: the
pipeline adds it). :func:`transaction` merges several results' entries (entries that
share a fullUrl are the same business object and appear once). :func:`rebind` points
references elsewhere once the identity stage has matched a patient, e.g.
``rebind(result, {result.patient.reference: "Patient/123"})`` (the Patient entry, if
any, is dropped).

CsvParseResult (one CSV file)
=============================

``accepted`` (:class:`CsvRow`: ``line``, ``raw`` text, ``result``), ``rejected``
(:class:`RejectedRow`: ``line``, ``raw`` text, ``issues``), file-level ``issues`` and
``assumptions`` (encoding, separator, unmapped columns), ``encoding``, ``delimiter``,
``header``. Invariant: ``submitted == len(accepted) + len(rejected)``; blank lines are
not records. A missing required column rejects every record. ``transaction()`` merges
all accepted rows into one Bundle.

References and dedup (business identifier rules)
================================================

All references between produced resources are ``urn:uuid`` fullUrls, resolved by the
transaction. Every resource that stands for a business object is a conditional create
(``ifNoneExist``) on a business identifier, so re-ingesting a payload creates nothing,
and the same fact from two channels of one source is stored once:

- **Patient**: strongest key (INS, else ``<source>/patient|<local id>``); fullUrl shared
  across payloads. Clinical CSV rows carry *no* Patient entry: their subject is the
  conditional reference ``Patient?identifier=…`` to an existing Patient.
- **Practitioner**: idNat_PS (``8``+RPPS / ``0``+ADELI), else ``<source>/practitioner``.
- **PractitionerRole**: ``<source>/practitioner-role|<idNat_PS>/<TRE_G15 profession>``.
- **Organization**: the source itself, idNat_Struct ``1``+FINESS.
- **Medication**: ``code=<system>|<code>`` for a CIP13/UCD/CIS/ATC code without lot number.
- **Encounter**: ``<source>/encounter|PV1-19``.
- **MedicationRequest**: ``<source>/order|ORC-2`` (``/n`` for the n-th RXE of an order).
- **MedicationDispense**: ``<source>/dispense|ORC-3 (or ORC-2, RXD-7)/RXD-1``.
- **MedicationAdministration** (HL7 and CSV alike): natural key
  ``<source>/administration|nk-<sha256(patient local id, medication code, time)>``.
- **Observation**: vital signs and nursing measurements (HL7 and CSV alike): natural key
  ``<source>/observation|nk-<sha256(patient local id, LOINC, time, OBX-4)>``; lab results
  ``<source>/observation|<OBR-3 or OBR-2>/<OBX-3>/<OBX-4 or OBX-1>``.
- **DiagnosticReport**: ``<source>/report|OBR-3 (or OBR-2)``.
- **DocumentReference**: masterIdentifier TXA-12 (an OID as ``urn:ietf:rfc:3986``), or the
  CSV note id, or a natural key (patient, time, SHA-256 of the text).
- **Binary**: plain create (its DocumentReference decides; ``securityContext`` links them).

A natural key says *which* fact an entry is about, not what it says: the intake judges a
match on it by content (:mod:`gateway.intake.facts`: the same fact, a correction that
updates the stored resource, or a conflict to quarantine).

``<source>`` is :meth:`SourceConfig.system` (``https://dmp-gateway.fr/fhir/sid/finess/
<FINESS>/<kind>`` unless configured). Natural keys hash their parts (no identity trait in
an identifier) and use the patient's *local* id, which both channels of one source carry.

Modules: :mod:`.result` (shapes), :mod:`.issues` (locations, codes), :mod:`.assembly`
(building entries), :mod:`.patients`, :mod:`.observations`, :mod:`.quantities`,
:mod:`.tidy` (shared builders), :mod:`.hl7v2`, :mod:`.csv`.
"""

from __future__ import annotations

from gateway.ingest.csv import CsvMapping, load_mappings, parse_csv
from gateway.ingest.hl7v2 import build_ack, parse_hl7v2
from gateway.ingest.issues import CsvLocation, Hl7Location, IngestIssue
from gateway.ingest.result import (
    AckCode,
    CsvParseResult,
    CsvRow,
    Entry,
    MergeInstruction,
    MessageHeader,
    ParseResult,
    PatientKey,
    PatientRef,
    PatientTraits,
    RejectedRow,
    rebind,
    transaction,
)
from gateway.normalise import SourceConfig, Terminology

__all__ = [
    "AckCode",
    "CsvLocation",
    "CsvMapping",
    "CsvParseResult",
    "CsvRow",
    "Entry",
    "Hl7Location",
    "IngestIssue",
    "MergeInstruction",
    "MessageHeader",
    "ParseResult",
    "PatientKey",
    "PatientRef",
    "PatientTraits",
    "RejectedRow",
    "SourceConfig",
    "Terminology",
    "build_ack",
    "load_mappings",
    "parse_csv",
    "parse_hl7v2",
    "rebind",
    "transaction",
]
