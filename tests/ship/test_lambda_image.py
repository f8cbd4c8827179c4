"""What runs inside the Lambda image, run here: the runtime interface client, the image's handler and settings.

No Docker engine is needed: the artifact is packaged as the image build packages it, into a task root laid
out like /var/task, with the ENV and CMD read from docker/lambda.Dockerfile. Then `python -m awslambdaric
HANDLER` (what the base image's entry point runs) polls a stand-in for the Lambda Runtime API on 127.0.0.1,
which hands it sample events and collects the answers, as Lambda would.
"""

from __future__ import annotations

import base64
import json
import os
import queue
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from nlpops.deploy.package import package_artifact
from nlpops.serving.classification import SERVING
from nlpops.serving.core import OnnxModel
from tests.cli import REPO_ROOT
from tests.ship.dockerfiles import DOCKER, arg_defaults, cmd, context_sources, env
from tests.ship.workflows import cd_step, matrix_tasks

DOCKERFILE = DOCKER / "lambda.Dockerfile"
EVENTS = REPO_ROOT / "events"
API = "/2018-06-01/runtime"
FUNCTION_ARN = "arn:aws:lambda:eu-west-1:123456789012:function:nlpops-test:live"


class RuntimeApi(ThreadingHTTPServer):
    """The Lambda Runtime API (https://docs.aws.amazon.com/lambda/latest/dg/runtimes-api.html), minimal."""

    daemon_threads = True

    def __init__(self, events: list[Any]) -> None:
        super().__init__(("127.0.0.1", 0), _RuntimeHandler)
        self.pending: queue.Queue[tuple[str, Any] | None] = queue.Queue()
        for number, event in enumerate(events):
            self.pending.put((f"request-{number}", event))
        self.expected = len(events)
        self.results: dict[str, tuple[str, Any]] = {}  # request id -> ("response" | "error", body)
        self.init_error: Any = None
        self.finished = threading.Event()

    def record(self, request_id: str | None, kind: str, body: Any) -> None:
        if request_id is None:
            self.init_error = body
        else:
            self.results[request_id] = (kind, body)
        if self.init_error is not None or len(self.results) == self.expected:
            self.finished.set()


class _RuntimeHandler(BaseHTTPRequestHandler):
    server: RuntimeApi

    def do_GET(self) -> None:
        if self.path != f"{API}/invocation/next":
            self.send_error(404)
            return
        item = self.server.pending.get()  # long poll, like Lambda: blocks until there is an event
        if item is None:  # the test is over and the function stopped: nobody to answer
            return
        request_id, event = item
        body = json.dumps(event).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")  # awslambdaric 4.x crashes without it
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Lambda-Runtime-Aws-Request-Id", request_id)
        self.send_header("Lambda-Runtime-Deadline-Ms", str(int(time.time() * 1000) + 30_000))
        self.send_header("Lambda-Runtime-Invoked-Function-Arn", FUNCTION_ARN)
        self.send_header("Lambda-Runtime-Trace-Id", "Root=1-00000000-000000000000000000000000;Sampled=0")
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"null")
        parts = self.path.removeprefix(API).strip("/").split("/")
        if parts == ["init", "error"]:
            self.server.record(None, "error", body)
        elif len(parts) == 3 and parts[0] == "invocation" and parts[2] in ("response", "error"):
            self.server.record(parts[1], parts[2], body)
        else:
            self.send_error(404)
            return
        self.send_response(202)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


def make_task_root(artifact: Path, root: Path) -> Path:
    """/var/task of the image: the artifact packaged by the build step, for the Dockerfile's default variant."""
    package_artifact(artifact, root / "model", arg_defaults(DOCKERFILE)["NLPOPS_VARIANT"])
    return root


def run_function(task_root: Path, events: list[Any], log: Path) -> RuntimeApi:
    """Run the image's command under awslambdaric against a local Runtime API until every event is answered."""
    image_env = env(DOCKERFILE, {"LAMBDA_TASK_ROOT": str(task_root), **arg_defaults(DOCKERFILE)})
    handler = cmd(DOCKERFILE)[0]
    api = RuntimeApi(events)
    serving = threading.Thread(target=api.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    serving.start()
    process_env = {name: value for name, value in os.environ.items() if not name.startswith("NLPOPS_")}
    process_env |= image_env | {
        "AWS_LAMBDA_RUNTIME_API": f"127.0.0.1:{api.server_address[1]}",
        "LAMBDA_TASK_ROOT": str(task_root),
        "AWS_LAMBDA_FUNCTION_NAME": "nlpops-test",
    }
    with log.open("w") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "awslambdaric", handler],
            cwd=task_root,
            env=process_env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
        try:
            deadline = time.monotonic() + 120
            while not api.finished.wait(0.1):
                if process.poll() is not None or time.monotonic() > deadline:
                    break
        finally:
            process.terminate()
            process.wait(timeout=30)
            api.pending.put(None)  # releases a /next still waiting
            api.shutdown()
            api.server_close()
    assert api.finished.is_set(), f"the function did not answer every event:\n{log.read_text()}"
    return api


