"""Who may see and act on quarantine entries (a choice; the sources are silent).

A quarantined payload is the raw message or CSV record: clinical content and identity
traits of a patient, sent by one establishment. The rules, failing closed:

=============================  ===========  ================  ========  =========
caller                         list         one entry         replay    discard
=============================  ===========  ================  ========  =========
the sender: same client id     its own      full (payload,    yes       yes
and same structure                          issues, details)
admin                          all          metadata only     no (403)  yes
dev (GATEWAY_AUTH=disabled)    all          full              yes       yes
anyone else                    403          404               404       404
=============================  ===========  ================  ========  =========

*Metadata only* means no payload, no ``details`` (they show identity traits), and
issues reduced to their codes, locations and FHIRPath expressions: diagnostics can quote
values from the payload ("'soixante' is not a number"). An admin runs the service,
sees no clinical content anywhere else (gateway/policy/README.md, ``admin-no-clinical``)
and may discard an entry (e.g. a sender's garbage after a misconfiguration) without
reading it; every discard goes to the audit hook. Replay writes clinical data, so only
the sender (as itself) may replay; an admin, who sees the entry, is refused with 403
(GW-2013), not told it is missing. An entry another caller may not see is *not found*,
exactly like a hidden resource.
"""

from __future__ import annotations

from enum import Enum

from gateway.access.context import AccessContext
from gateway.intake.quarantine import QuarantineEntry


class View(Enum):
    NONE = "none"
    METADATA = "metadata"
    FULL = "full"


def is_sender(ctx: AccessContext, entry: QuarantineEntry) -> bool:
    return (
        ctx.kind in ("professional", "system")
        and ctx.client_id is not None
        and ctx.client_id == entry.source
        and ctx.structure == entry.structure
    )


def view_of(ctx: AccessContext, entry: QuarantineEntry, *, dev_mode: bool) -> View:
    if ctx.kind == "dev":
        return View.FULL if dev_mode else View.NONE
    if is_sender(ctx, entry):
        return View.FULL
    if ctx.kind == "admin":
        return View.METADATA
    return View.NONE


def may_list(ctx: AccessContext, *, dev_mode: bool) -> bool:
    if ctx.kind == "dev":
        return dev_mode
    return ctx.kind in ("admin", "professional", "system")


def may_replay(ctx: AccessContext, entry: QuarantineEntry, *, dev_mode: bool) -> bool:
    if ctx.kind == "dev":
        return dev_mode
    return is_sender(ctx, entry)


def may_discard(ctx: AccessContext, entry: QuarantineEntry, *, dev_mode: bool) -> bool:
    return may_replay(ctx, entry, dev_mode=dev_mode) or ctx.kind == "admin"


def listing_scope(ctx: AccessContext) -> tuple[str | None, str | None]:
    """The (source, structure) a listing is restricted to; (None, None) for all."""
    if ctx.kind in ("admin", "dev"):
        return None, None
    return ctx.client_id or "", ctx.structure or ""
