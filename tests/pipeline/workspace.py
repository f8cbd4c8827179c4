"""A throwaway clone of this repository with the tiny pipeline config, where tests run the real DVC CLI."""

from __future__ import annotations

import bz2
import csv
import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

from tests.cli import REPO_ROOT, cli_env
from tests.generation_helpers import save_tiny_causal_lm, write_corpus
from tests.helpers import toy_reviews
from tests.ner_helpers import toy_sentences, write_conll

# What a fresh clone has that the pipeline needs (the package itself is installed in editable mode).
CLONED = ("configs", "src", ".dvc/config", ".dvcignore", "dvc.yaml", "prepare.py", "train.py", "export.py", "eval.py")

TINY_PIPELINE = """\
# The pipeline config shrunk for tests: tiny random BERT, toy data in the real raw files, two CPU epochs, fp32.
defaults:
  - pipeline
  - override /trainer: default
  - override /logger: csv
  - _self_

model:
  pretrained: {pretrained}
  optimizer:
    lr: 3.0e-3
data:
  batch_size: 16
trainer:
  max_epochs: 2
  enable_model_summary: false
extras:
  print_config: false
prepare:
  restore_from: null
quantize: false
variant: fp32
"""

TINY_PIPELINE_NER = """\
# The tiny pipeline's NER branch, as configs/pipeline_ner.yaml makes the real one.
defaults:
  - tiny_pipeline
  - override /task: ner
  - _self_

branch: ner
"""

TINY_PIPELINE_GENERATION = """\
# The tiny pipeline's text-generation branch, as configs/pipeline_generation.yaml makes the real one: a tiny random
# Llama on a toy play, exported fp32 with small parity checks.
defaults:
  - tiny_pipeline
  - override /task: generation
  - _self_

branch: generation
model:
  pretrained: {causal_lm}
data:
  block_size: 32
  batch_size: 8
precision: fp32
parity:
  greedy_prompts: 2
  prompt_tokens: 8
  new_tokens: 8
  max_blocks: 4
"""


def make_workspace(root: Path, pretrained: Path) -> Path:
    """Copy the pipeline into ``root``, add toy raw data as ``data.dvc``, compose the params files, commit.

    ``pretrained`` is the encoder branches' model; the generation branch's tiny Llama is made beside ``root``.
    """
    causal_lm = save_tiny_causal_lm(root.parent / f"{root.name}-causal-lm")
    for name in CLONED:
        source, target = REPO_ROOT / name, root / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.is_dir():
            shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
        else:
            shutil.copy2(source, target)
    (root / "configs" / "tiny_pipeline.yaml").write_text(TINY_PIPELINE.format(pretrained=pretrained))
    (root / "configs" / "tiny_pipeline_ner.yaml").write_text(TINY_PIPELINE_NER)
    (root / "configs" / "tiny_pipeline_generation.yaml").write_text(
        TINY_PIPELINE_GENERATION.format(causal_lm=causal_lm)
    )
    write_raw_data(root / "data" / "raw")
    git(root, "init", "-q")
    dvc(root, "config", "hydra.config_name", "tiny_pipeline")
    dvc(root, "add", "-q", "data/raw")  # writes data/raw.dvc; the repository keeps it at the top level
    stage_file = root / "data" / "raw.dvc"
    (root / "data.dvc").write_text(stage_file.read_text().replace("path: raw\n", "path: data/raw\n"))
    stage_file.unlink()
    run(root, sys.executable, "-m", "nlpops.utils.dvc_params")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "tiny pipeline")
    return root


def write_raw_data(folder: Path) -> None:
    """Toy reviews, tagged sentences and a play under the raw files' real names and formats (dvc.yaml names them)."""
    folder.mkdir(parents=True)
    reviews = [{"category": row["sentiment"], "text": row["review"]} for row in toy_reviews(240)]
    with bz2.open(folder / "rotten_tomatoes_corpus_full.csv.bz2", "wt", newline="", encoding="utf-8") as file:
        writer = csv.DictWriter(file, fieldnames=["category", "text"])
        writer.writeheader()
        writer.writerows(reviews)
    write_conll(folder / "ner_tweets.txt", toy_sentences(200))
    write_corpus(folder / "hamlet.txt")


def env() -> dict[str, str]:
    """The test environment, with this interpreter's ``python`` and ``dvc`` first on PATH (stage commands)."""
    base = cli_env(GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@t", GIT_COMMITTER_NAME="t", GIT_COMMITTER_EMAIL="t@t")
    return {**base, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{base['PATH']}"}


def run(root: Path, *command: str, check: bool = True, **extra_env: str) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(command, cwd=root, env={**env(), **extra_env}, capture_output=True, text=True, timeout=900)
    if check and result.returncode != 0:
        raise AssertionError(f"{' '.join(command)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    return result


def dvc(root: Path, *args: str, check: bool = True, **extra_env: str) -> subprocess.CompletedProcess[str]:
    return run(root, str(Path(sys.executable).parent / "dvc"), *args, check=check, **extra_env)


def git(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return run(root, "git", *args)


def stages_run(output: str) -> list[str]:
    """Names of the stages a ``dvc repro`` / ``dvc exp run`` output says it ran."""
    return [line.split("'")[1] for line in output.splitlines() if line.startswith("Running stage '")]


def checksums(root: Path, *paths: str) -> dict[str, str]:
    """sha256 of every file under ``paths`` (relative to ``root``)."""
    found = {}
    for path in (root / name for name in paths):
        for file in sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]:
            found[str(file.relative_to(root))] = hashlib.sha256(file.read_bytes()).hexdigest()
    return found
