"""Stress test for the API with Locust: mostly single-text predictions, some batches, health checks.

    .venv/bin/locust -f monitoring/locustfile.py --host http://127.0.0.1:8000                 # web UI on :8089
    .venv/bin/locust -f monitoring/locustfile.py --host http://127.0.0.1:8000 --headless -u 16 -r 4 -t 60s

Set ``NLPOPS_LOCUST_TEXTS`` to a file with one text per line to send your own traffic instead of the
built-in sample (the review dataset is fetched, not committed, so it is not used here); lines over the
server's default limit of 2,000 characters are refused up front. Every answer must be a 200 with one
prediction per text, or the request counts as a failure. Single texts and batches of 8 are reported apart
(``/predict`` and ``/predict [8 texts]``): their latencies differ several times over.
"""

from __future__ import annotations

import os
import random
from pathlib import Path

from locust import FastHttpUser, between, task

SAMPLE = [
    "A gorgeous, witty film that never talks down to its audience.",
    "Dull and tedious, a mess of a movie with nothing to say.",
    "The cast is charming, but the plot falls apart in the last act.",
    "One of the most moving stories of the year, told with real tenderness.",
    "Bland, forgettable and far too long.",
    "Sharp writing and a brilliant lead performance carry it through.",
    "A lifeless remake that adds nothing to the original.",
    "Delightful from the first scene to the last.",
    "It tries hard to be clever and mostly ends up confused.",
    "Quietly devastating, and beautifully shot.",
]


BATCH = 8
MAX_TEXT_CHARS = 2000  # the server's default NLPOPS_MAX_TEXT_CHARS


def load_texts() -> list[str]:
    """The texts to send: ``NLPOPS_LOCUST_TEXTS``'s non-blank lines, else ``SAMPLE``; a bad file stops Locust."""
    path = os.environ.get("NLPOPS_LOCUST_TEXTS")
    if not path:
        return SAMPLE
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as err:
        raise SystemExit(f"error: NLPOPS_LOCUST_TEXTS={path}: {getattr(err, 'strerror', None) or err}") from None
    texts = [line.strip() for line in lines if line.strip()]
    if not texts:
        raise SystemExit(f"error: NLPOPS_LOCUST_TEXTS={path} has no texts")
    too_long = [number for number, line in enumerate(lines, 1) if len(line.strip()) > MAX_TEXT_CHARS]
    if too_long:
        raise SystemExit(
            f"error: NLPOPS_LOCUST_TEXTS={path}: {len(too_long)} line(s) over {MAX_TEXT_CHARS} characters, which "
            f"the server refuses (the first: line {too_long[0]}); shorten or drop them"
        )
    return texts


TEXTS = load_texts()


class ApiUser(FastHttpUser):
    """One client: sends a request, waits a little, repeats (16 users ≈ 16 concurrent connections)."""

    wait_time = between(0.0, 0.05)

    def _predict(self, payload: dict, expected: int, name: str) -> None:
        with self.client.post("/predict", json=payload, name=name, catch_response=True) as response:
            if response.status_code != 200:
                response.failure(f"status {response.status_code}: {response.text[:200]}")
            elif len(response.json().get("predictions", [])) != expected:
                response.failure("wrong number of predictions")

    @task(20)
    def predict_one(self) -> None:
        self._predict({"text": random.choice(TEXTS)}, 1, name="/predict")

    @task(2)
    def predict_batch(self) -> None:
        batch = random.sample(TEXTS, k=min(BATCH, len(TEXTS)))
        self._predict({"texts": batch}, len(batch), name=f"/predict [{len(batch)} texts]")

    @task(1)
    def health(self) -> None:
        self.client.get("/ready", name="/ready")
