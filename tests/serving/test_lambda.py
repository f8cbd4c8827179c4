"""The Lambda handler with the sample events in events/: REST v1, HTTP API v2, Function URL, direct invoke."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nlpops.serving.lambda_adapter import Handler, build_handler
from nlpops.serving.lambda_invoke import main as invoke_main
from nlpops.serving.settings import Settings
from tests.cli import run_python_json

EVENTS = Path(__file__).resolve().parents[2] / "events"

LAMBDA_INIT = """
import gc, json, sys
from nlpops.serving import preload

began_with_fastapi_imported = []
start = preload.start

def recording_start(settings):
    began_with_fastapi_imported.append("fastapi" in sys.modules)
    start(settings)

preload.start = recording_start
from nlpops.serving import lambda_handler  # Lambda's init phase
answer = lambda_handler.handler({"text": "a witty film"}, None)
print(json.dumps({
    "began_with_fastapi_imported": began_with_fastapi_imported,
    "preload_left": preload.take(lambda_handler.settings) is not None,
    "gc_enabled": gc.isenabled(),
    "label": answer["predictions"][0]["label"],
}))
"""


def event(name: str) -> dict[str, Any]:
    return json.loads((EVENTS / name).read_text())


@pytest.fixture(scope="module")
def handler(tiny_artifact: Path) -> Handler:
    return build_handler(Settings(artifact_dir=tiny_artifact, max_batch=4))


def test_the_lambda_init_loads_the_model_while_fastapi_imports(tiny_artifact: Path) -> None:
    assert run_python_json(LAMBDA_INIT, NLPOPS_ARTIFACT_DIR=str(tiny_artifact)) == {
        "began_with_fastapi_imported": [False],  # preloading began before FastAPI and Mangum were imported
        "preload_left": False,  # and the handler took its model: nothing was loaded twice
        "gc_enabled": True,  # the GC paused during init is back
        "label": "fresh",
    }


@pytest.mark.parametrize(
    ("name", "texts"),
    [
        ("api-gateway-rest-v1.json", 1),
        ("http-api-v2.json", 1),
        ("function-url.json", 2),  # base64 body with a batch of two
    ],
)
def test_http_events_get_an_http_response_with_predictions(handler: Handler, name: str, texts: int) -> None:
    response = handler(event(name), None)
    assert response["statusCode"] == 200
    assert response["headers"]["content-type"] == "application/json"
    body = json.loads(response["body"])
    assert len(body["predictions"]) == texts
    assert {"label", "score", "scores"} <= set(body["predictions"][0])


def test_a_direct_invoke_gets_the_body_back(handler: Handler) -> None:
    response = handler(event("direct-invoke.json"), None)
    assert set(response) == {"predictions", "model"}
    assert handler({"texts": ["a brilliant movie", "a dull movie"]}, None)["predictions"][1]["label"] == "rotten"


def test_a_bad_direct_invoke_gets_the_status_and_the_error_body(handler: Handler) -> None:
    response = handler({"text": 3}, None)
    assert response["statusCode"] == 422
    assert response["error"] == "invalid_request"
    assert handler({"texts": ["a"] * 5}, None)["statusCode"] == 422


@pytest.mark.parametrize("context", [None, "ctx", ["a"], 3])
def test_an_event_whose_request_context_is_no_object_is_a_direct_invoke(handler: Handler, context: Any) -> None:
    response = handler({"requestContext": context, "text": "good"}, None)
    assert response["statusCode"] == 422  # what /predict answers that body, not a 400 invalid_event
    assert response["error"] == "invalid_request"
    assert [detail["field"] for detail in response["details"]] == ["requestContext"]


def test_bad_input_through_api_gateway_is_a_422_with_the_error_body(handler: Handler) -> None:
    response = handler(event("http-api-v2-blank-text.json"), None)
    assert response["statusCode"] == 422
    assert "whitespace" in json.loads(response["body"])["message"]
    v1 = event("api-gateway-rest-v1.json") | {"body": "{not json"}
    assert handler(v1, None)["statusCode"] == 400


def without(sample: dict[str, Any], *path: str) -> dict[str, Any]:
    """``sample`` (a fresh copy from ``event``) less the key at ``path``, e.g. ``"requestContext", "http"``."""
    *parents, key = path
    inner = sample
    for parent in parents:
        inner = inner[parent]
    del inner[key]
    return sample


MALFORMED_EVENTS = [
    pytest.param({"requestContext": {}}, "none of the fields that tell those events apart", id="no-http-fields"),
    pytest.param({"requestContext": {"http": {}}, "text": "good"}, "resource (REST API v1)", id="no-version"),
    pytest.param(without(event("http-api-v2.json"), "requestContext", "http"), "KeyError", id="v2-without-http"),
    pytest.param(without(event("api-gateway-rest-v1.json"), "httpMethod"), "KeyError", id="v1-without-method"),
    pytest.param(event("api-gateway-rest-v1.json") | {"httpMethod": ["POST"]}, "must be strings", id="method-a-list"),
    pytest.param(event("api-gateway-rest-v1.json") | {"headers": "json"}, "AttributeError", id="headers-a-string"),
]


@pytest.mark.parametrize(("malformed", "hint"), MALFORMED_EVENTS)
def test_a_malformed_http_event_is_a_400_that_says_what_to_send(
    handler: Handler, malformed: dict[str, Any], hint: str
) -> None:
    response = handler(malformed, None)
    assert response["statusCode"] == 400
    error = json.loads(response["body"])
    assert error["error"] == "invalid_event"
    assert hint in error["message"] and "events/" in error["message"]
    assert "testing locally" not in error["message"]  # Mangum's advice to its own developers, not to our callers
    assert handler(event("http-api-v2.json"), None)["statusCode"] == 200  # and the handler keeps serving


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=6,
)
HTTP_KEYS = ["body", "headers", "httpMethod", "path", "rawPath", "isBase64Encoded", "version", "queryStringParameters"]
# hand-written invokes: any JSON, HTTP-looking events with odd fields, and the samples with fields replaced
ANY_EVENT = (
    JSON
    | st.fixed_dictionaries({"requestContext": JSON}, optional=dict.fromkeys(HTTP_KEYS, JSON))
    | st.builds(
        lambda name, changes: event(name) | changes,
        st.sampled_from(["api-gateway-rest-v1.json", "http-api-v2.json"]),
        st.dictionaries(st.sampled_from(HTTP_KEYS), JSON, max_size=2),
    )
)


@settings(max_examples=300, derandomize=True, deadline=None, suppress_health_check=list(HealthCheck))
@given(invocation=ANY_EVENT)
def test_no_event_crashes_the_handler_or_gets_a_5xx(handler: Handler, invocation: Any) -> None:
    response = handler(invocation, None)
    assert isinstance(response, dict)
    assert response.get("statusCode", 200) < 500


def test_health_and_ready_answer_through_api_gateway(handler: Handler) -> None:
    get_health = {"httpMethod": "GET", "path": "/health", "resource": "/health", "body": None}
    v1 = event("api-gateway-rest-v1.json") | get_health
    assert json.loads(handler(v1, None)["body"]) == {"status": "ok"}
    v2 = event("http-api-v2.json")
    v2["requestContext"]["http"] |= {"method": "GET", "path": "/ready"}
    assert json.loads(handler(v2 | {"body": None}, None)["body"])["status"] == "ready"


def test_a_stage_prefix_is_stripped_when_configured(tiny_artifact: Path) -> None:
    handler = build_handler(Settings(artifact_dir=tiny_artifact, api_base_path="/prod"))
    v2 = event("http-api-v2.json")
    v2["requestContext"]["http"]["path"] = "/prod/predict"
    v2["body"] = base64.b64encode(b'{"text": "a witty film"}').decode()
    v2["isBase64Encoded"] = True
    assert handler(v2, None)["statusCode"] == 200


@pytest.mark.usefixtures("gc_unfrozen_after")  # importing the handler preloads, as the server does
def test_the_local_invoke_script_runs_every_sample_event(
    tiny_artifact: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("NLPOPS_ARTIFACT_DIR", str(tiny_artifact))
    assert invoke_main([str(path) for path in sorted(EVENTS.glob("*.json"))]) == 0
    err = capsys.readouterr().err
    assert "init (import + model load)" in err
    assert err.count(": 200 in") == 4 and err.count(": 422 in") == 1
