"""Builders for the serving and export tests: a tiny fine-tuned classifier and the artifact exported from it.

Both are built once per test session (cached under pytest's base temp folder) and shared by tests/export
and tests/serving, since the ONNX export is the slowest step of those suites.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from filelock import FileLock
from transformers import AutoModelForSequenceClassification, AutoTokenizer, PreTrainedModel, PreTrainedTokenizerBase

from tests.helpers import toy_reviews

LABELS = ["fresh", "rotten"]  # sorted, as the DataModule numbers them
MAX_LENGTH = 32


def toy_examples(count: int, seed: int) -> list[tuple[str, str]]:
    return [(row["review"], row["sentiment"]) for row in toy_reviews(count, seed=seed)]


def build_tiny_classifier(pretrained: Path, target: Path) -> Path:
    """The tiny random BERT with a classification head, trained a few steps so its predictions have a margin.

    A random head scores every text near 50/50, where INT8 rounding flips predictions at random; a briefly
    trained one behaves like a real fine-tuned model in the parity checks.
    """
    return build_fine_tuned(
        AutoModelForSequenceClassification,
        LABELS,
        pretrained,
        target,
        lambda model, tokenizer: _train(model, tokenizer, toy_examples(240, seed=0), steps=60),
    )


def build_fine_tuned(
    auto_class: Any,
    labels: list[str],
    pretrained: Path,
    target: Path,
    train: Callable[[PreTrainedModel, PreTrainedTokenizerBase], None],
) -> Path:
    """``pretrained`` with ``auto_class``'s head for ``labels``, ``train``-ed on one thread and saved to ``target``.

    Once per session: a test process that finds ``target`` saved (under a lock) uses it as it is.
    """
    with FileLock(str(target) + ".lock"):
        if (target / "config.json").is_file():
            return target
        torch.manual_seed(0)
        model = auto_class.from_pretrained(
            pretrained,
            num_labels=len(labels),
            id2label=dict(enumerate(labels)),
            label2id={label: i for i, label in enumerate(labels)},
        )
        tokenizer = AutoTokenizer.from_pretrained(pretrained)
        threads = torch.get_num_threads()
        torch.set_num_threads(1)  # a tiny model: threads only add overhead (and crawl when the CPU is busy)
        try:
            train(model, tokenizer)
        finally:
            torch.set_num_threads(threads)
        model.eval()
        model.save_pretrained(target)
        tokenizer.save_pretrained(target)
    return target


def build_tiny_artifact(classifier: Path, target: Path) -> Path:
    """Export ``classifier`` with the real pipeline and default parity thresholds."""
    from nlpops.export.classification import EXPORT
    from nlpops.export.pipeline import export_artifact

    with FileLock(str(target) + ".lock"):
        if not (target / "manifest.json").is_file():
            export_artifact(EXPORT, classifier, target, toy_examples(60, seed=1), toy_examples(60, seed=2), MAX_LENGTH)
    return target


def _train(model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, rows: list[tuple[str, str]], steps: int) -> None:
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
    model.train()
    for step in range(steps):
        batch = [rows[(step * 32 + i) % len(rows)] for i in range(32)]
        inputs = tokenizer([text for text, _ in batch], padding=True, return_tensors="pt")
        labels = torch.tensor([LABELS.index(label) for _, label in batch])
        loss = model(input_ids=inputs["input_ids"], attention_mask=inputs["attention_mask"], labels=labels).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
