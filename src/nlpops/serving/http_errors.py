"""Every error answer as one JSON shape (``ErrorBody``) that says what to fix, and its OpenAPI documentation.

Client mistakes must never become 5xx: malformed JSON (or JSON Python cannot parse: not UTF-8, nested too deeply,
an integer too long) is a 400, a wrong shape or value a 422, a wrong content type a 415, an oversized body a 413.
Only a real bug reaches the catch-all 500 handler, which logs it.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from nlpops.serving.schemas import ErrorBody, ErrorDetail

log = logging.getLogger(__name__)

CODES = {
    400: "invalid_json",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "invalid_request",
    500: "internal_error",
    503: "not_ready",
}
EMPTY_BODY = 'the body is empty; send exactly one of "text" (a string) or "texts" (a list of strings)'
EXAMPLE = '{"text": "A witty film."}'
HINTS = {
    404: "see /docs for the endpoints",
    405: "see /docs for the methods each endpoint accepts",
}


def too_large_message(limit: int) -> str:
    return f"the request body is over {limit} bytes; send fewer or shorter texts per request"


def unparsable_body_message(cause: BaseException | None) -> str:
    """Why FastAPI could not parse a body that is no JSON syntax error (``cause``, what it raised), and the fix."""
    if isinstance(cause, UnicodeDecodeError):
        problem = f"is not UTF-8 (byte 0x{cause.object[cause.start]:02x} at position {cause.start})"
        fix = f"send UTF-8 encoded JSON, e.g. {EXAMPLE}"
    elif isinstance(cause, RecursionError):
        problem = "nests arrays or objects too deeply to parse"
        fix = f'send one object of strings, {EXAMPLE} or {{"texts": ["A witty film.", "A dull one."]}}'
    elif isinstance(cause, ValueError) and "integer string conversion" in str(cause):  # Python's digit limit
        problem = f"has an integer of more than {sys.get_int_max_str_digits()} digits, too long to parse"
        fix = 'texts are strings: quote them, e.g. {"text": "123456789"}'
    else:
        problem = "could not be parsed as JSON"
        fix = f"send UTF-8 encoded JSON, e.g. {EXAMPLE}"
    return f"the request body {problem}; {fix}"


def error_response(
    status: int,
    message: str,
    details: list[ErrorDetail] | None = None,
    code: str | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    """The error answer; ``code`` overrides the status's usual code (e.g. ``busy`` for a 503 that is no startup)."""
    body = ErrorBody(error=code or CODES.get(status, "error"), message=message, details=details or [])
    return JSONResponse(body.model_dump(), status_code=status, headers=headers)


def validation_details(errors: list[dict[str, Any]]) -> list[ErrorDetail]:
    """Pydantic's errors as ``field: problem`` pairs (without the ``body.`` prefix and internal noise)."""
    details = []
    for error in errors:
        location = [str(part) for part in error.get("loc", ()) if part not in ("body", "function-after[_not_blank()]")]
        message = str(error.get("msg", "invalid value")).removeprefix("Value error, ")
        if error.get("type") == "missing" and not location:
            message = EMPTY_BODY
        details.append(ErrorDetail(field=".".join(location) or "body", problem=message))
    return details


def is_json(content_type: str) -> bool:
    media_type = content_type.split(";", 1)[0].strip().lower()
    return media_type == "application/json" or media_type.endswith("+json")


async def _validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
    """400, 415 or 422. The content type is only checked here, on failure: FastAPI parses only JSON bodies, so a
    body sent as anything else always fails validation, and valid requests pay nothing for the check."""
    content_type = request.headers.get("content-type", "")
    if request.method == "POST" and not is_json(content_type):
        return error_response(
            415, f"Content-Type is {content_type or 'none'}; send JSON with the header Content-Type: application/json"
        )
    errors = list(exc.errors())
    if any(error.get("type") == "json_invalid" for error in errors):
        reason = errors[0].get("ctx", {}).get("error", "JSON decode error")
        return error_response(
            400, f'the request body is not valid JSON ({reason}); send an object like {{"text": "A witty film."}}'
        )
    details = validation_details(errors)
    summary = "; ".join(f"{d.field}: {d.problem}" for d in details)
    return error_response(422, f"invalid request: {summary}", details)


async def _http_error(request: Request, exc: HTTPException) -> JSONResponse:
    message = str(exc.detail)
    if exc.status_code == 413:
        message = too_large_message(request.app.state.settings.max_body_bytes)
    elif exc.status_code == 400:  # FastAPI's "There was an error parsing the body", raised from the cause
        message = unparsable_body_message(exc.__cause__)
    elif exc.status_code in HINTS:
        message = f"{message}: {HINTS[exc.status_code]}"
    response = error_response(exc.status_code, message)
    if exc.headers:
        response.headers.update(exc.headers)
    return response


async def _unexpected_error(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return error_response(500, "internal error while serving the request; it has been logged")


def install(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected_error)


def documented(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` entries for these error statuses, all with the ``ErrorBody`` schema."""
    descriptions = {
        400: "Malformed JSON",
        413: "Request body over NLPOPS_MAX_BODY_BYTES",
        415: "Content-Type is not application/json",
        422: "Wrong shape, wrong type, missing field, blank text, or a text or batch over the limits",
        500: "Server bug (never caused by client input)",
        503: "The model is not loaded",
    }
    return {status: {"model": ErrorBody, "description": descriptions[status]} for status in statuses}
