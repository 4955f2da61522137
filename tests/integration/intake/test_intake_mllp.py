"""The MLLP listener over a real TCP socket: framing, pipelining, bad frames, disconnects."""

from __future__ import annotations

import ipaddress
import logging
import socket
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway.intake import Intake
from gateway.mllp import IntakeHandler, MllpClient
from gateway.mllp.framing import frame
from gateway.mllp.server import LOOPBACK, peer_allowed
from gateway.record.services import RecordServices
from gateway.storage import schema as s

from .support import RunningListener, count, ehpad_sender, hl7


def _msa(ack: bytes) -> list[str]:
    segments = ack.decode("utf-8").split("\r")
    return next(seg for seg in segments if seg.startswith("MSA")).split("|")


def test_several_messages_on_one_connection_are_acked_in_order(intake: Intake) -> None:
    messages = [
        hl7("fr-adt-a01-admission-ins.hl7"),
        hl7("fr-oru-r01-constantes-ehpad.hl7"),
        hl7("fr-ras-o17-administration-ucd.hl7"),
        hl7("fr-oru-r01-constantes-ehpad.hl7"),
    ]
    with (
        RunningListener(IntakeHandler(intake, ehpad_sender())) as live,
        MllpClient("127.0.0.1", live.port) as client,
    ):
        acks = client.pipeline(messages)
    assert [_msa(a)[1:3] for a in acks] == [
        ["AA", "TIL-ADT-000101"],
        ["AA", "TIL-ORU-001207"],
        ["AA", "TIL-RAS-000555"],
        ["AA", "TIL-ORU-001207"],
    ]
    assert acks[3] == acks[1], "the redelivered message gets its first ACK"


def test_framing_survives_any_chunking_and_junk_between_frames(
    intake: Intake, feeding: RecordServices
) -> None:
    data = (
        b"\r\n  "
        + frame(hl7("fr-adt-a01-admission-ins.hl7"))
        + b"\n\n"
        + frame(hl7("fr-adt-a08-latin1-lf.hl7"))
    )
    with (
        RunningListener(IntakeHandler(intake, ehpad_sender())) as live,
        MllpClient("127.0.0.1", live.port) as client,
    ):
        for i in range(0, len(data), 7):
            client.send_raw(data[i : i + 7])
            time.sleep(0.001)
        acks = [client.receive(), client.receive()]
    assert [_msa(a)[1] for a in acks] == ["AA", "AA"]
    latin = acks[1]
    assert latin.decode("latin-1").split("\r")[0].endswith("|P|2.5")


def test_a_broken_frame_is_rejected_and_kept_and_the_next_one_is_processed(
    intake: Intake, feeding: RecordServices
) -> None:
    message = hl7("fr-adt-a01-admission-ins.hl7")
    truncated = b"\x0b" + message[:120]  # no end block: a new frame starts
    with (
        RunningListener(IntakeHandler(intake, ehpad_sender())) as live,
        MllpClient("127.0.0.1", live.port) as client,
    ):
        client.send_raw(truncated + frame(message))
        broken, good = client.receive(), client.receive()
    assert _msa(broken)[1] == "AR" and "frame" in broken.decode()
    assert _msa(good)[1:3] == ["AA", "TIL-ADT-000101"], "the complete resend is processed"
    assert count(feeding, s.intake_quarantine) == 1


def _err(ack: bytes | str) -> list[str]:
    text = ack.decode("utf-8") if isinstance(ack, bytes) else ack
    return next(seg for seg in text.split("\r") if seg.startswith("ERR|")).split("|")


def _two_messages() -> tuple[bytes, bytes]:
    first = hl7("fr-oru-r01-constantes-ehpad.hl7")
    second = first.replace(b"TIL-ORU-001207", b"TIL-ORU-001208").replace(
        b"OBX|1|ST|TA^Tension", b"OBX|1|ST|TB^Tension"
    )
    return first, second


def test_two_messages_in_one_frame_are_refused_whole_and_resent_one_by_one(
    intake: Intake, feeding: RecordServices
) -> None:
    first, second = _two_messages()
    with (
        RunningListener(IntakeHandler(intake, ehpad_sender())) as live,
        MllpClient("127.0.0.1", live.port) as client,
    ):
        assert _msa(client.exchange(hl7("fr-adt-a01-admission-ins.hl7")))[1] == "AA"
        versions = count(feeding)
        quarantined = count(feeding, s.intake_quarantine)
        ack = client.exchange(first.rstrip(b"\r") + b"\r" + second)
        assert count(feeding) == versions, "nothing of the payload is stored"
        assert count(feeding, s.intake_quarantine) == quarantined + 1
        assert ack.decode().count("MSA|") == 1
        assert _msa(ack)[1:3] == ["AR", "TIL-ORU-001207"]
        err = _err(ack)
        assert err[2] == "MSH^2"
        assert err[3] == "100^Segment sequence error^HL70357"
        assert err[5] == "GW-4116^structure^L"
        assert "one message per MLLP block" in err[8]
        # The sender then sends them one by one: each is processed, not taken for
        # another message reusing the first one's control id.
        assert _msa(client.exchange(first))[1:3] == ["AA", "TIL-ORU-001207"]
        assert _msa(client.exchange(second))[1:3] == ["AA", "TIL-ORU-001208"]


