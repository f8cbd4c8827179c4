"""What every task's routes share at request time: the loaded model (or a 503) and the inference threads.

Inference runs on a small fixed pool of threads (``NLPOPS_INFERENCE_THREADS``, one per core): ONNX Runtime
releases the GIL, so requests are predicted in parallel while the event loop keeps parsing and answering.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from fastapi import HTTPException, Request

from nlpops.serving.core import OnnxModel
from nlpops.serving.metrics import ServingMetrics

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
