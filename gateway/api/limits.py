"""Request body limit, enforced while the body streams in (pure ASGI middleware).

A declared ``Content-Length`` over the limit is refused before reading anything; a
chunked body is counted as it arrives and refused as soon as it passes the limit, so a
huge body is never held in memory.
"""

from __future__ import annotations

from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.errors import PayloadTooLarge


class BodyLimit:
    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        limit = self.max_bytes
        if declared is not None and declared > limit:
            await _refuse(scope, send, f"The body is {declared} bytes; the limit is {limit}")
            return
        seen = 0

        async def counting_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise PayloadTooLarge(
                        f"The body passed the limit of {limit} bytes", code="GW-1013"
                    )
            return message

        await self.app(scope, counting_receive, send)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", []):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


async def _refuse(scope: Scope, send: Send, diagnostics: str) -> None:
    from gateway.api.responses import outcome_response

    response = outcome_response(PayloadTooLarge(diagnostics, code="GW-1013"))
    await response(scope, _no_receive, send)


async def _no_receive() -> Any:  # pragma: no cover - a response never reads the body
    return {"type": "http.disconnect"}
