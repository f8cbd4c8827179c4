"""The Lambda adapter: Lambda events in, the FastAPI app's answers out, on the same app and inference core.

HTTP events (API Gateway REST v1, HTTP API v2, Function URLs, ALB) go through the FastAPI app via Mangum, so
Lambda answers exactly what the server answers: same validation, same error bodies. A direct invoke
(``{"text": ...}`` or ``{"texts": [...]}``, e.g. from the AWS CLI or Step Functions) goes through the route of the
artifact's task (``/predict`` for classification) and gets the JSON body back; a hand-written event that looks like
HTTP (its ``requestContext`` is an object) but cannot be read as a request gets a 400 ``invalid_event``, not a
crashed invocation. ``build_handler`` loads the model (or takes the one ``lambda_handler`` started preloading);
``lambda_handler`` calls it at import, which is Lambda's init phase, so the model loads once per container and
never inside the handler.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from mangum import Mangum

from nlpops.serving import preload
from nlpops.serving.app import create_app
from nlpops.serving.schemas import ErrorBody
from nlpops.serving.settings import Settings
from nlpops.serving.task import serving_for

Handler = Callable[[dict[str, Any], Any], dict[str, Any]]
LOG_FLUSH_S = 0.1  # the most an invocation waits for its prediction log lines before Lambda freezes the process
UNRECOGNISED = (
    "it has none of the fields that tell those events apart: resource (REST API v1), version (HTTP API v2 and "
    "Function URLs) or requestContext.elb (ALB)"
)


def is_http_event(event: dict[str, Any]) -> bool:
    """API Gateway, Function URL and ALB events all carry a ``requestContext`` object; direct invokes do not."""
    return isinstance(event, dict) and isinstance(event.get("requestContext"), dict)


def as_http_event(payload: Any, route: str) -> dict[str, Any]:
    """Wrap a direct-invoke payload as an HTTP API v2 ``POST route`` event."""
    return {
        "version": "2.0",
        "routeKey": f"POST {route}",
        "rawPath": route,
        "rawQueryString": "",
        "headers": {"content-type": "application/json"},
        "requestContext": {
            "http": {"method": "POST", "path": route, "sourceIp": "127.0.0.1"},
            "stage": "$default",
        },
        "body": json.dumps(payload),
        "isBase64Encoded": False,
    }


def unreadable(adapter: Mangum, event: dict[str, Any], context: Any) -> str | None:
    """Why Mangum cannot read ``event`` as an HTTP request, or None if it can.

    Events from API Gateway, Function URLs and ALB always can; a hand-written one sent as a direct invoke (a
    partial copy of a sample event, say) may not, and Mangum reads events by plain indexing, so any error means
    a malformed event, not a bug to crash the invocation with.
    """
    try:
        request = adapter.infer(event, context)
        method, path, _ = request.scope["method"], request.scope["path"], request.body
    except Exception as err:
        if type(err) is RuntimeError:  # Mangum's own "unable to infer a handler", with advice for its developers
            return UNRECOGNISED
        return f"{type(err).__name__}: {err}"
    if not isinstance(method, str) or not isinstance(path, str):  # copied from the event as they are
        return f"its HTTP method and path must be strings, not {type(method).__name__} and {type(path).__name__}"
    return None


def malformed_event(problem: str) -> dict[str, Any]:
    """A 400 in the HTTP response shape the event claimed, saying what a readable event looks like."""
    message = (
        f"the event has a requestContext but is not a readable API Gateway, Function URL or ALB request ({problem}); "
        'send a complete event (see events/ in the repository) or invoke directly with {"text": "..."}'
    )
    body = ErrorBody(error="invalid_event", message=message)
    return {"statusCode": 400, "headers": {"content-type": "application/json"}, "body": body.model_dump_json()}


def build_handler(settings: Settings) -> Handler:
    """Load the model now (or wait for its preload) and return the handler that serves it."""
    model = preload.model_for(settings)
    app = create_app(settings, model, source="lambda")
    adapter = Mangum(app, lifespan="off", api_gateway_base_path=settings.api_base_path)
    route = serving_for(model.manifest.task).route
    prediction_log = app.state.runner.log

    def answer(event: dict[str, Any], context: Any) -> dict[str, Any]:
        if is_http_event(event):
            problem = unreadable(adapter, event, context)
            return malformed_event(problem) if problem else adapter(event, context)
        response = adapter(as_http_event(event, route), context)
        body = json.loads(response["body"])
        return body if response["statusCode"] == 200 else {"statusCode": response["statusCode"], **body}

    def handle(event: dict[str, Any], context: Any) -> dict[str, Any]:
        """``answer``, then the invocation's log lines out: a frozen process would hold them till the next one."""
        try:
            return answer(event, context)
        finally:
            if prediction_log is not None:
                prediction_log.flush(LOG_FLUSH_S)

    return handle
