"""Tiny, fast stand-ins for the real assets: a random BERT with its own tokenizer, and a toy dataset."""

from __future__ import annotations

import csv
import random
from pathlib import Path

import torch
from tokenizers import BertWordPieceTokenizer
from tokenizers.normalizers import BertNormalizer
from tokenizers.pre_tokenizers import BertPreTokenizer
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


SPECIAL_TOKENS = {
    "pad_token": "[PAD]",
    "unk_token": "[UNK]",
    "cls_token": "[CLS]",
    "sep_token": "[SEP]",
    "mask_token": "[MASK]",
}


def save_tiny_pretrained(directory: Path) -> Path:
    """A randomly initialised 2-layer BERT (hidden 32) and a WordPiece tokenizer for the toy data.

    Both are the same in every session (seeded weights, a vocabulary built in sorted order), so the tiny models
    the tests train and export from it, and their parity figures, do not change from run to run.
    """
    corpus = [row["review"] for row in toy_reviews()] + POSITIVE + NEGATIVE + FILLER
    wordpiece = BertWordPieceTokenizer(vocab=_toy_vocab(corpus), lowercase=True)
    tokenizer = BertTokenizerFast(tokenizer_object=wordpiece._tokenizer, model_max_length=128, **SPECIAL_TOKENS)
    config = BertConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=128,
    )
    with torch.random.fork_rng():
        torch.manual_seed(0)
        model = BertModel(config)
    model.save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return directory


def _toy_vocab(corpus: list[str]) -> dict[str, int]:
    """Every word of ``corpus`` whole, plus its characters (alone and as ``##`` pieces) so any text tokenizes.

    Built rather than trained: the WordPiece trainer breaks ties in whatever order its hash maps give, which
    changed the vocabulary, and so the tiny model, in every process.
    """
    normalizer, pre_tokenizer = BertNormalizer(lowercase=True), BertPreTokenizer()
    words = {word for text in corpus for word, _ in pre_tokenizer.pre_tokenize_str(normalizer.normalize_str(text))}
    characters = {character for word in words for character in word}
    tokens = [*SPECIAL_TOKENS.values(), *sorted(words | characters), *sorted(f"##{c}" for c in characters)]
    return {token: index for index, token in enumerate(tokens)}


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
