"""Reject oversized request bodies with the API's JSON error body (413), before reading them when possible.

Starlette's own body limit answers a plain-text "Content Too Large" whenever Content-Length is over the
limit, bypassing the exception handlers; clients of this API always get an ``ErrorBody`` instead.
"""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from nlpops.serving.http_errors import error_response, too_large_message


class BodyLimitMiddleware:
    """413 at once for a declared Content-Length over ``limit``; for chunked bodies, 413 once it is passed."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None and declared > self.limit:
            await error_response(413, too_large_message(self.limit))(scope, receive, send)
            return
        received = 0

        async def receive_within_limit() -> Message:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > self.limit:
                raise HTTPException(413)  # the app's exception handlers turn it into the JSON answer
            return message

        await self.app(scope, receive_within_limit, send)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None
