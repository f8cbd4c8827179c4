"""Training-order samplers."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import torch
from torch.utils.data import Sampler


class EpochShuffleSampler(Sampler[int]):
    """Shuffles with ``seed + epoch``: a run resumed from a checkpoint sees the same order as an unbroken one.

    Lightning calls ``set_epoch`` before each epoch. With ``group_batch_size``, indices are shuffled and then
    sorted by length inside windows of 50 batches, so each batch holds similar lengths and dynamic padding
    wastes little compute (the idea of Hugging Face's ``group_by_length``); full batches are then shuffled.
    """

    WINDOW_BATCHES = 50

    def __init__(self, lengths: Sequence[int], seed: int, group_batch_size: int | None = None) -> None:
        self.lengths = list(lengths)
        self.seed = seed
        self.group_batch_size = group_batch_size
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.lengths)

    def __iter__(self) -> Iterator[int]:
        generator = torch.Generator().manual_seed(self.seed + self.epoch)
        order = torch.randperm(len(self.lengths), generator=generator).tolist()
        if not self.group_batch_size:
            return iter(order)
        window = self.group_batch_size * self.WINDOW_BATCHES
        grouped = [
            sorted(order[start : start + window], key=self.lengths.__getitem__, reverse=True)
            for start in range(0, len(order), window)
        ]
        flat = [index for group in grouped for index in group]
        size = self.group_batch_size
        full = len(flat) // size
        batch_order = torch.randperm(full, generator=generator).tolist()
        # The short last batch stays last, so the loader's batch boundaries match the groups.
        return iter([i for b in batch_order for i in flat[b * size : (b + 1) * size]] + flat[full * size :])
