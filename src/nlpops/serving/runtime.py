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
from nlpops.serving.schemas import TextsRequest

NOT_READY = "the model is not loaded yet; retry once GET /ready answers 200"


def loaded_model(request: Request) -> OnnxModel:
    """The app's model; 503 until the lifespan has loaded it."""
    model = request.app.state.model
    if model is None:
        raise HTTPException(503, NOT_READY)
    return model


def model_out(model: OnnxModel) -> dict[str, str]:
    return {"variant": model.variant, "version": model.version}


class InferenceRunner:
    """Runs a task's ``predict`` on ``threads`` worker threads (0: on the event loop) and records its metrics."""

    def __init__(
        self,
        predict: Callable[[OnnxModel, Sequence[str]], list[Any]],
        observe: Callable[[Sequence[Any]], None],
        metrics: ServingMetrics,
        threads: int,
    ) -> None:
        self.predict_fn = predict
        self.observe = observe
        self.metrics = metrics
        self.executor = ThreadPoolExecutor(threads, thread_name_prefix="inference") if threads else None

    def predict_now(self, model: OnnxModel, texts: Sequence[str]) -> list[Any]:
        started = time.perf_counter()
        answers = self.predict_fn(model, texts)
        self.metrics.observe_inference(model.variant, time.perf_counter() - started, len(texts))
        self.observe(answers)
        return answers

    async def predict(self, model: OnnxModel, texts: Sequence[str]) -> list[Any]:
        if self.executor is None:
            return self.predict_now(model, texts)
        return await asyncio.get_running_loop().run_in_executor(self.executor, self.predict_now, model, texts)

    def close(self) -> None:
        if self.executor is not None:
            self.executor.shutdown(wait=False, cancel_futures=True)


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
        answers = await runner.predict(model, payload.items)
        items = [as_json(answer) for answer in answers]
        return JSONResponse({"predictions": items, "model": model_out(model)})  # built here: no re-validation
