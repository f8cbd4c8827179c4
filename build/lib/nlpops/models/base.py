"""What every task's LightningModule shares: a Hugging Face model, optimizer groups, warmup, saving."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from lightning.pytorch import LightningModule
from torch.optim import Optimizer
from torch.optim.lr_scheduler import LRScheduler
from transformers import PreTrainedModel, PreTrainedTokenizerBase

from nlpops.errors import UserError
from nlpops.utils import assets

NO_DECAY = ("bias", "LayerNorm.weight", "layer_norm.weight", "norm.weight")


class TransformerModule(LightningModule):
    """Base module: subclasses set ``self.model`` and define their steps and metrics.

    ``optimizer`` and ``scheduler`` are partial callables (Hydra ``_partial_: true`` configs); the
    scheduler gets ``num_warmup_steps`` and ``num_training_steps`` from the trainer's step estimate.
    """

    model: PreTrainedModel

    def __init__(
        self,
        optimizer: Callable[..., Optimizer],
        scheduler: Callable[..., LRScheduler] | None = None,
        warmup_ratio: float = 0.0,
        weight_decay: float = 0.01,
    ) -> None:
        super().__init__()
        if not 0 <= warmup_ratio < 1:
            raise UserError(f"model.warmup_ratio must be in [0, 1), got {warmup_ratio}")
        self.optimizer_factory = optimizer
        self.scheduler_factory = scheduler
        self.warmup_ratio = warmup_ratio
        self.weight_decay = weight_decay

    def configure_optimizers(self) -> Any:
        decay, no_decay = [], []
        for name, parameter in self.model.named_parameters():
            if parameter.requires_grad:
                (no_decay if name.endswith(NO_DECAY) else decay).append(parameter)
        optimizer = self.optimizer_factory(
            params=[
                {"params": decay, "weight_decay": self.weight_decay},
                {"params": no_decay, "weight_decay": 0.0},
            ]
        )
        if self.scheduler_factory is None:
            return optimizer
        total_steps = int(self.trainer.estimated_stepping_batches)
        scheduler = self.scheduler_factory(
            optimizer, num_warmup_steps=int(self.warmup_ratio * total_steps), num_training_steps=total_steps
        )
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "step"}}

    def save_pretrained(self, directory: Path, tokenizer: PreTrainedTokenizerBase) -> None:
        """Write the model and tokenizer in Hugging Face format (config.json carries the label map)."""
        self.model.save_pretrained(directory)
        tokenizer.save_pretrained(directory)


def load_pretrained(auto_class: Any, name_or_path: str, **kwargs: Any) -> PreTrainedModel:
    """Load weights from ``asset:NAME``, a local folder or a Hub id, with a clear error when that fails."""
    try:
        model = auto_class.from_pretrained(assets.resolve(name_or_path), **kwargs)
    except (OSError, ValueError) as err:
        raise UserError(
            f"cannot load pretrained model '{name_or_path}': {str(err).splitlines()[0]} "
            "(set model.pretrained to a local folder, a Hub id, or asset:all-minilm-l6-v2)"
        ) from err
    return model.train()  # from_pretrained returns eval mode, and Lightning keeps submodule modes as found
