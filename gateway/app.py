"""The composition root: :func:`create_app` builds the whole gateway from a ``Settings``.

Nothing happens at import time. The lifespan opens the database, applies migrations
(when ``migrate_on_start``), builds the services and closes them in reverse order.
"""

from __future__ import annotations

import gc
import hashlib
import hmac
import logging
import threading
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import lru_cache
from pathlib import Path

from fastapi import FastAPI
from redis import Redis
from starlette.concurrency import run_in_threadpool

from gateway import __version__
from gateway.access.context import AccessContext
from gateway.api import access, audit, errors, fhir, health, ingest, metrics
from gateway.api import sync as sync_api
from gateway.api.auth import Authenticate, BearerAuthenticator, RegistryFile, dev_open
from gateway.api.hygiene import SecurityHeaders, StrictCors, Timeout
from gateway.api.limits import BodyLimit
from gateway.api.logs import configure_logging
from gateway.api.metrics import Metrics, StoreCollector
from gateway.api.request_id import RequestId
from gateway.api.telemetry import Telemetry
from gateway.api.throttle import Throttle
from gateway.auth import ReplayGuard
from gateway.auth.rejection import CENTRE15_NOT_REGULATOR, TokenReason
from gateway.auth.throttle import FallbackLimiter, MemoryRateLimiter, RateLimiter
from gateway.cache.ratelimit import RedisRateLimiter
from gateway.cache.replay import RedisReplayGuard
from gateway.config import Settings, settings_from_environment
from gateway.crypto.index_key import index_hasher
from gateway.crypto.kek import key_wrapper
from gateway.fhir.cursor import CursorCodec
from gateway.keyfile import ConfigurationError, server_secret
from gateway.policy import Policy, PolicyOptions, load_matrix, load_resource_classes, regulates
from gateway.record.access import AccessRules
from gateway.record.indexing import SearchIndexer
from gateway.record.ins_unique import UniqueIns
from gateway.record.profiles_data import document_type_classes
from gateway.record.services import RecordServices
from gateway.record.validation import WriteValidation
from gateway.search import BlindIndex, SearchLimits, SearchRegistry
from gateway.search.summary import FILE as SUMMARY_FILE
from gateway.search.summary import SummaryElements
from gateway.storage import audit_keys, migrate
from gateway.storage.audit_log import AuditLog
from gateway.storage.audit_timer import CheckpointTimer
from gateway.storage.engine import make_engine
from gateway.storage.keys import open_keys
from gateway.storage.replay import SqlReplayGuard
from gateway.storage.search import SqlSearch
from gateway.storage.store import SqlStore
from gateway.sync.runtime import start_sync
from gateway.sync.worker import Worker
from gateway.validation import Validator

log = logging.getLogger("gateway.app")


def _authenticator(
    settings: Settings, services: RecordServices, registry: RegistryFile
) -> Authenticate:
    if settings.auth == "disabled":
        if settings.env != "dev":  # also refused by Settings; checked again where it matters
            raise ConfigurationError("GATEWAY_AUTH=disabled needs GATEWAY_ENV=dev")
        return dev_open
    replay: ReplayGuard
    if settings.redis_url:
        replay = RedisReplayGuard(
            Redis.from_url(settings.redis_url, socket_timeout=2, socket_connect_timeout=2)
        )
    else:
        replay = SqlReplayGuard(services.store.engine)
    options = policy_options(settings)

    def vet(ctx: AccessContext) -> TokenReason | None:
        if ctx.purpose_of_use == "centre_15" and not regulates(ctx, options):
            return CENTRE15_NOT_REGULATOR
        return None

    return BearerAuthenticator(
        registry,
        replay,
        audience=settings.audience,
        audit=services.audit if isinstance(services.audit, AuditLog) else None,
        vet=vet,
    )


