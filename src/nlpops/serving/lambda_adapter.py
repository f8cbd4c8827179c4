"""The Lambda adapter: Lambda events in, the FastAPI app's answers out, on the same app and inference core.

HTTP events (API Gateway REST v1, HTTP API v2, Function URLs, ALB) go through the FastAPI app via Mangum, so
Lambda answers exactly what the server answers: same validation, same error bodies. A direct invoke
(``{"text": ...}`` or ``{"texts": [...]}``, e.g. from the AWS CLI or Step Functions) goes through the same
``/predict`` route and gets the JSON body back. ``build_handler`` loads the model (or takes the one
``lambda_handler`` started preloading); ``lambda_handler`` calls it at import, which is Lambda's init phase,
so the model loads once per container and never inside the handler.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from mangum import Mangum

from nlpops.serving import preload
from nlpops.serving.app import create_app
from nlpops.serving.settings import Settings

Handler = Callable[[dict[str, Any], Any], dict[str, Any]]


def is_http_event(event: dict[str, Any]) -> bool:
    """API Gateway, Function URL and ALB events all carry a ``requestContext``; direct invokes do not."""
    return isinstance(event, dict) and "requestContext" in event


def as_http_event(payload: Any) -> dict[str, Any]:
    """Wrap a direct-invoke payload as an HTTP API v2 ``POST /predict`` event."""
    return {
        "version": "2.0",
        "routeKey": "POST /predict",
        "rawPath": "/predict",
        "rawQueryString": "",
        "headers": {"content-type": "application/json"},
        "requestContext": {
            "http": {"method": "POST", "path": "/predict", "sourceIp": "127.0.0.1"},
            "stage": "$default",
        },
        "body": json.dumps(payload),
        "isBase64Encoded": False,
    }


def build_handler(settings: Settings) -> Handler:
    """Load the model now (or wait for its preload) and return the handler that serves it."""
    app = create_app(settings, classifier=preload.classifier_for(settings))
    adapter = Mangum(app, lifespan="off", api_gateway_base_path=settings.api_base_path)

    def handle(event: dict[str, Any], context: Any) -> dict[str, Any]:
        if is_http_event(event):
            return adapter(event, context)
        response = adapter(as_http_event(event), context)
        body = json.loads(response["body"])
        return body if response["statusCode"] == 200 else {"statusCode": response["statusCode"], **body}

    return handle
