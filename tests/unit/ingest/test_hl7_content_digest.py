"""``content_digest``: what tells a resend (same content) from another message that
reuses its control id."""

from __future__ import annotations

import hashlib

from gateway.ingest.hl7v2.er7 import content_digest

MESSAGE = (
    "MSH|^~\\&|APP|FAC|GW|DMP|20240115083500||ORU^R01^ORU_R01|C-1|P|2.5\r"
    "PID|1||123^^^X^PI\r"
    "OBX|1|NM|FC^Pouls^L||72|bpm"
)


def test_the_sending_time_and_segment_terminators_do_not_count() -> None:
    base = content_digest(MESSAGE.encode())
    assert content_digest(MESSAGE.replace("20240115083500", "20240116000000").encode()) == base
    assert content_digest(MESSAGE.replace("\r", "\r\n").encode()) == base
    assert content_digest(MESSAGE.replace("\r", "\n").encode()) == base
    assert content_digest(b"\x0b" + MESSAGE.encode() + b"\r\x1c\r") == base
    assert content_digest(MESSAGE) == base  # text or bytes


def test_any_other_difference_counts() -> None:
    base = content_digest(MESSAGE.encode())
    for old, new in [("|72|", "|73|"), ("|P|2.5", "|T|2.5"), ("APP", "APQ"), ("123", "124")]:
        assert content_digest(MESSAGE.replace(old, new, 1).encode()) != base, (old, new)


def test_an_unreadable_payload_is_its_raw_bytes() -> None:
    junk = b"\x00\xffnot hl7"
    assert content_digest(junk) == hashlib.sha256(junk).hexdigest()
