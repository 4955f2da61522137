"""One HL7 v2 message in, one :class:`ParseResult` out: the dispatch table.

=============  ===========================================================
message        produces
=============  ===========================================================
ADT^A01, A04   Patient, Encounter (:mod:`.adt`)
ADT^A08, A28,  Patient (demographics update, applied by the identity stage)
A31
ADT^A40        surviving Patient + :class:`MergeInstruction` per PID/MRG
RDS^O13        MedicationDispense + Medication, pharmacist PractitionerRole
RDE^O11        MedicationRequest (:mod:`.pharmacy`)
RAS^O17        MedicationAdministration, nurse PractitionerRole (:mod:`.administration`)
ORU^R01        Observation per OBX, DiagnosticReport per OBR (:mod:`.results`)
MDM^T02        DocumentReference + Binary (:mod:`.document`)
=============  ===========================================================

Acknowledgement codes (HL7 table 0008, original mode):

- **AR** when the message cannot be processed at all: not HL7 (:class:`Unreadable`),
  more than one message in the payload or a batch envelope (ERR-3 ``100``, see
  :func:`_several`), MSH-9 not supported (ERR-3 ``200``/``201``), MSH-12 not a v2 version (``203``),
  MSH-10 missing (``101``). Nothing else is read.
- **AE** when the content is wrong somewhere (a located error): no entry is returned;
  the pipeline quarantines the message with the issues.
- **AA** otherwise; warnings may accompany it.

A mapping bug must not take the listener down: an unexpected exception while mapping
becomes an AR with ERR-3 ``207`` (application internal error), so the message is kept
in quarantine rather than lost. The tests assert that no sample message takes this path.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable

from gateway.ingest.assembly import Assembly
from gateway.ingest.hl7v2 import administration, adt, document, pharmacy, results
from gateway.ingest.hl7v2.er7 import ENVELOPE, Er7Message, Unreadable, decode, read, unescape
from gateway.ingest.issues import (
    GW_REQUIRED,
    GW_SEVERAL,
    GW_UNREADABLE,
    GW_UNSUPPORTED,
    HL7_INTERNAL,
    HL7_REQUIRED_MISSING,
    HL7_SEGMENT_SEQUENCE,
    HL7_UNSUPPORTED_EVENT,
    HL7_UNSUPPORTED_PROCESSING,
    HL7_UNSUPPORTED_TYPE,
    HL7_UNSUPPORTED_VERSION,
    IngestIssue,
    error,
    warning,
)
from gateway.ingest.result import MergeInstruction, MessageHeader, ParseResult, PatientRef
from gateway.normalise.errors import NormalisationError
from gateway.normalise.source import SourceConfig
from gateway.normalise.terminology import Terminology
from gateway.normalise.times import hl7_ts

Handler = Callable[[Er7Message, Assembly], tuple[PatientRef | None, tuple[MergeInstruction, ...]]]

HANDLERS: dict[tuple[str, str], Handler] = {
    ("ADT", "A01"): adt.admit,
    ("ADT", "A04"): adt.admit,
    ("ADT", "A08"): adt.update,
    ("ADT", "A28"): adt.update,
    ("ADT", "A31"): adt.update,
    ("ADT", "A40"): adt.merge,
    ("RDS", "O13"): pharmacy.dispense,
    ("RDE", "O11"): pharmacy.order,
    ("RAS", "O17"): administration.administration,
    ("ORU", "R01"): results.observations,
    ("MDM", "T02"): document.document,
}
SUPPORTED = ", ".join(f"{t}^{e}" for t, e in HANDLERS)
PROCESSING_IDS_0103 = {"P": "production", "T": "training", "D": "debugging"}
PROCESSING_IDS = frozenset({"P"})
"""MSH-11 values whose content may be written to the record (HL7 table 0103)."""


def read_header(message: Er7Message) -> MessageHeader:
    """The MSH facts; MSH-7 is normalised when it can be (else left out)."""
    msh = message.msh

    def hd(n: int) -> str:
        comp = msh.first(n)
        return comp.c(1) or comp.c(2)

    def whole(n: int) -> tuple[tuple[str, ...], ...]:
        parts = tuple(
            tuple(unescape(sub, message.seps).strip() for sub in comp)
            for comp in msh.first(n).parts
        )
        while parts and not any(parts[-1]):
            parts = parts[:-1]
        return parts

    try:
        timestamp = hl7_ts(msh.value(7)).value if msh.value(7) else None
    except NormalisationError:
        timestamp = None
    return MessageHeader(
        sending_application=hd(3),
        sending_facility=hd(4),
        receiving_application=hd(5),
        receiving_facility=hd(6),
        message_control_id=msh.value(10),
        message_type=msh.value(9, 1).upper(),
        trigger_event=msh.value(9, 2).upper(),
        structure=msh.value(9, 3).upper(),
        processing_id=msh.value(11, 1).upper(),
        version=msh.value(12, 1),
        timestamp=timestamp,
        charset=message.charset,
        sending_application_hd=whole(3),
        sending_facility_hd=whole(4),
    )


def _rejected(
    header: MessageHeader | None, issue: IngestIssue, notes: tuple[str, ...] = ()
) -> ParseResult:
    return ParseResult(
        format="hl7v2",
        kind=header.event if header else "",
        ack_code="AR",
        issues=(issue,),
        assumptions=notes,
        header=header,
    )


def _control_id(text: str) -> str:
    """MSH-10 of a message that cannot be read, when it can still be located: the field
    separator is MSH's 4th character, and MSH-10 the 9th field after MSH-2 (the encoding
    characters, which may be what is wrong). Echoed in MSA-2 so that the sender can tell
    which message was rejected; kept raw (its escapes cannot be trusted), and never the
    message's key in the ledger (:meth:`gateway.intake.messages.MessageIntake.key`)."""
    text = text.strip("\ufeff\x0b\x1c\r\n \t")
    if not text.startswith("MSH") or len(text) < 4:
        return ""
    separator = text[3]
    if separator.isalnum() or separator.isspace() or not separator.isprintable():
        return ""
    line = text.split("\r", 1)[0].split("\n", 1)[0]
    fields = line.split(separator)
    control_id = fields[9].strip() if len(fields) > 9 else ""
    return control_id if len(control_id) <= 199 and control_id.isprintable() else ""


