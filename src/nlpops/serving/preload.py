"""Load the model on a background thread from the first instant of a server process or a Lambda init.

Loading is mostly GIL-free (checksums, ONNX Runtime's session setup), and importing FastAPI and uvicorn
takes longer than it does, so starting it before those imports hides it: the server answers its first
request sooner (see docs/serving-performance.md, "Cold start"). The app's lifespan picks the result up.
Until then the cyclic garbage collector is paused: startup only allocates what lives as long as the process
(modules, classes, FastAPI's pydantic models), and collecting through it made startup ~15% slower. When it
resumes, what startup allocated is frozen (``gc.freeze``) first: the collector never scans it again, which
spares the first request the collection of every object made so far (30-40 ms on a slow 2-core VM).
While the model loads, FastAPI is imported with the models of its OpenAPI schema left to build on first use.
"""

from __future__ import annotations

import gc
import os
import threading
from concurrent.futures import Future
from pathlib import Path
from typing import TYPE_CHECKING

from nlpops import tasks
from nlpops.serving.artifact import artifact_task
from nlpops.serving.settings import WINDOW_STRIDE, Settings

if TYPE_CHECKING:
    from nlpops.serving.core import OnnxModel
    from nlpops.serving.genai import GenerativeModel

_started: tuple[Settings, Future] | None = None


def load_model(settings: Settings) -> OnnxModel | GenerativeModel:
    """The model of the artifact ``settings`` name, as the server, Lambda and the batch command load it."""
    return load_artifact(
        settings.artifact_dir,
        variant=settings.variant,
        intra_op_threads=settings.intra_op_threads,
        verify_checksums=settings.verify_checksums,
        window_stride=settings.window_stride,
        generation_threads=settings.generation_threads,
    )


def load_artifact(
    directory: Path,
    variant: str = "int8",
    intra_op_threads: int = 1,
    verify_checksums: bool = True,
    window_stride: int = WINDOW_STRIDE,
    generation_threads: int = 0,
) -> OnnxModel | GenerativeModel:
    """Load the artifact with the inference core of its task: ONNX Runtime GenAI for a language model, plain ONNX
    Runtime for the encoder tasks.

    Decided here by the manifest's task, not by a hook of the task's serving module: that module imports FastAPI,
    which this thread must not (it runs while the main thread imports FastAPI with its models' builds deferred).
    The cores are imported here, on the loading thread: numpy and ONNX Runtime are slow to import. A language
    model decodes one token at a time, a chain of small matmuls that only several threads keep busy: it runs on
    ``generation_threads`` (0: every core), not on the encoders' ``intra_op_threads``.
    """
    if artifact_task(directory) == tasks.TEXT_GENERATION:
        from nlpops.serving.genai import GenerativeModel

        threads = generation_threads or os.cpu_count() or 1
        return GenerativeModel.load(
            directory, variant=variant, intra_op_threads=threads, verify_checksums=verify_checksums
        )
    from nlpops.serving.core import OnnxModel

    return OnnxModel.load(
        directory,
        variant=variant,
        intra_op_threads=intra_op_threads,
        verify_checksums=verify_checksums,
        window_stride=window_stride,
    )


def start(settings: Settings) -> None:
    """Begin loading the model named by ``settings`` in a daemon thread, and import FastAPI meanwhile.

    The cyclic GC stays paused until ``take``; FastAPI is imported as ``import_fastapi`` says.
    """
    global _started
    gc.disable()
    future: Future = Future()

    def run() -> None:
        try:
            future.set_result(load_model(settings))
        except BaseException as err:  # handed to the lifespan, which fails the startup with it
            future.set_exception(err)

    threading.Thread(target=run, name="model-preload", daemon=True).start()
    _started = (settings, future)
    import_fastapi()


def import_fastapi() -> None:
    """Import FastAPI with the ~30 pydantic models of its OpenAPI schema built on first use, not at import.

    Building them is the largest single cost of importing FastAPI, and only ``/openapi.json`` and ``/docs``
    need them (the first request there builds them, in ~20 ms); deferring it made a server start and a Lambda
    init 0.08-0.1 s faster on a slow 2-core VM. pydantic's ``defer_build`` is set on its base model just while
    FastAPI imports (the model thread defines no pydantic models), so the models FastAPI defines inherit it
    and every other model is built as usual. A no-op once FastAPI is imported.
    """
    from pydantic import BaseModel

    config = BaseModel.model_config
    saved = dict(config)
    config["defer_build"] = True
    try:
        import fastapi  # noqa: F401
    finally:
        config.clear()
        config.update(saved)


def wait(settings: Settings) -> None:
    """Wait for the preload of ``settings`` (if ``start`` began one) and raise its error, if it failed."""
    if _started is not None and _started[0] == settings:
        _started[1].result()


def model_for(settings: Settings) -> OnnxModel | GenerativeModel:
    """The model preloaded for ``settings`` if ``start`` began one (waiting for it), else loaded now."""
    preloading = take(settings)
    return preloading.result() if preloading else load_model(settings)


def take(settings: Settings) -> Future | None:
    """The preload started for these same settings (once), else None. Resumes the GC paused by ``start``."""
    global _started
    if _started is not None:
        gc.freeze()
        gc.enable()
    if _started is None or _started[0] != settings:
        return None
    future = _started[1]
    _started = None
    return future
