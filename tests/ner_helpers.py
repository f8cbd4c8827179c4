"""Toy NER data for the training-side tests: tagged sentences, written as CoNLL or JSON Lines files."""

from __future__ import annotations

import json
import random
from pathlib import Path

from tests.helpers import FILLER, tiny_overrides

# Names the tiny tokenizer does not know: they split into several word pieces, as real names often do.
PEOPLE = [["ana"], ["maria", "lopez"], ["george", "washington"]]
PLACES = [["lisbon"], ["osaka"], ["new", "york"]]

Sentence = tuple[list[str], list[str]]  # tokens and their IOB2 tags


def toy_sentences(count: int = 200, seed: int = 0) -> list[Sentence]:
    """Filler words around a person (every sentence) and a place (every other), each sentence unique."""
    rng = random.Random(seed)
    sentences = []
    for i in range(count):
        tokens, tags = [], []
        for kind, names in (("person", PEOPLE), ("place", PLACES))[: 1 + i % 2]:
            filler = rng.choices(FILLER, k=rng.randint(1, 6))
            name = rng.choice(names)
            tokens += filler + name
            tags += ["O"] * len(filler) + [f"B-{kind}"] + [f"I-{kind}"] * (len(name) - 1)
        sentences.append(([*tokens, f"#{i}"], [*tags, "O"]))
    return sentences


def write_conll(path: Path, sentences: list[Sentence], separator: str = "\t", between: str = "") -> Path:
    """A token and its tag per line; ``between`` (a line) after each sentence."""
    lines = [
        line for tokens, tags in sentences for line in [*map(separator.join, zip(tokens, tags, strict=True)), between]
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


def ner_overrides(pretrained: Path, data_file: Path, root: Path) -> list[str]:
    """``tiny_overrides`` for ``task=ner``: the tiny model on a toy CoNLL file, writing under ``root``."""
    shared = [o for o in tiny_overrides(pretrained, data_file, root) if not o.startswith("data")]
    return ["task=ner", f"data.source={data_file}", "data.batch_size=16", *shared]