def _several(message: Er7Message) -> IngestIssue | None:
    """A second MSH, or a batch envelope (FHS, BHS, BTS, FTS), in one payload.

    One MLLP block, like one HTTP body, carries one message and gets one ACK. Read as
    one, a second message would have its segments filed under the first message's
    patient and never be acknowledged: the whole payload is refused, nothing stored.
    (``dmp-gateway ingest`` splits batch files into messages before they get here.)
    """
    found = message.envelope[0] if message.envelope else None
    if found is None:
        found = next((s for s in message.segments[1:] if s.name in ("MSH", *ENVELOPE)), None)
    if found is None:
        return None
    what = (
        "a second message (MSH)"
        if found.name == "MSH"
        else f"a batch envelope segment ({found.name})"
    )
    return error(
        f"the payload holds {what}: send one message per MLLP block or HTTP request body, "
        "each answered by its own ACK; nothing of this payload was stored",
        found.location,
        code="structure",
        gateway_code=GW_SEVERAL,
        hl7_error=HL7_SEGMENT_SEQUENCE,
    )


def _gate(message: Er7Message, header: MessageHeader) -> IngestIssue | None:
    """Why the message cannot be processed at all, if it cannot."""
    msh = message.msh
    if not header.message_control_id:
        return error(
            "MSH-10 (message control id) is required",
            msh.at(10),
            code="required",
            gateway_code=GW_REQUIRED,
            hl7_error=HL7_REQUIRED_MISSING,
        )
    if not header.version:
        return error(
            "MSH-12 (version id) is required; send v2.x (2.5)",
            msh.at(12),
            code="required",
            gateway_code=GW_REQUIRED,
            hl7_error=HL7_REQUIRED_MISSING,
        )
    if not header.version.startswith("2."):
        return error(
            f"HL7 version {header.version or '(none)'!r} is not supported; send v2.x (2.5)",
            msh.at(12),
            code="not-supported",
            gateway_code=GW_UNSUPPORTED,
            hl7_error=HL7_UNSUPPORTED_VERSION,
        )
    if not header.message_type:
        return error(
            f"MSH-9 (message type) is required; supported: {SUPPORTED}",
            msh.at(9),
            code="required",
            gateway_code=GW_REQUIRED,
            hl7_error=HL7_REQUIRED_MISSING,
        )
    if not header.processing_id:
        return error(
            "MSH-11 (processing id) is required; this record takes production data (P)",
            msh.at(11),
            code="required",
            gateway_code=GW_REQUIRED,
            hl7_error=HL7_REQUIRED_MISSING,
        )
    if header.processing_id not in PROCESSING_IDS:
        # T (training) and D (debugging) are valid (table 0103) but must not be written
        # to a patient's record; a value outside table 0103 is answered the same way:
        # 202 names the field's meaning (the sender must send P), where 103 would only
        # say a table lookup failed, and a sender handles both cases alike.
        known = PROCESSING_IDS_0103.get(header.processing_id)
        what = f"{header.processing_id!r} ({known})" if known else repr(header.processing_id)
        return error(
            f"processing id (MSH-11) {what} is not accepted: only P (production) may "
            "be written to the record",
            msh.at(11),
            code="not-supported",
            gateway_code=GW_UNSUPPORTED,
            hl7_error=HL7_UNSUPPORTED_PROCESSING,
        )
    if (header.message_type, header.trigger_event) not in HANDLERS:
        known_type = any(t == header.message_type for t, _ in HANDLERS)
        return error(
            f"message {header.event or '(none)'} is not supported; supported: {SUPPORTED}",
            msh.at(9, 2 if known_type else 1),
            code="not-supported",
            gateway_code=GW_UNSUPPORTED,
            hl7_error=HL7_UNSUPPORTED_EVENT if known_type else HL7_UNSUPPORTED_TYPE,
        )
    return None


