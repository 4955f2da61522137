"""Token claims -> :class:`AccessContext`, with every check that does not need crypto.

Claim names (the VIHF facts of DOMAIN.md §2, as a JWT, RFC 7519):

=================  ==========================================================  =========
claim              meaning                                                      required
=================  ==========================================================  =========
iss                client id (must own the signing key)                         all
aud                the gateway (string or list)                                 all
iat, exp           issued at / expiry (NumericDate); exp - iat <= 300 s         all
nbf                not before (optional)                                        -
jti                unique token id (replay guard)                               all
kind               professional | patient | system | auditor | admin            all
sub                idNat_PS (professional), INS (patient), operator id (others) all
profession         TRE_G15 code                                                 professional
specialty, role    TRE_R38 specialty, TRE_R85 role                              -
structure          idNat_Struct the caller acts for                             professional, system
patient            INS of the patient the call concerns                         -
purpose_of_use     normal | bris_de_glace | centre_15 (TRE_R248)                professional
justification      free text; required for bris_de_glace                        -
software           {name, version} or "name/version"                            professional, system
group              Group id; must be the client's bound group                   -
=================  ==========================================================  =========
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, cast

from gateway.access.context import AccessContext, CallerKind, PurposeOfUse
from gateway.auth import rejection as rj
from gateway.auth.registry import Client
from gateway.fhir.identifiers import is_valid_idnat_ps, is_valid_nir

KINDS = frozenset({"professional", "patient", "system", "auditor", "admin"})
MODES = frozenset({"normal", "bris_de_glace", "centre_15"})
DEFAULT_PROFESSIONS = frozenset({"10", "21", "40", "50", "60", "69", "70"})  # DOMAIN.md §2
REQUIRED_BY_KIND: dict[str, tuple[str, ...]] = {
    "professional": ("profession", "structure", "purpose_of_use", "software"),
    "system": ("structure", "software"),
    "patient": (),
    "auditor": (),
    "admin": (),
}


@dataclass(frozen=True, slots=True)
class TokenRules:
    """Limits of token verification (issue #6)."""

    max_bytes: int = 8 * 1024
    max_lifetime: int = 300
    clock_skew: int = 30
    professions: frozenset[str] = DEFAULT_PROFESSIONS
    max_claim_length: int = 256
    max_justification_length: int = 2000


def _fail(reason: rj.TokenReason, claim: str | None = None) -> rj.TokenRejected:
    return rj.TokenRejected(reason, claim)


def _text(claims: Mapping[str, Any], name: str, rules: TokenRules, *, required: bool) -> str | None:
    value = claims.get(name)
    if value is None:
        if required:
            raise _fail(rj.CLAIM_MISSING, name)
        return None
    limit = rules.max_justification_length if name == "justification" else rules.max_claim_length
    if not isinstance(value, str) or not value.strip() or len(value) > limit:
        raise _fail(rj.CLAIM_INVALID, name)
    return value


def _number(claims: Mapping[str, Any], name: str, *, required: bool) -> float | None:
    value = claims.get(name)
    if value is None:
        if required:
            raise _fail(rj.CLAIM_MISSING, name)
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or value != value:
        raise _fail(rj.CLAIM_INVALID, name)
    return float(value)


def check_time(claims: Mapping[str, Any], now: float, rules: TokenRules) -> int:
    """exp, iat, nbf against ``now`` (with clock skew); returns exp for the replay guard."""
    exp = cast(float, _number(claims, "exp", required=True))
    iat = cast(float, _number(claims, "iat", required=True))
    nbf = _number(claims, "nbf", required=False)
    if exp <= iat:
        raise _fail(rj.CLAIM_INVALID, "exp")
    if exp + rules.clock_skew <= now:
        raise _fail(rj.EXPIRED)
    if iat > now + rules.clock_skew or (nbf is not None and nbf > now + rules.clock_skew):
        raise _fail(rj.NOT_YET_VALID)
    if exp - iat > rules.max_lifetime:
        raise _fail(rj.LIFETIME_TOO_LONG)
    return int(exp)


def check_audience(claims: Mapping[str, Any], audience: str) -> None:
    aud = claims.get("aud")
    if aud is None:
        raise _fail(rj.CLAIM_MISSING, "aud")
    audiences = aud if isinstance(aud, list) else [aud]
    if not all(isinstance(a, str) for a in audiences):
        raise _fail(rj.CLAIM_INVALID, "aud")
    if audience not in audiences:
        raise _fail(rj.AUD_MISMATCH)


def _software(claims: Mapping[str, Any], rules: TokenRules, *, required: bool) -> str | None:
    value = claims.get("software")
    if isinstance(value, Mapping):
        name, version = value.get("name"), value.get("version")
        if not isinstance(name, str) or not name.strip() or not isinstance(version, str):
            raise _fail(rj.CLAIM_INVALID, "software")
        value = f"{name}/{version}" if version else name
        if len(value) > rules.max_claim_length:
            raise _fail(rj.CLAIM_INVALID, "software")
        return value
    return _text(claims, "software", rules, required=required)


def context_from_claims(
    claims: Mapping[str, Any], client: Client, rules: TokenRules
) -> AccessContext:
    """The caller's context from verified claims (signature, iss, aud and time already
    checked). Raises :class:`TokenRejected` naming the first failed check."""
    kind = _text(claims, "kind", rules, required=True)
    if kind not in KINDS:
        raise _fail(rj.KIND_UNKNOWN)
    if kind not in client.kinds:
        raise _fail(rj.KIND_NOT_ALLOWED)
    required = REQUIRED_BY_KIND[kind]

    def text(name: str) -> str | None:
        return _text(claims, name, rules, required=name in required)

    subject = cast(str, _text(claims, "sub", rules, required=True))
    if kind == "professional" and not is_valid_idnat_ps(subject):
        raise _fail(rj.CLAIM_INVALID, "sub")
    if kind == "patient" and not is_valid_nir(subject):
        raise _fail(rj.CLAIM_INVALID, "sub")
    profession = text("profession")
    if kind == "professional" and profession not in rules.professions:
        raise _fail(rj.PROFESSION_UNKNOWN)
    structure = text("structure")
    if structure is not None and structure not in client.structures:
        raise _fail(rj.STRUCTURE_NOT_ALLOWED)
    patient = text("patient")
    if patient is not None and not is_valid_nir(patient):
        raise _fail(rj.CLAIM_INVALID, "patient")
    mode = text("purpose_of_use") or "normal"
    if mode not in MODES:
        raise _fail(rj.MODE_UNKNOWN)
    if mode != "normal" and kind != "professional":
        raise _fail(rj.MODE_NOT_ALLOWED)
    raw_justification = claims.get("justification")
    blank = isinstance(raw_justification, str) and not raw_justification.strip()
    justification = None if blank else text("justification")
    if mode == "bris_de_glace" and justification is None:
        raise _fail(rj.JUSTIFICATION_MISSING)
    group = text("group")
    if group is not None and group != client.group:
        raise _fail(rj.GROUP_NOT_ALLOWED)
    if kind == "system":
        if client.group is None:
            raise _fail(rj.GROUP_NOT_ALLOWED)
        group = client.group
    return AccessContext(
        kind=cast(CallerKind, kind),
        client_id=client.id,
        subject=subject,
        profession=profession if kind == "professional" else None,
        specialty=text("specialty"),
        role=text("role"),
        structure=structure,
        patient=patient if patient is not None or kind != "patient" else subject,
        purpose_of_use=cast(PurposeOfUse, mode),
        justification=justification,
        software=_software(claims, rules, required="software" in required),
        group=group,
        jti=cast(str, claims.get("jti")),
    )
