"""Text generation served over real HTTP (uvicorn on 127.0.0.1): JSON, Server-Sent Events, the OpenAI client, the
limits, a full pool, a client that leaves, /health while busy, metrics; and the other ways of serving it."""

from __future__ import annotations

import json
import re
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from openai import OpenAI

from nlpops.deploy.smoke import smoke_test
from nlpops.serving import genai, predict
from nlpops.serving.generation import SERVING
from nlpops.serving.lambda_adapter import build_handler
from nlpops.serving.preload import load_artifact
from nlpops.serving.settings import Settings
from nlpops.tasks import TEXT_GENERATION
from tests.cli import run_python_json
from tests.local_servers import api_server
from tests.serving.test_server_process import running_server

PROMPT = "HAMLET. To be, or not"
LIMITS = {"max_prompt_tokens": 64, "max_new_tokens": 200, "generation_slots": 2, "queue_timeout": 0.3}
SLOW_TOKEN_S = 0.02  # a generation made slow enough to be caught running: 100 tokens take 2 s


@pytest.fixture(scope="module")
def url(tiny_generation_artifact: Path) -> Iterator[str]:
    with api_server(tiny_generation_artifact, **LIMITS) as base:
        yield base


@pytest.fixture
def slow_generation(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every generation of this process (the in-process server's) waits a little after each piece of text."""
    pieces = genai.Generation.__iter__

    def slowly(self: genai.Generation) -> Iterator[str]:
        for piece in pieces(self):
            time.sleep(SLOW_TOKEN_S)
            yield piece

    monkeypatch.setattr(genai.Generation, "__iter__", slowly)


def generate(url: str, **body: Any) -> httpx.Response:
    return httpx.post(f"{url}/generate", json={"prompt": PROMPT, **body}, timeout=30)


def events(response: httpx.Response) -> list[Any]:
    """The SSE ``data:`` payloads of a whole response, JSON decoded (``[DONE]`` as the string)."""
    data = [line.removeprefix("data: ") for line in response.text.split("\n\n") if line]
    return [item if item == "[DONE]" else json.loads(item) for item in data]


def metric(url: str, name: str) -> float:
    """The value of one sample in /metrics (0 if absent), e.g. ``nlpops_generated_tokens_total``."""
    text = httpx.get(f"{url}/metrics").text
    found = re.search(rf"^{re.escape(name)} (\S+)$", text, re.MULTILINE)
    return float(found.group(1)) if found else 0.0


def wait_for(condition: Any, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "the condition did not come true in time"
        time.sleep(0.02)


def test_greedy_generation_answers_json_of_the_requested_length(url: str) -> None:
    answer = generate(url, max_new_tokens=12)
    assert answer.status_code == 200
    body = answer.json()
    assert body["finish_reason"] in ("length", "stop")
    assert body["tokens"] == 12 if body["finish_reason"] == "length" else body["tokens"] <= 12
    assert body["text"] and set(body["model"]) == {"variant", "version"}
    assert generate(url, max_new_tokens=12).json() == body  # greedy: the same text every time


def test_a_seed_makes_sampling_repeatable(url: str) -> None:
    sampled = [generate(url, max_new_tokens=16, temperature=1.0, top_p=0.9, top_k=50, seed=7).json() for _ in "ab"]
    assert sampled[0] == sampled[1]


def test_stop_strings_end_the_text_before_them(url: str) -> None:
    text = generate(url, max_new_tokens=20).json()["text"]
    stop = text[3:5]
    answer = generate(url, max_new_tokens=20, stop=[stop]).json()
    assert answer["text"] == text[: text.find(stop)]
    assert answer["finish_reason"] == "stop"


def test_streaming_sends_the_same_text_piece_by_piece_then_done(url: str) -> None:
    whole = generate(url, max_new_tokens=10).json()
    streamed = generate(url, max_new_tokens=10, stream=True)
    assert streamed.status_code == 200
    assert streamed.headers["content-type"].startswith("text/event-stream")
    *pieces, last, done = events(streamed)
    assert done == "[DONE]"
    assert len(pieces) > 1 and all(set(piece) == {"text"} for piece in pieces)
    assert "".join(piece["text"] for piece in pieces) == whole["text"]
    assert last == {
        "text": "",
        "tokens": whole["tokens"],
        "finish_reason": whole["finish_reason"],
        "model": whole["model"],
    }


def test_the_openai_client_completes_and_streams(url: str) -> None:
    whole = generate(url, max_new_tokens=10).json()
    client = OpenAI(base_url=f"{url}/v1", api_key="unused")
    completion = client.completions.create(model="generator", prompt=PROMPT, max_tokens=10, temperature=0)
    assert completion.object == "text_completion"
    [choice] = completion.choices
    assert (choice.text, choice.finish_reason, choice.index) == (whole["text"], whole["finish_reason"], 0)
    assert completion.usage is not None
    assert completion.usage.completion_tokens == whole["tokens"]
    assert completion.usage.total_tokens == completion.usage.prompt_tokens + whole["tokens"]
    chunks = list(client.completions.create(model="x", prompt=PROMPT, max_tokens=10, temperature=0, stream=True))
    assert "".join(chunk.choices[0].text for chunk in chunks) == whole["text"]
    assert chunks[-1].choices[0].finish_reason == whole["finish_reason"]
    assert [model.id for model in client.models.list()] == [completion.model]


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({"prompt": "word " * 100}, 422, "prompt"),  # over max_prompt_tokens
        ({"prompt": PROMPT, "max_new_tokens": 201}, 422, "max_new_tokens"),  # over max_new_tokens
        ({"prompt": "word " * 15, "max_new_tokens": 200}, 422, "max_new_tokens"),  # 60 + 200 tokens: over the context
        ({"prompt": ""}, 422, "prompt"),
        ({"prompt": 3}, 422, "prompt"),
        ({"prompt": PROMPT, "temperature": "hot"}, 422, "temperature"),
        ({"prompt": PROMPT, "stop": "x"}, 422, "stop"),
        ({"prompt": PROMPT, "top_k": -1}, 422, "top_k"),
        ({"prompt": PROMPT, "unknown": 1}, 422, "unknown"),
        ({"prompt": "\ud800"}, 422, "prompt"),  # a lone surrogate: no tokenizer can encode it
    ],
)
def test_requests_over_the_limits_or_malformed_get_the_error_json(
    url: str, body: dict[str, Any], status: int, field: str
) -> None:
    answer = httpx.post(f"{url}/generate", content=json.dumps(body), headers={"Content-Type": "application/json"})
    assert answer.status_code == status
    assert answer.json()["error"] == "invalid_request"
    assert field in [detail["field"] for detail in answer.json()["details"]]


def test_malformed_json_and_openai_requests_outside_what_it_serves_are_4xx(url: str) -> None:
    assert generate(url, max_new_tokens=1).status_code == 200
    broken = httpx.post(f"{url}/generate", content=b'{"prompt": ', headers={"Content-Type": "application/json"})
    assert broken.status_code == 400 and broken.json()["error"] == "invalid_json"
    too_long = {"prompt": "x" * (Settings().max_text_chars + 1)}
    for body in ({"n": 2}, {"prompt": ["a", "b"]}, {"max_tokens": 201}, {"stop": ["a", "b", "c", "d", "e"]}, too_long):
        answer = httpx.post(f"{url}/v1/completions", json={"model": "m", "prompt": PROMPT} | body)
        assert answer.status_code == 422, body


def test_a_full_pool_answers_503_with_retry_after_and_health_stays_instant(url: str, slow_generation: None) -> None:
    with httpx.Client(base_url=url, timeout=30) as client:
        streams = [
            client.stream("POST", "/generate", json={"prompt": PROMPT, "max_new_tokens": 150, "stream": True})
            for _ in range(LIMITS["generation_slots"])
        ]
        lines = [stream.__enter__().iter_lines() for stream in streams]  # kept: a dropped iterator closes its response
        for stream_lines in lines:  # both generations run: each has sent text
            assert next(stream_lines).startswith("data: ")
        assert metric(url, "nlpops_generation_slots_busy") == 2
        started = time.perf_counter()
        health = httpx.get(f"{url}/health")
        assert health.status_code == 200 and time.perf_counter() - started < 0.1
        started, refusals = time.perf_counter(), metric(url, "nlpops_generations_refused_total")
        refused = generate(url, max_new_tokens=5)
        waited = time.perf_counter() - started
        assert refused.status_code == 503
        assert metric(url, "nlpops_generations_refused_total") == refusals + 1
        assert refused.json()["error"] == "busy"
        assert int(refused.headers["Retry-After"]) >= 1
        assert LIMITS["queue_timeout"] <= waited < 2  # waited for a slot, then answered: no hang
        for stream in streams:  # the clients leave mid-stream
            stream.__exit__(None, None, None)
    wait_for(lambda: metric(url, "nlpops_generation_slots_busy") == 0)
    tokens = metric(url, "nlpops_generated_tokens_total")
    time.sleep(0.3)
    assert metric(url, "nlpops_generated_tokens_total") == tokens  # nothing generates for them any more
    assert metric(url, 'nlpops_generations_total{finish_reason="cancelled"}') >= 2
    assert generate(url, max_new_tokens=5).status_code == 200  # and their slots serve others


def test_a_client_that_leaves_a_json_request_stops_its_generation(url: str, slow_generation: None) -> None:
    cancelled = metric(url, 'nlpops_generations_total{finish_reason="cancelled"}')
    body = json.dumps({"prompt": PROMPT, "max_new_tokens": 150}).encode()
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port))) as connection:
        head = (
            f"POST /generate HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\nContent-Length: {len(body)}"
        )
        connection.sendall(head.encode() + b"\r\n\r\n" + body)
        wait_for(lambda: metric(url, "nlpops_generation_slots_busy") == 1)
    started = time.perf_counter()
    wait_for(lambda: metric(url, "nlpops_generation_slots_busy") == 0)
    assert time.perf_counter() - started < 150 * SLOW_TOKEN_S / 2  # long before the generation would have ended
    assert metric(url, 'nlpops_generations_total{finish_reason="cancelled"}') == cancelled + 1


