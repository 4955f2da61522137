"""Turning errors and FHIR responses into HTTP responses."""

from __future__ import annotations

from starlette.responses import Response

from gateway.errors import GatewayError
from gateway.fhir.json import dumps

FHIR_JSON_UTF8 = "application/fhir+json; charset=utf-8"


def outcome_response(exc: GatewayError, *, request_id: str | None = None) -> Response:
    headers = dict(exc.headers)
    if request_id:
        headers["X-Request-Id"] = request_id
    return Response(
        dumps(exc.outcome()), status_code=exc.status, headers=headers, media_type=FHIR_JSON_UTF8
    )
