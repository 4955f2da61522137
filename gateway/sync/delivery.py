"""The worker stage that delivers rest-hook notifications.

A delivery is claimed from ``sync_delivery`` (``FOR UPDATE SKIP LOCKED`` on PostgreSQL, so
several workers share the queue), checked again at send time, and POSTed:

- the subscription must still be active, and the version must still be visible to its
  owner (rights can be withdrawn between the match and the delivery): otherwise the
  delivery is dropped, and nothing is sent;
- the endpoint must still be an allowed origin that resolves to allowed addresses
  (:mod:`gateway.sync.netguard`); the request goes to the resolved address and never
  follows a redirect;
- the body is empty when the subscription has no payload (a ping), else a ``history``
  Bundle with the one version (the owner's view of it). Headers: ``X-DMP-Event-Id`` (the
  same on every retry: receivers deduplicate on it), ``X-DMP-Subscription``, the detached
  JWS ``X-DMP-Signature`` (:mod:`gateway.sync.signing`) and the subscription's own
  ``channel.header`` lines.

A 2xx answer delivers it. Anything else (an error status, a redirect, a timeout, a refused
connection) is retried with exponential backoff (:mod:`gateway.sync.backoff`) until the
horizon; then the delivery is dead, the subscription is set to ``status`` = ``error`` with
the reason in ``error``, and its other pending deliveries are dropped. Updating the
subscription (any status but ``off``) makes it active again.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import httpx
import orjson

from gateway.config import Settings
from gateway.errors import GatewayError
from gateway.fhir.bundle import bundle
from gateway.record.repository import Repository
from gateway.record.services import RecordServices
from gateway.storage.sync_queue import (
    Delivery,
    any_due,
    claim_deliveries,
    drop_pending,
    settle_delivery,
)
from gateway.sync.backoff import Backoff
from gateway.sync.feed_bundle import entry
from gateway.sync.netguard import EndpointRefused, Resolver, check_origin, resolve, system_resolver
from gateway.sync.owner import SYNC_WORKER
from gateway.sync.signing import SIGNATURE_HEADER, NotificationSigner
from gateway.sync.subscription_hook import SUBSCRIPTION
from gateway.sync.subscriptions import ActiveSubscription, SubscriptionDirectory

log = logging.getLogger("gateway.sync.delivery")


@dataclass(frozen=True, slots=True)
class Outcome:
    state: str  # delivered, retry, dead, dropped
    reason: str | None = None


class Deliverer:
    def __init__(
        self,
        services: RecordServices,
        settings: Settings,
        signer: NotificationSigner,
        *,
        base_url: str,
        http: httpx.Client | None = None,
        resolver: Resolver = system_resolver,
    ) -> None:
        self.services = services
        self.sync = settings.sync
        self.signer = signer
        self.base_url = base_url.rstrip("/")
        self.http = http or httpx.Client(
            follow_redirects=False, timeout=settings.sync.delivery_timeout, trust_env=False
        )
        self.resolver = resolver
        self.backoff = Backoff(
            settings.sync.retry_base_seconds,
            settings.sync.retry_max_seconds,
            settings.sync.retry_horizon_seconds,
        )

    def close(self) -> None:
        self.http.close()

    def run_once(self, limit: int = 20) -> int:
        """Attempt the due deliveries; the number attempted."""
        store = self.services.store
        now = self.services.clock()
        lease = int((self.sync.delivery_timeout + 30) * 1_000_000)
        with store.reader() as tx:
            if not any_due(tx, now=now):
                return 0
        with store.writer() as tx:
            claimed = claim_deliveries(tx, now=now, lease_us=lease, limit=limit)
        for job in claimed:
            outcome = self._attempt(job)
            self._settle(job, outcome)
        return len(claimed)

    # -- one attempt ---------------------------------------------------------------------

    def _attempt(self, job: Delivery) -> Outcome:
        with self.services.store.reader() as tx:
            _, sub = SubscriptionDirectory.one(tx, job.subscription_id)
        if sub is None:
            return Outcome("dropped", "the subscription is no longer active")
        try:
            body = self._body(job, sub)
        except GatewayError:
            return Outcome("dropped", "the resource is no longer visible to the subscriber")
        try:
            target = check_origin(sub.channel.endpoint, self.sync.allowed_origins)
            address = resolve(
                target, allow_private=self.sync.allow_private_addresses, resolver=self.resolver
            )
        except EndpointRefused as exc:
            return Outcome("dead", f"endpoint refused: {exc}")
        headers = dict(sub.channel.headers)
        headers.update(
            {
                "Host": target.host_header,
                "X-DMP-Event-Id": job.event_id,
                "X-DMP-Subscription": f"{self.base_url}/{SUBSCRIPTION}/{sub.id}",
                SIGNATURE_HEADER: self.signer.sign(
                    body,
                    {
                        "jti": job.event_id,
                        "sub": sub.id,
                        "htu": sub.channel.endpoint,
                        "htm": "POST",
                        "iat": self.services.clock() // 1_000_000,
                    },
                ),
            }
        )
        if body:
            headers["Content-Type"] = "application/fhir+json"
        extensions: dict[str, Any] = {}
        if target.scheme == "https":
            extensions["sni_hostname"] = target.host
        try:
            response = self.http.post(
                target.at(address), content=body, headers=headers, extensions=extensions
            )
        except httpx.HTTPError as exc:
            return Outcome("retry", f"delivery failed: {type(exc).__name__}")
        if 200 <= response.status_code < 300:
            return Outcome("delivered")
        if 300 <= response.status_code < 400:
            return Outcome(
                "retry", f"the endpoint redirected ({response.status_code}); not followed"
            )
        return Outcome("retry", f"the endpoint answered {response.status_code}")

    def _body(self, job: Delivery, sub: ActiveSubscription) -> bytes:
        """The notification body, read with the owner's rights (raises if now hidden)."""
        with Repository(sub.owner, self.services).reading() as reader:
            version = reader.vread(job.resource_type, job.resource_id, job.version)
            if sub.channel.payload is None:
                return b""
            return bundle(
                "history",
                [entry(self.base_url, version)],
                now=self.services.clock(),
            )

    # -- bookkeeping ----------------------------------------------------------------------

    def _settle(self, job: Delivery, outcome: Outcome) -> None:
        now = self.services.clock()
        attempts = job.attempts + 1
        state, due = outcome.state, now
        if state == "retry":
            next_due = self.backoff.next_due(created=job.created, now=now, attempts=attempts)
            if next_due is None:
                state = "dead"
                outcome = Outcome("dead", f"{outcome.reason}; gave up after {attempts} attempts")
            else:
                state, due = "pending", next_due
        with self.services.store.writer() as tx:
            settle_delivery(
                tx, job.pk, state=state, attempts=attempts, due=due, error=outcome.reason, now=now
            )
            if state == "dead":
                drop_pending(
                    tx, job.subscription_id, reason="the subscription is in error", now=now
                )
        if state == "dead":
            self._fail_subscription(job.subscription_id, outcome.reason or "delivery failed")

    def _fail_subscription(self, subscription_id: str, reason: str) -> None:
        """Dead letter: ``status`` = error with the reason, written as a new version."""
        repo = Repository(SYNC_WORKER, self.services)
        try:
            with repo.writing() as writer:
                current = writer.read(SUBSCRIPTION, subscription_id)
                if current.content is None:
                    return
                body = orjson.loads(current.content)
                if body.get("status") != "active":
                    return
                body["status"] = "error"
                body["error"] = reason[:1000]
                writer.update(SUBSCRIPTION, subscription_id, body, if_match=current.version)
        except GatewayError as exc:  # deleted or changed meanwhile: the owner decided
            log.info("subscription %s not set to error: %s", subscription_id, exc.code)