def test_generations_run_side_by_side_on_the_pool(url: str, slow_generation: None) -> None:
    one = 50 * SLOW_TOKEN_S
    results: list[int] = []
    threads = [
        threading.Thread(target=lambda: results.append(generate(url, max_new_tokens=50).status_code)) for _ in "ab"
    ]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == [200, 200]
    assert time.perf_counter() - started < 1.6 * one  # two at once, not one after the other


def test_metrics_count_tokens_finish_reasons_first_tokens_and_speed(url: str) -> None:
    before = {
        name: metric(url, name)
        for name in (
            "nlpops_generated_tokens_total",
            'nlpops_generations_total{finish_reason="length"}',
            "nlpops_generation_time_to_first_token_seconds_count",
            "nlpops_generation_tokens_per_second_count",
        )
    }
    answer = generate(url, max_new_tokens=7, stop=[]).json()
    assert answer["finish_reason"] == "length"
    wait_for(lambda: metric(url, "nlpops_generation_tokens_per_second_count") > before[list(before)[-1]])
    after = {name: metric(url, name) for name in before}
    assert [after[name] - before[name] for name in before] == [7, 1, 1, 1]
    assert metric(url, 'nlpops_http_requests_total{method="POST",route="/generate",status="200"}') > 0


def test_ready_reports_the_model_without_labels_and_the_smoke_check_passes(url: str) -> None:
    ready = httpx.get(f"{url}/ready").json()
    assert ready["status"] == "ready" and ready["labels"] == []
    result = smoke_test(url, timeout=10, task=TEXT_GENERATION)
    assert "tokens" in result.summary


