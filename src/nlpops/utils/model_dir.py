"""The fine-tuned model folder ``train.py`` writes (a Hugging Face folder), checked before anything slow reads it.

Standard library only: commands check the folder before they import torch or load data.
"""

from __future__ import annotations

from pathlib import Path

from nlpops.errors import UserError

SET_IN_CONFIG = "set model_dir=PATH to a Hugging Face model folder"  # the Hydra commands' option
PASS_MODEL_DIR = "pass --model-dir a model folder train.py saved"  # the benchmarks' option


def check_model_dir(model_dir: Path, choose: str = SET_IN_CONFIG) -> None:
    """Raise unless ``model_dir`` holds a model's config and fast tokenizer; ``choose`` says how to pick another."""
    if not (Path(model_dir) / "config.json").is_file():
        raise UserError(
            f"no trained model at {model_dir} (config.json missing): run `python train.py` first or {choose}"
        )
    if not (Path(model_dir) / "tokenizer.json").is_file():
        raise UserError(f"{model_dir} has no tokenizer.json: serving needs a fast tokenizer saved with the model")
