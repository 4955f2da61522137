"""The audit hook of quarantine actions.

The tamper-evident audit log is being built separately (issue: audit). Until it is
wired in, every read of a quarantined payload, every replay and every discard calls
:func:`record_quarantine_action`, which does nothing yet: the call sites are in place
so that the audit work only has to fill this function in (an AuditEvent with the
caller, the entry id, the action and its outcome). It must not raise: a failing audit
should then fail the action, which is the audit module's decision to make here.
"""

from __future__ import annotations

from gateway.access.context import AccessContext


def record_quarantine_action(
    ctx: AccessContext, action: str, entry_id: str, *, outcome: str = "success"
) -> None:
    """Record that ``ctx`` did ``action`` (read, replay, discard) on a quarantine entry.

    Intentionally a no-op until the audit log is wired in (see the module docstring).
    """
    return
