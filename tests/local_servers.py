"""Real servers on 127.0.0.1 for the tests, each stopped by the test (or fixture) that started it.

``json_server`` answers with a function of the request (a stand-in for a broken or flaky deployment);
``api_server`` runs the real FastAPI app under uvicorn (a healthy deployment); ``moto_server`` runs
moto's AWS APIs (S3, IAM, ECR, Lambda control planes) in a subprocess.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import uvicorn

from nlpops.serving.app import create_app
from nlpops.serving.settings import Settings

Answer = Callable[[str, str, Any], tuple[int, Any]]  # (method, path, JSON body or None) -> (status, JSON body)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def request(url: str, body: bytes | None = None, content_type: str = "application/json") -> tuple[int, dict]:
    """GET ``url`` (POST ``body`` if given); the status and the JSON answer, error statuses included."""
    headers = {"Content-Type": content_type} if body is not None else {}
    try:
        with urllib.request.urlopen(urllib.request.Request(url, data=body, headers=headers), timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


class _JsonHandler(BaseHTTPRequestHandler):
    server: _JsonServer

    def do_GET(self) -> None:
        self._answer(None)

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", 0))
        self._answer(json.loads(self.rfile.read(length)) if length else None)

    def _answer(self, body: Any) -> None:
        status, answer = self.server.answer(self.command, self.path, body)
        data = json.dumps(answer).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:  # keep test output clean
        pass


class _JsonServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, answer: Answer) -> None:
        super().__init__(("127.0.0.1", 0), _JsonHandler)
        self.answer = answer


@contextmanager
def json_server(answer: Answer) -> Iterator[str]:
    """Serve ``answer`` on a free port of 127.0.0.1; yield the base URL."""
    server = _JsonServer(answer)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


@contextmanager
def api_server(artifact: Path, **settings: Any) -> Iterator[str]:
    """The real API (lifespan, middleware, inference core) serving ``artifact``; yield the base URL.

    ``settings``: other ``Settings`` than the defaults, e.g. ``queue_timeout=0.2``.
    """
    port = free_port()
    app = create_app(Settings(artifact_dir=artifact, **settings))
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        while not server.started:
            if not thread.is_alive():
                raise RuntimeError("the API server did not start")
            thread.join(timeout=0.05)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@contextmanager
def moto_server(**env: str) -> Iterator[str]:
    """``moto_server`` on a free port of 127.0.0.1 (``env``: its settings, e.g. auth); yield the endpoint URL."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"moto_server exited: {process.stderr.read() if process.stderr else ''}")
            try:
                urllib.request.urlopen(f"{url}/moto-api/", timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise TimeoutError("moto_server did not answer in 60 s") from None
                time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)
