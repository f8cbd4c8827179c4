"""GGUF → Hugging Face folder, once: the pinned SmolLM2 ships only as GGUF, and everything downstream wants a folder.

Training, the export (whose builder needs the Hub to read GGUF) and ``generate.py`` all load a plain
``from_pretrained`` folder. Loading the GGUF dequantizes it to fp32 (~20 s); the result is saved once, built in a
scratch folder under a file lock so that concurrent runs neither convert twice nor see half a folder.
"""

from __future__ import annotations

import logging
from pathlib import Path

from filelock import FileLock

from nlpops.utils.files import atomic_directory

log = logging.getLogger(__name__)


def converted(gguf_file: Path, target: Path) -> Path:
    """``target``, holding ``gguf_file`` as an fp32 Hugging Face causal LM with its tokenizer (converted if absent)."""
    if target.is_dir():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(target) + ".lock"):
        if not target.is_dir():
            log.info("Converting %s to a Hugging Face folder once, ~20 s: %s", gguf_file.name, target)
            with atomic_directory(target) as scratch:
                save_as_folder(gguf_file, scratch)
    return target


def save_as_folder(gguf_file: Path, directory: Path) -> None:
    """Write ``gguf_file``'s model (dequantized) and tokenizer to ``directory`` with ``save_pretrained``."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(gguf_file.parent, gguf_file=gguf_file.name)
    tokenizer = AutoTokenizer.from_pretrained(gguf_file.parent, gguf_file=gguf_file.name)
    # the weights are plain fp32 tensors now; the GGUF quantizer refuses to serialize what it no longer holds
    del model.config.quantization_config
    model.hf_quantizer = None
    model.save_pretrained(directory)
    tokenizer.save_pretrained(directory)
