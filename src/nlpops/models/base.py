"""What every task's LightningModule shares: a Hugging Face model, optimizer groups, warmup, saving."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, ClassVar, Literal

from lightning.pytorch import LightningModule
from torch import Tensor
from torch.optim import Optimizer
from torch.optim.lr_scheduler import LRScheduler
from torchmetrics import MaxMetric, MinMetric
from transformers import PreTrainedModel, PreTrainedTokenizerBase

from nlpops.errors import UserError
from nlpops.utils import assets
from nlpops.utils.logs import quiet

log = logging.getLogger(__name__)

STAGES = ("train", "val", "test")
NO_DECAY = ("bias", "LayerNorm.weight", "layer_norm.weight", "norm.weight")
BEST = {"max": MaxMetric, "min": MinMetric}


class TransformerModule(LightningModule):
    """Base module: subclasses set ``self.model`` and define their steps and metrics.

    A subclass names the validation metric it is judged by (``monitor``, to maximise or minimise as
    ``monitor_mode`` says; the task's config gives checkpointing and early stopping the same), and the base
    logs its best value so far as ``<monitor>_best`` after each validation: what sweepers optimise.
    ``optimizer`` and ``scheduler`` are partial callables (Hydra ``_partial_: true`` configs); the
    scheduler gets ``num_warmup_steps`` and ``num_training_steps`` from the trainer's step estimate.
    """

    model: PreTrainedModel
    monitor: ClassVar[str]
    monitor_mode: ClassVar[Literal["max", "min"]]

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
        best = BEST[self.monitor_mode]()
        best.persistent(True)  # kept in checkpoints, so a resumed run reports the same best
        # named after the metric (val/acc: val_acc_best), as checkpoints have always held it
        setattr(self, _attribute(self.best_name), best)

    def forward(self, input_ids: Tensor, attention_mask: Tensor) -> Tensor:
        """The model's logits: the head's output before any task's post-processing."""
        return self.model(input_ids=input_ids, attention_mask=attention_mask).logits

    def step(self, batch: dict[str, Tensor], stage: str) -> Tensor:
        """``batch``'s loss in ``stage`` (train, val or test), the task's metrics updated: what each step runs."""
        raise NotImplementedError(f"{type(self).__name__} must define step(batch, stage)")

    def training_step(self, batch: dict[str, Tensor], batch_idx: int) -> Tensor:
        return self.step(batch, "train")

    def validation_step(self, batch: dict[str, Tensor], batch_idx: int) -> None:
        self.step(batch, "val")

    def test_step(self, batch: dict[str, Tensor], batch_idx: int) -> None:
        self.step(batch, "test")

    def log_loss(self, stage: str, loss: Tensor, batch_size: int) -> None:
        """Log ``{stage}/loss``: per step and epoch in training, per epoch (averaged over processes) otherwise."""
        self.log(
            f"{stage}/loss",
            loss,
            on_step=stage == "train",
            on_epoch=True,
            prog_bar=True,
            batch_size=batch_size,
            sync_dist=stage != "train",  # averaged over processes under DDP; per-step train loss stays local
        )

    @property
    def best_name(self) -> str:
        """The name the best value of the monitored metric is logged under."""
        return f"{self.monitor}_best"

    def on_validation_epoch_end(self) -> None:
        """Log the best monitored value so far (this epoch's is logged already: Lightning computed it)."""
        if self.trainer.sanity_checking:
            return
        best = getattr(self, _attribute(self.best_name))
        best.update(self.trainer.callback_metrics[self.monitor])
        self.log(self.best_name, best.compute(), prog_bar=True, sync_dist=True)

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


def _attribute(metric: str) -> str:
    return metric.replace("/", "_")


def label_config(id2label: Mapping[int, str]) -> dict[str, Any]:
    """The ``from_pretrained`` arguments that size a model's label head and name its labels (in ``config.json``)."""
    return {"num_labels": len(id2label), "id2label": dict(id2label), "label2id": {v: k for k, v in id2label.items()}}


def load_pretrained(auto_class: Any, name_or_path: str, **kwargs: Any) -> PreTrainedModel:
    """Load weights from ``asset:NAME``, a local folder or a Hub id, with a clear error when that fails."""
    try:
        with quiet("transformers"):  # its load report calls the new task head "missing": see report_backbone_gaps
            model, loading = auto_class.from_pretrained(
                assets.resolve(name_or_path), output_loading_info=True, **kwargs
            )
    except (OSError, ValueError) as err:
        raise UserError(
            f"cannot load pretrained model '{name_or_path}': {str(err).splitlines()[0]} "
            "(set model.pretrained to a local folder, a Hub id, or asset:all-minilm-l6-v2)"
        ) from err
    report_backbone_gaps(model, loading, name_or_path)
    return model.train()  # from_pretrained returns eval mode, and Lightning keeps submodule modes as found


def report_backbone_gaps(model: PreTrainedModel, loading: dict[str, Any], name: str) -> None:
    """Warn about backbone weights the checkpoint lacked or had in another shape: those start from random values.

    A fine-tuning run always starts its task head from random values, which transformers' load report lists as
    missing on every run; only gaps in the pretrained backbone say the checkpoint does not fit the model.
    """
    backbone = f"{model.base_model_prefix}."
    gaps = {
        "are missing from the checkpoint": sorted(k for k in loading["missing_keys"] if k.startswith(backbone)),
        "have another shape in the checkpoint": sorted(map(str, loading["mismatched_keys"])),
    }
    for problem, keys in gaps.items():
        if keys:
            log.warning(
                "%d backbone weights %s %s (e.g. %s): they start from random values", len(keys), problem, name, keys[0]
            )
