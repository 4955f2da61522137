"""A request id on every request and response (``X-Request-Id``), honouring the caller's.

The caller's value is kept only when it is a short token of safe characters, so it can
go into logs and audit records without escaping. It is also set in
:data:`gateway.api.logs.REQUEST_ID`, so every log line of the request carries it (worker
threads of ``run_in_threadpool`` copy the context).
"""

from __future__ import annotations

import re
import uuid

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.api.logs import REQUEST_ID

_SAFE = re.compile(r"^[A-Za-z0-9._\-]{1,64}$")


class RequestId:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = next((v for k, v in scope["headers"] if k == b"x-request-id"), b"").decode(
            "latin-1"
        )
        request_id = given if _SAFE.match(given) else str(uuid.uuid4())
        scope.setdefault("state", {})["request_id"] = request_id
        token = REQUEST_ID.set(request_id)

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", []) if k != b"x-request-id"]
                headers.append((b"x-request-id", request_id.encode("ascii")))
                message["headers"] = headers
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            REQUEST_ID.reset(token)
