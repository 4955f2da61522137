"""Paging parameters shared by history and search."""

from __future__ import annotations

from gateway.access.context import AccessContext
from gateway.errors import BadRequest
from gateway.fhir.cursor import digest
from gateway.rest.request import FhirRequest


def count_param(req: FhirRequest, default: int, maximum: int) -> int:
    """``_count``: a non-negative integer, at most ``maximum`` (else 400)."""
    raw = req.param("_count")
    if raw is None:
        return default
    if not raw.isdigit():
        raise BadRequest(
            f"_count must be a non-negative integer, not '{raw}'",
            expression="_count",
            code="GW-1602",
        )
    value = int(raw)
    if value > maximum:
        raise BadRequest(
            f"_count={value} exceeds the maximum of {maximum}", expression="_count", code="GW-1603"
        )
    return value


def caller_digest(ctx: AccessContext) -> str:
    """Who a cursor belongs to: the same client, user and patient binding."""
    return digest(
        [
            ctx.kind,
            ctx.client_id or "",
            ctx.subject or "",
            ctx.patient or "",
            ctx.group or "",
            ctx.purpose_of_use,
        ]
    )
