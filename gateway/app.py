"""The composition root: :func:`create_app` builds the whole gateway from a ``Settings``.

Nothing happens at import time. The lifespan opens the database, applies migrations
(when ``migrate_on_start``), builds the services and closes them in reverse order.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import lru_cache
from pathlib import Path

from fastapi import FastAPI
from redis import Redis
from starlette.concurrency import run_in_threadpool

from gateway import __version__
from gateway.api import errors, fhir, health
from gateway.api.auth import Authenticate, BearerAuthenticator, RegistryFile, dev_open
from gateway.api.limits import BodyLimit
from gateway.api.request_id import RequestId
from gateway.auth import ReplayGuard
from gateway.cache.replay import RedisReplayGuard
from gateway.config import Settings
from gateway.fhir.cursor import CursorCodec
from gateway.keyfile import ConfigurationError, server_secret
from gateway.record.indexing import SearchIndexer
from gateway.record.seams import DevOpenPolicy, NoProfiles
from gateway.record.services import RecordServices
from gateway.search import SearchLimits, SearchRegistry
from gateway.search.summary import FILE as SUMMARY_FILE
from gateway.search.summary import SummaryElements
from gateway.storage import migrate
from gateway.storage.engine import make_engine
from gateway.storage.replay import SqlReplayGuard
from gateway.storage.search import SqlSearch
from gateway.storage.store import SqlStore


def _authenticator(settings: Settings, services: RecordServices) -> Authenticate:
    if settings.auth == "disabled":
        if settings.env != "dev":  # also refused by Settings; checked again where it matters
            raise ConfigurationError("GATEWAY_AUTH=disabled needs GATEWAY_ENV=dev")
        return dev_open
    replay: ReplayGuard
    if settings.redis_url:
        replay = RedisReplayGuard(Redis.from_url(settings.redis_url))
    else:
        replay = SqlReplayGuard(services.store.engine)
    return BearerAuthenticator(
        RegistryFile(settings.clients_path), replay, audience=settings.audience
    )


@lru_cache(maxsize=4)
def _search_data(profiles: Path) -> tuple[SearchRegistry, SummaryElements]:
    """The search registry and summary map of a profiles dir, loaded once per process."""
    summaries = SummaryElements.load(profiles / "search-parameters" / SUMMARY_FILE)
    return SearchRegistry.load(profiles), summaries


def build_services(settings: Settings) -> RecordServices:
    """Open the store and assemble the record services (also used by the CLI)."""
    engine = make_engine(settings.sqlalchemy_url)
    registry, summaries = _search_data(settings.profiles_path.resolve())
    return RecordServices(
        store=SqlStore(engine),
        settings=settings,
        indexer=SearchIndexer(registry, base_url=settings.base_url),
        validator=NoProfiles(),
        policy=DevOpenPolicy(),
        cursors=CursorCodec(server_secret(settings)),
        search=SqlSearch(registry, summaries, SearchLimits.from_settings(settings.limits)),
    )


def create_app(settings: Settings) -> FastAPI:
    """Build the ASGI application. Refuses unsafe configurations before serving anything."""
    if settings.auth == "disabled" and settings.env != "dev":
        raise ConfigurationError("GATEWAY_AUTH=disabled needs GATEWAY_ENV=dev")
    if settings.env == "prod":
        server_secret(settings)  # refuse to start without an explicit key

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        services = await run_in_threadpool(build_services, settings)
        if settings.migrate_on_start:
            await run_in_threadpool(migrate.upgrade, services.store.engine)
        app.state.services = services
        app.state.authenticate = _authenticator(settings, services)
        try:
            yield
        finally:
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
    app.add_middleware(BodyLimit, max_bytes=settings.limits.max_body_bytes)
    app.add_middleware(RequestId)
    return app


def app_from_env() -> FastAPI:
    """The uvicorn factory: settings from the ``GATEWAY_*`` environment."""
    return create_app(Settings())
