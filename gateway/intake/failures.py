"""A refused write, as the sender must hear it: located issues and an HL7 ACK code.

The transaction that stores a payload fails with a :class:`~gateway.errors.GatewayError`
naming the Bundle entry at fault (``Bundle.entry[3] (POST Observation): …``). For the
sender this becomes:

========  ========================================  ====  ==========================
status    meaning                                   ACK   ERR-3 (HL7 table 0357)
========  ========================================  ====  ==========================
403       the DMP access rules refuse the write      AE    207 application error
404, 412  a referenced patient or resource unknown   AE    204 unknown key identifier
409       the same resource written concurrently     —     retried, then AR 206
other 4xx content refused (structure, profiles)      AE    102 data type error
5xx       the gateway failed                         AR    207 application error
========  ========================================  ====  ==========================

AE (not AR) for refusals by the rules: they depend on the message's content (which
patient, which author, what is written), and resending it unchanged cannot succeed.
HL7 v2.5 §2.9.2 keeps AR for rejections unrelated to the content (the system down, an
internal error), which the README tells senders to resend: only real failures of the
gateway (5xx, 206 record locked) answer AR. Table 0357 has no code for a refusal by
the rules, so ERR-3 stays 207; ERR-5 (the application's code) carries the gateway
code (``GW-2003^forbidden^L``), see :mod:`gateway.ingest.hl7v2.ack`.
"""

from __future__ import annotations

import re

from gateway.errors import GatewayError
from gateway.ingest.issues import HL7_DATA_TYPE, HL7_INTERNAL, HL7_UNKNOWN_KEY, IngestIssue
from gateway.ingest.result import AckCode

HL7_RECORD_LOCKED = "206"
HL7_DUPLICATE_KEY = "205"
_ENTRY = re.compile(r"Bundle\.entry\[(\d+)\]")
# ``Bundle.entry[0] (PUT Patient/4f1c…)``: the entry's method and path, as the REST
# layer locates an error (gateway.rest.bundle_processing).
_ENTRY_PATH = re.compile(r"(Bundle\.entry\[\d+\] \([A-Z]+ [A-Za-z]+)/[^)\s]*\)")


def hl7_error_of(status: int) -> str:
    if status == 403:
        return HL7_INTERNAL
    if status in (404, 412):
        return HL7_UNKNOWN_KEY
    return HL7_DATA_TYPE


def ack_code_of(exc: GatewayError) -> AckCode:
    return "AR" if exc.status >= 500 else "AE"


def without_ids(diagnostics: str) -> str:
    """``Bundle.entry[0] (PUT Patient/<id>)`` as ``Bundle.entry[0] (PUT Patient)``.

    The Bundle is the gateway's own rendering of the payload: its paths carry the ids
    of the stored resources the payload was matched to (its patient by INS, a fact by
    its business identifier). A sender the rules refuse must not learn them (the INS →
    record mapping of a patient it may not read), and no sender needs them: the
    located issue (ERR-2, the CSV line) says where in its own payload the fault is.
    """
    return _ENTRY_PATH.sub(r"\1)", diagnostics)


def issues_of(exc: GatewayError, *, prefix: str = "") -> tuple[IngestIssue, ...]:
    """The error's issues as ingestion issues (FHIRPath kept; no source location; no
    stored ids, see :func:`without_ids`)."""
    code = hl7_error_of(exc.status)
    return tuple(
        IngestIssue(
            issue.severity,
            issue.code,
            prefix + without_ids(issue.diagnostics),
            None,
            issue.expression,
            issue.gateway_code,
            code if issue.is_error else "0",
        )
        for issue in exc.issues
    )


def failing_entries(exc: GatewayError) -> set[int]:
    """The Bundle entry indexes an error names (empty when it names none)."""
    found = {int(m) for m in _ENTRY.findall(exc.diagnostics)}
    for expression in exc.expression:
        found.update(int(m) for m in _ENTRY.findall(expression))
    return found
