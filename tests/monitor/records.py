"""Prediction-log records as the serving code writes them (nlpops.serving.prediction_log), for the reader tests."""

from __future__ import annotations

import json
import random
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from nlpops import tasks


def classification_record(chars: int, label: str = "fresh", score: float = 0.9, **fields: Any) -> dict[str, Any]:
    tokens = max(1, chars // 5)
    return {
        "time": "2026-12-06T12:00:00.123Z",
        "request_id": "r1",
        "source": "api",
        "model": "text-classifier",
        "version": "v1.3.0",
        "stage": "prod",
        "task": tasks.CLASSIFICATION,
        "chars": chars,
        "tokens": tokens,
        "unknown_tokens": 0,
        "latency_ms": 4.2,
        "output": {"label": label, "score": score},
    } | fields


def ner_record(types: dict[str, int], score: float | None = 0.8, **fields: Any) -> dict[str, Any]:
    output = {"entities": sum(types.values()), "types": types, "score": score if types else None}
    return classification_record(60, model="ner", task=tasks.TOKEN_CLASSIFICATION, output=output) | fields


def reviews(count: int, seed: int) -> list[dict[str, Any]]:
    """Classification records of one traffic pattern: lengths 40-120 characters, both labels, confident."""
    rng = random.Random(seed)
    return [
        classification_record(rng.randint(40, 120), rng.choice(["fresh", "rotten"]), round(rng.uniform(0.6, 1), 4))
        for _ in range(count)
    ]


def write_log(path: Path, records: Iterable[dict[str, Any]], extra_lines: Iterable[str] = ()) -> Path:
    """JSON lines of ``records``, then ``extra_lines`` as they are (malformed ones, other programs' output)."""
    lines = [json.dumps(record) for record in records] + list(extra_lines)
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path