def _throttle(
    settings: Settings, services: RecordServices, registry: RegistryFile, meters: Metrics
) -> Throttle | None:
    """The rate limits: Redis buckets shared by every worker, else this worker's."""
    if not settings.rate_limits.enabled:
        return None
    limiter: RateLimiter
    if settings.redis_url:
        shared = RedisRateLimiter(
            Redis.from_url(settings.redis_url, socket_timeout=0.5, socket_connect_timeout=0.5),
            prefix=settings.sync.stream_prefix,
        )

        last_warned = [float("-inf")]

        def failed(exc: Exception) -> None:
            meters.limiter_errors.inc()
            now = time.monotonic()
            if now - last_warned[0] >= 10:  # one line per 10 s, not one per request
                last_warned[0] = now
                log.warning(
                    "rate limiter: Redis unavailable (%s); policy %s",
                    exc,
                    settings.rate_limits.on_redis_error,
                )

        limiter = FallbackLimiter(shared, settings.rate_limits.on_redis_error, on_failure=failed)
    else:
        limiter = MemoryRateLimiter()
    # Subjects (an INS, an idNat_PS) are bucket keys only as keyed hashes.
    salt = hmac.new(server_secret(settings), b"dmp-gateway rate limits", hashlib.sha256).digest()
    return Throttle(
        limiter,
        registry.current,
        salt=salt,
        audit=services.audit,
        metrics=meters,
        audit_interval=settings.rate_limits.audit_interval_seconds,
    )


def access_rules(settings: Settings, *, trusted_loader: bool = False) -> AccessRules:
    """The DMP rules with their data from the profiles folder (matrix, classes, types).

    ``trusted_loader`` lets the dev caller through even with authentication on: only for
    loading the demo record from the command line, in dev.
    """
    profiles = settings.profiles_path
    matrix = load_matrix(profiles / "access-matrix.yaml")
    classes = load_resource_classes(
        profiles / "resource-classes.yaml",
        document_type_classes(profiles),
        frozenset(matrix.classes),
    )
    return AccessRules(Policy(matrix, policy_options(settings, trusted_loader)), classes)


def policy_options(settings: Settings, trusted_loader: bool = False) -> PolicyOptions:
    """The options of the access rules (the same for the rules and the token checks)."""
    dev = settings.env == "dev" and (settings.auth == "disabled" or trusted_loader)
    return PolicyOptions(dev_mode=dev)


def write_validation(settings: Settings) -> WriteValidation:
    validator = Validator.load(
        settings.profiles_path,
        default_profiles=settings.default_profiles,
        strict_profiles=settings.strict_profiles,
        best_practice=None,
    )
    return WriteValidation(validator, settings.validation)


@lru_cache(maxsize=4)
def _search_data(profiles: Path) -> tuple[SearchRegistry, SummaryElements]:
    """The search registry and summary map of a profiles dir, loaded once per process."""
    summaries = SummaryElements.load(profiles / "search-parameters" / SUMMARY_FILE)
    return SearchRegistry.load(profiles), summaries


def blind_index(settings: Settings, registry: SearchRegistry) -> BlindIndex:
    """What the index hashes (``GATEWAY_CRYPTO__HASH_IDENTIFIERS``, ``…__CLEAR_NAMES``)."""
    hasher = index_hasher(settings)
    crypto = settings.crypto
    return BlindIndex(
        registry,
        identifiers=hasher if hasher is not None and crypto.hash_identifiers else None,
        names=hasher.for_purpose("name") if hasher is not None and not crypto.clear_names else None,
    )


def build_services(settings: Settings, *, audit: bool = True) -> RecordServices:
    """Open the store and assemble the record services (also used by the CLI).

    ``audit=False`` leaves the audit log out: only for internal loaders and migrations.
    """
    registry, summaries = _search_data(settings.profiles_path.resolve())
    blind = blind_index(settings, registry)
    engine = make_engine(settings.sqlalchemy_url)
    open_keys(engine, settings)  # encryption at rest (issue 9): the data keys of this engine
    limits = SearchLimits.from_settings(settings.limits)
    return RecordServices(
        store=SqlStore(engine),
        settings=settings,
        indexer=SearchIndexer(registry, base_url=settings.base_url, blind=blind),
        validator=write_validation(settings),
        policy=access_rules(settings),
        cursors=CursorCodec(server_secret(settings)),
        search=SqlSearch(registry, summaries, limits, blind=blind),
        blind=blind,
        audit=AuditLog.from_settings(settings, engine) if audit else None,
        write_checks=(UniqueIns(blind.identifier),),
    )


