"""The one place where exceptions become responses: always an OperationOutcome.

A :class:`~gateway.errors.GatewayError` is rendered with its status and issues. Any
other exception is a 500 that shows no internals; the log line carries the request id
and the exception type, never the request body or a token.
"""

from __future__ import annotations

import logging
from urllib.parse import unquote

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from gateway.api.fhir import fhir_endpoint
from gateway.api.hygiene import security_headers
from gateway.api.responses import outcome_response
from gateway.errors import (
    BadRequest,
    GatewayError,
    MethodNotAllowed,
    NotFound,
    ServiceUnavailable,
    shown,
)
from gateway.rest.router import allowed_methods

log = logging.getLogger("gateway.api")


def _request_id(request: Request) -> str | None:
    return getattr(request.state, "request_id", None)


async def gateway_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, GatewayError)
    if exc.status == 405 and "Allow" not in exc.headers:
        # A 405 decided below the route table (update-as-create refused): the URL's
        # methods but the one refused, as RFC 9110 §15.5.6 asks of every 405.
        refused = request.method
        exc.headers["Allow"] = ", ".join(m for m in _fhir_methods(request) if m != refused)
    return outcome_response(exc, request_id=_request_id(request))


async def http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    err: GatewayError
    if exc.status_code == 404:
        err = NotFound(f"No endpoint at {shown(request.url.path, 200)}", code="GW-3002")
    elif exc.status_code == 405:
        err = _method_not_allowed(request, exc)
    else:
        err = BadRequest(str(exc.detail))
        err.status = exc.status_code  # type: ignore[misc]
    return outcome_response(err, request_id=_request_id(request))


def _method_not_allowed(request: Request, exc: StarletteHTTPException) -> GatewayError:
    """A verb no route takes: 405 with the ``Allow`` of that URL (RFC 9110 §15.5.6).

    Starlette's ``Allow`` is right for the plain routes; the FHIR catch-all route takes
    every verb it serves on any path, so its ``Allow`` comes from the FHIR route table
    (and a FHIR path that serves nothing is a 404, as for any other verb).
    """
    if request.scope.get("endpoint") is fhir_endpoint:
        verbs = _fhir_methods(request)
        if not verbs:
            path = request.path_params.get("path", "")
            return NotFound(
                f"No FHIR interaction at '{shown(path.strip('/'), 200)}'", code="GW-3002"
            )
        allow = ", ".join(verbs)
    else:
        allow = (exc.headers or {}).get("Allow", "")
    return MethodNotAllowed(
        f"{request.method} is not allowed on {shown(request.url.path, 200)}; allowed: {allow}",
        headers={"Allow": allow},
    )


def _fhir_methods(request: Request) -> list[str]:
    """The methods the FHIR route table serves at this request's URL; [] elsewhere."""
    if request.scope.get("endpoint") is not fhir_endpoint:
        return []
    path = str(request.path_params.get("path", ""))
    return allowed_methods([unquote(s) for s in path.split("/") if s])


async def validation_error(request: Request, exc: Exception) -> Response:
    return outcome_response(BadRequest("Invalid request"), request_id=_request_id(request))


async def database_unavailable(request: Request, exc: Exception) -> Response:
    """A database that is down, locked past its timeout or out of connections: 503."""
    log.warning(
        "database unavailable",
        extra={"request_id": _request_id(request), "error_type": type(exc).__name__},
    )
    return outcome_response(
        ServiceUnavailable("The database is unavailable; retry shortly", code="GW-5006"),
        request_id=_request_id(request),
    )


async def unexpected_error(request: Request, exc: Exception) -> Response:
    log.error(
        "unhandled error",
        extra={"request_id": _request_id(request), "error_type": type(exc).__name__},
        exc_info=exc,
    )
    # Rendered outside the middleware stack (Starlette's ServerErrorMiddleware): the
    # security headers are added here.
    response = outcome_response(
        GatewayError("Internal server error; the request id identifies it in the logs"),
        request_id=_request_id(request),
    )
    response.headers.update(security_headers())
    return response


def install(app: FastAPI) -> None:
    app.add_exception_handler(GatewayError, gateway_error)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(OperationalError, database_unavailable)
    app.add_exception_handler(PoolTimeout, database_unavailable)
    app.add_exception_handler(Exception, unexpected_error)
