"""A ``text/plain`` body (one text, as ``curl --data`` sends it) read as ``{"text": ...}`` JSON by a task's route.

The body becomes the JSON the route validates, before routing, so a plain-text request gets exactly the checks,
limits and error answers of a JSON one. It sits inside the body limit, which has already bounded what it reads.
"""

from __future__ import annotations

import json

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from nlpops.serving.http_errors import error_response, too_large_message

PLAIN_TEXT = "text/plain"


def is_plain_text(scope: Scope) -> bool:
    for name, value in scope.get("headers", ()):
        if name == b"content-type":
            return value.split(b";", 1)[0].strip().lower() == PLAIN_TEXT.encode()
    return False


class PlainTextAsJson:
    """For ``POST path`` with a ``text/plain`` body: the body as ``{"text": body}``, ``application/json``."""

    def __init__(self, app: ASGIApp, path: str, body_limit: int) -> None:
        self.app = app
        self.path = path
        self.body_limit = body_limit

    def wanted(self, scope: Scope) -> bool:
        return (
            scope["type"] == "http"
            and scope["method"] == "POST"
            and scope["path"] == self.path
            and is_plain_text(scope)
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not self.wanted(scope):
            await self.app(scope, receive, send)
            return
        try:
            body = await _read_body(receive)
        except HTTPException:  # the body limit, raised while reading: answered here, outside the app's handlers
            await error_response(413, too_large_message(self.body_limit))(scope, receive, send)
            return
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError as err:
            message = f"the text/plain body is not UTF-8 (byte {err.start}); send UTF-8 text"
            await error_response(400, message)(scope, receive, send)
            return
        as_json = json.dumps({"text": text}).encode()
        headers = [(k, v) for k, v in scope["headers"] if k not in (b"content-type", b"content-length")]
        headers += [(b"content-type", b"application/json"), (b"content-length", str(len(as_json)).encode())]
        sent = False

        async def receive_json() -> Message:
            nonlocal sent
            if sent:
                return await receive()  # a disconnect, if the client goes
            sent = True
            return {"type": "http.request", "body": as_json, "more_body": False}

        await self.app({**scope, "headers": headers}, receive_json, send)


async def _read_body(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)
