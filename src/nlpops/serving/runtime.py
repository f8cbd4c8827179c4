"""What every task's routes share at request time: the loaded model (or a 503), the inference threads, the route.

Inference runs on a small fixed pool of threads (``NLPOPS_INFERENCE_THREADS``, one per core): ONNX Runtime
releases the GIL, so requests are predicted in parallel while the event loop keeps parsing and answering.
"""

# No `from __future__ import annotations` here: FastAPI must see the request model of ``add_texts_route`` itself.

import asyncio
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Annotated, Any

from fastapi import Body, FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel

from nlpops.serving import http_errors
from nlpops.serving.core import OnnxModel
from nlpops.serving.metrics import ServingMetrics
from nlpops.serving.prediction_log import MAX_REQUEST_ID_CHARS, PredictionLog
from nlpops.serving.schemas import TextsRequest
from nlpops.serving.task import TaskServing

NOT_READY = "the model is not loaded yet; retry once GET /ready answers 200"


def loaded_model(request: Request) -> OnnxModel:
    """The app's model; 503 until the lifespan has loaded it."""
    model = request.app.state.model
    if model is None:
        raise HTTPException(503, NOT_READY)
    return model


def model_out(model: OnnxModel) -> dict[str, str]:
    return {"variant": model.variant, "version": model.version}


def request_id(request: Request) -> str | None:
    """The client's ``X-Request-ID`` (cut short), else Lambda's request id, else None (the log makes one up)."""
    given = request.headers.get("x-request-id")
    if given:
        return given[:MAX_REQUEST_ID_CHARS]
    return getattr(request.scope.get("aws.context"), "aws_request_id", None)  # Mangum puts Lambda's context there


class InferenceRunner:
    """Runs a task's ``predict`` on ``threads`` worker threads (0: on the event loop), records its metrics and
    hands its answers to the prediction log (``log``, once the model is loaded: None if it is off)."""

    def __init__(self, serving: TaskServing, metrics: ServingMetrics, threads: int) -> None:
        self.serving = serving
        self.observe = serving.observer(metrics.registry)
        self.metrics = metrics
        self.executor = ThreadPoolExecutor(threads, thread_name_prefix="inference") if threads else None
        self.log: PredictionLog | None = None
        self.on_close: list[Callable[[], None]] = []  # what a task's routes started and the app's end must stop

    def predict_now(self, model: OnnxModel, texts: Sequence[str], request_id: str | None = None) -> list[Any]:
        started = time.perf_counter()
        answers = self.serving.predict(model, texts)
        seconds = time.perf_counter() - started
        self.metrics.observe_inference(model.variant, seconds, len(texts))
        self.metrics.observe_texts(texts, (c for answer in answers for c in self.serving.confidences(answer)))
        self.observe(answers)
        if self.log is not None:
            self.log.write(texts, answers, seconds, request_id)
        return answers

    async def predict(self, model: OnnxModel, texts: Sequence[str], request_id: str | None = None) -> list[Any]:
        if self.executor is None:
            return self.predict_now(model, texts, request_id)
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.executor, self.predict_now, model, texts, request_id)

    def close(self) -> None:
        for stop in self.on_close:
            stop()
        if self.executor is not None:
            self.executor.shutdown(wait=False, cancel_futures=True)
        if self.log is not None:
            self.log.close()
            self.log = None


def add_texts_route(
    app: FastAPI,
    runner: InferenceRunner,
    *,
    route: str,
    name: str,
    request_model: type[TextsRequest],
    response_model: type[BaseModel],
    as_json: Callable[[Any], dict[str, Any]],
    **documentation: Any,
) -> None:
    """``POST route``: one text or a batch in, ``{"predictions": [answer, ...], "model": ...}`` out.

    ``documentation`` (summary, description, openapi_extra) goes to the OpenAPI schema. The hot path has no
    dependencies and no response re-validation: each costs measurable throughput on 2 cores
    (docs/serving-performance.md).
    """

    @app.post(
        route,
        name=name,
        response_model=response_model,
        responses=http_errors.documented(400, 413, 415, 422, 500, 503),
        **documentation,
    )
    async def predict(payload: Annotated[request_model, Body()], request: Request) -> Response:  # type: ignore[valid-type]
        model = loaded_model(request)
        answers = await runner.predict(model, payload.items, request_id(request) if runner.log else None)
        items = [as_json(answer) for answer in answers]
        return JSONResponse({"predictions": items, "model": model_out(model)})  # built here: no re-validation