def test_the_lambda_handler_serves_generation_without_streaming(tiny_generation_artifact: Path) -> None:
    handler = build_handler(Settings(artifact_dir=tiny_generation_artifact))
    direct = handler({"prompt": PROMPT, "max_new_tokens": 6}, None)
    assert direct["tokens"] <= 6 and direct["text"]
    http = json.loads((Path(__file__).resolve().parents[2] / "events" / "http-api-v2.json").read_text())
    http["rawPath"] = http["requestContext"]["http"]["path"] = "/v1/completions"
    http["headers"].pop("content-length")
    http["body"] = json.dumps({"model": "m", "prompt": PROMPT, "max_tokens": 6, "temperature": 0})
    answer = handler(http, None)
    assert answer["statusCode"] == 200
    assert json.loads(answer["body"])["choices"][0]["text"] == direct["text"]
    streamed = handler({"prompt": PROMPT, "stream": True}, None)
    assert streamed["statusCode"] == 400 and "Lambda" in streamed["message"]


def test_the_batch_command_continues_each_prompt(tiny_generation_artifact: Path, tmp_path: Path) -> None:
    prompts = tmp_path / "prompts.txt"
    prompts.write_text(f"{PROMPT}\nMy lord,\n")
    output = tmp_path / "out.jsonl"
    assert predict.main([str(prompts), "-o", str(output), "--artifact", str(tiny_generation_artifact)]) == 0
    lines = [json.loads(line) for line in output.read_text().splitlines()]
    assert [line["prompt"] for line in lines] == [PROMPT, "My lord,"]
    assert [set(line) for line in lines] == [{"prompt", "text", "tokens", "finish_reason"}] * 2
    assert lines[0]["tokens"] == 64 or lines[0]["finish_reason"] == "stop"


