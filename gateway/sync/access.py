"""The access policy as sync needs it: a wrapper around the DMP rules (the
:class:`~gateway.record.seams.AccessPolicy` seam), for two things the rules do not do.

1. **Subscriptions belong to their owner.** The matrix classes ``Subscription`` as
   *excluded* ("served by their own endpoints"); here its owner (same kind, client,
   subject, structure and group as the caller who created it, see
   :mod:`gateway.sync.owner`) may read, update and delete it, and the sync worker may set
   its status. Nobody else learns it exists.
2. **The ``notify-patient`` obligation is fulfilled.** A read in an emergency mode, or a
   write whose grant carries the obligation, queues a :class:`PatientNotice` on the bus.
   Reads surface their obligations here, where ``may_read`` asks the rules for the full
   decision (in the emergency modes only: the normal path is unchanged). If the notice
   cannot be queued the access fails (503): an emergency access is never left unnotified.

Everything else is the wrapped rules' answer, unchanged.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson

from gateway.errors import Forbidden
from gateway.policy import Action, Decision, Effect, Reason, patient_of
from gateway.policy.reasons import NOTIFY_PATIENT
from gateway.record.seams import AccessPolicy, AccessUnit, WriteGrant
from gateway.storage.records import StoredVersion
from gateway.sync.owner import caller_facts, facts_in, is_sync_worker, key_of, owner_key
from gateway.sync.subscription_hook import SUBSCRIPTION

OWNER = Reason("subscription-owner", 0, "The owner of a subscription manages it.")
NOT_OWNER = Reason("subscription-not-owner", 0, "Only its owner sees a subscription.")

# (unit, patient id, kind, reason code) → queue a notice; raises when it cannot.
NoticeHook = Callable[[AccessUnit, str, str, str], None]


def _owner_of(version: StoredVersion) -> str | None:
    if version.content is None:
        return None
    body = orjson.loads(version.content)
    facts = facts_in(body) if isinstance(body, dict) else None
    return None if facts is None else owner_key(facts)


class SyncAccess:
    def __init__(self, inner: AccessPolicy, notify: NoticeHook | None = None) -> None:
        self.inner = inner
        self._notify = notify

    # -- reads ---------------------------------------------------------------------------

    def may_read(self, unit: AccessUnit, version: StoredVersion, action: Action) -> bool:
        if version.resource_type == SUBSCRIPTION:
            return self._owns(unit, version, action)
        if unit.ctx.purpose_of_use == "normal" or self._notify is None:
            return self.inner.may_read(unit, version, action)
        decision = self.inner.explain(unit, version, action)
        if decision.permitted and NOTIFY_PATIENT in decision.obligations and version.patient_id:
            self._notify(unit, version.patient_id, "emergency-access", decision.reason.code)
        return decision.permitted

    def explain(self, unit: AccessUnit, version: StoredVersion, action: Action) -> Decision:
        if version.resource_type == SUBSCRIPTION:
            if self._owns(unit, version, action):
                return Decision(Effect.PERMIT, OWNER)
            return Decision(Effect.DENY, NOT_OWNER)
        return self.inner.explain(unit, version, action)

    def may_search_type(self, unit: AccessUnit, resource_type: str) -> bool:
        return self.inner.may_search_type(unit, resource_type)

    def _owns(self, unit: AccessUnit, version: StoredVersion, action: Action) -> bool:
        ctx = unit.ctx
        if ctx.kind == "dev":
            return self.inner.may_read(unit, version, action)
        if is_sync_worker(ctx):
            return True
        owner = _owner_of(version)
        return owner is not None and owner == key_of(ctx)

    # -- writes --------------------------------------------------------------------------

    def check_write(
        self,
        unit: AccessUnit,
        action: Action,
        resource: dict[str, Any] | None,
        current: StoredVersion | None,
    ) -> WriteGrant:
        rtype = (resource or {}).get("resourceType") or (current.resource_type if current else None)
        if rtype == SUBSCRIPTION and unit.ctx.kind != "dev":  # dev: the rules' dev mode decides
            return self._subscription_write(unit, action, current)
        grant = self.inner.check_write(unit, action, resource, current)
        if NOTIFY_PATIENT.code in grant.obligations and self._notify is not None:
            patient = current.patient_id if current is not None else _patient_id(resource)
            if patient is not None:
                emergency = unit.ctx.purpose_of_use != "normal"
                kind = "emergency-access" if emergency else "consent-recorded"
                reason = "emergency-write" if emergency else "consent-recording"
                self._notify(unit, patient, kind, reason)
        return grant

    def _subscription_write(
        self, unit: AccessUnit, action: Action, current: StoredVersion | None
    ) -> WriteGrant:
        ctx = unit.ctx
        if is_sync_worker(ctx) and current is not None:
            return WriteGrant(author=current.author, author_structure=current.author_structure)
        if action is Action.CREATE:
            caller_facts(ctx)  # refuses callers who may not own standing access
            return WriteGrant(author=ctx.subject or ctx.client_id, author_structure=ctx.structure)
        if current is None or _owner_of(current) != key_of(ctx):
            raise Forbidden("Only its owner may change a subscription", code="GW-2083")
        return WriteGrant(author=current.author, author_structure=current.author_structure)


def _patient_id(resource: dict[str, Any] | None) -> str | None:
    ref = patient_of(resource or {})
    if ref is None or not ref.startswith("Patient/"):
        return None
    return ref.split("/", 1)[1]
