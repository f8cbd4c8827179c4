"""The prediction log: one JSON line per predicted text, for drift reports and audits, written off the request path.

Every way of serving (the API, Lambda, the batch command) and the evaluation's reference file write the same
record::

    {"time": "2026-12-06T12:00:00.123Z", "request_id": "...", "source": "api", "model": "text-classifier",
     "version": "v1.3.0", "stage": "prod", "task": "text-classification", "chars": 123, "tokens": 31,
     "unknown_tokens": 0, "latency_ms": 4.2, "output": {...}}

``output`` is the task's (``TaskServing.log_output``); the texts of one request share its ``request_id`` and its
``latency_ms`` (the inference call's); ``tokens`` counts the whole text, special tokens and truncation aside. The
text itself is in the record (``text``, cut to ``NLPOPS_LOG_TEXT_CHARS``) only with ``NLPOPS_LOG_TEXTS=true``.

A request only draws its sample and hands its answers to a queue; a thread counts the tokens, builds the records
and writes them. A full queue drops the request's records and a failed write loses them, with a warning each
time the log goes from working to failing: neither ever fails or slows a request.
"""

from __future__ import annotations

import json
import logging
import logging.handlers
import queue
import random
import sys
import threading
import time
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tokenizers import Tokenizer

from nlpops.errors import UserError
from nlpops.serving.settings import PREFIX, STDOUT, Settings
from nlpops.utils.files import atomic_file

if TYPE_CHECKING:
    from nlpops.serving.core import OnnxModel
    from nlpops.serving.task import TaskServing

log = logging.getLogger(__name__)

QUEUE_REQUESTS = 10_000  # requests waiting to be written; more are dropped rather than held in memory
MAX_REQUEST_ID_CHARS = 128  # a client's X-Request-ID is cut to this


@dataclass(frozen=True)
class ModelIdentity:
    """What the deployment calls the served model: in /ready and in every record."""

    name: str
    version: str | None
    stage: str | None

    @classmethod
    def of(cls, settings: Settings, artifact_dir: Path) -> ModelIdentity:
        """``NLPOPS_MODEL_NAME`` (else the artifact folder's name less ``-onnx``), ``_VERSION`` and ``_STAGE``."""
        return cls(settings.model_name or artifact_name(artifact_dir), settings.model_version, settings.model_stage)


def artifact_name(artifact_dir: Path) -> str:
    """A model's default name: its artifact folder's, less ``-onnx`` (``models/ner-onnx`` → ``ner``)."""
    return Path(artifact_dir).absolute().name.removesuffix("-onnx")


