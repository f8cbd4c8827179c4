"""AWS Lambda entry point: set the function's handler to ``nlpops.serving.lambda_handler.handler``.

Importing this module is Lambda's init phase: settings are read from ``NLPOPS_*`` variables and the model
is loaded here, once per container, never inside the handler. The prediction log goes to stdout, into
CloudWatch, unless ``NLPOPS_PREDICTION_LOG`` says otherwise. As in ``python -m nlpops.serving``, the model
starts loading on a background thread before FastAPI and Mangum are imported, which hides most of its load
time (see docs/serving-performance.md, "Cold start"). Tests build handlers with
``nlpops.serving.lambda_adapter.build_handler`` instead of importing this module.
"""

from __future__ import annotations

from nlpops.serving import preload
from nlpops.serving.settings import STDOUT, Settings

settings = Settings.from_env(defaults={"prediction_log": STDOUT})  # CloudWatch keeps the function's stdout
preload.start(settings)

from nlpops.serving.lambda_adapter import Handler, build_handler  # noqa: E402  (imports FastAPI while it loads)

handler: Handler = build_handler(settings)