def parse_hl7v2(
    payload: bytes | str, source: SourceConfig, terminology: Terminology
) -> ParseResult:
    """Parse one HL7 v2 message (MLLP framing already removed by the caller)."""
    text, charset, decoded_as = decode(payload)
    notes = (decoded_as,) if decoded_as else ()
    try:
        message = read(text, charset)
    except Unreadable as exc:
        issue = error(
            exc.reason,
            exc.location,
            code="structure",
            gateway_code=GW_UNREADABLE,
            hl7_error=HL7_REQUIRED_MISSING if exc.location else HL7_INTERNAL,
        )
        control_id = _control_id(text)
        header = MessageHeader(message_control_id=control_id) if control_id else None
        return _rejected(header, issue, notes)
    header = read_header(message)
    refusal = _several(message) or _gate(message, header)
    if refusal is not None:
        return _rejected(header, refusal, notes)
    seed = "|".join(header.idempotency_key or ("", "", hashlib.sha256(text.encode()).hexdigest()))
    asm = Assembly(source, terminology, seed)
    asm.assume(decoded_as, "MSH-18")
    for note, location in message.notes:
        asm.report(warning(note, location))
    handler = HANDLERS[(header.message_type, header.trigger_event)]
    try:
        patient, merges = handler(message, asm)
    except Exception as exc:  # a mapping bug: keep the message (AR, quarantine), do not crash
        issue = error(
            f"internal error while mapping the message ({type(exc).__name__})",
            code="exception",
            gateway_code="GW-5000",
            hl7_error=HL7_INTERNAL,
            severity="fatal",
        )
        return _rejected(header, issue, notes)
    return asm.finish(
        format="hl7v2", kind=header.event, header=header, patient=patient, merges=merges
    )