def timestamp(seconds: float) -> str:
    """UTC to the millisecond, as ``2026-12-06T12:00:00.123Z``."""
    return datetime.fromtimestamp(seconds, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class TokenCounter:
    """A text's tokens and unknown tokens, counted by a copy of the model's tokenizer that neither truncates, pads
    nor adds special tokens: the model's own encodings are cut at its maximum length and never leave the core."""

    def __init__(self, tokenizer: Tokenizer) -> None:
        self.tokenizer = Tokenizer.from_str(tokenizer.to_str())
        self.tokenizer.no_truncation()
        self.tokenizer.no_padding()
        unknown = getattr(self.tokenizer.model, "unk_token", None)
        self.unknown_id = self.tokenizer.token_to_id(unknown) if unknown else None

    def __call__(self, text: str) -> tuple[int, int]:
        ids = self.tokenizer.encode(text, add_special_tokens=False).ids
        return len(ids), ids.count(self.unknown_id) if self.unknown_id is not None else 0


class RecordBuilder:
    """The records of texts and the task's answers for them, in a request or outside one (the evaluation's
    reference file: ``source="evaluate"``)."""

    def __init__(
        self,
        serving: TaskServing,
        model: OnnxModel,
        identity: ModelIdentity,
        source: str,
        text_chars: int | None = None,
    ) -> None:
        """``text_chars``: put each text in its record, cut to that many characters (None: no texts)."""
        self.log_output = serving.log_output
        self.count_tokens = TokenCounter(model.tokenizer)
        self.source = source
        self.model = {"model": identity.name, "version": identity.version, "stage": identity.stage}
        self.task = model.manifest.task
        self.text_chars = text_chars

    def records(
        self,
        texts: Sequence[str],
        answers: Sequence[Any],
        *,
        request_id: str | None = None,
        latency_ms: float | None = None,
        at: float | None = None,
    ) -> list[dict[str, Any]]:
        """A record per text; they share ``request_id`` (None: a new one), ``latency_ms`` and ``at`` (None: now)."""
        shared = {
            "time": timestamp(time.time() if at is None else at),
            "request_id": request_id or uuid.uuid4().hex,
            "source": self.source,
            **self.model,
            "task": self.task,
        }
        latency = None if latency_ms is None else round(latency_ms, 3)
        return [self.record(shared, text, answer, latency) for text, answer in zip(texts, answers, strict=True)]

    def record(self, shared: dict[str, Any], text: str, answer: Any, latency_ms: float | None) -> dict[str, Any]:
        tokens, unknown = self.count_tokens(text)
        record = shared | {"chars": len(text), "tokens": tokens, "unknown_tokens": unknown, "latency_ms": latency_ms}
        record["output"] = self.log_output(answer)
        if self.text_chars is not None:
            record["text"] = text[: self.text_chars]
        return record


def as_lines(records: Iterable[dict[str, Any]]) -> str:
    return "\n".join(json.dumps(record, ensure_ascii=False) for record in records)


def write_records(path: Path, records: Iterable[dict[str, Any]]) -> None:
    """JSON Lines at ``path``, replaced only once every record is written (the evaluation's reference file)."""
    with atomic_file(Path(path)) as scratch, scratch.open("w", encoding="utf-8") as out:
        for record in records:
            out.write(json.dumps(record, ensure_ascii=False) + "\n")


class PredictionLog:
    """Writes the records of sampled requests to ``handler`` from a thread of its own."""

    def __init__(self, builder: RecordBuilder, handler: logging.Handler, sample: float) -> None:
        self.builder = builder
        self.handler = handler
        self.sample = sample
        self.queue: queue.Queue[Any] = queue.Queue(QUEUE_REQUESTS)
        self.failing = False  # warned that records are being lost; cleared once one is written again
        self.thread = threading.Thread(target=self._write_until_closed, name="prediction-log", daemon=True)
        self.thread.start()

    def write(self, texts: Sequence[str], answers: Sequence[Any], seconds: float, request_id: str | None) -> None:
        """Queue a request's records if it is sampled; never raises, never waits."""
        if self.sample < 1 and random.random() >= self.sample:
            return
        try:
            self.queue.put_nowait((time.time(), request_id, texts, answers, seconds * 1000))
        except queue.Full:
            self._failed("its queue is full (the disk is too slow?)")

    def flush(self, timeout: float) -> bool:
        """Wait up to ``timeout`` s until what is queued is written (Lambda, before its process is frozen)."""
        done = threading.Event()
        try:
            self.queue.put_nowait(done)
        except queue.Full:
            return False
        return done.wait(timeout)

    def close(self) -> None:
        """Write what is queued, then stop."""
        self.queue.put(None)
        self.thread.join()
        self.handler.close()

    def _write_until_closed(self) -> None:
        while (item := self.queue.get()) is not None:
            if isinstance(item, threading.Event):
                item.set()
                continue
            at, request_id, texts, answers, latency_ms = item
            try:
                records = self.builder.records(texts, answers, request_id=request_id, latency_ms=latency_ms, at=at)
                self.handler.emit(logging.makeLogRecord({"msg": as_lines(records)}))
            except Exception as err:  # a bug in a record must not stop the log, nor reach a request
                self._failed(f"{type(err).__name__}: {err}")
            else:
                self.failing = False

    def _failed(self, why: str) -> None:
        if not self.failing:
            log.warning("the prediction log is losing records: %s", why)
        self.failing = True


class _Raising(logging.Handler):
    """Lets a failed write raise to ``PredictionLog``, which warns once, instead of printing a traceback a line."""

    def handleError(self, record: logging.LogRecord) -> None:
        raise  # called by ``emit`` while it handles the error


class _Stdout(_Raising, logging.StreamHandler):
    pass


class _RotatingFile(_Raising, logging.handlers.RotatingFileHandler):
    pass


def open_handler(settings: Settings) -> logging.Handler:
    """stdout for ``-``, else the size-rotated file, opened now: a path that cannot be written fails the start."""
    if settings.prediction_log == STDOUT:
        return _Stdout(sys.stdout)
    path = Path(str(settings.prediction_log))
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        return _RotatingFile(
            path,
            maxBytes=settings.prediction_log_max_bytes,
            backupCount=settings.prediction_log_backups,
            encoding="utf-8",
        )
    except OSError as err:
        raise UserError(
            f"{PREFIX}PREDICTION_LOG={path} cannot be written ({err.strerror}): give a writable path, - for stdout, "
            "or unset it to log nothing"
        ) from None


def open_log(settings: Settings, serving: TaskServing, model: OnnxModel, source: str) -> PredictionLog | None:
    """The prediction log ``settings`` ask for, of ``model``'s predictions from ``source``; None if it is off."""
    if settings.prediction_log is None:
        return None
    identity = ModelIdentity.of(settings, model.directory)
    text_chars = settings.log_text_chars if settings.log_texts else None
    builder = RecordBuilder(serving, model, identity, source, text_chars)
    return PredictionLog(builder, open_handler(settings), settings.prediction_log_sample)
