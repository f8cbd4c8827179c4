"""Training throughput (samples/s) of the real training loop on the default model and data.

Builds the DataModule, LightningModule and Trainer from the same Hydra config as ``train.py`` and times
optimizer steps after a warm-up, for each precision and batching setting. Prints a Markdown table.
Hydra overrides after the options apply to every setting (the trainer, the batch size, the model):

    python benchmarks/train_throughput.py --steps 40
    python benchmarks/train_throughput.py trainer=gpu data.batch_size=128
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from hydra import compose, initialize_config_dir
from hydra.errors import HydraException
from omegaconf import DictConfig, open_dict

import nlpops.utils.resolvers  # noqa: F401
from nlpops.errors import UserError
from nlpops.utils.instantiate import build, check_config
from nlpops.utils.machine import describe

if TYPE_CHECKING:
    from lightning.pytorch import Callback

CONFIG_DIR = Path(__file__).resolve().parents[1] / "configs"
SETTINGS = {
    "fp32, random batches": ["trainer.precision=32-true", "data.group_by_length=false"],
    "bf16, random batches": ["trainer.precision=bf16-mixed", "data.group_by_length=false"],
    "fp32, length-grouped": ["trainer.precision=32-true", "data.group_by_length=true"],
    "bf16, length-grouped (default on bf16 CPUs)": ["trainer.precision=bf16-mixed", "data.group_by_length=true"],
}


def step_timer(warmup: int) -> Callback:
    """A callback counting samples and wall time of training batches after ``warmup`` batches.

    Its class is made here, not at import: importing Lightning takes seconds that ``--help`` should not wait.
    """
    from lightning.pytorch import Callback

    class StepTimer(Callback):
        def __init__(self) -> None:
            self.samples, self.started = 0, 0.0

        def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
            if batch_idx == warmup:
                self.started = time.perf_counter()

        def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
            if batch_idx >= warmup:
                self.samples += len(batch["labels"])

        @property
        def samples_per_second(self) -> float:
            return self.samples / (time.perf_counter() - self.started)

    return StepTimer()


def compose_config(overrides: list[str]) -> DictConfig:
    """``train.py``'s config under ``overrides``."""
    with initialize_config_dir(str(CONFIG_DIR), version_base="1.3"):
        return compose("train", overrides=overrides, return_hydra_config=True)


def measure(overrides: list[str], steps: int, warmup: int) -> float:
    """Samples/s of ``steps`` optimizer steps after ``warmup`` untimed ones, under the composed config."""
    from lightning.pytorch import seed_everything

    cfg = compose_config(overrides)
    with open_dict(cfg):
        cfg.paths.output_dir = "/tmp/nlpops-bench"
        cfg.hydra.runtime.cwd = str(CONFIG_DIR.parent)
    check_config(cfg, "data", "model", "trainer")
    seed_everything(cfg.seed)
    datamodule = build(cfg, "data")
    datamodule.setup("fit")
    model = build(cfg, "model", **datamodule.model_kwargs())
    timer = step_timer(warmup)
    trainer = build(
        cfg,
        "trainer",
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
    parser.add_argument("--steps", type=int, default=40, help="timed optimizer steps per setting (default: 40)")
    parser.add_argument("--warmup", type=int, default=5, help="untimed steps first (default: 5)")
    parser.add_argument("--only", choices=list(SETTINGS), help="measure one setting")
    parser.add_argument("overrides", nargs="*", help="Hydra overrides for every setting, e.g. trainer=gpu")
    args = parser.parse_args()
    if args.steps < 1:
        parser.error(f"--steps must be at least 1 (got {args.steps})")
    if args.warmup < 0:
        parser.error(f"--warmup must be 0 or more (got {args.warmup})")
    try:
        compose_config(args.overrides)
    except HydraException as err:
        parser.error(f"bad override: {err}")
    import torch  # after the checks: importing it takes seconds

    gpus = ", ".join(torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())) or "none"
    print(f"{describe()}; GPUs: {gpus}; torch {torch.__version__}, {torch.get_num_threads()} threads")
    print(f"overrides: {' '.join(args.overrides) or 'none'} (default: batch 32, max length 64)\n")
    print("| setting | samples/s |\n|---|---|")
    for name, overrides in SETTINGS.items():
        if args.only and name != args.only:
            continue
        try:
            rate = measure([*overrides, *args.overrides], args.steps, args.warmup)
        except UserError as err:  # a bad value: data.batch_size=0, trainer=gpu without a GPU
            print(f"error: {err}", file=sys.stderr)
            raise SystemExit(2) from None
        print(f"| {name} | {rate:.1f} |", flush=True)


if __name__ == "__main__":
    main()
