"""A tiny text-generation artifact, written by the export itself (``export_generator``: GenAI builder, int8)."""

from __future__ import annotations

from pathlib import Path

from transformers import AutoTokenizer

from nlpops.export.generation import ParityData, export_generator
from tests.generation_helpers import save_tiny_causal_lm, toy_corpus

CONTEXT = 256  # the tiny model's max_position_embeddings
BLOCK = 64


def build_tiny_generation_artifact(directory: Path) -> Path:
    """The tiny random Llama exported and parity-checked on blocks of the toy corpus (offline, ~10 s)."""
    hf = save_tiny_causal_lm(directory.parent / f"{directory.name}-hf")
    ids = AutoTokenizer.from_pretrained(hf)(toy_corpus())["input_ids"]
    blocks = [ids[start : start + BLOCK] for start in range(0, len(ids) - BLOCK + 1, BLOCK)][:8]
    export_generator(hf, directory, ParityData([b[:16] for b in blocks[:2]], blocks, new_tokens=8), "int8", CONTEXT)
    return directory
