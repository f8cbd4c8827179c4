"""Prometheus metrics every task shares: HTTP requests and latency by route and status, inference latency, and
what the model sees and says (text lengths, the confidence of its answers: ``TaskServing.confidences``).

A small pure-ASGI middleware (no ``BaseHTTPMiddleware``, which costs a task per request) keeps the overhead
to a few microseconds. Each app gets its own registry, so tests and multiple apps in one process never
clash; a task adds its own observations to the registry (``TaskServing.observer``). With several uvicorn workers,
set ``PROMETHEUS_MULTIPROC_DIR`` and /metrics aggregates all of them.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable, Sequence

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector
from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128)
CONFIDENCE_BUCKETS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99)
TEXT_CHARS_BUCKETS = (16, 32, 64, 128, 256, 512, 1024, 2048, 4096)
UNMATCHED = "<unmatched>"  # 404s are not labelled by their path: random paths would explode the series count


def answering_route(scope: Scope) -> BaseRoute | None:
    """The app's route that answered a request the router did not record in the scope, matched afterwards.

    FastAPI's own routes record themselves, and that is all the hot path reads; /docs, /openapi.json and /redoc
    (plain Starlette routes), the router's trailing-slash redirects (matched with the slash toggled) and a declared
    body over the limit (refused before routing) are not recorded. None: no route answers the path.
    """
    toggled = scope["path"].rstrip("/") if scope["path"].endswith("/") else f"{scope['path']}/"
    for candidate in (scope, {**scope, "path": toggled}):
        for route in scope["app"].routes:
            if route.matches(candidate)[0] is not Match.NONE:
                return route
    return None


class ServingMetrics:
    """The metrics of one app, in their own registry."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.requests = Counter(
            "nlpops_http_requests", "HTTP requests", ["method", "route", "status"], registry=r
        )  # exported as nlpops_http_requests_total
        self.request_latency = Histogram(
            "nlpops_http_request_duration_seconds",
            "HTTP request latency, from the first byte in to the last byte out",
            ["method", "route", "status"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.inference_latency = Histogram(
            "nlpops_inference_duration_seconds",
            "Model inference latency (tokenize + ONNX Runtime + post-process)",
            ["variant"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.batch_size = Histogram(
            "nlpops_inference_batch_size", "Texts per inference call", buckets=BATCH_BUCKETS, registry=r
        )
        self.confidence = Histogram(
            "nlpops_prediction_confidence",
            "Confidence of each answer: a classification's top probability, each entity's score",
            buckets=CONFIDENCE_BUCKETS,
            registry=r,
        )
        self.text_chars = Histogram(
            "nlpops_text_chars", "Length of each predicted text in characters", buckets=TEXT_CHARS_BUCKETS, registry=r
        )
        self.model_info = Gauge(
            "nlpops_model_info",
            "The served model (value 1)",
            ["variant", "version"],
            registry=r,
            multiprocess_mode="max",
        )
        self.model_load_seconds = Gauge(
            "nlpops_model_load_seconds", "Time to load the model at startup", registry=r, multiprocess_mode="max"
        )

    def observe_inference(self, variant: str, seconds: float, texts: int) -> None:
        self.inference_latency.labels(variant).observe(seconds)
        self.batch_size.observe(texts)

    def observe_texts(self, texts: Sequence[str], confidences: Iterable[float]) -> None:
        for text in texts:
            self.text_chars.observe(len(text))
        for confidence in confidences:
            self.confidence.observe(confidence)

    def exposition(self) -> bytes:
        """The text format for /metrics; aggregated across worker processes in multiprocess mode."""
        if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            registry = CollectorRegistry()
            MultiProcessCollector(registry)
            return generate_latest(registry)
        return generate_latest(self.registry)


class MetricsMiddleware:
    """Counts and times every HTTP request by method, route template and status code."""

    def __init__(self, app: ASGIApp, metrics: ServingMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # what the client gets if the app raises before answering

        async def send_and_record_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_and_record_status)
        finally:
            route = scope.get("route") or answering_route(scope)
            labels = (scope["method"], getattr(route, "path", UNMATCHED), str(status))
            self.metrics.requests.labels(*labels).inc()
            self.metrics.request_latency.labels(*labels).observe(time.perf_counter() - started)
