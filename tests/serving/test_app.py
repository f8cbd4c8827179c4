"""The FastAPI app over HTTP (TestClient, lifespan included) on an artifact exported from a tiny model."""

from __future__ import annotations

import gc
import json
import re
import unicodedata
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from nlpops.serving.app import create_app
from nlpops.serving.artifact import read_manifest
from nlpops.serving.settings import Settings
from tests.cli import run_python_json
from tests.serving.artifacts import LABELS

MAX_TEXT_CHARS, MAX_BATCH, MAX_BODY_BYTES = 200, 4, 4_000
JSON = {"Content-Type": "application/json"}
FORM = "application/x-www-form-urlencoded"  # what `curl -d` sends unless told otherwise

SERVER_START_THEN_OPENAPI = """
import json
from pydantic import BaseModel
from nlpops.serving import preload
from nlpops.serving.settings import Settings

settings = Settings.from_env()
preload.start(settings)  # as python -m nlpops.serving does, before anything imports FastAPI
from fastapi.openapi.models import OpenAPI
from fastapi.testclient import TestClient
from nlpops.serving.app import create_app
from nlpops.serving.classification import PredictResponse

with TestClient(create_app(settings)) as client:
    predicted = client.post("/predict", json={"text": "a witty film"}).status_code
    deferred = not OpenAPI.__pydantic_complete__
    document = client.get("/openapi.json").json()
print(json.dumps({
    "predicted": predicted,
    "deferred_until_openapi_json": deferred,
    "built_by_then": OpenAPI.__pydantic_complete__,
    "own_models_built": PredictResponse.__pydantic_complete__,
    "base_config_restored": BaseModel.model_config == {},
    "document": document,
}))
"""


@pytest.fixture(scope="module")
def client(tiny_artifact: Path) -> Iterator[TestClient]:
    settings = Settings(
        artifact_dir=tiny_artifact, max_text_chars=MAX_TEXT_CHARS, max_batch=MAX_BATCH, max_body_bytes=MAX_BODY_BYTES
    )
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        yield client


