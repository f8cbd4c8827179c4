"""Text classification exported: a sequence classifier as ``(input_ids, attention_mask) -> logits``.

INT8 passes when it predicts the label fp32 predicts for nearly every sentence and loses little test accuracy.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from transformers import AutoModelForSequenceClassification, PreTrainedModel

from nlpops import tasks
from nlpops.export.onnx import LogitsOnly
from nlpops.export.parity import Thresholds
from nlpops.export.rule import ExportRule
from nlpops.serving.classification import check_labels_known, postprocess, scores
from nlpops.serving.core import OnnxModel


@dataclass(frozen=True)
class ClassificationThresholds(Thresholds):
    max_int8_accuracy_drop_points: float = 0.5  # most accuracy points INT8 may lose against PyTorch

    @property
    def max_int8_drop_points(self) -> float:
        return self.max_int8_accuracy_drop_points


class ClassificationExport(ExportRule):
    task = tasks.CLASSIFICATION
    auto_class = AutoModelForSequenceClassification
    example_texts = ("A gorgeous, witty film.", "Dull and tedious, a mess of a movie with nothing to say.")
    metric = "accuracy"
    thresholds = ClassificationThresholds

    def wrapper(self, model: PreTrainedModel) -> torch.nn.Module:
        return LogitsOnly(model)

    def parity_examples(self, examples: Sequence[Any]) -> list[tuple[str, Any]]:
        return [(example.text, example.label) for example in examples]

    def check_gold(self, gold: Sequence[Any], labels: Sequence[str], model_dir: object) -> None:
        check_labels_known(gold, labels, model_dir)

    def agreement(self, reference: Sequence[np.ndarray], other: Sequence[np.ndarray], labels: Sequence[str]) -> float:
        pairs = zip(postprocess(np.stack(reference), labels), postprocess(np.stack(other), labels), strict=True)
        same = [a.label == b.label for a, b in pairs]
        return float(np.mean(same)) if same else 1.0

    def score(self, core: OnnxModel, texts: Sequence[str], logits: Sequence[np.ndarray], gold: Sequence[Any]) -> float:
        predicted = [p.label for p in postprocess(np.stack(logits), core.labels)]
        return scores(gold, predicted, core.labels)["acc"]


EXPORT = ClassificationExport()