def settle_heap() -> None:
    """Put what start-up built out of the cyclic garbage collector's reach (``gc.freeze``).

    The compiled profiles, the conformance resources and the search registry are millions
    of objects that live as long as the process; without this, every full collection walks
    them again, and a write path allocates enough to trigger many: about 30% of ingest CPU
    on Synthea bundles (2026-11-23: 1,190-1,300 → 1,600-1,830 resources/s in process).
    For a process's entry points (serve, worker, mllp, ingest), after their services are
    built: objects frozen are never collected as cyclic garbage, so not for tests that
    build many applications.
    """
    gc.collect()
    gc.freeze()


def create_app(
    settings: Settings,
    *,
    authenticate: Authenticate | None = None,
    settle: bool = False,
) -> FastAPI:
    """Build the ASGI application. Refuses unsafe configurations before serving anything.

    ``authenticate`` replaces token authentication (tests that need callers of every kind).
    ``settle``: :func:`settle_heap` once started (the served process).
    """
    if settings.auth == "disabled" and settings.env != "dev":
        raise ConfigurationError("GATEWAY_AUTH=disabled needs GATEWAY_ENV=dev")
    if settings.env == "prod":
        server_secret(settings)  # refuse to start without an explicit key
        index_hasher(settings)  # nor without an index key while anything is hashed
    audit_keys.key_path(settings)  # production refuses to start without an audit key
    key_wrapper(settings)  # nor without a key-encryption key (encryption at rest)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        services = await run_in_threadpool(build_services, settings)
        validator = getattr(services.validator, "validator", None)
        if validator is not None:
            await run_in_threadpool(validator.warm)  # compile every profile before serving
        if settings.migrate_on_start:
            await run_in_threadpool(migrate.upgrade, services.store.engine)
        # -- sync (issue 8): the bus, and the services with sync's seams filled in --------
        sync = await run_in_threadpool(start_sync, settings, services)
        services = sync.services
        stop, worker = threading.Event(), None
        if sync.worker_in_server:
            runner = await run_in_threadpool(Worker, sync)
            worker = threading.Thread(target=runner.run, args=(stop,), daemon=True)
            worker.start()
        app.state.sync = sync
        # -- end sync ----------------------------------------------------------------------
        app.state.services = services
        registry = RegistryFile(settings.clients_path)
        app.state.authenticate = authenticate or _authenticator(settings, services, registry)
        app.state.throttle = _throttle(settings, services, registry, meters)
        app.state.store_metrics = StoreCollector(services.store.engine)
        # The audit log (issue 7) signs pending entries every minute and at shutdown.
        app.state.audit = services.audit
        checkpoints = CheckpointTimer(app.state.audit)
        checkpoints.start()
        if settle:
            settle_heap()
        try:
            yield
        finally:
            # uvicorn has stopped accepting and let in-flight requests finish (up to
            # --timeout-graceful-shutdown) before the lifespan ends: now stop the worker,
            # then sign a last audit checkpoint so every entry is covered.
            stop.set()
            if worker is not None:
                await run_in_threadpool(worker.join, 30)
            await sync.bus.aclose()
            sync.close()
            await run_in_threadpool(checkpoints.stop)
            services.store.engine.dispose()

    app = FastAPI(
        title="dmp-gateway",
        version=__version__,
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    app.state.settings = settings
    meters = Metrics()
    app.state.metrics = meters
    errors.install(app)
    app.include_router(health.router)
    app.include_router(metrics.router)
    app.include_router(fhir.router)
    app.include_router(access.router)
    app.include_router(audit.router)
    app.include_router(sync_api.router)
    app.include_router(ingest.router)
    # Outermost last: RequestId → Telemetry → SecurityHeaders → CORS → Timeout → BodyLimit.
    app.add_middleware(BodyLimit, max_bytes=settings.limits.max_body_bytes)
    app.add_middleware(Timeout, settings=settings, metrics=meters)
    if settings.http.cors_origins:
        app.add_middleware(StrictCors, origins=settings.http.cors_origins)
    app.add_middleware(SecurityHeaders, hsts_seconds=settings.http.hsts_seconds)
    app.add_middleware(Telemetry, metrics=meters)
    app.add_middleware(RequestId)
    return app


def app_from_env() -> FastAPI:
    """The uvicorn factory: settings from the ``GATEWAY_*`` environment; each worker
    process configures its own logging here (nothing is configured at import)."""
    settings = settings_from_environment()
    configure_logging(settings.telemetry)
    return create_app(settings, settle=True)
