"""The write-time hook for ``Subscription`` (the :class:`~gateway.record.seams.WriteHook`
seam): check it, record its owner, set its status.

On create and update by a caller: ``criteria`` must be a search this server serves (it is
parsed, then run once as a dry run through the caller's repository), the channel must be
an allowed rest-hook (:mod:`gateway.sync.subscription_rules`), and ``status`` becomes
``active`` (or stays ``off`` if the caller asks for ``off``), dropping any ``error``: the
R4 handshake is synchronous here. The owner's facts go in a ``meta.tag`` the gateway alone
writes: on create from the caller, on update from the current version (the owner stays the
caller who created it). The worker's own updates (``status`` = ``error`` after the retries
ran out) pass unchanged.
"""

from __future__ import annotations

from typing import Any

import orjson

from gateway.config import SyncSettings
from gateway.errors import GatewayError, Unprocessable
from gateway.record.seams import AccessUnit
from gateway.storage.records import StoredVersion
from gateway.sync.owner import OWNER_TAG, caller_facts, facts_in, is_sync_worker, owner_tag
from gateway.sync.subscription_rules import Criteria, end_of, parse_channel, parse_criteria

SUBSCRIPTION = "Subscription"


class SubscriptionHook:
    resource_type = SUBSCRIPTION

    def __init__(self, settings: SyncSettings) -> None:
        self._settings = settings

    def prepare(
        self, unit: AccessUnit, resource: dict[str, Any], current: StoredVersion | None
    ) -> dict[str, Any]:
        if is_sync_worker(unit.ctx):
            return resource
        criteria = parse_criteria(resource.get("criteria"))
        parse_channel(resource, self._settings.allowed_origins)
        end_of(resource)
        _dry_run(unit, criteria)
        facts = None
        if current is not None and current.content is not None:
            facts = facts_in(orjson.loads(current.content))
        if facts is None:
            facts = caller_facts(unit.ctx)
        out = dict(resource)
        out["status"] = "off" if resource.get("status") == "off" else "active"
        out.pop("error", None)
        meta = dict(out.get("meta") or {})
        tags = [
            t
            for t in meta.get("tag") or []
            if not (isinstance(t, dict) and t.get("system") == OWNER_TAG)
        ]
        meta["tag"] = [*tags, owner_tag(facts)]
        out["meta"] = meta
        return out


def _dry_run(unit: AccessUnit, criteria: Criteria) -> None:
    """Run the criteria once (matching nothing) so the search engine judges its grammar."""
    match = getattr(unit, "match", None)
    if match is None:
        return
    try:
        match(criteria.resource_type, [*criteria.params, ("_id", "dry-run")], limit=1)
    except GatewayError as exc:
        raise Unprocessable(
            f"criteria is not a search this server serves: {exc.diagnostics}",
            expression="Subscription.criteria",
            code="GW-4601",
        ) from None
