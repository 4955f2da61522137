"""Every parser of sync input refuses bad input with its own error, never a crash."""

from __future__ import annotations

import contextlib
from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.config import SyncSettings
from gateway.errors import GatewayError
from gateway.events.model import ChangeEvent, EventFormatError, PatientNotice
from gateway.storage.changes import FeedPosition, snapshot_xmin
from gateway.sync.feed_params import parse_feed_params
from gateway.sync.netguard import EndpointRefused, check_origin, normalise_origin
from gateway.sync.owner import decode_facts, encode_facts
from gateway.sync.subscription_rules import parse_channel, parse_criteria, parse_headers

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=10,
)


@given(st.binary(max_size=200) | json_values.map(orjson.dumps))
def test_event_decoding_never_crashes(data: bytes) -> None:
    for decode in (ChangeEvent.decode, PatientNotice.decode):
        with contextlib.suppress(EventFormatError):
            decode(data)


def test_events_round_trip() -> None:
    change = ChangeEvent(3, "Observation", "o1", 2, "update", "p1", 1_700_000_000_000_000)
    assert ChangeEvent.decode(change.encode()) == change
    assert change.event_id == "Observation/o1/_history/2"
    notice = PatientNotice("n", "document-announced", "p1", 5, resource="DocumentReference/d")
    assert PatientNotice.decode(notice.encode()) == notice
    with pytest.raises(EventFormatError):
        ChangeEvent.decode(change.encode().replace(b'"v":1', b'"v":2'))


@given(json_values)
def test_feed_positions_from_anything(raw: Any) -> None:
    with contextlib.suppress(ValueError):
        FeedPosition.from_json(raw)


def test_feed_position_round_trip_and_snapshots() -> None:
    position = FeedPosition(lo="10:20:12,15", hi="18:30:", after=7)
    assert FeedPosition.from_json(position.to_json()) == position
    assert snapshot_xmin("10:20:12,15") == 10
    for bad in ("", "1:2", "a:b:", "1:2:x"):
        with pytest.raises(ValueError, match="snapshot"):
            snapshot_xmin(bad)


@given(st.lists(st.tuples(st.text(max_size=10), st.text(max_size=10)), max_size=6))
def test_feed_params_never_crash(query: list[tuple[str, str]]) -> None:
    with contextlib.suppress(GatewayError):
        parse_feed_params(query, SyncSettings())


def test_feed_params() -> None:
    got = parse_feed_params(
        [("_type", "Patient,Observation"), ("_type", "Patient"), ("limit", "5"), ("wait", "2.5")],
        SyncSettings(),
    )
    assert got.types == ("Observation", "Patient") and got.limit == 5 and got.wait == 2.5
    for query in ([("limit", "1.5")], [("wait", "-1")], [("start", "then")], [("x", "1")]):
        with pytest.raises(GatewayError):
            parse_feed_params(query, SyncSettings())


@given(st.text(max_size=60))
def test_criteria_never_crash(text: str) -> None:
    with contextlib.suppress(GatewayError):
        parse_criteria(text)


def test_criteria() -> None:
    assert parse_criteria("Observation").params == ()
    got = parse_criteria("Observation?identifier=urn:x|1&_id=a")
    assert got.resource_type == "Observation"
    assert got.params == (("identifier", "urn:x|1"), ("_id", "a"))
    for bad in ("", "Nope?x=1", "/Observation", "Observation?_sort=date", "Observation?a="):
        with pytest.raises(GatewayError):
            parse_criteria(bad)


@given(json_values)
def test_channels_and_headers_never_crash(value: Any) -> None:
    for call in (
        lambda: parse_channel({"channel": value}, ["https://a.example"]),
        lambda: parse_headers(value),
    ):
        with contextlib.suppress(GatewayError):
            call()


def test_headers() -> None:
    assert parse_headers(["Authorization: Bearer x"]) == (("Authorization", "Bearer x"),)
    for bad in (["X-DMP-Event-Id: 1"], ["no colon"], ["A: b\r\nHost: c"], ["Content-Type: x"]):
        with pytest.raises(GatewayError):
            parse_headers(bad)


@given(st.text(max_size=80), st.lists(st.text(max_size=40), max_size=3))
def test_origin_checks_never_crash(url: str, allowed: list[str]) -> None:
    with contextlib.suppress(EndpointRefused):
        check_origin(url, allowed)


def test_origins_are_exact() -> None:
    assert normalise_origin("HTTPS://Example.ORG:443") == "https://example.org"
    allowed = ["https://hooks.example.org", "http://127.0.0.1:8081"]
    assert check_origin("https://hooks.example.org/a?b=1", allowed).path == "/a?b=1"
    assert check_origin("http://127.0.0.1:8081/x", allowed).port == 8081
    for bad in (
        "https://hooks.example.org.evil.com/",
        "https://evil.com/https://hooks.example.org",
        "http://hooks.example.org/",  # another scheme is another origin
        "https://hooks.example.org:8443/",
        "https://user:pw@hooks.example.org/",
        "ftp://hooks.example.org/",
    ):
        with pytest.raises(EndpointRefused):
            check_origin(bad, allowed)


@given(st.text(max_size=80))
def test_owner_facts_never_crash(code: str) -> None:
    with contextlib.suppress(GatewayError):
        decode_facts(code)


def test_owner_facts_round_trip() -> None:
    facts = {"kind": "system", "client_id": "demo-ehpad", "group": "g1"}
    assert decode_facts(encode_facts(facts)) == facts