def metric(client: TestClient, name: str, **labels: str) -> float:
    """The current value of one Prometheus sample, scraped from /metrics (0 if absent)."""
    for family in text_string_to_metric_families(client.get("/metrics").text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                return sample.value
    return 0.0


def test_health_and_ready(client: TestClient, tiny_artifact: Path) -> None:
    assert client.get("/health").json() == {"status": "ok"}
    ready = client.get("/ready").json()
    assert ready["status"] == "ready"
    assert ready["labels"] == LABELS
    assert ready["model"] == {"variant": "int8", "version": read_manifest(tiny_artifact).model_version("int8")}


def test_predict_one_text(client: TestClient) -> None:
    response = client.post("/predict", json={"text": "a brilliant and charming movie"})
    assert response.status_code == 200
    [prediction] = response.json()["predictions"]
    assert prediction["label"] == "fresh"
    assert set(prediction["scores"]) == set(LABELS)
    assert prediction["score"] == max(prediction["scores"].values())
    assert response.json()["model"]["variant"] == "int8"


def test_predict_a_batch_keeps_the_order(client: TestClient) -> None:
    texts = ["a dull and tedious movie", "a brilliant and charming movie", "tedious"]
    response = client.post("/predict", json={"texts": texts})
    assert response.status_code == 200
    assert [p["label"] for p in response.json()["predictions"]] == ["rotten", "fresh", "rotten"]


BAD_REQUESTS = [
    pytest.param(b'{"text": "unterminated', JSON, 400, "not valid JSON", id="malformed-json"),
    pytest.param(b'{"text": "caf\xe9"}', JSON, 400, "send UTF-8 encoded JSON", id="not-utf-8"),
    pytest.param(b"", JSON, 422, "exactly one of", id="empty-body"),
    pytest.param(b'{"text": 42}', JSON, 422, "valid string", id="text-not-a-string"),
    pytest.param(b'{"texts": "one text"}', JSON, 422, "valid list", id="texts-not-a-list"),
    pytest.param(b'{"texts": ["ok", 3]}', JSON, 422, "texts.1", id="texts-item-not-a-string"),
    pytest.param(b'["a witty film"]', JSON, 422, "valid dictionary", id="not-an-object"),
    pytest.param(b"{}", JSON, 422, "exactly one of", id="missing-field"),
    pytest.param(b'{"txt": "a witty film"}', JSON, 422, "txt", id="misspelled-field"),
    pytest.param(b'{"text": "a", "texts": ["b"]}', JSON, 422, "exactly one of", id="both-fields"),
    pytest.param(b'{"text": null}', JSON, 422, "text: Input should be a valid string", id="null-text"),
    pytest.param(b'{"text": null, "texts": ["b"]}', JSON, 422, "valid string", id="null-beside-a-batch"),
    pytest.param(b'{"text": ""}', JSON, 422, "at least 1 character", id="empty-text"),
    pytest.param(b'{"text": " \\n\\t "}', JSON, 422, "only whitespace", id="whitespace-text"),
    pytest.param(b'{"texts": ["fine", "  "]}', JSON, 422, "texts.1: text is empty", id="whitespace-in-batch"),
    pytest.param(b'{"text": "\\u200b\\ufeff"}', JSON, 422, "invisible characters", id="zero-width-and-bom-text"),
    pytest.param(b'{"text": "\\u0000\\u0001\\u001f"}', JSON, 422, "control", id="control-characters-text"),
    pytest.param(b'{"texts": []}', JSON, 422, "at least 1 item", id="empty-batch"),
    pytest.param(b'{"text": "%s"}' % (b"a" * (MAX_TEXT_CHARS + 1)), JSON, 422, "at most 200", id="text-too-long"),
    pytest.param(b'{"texts": ["a", "b", "c", "d", "e"]}', JSON, 422, "at most 4 items", id="batch-too-large"),
    pytest.param(b'{"texts": ["%s"]}' % (b"a" * MAX_BODY_BYTES), JSON, 413, "over 4000 bytes", id="body-too-large"),
    pytest.param(b"text=a+witty+film", {"Content-Type": FORM}, 415, "application/json", id="form-encoded"),
    pytest.param(b'{"text": "a witty film"}', {"Content-Type": "text/plain"}, 415, "text/plain", id="text-plain"),
    pytest.param(b'{"text": "a witty film"}', {}, 415, "Content-Type is none", id="no-content-type"),
]


@pytest.mark.parametrize(("body", "headers", "status", "hint"), BAD_REQUESTS)
def test_bad_input_is_a_4xx_with_a_json_body_that_says_what_to_fix(
    client: TestClient, body: bytes, headers: dict[str, str], status: int, hint: str
) -> None:
    response = client.post("/predict", content=body, headers=headers)
    assert response.status_code == status
    error = response.json()
    assert error["error"] and hint in error["message"]
    # the server keeps serving after any bad input
    assert client.post("/predict", json={"text": "a witty film"}).status_code == 200


def test_with_the_default_limits_the_largest_valid_request_fits_the_body_limit(tiny_artifact: Path) -> None:
    """64 texts of 2,000 characters, each an emoji that a JSON encoder may write as a 12-byte surrogate pair."""
    settings = Settings(artifact_dir=tiny_artifact)
    body = json.dumps({"texts": ["\U0001f3ac" * settings.max_text_chars] * settings.max_batch}).encode()
    assert len(body) > 1_500_000
    with TestClient(create_app(settings)) as client:
        assert client.post("/predict", content=body, headers=JSON).status_code == 200


def test_a_chunked_body_over_the_limit_is_a_413(client: TestClient) -> None:
    chunks = (b'{"texts": ["' if i == 0 else b"a" * 1000 for i in range(6))  # no Content-Length: streamed
    response = client.post("/predict", content=chunks, headers=JSON)
    assert response.status_code == 413
    assert response.json()["error"] == "payload_too_large"


def test_unknown_routes_and_methods_are_json_errors(client: TestClient) -> None:
    assert client.get("/nope").status_code == 404
    assert client.get("/nope").json()["error"] == "not_found"
    response = client.get("/predict")
    assert response.status_code == 405
    assert response.json()["error"] == "method_not_allowed"


def test_metrics_count_requests_latency_inference_and_labels(client: TestClient) -> None:
    route = {"method": "POST", "route": "/predict"}
    before = {
        "ok": metric(client, "nlpops_http_requests_total", status="200", **route),
        "bad": metric(client, "nlpops_http_requests_total", status="422", **route),
        "latency": metric(client, "nlpops_http_request_duration_seconds_count", status="200", **route),
        "inference": metric(client, "nlpops_inference_duration_seconds_count", variant="int8"),
        "fresh": metric(client, "nlpops_predictions_total", label="fresh"),
        "rotten": metric(client, "nlpops_predictions_total", label="rotten"),
    }
    client.post("/predict", json={"texts": ["a brilliant and charming movie", "a dull and tedious movie"]})
    client.post("/predict", json={"text": "a brilliant movie"})
    client.post("/predict", json={"text": " "})
    assert metric(client, "nlpops_http_requests_total", status="200", **route) == before["ok"] + 2
    assert metric(client, "nlpops_http_requests_total", status="422", **route) == before["bad"] + 1
    assert metric(client, "nlpops_http_request_duration_seconds_count", status="200", **route) == before["latency"] + 2
    assert metric(client, "nlpops_inference_duration_seconds_count", variant="int8") == before["inference"] + 2
    assert metric(client, "nlpops_predictions_total", label="fresh") == before["fresh"] + 2
    assert metric(client, "nlpops_predictions_total", label="rotten") == before["rotten"] + 1
    assert metric(client, "nlpops_model_info", variant="int8") == 1


def test_unmatched_paths_share_one_metrics_label(client: TestClient) -> None:
    client.get("/random-path-1")
    client.get("/random-path-2")
    text = client.get("/metrics").text
    assert 'route="<unmatched>"' in text
    assert "random-path" not in text


def test_openapi_documents_every_error_response_and_the_limits(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    predict = spec["paths"]["/predict"]["post"]
    assert {"200", "400", "413", "415", "422", "500", "503"} <= set(predict["responses"])
    for status in ("400", "413", "415", "422"):
        schema = predict["responses"][status]["content"]["application/json"]["schema"]
        assert schema["$ref"].endswith("/ErrorBody")
    request = spec["components"]["schemas"]["PredictRequest"]
    assert request["oneOf"] == [{"required": ["text"]}, {"required": ["texts"]}]
    text, texts = request["properties"]["text"], request["properties"]["texts"]
    assert text["type"] == "string" and "default" not in text  # a null is refused, so none is published
    assert (text["maxLength"], texts["items"]["maxLength"], texts["maxItems"]) == (MAX_TEXT_CHARS,) * 2 + (MAX_BATCH,)
    assert text["pattern"] == texts["items"]["pattern"]  # not blank: tested in the next test
    assert "503" in spec["paths"]["/ready"]["get"]["responses"]
    assert client.get("/docs").status_code == 200


@pytest.mark.parametrize(
    "text", ["\u200b", "\ufeff", "\u001f", "\u0085", "\u00a0\u3000", "\u00ad", "a\u200b", "\u00a0x", "\u0301", "é"]
)
def test_the_published_not_blank_pattern_is_what_the_server_enforces(client: TestClient, text: str) -> None:
    """JSON Schema's ECMAScript \\S and Python's str.strip disagree on some characters; the server and the
    schema must not, or a generated client sends texts the server refuses (or the reverse)."""
    spec = client.get("/openapi.json").json()
    pattern = spec["components"]["schemas"]["PredictRequest"]["properties"]["text"]["pattern"]
    accepted = client.post("/predict", json={"text": text}).status_code == 200
    assert accepted == (re.search(pattern, text) is not None)
    assert accepted == any(not (unicodedata.category(c)[0] in "CZ" or c.isspace()) for c in text)


def test_health_and_ready_answer_head_probes(client: TestClient) -> None:
    for path in ("/health", "/ready"):
        response = client.head(path)
        assert response.status_code == 200 and response.content == b""


def test_without_a_loaded_model_ready_and_predict_answer_503(tiny_artifact: Path) -> None:
    app = create_app(Settings(artifact_dir=tiny_artifact))
    client = TestClient(app)  # not entered: the lifespan (model loading) does not run
    assert client.get("/health").status_code == 200
    assert client.get("/ready").status_code == client.head("/ready").status_code == 503
    response = client.post("/predict", json={"text": "a witty film"})
    assert response.status_code == 503
    assert response.json()["error"] == "not_ready"


def test_the_model_is_loaded_once_at_startup_not_per_request(tiny_artifact: Path) -> None:
    app = create_app(Settings(artifact_dir=tiny_artifact))
    with TestClient(app) as client:
        loaded = app.state.model
        assert loaded is not None
        for _ in range(3):
            client.post("/predict", json={"text": "a witty film"})
        assert app.state.model is loaded
        assert metric(client, "nlpops_model_load_seconds") > 0


def test_a_missing_artifact_stops_the_startup_with_a_clear_error(tmp_path: Path) -> None:
    from nlpops.errors import UserError

    with pytest.raises(UserError, match=r"python export\.py"), TestClient(create_app(Settings(artifact_dir=tmp_path))):
        pass


def test_predictions_on_the_event_loop_match_the_thread_pool(tiny_artifact: Path) -> None:
    body = {"texts": ["a brilliant and charming movie", "a dull and tedious movie"]}
    answers = []
    for threads in (0, 2):
        with TestClient(create_app(Settings(artifact_dir=tiny_artifact, inference_threads=threads))) as client:
            answers.append(client.post("/predict", json=body).json()["predictions"])
    assert answers[0] == answers[1]


@pytest.mark.usefixtures("gc_unfrozen_after")
def test_the_lifespan_takes_the_model_the_server_preloaded(tiny_artifact: Path) -> None:
    from nlpops.serving import preload

    settings = Settings(artifact_dir=tiny_artifact)
    preload.start(settings)
    assert not gc.isenabled()  # startup runs without the cyclic GC...
    app = create_app(settings)
    with TestClient(app) as client:
        assert client.get("/ready").status_code == 200
        assert gc.isenabled()  # ...which is back once the lifespan has the model,
        assert gc.get_freeze_count() > 0  # after what startup made was frozen: never scanned again
    assert preload.take(settings) is None  # taken once, by the lifespan


def test_fastapis_openapi_models_build_at_the_first_openapi_json_with_the_same_document(tiny_artifact: Path) -> None:
    started = run_python_json(SERVER_START_THEN_OPENAPI, NLPOPS_ARTIFACT_DIR=str(tiny_artifact))
    built_at_import = create_app(Settings(artifact_dir=tiny_artifact)).openapi()  # plain FastAPI import here
    assert started.pop("document") == built_at_import
    assert started == {
        "predicted": 200,
        "deferred_until_openapi_json": True,  # startup and predictions never built them...
        "built_by_then": True,  # ...GET /openapi.json did
        "own_models_built": True,  # the project's models are built as usual
        "base_config_restored": True,  # defer_build was set only while FastAPI imported
    }


@pytest.mark.usefixtures("gc_unfrozen_after")
def test_a_failed_preload_fails_the_startup(tmp_path: Path) -> None:
    from nlpops.errors import UserError
    from nlpops.serving import preload

    settings = Settings(artifact_dir=tmp_path)
    preload.start(settings)
    with pytest.raises(UserError, match="no model artifact"), TestClient(create_app(settings)):
        pass
    assert gc.isenabled()
