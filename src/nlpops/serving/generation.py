"""Text generation served: ``POST /generate`` (JSON or Server-Sent Events) and OpenAI's ``POST /v1/completions``.

Both routes run on one bounded pool of generation threads (``generation_pool``, ``NLPOPS_GENERATION_SLOTS``): a
full pool answers 503 with ``Retry-After`` after ``NLPOPS_QUEUE_TIMEOUT`` seconds, and a client that leaves (a
closed connection, a cancelled stream) cancels its generation before the next token and frees its slot. The
/v1 routes speak OpenAI's completions protocol (one prompt string, ``n`` = 1), so the ``openai`` client and the
tools built on it work unchanged. Through Lambda, whose answers are buffered, ``stream: true`` is a 400.
"""

import json
import logging
import math
import os
import time
import uuid
from collections.abc import AsyncIterator, Sequence
from typing import Annotated, Any, Literal

import numpy as np
from fastapi import Body, FastAPI, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from prometheus_client import CollectorRegistry
from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints, create_model

from nlpops.errors import UserError
from nlpops.serving import http_errors
from nlpops.serving.genai import Completion, GenerativeModel, Sampling
from nlpops.serving.generation_pool import GenerationMetrics, GenerationPool, PoolFull, Running
from nlpops.serving.prediction_log import ModelIdentity
from nlpops.serving.runtime import InferenceRunner, loaded_model, model_out, request_id
from nlpops.serving.schemas import ErrorDetail, ModelOut
from nlpops.serving.settings import Settings
from nlpops.serving.task import Evaluation, SmokeTestFailed, TaskServing
from nlpops.serving.task import Request as SmokeRequest

log = logging.getLogger(__name__)

EXAMPLE_PROMPT = "HAMLET. To be, or not to be,"
DEFAULT_NEW_TOKENS = 64  # /generate's default; OpenAI's max_tokens defaults to 16, as in its API
OPENAI_DEFAULT_TOKENS = 16
MAX_STOPS = 4  # stop strings per request, as OpenAI allows
MAX_STOP_CHARS = 64
MAX_SEED = 2**31 - 1
EVALUATION_PROMPTS = 3  # test blocks continued greedily for the evaluation's rows
EVALUATION_PROMPT_TOKENS = 16
EVALUATION_NEW_TOKENS = 32
SMOKE_PROMPT = "My lord,"
SMOKE_NEW_TOKENS = 8
SSE = "text/event-stream"
DONE = "data: [DONE]\n\n"
SSE_EVENT = {  # how OpenAPI tools (schemathesis) read each event of a text/event-stream answer
    "type": "object",
    "properties": {
        "data": {"type": "string", "description": "A JSON object (a piece of text, then the ending), or [DONE]"},
        "event": {"type": "string"},
    },
    "required": ["data"],
}
STREAMING_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}  # no proxy may hold the tokens back


def _valid_unicode(text: str) -> str:
    """JSON can carry a lone surrogate (``"\\ud800"``), which no tokenizer can encode: a client error, not a 500."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError(
            "the text has a lone surrogate (an unpaired \\ud800-\\udfff escape); send valid Unicode"
        ) from None
    return text


def _whole(value: Any) -> Any:
    """JSON Schema's integers include 1.0: take a whole float as its int (strict validation refuses the rest)."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


WHOLE = Annotated[int, BeforeValidator(_whole)]
SEED = Annotated[int, Field(ge=0, le=MAX_SEED), BeforeValidator(_whole)]  # in the Optional: its anyOf has the bounds


def prompt_type(max_chars: int) -> Any:
    return Annotated[
        str, StringConstraints(strict=True, min_length=1, max_length=max_chars), AfterValidator(_valid_unicode)
    ]


STOP = Annotated[str, StringConstraints(strict=True, min_length=1, max_length=MAX_STOP_CHARS)]