def test_two_messages_in_one_http_body_are_refused_whole(
    intake: Intake, feeding: RecordServices
) -> None:
    # What POST /ingest/hl7v2 does with its body.
    sender = ehpad_sender()
    assert intake.hl7v2(hl7("fr-adt-a01-admission-ins.hl7"), sender).ack_code == "AA"
    versions = count(feeding)
    first, second = _two_messages()
    outcome = intake.hl7v2(first + second, sender)
    assert (outcome.status, outcome.ack_code) == ("quarantined", "AR")
    assert outcome.quarantine_id
    assert count(feeding) == versions
    assert outcome.ack.count("MSA|") == 1
    assert _err(outcome.ack)[2:4] == ["MSH^2", "100^Segment sequence error^HL70357"]


def test_a_batch_envelope_in_one_frame_is_refused(intake: Intake, feeding: RecordServices) -> None:
    batch = b"FHS|^~\\&|TITAN\rBHS|^~\\&|TITAN\r" + hl7("fr-adt-a01-admission-ins.hl7")
    batch = batch.rstrip(b"\r") + b"\rBTS|1\rFTS|1\r"
    versions = count(feeding)
    with (
        RunningListener(IntakeHandler(intake, ehpad_sender())) as live,
        MllpClient("127.0.0.1", live.port) as client,
    ):
        ack = client.exchange(batch)
    assert _msa(ack)[1:3] == ["AR", "TIL-ADT-000101"]
    assert _err(ack)[2:4] == ["FHS^1", "100^Segment sequence error^HL70357"]
    assert count(feeding) == versions


def test_a_frame_over_the_limit_is_rejected(intake: Intake, feeding: RecordServices) -> None:
    handler = IntakeHandler(intake, ehpad_sender())
    with (
        RunningListener(handler, max_frame_bytes=256) as live,
        MllpClient("127.0.0.1", live.port) as client,
    ):
        ack = client.exchange(hl7("fr-oru-r01-constantes-ehpad.hl7"))
        small = client.exchange(b"MSH|^~\\&|A|B|||20240101||ADT^A99|X1|P|2.5")
    assert _msa(ack)[1] == "AR" and "exceeds 256 bytes" in ack.decode()
    err = _err(ack)
    assert err[3] == "207^Application internal error^HL70357"
    assert err[5] == "GW-1013^too-costly^L", "the size limit's code, as over HTTP"
    assert "exceeds 256 bytes, the limit of this listener" in err[8]
    assert _msa(small)[1] == "AR", "unsupported event, the connection still works"


def test_a_client_that_disconnects_mid_message_loses_only_that_message(
    intake: Intake, feeding: RecordServices
) -> None:
    versions = count(feeding)
    with RunningListener(IntakeHandler(intake, ehpad_sender())) as live:
        sock = socket.create_connection(("127.0.0.1", live.port))
        sock.sendall(b"\x0b" + hl7("fr-adt-a01-admission-ins.hl7")[:200])
        sock.close()
        deadline = time.monotonic() + 10
        while live.server.dropped_partial == 0 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert live.server.dropped_partial == 1
        assert count(feeding) == versions, "nothing stored from a partial message"
        with MllpClient("127.0.0.1", live.port) as client:
            ack = client.exchange(hl7("fr-adt-a01-admission-ins.hl7"))
    assert _msa(ack)[1] == "AA"


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(st.binary(max_size=400), st.booleans())
def test_random_bytes_never_take_the_listener_down(
    intake: Intake, payload: bytes, framed: bool
) -> None:
    with RunningListener(IntakeHandler(intake, ehpad_sender())) as live:
        with MllpClient("127.0.0.1", live.port, timeout=30) as client:
            client.send_raw(frame(payload) if framed else payload)
        with MllpClient("127.0.0.1", live.port, timeout=30) as client:
            ack = client.exchange(hl7("fr-adt-a08-latin1-lf.hl7"))
    assert _msa(ack)[1] == "AA"


