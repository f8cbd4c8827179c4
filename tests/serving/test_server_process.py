"""The real server process: uvicorn on 127.0.0.1, started and stopped by the test; and no torch anywhere in serving."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import fields
from pathlib import Path

import pytest

from nlpops.serving.settings import Settings
from tests.cli import run_python_json
from tests.local_servers import free_port, request

REPO_ROOT = Path(__file__).resolve().parents[2]

HEAVY = ("torch", "lightning", "hydra", "transformers")

IMPORT_EVERYTHING_SERVING_USES = """
import json, sys
from nlpops.serving.app import create_app
from nlpops.serving.settings import Settings
from nlpops.serving import lambda_handler, predict, lambda_invoke
from fastapi.testclient import TestClient
with TestClient(create_app(Settings.from_env())) as client:
    assert client.post("/predict", json={"text": "a witty film"}).status_code == 200
    client.get("/metrics")
lambda_handler.handler({"text": "a witty film"}, None)
print(json.dumps(sorted({name.split(".")[0] for name in sys.modules})))
"""


@contextmanager
def running_server(artifact: Path, **settings: str) -> Iterator[tuple[str, subprocess.Popen]]:
    """``python -m nlpops.serving`` on a free port, until it answers /ready; terminated on exit."""
    port = free_port()
    env = os.environ | {"NLPOPS_ARTIFACT_DIR": str(artifact), "NLPOPS_PORT": str(port)} | settings
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    process = subprocess.Popen(
        [sys.executable, "-m", "nlpops.serving"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if process.poll() is not None:
                pytest.fail(f"the server exited: {process.stdout.read() if process.stdout else ''}")
            try:
                if request(f"{url}/ready")[0] == 200:
                    break
            except (urllib.error.URLError, ConnectionError):
                time.sleep(0.1)
        else:
            pytest.fail("the server did not become ready in 60 s")
        yield url, process
    finally:
        process.terminate()
        process.wait(timeout=30)


@pytest.fixture(scope="module")
def server(tiny_artifact: Path) -> Iterator[tuple[str, subprocess.Popen]]:
    with running_server(tiny_artifact) as running:
        yield running


def test_the_server_answers_predictions_and_bad_input_over_http(server: tuple[str, subprocess.Popen]) -> None:
    url, process = server
    status, body = request(f"{url}/predict", b'{"text": "a brilliant and charming movie"}')
    assert status == 200
    assert body["predictions"][0]["label"] == "fresh"
    assert request(f"{url}/predict", b'{"text": ')[0] == 400
    assert request(f"{url}/predict", b'{"text": "a film"}', content_type="text/plain")[0] == 415
    assert request(f"{url}/predict", b'{"texts": [1, 2]}')[0] == 422
    assert request(f"{url}/predict", b'{"text": "still serving"}')[0] == 200
    assert process.poll() is None


@pytest.mark.skipif(not Path("/proc/self/maps").exists(), reason="reads /proc/PID/maps (Linux)")
def test_the_server_process_runs_uvloop_and_httptools_and_has_no_torch_loaded(
    server: tuple[str, subprocess.Popen],
) -> None:
    url, process = server
    assert request(f"{url}/predict", b'{"text": "a witty film"}')[0] == 200
    maps = Path(f"/proc/{process.pid}/maps").read_text()
    assert "onnxruntime" in maps  # the check can see native libraries at all
    assert "/uvloop/" in maps and "/httptools/" in maps  # uvicorn picks them when installed: the measured speed
    assert "libtorch" not in maps


def test_serving_modules_never_import_torch_lightning_hydra_or_transformers(tiny_artifact: Path) -> None:
    loaded = set(run_python_json(IMPORT_EVERYTHING_SERVING_USES, NLPOPS_ARTIFACT_DIR=str(tiny_artifact)))
    assert "onnxruntime" in loaded and "fastapi" in loaded
    assert not loaded & set(HEAVY), f"serving imported {loaded & set(HEAVY)}"


def test_the_server_refuses_to_start_without_an_artifact(tmp_path: Path) -> None:
    env = os.environ | {"NLPOPS_ARTIFACT_DIR": str(tmp_path), "NLPOPS_PORT": str(free_port())}
    result = subprocess.run(
        [sys.executable, "-m", "nlpops.serving"], env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode != 0
    assert "python export.py" in result.stderr


def test_help_lists_every_setting_with_its_default_and_starts_nothing() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "nlpops.serving", "--help"], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("usage: nlpops-serve")
    for field in fields(Settings):
        default = "" if field.default is None else field.default  # an optional setting: unset by default
        assert f"nlpops_{field.name}={default}".lower() in result.stdout.lower()
    assert "NLPOPS_VERIFY_CHECKSUMS=true " in result.stdout


def test_arguments_are_refused_with_the_variable_to_set_instead() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "nlpops.serving", "--port", "8080"], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2
    assert "takes no arguments (got --port 8080)" in result.stderr
    assert "NLPOPS_PORT=8080 nlpops-serve" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("workers", ["1", "2"])
@pytest.mark.parametrize(
    ("verify_checksums", "error"), [("true", "{weights} has sha256 "), ("false", "ONNX Runtime cannot load {graph}: ")]
)
def test_a_corrupt_model_file_stops_the_start_with_one_clear_line_and_exit_2(
    tiny_artifact: Path, tmp_path: Path, workers: str, verify_checksums: str, error: str
) -> None:
    """Not a traceback from the app's startup (and, with workers, not uvicorn's parent exiting 0 after them),
    whether the checksums catch it or, unchecked, only ONNX Runtime does."""
    copy = Path(shutil.copytree(tiny_artifact, tmp_path / "artifact"))
    graph, weights = copy / "model.int8.onnx", copy / "model.int8.onnx.data"
    weights.write_bytes(weights.read_bytes()[:-100])
    settings = {"NLPOPS_WORKERS": workers, "NLPOPS_VERIFY_CHECKSUMS": verify_checksums}
    env = os.environ | {"NLPOPS_ARTIFACT_DIR": str(copy), "NLPOPS_PORT": str(free_port())} | settings
    result = subprocess.run(
        [sys.executable, "-m", "nlpops.serving"], env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2
    assert result.stderr.startswith("error: " + error.format(weights=weights, graph=graph))
    assert "Traceback" not in result.stderr + result.stdout


def test_with_two_workers_metrics_count_every_worker(tiny_artifact: Path) -> None:
    with running_server(tiny_artifact, NLPOPS_WORKERS="2") as (url, process):
        for _ in range(20):
            assert request(f"{url}/predict", b'{"text": "a witty film"}')[0] == 200
        for _ in range(4):  # whichever worker answers /metrics reports the sum over both
            with urllib.request.urlopen(f"{url}/metrics", timeout=10) as response:
                text = response.read().decode()
            line = 'nlpops_http_requests_total{method="POST",route="/predict",status="200"}'
            [sample] = [row for row in text.splitlines() if row.startswith(line)]
            assert float(sample.split()[-1]) == 20
    log = process.stdout.read() if process.stdout else ""
    assert len(re.findall(rf"INFO: +Loaded {re.escape(str(tiny_artifact))} \(int8\) in \d\.\d{{3}} s", log)) == 2
