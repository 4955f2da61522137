"""A corpus of bad tokens: each one is refused with 401 and the reason that names it."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Callable, Mapping
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.auth import ClientRegistry, InMemoryReplayGuard, TokenRejected, demo, verify
from gateway.auth.dev import public_jwk as public
from gateway.auth.dev import sign_token, token_claims
from gateway.errors import Unauthorized

AUDIENCE = "https://gateway.test/fhir"  # as in conftest.py
NOW = 1_750_000_000
Keys = dict[str, dict[str, Any]]

DROP = object()
INS = demo.PATIENT_INS[0]


def b64(data: bytes | str) -> str:
    raw = data.encode() if isinstance(data, str) else data
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


class Forge:
    """Builds tokens, good and bad, for the demo clients of conftest.py."""

    def __init__(self, keys: Keys) -> None:
        self.keys = keys

    def claims(
        self, actor: demo.DemoActor = demo.PHYSICIAN, client: str = "vendor", **changes: Any
    ) -> dict[str, Any]:
        facts = {**actor.claims(), "patient": INS if actor.kind == "professional" else None}
        claims = token_claims(facts, client_id=client, audience=AUDIENCE, now=NOW, ttl=120)
        for name, value in changes.items():
            if value is DROP:
                claims.pop(name, None)
            else:
                claims[name] = value
        return claims

    def sign(
        self,
        claims: Mapping[str, Any] | None = None,
        key: Mapping[str, Any] | None = None,
        **header: Any,
    ) -> str:
        return sign_token(claims or self.claims(), key or self.keys["vendor_ed"], header=header)

    def compose(
        self,
        header: Mapping[str, Any] | str,
        payload: Mapping[str, Any] | str | bytes,
        signature: bytes = b"",
    ) -> str:
        head = header if isinstance(header, str) else json.dumps(header)
        body = payload if isinstance(payload, str | bytes) else json.dumps(payload)
        return f"{b64(head)}.{b64(body)}.{b64(signature)}"

    def hmac(self, alg: str, secret: bytes, kid: str = "vendor-ed") -> str:
        digest = {"HS256": hashlib.sha256, "HS384": hashlib.sha384, "HS512": hashlib.sha512}[alg]
        signing_input = (
            f"{b64(json.dumps({'alg': alg, 'kid': kid}))}.{b64(json.dumps(self.claims()))}"
        )
        signature = hmac.new(secret, signing_input.encode(), digest).digest()
        return f"{signing_input}.{b64(signature)}"

    def signed_payload(self, payload: bytes) -> str:
        """A correct signature over an arbitrary payload."""
        from joserfc import jws
        from joserfc.jwk import OKPKey

        from gateway.auth.verify import TokenJWSRegistry

        key = OKPKey.import_key({k: v for k, v in self.keys["vendor_ed"].items() if k != "alg"})
        header = {"alg": "Ed25519", "kid": "vendor-ed"}
        return jws.serialize_compact(
            header, payload, key, registry=TokenJWSRegistry(algorithms=["Ed25519"])
        )

    def public_secret(self) -> bytes:
        pub = {k: v for k, v in self.keys["vendor_ed"].items() if k != "d"}
        return json.dumps(pub).encode()


def _tamper_payload(f: Forge) -> str:
    head, _, sig = f.sign().split(".")
    return f"{head}.{b64(json.dumps(f.claims(sub='810000000025')))}.{sig}"


def _truncate_signature(f: Forge) -> str:
    token = f.sign(key=f.keys["vendor_es"])
    return token[:-8]


Build = Callable[[Forge], "str | None"]
CASES: list[tuple[str, str, Build]] = [
    # Size and shape.
    ("empty", "token-missing", lambda f: ""),
    ("none", "token-missing", lambda f: None),
    ("garbage over 8 KiB", "token-too-large", lambda f: "a" * 9000),
    ("signed but over 8 KiB", "token-too-large", lambda f: f.sign(f.claims(pad="x" * 8200))),
    ("two segments", "malformed", lambda f: ".".join(f.sign().split(".")[:2])),
    ("four segments", "malformed", lambda f: f.sign() + ".e30"),
    ("not base64url", "malformed", lambda f: "a+b/c.e30.sig"),
    ("empty header", "malformed", lambda f: ".e30.c2ln"),
    ("header not JSON", "malformed", lambda f: f.compose("{alg", {})),
    ("header a JSON list", "malformed", lambda f: f.compose("[1]", {})),
    (
        "duplicate alg member",
        "malformed",
        lambda f: f.compose('{"alg":"Ed25519","alg":"none","kid":"vendor-ed"}', {}),
    ),
    ("non-ASCII", "malformed", lambda f: f.sign().replace("e", "é", 1)),
    ("alg missing", "malformed", lambda f: f.compose({"kid": "vendor-ed"}, f.claims())),
    # Algorithms.
    ("alg none", "alg-none", lambda f: f.compose({"alg": "none", "kid": "vendor-ed"}, f.claims())),
    (
        "alg None, signed",
        "alg-none",
        lambda f: f.compose({"alg": "None", "kid": "vendor-ed"}, f.claims(), b"x" * 64),
    ),
    (
        "HS256 with the public key as secret",
        "alg-hmac",
        lambda f: f.hmac("HS256", f.public_secret()),
    ),
    (
        "HS512 with the x coordinate as secret",
        "alg-hmac",
        lambda f: f.hmac("HS512", f.keys["vendor_ed"]["x"].encode()),
    ),
    ("HS384", "alg-hmac", lambda f: f.hmac("HS384", b"secret")),
    (
        "RS256",
        "alg-unsupported",
        lambda f: f.compose({"alg": "RS256", "kid": "vendor-ed"}, f.claims(), b"s" * 256),
    ),
    (
        "ES384",
        "alg-unsupported",
        lambda f: f.compose({"alg": "ES384", "kid": "vendor-es"}, f.claims(), b"s" * 96),
    ),
    (
        "PS256",
        "alg-unsupported",
        lambda f: f.compose({"alg": "PS256", "kid": "vendor-es"}, f.claims(), b"s" * 64),
    ),
    # Keys.
    ("kid missing", "kid-missing", lambda f: f.compose({"alg": "Ed25519"}, f.claims(), b"s")),
    ("kid unknown", "kid-unknown", lambda f: f.sign(kid="nobody")),
    (
        "kid not a string",
        "malformed",
        lambda f: f.compose({"alg": "Ed25519", "kid": 7}, f.claims(), b"s" * 64),
    ),
    (
        "ES256 against an Ed25519 key",
        "alg-key-mismatch",
        lambda f: f.compose({"alg": "ES256", "kid": "vendor-ed"}, f.claims(), b"s" * 64),
    ),
    (
        "EdDSA against a P-256 key",
        "alg-key-mismatch",
        lambda f: f.compose({"alg": "EdDSA", "kid": "vendor-es"}, f.claims(), b"s" * 64),
    ),
    (
        "embedded jwk",
        "header-invalid",
        lambda f: f.compose(
            {"alg": "Ed25519", "kid": "vendor-ed", "jwk": public(f.keys["stranger"])},
            f.claims(),
            b"s" * 64,
        ),
    ),
    (
        "jku",
        "header-invalid",
        lambda f: f.compose(
            {"alg": "Ed25519", "kid": "vendor-ed", "jku": "https://evil.example/jwks"},
            f.claims(),
            b"s" * 64,
        ),
    ),
    (
        "x5c",
        "header-invalid",
        lambda f: f.compose(
            {"alg": "Ed25519", "kid": "vendor-ed", "x5c": ["MIIB"]}, f.claims(), b"s" * 64
        ),
    ),
    (
        "crit",
        "header-invalid",
        lambda f: f.compose(
            {"alg": "Ed25519", "kid": "vendor-ed", "crit": ["exp"], "exp": 1}, f.claims(), b"s" * 64
        ),
    ),
    (
        "typ JOSE",
        "header-invalid",
        lambda f: f.compose(
            {"alg": "Ed25519", "kid": "vendor-ed", "typ": "JOSE"}, f.claims(), b"s" * 64
        ),
    ),
    # Signatures.
    (
        "signed by another key with a registered kid",
        "bad-signature",
        lambda f: f.sign(key=f.keys["stranger"]),
    ),
    ("payload swapped after signing", "bad-signature", _tamper_payload),
    ("ES256 signature truncated", "bad-signature", _truncate_signature),
    (
        "signature of another token",
        "bad-signature",
        lambda f: ".".join([*f.sign().split(".")[:2], f.sign(f.claims(jti="x")).split(".")[2]]),
    ),
    ("empty signature", "bad-signature", lambda f: ".".join(f.sign().split(".")[:2]) + "."),
    # Payload.
    ("payload a JSON list", "claims-malformed", lambda f: f.signed_payload(b"[1,2]")),
    ("payload not JSON", "claims-malformed", lambda f: f.signed_payload(b"iss=vendor")),
    (
        "payload with duplicate claims",
        "claims-malformed",
        lambda f: f.signed_payload(b'{"iss":"vendor","iss":"ehpad"}'),
    ),
    # Registered claims.
    ("iss missing", "claim-missing", lambda f: f.sign(f.claims(iss=DROP))),
    ("iss of another client", "iss-mismatch", lambda f: f.sign(f.claims(iss="ehpad"))),
    ("aud missing", "claim-missing", lambda f: f.sign(f.claims(aud=DROP))),
    ("aud wrong", "aud-mismatch", lambda f: f.sign(f.claims(aud="https://other/fhir"))),
    ("aud list without us", "aud-mismatch", lambda f: f.sign(f.claims(aud=["a", "b"]))),
    ("aud a number", "claim-invalid", lambda f: f.sign(f.claims(aud=1))),
    ("expired", "expired", lambda f: f.sign(f.claims(iat=NOW - 200, exp=NOW - 100))),
    (
        "iat in the future",
        "not-yet-valid",
        lambda f: f.sign(f.claims(iat=NOW + 120, exp=NOW + 180)),
    ),
    ("nbf in the future", "not-yet-valid", lambda f: f.sign(f.claims(nbf=NOW + 120))),
    ("valid 301 s", "lifetime-too-long", lambda f: f.sign(f.claims(iat=NOW, exp=NOW + 301))),
    ("valid one day", "lifetime-too-long", lambda f: f.sign(f.claims(iat=NOW, exp=NOW + 86400))),
    ("exp before iat", "claim-invalid", lambda f: f.sign(f.claims(iat=NOW, exp=NOW - 1))),
    ("exp missing", "claim-missing", lambda f: f.sign(f.claims(exp=DROP))),
    ("iat missing", "claim-missing", lambda f: f.sign(f.claims(iat=DROP))),
    ("exp a string", "claim-invalid", lambda f: f.sign(f.claims(exp=str(NOW + 60)))),
    ("exp a boolean", "claim-invalid", lambda f: f.sign(f.claims(exp=True))),
    ("jti missing", "claim-missing", lambda f: f.sign(f.claims(jti=DROP))),
    ("jti empty", "claim-invalid", lambda f: f.sign(f.claims(jti=""))),
    ("jti too long", "claim-invalid", lambda f: f.sign(f.claims(jti="j" * 129))),
    # Caller facts.
    ("kind missing", "claim-missing", lambda f: f.sign(f.claims(kind=DROP))),
    ("kind dev", "kind-unknown", lambda f: f.sign(f.claims(kind="dev"))),
    ("kind auditor from a vendor", "kind-not-allowed", lambda f: f.sign(f.claims(kind="auditor"))),
    ("kind system from a vendor", "kind-not-allowed", lambda f: f.sign(f.claims(kind="system"))),
    ("sub missing", "claim-missing", lambda f: f.sign(f.claims(sub=DROP))),
    ("idNat_PS with a bad key", "claim-invalid", lambda f: f.sign(f.claims(sub="810000000018"))),
    (
        "patient sub not an INS",
        "claim-invalid",
        lambda f: f.sign(f.claims(demo.PATIENT, sub="285037512345689")),
    ),
    ("profession missing", "claim-missing", lambda f: f.sign(f.claims(profession=DROP))),
    ("profession unknown", "profession-unknown", lambda f: f.sign(f.claims(profession="99"))),
    ("profession a number", "claim-invalid", lambda f: f.sign(f.claims(profession=10))),
    ("structure missing", "claim-missing", lambda f: f.sign(f.claims(structure=DROP))),
    (
        "structure of another client",
        "structure-not-allowed",
        lambda f: f.sign(f.claims(structure=demo.EHPAD)),
    ),
    ("purpose_of_use missing", "claim-missing", lambda f: f.sign(f.claims(purpose_of_use=DROP))),
    (
        "purpose_of_use unknown",
        "mode-unknown",
        lambda f: f.sign(f.claims(purpose_of_use="urgence")),
    ),
    (
        "patient in break-the-glass",
        "mode-not-allowed",
        lambda f: f.sign(f.claims(demo.PATIENT, purpose_of_use="bris_de_glace", justification="x")),
    ),
    (
        "break-the-glass without justification",
        "justification-missing",
        lambda f: f.sign(f.claims(purpose_of_use="bris_de_glace")),
    ),
    (
        "break-the-glass with a blank justification",
        "justification-missing",
        lambda f: f.sign(f.claims(purpose_of_use="bris_de_glace", justification="   ")),
    ),
    ("software missing", "claim-missing", lambda f: f.sign(f.claims(software=DROP))),
    (
        "software without a name",
        "claim-invalid",
        lambda f: f.sign(f.claims(software={"version": "1"})),
    ),
    ("patient claim not an INS", "claim-invalid", lambda f: f.sign(f.claims(patient="123"))),
    ("specialty too long", "claim-invalid", lambda f: f.sign(f.claims(specialty="S" * 300))),
    (
        "group of another EHPAD",
        "group-not-allowed",
        lambda f: f.sign(
            f.claims(demo.EHPAD_SYSTEM, client="ehpad", group="other-group"), key=f.keys["ehpad"]
        ),
    ),
]


@pytest.fixture(scope="session")
def forge(keys: Keys) -> Forge:
    return Forge(keys)


def test_corpus_is_large_enough() -> None:
    assert len(CASES) >= 40
    assert len({c[0] for c in CASES}) == len(CASES)


@pytest.mark.parametrize(("name", "reason", "build"), CASES, ids=[c[0] for c in CASES])
def test_bad_token_is_rejected(
    forge: Forge, registry: ClientRegistry, name: str, reason: str, build: Build
) -> None:
    token = build(forge)
    guard = InMemoryReplayGuard(clock=lambda: NOW)
    with pytest.raises(TokenRejected) as caught:
        verify(token, registry, audience=AUDIENCE, now=NOW, replay=guard)
    error = caught.value
    assert isinstance(error, Unauthorized)
    assert error.status == 401
    assert error.reason.code == reason
    outcome = error.outcome()
    issue = outcome["issue"][0]
    assert issue["code"] == "login"
    assert issue["details"]["coding"][0]["code"] == error.reason.gateway_code
    assert reason in issue["diagnostics"]
    if reason in ("claim-missing", "claim-invalid"):
        # "sub missing", "exp before iat", "aud a number": the claim at fault is named.
        special = {"idNat_PS with a bad key": "sub", "patient sub not an INS": "sub"}
        claim = special.get(name, name.split()[0])
        assert f"'{claim}'" in issue["diagnostics"], issue["diagnostics"]
    if token:
        assert token[:40] not in json.dumps(outcome)
    for secret in (INS, demo.PHYSICIAN.subject, "vendor-ed"):
        assert secret not in json.dumps(outcome)  # no claim or header value is echoed
    assert len(guard) == 0  # a refused token never burns its jti


def test_the_good_token_of_the_corpus_passes(forge: Forge, registry: ClientRegistry) -> None:
    ctx = verify(
        forge.sign(),
        registry,
        audience=AUDIENCE,
        now=NOW,
        replay=InMemoryReplayGuard(clock=lambda: NOW),
    )
    assert (ctx.kind, ctx.subject, ctx.patient) == ("professional", demo.PHYSICIAN.subject, INS)


def test_replayed_token(forge: Forge, registry: ClientRegistry) -> None:
    guard = InMemoryReplayGuard(clock=lambda: NOW)
    token = forge.sign()
    verify(token, registry, audience=AUDIENCE, now=NOW, replay=guard)
    with pytest.raises(TokenRejected) as caught:
        verify(token, registry, audience=AUDIENCE, now=NOW, replay=guard)
    assert caught.value.reason.code == "replayed"
    # Another token with the same jti (re-signed, different content) is a replay too.
    again = forge.sign(
        forge.claims(
            jti=json.loads(base64.urlsafe_b64decode(token.split(".")[1] + "==="))["jti"],
            specialty="SM26",
        )
    )
    with pytest.raises(TokenRejected, match="replayed"):
        verify(again, registry, audience=AUDIENCE, now=NOW, replay=guard)


def test_missing_token_challenge_has_no_error_code() -> None:
    from gateway.auth.rejection import MISSING, REASONS
    from gateway.auth.rejection import TokenRejected as Rejected

    assert Rejected(MISSING).headers == {"WWW-Authenticate": "Bearer"}
    assert Rejected(REASONS["expired"]).headers == {
        "WWW-Authenticate": 'Bearer error="invalid_token"'
    }
    assert len({r.gateway_code for r in REASONS.values()}) == len(REASONS)


@settings(max_examples=300, deadline=None)
@given(token=st.text(max_size=300) | st.text(alphabet="abcXYZ019-_.", max_size=300))
def test_random_strings_are_rejected_never_crash(registry: ClientRegistry, token: str) -> None:
    with pytest.raises(TokenRejected):
        verify(token, registry, audience=AUDIENCE, now=NOW, replay=InMemoryReplayGuard())


@settings(max_examples=200, deadline=None)
@given(position=st.integers(min_value=0), char=st.sampled_from("AQgw_-.x"))
def test_any_single_character_change_is_rejected(
    forge: Forge, registry: ClientRegistry, position: int, char: str
) -> None:
    token = forge.sign(key=forge.keys["vendor_es"])
    index = position % len(token)
    mutated = token[:index] + char + token[index + 1 :]
    guard = InMemoryReplayGuard(clock=lambda: NOW)
    if mutated == token:
        return
    try:
        verify(mutated, registry, audience=AUDIENCE, now=NOW, replay=guard)
    except TokenRejected:
        return
    # Base64url has slack in its last character: only a byte-identical decoding may pass.
    decoded = [base64.urlsafe_b64decode(s + "===") for s in mutated.split(".")]
    original = [base64.urlsafe_b64decode(s + "===") for s in token.split(".")]
    assert decoded == original


GOOD: list[tuple[str, str, str, dict[str, Any]]] = [
    # (actor, client, key, extra claims)
    ("physician", "vendor", "vendor_ed", {}),
    ("pharmacist", "vendor", "vendor_es", {}),
    ("nurse", "vendor", "vendor_ed", {"software": "LGC/2.1"}),
    ("regulator", "vendor", "vendor_es", {"purpose_of_use": "centre_15"}),
    (
        "physician",
        "vendor",
        "vendor_ed",
        {"purpose_of_use": "bris_de_glace", "justification": "unconscious patient"},
    ),
    ("idec", "ehpad", "ehpad", {}),
    ("patient", "vendor", "vendor_ed", {}),
    ("ehpad", "ehpad", "ehpad", {}),
    ("auditor", "audit-tool", "auditor", {}),
    ("admin", "ops", "admin", {}),
]


@pytest.mark.parametrize(
    ("actor", "client", "key", "extra"), GOOD, ids=[f"{g[0]}-{g[2]}-{len(g[3])}" for g in GOOD]
)
def test_good_tokens(
    forge: Forge, registry: ClientRegistry, actor: str, client: str, key: str, extra: dict[str, Any]
) -> None:
    who = demo.ACTORS[actor]
    token = forge.sign(forge.claims(who, client=client, **extra), key=forge.keys[key])
    ctx = verify(
        token, registry, audience=AUDIENCE, now=NOW, replay=InMemoryReplayGuard(clock=lambda: NOW)
    )
    assert ctx.kind == who.kind
    assert ctx.subject == who.subject
    assert ctx.client_id == client
    assert ctx.profession == who.profession
    assert ctx.structure == who.structure
    assert ctx.purpose_of_use == extra.get("purpose_of_use", "normal")
    assert ctx.justification == extra.get("justification")
    assert ctx.jti is not None
    if who.kind == "patient":
        assert ctx.patient == who.subject  # a patient's token concerns their own record
    if who.kind == "system":
        assert ctx.group == demo.EHPAD_GROUP  # the client's binding, not the token's say
    if who.kind in ("professional", "system"):
        assert ctx.software == extra.get("software", "demo/1.0")


@pytest.mark.parametrize("alg", ["EdDSA", "Ed25519"])
def test_both_names_of_ed25519(forge: Forge, registry: ClientRegistry, alg: str) -> None:
    token = sign_token(forge.claims(), forge.keys["vendor_ed"], algorithm=alg)
    verify(token, registry, audience=AUDIENCE, now=NOW, replay=InMemoryReplayGuard())


def test_representative_token(forge: Forge, registry: ClientRegistry) -> None:
    claims = forge.claims(demo.PATIENT, sub=demo.PATIENT_INS[1], patient=INS)
    ctx = verify(
        forge.sign(claims), registry, audience=AUDIENCE, now=NOW, replay=InMemoryReplayGuard()
    )
    assert (ctx.subject, ctx.patient) == (demo.PATIENT_INS[1], INS)


@pytest.mark.parametrize(
    ("iat", "exp", "nbf", "ok"),
    [
        (NOW - 100, NOW - 10, None, True),  # expired 10 s ago: within the 30 s skew
        (NOW - 100, NOW - 30, None, False),
        (NOW + 20, NOW + 80, None, True),  # issued by a clock 20 s ahead
        (NOW + 31, NOW + 80, None, False),
        (NOW, NOW + 300, NOW + 25, True),
        (NOW, NOW + 300, NOW + 40, False),
        (NOW, NOW + 300, None, True),  # exactly 5 minutes
    ],
)
def test_clock_skew(
    forge: Forge, registry: ClientRegistry, iat: int, exp: int, nbf: int | None, ok: bool
) -> None:
    token = forge.sign(forge.claims(iat=iat, exp=exp, nbf=nbf if nbf is not None else DROP))
    guard = InMemoryReplayGuard(clock=lambda: NOW)
    if ok:
        verify(token, registry, audience=AUDIENCE, now=NOW, replay=guard)
    else:
        with pytest.raises(TokenRejected):
            verify(token, registry, audience=AUDIENCE, now=NOW, replay=guard)


def test_audience_list(forge: Forge, registry: ClientRegistry) -> None:
    token = forge.sign(forge.claims(aud=["https://elsewhere", AUDIENCE]))
    verify(token, registry, audience=AUDIENCE, now=NOW, replay=InMemoryReplayGuard())
