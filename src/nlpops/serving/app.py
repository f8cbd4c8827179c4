"""The FastAPI app: ``POST /predict``, ``GET /health``, ``GET /ready``, ``GET /metrics``, on the inference core.

The model is loaded once, in the lifespan (or handed in, as the Lambda handler does), never per request.
Inference runs on a small fixed pool of threads (``NLPOPS_INFERENCE_THREADS``, one per core): ONNX Runtime
releases the GIL, so requests are predicted in parallel while the event loop keeps parsing and answering.
The hot path has no dependencies and no response re-validation: each costs measurable throughput on 2 cores
(see docs/serving-performance.md).
"""

import asyncio
import logging
import sys
import time
from collections.abc import AsyncIterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from typing import Annotated, Any

from fastapi import Body, Depends, FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse, Response

from nlpops.serving import http_errors, preload
from nlpops.serving.core import OnnxClassifier, Prediction
from nlpops.serving.limits import BodyLimitMiddleware
from nlpops.serving.metrics import MetricsMiddleware, ServingMetrics
from nlpops.serving.schemas import HealthOut, PredictResponse, ReadyOut, predict_request_model
from nlpops.serving.settings import Settings

# No `from __future__ import annotations` here: FastAPI must see the request model built inside create_app.

log = logging.getLogger(__name__)
GIL_SWITCH_INTERVAL_S = 0.001
NOT_READY = "the model is not loaded yet; retry once GET /ready answers 200"


def model_out(classifier: OnnxClassifier) -> dict[str, str]:
    return {"variant": classifier.variant, "version": classifier.version}


async def get_classifier(request: Request) -> OnnxClassifier:
    """The loaded model; 503 until it is."""
    classifier = request.app.state.classifier
    if classifier is None:
        raise HTTPException(503, NOT_READY)
    return classifier


class Predictor:
    """Predicts on ``threads`` worker threads (0: on the event loop itself) and records inference metrics."""

    def __init__(self, metrics: ServingMetrics, threads: int) -> None:
        self.metrics = metrics
        self.executor = ThreadPoolExecutor(threads, thread_name_prefix="inference") if threads else None

    def predict_now(self, model: OnnxClassifier, texts: Sequence[str]) -> list[Prediction]:
        started = time.perf_counter()
        predictions = model.predict(texts)
        self.metrics.observe_inference(model.variant, time.perf_counter() - started, predictions)
        return predictions

    async def predict(self, model: OnnxClassifier, texts: Sequence[str]) -> list[Prediction]:
        if self.executor is None:
            return self.predict_now(model, texts)
        return await asyncio.get_running_loop().run_in_executor(self.executor, self.predict_now, model, texts)

    def close(self) -> None:
        if self.executor is not None:
            self.executor.shutdown(wait=False, cancel_futures=True)


def create_app(settings: Settings | None = None, classifier: OnnxClassifier | None = None) -> FastAPI:
    """Build the app; without ``classifier`` the lifespan loads the artifact named by ``settings``."""
    settings = settings or Settings.from_env()
    metrics = ServingMetrics()
    predictor = Predictor(metrics, settings.inference_threads)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # A server process: hand the GIL over every 1 ms, not 5, so an inference thread back from ONNX Runtime
        # is not kept waiting behind the event loop (+10% requests/s and a lower p99 on 2 cores).
        sys.setswitchinterval(GIL_SWITCH_INTERVAL_S)
        if app.state.classifier is None:
            # preloaded if `python -m nlpops.serving` started it before FastAPI was imported
            app.state.classifier = preload.classifier_for(settings)
        model = app.state.classifier
        metrics.model_load_seconds.set(model.load_seconds)
        log.info("Loaded %s (%s) in %.3f s", settings.artifact_dir, model.variant, model.load_seconds)
        loaded = model_out(model)
        metrics.model_info.labels(loaded["variant"], loaded["version"]).set(1)
        yield
        predictor.close()

    app = FastAPI(
        title="nlpops text classifier",
        summary="Sentiment of movie-review-like text, served from an ONNX model artifact.",
        version="1",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.classifier = classifier
    app.state.metrics = metrics
    http_errors.install(app)
    app.add_middleware(BodyLimitMiddleware, limit=settings.max_body_bytes)
    app.add_middleware(MetricsMiddleware, metrics=metrics)  # added last = outermost: it sees every answer
    request_model = predict_request_model(settings.max_text_chars, settings.max_batch)

    @app.post(
        "/predict",
        response_model=PredictResponse,
        responses=http_errors.documented(400, 413, 415, 422, 500, 503),
        summary="Classify one text or a batch of texts",
        description='Send `{"text": "..."}` or `{"texts": [...]}` with `Content-Type: application/json`.',
    )
    async def predict(payload: Annotated[request_model, Body()], request: Request) -> Response:  # type: ignore[valid-type]
        model: OnnxClassifier | None = request.app.state.classifier
        if model is None:
            raise HTTPException(503, NOT_READY)
        predictions = await predictor.predict(model, payload.items)
        items = [{"label": p.label, "score": p.score, "scores": p.scores} for p in predictions]
        return JSONResponse({"predictions": items, "model": model_out(model)})  # built here: no re-validation

    # /health and /ready answer HEAD too: some uptime checks and load balancers probe with it. Those routes are
    # added after the GET ones (decorators apply bottom up), which the 405 for other methods then names in Allow.
    @app.head("/health", include_in_schema=False)
    @app.get("/health", response_model=HealthOut, summary="Liveness: the process answers")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.head("/ready", include_in_schema=False)
    @app.get(
        "/ready",
        response_model=ReadyOut,
        responses=http_errors.documented(503),
        summary="Readiness: the model is loaded and can predict",
    )
    async def ready(model: Annotated[OnnxClassifier, Depends(get_classifier)]) -> dict[str, Any]:
        return {"status": "ready", "model": model_out(model), "labels": model.labels}

    @app.get("/metrics", summary="Prometheus metrics (text format)", response_class=Response)
    async def prometheus_metrics() -> Response:
        return Response(metrics.exposition(), media_type="text/plain; version=0.0.4; charset=utf-8")

    return app
