"""The verifier's fast opener and every audit append build the same associated data as
the general path."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine

from gateway.crypto import envelope
from gateway.storage.sealing import AuditOpener, audit_aad


@pytest.mark.parametrize("seq", [0, 7, 10, 999, 1_000_000, 123_456_789_012_345])
def test_its_associated_data_is_the_general_one(seq: int) -> None:
    with create_engine("sqlite://").connect() as conn:
        assert AuditOpener(conn).aad(seq) == envelope.aad("audit", seq)
    assert audit_aad(seq) == envelope.aad("audit", seq)


def test_plaintext_passes_through_and_sealed_content_needs_keys() -> None:
    with create_engine("sqlite://").connect() as conn:
        opener = AuditOpener(conn)
        assert opener(3, b'{"resourceType":"AuditEvent"}') == b'{"resourceType":"AuditEvent"}'
        sealed = envelope.MAGIC + bytes((envelope.VERSION,)) + bytes(16 + 12 + 40)
        with pytest.raises(Exception, match="no keys are configured"):
            opener(3, sealed)
