"""Training throughput (samples/s) of the real training loop on the default model and data.

Builds the DataModule, LightningModule and Trainer from the same Hydra config as ``train.py`` and times
optimizer steps after a warm-up, for each precision and batching setting. Prints a Markdown table.

    python benchmarks/train_throughput.py --steps 40
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate
from lightning.pytorch import Callback, seed_everything
from omegaconf import open_dict

import nlpops.utils.resolvers  # noqa: F401
from nlpops.utils.machine import describe

CONFIG_DIR = Path(__file__).resolve().parents[1] / "configs"
SETTINGS = {
    "fp32, random batches": ["trainer.precision=32-true", "data.group_by_length=false"],
    "bf16, random batches": ["trainer.precision=bf16-mixed", "data.group_by_length=false"],
    "fp32, length-grouped": ["trainer.precision=32-true", "data.group_by_length=true"],
    "bf16, length-grouped (default on bf16 CPUs)": ["trainer.precision=bf16-mixed", "data.group_by_length=true"],
}


class StepTimer(Callback):
    """Counts samples and wall time of training batches after ``warmup`` batches."""

    def __init__(self, warmup: int) -> None:
        self.warmup, self.samples, self.started = warmup, 0, 0.0

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        if batch_idx == self.warmup:
            self.started = time.perf_counter()

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        if batch_idx >= self.warmup:
            self.samples += len(batch["labels"])

    @property
    def samples_per_second(self) -> float:
        return self.samples / (time.perf_counter() - self.started)


def measure(overrides: list[str], steps: int, warmup: int) -> float:
    with initialize_config_dir(str(CONFIG_DIR), version_base="1.3"):
        cfg = compose("train", overrides=overrides, return_hydra_config=True)
    with open_dict(cfg):
        cfg.paths.output_dir = "/tmp/nlpops-bench"
        cfg.hydra.runtime.cwd = str(CONFIG_DIR.parent)
    seed_everything(cfg.seed)
    datamodule = instantiate(cfg.data)
    datamodule.setup("fit")
    model = instantiate(cfg.model, id2label=datamodule.id2label)
    timer = StepTimer(warmup)
    trainer = instantiate(
        cfg.trainer,
        callbacks=[timer],
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        max_steps=warmup + steps,
        limit_val_batches=0,
        num_sanity_val_steps=0,
    )
    trainer.fit(model, datamodule=datamodule)
    return timer.samples_per_second


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=40, help="timed optimizer steps per setting")
    parser.add_argument("--warmup", type=int, default=5, help="untimed steps first")
    parser.add_argument("--only", choices=list(SETTINGS), help="measure one setting")
    args = parser.parse_args()
    print(f"{describe()}; torch {torch.__version__}, {torch.get_num_threads()} threads, batch 32, max length 64\n")
    print("| setting | samples/s |\n|---|---|")
    for name, overrides in SETTINGS.items():
        if args.only and name != args.only:
            continue
        rate = measure(overrides, args.steps, args.warmup)
        print(f"| {name} | {rate:.1f} |", flush=True)


if __name__ == "__main__":
    main()
