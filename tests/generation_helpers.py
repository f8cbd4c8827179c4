"""Tiny stand-ins for SmolLM2 and Hamlet: a random 2-layer Llama with a byte-level BPE tokenizer, and a toy corpus."""

from __future__ import annotations

import random
from pathlib import Path

import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

from tests.helpers import FILLER, NEGATIVE, POSITIVE

SPECIAL_TOKENS = {"bos_token": "<|im_start|>", "eos_token": "<|im_end|>", "pad_token": "<|endoftext|>"}
SPEAKERS = ["HAMLET", "HORATIO", "OPHELIA", "GERTRUDE", "POLONIUS"]


def toy_corpus(lines: int = 400, seed: int = 0) -> str:
    """A play-like text (a speaker, then a line of words): structured enough that a tiny model learns it fast."""
    rng = random.Random(seed)
    words = FILLER + POSITIVE + NEGATIVE
    parts = []
    for _ in range(lines):
        parts.append(f"{rng.choice(SPEAKERS)}. {' '.join(rng.choices(words, k=rng.randint(4, 10))).capitalize()}.")
    return "\n".join(parts) + "\n"


def save_tiny_causal_lm(directory: Path, vocab_size: int = 300) -> Path:
    """A random Llama (2 layers, hidden 64) and a byte-level BPE tokenizer trained on ``toy_corpus``.

    Four heads of 16: ONNX Runtime GenAI's attention kernel takes no smaller head. The same in every session
    (seeded weights; the tokenizer trained on a fixed corpus came out byte for byte the same in every process tried).
    """
    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    bpe.post_processor = processors.ByteLevel(trim_offsets=False)
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=list(SPECIAL_TOKENS.values()),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    bpe.train_from_iterator(toy_corpus().splitlines(), trainer=trainer)
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=bpe, model_max_length=256, **SPECIAL_TOKENS)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=256,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        tie_word_embeddings=True,
    )
    with torch.random.fork_rng():
        torch.manual_seed(0)
        model = LlamaForCausalLM(config)
    model.save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return directory


def write_corpus(path: Path, text: str | None = None) -> Path:
    path.write_text(toy_corpus() if text is None else text, encoding="utf-8")
    return path


def generation_overrides(pretrained: Path, corpus: Path, root: Path) -> list[str]:
    """Overrides that point ``train.py task=generation`` at the tiny model and a toy corpus, writing under ``root``."""
    return [
        "task=generation",
        f"model.pretrained={pretrained}",
        f"data.source={corpus}",
        "data.block_size=64",
        "data.batch_size=8",
        "model.optimizer.lr=3e-3",
        "trainer=default",
        "logger=csv",
        f"paths.log_dir={root / 'logs'}",
        f"paths.models_dir={root / 'models'}",
        "extras.print_config=false",
    ]
