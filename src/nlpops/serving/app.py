"""The FastAPI app: ``POST /predict``, ``GET /health``, ``GET /ready``, ``GET /metrics``, on the inference core.

The model is loaded once, in the lifespan (or handed in, as the Lambda handler does), never per request.
``/predict`` is a plain ``def``: FastAPI runs it in its thread pool, and ONNX Runtime releases the GIL, so
on 2 cores two requests run inference at once (see README "Serving performance" for the measurements).
"""

import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

from fastapi import Body, Depends, FastAPI, HTTPException, Request
from fastapi.responses import Response

from nlpops.serving import http_errors
from nlpops.serving.core import OnnxClassifier
from nlpops.serving.limits import BodyLimitMiddleware
from nlpops.serving.metrics import MetricsMiddleware, ServingMetrics
from nlpops.serving.schemas import HealthOut, ModelOut, PredictResponse, ReadyOut, predict_request_model
from nlpops.serving.settings import Settings

# No `from __future__ import annotations` here: FastAPI must see the request model built inside create_app.

log = logging.getLogger(__name__)
JSON_TYPES = ("application/json",)


def load_classifier(settings: Settings) -> OnnxClassifier:
    return OnnxClassifier.load(
        settings.artifact_dir,
        variant=settings.variant,
        intra_op_threads=settings.intra_op_threads,
        verify_checksums=settings.verify_checksums,
    )


def model_out(classifier: OnnxClassifier) -> ModelOut:
    file = classifier.manifest.models[classifier.variant]
    return ModelOut(variant=classifier.variant, version=classifier.manifest.checksums.get(file, "unknown")[:12])


async def get_classifier(request: Request) -> OnnxClassifier:
    """The loaded model; 503 until it is (an ``async`` dependency: no thread-pool hop per request)."""
    classifier = request.app.state.classifier
    if classifier is None:
        raise HTTPException(503, "the model is not loaded yet; retry once GET /ready answers 200")
    return classifier


async def require_json(request: Request) -> None:
    """415 for any body that is not declared as JSON (curl -d sends form encoding unless told otherwise)."""
    content_type = request.headers.get("content-type", "")
    media_type = content_type.split(";", 1)[0].strip().lower()
    if media_type not in JSON_TYPES and not media_type.endswith("+json"):
        shown = content_type or "none"
        raise HTTPException(415, f"Content-Type is {shown}; send JSON with the header Content-Type: application/json")


def create_app(settings: Settings | None = None, classifier: OnnxClassifier | None = None) -> FastAPI:
    """Build the app; without ``classifier`` the lifespan loads the artifact named by ``settings``."""
    settings = settings or Settings.from_env()
    metrics = ServingMetrics()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if app.state.classifier is None:
            started = time.perf_counter()
            app.state.classifier = load_classifier(settings)
            metrics.model_load_seconds.set(time.perf_counter() - started)
            log.info("Loaded %s (%s) in %.3f s", settings.artifact_dir, settings.variant, time.perf_counter() - started)
        loaded = model_out(app.state.classifier)
        metrics.model_info.labels(loaded.variant, loaded.version).set(1)
        yield

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
        dependencies=[Depends(require_json)],
        responses=http_errors.documented(400, 413, 415, 422, 500, 503),
        summary="Classify one text or a batch of texts",
    )
    def predict(
        payload: Annotated[request_model, Body()],  # type: ignore[valid-type]
        model: Annotated[OnnxClassifier, Depends(get_classifier)],
    ) -> Any:
        started = time.perf_counter()
        predictions = model.predict(payload.items)
        metrics.observe_inference(model.variant, time.perf_counter() - started, predictions)
        items = [{"label": p.label, "score": p.score, "scores": p.scores} for p in predictions]
        return {"predictions": items, "model": model_out(model)}

    @app.get("/health", response_model=HealthOut, summary="Liveness: the process answers")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

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
