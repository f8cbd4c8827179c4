"""Sequence classification: a pretrained encoder with a classification head, accuracy and macro-F1."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import Tensor
from torchmetrics import MetricCollection
from torchmetrics.classification import MulticlassAccuracy, MulticlassF1Score
from transformers import AutoModelForSequenceClassification

from nlpops.models.base import STAGES, TransformerModule, label_config, load_pretrained


class TextClassifier(TransformerModule):
    """Fine-tunes ``AutoModelForSequenceClassification``; ``id2label`` comes from the data.

    Logs ``{stage}/loss``, ``{stage}/acc`` and ``{stage}/f1`` (macro) and ``val/acc_best``. The last
    validation epoch's class probabilities stay in ``val_probabilities`` for error analysis callbacks.
    """

    monitor = "val/acc"  # configs/task/classification.yaml says the same to checkpointing and early stopping
    monitor_mode = "max"

    def __init__(self, pretrained: str, id2label: Mapping[int | str, str], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.save_hyperparameters(logger=False)
        self.id2label = {int(i): label for i, label in id2label.items()}
        self.model = load_pretrained(AutoModelForSequenceClassification, pretrained, **label_config(self.id2label))
        num_classes = len(self.id2label)
        # attributes, not a ModuleDict: "train" would clash with nn.Module.train
        for stage in STAGES:
            metrics = MetricCollection(
                {
                    "acc": MulticlassAccuracy(num_classes, average="micro"),
                    "f1": MulticlassF1Score(num_classes, average="macro"),
                },
                prefix=f"{stage}/",
            )
            setattr(self, f"{stage}_metrics", metrics)
        self._val_outputs: list[Tensor] = []
        self.val_probabilities = torch.empty(0)

    def _metrics(self, stage: str) -> MetricCollection:
        return getattr(self, f"{stage}_metrics")

    def step(self, batch: dict[str, Tensor], stage: str) -> Tensor:
        output = self.model(**batch)
        self._metrics(stage).update(output.logits.argmax(dim=-1), batch["labels"])
        self.log_loss(stage, output.loss, batch_size=len(batch["labels"]))
        self.log_dict(self._metrics(stage), on_step=False, on_epoch=True, prog_bar=stage != "train")
        if stage == "val":  # every validation text's probabilities, for the error-analysis callbacks
            self._val_outputs.append(output.logits.float().softmax(dim=-1).cpu())
        return output.loss

    def on_validation_epoch_start(self) -> None:
        self._val_outputs = []

    def on_validation_epoch_end(self) -> None:
        self.val_probabilities = torch.cat(self._val_outputs) if self._val_outputs else torch.empty(0)
        super().on_validation_epoch_end()