def generate_request_model(settings: Settings) -> type[BaseModel]:
    """``POST /generate``'s body, its limits from the settings (published in the schema, enforced by validation)."""
    new_tokens = min(DEFAULT_NEW_TOKENS, settings.max_new_tokens)
    return create_model(
        "GenerateRequest",
        __config__=ConfigDict(
            extra="forbid",
            strict=True,
            json_schema_extra={"examples": [{"prompt": EXAMPLE_PROMPT, "max_new_tokens": 20}]},
        ),
        prompt=(
            prompt_type(settings.max_text_chars),
            Field(
                description=f"The text to continue (at most {settings.max_text_chars} characters and "
                f"{settings.max_prompt_tokens} tokens)"
            ),
        ),
        max_new_tokens=(
            WHOLE,
            Field(
                new_tokens,
                ge=1,
                le=settings.max_new_tokens,
                description="The most tokens to generate; the prompt and these must fit the model's context "
                "(the artifact's max_length), else 422",
            ),
        ),
        temperature=(
            float,
            Field(0.0, ge=0, le=2, description="0: greedy (the same text every time); higher: more varied"),
        ),
        top_p=(float, Field(1.0, gt=0, le=1, description="Sample from the smallest set of tokens this probable")),
        top_k=(WHOLE, Field(0, ge=0, description="Sample from the k most probable tokens (0: all)")),
        seed=(SEED | None, Field(None, description="Same seed, same settings: same text (null: a new text each time)")),
        stop=(
            list[STOP],
            Field(default_factory=list, max_length=MAX_STOPS, description="The text ends before the first of these"),
        ),
        stream=(bool, Field(False, description="Server-Sent Events, a `data:` line per piece of text")),
    )


class GenerateResponse(BaseModel):
    text: str = Field(description="The continuation (without the prompt, and without the stop string)")
    tokens: int = Field(description="Tokens generated")
    finish_reason: Literal["stop", "length"] = Field(
        description="stop: the model ended its text or hit a stop string; length: max_new_tokens reached"
    )
    model: ModelOut


class CompletionRequest(BaseModel):
    """OpenAI's completion request, the parts of it this server honours; other fields are ignored, as OpenAI's
    compatible servers do, so tools that send them (``user``, penalties at 0) work."""

    model_config = ConfigDict(extra="ignore")

    model: str = Field(description="Any name: this server serves one model (GET /v1/models)")
    prompt: Annotated[str, AfterValidator(_valid_unicode)] = Field(min_length=1, description="One prompt string")
    max_tokens: int | None = Field(OPENAI_DEFAULT_TOKENS, ge=1, description="The most tokens to generate")
    temperature: float | None = Field(1.0, ge=0, le=2)
    top_p: float | None = Field(1.0, gt=0, le=1)
    seed: int | None = Field(None, ge=0, le=MAX_SEED)
    stop: str | list[STOP] | None = Field(None, description="Up to 4 strings that end the text")
    stream: bool | None = False
    n: Literal[1] | None = Field(1, description="Only 1 completion per request")


class CompletionChoice(BaseModel):
    text: str
    index: int
    finish_reason: Literal["stop", "length"] | None
    logprobs: None = None


class Usage(BaseModel):
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int


class CompletionResponse(BaseModel):
    id: str
    object: Literal["text_completion"] = "text_completion"
    created: int
    model: str
    choices: list[CompletionChoice]
    usage: Usage


class ModelCard(BaseModel):
    id: str
    object: Literal["model"] = "model"
    created: int
    owned_by: str


class ModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[ModelCard]