def test_evaluate_measures_perplexity_and_continues_test_blocks(tiny_generation_artifact: Path) -> None:
    model = load_artifact(tiny_generation_artifact)
    blocks = [
        SimpleNamespace(ids=model.encode(f"HAMLET. Line {i} of a rather long speech, my lord.")) for i in range(5)
    ]
    blocks.append(SimpleNamespace(ids=model.encode("word " * 80)[: model.context_length]))  # as long as the context
    evaluation = SERVING.evaluate(model, blocks)
    assert evaluation.metrics["test/perplexity"] > 1
    assert evaluation.metrics["test/perplexity"] == pytest.approx(2.718281828 ** evaluation.metrics["test/loss"])
    assert len(evaluation.rows) == 3 and set(evaluation.rows[0]) == {"prompt", "actual", "predicted"}
    assert [answer.text for answer in evaluation.answers] == [row["predicted"] for row in evaluation.rows]
    assert SERVING.log_output(evaluation.answers[0]) == {"tokens": 32, "finish_reason": "length"} or (
        evaluation.answers[0].finish_reason == "stop"
    )


def test_the_server_process_preloads_the_generator_and_streams_without_torch(tiny_generation_artifact: Path) -> None:
    with running_server(tiny_generation_artifact) as (base, process):
        streamed = generate(base, max_new_tokens=5, stream=True)
        assert streamed.status_code == 200 and events(streamed)[-1] == "[DONE]"
        maps = Path(f"/proc/{process.pid}/maps").read_text()
    assert "onnxruntime_genai" in maps and "libtorch" not in maps
    modules = run_python_json(IMPORT_GENERATION_SERVING, NLPOPS_ARTIFACT_DIR=str(tiny_generation_artifact))
    assert not {"torch", "lightning", "hydra", "transformers"} & set(modules)


IMPORT_GENERATION_SERVING = """
import json, sys
from fastapi.testclient import TestClient
from nlpops.serving.app import create_app
from nlpops.serving.settings import Settings
from nlpops.serving import lambda_handler, predict
with TestClient(create_app(Settings.from_env())) as client:
    assert client.post("/generate", json={"prompt": "My lord,", "max_new_tokens": 3}).status_code == 200
lambda_handler.handler({"prompt": "My lord,", "max_new_tokens": 3}, None)
print(json.dumps(sorted({name.split(".")[0] for name in sys.modules})))
"""


def test_the_prediction_log_records_each_generation_without_its_text(
    tiny_generation_artifact: Path, tmp_path: Path
) -> None:
    log = tmp_path / "predictions.jsonl"
    with api_server(tiny_generation_artifact, prediction_log=str(log)) as base:
        answer = generate(base, max_new_tokens=4).json()
        wait_for(lambda: log.exists() and log.read_text().strip() != "")
    [record] = [json.loads(line) for line in log.read_text().splitlines()]
    assert record["task"] == TEXT_GENERATION and record["source"] == "api"
    assert record["output"] == {"tokens": answer["tokens"], "finish_reason": answer["finish_reason"]}
    assert record["chars"] == len(PROMPT) and "text" not in record
