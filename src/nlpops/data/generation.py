"""Causal language modelling data: documents tokenized, joined with EOS and cut into equal blocks (run_clm's way).

A language model learns from running text, not from labelled examples: the examples here are the blocks, so the
seeded split is by block and every batch is full (no padding, no attention wasted on it).
"""

from __future__ import annotations

import logging
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import torch
from transformers import AutoConfig

from nlpops.data.base import Features, TransformerDataModule
from nlpops.data.sources import AssetSource, DataSource, LocalFileSource, Row, open_source
from nlpops.errors import UserError, positive_int
from nlpops.utils import assets
from nlpops.utils.logs import quiet

log = logging.getLogger(__name__)

TEXT_SUFFIX = ".txt"  # a plain-text document; a folder of them is a corpus of documents
IDS_COLUMN = "ids"  # prepared data (`python prepare.py task=generation`): a block's token ids per row


@dataclass(frozen=True)
class Block:
    """``block_size`` consecutive token ids of the corpus: one training example."""

    ids: tuple[int, ...]
    split: str | None = None  # the split prepared data assigned (``split_column``), if any


class TextSource(DataSource):
    """Plain-text documents: one ``.txt`` file (a pinned asset or local) or every ``.txt`` file of a folder."""

    def __init__(self, files: Sequence[LocalFileSource], description: str) -> None:
        self.files, self.description = files, description

    def load(self) -> list[Row]:
        return [{"text": file.read(lambda text: text.read())} for file in self.files]


def open_text_source(spec: str, hub_config: str | None = None, hub_split: str = "train") -> DataSource:
    """The source a causal-LM ``data.source`` names: a ``.txt`` file or a folder of them (asset or local), else
    a row source (JSON Lines, CSV, Hub: ``nlpops.data.sources.open_source``) whose ``text_column`` holds documents."""
    spec = str(spec)
    name = spec.removeprefix(assets.ASSET_SCHEME)
    if assets.is_asset_ref(spec) and name in assets.ASSETS and assets.ASSETS[name].member.endswith(TEXT_SUFFIX):
        return TextSource([AssetSource(name)], spec)
    path = Path(spec)
    if path.suffix == TEXT_SUFFIX:
        return TextSource([LocalFileSource(path)], spec)
    if path.is_dir():
        files = sorted(path.rglob(f"*{TEXT_SUFFIX}"))
        if not files:
            raise UserError(f"no {TEXT_SUFFIX} files in the folder {path}; point data.source at a folder of text files")
        return TextSource([LocalFileSource(file) for file in files], f"{path} ({len(files)} files)")
    return open_source(spec, hub_config, hub_split)


def group_blocks(documents: Iterable[Sequence[int]], eos_id: int, block_size: int) -> list[tuple[int, ...]]:
    """The documents' ids joined with ``eos_id`` between them, cut into ``block_size`` blocks (the rest dropped)."""
    stream: list[int] = []
    for document in documents:
        if stream:
            stream.append(eos_id)
        stream.extend(document)
    return [tuple(stream[i : i + block_size]) for i in range(0, len(stream) - block_size + 1, block_size)]


class CausalLMDataModule(TransformerDataModule):
    """Reads documents from ``source`` (see ``open_text_source``), tokenizes them and groups them into blocks.

    ``block_size`` is capped at the model's context length. Blocks are split at random (seeded) into train,
    val and test; prepared data (JSON Lines rows of ``ids`` and ``split_column``) keeps its blocks and splits.
    Batches give ``labels = input_ids``: the model shifts them itself to predict each next token.
    """

    def __init__(
        self,
        source: str,
        tokenizer: str,
        block_size: int = 128,
        text_column: str = "text",
        hub_config: str | None = None,
        hub_split: str = "train",
        **kwargs: Any,
    ) -> None:
        positive_int("data.block_size", block_size)
        super().__init__(tokenizer=tokenizer, max_length=block_size, group_by_length=False, **kwargs)
        self.source = open_text_source(source, hub_config, hub_split)
        self.requested_block_size = block_size
        self.text_column = text_column

    @cached_property
    def block_size(self) -> int:
        """``block_size`` capped at the model's context length (its ``max_position_embeddings``)."""
        with quiet("transformers"):
            config = AutoConfig.from_pretrained(assets.resolve(self.tokenizer_name))
        context = getattr(config, "max_position_embeddings", None) or self.tokenizer.model_max_length
        if self.requested_block_size > context:
            log.warning(
                "data.block_size %d exceeds the model's context, %d tokens: using %d",
                self.requested_block_size,
                context,
                context,
            )
        return min(self.requested_block_size, context)

    def load_examples(self) -> list[Block]:
        rows = self.source.load()
        if rows and IDS_COLUMN in rows[0]:
            return [self._prepared_block(row, index) for index, row in enumerate(rows)]
        documents = [self._text(row, index) for index, row in enumerate(rows)]
        documents = [text for text in documents if text.strip()]
        with quiet("transformers"):  # a whole document is longer than the model's context: it is cut up below
            ids = self.tokenizer(documents, add_special_tokens=False)["input_ids"] if documents else []
        blocks = group_blocks(ids, self.tokenizer.eos_token_id, self.block_size)
        tokens = sum(map(len, ids)) + max(len(ids) - 1, 0)
        if len(blocks) < 3:
            raise UserError(
                f"{self.source.description} has {tokens} tokens in {len(documents)} non-empty documents: "
                f"{len(blocks)} blocks of data.block_size={self.block_size} tokens, too few for train, val and "
                "test; use more text or a smaller data.block_size"
            )
        log.info("%d tokens from %s: %d blocks of %d", tokens, self.source.description, len(blocks), self.block_size)
        return [Block(block) for block in blocks]

    def _text(self, row: Row, index: int) -> str:
        text = row.get(self.text_column)
        if not isinstance(text, str):
            columns = ", ".join(map(str, row))
            raise UserError(
                f"{self.source.description} row {index + 1}: no text in column '{self.text_column}' "
                f"(columns: {columns}); set data.text_column"
            )
        return text

    def _prepared_block(self, row: Row, index: int) -> Block:
        ids = row[IDS_COLUMN]
        if not isinstance(ids, list) or len(ids) != self.block_size:
            raise UserError(
                f"{self.source.description} row {index + 1}: '{IDS_COLUMN}' is not a list of data.block_size="
                f"{self.block_size} token ids; prepare the data again with the same data.block_size"
            )
        return Block(tuple(ids), row.get(self.split_column) if self.split_column else None)

    def given_split(self, example: Block) -> str | None:
        return example.split

    def to_row(self, example: Block) -> dict[str, Any]:
        return {IDS_COLUMN: list(example.ids)}

    def stratify_key(self, example: Block) -> Hashable:
        return ""  # blocks have no classes: a plain seeded random split

    def encode(self, examples: Sequence[Block]) -> list[Features]:
        return [{"input_ids": list(e.ids), "attention_mask": [1] * len(e.ids)} for e in examples]

    def collate(self, features: list[Features]) -> dict[str, Any]:
        """Stack the equal-length blocks; the labels are the inputs (the model shifts them)."""
        input_ids = torch.tensor([f["input_ids"] for f in features], dtype=torch.long)
        return {"input_ids": input_ids, "attention_mask": torch.ones_like(input_ids), "labels": input_ids.clone()}

    def model_kwargs(self) -> dict[str, Any]:
        return {}  # a language model needs nothing from the data: its vocabulary is the tokenizer's
