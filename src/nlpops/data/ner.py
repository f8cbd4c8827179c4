"""Named-entity recognition data: sentences of tokens with IOB2 tags, labels aligned to word pieces."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Hashable, Sequence
from functools import cached_property
from typing import Any

import torch
from transformers import DataCollatorForTokenClassification

from nlpops.data.base import Features, TransformerDataModule, drop_duplicates
from nlpops.data.token_sources import TaggedSentence, TokenFormat, open_token_source
from nlpops.errors import UserError
from nlpops.tagging import OUTSIDE, entity_spans, split_tag

log = logging.getLogger(__name__)

IGNORE = -100  # the label the loss skips: special tokens, and pieces after a word's first unless label_all_tokens
WORD_STARTS = "word_starts"  # batch key: 1 on each word's first piece, where metrics read the word's tag


class TokenClassificationDataModule(TransformerDataModule):
    """Reads tagged sentences from ``source`` (see ``open_token_source`` for the forms and formats).

    Tags are converted from ``scheme`` to IOB2 on reading, and sentences with the same tokens as an earlier one
    are dropped (first kept) before splitting. The labels are ``O`` then ``B-`` and ``I-`` of every entity type
    in the data, types in sorted order: stable ids, and an ``I-`` for every type even when its entities are all
    one word long. Splits are stratified by each sentence's most frequent entity type (the first in the sentence
    on a tie; sentences without entities form their own group), so rare types reach validation and test.

    Each word's tag labels its first word piece; its other pieces are ignored by the loss, or with
    ``label_all_tokens`` labelled too (``I-`` of the word's type). Metrics read the tags of first pieces, so they
    count the words that fit in ``max_length``.
    """

    def __init__(
        self,
        source: str,
        tokenizer: str,
        scheme: str = "IOB2",
        tag_column: int = -1,
        tokens_column: str = "tokens",
        tags_column: str = "tags",
        label_names: Sequence[str] | None = None,
        label_all_tokens: bool = False,
        hub_config: str | None = None,
        hub_split: str = "train",
        **kwargs: Any,
    ) -> None:
        super().__init__(tokenizer=tokenizer, **kwargs)
        self.format = TokenFormat(
            scheme, tag_column, tokens_column, tags_column, tuple(label_names or ()), self.split_column
        )
        self.source = open_token_source(source, self.format, hub_config, hub_split)
        self.label_all_tokens = label_all_tokens

    def load_examples(self) -> list[TaggedSentence]:
        sentences = self.source.load()
        examples = drop_duplicates(sentences, key=lambda e: e.tokens, what="sentences")
        if not examples:
            raise UserError(
                f"no tagged sentences in {self.source.description} (is it empty?); point data.source at CoNLL-style "
                "lines (a token and its tag; a blank line ends a sentence) or JSON Lines (a token and a tag list)"
            )
        types = Counter(span[0] for e in examples for span in entity_spans(e.tags))
        if not types:
            raise UserError(
                f"no entities in {self.source.description}: every tag is O; check data.tag_column "
                "(CoNLL) or data.tags_column (JSON Lines, Hub)"
            )
        self.labels = [OUTSIDE, *(f"{prefix}-{name}" for name in sorted(types) for prefix in ("B", "I"))]
        log.info("%d sentences from %s, entities %s", len(examples), self.source.description, dict(types))
        return examples

    def given_split(self, example: TaggedSentence) -> str | None:
        return example.split

    def to_row(self, example: TaggedSentence) -> dict[str, Any]:
        return {self.format.tokens_column: list(example.tokens), self.format.tags_column: list(example.tags)}

    def stratify_key(self, example: TaggedSentence) -> Hashable:
        types = Counter(span[0] for span in entity_spans(example.tags))
        return types.most_common(1)[0][0] if types else ""

    def encode(self, examples: Sequence[TaggedSentence]) -> list[Features]:
        label2id = {label: i for i, label in enumerate(self.labels)}
        inside = [label2id[_inside(label)] for label in self.labels] if self.label_all_tokens else None
        encoded = self.tokenizer(
            [list(e.tokens) for e in examples],
            is_split_into_words=True,
            truncation=True,
            max_length=self.max_length,
            return_token_type_ids=False,
        )
        features = []
        for index, example in enumerate(examples):
            labels, starts = align_labels(encoded.word_ids(index), [label2id[t] for t in example.tags], inside)
            ids, mask = encoded["input_ids"][index], encoded["attention_mask"][index]
            features.append({"input_ids": ids, "attention_mask": mask, "labels": labels, WORD_STARTS: starts})
        return features

    def collate(self, features: list[Features]) -> dict[str, Any]:
        """Pad with the tokenizer (labels with ``IGNORE``), and ``word_starts`` with 0 on the same side."""
        batch = self._collator([{k: v for k, v in f.items() if k != WORD_STARTS} for f in features])
        width, left = batch["input_ids"].shape[1], self.tokenizer.padding_side == "left"
        starts = [_padded(f[WORD_STARTS], width, left) for f in features]
        return batch | {WORD_STARTS: torch.tensor(starts, dtype=torch.bool)}

    def model_kwargs(self) -> dict[str, Any]:
        return {"id2label": self.id2label}

    @cached_property
    def _collator(self) -> DataCollatorForTokenClassification:
        return DataCollatorForTokenClassification(self.tokenizer, label_pad_token_id=IGNORE, return_tensors="pt")


def align_labels(
    word_ids: Sequence[int | None], tag_ids: Sequence[int], inside: Sequence[int] | None = None
) -> tuple[list[int], list[int]]:
    """Labels per word piece, and 1 on each word's first piece (0 elsewhere).

    A word's first piece gets its tag; special tokens (no word) get ``IGNORE``, and so do a word's other pieces
    unless ``inside`` maps each tag id to the id to give them (``label_all_tokens``).
    """
    labels, starts = [], []
    previous = None
    for word in word_ids:
        first = word is not None and word != previous
        if word is None:
            labels.append(IGNORE)
        elif first:
            labels.append(tag_ids[word])
        else:
            labels.append(inside[tag_ids[word]] if inside is not None else IGNORE)
        starts.append(int(first))
        previous = word
    return labels, starts


def _padded(values: list[int], width: int, left: bool) -> list[int]:
    padding = [0] * (width - len(values))
    return padding + values if left else values + padding


def _inside(label: str) -> str:
    """The label of a word's later pieces under ``label_all_tokens``: they continue the entity the word is in."""
    prefix, entity_type = split_tag(label)
    return label if prefix != "B" else f"I-{entity_type}"
