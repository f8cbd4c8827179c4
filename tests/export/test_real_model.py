"""The real pretrained encoder (all-MiniLM-L6-v2) through export and serving, on real review sentences (slow)."""

from __future__ import annotations

import bz2
import csv
from pathlib import Path

import pytest

LABELS = ["negative", "positive"]


def review_sentences(count: int, offset: int) -> list[tuple[str, str]]:
    from nlpops.utils import assets

    with bz2.open(assets.fetch("rotten-tomatoes"), "rt", encoding="utf-8") as file:
        rows = [row for row in csv.DictReader(file) if row["category"] != "plot"]
    names = {"fresh": "positive", "rotten": "negative"}
    return [(row["text"].strip(), names[row["category"]]) for row in rows[offset : offset + count]]


@pytest.mark.slow
def test_the_real_encoder_exports_within_1e_4_and_serves(tmp_path: Path) -> None:
    from fastapi.testclient import TestClient
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from nlpops.export.classification import EXPORT, ClassificationThresholds
    from nlpops.export.pipeline import export_artifact
    from nlpops.serving.app import create_app
    from nlpops.serving.settings import Settings
    from nlpops.utils import assets

    pretrained = assets.resolve("asset:all-minilm-l6-v2")
    model = AutoModelForSequenceClassification.from_pretrained(
        pretrained, num_labels=2, id2label=dict(enumerate(LABELS)), label2id={k: i for i, k in enumerate(LABELS)}
    )
    model.save_pretrained(tmp_path / "model")
    AutoTokenizer.from_pretrained(pretrained).save_pretrained(tmp_path / "model")  # its tokenizer.json pads to 128

    # The head is untrained (every text near 50/50), so INT8 agreement says nothing here: only fp32 parity,
    # the real graph's quantization and serving are checked. Fine-tuned models get the full thresholds.
    loose = ClassificationThresholds(min_int8_agreement=0.0, max_int8_accuracy_drop_points=100.0)
    metrics = export_artifact(
        EXPORT,
        tmp_path / "model",
        tmp_path / "onnx",
        review_sentences(64, 0),
        review_sentences(64, 64),
        64,
        thresholds=loose,
    )
    assert metrics["parity"]["fp32_max_abs_logit_diff"] <= 1e-4

    with TestClient(create_app(Settings(artifact_dir=tmp_path / "onnx"))) as client:
        response = client.post("/predict", json={"texts": [text for text, _ in review_sentences(3, 200)]})
    assert response.status_code == 200
    assert [p["label"] in LABELS for p in response.json()["predictions"]] == [True] * 3
