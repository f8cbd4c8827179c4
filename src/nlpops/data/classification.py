"""Text classification data: (text, label) examples from any source, labels read from the data."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from transformers import DataCollatorWithPadding

from nlpops.data.base import Features, TransformerDataModule, drop_duplicates
from nlpops.data.sources import Row, open_source
from nlpops.errors import UserError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LabeledText:
    text: str
    label: str
    split: str | None = None  # the split the data assigned (``split_column``), if any


class TextClassificationDataModule(TransformerDataModule):
    """Reads ``text_column`` and ``label_column`` from ``source`` (see ``open_source`` for the forms).

    Blank texts and rows whose label is in ``drop_labels`` are skipped, labels are renamed through
    ``label_map``, and exact-duplicate texts are dropped (first kept) before splitting, so no text is in two
    splits. Label names are sorted to give stable ids and end up in the trained model's config.
    """

    def __init__(
        self,
        source: str,
        tokenizer: str,
        text_column: str = "text",
        label_column: str = "label",
        drop_labels: Sequence[str] = (),
        label_map: Mapping[str, str] | None = None,
        hub_config: str | None = None,
        hub_split: str = "train",
        **kwargs: Any,
    ) -> None:
        super().__init__(tokenizer=tokenizer, **kwargs)
        self.source = open_source(source, hub_config, hub_split)
        self.text_column = text_column
        self.label_column = label_column
        self.drop_labels = set(drop_labels)
        self.label_map = dict(label_map or {})

    def load_examples(self) -> list[LabeledText]:
        rows = self.source.load()
        examples = drop_duplicates(self._to_examples(rows), key=lambda e: e.text, what="texts")
        counts = Counter(e.label for e in examples)
        if not examples:
            raise UserError(f"no usable examples in {self.source.description} ({len(rows)} rows read)")
        if len(counts) < 2:
            raise UserError(
                f"only one label ({next(iter(counts))!r}) in {self.source.description}: classification "
                f"needs at least two; check data.label_column (now '{self.label_column}')"
            )
        self.labels = sorted(counts)
        log.info("%d examples from %s, labels %s", len(examples), self.source.description, dict(counts))
        return examples

    def _to_examples(self, rows: list[Row]) -> list[LabeledText]:
        if rows:
            columns = [("data.text_column", self.text_column), ("data.label_column", self.label_column)]
            if self.split_column:
                columns.append(("data.split_column", self.split_column))
            for key, column in columns:
                if column not in rows[0]:
                    raise UserError(
                        f"{self.source.description} has no column '{column}' (columns: "
                        f"{', '.join(map(str, rows[0]))}); set {key}"
                    )
        examples = []
        for row in rows:
            text, label = row.get(self.text_column), row.get(self.label_column)
            if not isinstance(text, str) or not text.strip() or label is None or str(label) in self.drop_labels:
                continue
            split = row.get(self.split_column) if self.split_column else None
            examples.append(LabeledText(text.strip(), self.label_map.get(str(label), str(label)), split))
        return examples

    def given_split(self, example: LabeledText) -> str | None:
        return example.split

    def to_row(self, example: LabeledText) -> dict[str, Any]:
        return {self.text_column: example.text, self.label_column: example.label}

    def stratify_key(self, example: LabeledText) -> Hashable:
        return example.label

    def encode(self, examples: Sequence[LabeledText]) -> list[Features]:
        label2id = {label: i for i, label in enumerate(self.labels)}
        encoded = self.tokenizer(
            [e.text for e in examples], truncation=True, max_length=self.max_length, return_token_type_ids=False
        )
        return [
            {"input_ids": ids, "attention_mask": mask, "labels": label2id[e.label]}
            for ids, mask, e in zip(encoded["input_ids"], encoded["attention_mask"], examples, strict=True)
        ]

    def collate(self, features: list[Features]) -> dict[str, Any]:
        return self._collator(features)

    def model_kwargs(self) -> dict[str, Any]:
        return {"id2label": self.id2label}

    @cached_property
    def _collator(self) -> DataCollatorWithPadding:
        return DataCollatorWithPadding(self.tokenizer, return_tensors="pt")