class RequestError(Exception):
    """A request the schema allows but the model cannot take (too many tokens): a 422 naming the field."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(problem)
        self.field = field
        self.problem = problem

    def response(self) -> JSONResponse:
        detail = ErrorDetail(field=self.field, problem=self.problem)
        return http_errors.error_response(422, f"invalid request: {self.field}: {self.problem}", [detail])


def sse(data: dict[str, Any]) -> str:
    return f"data: {json.dumps(data, ensure_ascii=False)}\n\n"


def prompt_tokens(
    model: GenerativeModel, prompt: str, new_tokens: int, max_prompt_tokens: int, field: str
) -> list[int]:
    """The prompt's tokens, once they and ``new_tokens`` (the request's ``field``) are known to fit the model."""
    ids = model.encode(prompt)
    if not ids:
        raise RequestError("prompt", "the prompt has no tokens; send some text")
    if len(ids) > max_prompt_tokens:
        raise RequestError(
            "prompt", f"the prompt has {len(ids)} tokens, over the limit of {max_prompt_tokens}; shorten it"
        )
    room = model.context_length - len(ids)
    if new_tokens > room:
        fix = f"ask for at most {room}" if room > 0 else "shorten the prompt"
        raise RequestError(
            field,
            f"the prompt's {len(ids)} tokens and {new_tokens} new ones exceed the model's context of "
            f"{model.context_length} tokens; {fix}",
        )
    return ids


def completion_sampling(payload: CompletionRequest, settings: Settings) -> Sampling:
    """OpenAI's parameters as a ``Sampling``, within this server's limits; OpenAI's defaults where they are null."""
    if len(payload.prompt) > settings.max_text_chars:
        raise RequestError("prompt", f"the prompt is over the limit of {settings.max_text_chars} characters")
    max_new_tokens = settings.max_new_tokens
    max_tokens = OPENAI_DEFAULT_TOKENS if payload.max_tokens is None else payload.max_tokens
    if max_tokens > max_new_tokens:
        raise RequestError("max_tokens", f"{max_tokens} is over this server's limit of {max_new_tokens} tokens")
    stop = (payload.stop,) if isinstance(payload.stop, str) else tuple(payload.stop or ())
    if len(stop) > MAX_STOPS:
        raise RequestError("stop", f"{len(stop)} stop strings; send at most {MAX_STOPS}")
    return Sampling(
        max_new_tokens=max_tokens,
        temperature=1.0 if payload.temperature is None else payload.temperature,
        top_p=1.0 if payload.top_p is None else payload.top_p,
        seed=payload.seed,
        stop=stop,
    )


def streaming(events: AsyncIterator[str]) -> StreamingResponse:
    return StreamingResponse(events, media_type=SSE, headers=STREAMING_HEADERS)


async def generate_events(running: Running, model: GenerativeModel) -> AsyncIterator[str]:
    """``/generate``'s stream: ``{"text"}`` per piece, then ``{"text": "", "tokens", "finish_reason", "model"}``."""
    try:
        async for delta in running.deltas():
            yield sse({"text": delta})
    except Exception:
        log.exception("generation failed while streaming")
        yield sse({"error": "internal_error", "message": "the generation failed; it has been logged"})
        yield DONE
        return
    assert running.completion is not None
    ending = {"tokens": running.completion.tokens, "finish_reason": running.completion.finish_reason}
    yield sse({"text": "", **ending, "model": model_out(model)})
    yield DONE


async def completion_events(running: Running, head: dict[str, Any]) -> AsyncIterator[str]:
    """``/v1/completions``' stream in OpenAI's format: a chunk per piece, a last one with its finish_reason."""

    def chunk(text: str, finish_reason: str | None) -> str:
        choice = {"text": text, "index": 0, "logprobs": None, "finish_reason": finish_reason}
        return sse({**head, "choices": [choice]})

    try:
        async for delta in running.deltas():
            yield chunk(delta, None)
    except Exception:
        log.exception("generation failed while streaming")
        yield sse({"error": {"message": "the generation failed; it has been logged", "type": "internal_error"}})
        yield DONE
        return
    assert running.completion is not None
    yield chunk("", running.completion.finish_reason)
    yield DONE


def streaming_refused() -> JSONResponse:
    return http_errors.error_response(
        400,
        "streaming is not available through Lambda, which sends an answer only once it is whole; send "
        '"stream": false (the default) or use the HTTP server for streaming',
        code="invalid_request",
    )


def log_probabilities(logits: np.ndarray) -> np.ndarray:
    shifted = logits - logits.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


BUSY_OR_NOT_READY = {
    "model": http_errors.ErrorBody,
    "description": "The model is not loaded (not_ready), or every generation slot stayed busy for "
    "NLPOPS_QUEUE_TIMEOUT seconds (busy, with a Retry-After header)",
}


