"""The record every trained model carries (``manifest.json`` in its folder): our model registry entry.

It says what the model does (task, labels), what it learnt from (data fingerprint and split sizes), how
(the resolved Hydra config, the code's commit, library versions), how well (metrics) and when. It travels
with the model through ``dvc push``, and ``python export.py`` copies it into the serving artifact. Its readable
face is the folder's ``README.md``, a Hugging Face model card made from it (``nlpops.model_card``).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from nlpops.data.base import SPLITS, TransformerDataModule
from nlpops.model_card import write_card
from nlpops.utils.provenance import MANIFEST, git_commit, now, versions

LIBRARIES = ("torch", "lightning", "transformers", "tokenizers")


def data_fingerprint(datamodule: TransformerDataModule) -> str:
    """sha256 of every example with its split, in order: equal exactly when the model saw the same data."""
    digest = hashlib.sha256()
    for split in SPLITS:
        for example in datamodule.examples[split]:
            row = datamodule.to_row(example) | {"split": split}
            digest.update(json.dumps(row, sort_keys=True, ensure_ascii=False).encode() + b"\n")
    return digest.hexdigest()


def training_record(cfg: DictConfig, datamodule: TransformerDataModule, metrics: dict[str, float]) -> dict[str, Any]:
    """The record of a model trained with ``cfg`` on ``datamodule``'s data; its task is the config's."""
    return {
        "task": cfg.task_name,
        "labels": _labels(datamodule.model_kwargs()),
        "data": {
            "source": str(cfg.data.get("source")),
            "sha256": data_fingerprint(datamodule),
            "examples": {split: len(datamodule.examples[split]) for split in SPLITS},
        },
        "metrics": metrics,
        "git_commit": git_commit(),
        "created_at": now(),
        "versions": versions(*LIBRARIES),
        "config": OmegaConf.to_container(cfg, resolve=True),
    }


def _labels(model_kwargs: dict[str, Any]) -> list[str] | None:
    """The label names in id order, as the data told the model (None for a task without labels)."""
    id2label = model_kwargs.get("id2label")
    return [id2label[i] for i in sorted(id2label)] if id2label else None


def write_record(model_dir: Path, record: dict[str, Any]) -> None:
    """Write the record, and the model card (README.md) made from it, into ``model_dir``.

    ``model_dir`` may be a scratch folder that becomes the configured one, whose name heads the card.
    """
    (Path(model_dir) / MANIFEST).write_text(json.dumps(record, indent=2, sort_keys=True) + "\n")
    write_card(model_dir, Path(record["config"].get("model_dir") or model_dir).name)
