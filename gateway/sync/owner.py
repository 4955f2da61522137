"""Who owns a subscription or an export job, and whose rights they run with.

The owner is the caller who created it. Their caller facts (the token's facts, never a
request's mode) are kept with the subscription or job, and every match, notification and
exported resource is decided by a repository bound to a context rebuilt from those facts:
never more than the owner could read themselves. An emergency mode grants access for one
situation, not standing rights, so subscriptions and exports refuse it.
"""

from __future__ import annotations

import base64
from typing import Any

import orjson

from gateway.access.context import AccessContext
from gateway.errors import BadRequest, Forbidden
from gateway.fhir.cursor import digest
from gateway.search.blind import SUBSCRIPTION_OWNER_TAG

FACTS = (
    "kind",
    "client_id",
    "subject",
    "profession",
    "specialty",
    "role",
    "structure",
    "patient",
    "group",
    "software",
)
OWNER_KINDS = frozenset({"professional", "patient", "system", "auditor", "admin", "dev"})
OWNER_TAG = SUBSCRIPTION_OWNER_TAG  # kept out of the search index (gateway/search/blind.py)

SYNC_WORKER = AccessContext(kind="system", client_id="dmp-gateway/sync", subject="dmp-gateway/sync")
"""The worker's own context: it only ever manages Subscription status. Recognised by
identity (``is``), so no token can produce it."""


def is_sync_worker(ctx: AccessContext) -> bool:
    return ctx is SYNC_WORKER


def caller_facts(ctx: AccessContext) -> dict[str, str]:
    """The facts to keep for ``ctx``; 403 for callers who may not own standing access."""
    if ctx.kind not in OWNER_KINDS:
        raise Forbidden("This caller may not create subscriptions or exports", code="GW-2081")
    if ctx.purpose_of_use != "normal":
        raise Forbidden(
            "Subscriptions and exports are refused in an emergency access mode",
            code="GW-2082",
        )
    return {name: value for name in FACTS if isinstance(value := getattr(ctx, name), str)}


def context_of(facts: dict[str, str]) -> AccessContext:
    """The context the owner's facts give (normal mode)."""
    known = {k: v for k, v in facts.items() if k in FACTS and k != "kind"}
    return AccessContext(kind=facts["kind"], **known)  # type: ignore[arg-type]


def owner_key(facts: dict[str, str]) -> str:
    """Who may manage it: the same kind, client, subject, structure and group."""
    return digest(
        [facts.get(name, "") for name in ("kind", "client_id", "subject", "structure", "group")]
    )


def key_of(ctx: AccessContext) -> str:
    return owner_key(
        {
            name: value
            for name in ("kind", "client_id", "subject", "structure", "group")
            if isinstance(value := getattr(ctx, name), str)
        }
    )


def encode_facts(facts: dict[str, str]) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(facts)).rstrip(b"=").decode("ascii")


def decode_facts(code: str) -> dict[str, str]:
    """Facts from their encoding; BadRequest when malformed."""
    try:
        raw: Any = orjson.loads(base64.urlsafe_b64decode(code + "=" * (-len(code) % 4)))
    except (ValueError, orjson.JSONDecodeError):
        raise BadRequest("Malformed owner facts") from None
    if (
        not isinstance(raw, dict)
        or raw.get("kind") not in OWNER_KINDS
        or not all(k in FACTS and isinstance(v, str) for k, v in raw.items())
    ):
        raise BadRequest("Malformed owner facts")
    return dict(raw)


def owner_tag(facts: dict[str, str]) -> dict[str, str]:
    """The ``meta.tag`` that carries a subscription's owner (the gateway sets it)."""
    return {
        "system": OWNER_TAG,
        "code": encode_facts(facts),
        "display": "Owner of this subscription (set by the gateway)",
    }


def facts_in(resource: dict[str, Any]) -> dict[str, str] | None:
    """The owner facts tagged on a stored subscription, or None."""
    meta = resource.get("meta")
    for tag in (meta.get("tag") or []) if isinstance(meta, dict) else []:
        if isinstance(tag, dict) and tag.get("system") == OWNER_TAG:
            code = tag.get("code")
            if isinstance(code, str):
                try:
                    return decode_facts(code)
                except BadRequest:
                    return None
    return None
