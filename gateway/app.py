"""The composition root: :func:`create_app` builds the whole gateway from a ``Settings``.

Nothing happens at import time. The lifespan opens the database, applies migrations
(when ``migrate_on_start``), builds the services and closes them in reverse order.
"""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import lru_cache
from pathlib import Path

from fastapi import FastAPI
from redis import Redis
from starlette.concurrency import run_in_threadpool

from gateway import __version__
from gateway.api import access, audit, errors, fhir, health, ingest
from gateway.api import sync as sync_api
from gateway.api.auth import Authenticate, BearerAuthenticator, RegistryFile, dev_open
from gateway.api.limits import BodyLimit
from gateway.api.request_id import RequestId
from gateway.auth import ReplayGuard
from gateway.cache.replay import RedisReplayGuard
from gateway.config import Settings
from gateway.crypto.kek import key_wrapper
from gateway.fhir.cursor import CursorCodec
from gateway.keyfile import ConfigurationError, server_secret
from gateway.policy import Policy, PolicyOptions, load_matrix, load_resource_classes
from gateway.record.access import AccessRules
from gateway.record.indexing import SearchIndexer
from gateway.record.profiles_data import document_type_classes
from gateway.record.services import RecordServices
from gateway.record.validation import WriteValidation
from gateway.search import SearchLimits, SearchRegistry
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


def _authenticator(settings: Settings, services: RecordServices) -> Authenticate:
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
    return BearerAuthenticator(
        RegistryFile(settings.clients_path),
        replay,
        audience=settings.audience,
        audit=services.audit if isinstance(services.audit, AuditLog) else None,
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
    dev = settings.env == "dev" and (settings.auth == "disabled" or trusted_loader)
    options = PolicyOptions(dev_mode=dev)
    return AccessRules(Policy(matrix, options), classes)


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


def build_services(settings: Settings, *, audit: bool = True) -> RecordServices:
    """Open the store and assemble the record services (also used by the CLI).

    ``audit=False`` leaves the audit log out: only for internal loaders and migrations.
    """
    engine = make_engine(settings.sqlalchemy_url)
    open_keys(engine, settings)  # encryption at rest (issue 9): the data keys of this engine
    registry, summaries = _search_data(settings.profiles_path.resolve())
    return RecordServices(
        store=SqlStore(engine),
        settings=settings,
        indexer=SearchIndexer(registry, base_url=settings.base_url),
        validator=write_validation(settings),
        policy=access_rules(settings),
        cursors=CursorCodec(server_secret(settings)),
        search=SqlSearch(registry, summaries, SearchLimits.from_settings(settings.limits)),
        audit=AuditLog.from_settings(settings, engine) if audit else None,
    )


def create_app(settings: Settings, *, authenticate: Authenticate | None = None) -> FastAPI:
    """Build the ASGI application. Refuses unsafe configurations before serving anything.

    ``authenticate`` replaces token authentication (tests that need callers of every kind).
    """
    if settings.auth == "disabled" and settings.env != "dev":
        raise ConfigurationError("GATEWAY_AUTH=disabled needs GATEWAY_ENV=dev")
    if settings.env == "prod":
        server_secret(settings)  # refuse to start without an explicit key
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
        app.state.authenticate = authenticate or _authenticator(settings, services)
        # The audit log (issue 7) signs pending entries every minute and at shutdown.
        app.state.audit = services.audit
        checkpoints = CheckpointTimer(app.state.audit)
        checkpoints.start()
        try:
            yield
        finally:
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
    errors.install(app)
    app.include_router(health.router)
    app.include_router(fhir.router)
    app.include_router(access.router)
    app.include_router(audit.router)
    app.include_router(sync_api.router)
    app.include_router(ingest.router)
    app.add_middleware(BodyLimit, max_bytes=settings.limits.max_body_bytes)
    app.add_middleware(RequestId)
    return app


def app_from_env() -> FastAPI:
    """The uvicorn factory: settings from the ``GATEWAY_*`` environment."""
    return create_app(Settings())
