"""The composition root: :func:`create_app` builds the whole gateway from a ``Settings``.

Nothing happens at import time. The lifespan opens the database, applies migrations
(when ``migrate_on_start``), builds the services and closes them in reverse order.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from redis import Redis
from starlette.concurrency import run_in_threadpool

from gateway import __version__
from gateway.api import access, errors, fhir, health, ingest
from gateway.api.auth import Authenticate, BearerAuthenticator, RegistryFile, dev_open
from gateway.api.limits import BodyLimit
from gateway.api.request_id import RequestId
from gateway.auth import ReplayGuard
from gateway.cache.replay import RedisReplayGuard
from gateway.config import Settings
from gateway.fhir.cursor import CursorCodec
from gateway.keyfile import ConfigurationError, server_secret
from gateway.policy import Policy, PolicyOptions, load_matrix, load_resource_classes
from gateway.record.access import AccessRules
from gateway.record.interim import InterimIndexer, InterimSearch
from gateway.record.profiles_data import document_type_classes
from gateway.record.services import RecordServices
from gateway.record.validation import WriteValidation
from gateway.storage import migrate
from gateway.storage.engine import make_engine
from gateway.storage.replay import SqlReplayGuard
from gateway.storage.store import SqlStore
from gateway.validation import Validator


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


def build_services(settings: Settings) -> RecordServices:
    """Open the store and assemble the record services (also used by the CLI)."""
    engine = make_engine(settings.sqlalchemy_url)
    return RecordServices(
        store=SqlStore(engine),
        settings=settings,
        indexer=InterimIndexer(),
        validator=write_validation(settings),
        policy=access_rules(settings),
        cursors=CursorCodec(server_secret(settings)),
        search=InterimSearch(),
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
        validator = getattr(services.validator, "validator", None)
        if validator is not None:
            await run_in_threadpool(validator.warm)  # compile every profile before serving
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
    app.include_router(access.router)
    app.include_router(ingest.router)
    app.add_middleware(BodyLimit, max_bytes=settings.limits.max_body_bytes)
    app.add_middleware(RequestId)
    return app


def app_from_env() -> FastAPI:
    """The uvicorn factory: settings from the ``GATEWAY_*`` environment."""
    return create_app(Settings())
