"""HL7 v2 acknowledgements (original mode, HL7 v2.5 §2.9.2 and §2.14.1).

:func:`build_ack` is pure: the control id and the time are given by the caller. The
ACK answers the sender's MSH (its application and facility become the receiver's), and
carries:

- MSA: MSA-1 the code (``AA`` accepted, ``AE`` error, ``AR`` rejected; table 0008),
  MSA-2 the original MSH-10, MSA-3 a short text;
- one ERR per issue: ERR-2 the location (ERL: segment ^ sequence ^ field ^ repetition ^
  component ^ sub-component), ERR-3 the error condition (table 0357, ``code^text^HL70357``),
  ERR-4 the severity (table 0516: ``E``, ``W``, ``I``, ``F``), ERR-8 the message for a
  user. Texts are escaped (§2.7) so that no separator leaks.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from gateway.ingest.hl7v2.er7 import Separators
from gateway.ingest.issues import Hl7Location, IngestIssue
from gateway.ingest.result import AckCode, MessageHeader

TABLE_0357 = {
    "0": "Message accepted",
    "100": "Segment sequence error",
    "101": "Required field missing",
    "102": "Data type error",
    "103": "Table value not found",
    "104": "Value too long",
    "200": "Unsupported message type",
    "201": "Unsupported event code",
    "202": "Unsupported processing id",
    "203": "Unsupported version id",
    "204": "Unknown key identifier",
    "205": "Duplicate key identifier",
    "206": "Application record locked",
    "207": "Application internal error",
}
_SEVERITY = {"fatal": "F", "error": "E", "warning": "W", "information": "I"}
_SEPS = Separators()
_MAX_TEXT = 500
_TEXT = {
    "AA": "Message accepted",
    "AE": "Message accepted with errors: not stored",
    "AR": "Message rejected",
}


def escape(text: str, seps: Separators = _SEPS) -> str:
    """Escape separators and line breaks (HL7 v2.5 §2.7.4, §2.7.6)."""
    out = text.replace(seps.escape, f"{seps.escape}E{seps.escape}")
    for char, code in (
        (seps.field, "F"),
        (seps.component, "S"),
        (seps.subcomponent, "T"),
        (seps.repetition, "R"),
    ):
        out = out.replace(char, f"{seps.escape}{code}{seps.escape}")
    out = out.replace("\r\n", "\n").replace("\r", "\n")
    return out.replace("\n", f"{seps.escape}.br{seps.escape}")


def _hd(parts: Sequence[Sequence[str]]) -> str:
    """An HD (the sender's MSH-3/MSH-4) whole, every component kept, re-escaped for the
    ACK's separators: ``PHARMACIE DU MARCHE^750000028^FINESS`` stays that."""
    return "^".join("&".join(escape(sub) for sub in comp) for comp in parts)


def _ts(moment: datetime) -> str:
    aware = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return aware.strftime("%Y%m%d%H%M%S%z")


def _err(issue: IngestIssue) -> str:
    location = issue.location.erl() if isinstance(issue.location, Hl7Location) else ""
    code = issue.hl7_error
    condition = f"{code}^{escape(TABLE_0357.get(code, 'Application error'))}^HL70357"
    severity = _SEVERITY.get(issue.severity, "E")
    text = issue.diagnostics
    if issue.location is not None and not isinstance(issue.location, Hl7Location):
        text = f"{issue.location}: {text}"
    # ERR-5, the application's own error code (HL7 v2.5 §2.15.5.5, a local code: "L"):
    # the gateway code and FHIR issue type, which say what ERR-3's table cannot (a refusal
    # by the access rules is 207 there, as no code of table 0357 names it).
    application = (
        f"{escape(issue.gateway_code)}^{escape(issue.code)}^L" if issue.gateway_code else ""
    )
    return f"ERR||{location}|{condition}|{severity}|{application}|||{escape(text[:_MAX_TEXT])}"


def build_ack(
    header: MessageHeader | None,
    code: AckCode,
    issues: Sequence[IngestIssue] = (),
    *,
    control_id: str,
    timestamp: datetime,
    application: str = "DMP-GATEWAY",
    facility: str = "",
    text: str | None = None,
) -> str:
    """The ACK message (segments separated by ``\\r``, no MLLP framing)."""
    h = header or MessageHeader()
    trigger = escape(h.trigger_event)
    msh = "|".join(
        [
            "MSH",
            "^~\\&",
            escape(application),
            escape(facility),
            _hd(h.sending_application_hd) or escape(h.sending_application),
            _hd(h.sending_facility_hd) or escape(h.sending_facility),
            _ts(timestamp),
            "",
            f"ACK^{trigger}^ACK" if trigger else "ACK",
            escape(control_id),
            escape(h.processing_id or "P"),
            escape(h.version if h.version.startswith("2.") else "2.5"),
        ]
    )
    summary = text or _first_error(issues) or _TEXT[code]
    msa = f"MSA|{code}|{escape(h.message_control_id)}|{escape(summary[:80])}"
    return "\r".join([msh, msa, *(_err(i) for i in issues)])


def _first_error(issues: Sequence[IngestIssue]) -> str | None:
    for issue in issues:
        if issue.is_error:
            return issue.diagnostics
    return None