@pytest.fixture(scope="module")
def task_root(tiny_artifact: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_task_root(tiny_artifact, tmp_path_factory.mktemp("lambda") / "task")


@pytest.fixture(scope="module")
def answers(task_root: Path) -> dict[str, tuple[str, Any]]:
    """The function's answer to each sample event, by event file."""
    names = ["function-url.json", "direct-invoke.json", "http-api-v2-blank-text.json"]
    events = [json.loads((EVENTS / name).read_text()) for name in names]
    api = run_function(task_root, events, task_root.parent / "function.log")
    assert api.init_error is None, api.init_error
    return {name: api.results[f"request-{number}"] for number, name in enumerate(names)}


def predicted_labels(task_root: Path, texts: list[str]) -> list[str]:
    """What the inference core itself says for these texts, on the packaged model."""
    variant = arg_defaults(DOCKERFILE)["NLPOPS_VARIANT"]
    return [prediction.label for prediction in SERVING.predict(OnnxModel.load(task_root / "model", variant), texts)]


def test_the_image_command_answers_function_url_events(answers: dict[str, tuple[str, Any]], task_root: Path) -> None:
    kind, response = answers["function-url.json"]
    assert kind == "response" and response["statusCode"] == 200, response
    body = json.loads(response["body"])
    texts = json.loads(base64.b64decode(json.loads((EVENTS / "function-url.json").read_text())["body"]))["texts"]
    assert [prediction["label"] for prediction in body["predictions"]] == predicted_labels(task_root, texts), body
    assert body["model"]["variant"] == arg_defaults(DOCKERFILE)["NLPOPS_VARIANT"]


def test_the_image_command_answers_direct_invokes(answers: dict[str, tuple[str, Any]], task_root: Path) -> None:
    kind, response = answers["direct-invoke.json"]
    assert kind == "response", response
    text = json.loads((EVENTS / "direct-invoke.json").read_text())["text"]
    assert set(response) == {"predictions", "model"}
    assert [prediction["label"] for prediction in response["predictions"]] == predicted_labels(task_root, [text])


def test_bad_input_is_a_422_answer_not_a_function_error(answers: dict[str, tuple[str, Any]]) -> None:
    kind, response = answers["http-api-v2-blank-text.json"]
    assert kind == "response" and response["statusCode"] == 422, response


def test_a_missing_model_is_reported_as_an_init_error(tiny_artifact: Path, tmp_path: Path) -> None:
    task_root = make_task_root(tiny_artifact, tmp_path / "task")
    (task_root / "model" / "manifest.json").unlink()
    api = run_function(task_root, [{"text": "never read"}], tmp_path / "function.log")
    assert api.init_error["errorType"] == "UserError"
    assert "no model artifact at" in api.init_error["errorMessage"]


def test_the_artifact_is_a_build_arg_that_defaults_to_text_classification() -> None:
    """One Dockerfile for every task's image: CD passes each task's artifact, a plain build stays as it was."""
    artifacts = {entry["task"]: entry["artifact"] for entry in matrix_tasks("image")}
    assert arg_defaults(DOCKERFILE)["NLPOPS_ARTIFACT"] == artifacts["classification"] == "models/text-classifier-onnx"
    assert f"{artifacts['classification']}/" in context_sources(DOCKERFILE)  # what COPY takes, at the default
    name, _ = cd_step("image", "docker/build-push-action")["with"]["build-args"].split("=", 1)
    assert name in arg_defaults(DOCKERFILE)  # a build arg the Dockerfile does not declare would be ignored


def test_the_image_built_with_the_ner_artifact_answers_ner(tiny_ner_artifact: Path, tmp_path: Path) -> None:
    """The same command, handler and settings serve whichever artifact the build arg put in the image."""
    text = "maria lopez visited lisbon"
    api = run_function(make_task_root(tiny_ner_artifact, tmp_path / "task"), [{"text": text}], tmp_path / "log")
    kind, response = api.results["request-0"]
    assert kind == "response" and set(response) == {"predictions", "model"}, response
    [prediction] = response["predictions"]
    assert prediction["entities"], response
    assert all(text[entity["start"] : entity["end"]] == entity["text"] for entity in prediction["entities"])
