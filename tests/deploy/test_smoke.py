"""The smoke test against the real API (right answers) and local stand-ins for broken deployments."""

from __future__ import annotations

import time
from typing import Any

import pytest

from nlpops import tasks
from nlpops.deploy.smoke import SmokeTestFailed, smoke_test
from nlpops.serving.ner import SMOKE_TEXT
from tests.deploy.stand_ins import FRESH, OBAMA, ROTTEN, deployment
from tests.local_servers import free_port, json_server


def test_the_real_api_passes(healthy_api: str) -> None:
    result = smoke_test(healthy_api, timeout=10)
    assert result.summary == "labels fresh / rotten"  # the positive review, then the negative one
    assert result.model["variant"] == "int8" and len(result.model["version"]) == 12
    assert result.attempts == 1


def test_a_model_that_gives_every_text_one_label_fails_at_once() -> None:
    with json_server(deployment([FRESH, FRESH])) as url:
        started = time.monotonic()
        with pytest.raises(SmokeTestFailed, match="both got label 'fresh'"):
            smoke_test(url, timeout=30, interval=5)
    assert time.monotonic() - started < 5  # a wrong answer is not retried


@pytest.mark.parametrize(
    ("answer", "problem"),
    [
        (deployment([]), "expected 2 predictions"),
        (deployment([FRESH, ROTTEN | {"scores": {"rotten": "high"}}]), "expected 2 predictions"),
        (deployment([FRESH, ROTTEN | {"label": "meh", "scores": {"meh": 1.0}}]), "'meh', not one of"),
        (deployment([FRESH, ROTTEN | {"scores": {"fresh": 0.5, "rotten": 0.7}}]), "do not sum to 1"),
        (deployment(["not", "an", "object"]), "expected 2 predictions"),
        (deployment({"error": "invalid_request"}, status=422), "422 from"),
    ],
)
def test_wrong_answers_and_client_errors_fail(answer: Any, problem: str) -> None:
    with json_server(answer) as url, pytest.raises(SmokeTestFailed, match=problem):
        smoke_test(url, timeout=30, interval=5)


def test_the_real_ner_api_passes_the_ner_check(healthy_ner_api: str) -> None:
    result = smoke_test(healthy_ner_api, timeout=10, task=tasks.TOKEN_CLASSIFICATION)
    assert result.summary.startswith("entities ") and "(person)" in result.summary
    assert result.model["variant"] == "int8" and result.attempts == 1


def test_ner_entities_must_point_at_their_text() -> None:
    assert SMOKE_TEXT[OBAMA["start"] : OBAMA["end"]] == OBAMA["text"]  # the stand-in's entity is right
    with json_server(deployment([{"entities": [OBAMA]}])) as url:
        assert smoke_test(url, timeout=10, task=tasks.TOKEN_CLASSIFICATION).summary == "entities Barack Obama (person)"


@pytest.mark.parametrize(
    ("entities", "problem"),
    [
        ([OBAMA | {"end": 11}], "does not point at its text"),  # an offset off by one
        ([OBAMA | {"text": ""}, OBAMA], "does not point at its text"),
        ([OBAMA | {"start": "0"}], "does not point at its text"),
        ([], "got no entities"),
        ("Barack Obama", "got no entities"),
    ],
)
def test_wrong_ner_answers_fail(entities: Any, problem: str) -> None:
    with json_server(deployment([{"entities": entities}])) as url, pytest.raises(SmokeTestFailed, match=problem):
        smoke_test(url, timeout=30, interval=5, task=tasks.TOKEN_CLASSIFICATION)


def test_a_cold_start_answered_503_is_retried_until_the_model_answers() -> None:
    calls: list[str] = []
    healthy = deployment([FRESH, ROTTEN])

    def warming_up(method: str, path: str, body: Any) -> tuple[int, Any]:
        calls.append(path)
        return (503, {"error": "not_ready"}) if len(calls) <= 2 else healthy(method, path, body)

    with json_server(warming_up) as url:
        result = smoke_test(url, timeout=30, interval=0.05)
    assert result.attempts == 3
    assert result.summary == "labels fresh / rotten"


def test_no_server_at_all_fails_at_the_deadline() -> None:
    url = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    started = time.monotonic()
    with pytest.raises(SmokeTestFailed, match=r"no good answer from .* in 0.5 s"):
        smoke_test(url, timeout=0.5, interval=0.1)
    assert time.monotonic() - started < 5
