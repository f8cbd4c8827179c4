"""Tiny, fast stand-ins for the real assets: a random BERT with its own tokenizer, and a toy dataset."""

from __future__ import annotations

import csv
import random
from pathlib import Path

from tokenizers import BertWordPieceTokenizer
from transformers import BertConfig, BertModel, BertTokenizerFast

POSITIVE = ["gorgeous", "witty", "moving", "brilliant", "charming", "delightful", "sharp", "tender"]
NEGATIVE = ["dull", "clumsy", "tedious", "bland", "messy", "lifeless", "shallow", "forgettable"]
FILLER = ["the", "film", "is", "a", "movie", "story", "plot", "cast", "and", "with", "very", "quite", "its"]


def toy_reviews(count: int = 240, seed: int = 0) -> list[dict[str, str]]:
    """Reviews whose label is given by one sentiment word among filler words: learnable in a few steps."""
    rng = random.Random(seed)
    rows = []
    for i in range(count):
        label = "fresh" if i % 2 == 0 else "rotten"
        words = rng.choices(FILLER, k=rng.randint(3, 12))
        words.insert(rng.randrange(len(words) + 1), rng.choice(POSITIVE if label == "fresh" else NEGATIVE))
        rows.append({"review": " ".join(words) + f" #{i}", "sentiment": label})
    return rows


def write_csv(path: Path, rows: list[dict[str, str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as file:
        writer = csv.DictWriter(file, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


def save_tiny_pretrained(directory: Path) -> Path:
    """A randomly initialised 2-layer BERT (hidden 32) and a WordPiece tokenizer trained on the toy data."""
    corpus = [row["review"] for row in toy_reviews()] + POSITIVE + NEGATIVE + FILLER
    wordpiece = BertWordPieceTokenizer(lowercase=True)
    wordpiece.train_from_iterator(corpus, vocab_size=300, min_frequency=1, show_progress=False)
    tokenizer = BertTokenizerFast(tokenizer_object=wordpiece._tokenizer, model_max_length=128)
    tokenizer.add_special_tokens(
        {"pad_token": "[PAD]", "unk_token": "[UNK]", "cls_token": "[CLS]", "sep_token": "[SEP]", "mask_token": "[MASK]"}
    )
    config = BertConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=128,
    )
    BertModel(config).save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return directory


def tiny_overrides(pretrained: Path, data_file: Path, root: Path) -> list[str]:
    """Overrides that point train.py / eval.py at the tiny model and toy data, writing under ``root``."""
    return [
        f"model.pretrained={pretrained}",
        "data=text_classification",
        f"data.source={data_file}",
        "data.text_column=review",
        "data.label_column=sentiment",
        "data.batch_size=16",
        "model.optimizer.lr=3e-3",
        "trainer=default",
        "logger=csv",
        f"paths.log_dir={root / 'logs'}",
        f"paths.models_dir={root / 'models'}",
        "extras.print_config=false",
    ]
