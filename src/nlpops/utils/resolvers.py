"""OmegaConf resolvers the configs use; importing this module registers them (entry points do)."""

from __future__ import annotations

import hashlib
import os
import re

from omegaconf import OmegaConf

from nlpops.utils.machine import has_native_bf16

MAX_SLUG = 80


def run_slug(overrides: str) -> str:
    """A folder name for a run, derived from its command-line overrides.

    The same command maps to the same folder, which is how a re-run finds the checkpoint of a killed run.
    Only ``[A-Za-z0-9._-]`` are kept, so paths inside the folder can be passed back as Hydra overrides.
    """
    if not overrides:
        return "default"
    slug = re.sub(r"[^A-Za-z0-9._-]+", "_", overrides.replace("=", "-").replace(",", "__"))
    if len(slug) > MAX_SLUG:
        slug = f"{slug[: MAX_SLUG - 9]}-{hashlib.sha1(overrides.encode()).hexdigest()[:8]}"
    return slug


def wandb_offline() -> bool:
    """W&B runs offline unless the user asked for online mode or configured an API key."""
    mode = os.environ.get("WANDB_MODE", "").lower()
    if mode:
        return mode != "online"
    return not os.environ.get("WANDB_API_KEY")


def cpu_precision() -> str:
    """``bf16-mixed`` where the CPU computes in bf16 natively (AVX-512 BF16 or AMX), else ``32-true``.

    Elsewhere PyTorch emulates bf16 and training runs many times slower than in fp32 (figures:
    docs/training-performance.md), so the default CPU trainer picks per machine, where the run starts.
    """
    return "bf16-mixed" if has_native_bf16() else "32-true"


def register() -> None:
    OmegaConf.register_new_resolver("run_slug", run_slug, replace=True)
    OmegaConf.register_new_resolver("wandb_offline", wandb_offline, replace=True)
    OmegaConf.register_new_resolver("cpu_precision", cpu_precision, replace=True)


register()
