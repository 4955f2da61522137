"""``/fhir/...``: every FHIR interaction goes through one catch-all route.

This module only adapts HTTP to a :class:`~gateway.rest.request.FhirRequest` (path,
query, headers, parsed body) and the :class:`~gateway.rest.request.FhirResponse` back;
the interaction itself runs in a worker thread through the route table.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl, unquote

import orjson
from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from gateway.access.context import AccessContext
from gateway.api.caller import authenticated
from gateway.api.media import body_kind, check_format, response_type, search_body_is_form
from gateway.config import Settings
from gateway.errors import BadRequest, GatewayError, MethodNotAllowed
from gateway.fhir.json import _default, loads, loads_stored
from gateway.record.repository import Repository
from gateway.rest.request import FhirRequest, FhirResponse
from gateway.rest.router import allowed_methods, dispatch, record_refusal

router = APIRouter()
GENERAL = frozenset({"_format", "_pretty"})
METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"]


def fhir_base(request: Request, settings: Settings) -> str:
    if settings.base_url:
        return settings.base_url.rstrip("/")
    return str(request.base_url).rstrip("/") + "/fhir"


@router.api_route("/fhir", methods=METHODS, include_in_schema=False)
@router.api_route("/fhir/{path:path}", methods=METHODS, include_in_schema=False)
async def fhir_endpoint(request: Request, path: str = "") -> Response:
    settings: Settings = request.app.state.settings
    query = parse_qsl(request.url.query, keep_blank_values=True)
    headers = {k.lower(): v for k, v in request.headers.items()}
    # Who is calling comes first: nobody gets a body parsed before they are authenticated.
    # The CapabilityStatement alone is public (discovery; it holds no data).
    request_id = getattr(request.state, "request_id", None)
    if path.strip("/") == "metadata" and request.method in ("GET", "HEAD"):
        ctx = AccessContext(kind="anonymous", request_id=request_id)
    else:
        ctx = await authenticated(request)
    repo = Repository(ctx, request.app.state.services)
    try:
        media, pretty, resource, query = await _read_request(request, path, query, settings)
    except GatewayError as exc:
        # Refused before dispatch, and recorded all the same (an authenticated caller).
        if ctx.kind != "anonymous":
            refused = FhirRequest(
                method=request.method,
                segments=[unquote(s) for s in path.split("/") if s],
                query=[(k, v) for k, v in query if k not in GENERAL],
                base=fhir_base(request, settings),
            )
            await run_in_threadpool(record_refusal, refused, repo, exc)
        raise
    req = FhirRequest(
        method=request.method,
        segments=[unquote(s) for s in path.split("/") if s],
        query=[(k, v) for k, v in query if k not in GENERAL],
        headers=headers,
        resource=resource,
        base=fhir_base(request, settings),
        content_type=request.headers.get("content-type"),
    )
    result: FhirResponse = await run_in_threadpool(dispatch, req, repo)
    return _http_response(result, media, pretty, head=request.method == "HEAD")


async def _read_request(
    request: Request, path: str, query: list[tuple[str, str]], settings: Settings
) -> tuple[str, bool, Any, list[tuple[str, str]]]:
    """The answer's media type and prettiness, the body's resource, the query with any
    form fields: each refusal a :class:`~gateway.errors.GatewayError` (400, 406, 415)."""
    check_format(next((v for k, v in query if k == "_format"), None))
    media = response_type(request.headers.get("accept"))
    pretty = next((v for k, v in query if k == "_pretty"), "false") == "true"
    method = request.method
    resource: Any = None
    content_type = request.headers.get("content-type")
    last = path.rstrip("/").rsplit("/", 1)[-1]
    if method == "POST" and last == "_search":
        body = await request.body()
        if search_body_is_form(content_type, body):
            query += parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True)
    elif method in ("POST", "PUT", "PATCH"):
        kind = body_kind(content_type, method, operation=last.startswith("$"))
        body = await request.body()
        if kind == "form":
            query += parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True)
        elif body:
            limits = settings.limits
            resource = await run_in_threadpool(
                loads,
                body,
                max_depth=limits.max_json_depth,
                max_items=limits.max_json_container_items,
                max_string=limits.max_string_bytes,
            )
        elif method in ("PUT", "PATCH") or not last.startswith(("_search", "$")):
            _refuse_unserved(method, path)  # a 405 says more than "needs a body"
            raise BadRequest(f"{method} needs a body", code="GW-1001")
    return media, pretty, resource, query


def _refuse_unserved(method: str, path: str) -> None:
    allow = allowed_methods([unquote(s) for s in path.split("/") if s])
    if allow and method not in allow:
        raise MethodNotAllowed(
            f"{method} is not allowed on /fhir/{path.strip('/')}; allowed: {', '.join(allow)}",
            headers={"Allow": ", ".join(allow)},
        )


def _http_response(result: FhirResponse, media: str, pretty: bool, *, head: bool) -> Response:
    body = result.body
    if body is not None and pretty:
        body = orjson.dumps(loads_stored(body), default=_default, option=orjson.OPT_INDENT_2)
    if head or result.status == 304:
        body = None
    return Response(
        content=body if body is not None else b"",
        status_code=result.status,
        headers=result.headers,
        media_type=f"{media}; charset=utf-8" if body is not None else None,
    )
