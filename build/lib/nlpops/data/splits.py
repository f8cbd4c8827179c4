"""Deterministic, seeded dataset splits."""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Hashable, Sequence


def stratified_split(keys: Sequence[Hashable], fractions: Sequence[float], seed: int) -> list[list[int]]:
    """Split indices ``0..len(keys)-1`` into ``len(fractions) + 1`` parts, stratified by ``keys``.

    Each part ``i`` gets ``round(fraction_i * n_k)`` items of every key ``k``; the last part gets the rest.
    The result depends only on ``keys``, ``fractions`` and ``seed``, and each part keeps index order.
    """
    by_key: dict[Hashable, list[int]] = defaultdict(list)
    for index, key in enumerate(keys):
        by_key[key].append(index)
    parts: list[list[int]] = [[] for _ in range(len(fractions) + 1)]
    rng = random.Random(seed)
    for key in sorted(by_key, key=str):
        indices = by_key[key]
        rng.shuffle(indices)
        start = 0
        for part, fraction in zip(parts, fractions, strict=False):
            count = round(fraction * len(indices))
            part.extend(indices[start : start + count])
            start += count
        parts[-1].extend(indices[start:])
    return [sorted(part) for part in parts]
