"""The FastAPI app: the task's routes (``/predict`` for classification), ``/health``, ``/ready``, ``/metrics``.

One app serves one artifact, and the task its manifest names decides its routes (``serving_for``). The model is
loaded once, in the lifespan (or handed in, as the Lambda handler does), never per request.
"""

import logging
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

from fastapi import Depends, FastAPI
from fastapi.responses import Response
from pydantic import ConfigDict, Field

from nlpops.errors import UserError
from nlpops.serving import http_errors, prediction_log, preload
from nlpops.serving.artifact import artifact_task
from nlpops.serving.core import OnnxModel
from nlpops.serving.limits import BodyLimitMiddleware
from nlpops.serving.metrics import MetricsMiddleware, ServingMetrics
from nlpops.serving.prediction_log import ModelIdentity
from nlpops.serving.runtime import InferenceRunner, loaded_model, model_out
from nlpops.serving.schemas import HealthOut, ReadyOut
from nlpops.serving.settings import Settings
from nlpops.serving.task import serving_for

# No `from __future__ import annotations` here: FastAPI must see the routes' types themselves.

log = logging.getLogger(__name__)
GIL_SWITCH_INTERVAL_S = 0.001


class IdentifiedReadyOut(ReadyOut):
    model_config = ConfigDict(protected_namespaces=())  # model_*: the names of their NLPOPS_MODEL_* settings

    model_name: str = Field(description="NLPOPS_MODEL_NAME, else the artifact folder's name less -onnx")
    model_version: str | None = Field(description="NLPOPS_MODEL_VERSION: the release, e.g. v1.3.0")
    model_stage: str | None = Field(description="NLPOPS_MODEL_STAGE, e.g. prod")


def create_app(settings: Settings | None = None, model: OnnxModel | None = None, source: str = "api") -> FastAPI:
    """Build the app; without ``model`` the lifespan loads the artifact named by ``settings``.

    ``source`` names the way of serving in the prediction log (``api``, ``lambda``); the log opens with the model.
    """
    settings = settings or Settings.from_env()
    task = model.manifest.task if model else artifact_task(settings.artifact_dir)
    serving = serving_for(task)
    metrics = ServingMetrics()
    runner = InferenceRunner(serving, metrics, settings.inference_threads)
    if model is not None:
        runner.log = prediction_log.open_log(settings, serving, model, source)
    identity = ModelIdentity.of(settings, model.directory if model else settings.artifact_dir)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # A server process: hand the GIL over every 1 ms, not 5, so an inference thread back from ONNX Runtime
        # is not kept waiting behind the event loop (+10% requests/s and a lower p99 on 2 cores).
        sys.setswitchinterval(GIL_SWITCH_INTERVAL_S)
        if app.state.model is None:
            # preloaded if `python -m nlpops.serving` started it before FastAPI was imported
            app.state.model = preload.model_for(settings)
        loaded = app.state.model
        if loaded.manifest.task != task:  # the artifact was replaced between building the app and loading it
            raise UserError(f"{settings.artifact_dir} now holds a '{loaded.manifest.task}' model; start again")
        metrics.model_load_seconds.set(loaded.load_seconds)
        log.info("Loaded %s (%s) in %.3f s", settings.artifact_dir, loaded.variant, loaded.load_seconds)
        metrics.model_info.labels(loaded.variant, loaded.version).set(1)
        if runner.log is None:
            runner.log = prediction_log.open_log(settings, serving, loaded, source)
        yield
        runner.close()

    app = FastAPI(title=serving.title, summary=serving.summary, version="1", lifespan=lifespan)
    app.state.settings = settings
    app.state.model = model
    app.state.source = source
    app.state.metrics = metrics
    app.state.runner = runner
    http_errors.install(app)
    serving.add_routes(app, settings, runner)  # first: the task's routes (and any middleware) lead, as they always have
    app.add_middleware(BodyLimitMiddleware, limit=settings.max_body_bytes)
    app.add_middleware(MetricsMiddleware, metrics=metrics)  # added last = outermost: it sees every answer

    # /health and /ready answer HEAD too: some uptime checks and load balancers probe with it. Those routes are
    # added after the GET ones (decorators apply bottom up), which the 405 for other methods then names in Allow.
    @app.head("/health", include_in_schema=False)
    @app.get("/health", response_model=HealthOut, summary="Liveness: the process answers")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.head("/ready", include_in_schema=False)
    @app.get(
        "/ready",
        response_model=IdentifiedReadyOut,
        responses=http_errors.documented(503),
        summary="Readiness: the model is loaded and can predict",
    )
    async def ready(model: Annotated[OnnxModel, Depends(loaded_model)]) -> dict[str, Any]:
        identified = {"model_name": identity.name, "model_version": identity.version, "model_stage": identity.stage}
        return {"status": "ready", "model": model_out(model), "labels": model.labels, **identified}

    @app.get("/metrics", summary="Prometheus metrics (text format)", response_class=Response)
    async def prometheus_metrics() -> Response:
        return Response(metrics.exposition(), media_type="text/plain; version=0.0.4; charset=utf-8")

    return app