class GenerationServing(TaskServing):
    title = "nlpops text generator"
    summary = "Continues text, as JSON or streamed token by token, from an ONNX Runtime GenAI model; OpenAI-compatible."
    route = "/generate"
    input_field = "prompt"  # the batch command's lines: {"prompt", "text", ...}, as the API names them

    def predict(self, model: GenerativeModel, texts: Sequence[str]) -> list[Completion]:
        """Each prompt's greedy continuation of up to 64 tokens (fewer if the model's context ends first)."""
        answers = []
        for text in texts:
            ids = model.encode(text)
            new_tokens = min(DEFAULT_NEW_TOKENS, model.context_length - len(ids))
            if not ids or new_tokens < 1:
                raise UserError(
                    f"a prompt of {len(ids)} tokens leaves no room in the model's context of {model.context_length}"
                )
            answers.append(model.complete(text, Sampling(max_new_tokens=new_tokens)))
        return answers

    def as_json(self, answer: Completion) -> dict[str, Any]:
        return {"text": answer.text, "tokens": answer.tokens, "finish_reason": answer.finish_reason}

    def confidences(self, answer: Completion) -> tuple[()]:
        return ()

    def log_output(self, answer: Completion) -> dict[str, Any]:
        """How long the continuation is and why it ended: never its text."""
        return {"tokens": answer.tokens, "finish_reason": answer.finish_reason}

    def observer(self, registry: CollectorRegistry) -> GenerationMetrics:
        return GenerationMetrics(registry)

    def add_routes(self, app: FastAPI, settings: Settings, runner: InferenceRunner) -> None:
        metrics: GenerationMetrics = runner.observe  # type: ignore[assignment]  (``observer`` above made it)
        pool = GenerationPool(settings.generation_slots or os.cpu_count() or 1, settings.queue_timeout, metrics)
        app.state.generation_pool = pool
        runner.on_close.append(pool.close)
        app.add_exception_handler(RequestError, lambda request, error: error.response())
        app.add_exception_handler(PoolFull, lambda request, error: error.response())
        name = ModelIdentity.of(settings, settings.artifact_dir).name
        created = int(time.time())
        errors = {**http_errors.documented(400, 413, 415, 422, 500), 503: BUSY_OR_NOT_READY}

        async def begin(request: Request, prompt: str, sampling: Sampling, field: str) -> Running:
            model = loaded_model(request)
            ids = prompt_tokens(model, prompt, sampling.max_new_tokens, settings.max_prompt_tokens, field)
            logged_id = request_id(request) if runner.log else None

            def ended(completion: Completion, seconds: float) -> None:
                metrics([completion])
                runner.metrics.observe_inference(model.variant, seconds, 1)
                runner.metrics.observe_texts([prompt], ())
                if runner.log is not None:
                    runner.log.write([prompt], [completion], seconds, logged_id)

            return await pool.start(request, model, ids, sampling, ended)

        request_model = generate_request_model(settings)

        @app.post(
            self.route,
            name="generate",
            response_model=GenerateResponse,
            responses={**errors, 200: {"content": {SSE: {"schema": SSE_EVENT}}}},
            summary="Continue a prompt",
            description='Send `{"prompt": "..."}` with `Content-Type: application/json`. With `"stream": true` the '
            'answer is Server-Sent Events: `data: {"text": ...}` per piece of text, then `data: {"text": "", '
            '"tokens": ..., "finish_reason": ..., "model": ...}`, then `data: [DONE]`.',
        )
        async def generate(payload: Annotated[request_model, Body()], request: Request) -> Response:  # type: ignore[valid-type]
            if payload.stream and request.app.state.source == "lambda":
                return streaming_refused()
            sampling = Sampling(
                payload.max_new_tokens,
                payload.temperature,
                payload.top_p,
                payload.top_k,
                payload.seed,
                tuple(payload.stop),
            )
            running = await begin(request, payload.prompt, sampling, "max_new_tokens")
            model = loaded_model(request)
            if payload.stream:
                return streaming(generate_events(running, model))
            text = "".join([delta async for delta in running.deltas()])
            assert running.completion is not None
            ending = {"tokens": running.completion.tokens, "finish_reason": running.completion.finish_reason}
            return JSONResponse({"text": text, **ending, "model": model_out(model)})

        @app.post(
            "/v1/completions",
            name="completions",
            response_model=CompletionResponse,
            responses={**errors, 200: {"content": {SSE: {"schema": SSE_EVENT}}}},
            summary="OpenAI-compatible completion (one prompt string, n = 1)",
            description="OpenAI's `POST /v1/completions`: the `openai` client works with "
            "`OpenAI(base_url='http://HOST:PORT/v1', api_key='unused')`, streaming too.",
        )
        async def completions(payload: CompletionRequest, request: Request) -> Response:
            if payload.stream and request.app.state.source == "lambda":
                return streaming_refused()
            sampling = completion_sampling(payload, settings)
            running = await begin(request, payload.prompt, sampling, "max_tokens")
            head = {"id": f"cmpl-{uuid.uuid4().hex}", "object": "text_completion", "created": int(time.time())}
            head["model"] = name
            if payload.stream:
                return streaming(completion_events(running, head))
            text = "".join([delta async for delta in running.deltas()])
            assert running.completion is not None
            tokens = running.completion.tokens
            choice = {"text": text, "index": 0, "logprobs": None, "finish_reason": running.completion.finish_reason}
            usage = {"prompt_tokens": running.prompt_tokens, "completion_tokens": tokens}
            usage["total_tokens"] = running.prompt_tokens + tokens
            return JSONResponse({**head, "choices": [choice], "usage": usage})

        @app.get("/v1/models", response_model=ModelList, summary="OpenAI-compatible list of the one model served")
        async def models() -> dict[str, Any]:
            return {
                "object": "list",
                "data": [{"id": name, "object": "model", "created": created, "owned_by": "nlpops"}],
            }

    def evaluate(self, model: GenerativeModel, examples: Sequence[Any]) -> Evaluation:
        """Test perplexity over the test blocks (every next token scored), and a few blocks' beginnings continued
        greedily beside what the text really says."""
        blocks = [[int(token) for token in example.ids][: model.context_length] for example in examples]
        blocks = [block for block in blocks if len(block) > 1]
        if not blocks:
            raise UserError("the test split has no block of two tokens or more: nothing to evaluate")
        loss, count = 0.0, 0
        for block in blocks:
            logp = log_probabilities(model.sequence_logits(block).astype(np.float64))
            loss -= float(logp[np.arange(len(block) - 1), block[1:]].sum())
            count += len(block) - 1
        rows, prompts, answers = [], [], []
        for block in blocks[:EVALUATION_PROMPTS]:
            prompt = model.decode(block[:EVALUATION_PROMPT_TOKENS])
            answer = model.complete(prompt, Sampling(max_new_tokens=EVALUATION_NEW_TOKENS))
            reference = model.decode(block[EVALUATION_PROMPT_TOKENS : EVALUATION_PROMPT_TOKENS + EVALUATION_NEW_TOKENS])
            rows.append({"prompt": prompt, "actual": reference, "predicted": answer.text})
            prompts.append(prompt)
            answers.append(answer)
        metrics = {"test/loss": loss / count, "test/perplexity": math.exp(loss / count)}
        return Evaluation(metrics, rows, prompts, answers)

    def smoke_check(self, base: str, request: SmokeRequest, ready: dict[str, Any]) -> str:
        """A prompt yields non-empty text of the requested length (or shorter, if the model ended its text)."""
        answer = request(f"{base}{self.route}", {"prompt": SMOKE_PROMPT, "max_new_tokens": SMOKE_NEW_TOKENS})
        text, tokens, reason = answer.get("text"), answer.get("tokens"), answer.get("finish_reason")
        if not isinstance(text, str) or not isinstance(tokens, int) or reason not in ("stop", "length"):
            raise SmokeTestFailed(f"POST {self.route} answered {answer}, expected text, tokens and finish_reason")
        if not text:
            raise SmokeTestFailed(f"{SMOKE_PROMPT!r} got no text ({answer}): the model is wrong")
        if not (tokens == SMOKE_NEW_TOKENS if reason == "length" else 0 < tokens <= SMOKE_NEW_TOKENS):
            raise SmokeTestFailed(
                f"asked for {SMOKE_NEW_TOKENS} tokens, got {tokens} ending with {reason!r} ({answer})"
            )
        return f"{tokens} tokens ({reason}): {text[:40]!r}"


SERVING = GenerationServing()
