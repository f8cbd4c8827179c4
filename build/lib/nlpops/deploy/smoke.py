"""Smoke-test a deployed API with real requests: a release is kept only if the answers are right.

Right means: ``GET /ready`` says the model is loaded, and ``POST /predict`` puts a clearly positive and a
clearly negative review into two different labels of that model, each with probabilities summing to 1.
That holds for any sentiment model the template trains, whatever its label names, and fails for a crashed
init, a wrong response shape, or a broken or constant model. Connection errors, 429 and 5xx answers are
retried until the deadline (the first request to a new Lambda version is a cold start); a wrong answer
fails at once.
"""

from __future__ import annotations

import json
import math
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any

TEXTS = ("A gorgeous, witty and moving film.", "Dull, tedious and lifeless.")
REQUEST_TIMEOUT_S = 30.0  # one request; a container image's cold start can take several seconds


class SmokeTestFailed(Exception):
    """The endpoint answered wrongly, or not at all before the deadline."""


class _Transient(Exception):
    """An answer worth retrying: no connection yet, throttled, or a server error."""


@dataclass(frozen=True)
class SmokeResult:
    labels: list[str]  # the label of each of TEXTS
    model: dict[str, str]  # variant and version, as the API reports them
    attempts: int


def smoke_test(url: str, timeout: float = 120.0, interval: float = 2.0) -> SmokeResult:
    """Check the API at ``url`` (its base, e.g. a Function URL) until it answers or ``timeout`` seconds pass."""
    base = url.rstrip("/")
    deadline = time.monotonic() + timeout
    attempts = 0
    while True:
        attempts += 1
        try:
            return _check(base, attempts)
        except _Transient as err:
            if time.monotonic() + interval > deadline:
                raise SmokeTestFailed(f"no good answer from {base} in {timeout:g} s: {err}") from None
            time.sleep(interval)


def _check(base: str, attempts: int) -> SmokeResult:
    ready = _request(f"{base}/ready")
    if ready.get("status") != "ready" or not isinstance(ready.get("labels"), list):
        raise SmokeTestFailed(f"GET /ready answered {ready}, expected the ready status and the model's labels")
    answer = _request(f"{base}/predict", {"texts": list(TEXTS)})
    predictions = answer.get("predictions")
    if not (isinstance(predictions, list) and len(predictions) == len(TEXTS) and all(map(_is_prediction, predictions))):
        raise SmokeTestFailed(f"POST /predict answered {answer}, expected {len(TEXTS)} predictions with scores")
    labels = [prediction["label"] for prediction in predictions]
    for text, prediction in zip(TEXTS, predictions, strict=True):
        if prediction["label"] not in ready["labels"]:
            raise SmokeTestFailed(f"{text!r} got label {prediction['label']!r}, not one of {ready['labels']}")
        if not math.isclose(sum(prediction["scores"].values()), 1.0, abs_tol=1e-3):
            raise SmokeTestFailed(f"{text!r} got scores {prediction['scores']} that do not sum to 1")
    if labels[0] == labels[1]:
        raise SmokeTestFailed(f"a positive and a negative review both got label {labels[0]!r}: the model is wrong")
    return SmokeResult(labels=labels, model=answer.get("model", {}), attempts=attempts)


def _is_prediction(item: Any) -> bool:
    """``{"label": str, "scores": {label: number}}``, as the API's PredictResponse documents."""
    if not (isinstance(item, dict) and isinstance(item.get("label"), str) and isinstance(item.get("scores"), dict)):
        return False
    return all(isinstance(score, int | float) for score in item["scores"].values())


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
