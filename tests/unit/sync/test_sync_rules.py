"""Pure rules of sync: backoff, address checks, notification signatures."""

from __future__ import annotations

import base64

import pytest
from joserfc import jws
from joserfc.errors import BadSignatureError
from joserfc.jwk import OKPKey
from joserfc.jws import JWSRegistry

from gateway.sync.backoff import Backoff
from gateway.sync.netguard import EndpointRefused, is_public, parse_endpoint, resolve
from gateway.sync.signing import NotificationSigner

S = 1_000_000


def test_backoff_doubles_up_to_its_cap_then_dead_letters() -> None:
    b = Backoff(base=30, cap=3600, horizon=72 * 3600)
    assert [b.delay(n) // S for n in (1, 2, 3, 4)] == [30, 60, 120, 240]
    assert b.delay(40) // S == 3600
    assert b.next_due(created=0, now=10 * S, attempts=1) == 40 * S
    assert b.next_due(created=0, now=72 * 3600 * S - 10 * S, attempts=30) is None


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("93.184.216.34", True),
        ("2606:2800:220:1:248:1893:25c8:1946", True),
        ("127.0.0.1", False),
        ("10.1.2.3", False),
        ("192.168.0.1", False),
        ("172.16.5.4", False),
        ("169.254.169.254", False),  # cloud metadata: link-local
        ("::1", False),
        ("fe80::1", False),
        ("fd00::1", False),
        ("::ffff:127.0.0.1", False),
        ("0.0.0.0", False),  # noqa: S104 - an address to refuse, not a bind
        ("224.0.0.1", False),
    ],
)
def test_public_addresses(address: str, public: bool) -> None:
    assert is_public(address) is public


def test_resolution_refuses_any_private_answer_unless_allowed() -> None:
    target = parse_endpoint("https://hooks.example.org/x")
    mixed = lambda host, port: ["93.184.216.34", "10.0.0.7"]  # noqa: E731
    with pytest.raises(EndpointRefused):
        resolve(target, allow_private=False, resolver=mixed)
    assert resolve(target, allow_private=True, resolver=mixed) == "93.184.216.34"
    assert resolve(target, allow_private=False, resolver=lambda h, p: ["93.184.216.34"])
    with pytest.raises(EndpointRefused):
        resolve(target, allow_private=True, resolver=lambda h, p: ["0.0.0.0"])  # noqa: S104
    assert target.at("2001:db8::1") == "https://[2001:db8::1]:443/x"
    assert target.host_header == "hooks.example.org"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def test_signature_verifies_with_an_independent_implementation() -> None:
    signer = NotificationSigner.generate()
    body = b'{"resourceType":"Bundle"}'
    protected, empty, signature = signer.sign(body, {"jti": "e1", "htu": "https://r/x"}).split(".")
    assert empty == ""
    key = OKPKey.import_key(signer.jwks()["keys"][0])
    registry = JWSRegistry(algorithms=["Ed25519"], strict_check_header=False)
    got = jws.deserialize_compact(
        f"{protected}.{_b64(body)}.{signature}", key, algorithms=["Ed25519"], registry=registry
    )
    assert got.protected["jti"] == "e1" and got.protected["kid"] == signer.kid
    with pytest.raises(BadSignatureError):
        jws.deserialize_compact(
            f"{protected}.{_b64(body + b' ')}.{signature}",
            key,
            algorithms=["Ed25519"],
            registry=registry,
        )
