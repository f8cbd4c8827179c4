"""AWS Lambda entry point: set the function's handler to ``nlpops.serving.lambda_handler.handler``.

Importing this module is Lambda's init phase: settings are read from ``NLPOPS_*`` variables and the model
is loaded here, once per container, never inside the handler. Tests build handlers with
``nlpops.serving.lambda_adapter.build_handler`` instead of importing this module.
"""

from __future__ import annotations

from nlpops.serving.lambda_adapter import Handler, build_handler
from nlpops.serving.settings import Settings

handler: Handler = build_handler(Settings.from_env())
