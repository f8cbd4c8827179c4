"""The bounded pool text generations run on, off the event loop, and their metrics.

ONNX Runtime GenAI releases the GIL while it computes a token, so each of ``slots`` threads generates in parallel
and the event loop stays free for ``/health`` and the other requests. A request waits for a slot at most
``queue_timeout`` seconds, then ``PoolFull`` (503 with ``Retry-After``): a full server answers rather than hanging
its clients. A slot is taken on the event loop and given back by its thread once the generation has ended, so no
more than ``slots`` generations ever hold memory and cores; a client that disconnects cancels its generation
before the next token.
"""

import asyncio
import contextlib
import math
import threading
import time
from collections.abc import AsyncIterator, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from nlpops.serving import http_errors
from nlpops.serving.genai import Completion, Generation, GenerativeModel, Sampling

TTFT_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
TOKENS_PER_SECOND_BUCKETS = (1, 2, 5, 10, 20, 35, 50, 75, 100, 150, 250, 500, 1000, 2500)


class PoolFull(Exception):
    """Every slot stayed busy for the whole wait: a 503 that says when to come back (``Retry-After``)."""

    def __init__(self, retry_after: int, waited: float) -> None:
        super().__init__(retry_after)
        self.retry_after = retry_after
        self.waited = waited

    def response(self) -> JSONResponse:
        message = f"every generation slot stayed busy for {self.waited:g} s; retry after {self.retry_after} s"
        return http_errors.error_response(503, message, code="busy", headers={"Retry-After": str(self.retry_after)})


class GenerationMetrics:
    """The task's Prometheus metrics; called with answers (the batch command's path), or ``ended`` per generation."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.first_token = Histogram(
            "nlpops_generation_time_to_first_token_seconds",
            "From a generation request's arrival (queueing included) to its first piece of text",
            buckets=TTFT_BUCKETS,
            registry=registry,
        )
        self.speed = Histogram(
            "nlpops_generation_tokens_per_second",
            "Tokens per second of each generation, from its start on a slot to its end",
            buckets=TOKENS_PER_SECOND_BUCKETS,
            registry=registry,
        )
        self.tokens = Counter("nlpops_generated_tokens", "Tokens generated", registry=registry)
        self.finished = Counter(
            "nlpops_generations",
            "Generations by how they ended: stop, length or cancelled",
            ["finish_reason"],
            registry=registry,
        )
        self.busy = Gauge("nlpops_generation_slots_busy", "Generation slots in use", registry=registry)
        self.refused = Counter(
            "nlpops_generations_refused",
            "Requests answered 503: every slot stayed busy for NLPOPS_QUEUE_TIMEOUT",
            registry=registry,
        )

    def __call__(self, answers: Sequence[Completion]) -> None:
        for answer in answers:
            self.tokens.inc(answer.tokens)
            self.finished.labels(answer.finish_reason).inc()


_END = object()


@dataclass
class Failed:
    error: BaseException


class Running:
    """One generation on a slot: ``deltas`` yields its text as the generation thread produces it; ``completion``
    is set once it ended. Leaving ``deltas`` early (a cancelled stream) or ``cancel`` stops it before the next
    token."""

    def __init__(self, loop: asyncio.AbstractEventLoop, prompt_tokens: int) -> None:
        self.loop = loop
        self.prompt_tokens = prompt_tokens
        self.queue: asyncio.Queue = asyncio.Queue()
        self.cancelled = threading.Event()
        self.generation: Generation | None = None  # set by the thread once the prompt is in
        self.completion: Completion | None = None

    def put(self, item: Any) -> None:
        """From the generation thread: hand ``item`` to the event loop (unless the server has shut it down)."""
        try:
            self.loop.call_soon_threadsafe(self.queue.put_nowait, item)
        except RuntimeError:  # the loop is closed: nobody is listening any more
            self.cancel()

    def cancel(self) -> None:
        """From any thread: the generation stops before its next token (or never starts)."""
        self.cancelled.set()
        if self.generation is not None:
            self.generation.cancel()

    def began(self, generation: Generation) -> None:
        """From the generation thread: ``generation`` runs for this request (cancelled at once if its client left)."""
        self.generation = generation
        if self.cancelled.is_set():
            generation.cancel()

    async def deltas(self) -> AsyncIterator[str]:
        try:
            while (item := await self.queue.get()) is not _END:
                if isinstance(item, Failed):
                    raise item.error
                yield item
        finally:
            self.cancel()  # a no-op once it ended; else the client left: stop generating for it


class GenerationPool:
    """``slots`` generation threads; a request waits for one at most ``queue_timeout`` seconds (then ``PoolFull``)."""

    def __init__(self, slots: int, queue_timeout: float, metrics: GenerationMetrics) -> None:
        self.slots = slots
        self.queue_timeout = queue_timeout
        self.metrics = metrics
        self.free = asyncio.Semaphore(slots)
        self.executor = ThreadPoolExecutor(slots, thread_name_prefix="generation")
        self.typical_seconds = 1.0  # a moving average of generation times: what Retry-After suggests

    async def start(
        self,
        request: Request,
        model: GenerativeModel,
        prompt: list[int],
        sampling: Sampling,
        ended: Callable[[Completion, float], None],
    ) -> Running:
        """Take a slot and start generating; ``ended(completion, seconds)`` runs on the thread when it ends."""
        arrived = time.perf_counter()
        try:
            await asyncio.wait_for(self.free.acquire(), self.queue_timeout)
        except TimeoutError:
            self.metrics.refused.inc()
            raise PoolFull(max(1, math.ceil(self.typical_seconds)), self.queue_timeout) from None
        loop = asyncio.get_running_loop()
        running = Running(loop, len(prompt))
        watcher = loop.create_task(_cancel_on_disconnect(request, running))
        self.metrics.busy.inc()

        def release() -> None:
            watcher.cancel()
            self.free.release()
            self.metrics.busy.dec()

        def work() -> None:
            try:
                self._generate(running, model, prompt, sampling, arrived, ended)
            except BaseException as err:
                running.put(Failed(err))
            finally:
                running.put(_END)
                with contextlib.suppress(RuntimeError):  # the loop is closed: the server stopped, its slots with it
                    loop.call_soon_threadsafe(release)

        self.executor.submit(work)
        return running

    def _generate(
        self,
        running: Running,
        model: GenerativeModel,
        prompt: list[int],
        sampling: Sampling,
        arrived: float,
        ended: Callable[[Completion, float], None],
    ) -> None:
        started = time.perf_counter()
        generation = model.stream(prompt, sampling)
        running.began(generation)
        pieces: list[str] = []
        try:
            for delta in generation:
                if not pieces:
                    self.metrics.first_token.observe(time.perf_counter() - arrived)
                pieces.append(delta)
                running.put(delta)
        finally:
            generation.close()
        seconds = time.perf_counter() - started
        running.completion = Completion("".join(pieces), generation.tokens, generation.finish_reason or "cancelled")
        self.typical_seconds = 0.8 * self.typical_seconds + 0.2 * seconds
        if seconds > 0 and generation.tokens:
            self.metrics.speed.observe(generation.tokens / seconds)
        ended(running.completion, seconds)

    def close(self) -> None:
        self.executor.shutdown(wait=False, cancel_futures=True)


async def _cancel_on_disconnect(request: Request, running: Running) -> None:
    """Cancel ``running`` when its client disconnects (cancelled by the pool once the generation ended).

    The body was read before the generation started, so the next message is the disconnect.
    """
    while (await request.receive())["type"] != "http.disconnect":
        pass
    running.cancel()
