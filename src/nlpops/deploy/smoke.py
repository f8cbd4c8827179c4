"""Smoke-test a deployed API with real requests: a release is kept only if the answers are right.

Right means: ``GET /ready`` says the model is loaded, and the task's own check passes (``smoke_check`` of its
serving module: for classification, a clearly positive and a clearly negative review get two different labels).
That fails for a crashed init, a wrong response shape, or a broken or constant model. Connection errors, 429 and
5xx answers are retried until the deadline (the first request to a new Lambda version is a cold start); a wrong
answer fails at once. After a release, ``/ready`` must also report the model the release set (``expected``: its
``model_name``, ``model_stage`` and, for a promotion, ``model_version``). Another identity is retried until the
deadline, as the previous version may answer for a moment after the alias moved; then it fails the release.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from nlpops import tasks
from nlpops.serving.task import SmokeTestFailed, serving_for

REQUEST_TIMEOUT_S = 30.0  # one request; a container image's cold start can take several seconds

__all__ = ["SmokeResult", "SmokeTestFailed", "smoke_test"]


class _Transient(Exception):
    """An answer worth retrying: no connection yet, throttled, or a server error."""


@dataclass(frozen=True)
class SmokeResult:
    summary: str  # what the task's check saw, e.g. "labels positive / negative"
    model: dict[str, str]  # variant and version, as the API reports them
    attempts: int


def smoke_test(
    url: str,
    timeout: float = 120.0,
    interval: float = 2.0,
    task: str = tasks.CLASSIFICATION,
    expected: Mapping[str, str] | None = None,
) -> SmokeResult:
    """Check the ``task`` API at ``url`` (its base, e.g. a Function URL) until it answers or ``timeout`` s pass.

    ``expected``: fields ``GET /ready`` must report with these values, e.g. ``{"model_name": "ner"}``.
    """
    base = url.rstrip("/")
    deadline = time.monotonic() + timeout
    attempts = 0
    while True:
        attempts += 1
        try:
            return _check(base, task, attempts, expected or {})
        except _Transient as err:
            if time.monotonic() + interval > deadline:
                raise SmokeTestFailed(f"no good answer from {base} in {timeout:g} s: {err}") from None
            time.sleep(interval)


def _check(base: str, task: str, attempts: int, expected: Mapping[str, str]) -> SmokeResult:
    ready = _request(f"{base}/ready")
    if ready.get("status") != "ready":
        raise SmokeTestFailed(f"GET /ready answered {ready}, expected the ready status and the model's labels")
    summary = serving_for(task).smoke_check(base, _request, ready)
    reported = {field: ready.get(field) for field in expected}
    if reported != expected:
        raise _Transient(f"GET /ready reports the model {reported}, expected {dict(expected)}")
    return SmokeResult(summary=summary, model=ready.get("model", {}), attempts=attempts)


def _request(url: str, payload: Any = None) -> dict[str, Any]:
    """GET (or POST ``payload`` as JSON) and return the JSON body of a 200 answer."""
    data = None if payload is None else json.dumps(payload).encode()
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"} if data else {})
    try:
        with urllib.request.urlopen(request, timeout=REQUEST_TIMEOUT_S) as response:
            body = response.read()
    except urllib.error.HTTPError as err:
        detail = f"{err.code} from {url}: {err.read()[:300].decode(errors='replace')}"
        if err.code == 429 or err.code >= 500:
            raise _Transient(detail) from None
        raise SmokeTestFailed(detail) from None
    except (urllib.error.URLError, OSError) as err:  # refused, reset, DNS not yet propagated, timed out
        raise _Transient(f"{url}: {getattr(err, 'reason', err)}") from None
    try:
        answer = json.loads(body)
    except ValueError:
        answer = None
    if not isinstance(answer, dict):
        raise SmokeTestFailed(f"{url} answered 200 with a body that is not a JSON object: {body[:300]!r}")
    return answer
