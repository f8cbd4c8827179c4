"""Stress test for the API with Locust: mostly single-text predictions, some batches, health checks.

    .venv/bin/locust -f monitoring/locustfile.py --host http://127.0.0.1:8000                 # web UI on :8089
    .venv/bin/locust -f monitoring/locustfile.py --host http://127.0.0.1:8000 --headless -u 16 -r 4 -t 60s

It runs against a server of any task: each user first reads the server's ``/openapi.json`` and posts to the
route it publishes, ``/ner`` for a token-classification artifact, ``/generate`` for a text-generation one (a
prompt and up to ``NLPOPS_LOCUST_NEW_TOKENS`` new tokens, default 32, sampled), else ``/predict``, so the same
command load-tests whichever model is deployed. Set ``NLPOPS_LOCUST_TEXTS`` to a file with one text per line to send
your own traffic instead of the built-in sample of that task (reviews for ``/predict``, tweet-like sentences
with people, places and companies for ``/ner``; the datasets are fetched, not committed, so they are not used
here); lines over the server's default limit of 2,000 characters are refused up front. Every answer must be a
200 with one prediction per text (for ``/ner``, entities whose offsets point at their text), or the request
counts as a failure. Single texts and batches of 8 are reported apart (``/predict`` and ``/predict [8
texts]``): their latencies differ several times over.
"""

from __future__ import annotations

import os
import random
from pathlib import Path
from typing import Any

from locust import FastHttpUser, between, task

REVIEWS = [
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

TWEETS = [
    "Just landed in Chicago , heading to the Apple store on Michigan Avenue before the Bulls game tonight",
    "@jenny_k can't believe Taylor Swift is playing Madison Square Garden again #cantwait",
    "RT @BBCNews : Angela Merkel meets Emmanuel Macron in Berlin to talk about the euro",
    "watching Breaking Bad with my brother , Walter White is a genius",
    "Google and Microsoft both announced new phones today , Samsung must be nervous",
    "Manchester United lost again ... Old Trafford was so quiet tonight",
    "Happy birthday to my best friend Sarah ! See you in London next week",
    "new Coldplay album is out on Spotify and it is beautiful",
    "lunch at Starbucks on 5th Avenue , then the Empire State Building with mom",
    "so tired today , nothing happened , going to sleep early",
]

PROMPTS = [
    "To be, or not to be,",
    "My lord,",
    "O, what a rogue and peasant slave",
    "Something is rotten in",
    "Good night, sweet prince,",
    "What a piece of work is a man!",
]

SAMPLES = {"/predict": REVIEWS, "/ner": TWEETS, "/generate": PROMPTS}  # each task's route and its built-in texts
BATCH = 8
NEW_TOKENS = int(os.environ.get("NLPOPS_LOCUST_NEW_TOKENS", "32"))
MAX_TEXT_CHARS = 2000  # the server's default NLPOPS_MAX_TEXT_CHARS


def load_texts() -> list[str] | None:
    """``NLPOPS_LOCUST_TEXTS``'s non-blank lines, else None (each task's sample); a bad file stops Locust."""
    path = os.environ.get("NLPOPS_LOCUST_TEXTS")
    if not path:
        return None
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


def task_route(openapi: dict[str, Any]) -> str:
    """The prediction route the server publishes: an API serves one artifact, and its task decides the route."""
    return next((route for route in SAMPLES if route in openapi.get("paths", {})), "/predict")


def wrong_entities(texts: list[str], predictions: list[dict[str, Any]]) -> str | None:
    """What is wrong with /ner's answer, if anything: every entity must point at its text."""
    for text, prediction in zip(texts, predictions, strict=True):
        for entity in prediction.get("entities", []):
            if text[entity["start"] : entity["end"]] != entity["text"]:
                return f"entity {entity} does not point at its text in {text!r}"
    return None


class ApiUser(FastHttpUser):
    """One client: sends a request, waits a little, repeats (16 users ≈ 16 concurrent connections)."""

    wait_time = between(0.0, 0.05)
    route = "/predict"
    texts: list[str]

    def on_start(self) -> None:
        with self.client.get("/openapi.json", name="/openapi.json", catch_response=True) as response:
            if response.status_code == 200:
                self.route = task_route(response.json())
            else:
                response.failure(f"status {response.status_code}: cannot tell the server's task")
        self.texts = TEXTS or SAMPLES[self.route]

    def _predict(self, payload: dict, texts: list[str], name: str) -> None:
        with self.client.post(self.route, json=payload, name=name, catch_response=True) as response:
            if response.status_code != 200:
                response.failure(f"status {response.status_code}: {response.text[:200]}")
                return
            predictions = response.json().get("predictions", [])
            if len(predictions) != len(texts):
                response.failure("wrong number of predictions")
            elif self.route == "/ner" and (problem := wrong_entities(texts, predictions)):
                response.failure(problem)

    def _generate(self, prompt: str) -> None:
        payload = {"prompt": prompt, "max_new_tokens": NEW_TOKENS, "temperature": 0.8, "top_p": 0.95}
        with self.client.post(self.route, json=payload, name=self.route, catch_response=True) as response:
            if response.status_code != 200:
                response.failure(f"status {response.status_code}: {response.text[:200]}")
            elif not 0 < response.json().get("tokens", 0) <= NEW_TOKENS:
                response.failure(f"generated {response.json().get('tokens')} tokens, asked for up to {NEW_TOKENS}")

    @task(20)
    def predict_one(self) -> None:
        text = random.choice(self.texts)
        if self.route == "/generate":
            self._generate(text)
        else:
            self._predict({"text": text}, [text], name=self.route)

    @task(2)
    def predict_batch(self) -> None:
        if self.route == "/generate":  # one prompt a request: generations are batched by the server's slots
            return
        batch = random.sample(self.texts, k=min(BATCH, len(self.texts)))
        self._predict({"texts": batch}, batch, name=f"{self.route} [{len(batch)} texts]")

    @task(1)
    def health(self) -> None:
        self.client.get("/ready", name="/ready")
