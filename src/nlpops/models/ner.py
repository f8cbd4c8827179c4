"""Token classification (named-entity recognition): a tag per word piece, judged by the entities it finds."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch.distributed as dist
from torch import Tensor
from transformers import AutoModelForTokenClassification

from nlpops.data.ner import WORD_STARTS
from nlpops.models.base import STAGES, TransformerModule, label_config, load_pretrained
from nlpops.tagging import entity_scores

Words = tuple[list[int], list[int]]  # one sentence's (gold, predicted) tag ids, a pair per word


class TokenClassifier(TransformerModule):
    """Fine-tunes ``AutoModelForTokenClassification``; ``id2label`` (IOB2 tags) comes from the data.

    Logs ``{stage}/loss``; entity-level ``{stage}/precision``, ``{stage}/recall`` and ``{stage}/f1`` (micro, with
    seqeval's default-mode semantics: ``nlpops.tagging``) and ``{stage}/token_acc`` (words tagged right), all
    read from each word's first piece and computed at the end of the epoch over the whole split, gathered from
    every process under DDP; and ``val/f1_best``. The last validation's tag sequences stay in ``val_gold`` and
    ``val_predicted`` (a list of tags per sentence, in the order of the data) for error-analysis callbacks.
    """

    monitor = "val/f1"  # configs/task/ner.yaml says the same to checkpointing and early stopping
    monitor_mode = "max"

    def __init__(self, pretrained: str, id2label: Mapping[int | str, str], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.save_hyperparameters(logger=False)
        self.id2label = {int(i): label for i, label in id2label.items()}
        self.model = load_pretrained(AutoModelForTokenClassification, pretrained, **label_config(self.id2label))
        self._words: dict[str, list[Words]] = {stage: [] for stage in STAGES}
        self.val_gold: list[list[str]] = []
        self.val_predicted: list[list[str]] = []

    def step(self, batch: dict[str, Tensor], stage: str) -> Tensor:
        starts = batch[WORD_STARTS]
        output = self.model(**{key: value for key, value in batch.items() if key != WORD_STARTS})
        self.log_loss(stage, output.loss, batch_size=len(starts))
        predicted = output.logits.argmax(dim=-1).cpu()
        for first, gold, guess in zip(starts.cpu(), batch["labels"].cpu(), predicted, strict=True):
            self._words[stage].append((gold[first].tolist(), guess[first].tolist()))
        return output.loss

    def _log_scores(self, stage: str) -> tuple[list[list[str]], list[list[str]]]:
        """Log the epoch's entity scores and token accuracy; return its (gold, predicted) tags per sentence."""
        words = _gathered(self._words[stage])
        gold = [[self.id2label[i] for i in sentence] for sentence, _ in words]
        predicted = [[self.id2label[i] for i in sentence] for _, sentence in words]
        scores = entity_scores(gold, predicted)
        # per type on test only: the headline figures per epoch, the whole breakdown once (val's goes to W&B)
        names = scores if stage == "test" else ("precision", "recall", "f1")
        metrics = {f"{stage}/{name}": scores[name] for name in names}
        pairs = [(g, p) for sentence, guesses in words for g, p in zip(sentence, guesses, strict=True)]
        metrics[f"{stage}/token_acc"] = sum(g == p for g, p in pairs) / len(pairs) if pairs else 0.0
        # the same on every process (gathered first): synced only so that Lightning has no reason to warn
        self.log_dict(metrics, prog_bar=stage != "train", sync_dist=True)
        return gold, predicted

    def on_train_epoch_start(self) -> None:
        self._words["train"] = []

    def on_validation_epoch_start(self) -> None:
        self._words["val"] = []

    def on_test_epoch_start(self) -> None:
        self._words["test"] = []

    def on_train_epoch_end(self) -> None:
        self._log_scores("train")

    def on_validation_epoch_end(self) -> None:
        self.val_gold, self.val_predicted = self._log_scores("val")
        super().on_validation_epoch_end()  # after val/f1 is logged: it tracks its best

    def on_test_epoch_end(self) -> None:
        self._log_scores("test")


def _gathered(rows: list[Words]) -> list[Words]:
    """Every process's rows, in rank order, under DDP (each saw part of the split); ``rows`` itself otherwise."""
    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return rows
    parts: list[list[Words] | None] = [None] * dist.get_world_size()
    dist.all_gather_object(parts, rows)
    return [row for part in parts for row in part or []]
