"""Text classification served: ``POST /predict`` answers each text with its label and every label's probability.

The post-processing here is the only copy: the API, Lambda, the batch command, the evaluation and the export's
parity checks all turn logits into labels through ``postprocess``, and score labels through ``scores``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from fastapi import FastAPI
from prometheus_client import CollectorRegistry, Counter
from pydantic import BaseModel, Field

from nlpops.errors import UserError
from nlpops.serving.core import OnnxModel, in_batches, softmax
from nlpops.serving.runtime import InferenceRunner, add_texts_route
from nlpops.serving.schemas import ModelOut, texts_request_model
from nlpops.serving.settings import Settings
from nlpops.serving.task import Evaluation, SmokeTestFailed, TaskServing
from nlpops.serving.task import Request as SmokeRequest

EXAMPLES = ("A gorgeous, witty film.", "Dull and tedious.")  # what the OpenAPI schema shows
SMOKE_TEXTS = ("A gorgeous, witty and moving film.", "Dull, tedious and lifeless.")  # a clear positive, a negative


@dataclass(frozen=True)
class Prediction:
    label: str
    score: float  # probability of ``label``
    scores: dict[str, float]  # probability of every class


def postprocess(logits: np.ndarray, labels: Sequence[str]) -> list[Prediction]:
    """Logits (batch x classes) → one ``Prediction`` per row."""
    probabilities = softmax(np.asarray(logits, dtype=np.float64))
    best = probabilities.argmax(axis=-1)
    return [
        Prediction(
            label=labels[index],
            score=float(row[index]),
            scores={label: float(p) for label, p in zip(labels, row, strict=True)},
        )
        for index, row in zip(best.tolist(), probabilities, strict=True)
    ]


def scores(gold: Sequence[str], predicted: Sequence[str], labels: Sequence[str], prefix: str = "") -> dict[str, float]:
    """Accuracy, macro-F1, and precision, recall and F1 of each label."""
    pairs = list(zip(gold, predicted, strict=True))
    metrics = {f"{prefix}acc": sum(g == p for g, p in pairs) / len(pairs) if pairs else 0.0}
    f1s = []
    for label in labels:
        hits = sum(g == p == label for g, p in pairs)
        precision = hits / max(1, sum(p == label for p in predicted))
        recall = hits / max(1, sum(g == label for g in gold))
        f1 = 2 * precision * recall / (precision + recall) if hits else 0.0
        metrics |= {f"{prefix}{label}/precision": precision, f"{prefix}{label}/recall": recall}
        metrics[f"{prefix}{label}/f1"] = f1
        f1s.append(f1)
    metrics[f"{prefix}f1"] = sum(f1s) / len(f1s)
    return metrics


def check_labels_known(gold: Sequence[str], labels: Sequence[str], model: object) -> None:
    """Raise if the data has labels the model (``model``: where it lives, for the message) cannot predict."""
    unknown = sorted(set(gold) - set(labels))
    if unknown:
        raise UserError(
            f"the data has labels {unknown} that the model at {model} does not know (it has {list(labels)}); "
            "use the data config the model was trained on"
        )


class PredictionOut(BaseModel):
    label: str = Field(description="The most probable class")
    score: float = Field(description="Probability of `label`")
    scores: dict[str, float] = Field(description="Probability of every class")


class PredictResponse(BaseModel):
    predictions: list[PredictionOut] = Field(description="One prediction per text, in request order")
    model: ModelOut


class ClassificationServing(TaskServing):
    title = "nlpops text classifier"
    summary = "Sentiment of movie-review-like text, served from an ONNX model artifact."
    route = "/predict"

    def predict(self, model: OnnxModel, texts: Sequence[str]) -> list[Prediction]:
        return postprocess(model.logits(texts), model.labels)

    def as_json(self, answer: Prediction) -> dict[str, Any]:
        return {"label": answer.label, "score": answer.score, "scores": answer.scores}

    def confidences(self, answer: Prediction) -> tuple[float]:
        return (answer.score,)

    def log_output(self, answer: Prediction) -> dict[str, Any]:
        return {"label": answer.label, "score": round(answer.score, 4)}

    def add_routes(self, app: FastAPI, settings: Settings, runner: InferenceRunner) -> None:
        add_texts_route(
            app,
            runner,
            route=self.route,
            name="predict",
            request_model=texts_request_model(
                "PredictRequest", "classify", EXAMPLES, settings.max_text_chars, settings.max_batch
            ),
            response_model=PredictResponse,
            as_json=self.as_json,
            summary="Classify one text or a batch of texts",
            description='Send `{"text": "..."}` or `{"texts": [...]}` with `Content-Type: application/json`.',
        )

    def observer(self, registry: CollectorRegistry) -> Callable[[Sequence[Prediction]], None]:
        predictions = Counter("nlpops_predictions", "Predictions by predicted label", ["label"], registry=registry)

        def observe(answers: Sequence[Prediction]) -> None:
            for answer in answers:
                predictions.labels(answer.label).inc()

        return observe

    def evaluate(self, model: OnnxModel, examples: Sequence[Any]) -> Evaluation:
        gold = [example.label for example in examples]
        check_labels_known(gold, model.labels, model.directory)
        texts = [example.text for example in examples]
        answers = in_batches(lambda batch: self.predict(model, batch), texts)
        predicted = [answer.label for answer in answers]
        rows = [{"actual": g, "predicted": p} for g, p in zip(gold, predicted, strict=True)]
        return Evaluation(scores(gold, predicted, model.labels, prefix="test/"), rows, texts, answers)

    def smoke_check(self, base: str, request: SmokeRequest, ready: dict[str, Any]) -> str:
        """A clear positive and a clear negative review get two different labels of the model, with probabilities
        summing to 1: true of any sentiment model the template trains, whatever its label names, and false for a
        wrong response shape or a broken or constant model."""
        labels = ready.get("labels")
        if not isinstance(labels, list):
            raise SmokeTestFailed(f"GET /ready answered {ready}, expected the ready status and the model's labels")
        answer = request(f"{base}{self.route}", {"texts": list(SMOKE_TEXTS)})
        predictions = answer.get("predictions")
        if not (
            isinstance(predictions, list)
            and len(predictions) == len(SMOKE_TEXTS)
            and all(map(_is_prediction, predictions))
        ):
            raise SmokeTestFailed(
                f"POST {self.route} answered {answer}, expected {len(SMOKE_TEXTS)} predictions with scores"
            )
        for text, prediction in zip(SMOKE_TEXTS, predictions, strict=True):
            if prediction["label"] not in labels:
                raise SmokeTestFailed(f"{text!r} got label {prediction['label']!r}, not one of {labels}")
            if not math.isclose(sum(prediction["scores"].values()), 1.0, abs_tol=1e-3):
                raise SmokeTestFailed(f"{text!r} got scores {prediction['scores']} that do not sum to 1")
        positive, negative = (prediction["label"] for prediction in predictions)
        if positive == negative:
            raise SmokeTestFailed(f"a positive and a negative review both got label {positive!r}: the model is wrong")
        return f"labels {positive} / {negative}"


def _is_prediction(item: Any) -> bool:
    """``{"label": str, "scores": {label: number}}``, as ``PredictResponse`` documents."""
    if not (isinstance(item, dict) and isinstance(item.get("label"), str) and isinstance(item.get("scores"), dict)):
        return False
    return all(isinstance(score, int | float) for score in item["scores"].values())


SERVING = ClassificationServing()
