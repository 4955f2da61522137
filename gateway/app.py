"""The composition root: :func:`create_app` builds the whole gateway from a ``Settings``.

Nothing happens at import time. The lifespan opens the database, applies migrations
(when ``migrate_on_start``), builds the services and closes them in reverse order.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from starlette.concurrency import run_in_threadpool

from gateway import __version__
from gateway.access.context import AccessContext
from gateway.api import audit, errors, fhir, health
from gateway.api.limits import BodyLimit
from gateway.api.request_id import RequestId
from gateway.config import Settings
from gateway.fhir.cursor import CursorCodec
from gateway.keyfile import ConfigurationError, server_secret
from gateway.record.interim import InterimIndexer, InterimSearch
from gateway.record.seams import DevOpenPolicy, NoProfiles
from gateway.record.services import RecordServices
from gateway.storage import audit_keys, migrate
from gateway.storage.audit_log import AuditLog
from gateway.storage.audit_timer import CheckpointTimer
from gateway.storage.engine import make_engine
from gateway.storage.store import SqlStore

Authenticate = Callable[[Request], AccessContext]


def _authenticator(settings: Settings) -> Authenticate:
    if settings.auth == "disabled":
        if settings.env != "dev":  # also refused by Settings; checked again where it matters
            raise ConfigurationError("GATEWAY_AUTH=disabled needs GATEWAY_ENV=dev")

        def open_access(request: Request) -> AccessContext:
            return AccessContext.dev_open(getattr(request.state, "request_id", None))

        return open_access
    raise ConfigurationError(
        "Token authentication is not available in this build: run with "
        "GATEWAY_ENV=dev and GATEWAY_AUTH=disabled, on a trusted network only"
    )


def build_services(settings: Settings) -> RecordServices:
    """Open the store and assemble the record services (also used by the CLI)."""
    engine = make_engine(settings.sqlalchemy_url)
    return RecordServices(
        store=SqlStore(engine),
        settings=settings,
        indexer=InterimIndexer(),
        validator=NoProfiles(),
        policy=DevOpenPolicy(),
        cursors=CursorCodec(server_secret(settings)),
        search=InterimSearch(),
    )


def create_app(settings: Settings) -> FastAPI:
    """Build the ASGI application. Refuses unsafe configurations before serving anything."""
    authenticate = _authenticator(settings)
    server_secret(settings) if settings.env == "prod" else None
    audit_keys.key_path(settings)  # production refuses to start without an audit key

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        services = await run_in_threadpool(build_services, settings)
        if settings.migrate_on_start:
            await run_in_threadpool(migrate.upgrade, services.store.engine)
        app.state.services = services
        # -- audit log (issue 7): signs pending entries every minute and at shutdown
        app.state.audit = await run_in_threadpool(
            AuditLog.from_settings, settings, services.store.engine
        )
        checkpoints = CheckpointTimer(app.state.audit)
        checkpoints.start()
        try:
            yield
        finally:
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
    app.state.authenticate = authenticate
    errors.install(app)
    app.include_router(health.router)
    app.include_router(fhir.router)
    app.include_router(audit.router)
    app.add_middleware(BodyLimit, max_bytes=settings.limits.max_body_bytes)
    app.add_middleware(RequestId)
    return app


def app_from_env() -> FastAPI:
    """The uvicorn factory: settings from the ``GATEWAY_*`` environment."""
    return create_app(Settings())
