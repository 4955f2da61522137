"""Who may see and act on quarantine entries (a choice; the sources are silent).

A quarantined payload is the raw message or CSV record: clinical content and identity
traits of a patient, sent by one establishment. The rules, failing closed:

=============================  ===========  ================  ========  =========
caller                         list         one entry         replay    discard
=============================  ===========  ================  ========  =========
the sender (:func:`owner_of`)  its own      full (payload,    yes       yes
                                            issues, details)
admin                          all          metadata only     no (403)  yes
dev (GATEWAY_AUTH=disabled)    all          full              yes       yes
anyone else                    403          404               404       404
=============================  ===========  ================  ========  =========

The sender is the entry's :class:`~gateway.intake.quarantine.Owner`: the same client id,
the same structure and, for a professional, the same professional (idNat_PS, the token's
``sub``). A vendor client carries many professionals of one structure with different
rights (a dentist may not read what a physician of the same hospital sends), so client
and structure alone are not a sender. A system caller (an EHPAD's software) is one
sender per client and structure, whatever its token's ``sub``. Entries stored before
the subject was recorded (migration 0011) have none: they are the system sender's, and
no professional sees them (an admin still lists their metadata and may discard them).

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
from gateway.intake.quarantine import Owner, QuarantineEntry


class View(Enum):
    NONE = "none"
    METADATA = "metadata"
    FULL = "full"


def owner_of(ctx: AccessContext) -> Owner | None:
    """The owner of the entries ``ctx`` sends, or None when it sends none of its own
    (an admin, the dev caller, a caller that cannot ingest or lacks an identity)."""
    if ctx.client_id is None or ctx.structure is None:
        return None
    if ctx.kind == "system":
        return Owner(ctx.client_id, ctx.structure, None)
    if ctx.kind == "professional" and ctx.subject:
        return Owner(ctx.client_id, ctx.structure, ctx.subject)
    return None


def is_sender(ctx: AccessContext, entry: QuarantineEntry) -> bool:
    owner = owner_of(ctx)
    return owner is not None and owner == entry.owner


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


_NOBODY = Owner("", "", "")  # no entry has an empty source: a listing of nothing


def listing_scope(ctx: AccessContext) -> Owner | None:
    """The owner a listing is restricted to; None for every entry (admin, dev)."""
    if ctx.kind in ("admin", "dev"):
        return None
    return owner_of(ctx) or _NOBODY
