"""Named-entity recognition exported: a token classifier as ``(input_ids, attention_mask) -> logits`` per token.

INT8 passes when it labels nearly every token (padding excluded) as fp32 does and loses at most a point of
entity F1 on the test split, both read through the serving code's words and entities.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from transformers import AutoModelForTokenClassification, PreTrainedModel

from nlpops import tagging, tasks
from nlpops.export.onnx import LogitsOnly
from nlpops.export.parity import Thresholds
from nlpops.export.rule import ExportRule
from nlpops.serving.core import OnnxModel, softmax
from nlpops.serving.ner import Word, check_tags_known, joined, merge_pieces, tags_at


@dataclass(frozen=True)
class NerThresholds(Thresholds):
    max_int8_f1_drop_points: float = 1.0  # most entity-F1 points INT8 may lose against PyTorch

    @property
    def max_int8_drop_points(self) -> float:
        return self.max_int8_f1_drop_points


class NerExport(ExportRule):
    task = tasks.TOKEN_CLASSIFICATION
    auto_class = AutoModelForTokenClassification
    example_texts = ("Maria flew to Lisbon.", "George Washington was president of the United States of America.")
    metric = "f1"
    thresholds = NerThresholds

    def wrapper(self, model: PreTrainedModel) -> torch.nn.Module:
        return LogitsOnly(model)

    def parity_examples(self, examples: Sequence[Any]) -> list[tuple[str, Any]]:
        """Each sentence as the text its tokens joined by spaces make; the gold answer is its tokens' tags."""
        pairs = []
        for example in examples:
            text, starts = joined(example.tokens)
            pairs.append((text, (starts, list(example.tags))))
        return pairs

    def check_gold(self, gold: Sequence[Any], labels: Sequence[str], model_dir: object) -> None:
        check_tags_known([tags for _, tags in gold], labels, model_dir)

    def agreement(self, reference: Sequence[np.ndarray], other: Sequence[np.ndarray], labels: Sequence[str]) -> float:
        """Share of tokens (special ones included, padding not) whose label INT8 and fp32 agree on."""
        same = [(r.argmax(-1) == o.argmax(-1)) for r, o in zip(reference, other, strict=True)]
        return float(np.concatenate(same).mean()) if same else 1.0

    def score(self, core: OnnxModel, texts: Sequence[str], logits: Sequence[np.ndarray], gold: Sequence[Any]) -> float:
        """Entity F1 (seqeval's micro average) of the tags each gold token's first piece gets."""
        predicted = []
        for text, text_logits, (starts, _) in zip(texts, logits, gold, strict=True):
            predicted.append(tags_at(first_window_words(core, text, text_logits), starts))
        return tagging.entity_scores([tags for _, tags in gold], predicted)["f1"]


def first_window_words(core: OnnxModel, text: str, logits: np.ndarray) -> list[Word]:
    """The words of the text's first window labelled from ``logits`` (a row per token), as serving labels them."""
    [encoding] = core.tokenize([text])
    return merge_pieces(zip(encoding.word_ids, encoding.offsets, softmax(logits), strict=True), core.labels)


EXPORT = NerExport()
