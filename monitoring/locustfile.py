"""Stress test for the API with Locust: mostly single-text predictions, some batches, health checks.

    locust -f monitoring/locustfile.py --host http://127.0.0.1:8000                 # web UI on :8089
    locust -f monitoring/locustfile.py --host http://127.0.0.1:8000 --headless -u 16 -r 4 -t 60s

Set ``NLPOPS_LOCUST_TEXTS`` to a file with one text per line to send your own traffic instead of the
built-in sample (the review dataset is fetched, not committed, so it is not used here). Every answer must
be a 200 with one prediction per text, or the request counts as a failure.
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


def load_texts() -> list[str]:
    path = os.environ.get("NLPOPS_LOCUST_TEXTS")
    if not path:
        return SAMPLE
    texts = [line.strip() for line in Path(path).read_text(encoding="utf-8").splitlines() if line.strip()]
    if not texts:
        raise SystemExit(f"{path} has no texts")
    return texts


TEXTS = load_texts()


class ApiUser(FastHttpUser):
    """One client: sends a request, waits a little, repeats (16 users ≈ 16 concurrent connections)."""

    wait_time = between(0.0, 0.05)

    def _predict(self, payload: dict, expected: int) -> None:
        with self.client.post("/predict", json=payload, name="/predict", catch_response=True) as response:
            if response.status_code != 200:
                response.failure(f"status {response.status_code}: {response.text[:200]}")
            elif len(response.json().get("predictions", [])) != expected:
                response.failure("wrong number of predictions")

    @task(20)
    def predict_one(self) -> None:
        self._predict({"text": random.choice(TEXTS)}, 1)

    @task(2)
    def predict_batch(self) -> None:
        batch = random.sample(TEXTS, k=min(8, len(TEXTS)))
        self._predict({"texts": batch}, len(batch))

    @task(1)
    def health(self) -> None:
        self.client.get("/ready", name="/ready")
