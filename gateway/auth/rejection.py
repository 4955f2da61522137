"""Why a bearer token was refused: stable reasons and the 401 error that carries them.

Every rejection is a :class:`TokenRejected`, a :class:`gateway.errors.Unauthorized` (401,
OperationOutcome issue ``login``) whose ``details`` code is the reason's own ``GW-21nn``
and whose diagnostics name the reason. Nothing taken from the token (not even a claim
value) appears in the message: tokens are credentials, and a claim may carry an INS.
The ``WWW-Authenticate`` header follows RFC 6750 §3.
"""

from __future__ import annotations

from dataclasses import dataclass

from gateway.errors import Unauthorized


@dataclass(frozen=True, slots=True)
class TokenReason:
    code: str
    gateway_code: str
    text: str


_ALL: dict[str, TokenReason] = {}


def _t(code: str, number: int, text: str) -> TokenReason:
    reason = TokenReason(code, f"GW-{2100 + number}", text)
    _ALL[code] = reason
    return reason


MISSING = _t("token-missing", 0, "no bearer token was given")
TOO_LARGE = _t("token-too-large", 1, "the token is larger than allowed")
MALFORMED = _t("malformed", 2, "the token is not a compact JWS")
ALG_NONE = _t("alg-none", 3, "unsigned tokens (alg none) are refused")
ALG_HMAC = _t("alg-hmac", 4, "HMAC algorithms are refused: clients sign with their private key")
ALG_UNSUPPORTED = _t("alg-unsupported", 5, "the signature algorithm is not ES256 or EdDSA")
KID_MISSING = _t("kid-missing", 6, "the token header has no kid")
KID_UNKNOWN = _t("kid-unknown", 7, "the kid names no registered key")
ALG_KEY_MISMATCH = _t("alg-key-mismatch", 8, "the algorithm does not match the registered key")
BAD_SIGNATURE = _t("bad-signature", 9, "the signature does not verify")
HEADER_INVALID = _t("header-invalid", 10, "the token header has a parameter that is refused")
CLAIMS_MALFORMED = _t("claims-malformed", 11, "the token payload is not a JSON object")
ISS_MISMATCH = _t("iss-mismatch", 12, "iss is not the client that owns the key")
AUD_MISMATCH = _t("aud-mismatch", 13, "aud does not name this gateway")
EXPIRED = _t("expired", 14, "the token has expired")
NOT_YET_VALID = _t("not-yet-valid", 15, "the token is not valid yet (iat or nbf in the future)")
LIFETIME_TOO_LONG = _t("lifetime-too-long", 16, "the token is valid for too long (exp - iat)")
CLAIM_MISSING = _t("claim-missing", 17, "a required claim is missing")
CLAIM_INVALID = _t("claim-invalid", 18, "a claim has an invalid type or value")
KIND_UNKNOWN = _t("kind-unknown", 19, "unknown kind of caller")
KIND_NOT_ALLOWED = _t("kind-not-allowed", 20, "this client may not issue tokens of this kind")
PROFESSION_UNKNOWN = _t("profession-unknown", 21, "unknown profession (TRE_G15)")
MODE_UNKNOWN = _t("mode-unknown", 22, "unknown purpose_of_use (TRE_R248)")
MODE_NOT_ALLOWED = _t("mode-not-allowed", 23, "only professionals may use an emergency mode")
JUSTIFICATION_MISSING = _t("justification-missing", 24, "bris_de_glace needs a justification")
STRUCTURE_NOT_ALLOWED = _t(
    "structure-not-allowed", 25, "the client may not speak for this structure"
)
GROUP_NOT_ALLOWED = _t("group-not-allowed", 26, "the client is not bound to this group")
REPLAYED = _t("replayed", 27, "this token (jti) was already used")
CENTRE15_NOT_REGULATOR = _t(
    "centre15-not-regulator", 28, "centre_15 is the mode of a regulating physician of a centre 15"
)

REASONS: dict[str, TokenReason] = dict(_ALL)


class TokenRejected(Unauthorized):
    """A 401 whose :attr:`reason` says which check refused the token."""

    def __init__(self, reason: TokenReason, claim: str | None = None) -> None:
        # ``claim`` is the name of the claim at fault (a name from our list, never a value
        # from the token), so that an integrator sees which one to fix.
        which = f": '{claim}'" if claim is not None else ""
        super().__init__(
            f"Bearer token rejected: {reason.text}{which} ({reason.code}).",
            code=reason.gateway_code,
            # RFC 6750 §3.1: no error code when the request carried no token at all.
            headers={
                "WWW-Authenticate": "Bearer"
                if reason is MISSING
                else 'Bearer error="invalid_token"'
            },
        )
        self.reason = reason
