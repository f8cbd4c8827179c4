"""Builders for the NER serving and export tests: a tiny token classifier that learnt a few names, and its artifact.

Built once per test session (cached under pytest's base temp folder), like the classifier's in
``tests/serving/artifacts.py``. The names are learnt well enough in a few seconds that tests can check where
entities are found, windows included.
"""

from __future__ import annotations

import random
from pathlib import Path

import torch
from filelock import FileLock
from transformers import AutoModelForTokenClassification

from tests.serving.artifacts import build_fine_tuned

NER_LABELS = ["B-person", "B-place", "I-person", "I-place", "O"]
NER_MAX_LENGTH = 32
PEOPLE = [["maria", "lopez"], ["george", "washington"], ["ana"]]
PLACES = [["lisbon"], ["osaka"], ["new", "york"]]
FILLER = [
    "the",
    "film",
    "was",
    "witty",
    "and",
    "the",
    "plot",
    "was",
    "dull",
    "but",
    "the",
    "cast",
    "was",
    "charming",
    "today",
]


def ner_sentences(count: int, seed: int) -> list[tuple[list[str], list[str]]]:
    """Sentences of filler words around one person and one place, with their IOB2 tags."""
    rng = random.Random(seed)
    sentences = []
    for _ in range(count):
        tokens, tags = [], []
        for kind, names in (("person", PEOPLE), ("place", PLACES)):
            filler = [rng.choice(FILLER) for _ in range(rng.randint(0, 12))]
            name = rng.choice(names)
            tokens += filler + name
            tags += ["O"] * len(filler) + [f"B-{kind}"] + [f"I-{kind}"] * (len(name) - 1)
        sentences.append((tokens, tags))
    return sentences


def build_tiny_tagger(pretrained: Path, target: Path) -> Path:
    return build_fine_tuned(
        AutoModelForTokenClassification,
        NER_LABELS,
        pretrained,
        target,
        lambda model, tokenizer: _train(model, tokenizer, ner_sentences(640, seed=0), steps=300),
    )


def build_tiny_ner_artifact(tagger: Path, target: Path) -> Path:
    """Export ``tagger`` with the real pipeline and NER's default parity thresholds."""
    from types import SimpleNamespace

    from nlpops.export.ner import EXPORT
    from nlpops.export.pipeline import export_artifact

    def examples(seed: int) -> list[tuple[str, object]]:
        rows = [SimpleNamespace(tokens=tokens, tags=tags) for tokens, tags in ner_sentences(60, seed)]
        return EXPORT.parity_examples(rows)

    with FileLock(str(target) + ".lock"):
        if not (target / "manifest.json").is_file():
            export_artifact(EXPORT, tagger, target, examples(1), examples(2), NER_MAX_LENGTH)
    return target


def _train(model, tokenizer, sentences: list[tuple[list[str], list[str]]], steps: int) -> None:
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
    model.train()
    for step in range(steps):
        batch = [sentences[(step * 16 + i) % len(sentences)] for i in range(16)]
        inputs = tokenizer([tokens for tokens, _ in batch], is_split_into_words=True, padding=True, return_tensors="pt")
        labels = torch.full_like(inputs["input_ids"], -100)
        for row, (_, tags) in enumerate(batch):
            previous = None
            for position, word in enumerate(inputs.word_ids(row)):
                if word is not None:  # every piece labelled (a later piece as I-): names of single-letter pieces
                    tag = tags[word] if word != previous else tags[word].replace("B-", "I-")
                    labels[row, position] = NER_LABELS.index(tag)
                previous = word
        loss = model(input_ids=inputs["input_ids"], attention_mask=inputs["attention_mask"], labels=labels).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
