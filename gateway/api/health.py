"""``/healthz`` (the process answers) and ``/readyz`` (database reachable, schema current)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import JSONResponse, Response

from gateway.api.responses import outcome_response
from gateway.errors import ServiceUnavailable
from gateway.storage.migrate import is_current

router = APIRouter()


@router.get("/healthz", include_in_schema=False)
async def healthz() -> Response:
    return JSONResponse({"status": "ok"})


@router.get("/readyz", include_in_schema=False)
async def readyz(request: Request) -> Response:
    services = request.app.state.services

    def check() -> str | None:
        try:
            services.store.ping()
        except Exception:
            return "the database is not reachable"
        if not is_current(services.store.engine):
            return "database migrations are not applied"
        return None

    problem = await run_in_threadpool(check)
    if problem:
        return outcome_response(ServiceUnavailable(f"Not ready: {problem}", code="GW-5003"))
    return JSONResponse({"status": "ready"})