def _closed_without_answer(port: int) -> bool:
    """Connect, send a message, and see the listener close without an ACK."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        try:
            sock.sendall(frame(hl7("fr-adt-a01-admission-ins.hl7")))
            return sock.recv(65536) == b""
        except ConnectionError:
            return True


def test_a_peer_outside_the_allowed_networks_is_closed_and_nothing_is_stored(
    intake: Intake, feeding: RecordServices
) -> None:
    before = count(feeding)
    quarantined = count(feeding, s.intake_quarantine)
    only_elsewhere = [ipaddress.ip_network("10.20.0.0/16")]
    with RunningListener(IntakeHandler(intake, ehpad_sender()), allow=only_elsewhere) as live:
        assert _closed_without_answer(live.port)
        assert live.server.refused == 1
    assert count(feeding) == before
    assert count(feeding, s.intake_quarantine) == quarantined


def test_connections_beyond_the_limit_are_closed_and_the_open_one_still_served(
    intake: Intake,
) -> None:
    with (
        RunningListener(IntakeHandler(intake, ehpad_sender()), max_connections=1) as live,
        MllpClient("127.0.0.1", live.port) as first,
    ):
        ack = first.exchange(hl7("fr-adt-a01-admission-ins.hl7"))  # the first is admitted
        assert _closed_without_answer(live.port)
        assert live.server.refused == 1
        assert _msa(first.exchange(hl7("fr-oru-r01-constantes-ehpad.hl7")))[1] == "AA"
    assert _msa(ack)[1] == "AA"


@pytest.mark.parametrize(
    ("address", "allowed"),
    [
        ("127.0.0.1", True),
        ("127.8.9.10", True),
        ("::1", True),
        ("::ffff:127.0.0.1", True),
        ("10.0.0.1", False),
        ("::ffff:10.0.0.1", False),
        ("fe80::1%eth0", False),
        ("", False),
        ("not an address", False),
    ],
)
def test_only_loopback_peers_are_allowed_by_default(address: str, allowed: bool) -> None:
    assert peer_allowed(address, LOOPBACK) is allowed


def test_allowed_networks_admit_their_members_only() -> None:
    allow = [ipaddress.ip_network("10.20.0.0/16"), ipaddress.ip_network("2001:db8::/32")]
    assert peer_allowed("10.20.255.1", allow)
    assert peer_allowed("::ffff:10.20.0.9", allow)
    assert peer_allowed("2001:db8::7", allow)
    assert not peer_allowed("10.21.0.1", allow)
    assert not peer_allowed("127.0.0.1", allow)


def test_each_message_is_logged_and_observed_once_without_its_content(
    intake: Intake, feeding: RecordServices, caplog: pytest.LogCaptureFixture
) -> None:
    message = hl7("fr-adt-a01-admission-ins.hl7")
    seen: list[str] = []
    handler = IntakeHandler(
        intake, ehpad_sender(), observe=lambda outcome, _s: seen.append(outcome)
    )
    caplog.set_level(logging.INFO, logger="gateway.mllp")
    with (
        RunningListener(handler) as live,
        MllpClient("127.0.0.1", live.port) as client,
    ):
        client.exchange(message)
        client.exchange(message)
        client.send_raw(
            b"\x0b" + message[:120] + frame(b"MSH|^~\\&|A|B|||20240101||ADT^A99|X1|P|2.5")
        )
        client.receive(), client.receive()
    assert seen == ["accepted", "duplicate", "quarantined", "quarantined"]
    logged = [r for r in caplog.records if r.getMessage() == "mllp message"]
    assert [(r.outcome, r.ack_code) for r in logged] == [  # type: ignore[attr-defined]
        ("accepted", "AA"),
        ("duplicate", "AA"),
        ("quarantined", "AR"),
        ("quarantined", "AR"),
    ]
    assert logged[0].kind == "ADT^A01"  # type: ignore[attr-defined]
    assert logged[2].quarantine_id and logged[3].quarantine_id  # type: ignore[attr-defined]
    assert all(r.duration_ms >= 0 for r in logged)  # type: ignore[attr-defined]
    text = " ".join(f"{r.getMessage()} {vars(r)}" for r in caplog.records)
    for secret in ("DUPONT", "240037505612377", "TIL-ADT-000101", "0612345678"):
        assert secret not in text


def test_a_failure_of_the_gateway_is_observed_as_failed(
    intake: Intake, services: RecordServices
) -> None:
    """The database refuses the intake (its ledger table is gone): AR 207, nothing
    stored, and the message counted as failed."""
    seen: list[str] = []
    handler = IntakeHandler(
        intake, ehpad_sender(), observe=lambda outcome, _s: seen.append(outcome)
    )
    rename = "ALTER TABLE {} RENAME TO {}"
    before = count(services)
    with services.store.engine.begin() as conn:
        conn.exec_driver_sql(rename.format("intake_message", "intake_message_away"))
    try:
        ack = handler.message(hl7("fr-adt-a01-admission-ins.hl7"))
    finally:
        with services.store.engine.begin() as conn:
            conn.exec_driver_sql(rename.format("intake_message_away", "intake_message"))
    assert _msa(ack)[1] == "AR" and "|207^" in ack.decode()
    assert seen == ["failed"]
    assert count(services) == before
