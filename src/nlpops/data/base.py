"""What every task's DataModule shares: load once, split deterministically, tokenize, batch with padding."""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections.abc import Callable, Hashable, Sequence
from functools import cached_property
from typing import Any, TypeVar

from lightning.pytorch import LightningDataModule
from torch.utils.data import DataLoader
from transformers import AutoTokenizer, PreTrainedTokenizerBase

from nlpops.data.samplers import EpochShuffleSampler
from nlpops.data.splits import stratified_split
from nlpops.errors import UserError, positive_int
from nlpops.utils import assets

log = logging.getLogger(__name__)

SPLITS = ("train", "val", "test")
Features = dict[str, Any]
E = TypeVar("E")


class TransformerDataModule(LightningDataModule, ABC):
    """Base DataModule: a subclass says how to read examples, how to stratify, and how to encode them."""

    def __init__(
        self,
        tokenizer: str,
        max_length: int = 128,
        batch_size: int = 32,
        eval_batch_size: int | None = None,
        num_workers: int = 0,
        val_fraction: float = 0.1,
        test_fraction: float = 0.1,
        seed: int = 42,
        max_train_samples: int | None = None,
        group_by_length: bool = True,
        split_column: str | None = None,
    ) -> None:
        super().__init__()
        _check_fraction("data.val_fraction", val_fraction)
        _check_fraction("data.test_fraction", test_fraction)
        if val_fraction + test_fraction >= 1:
            raise UserError("data.val_fraction + data.test_fraction must leave examples for training (< 1)")
        positive_int("data.batch_size", batch_size)
        positive_int("data.max_length", max_length)
        if eval_batch_size is not None:
            positive_int("data.eval_batch_size", eval_batch_size)
        self.tokenizer_name = tokenizer
        self.max_length = max_length
        self.batch_size = batch_size
        self.eval_batch_size = eval_batch_size or batch_size
        self.num_workers = num_workers
        self.fractions = (val_fraction, test_fraction)
        self.seed = seed
        self.max_train_samples = max_train_samples
        self.group_by_length = group_by_length
        self.split_column = split_column
        self.examples: dict[str, list[Any]] = {}
        self.labels: list[str] = []  # the label names a task reads from its data, in id order
        self.datasets: dict[str, list[Features]] = {}

    # --- what a task defines -------------------------------------------------------------------------
    @abstractmethod
    def load_examples(self) -> list[Any]:
        """Read and validate all examples (raising ``UserError`` on bad data)."""

    @abstractmethod
    def given_split(self, example: Any) -> str | None:
        """The split the data assigned to ``example`` (read from ``split_column``), or None."""

    @abstractmethod
    def to_row(self, example: Any) -> dict[str, Any]:
        """The example as a data row, in the columns ``load_examples`` reads (for writing prepared data)."""

    @abstractmethod
    def stratify_key(self, example: Any) -> Hashable:
        """The key splits are stratified by (a constant for no stratification)."""

    @abstractmethod
    def encode(self, examples: Sequence[Any]) -> list[Features]:
        """Tokenize examples into model features (unpadded)."""

    @abstractmethod
    def collate(self, features: list[Features]) -> dict[str, Any]:
        """Pad a list of features into a batch of tensors."""

    @abstractmethod
    def model_kwargs(self) -> dict[str, Any]:
        """What the task's LightningModule needs from the data (known after ``setup``), e.g. the label names.

        The entry points pass it to the model config, so they need not know what a task's model needs.
        """

    # --- shared mechanics -------------------------------------------------------------------------------
    @property
    def id2label(self) -> dict[int, str]:
        if not self.labels:
            raise RuntimeError("call setup() before reading labels")
        return dict(enumerate(self.labels))

    @cached_property
    def tokenizer(self) -> PreTrainedTokenizerBase:
        try:
            return AutoTokenizer.from_pretrained(assets.resolve(self.tokenizer_name))
        except (OSError, ValueError) as err:
            raise UserError(
                f"cannot load tokenizer '{self.tokenizer_name}': {str(err).splitlines()[0]} "
                "(set model.pretrained to a local folder, a Hub id, or asset:all-minilm-l6-v2)"
            ) from err

    def prepare_data(self) -> None:
        """Fetch what is downloadable (runs once per machine under DDP)."""
        assets.resolve(self.tokenizer_name)

    def setup(self, stage: str | None = None) -> None:
        if self.datasets:
            return
        self.examples = self.load_splits()
        self.datasets = {name: self.encode(part) for name, part in self.examples.items()}
        log.info("Split sizes: %s", {name: len(part) for name, part in self.datasets.items()})

    def load_splits(self) -> dict[str, list[Any]]:
        """Load the examples and split them (capping train at ``max_train_samples``); no tokenizer needed."""
        examples = self.load_examples()
        splits = self.assign_splits(examples)
        parts = {name: [e for e, s in zip(examples, splits, strict=True) if s == name] for name in SPLITS}
        if self.max_train_samples is not None:
            parts["train"] = parts["train"][: self.max_train_samples]
        for name in SPLITS:
            if not parts[name]:
                raise UserError(
                    f"the {name} split is empty ({len(examples)} examples in all); "
                    "use more data or change data.val_fraction / data.test_fraction"
                )
        return parts

    def assign_splits(self, examples: Sequence[Any]) -> list[str]:
        """The split of each example: the data's own (``split_column``) or a seeded stratified split."""
        if self.split_column:
            return [self._check_split(self.given_split(e), i) for i, e in enumerate(examples)]
        val, test, _ = stratified_split([self.stratify_key(e) for e in examples], self.fractions, self.seed)
        splits = ["train"] * len(examples)
        for name, part in (("val", val), ("test", test)):
            for index in part:
                splits[index] = name
        return splits

    def _check_split(self, split: str | None, index: int) -> str:
        if split not in SPLITS:
            raise UserError(
                f"example {index} has {self.split_column}={split!r}; data.split_column must hold one of "
                f"{', '.join(SPLITS)} in every row (or set data.split_column=null to split here)"
            )
        return split

    def train_dataloader(self) -> DataLoader:
        dataset = self.datasets["train"]
        sampler = EpochShuffleSampler(
            [len(f["input_ids"]) for f in dataset],
            seed=self.seed,
            group_batch_size=self.batch_size if self.group_by_length else None,
        )
        return self._loader(dataset, self.batch_size, sampler=sampler)

    def val_dataloader(self) -> DataLoader:
        return self._loader(self.datasets["val"], self.eval_batch_size)

    def test_dataloader(self) -> DataLoader:
        return self._loader(self.datasets["test"], self.eval_batch_size)

    def _loader(self, dataset: list[Features], batch_size: int, **kwargs: Any) -> DataLoader:
        return DataLoader(
            dataset,
            batch_size=batch_size,
            collate_fn=self.collate,
            num_workers=self.num_workers,
            persistent_workers=self.num_workers > 0,
            **kwargs,
        )


def drop_duplicates(examples: list[E], key: Callable[[E], Hashable], what: str) -> list[E]:
    """``examples`` less those whose ``key`` an earlier one has (first kept): no input ends up in two splits."""
    seen: set[Hashable] = set()
    unique = [e for e in examples if not (key(e) in seen or seen.add(key(e)))]
    if len(unique) < len(examples):
        log.info("Dropped %d exact-duplicate %s", len(examples) - len(unique), what)
    return unique


def _check_fraction(key: str, value: float) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value < 1:
        raise UserError(f"{key} must be between 0 and 1 (exclusive), got {value!r}")
