"""Prepare task (``python prepare.py``): raw data file → one file of examples with their split.

The pipeline's first stage. It reads the raw file with the data config, drops what training would drop,
splits with the same seeded code training uses, and writes every example with its split. Training then
reads that file with ``data.split_column``, so the split is fixed, versioned and visible in one place.
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from pathlib import Path

from omegaconf import DictConfig

from nlpops.data.base import TransformerDataModule
from nlpops.data.raw import ensure_raw_file
from nlpops.utils.files import atomic_file
from nlpops.utils.instantiate import build, check_config

log = logging.getLogger(__name__)


def prepare(cfg: DictConfig) -> dict[str, int]:
    """Write ``cfg.prepare.output`` (JSON lines, one example per line); return the size of each split."""
    check_config(cfg, "data")
    settings = cfg.prepare
    dvc_file = Path(settings.dvc_file) if settings.get("dvc_file") else None
    raw_file = ensure_raw_file(Path(settings.raw_file), settings.get("restore_from"), dvc_file)
    datamodule: TransformerDataModule = build(cfg, "data", source=str(raw_file), split_column=None)
    examples = datamodule.load_examples()
    splits = datamodule.assign_splits(examples)
    with atomic_file(Path(settings.output)) as scratch, scratch.open("w", encoding="utf-8") as out:
        for example, split in zip(examples, splits, strict=True):
            row = datamodule.to_row(example) | {settings.split_column: split}
            out.write(json.dumps(row, ensure_ascii=False) + "\n")
    sizes = dict(Counter(splits))
    log.info("Wrote %d examples to %s: %s", len(examples), settings.output, sizes)
    return sizes
