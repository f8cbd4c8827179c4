"""Causal language modelling: a pretrained decoder fine-tuned on text (LoRA by default), judged by perplexity."""

from __future__ import annotations

import copy
import logging
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import Tensor
from torchmetrics import MeanMetric
from transformers import AutoModelForCausalLM, PreTrainedTokenizerBase

from nlpops.errors import UserError
from nlpops.models.base import STAGES, TransformerModule, load_pretrained

log = logging.getLogger(__name__)

PRETRAINED = "val/perplexity_pretrained"  # the pretrained model's validation perplexity: what fine-tuning improves


class CausalLanguageModel(TransformerModule):
    """Fine-tunes ``AutoModelForCausalLM``, through LoRA adapters (``lora``) or all its weights (``lora=None``).

    Logs ``{stage}/loss`` (mean cross-entropy per predicted token) and ``{stage}/perplexity``, the exp of the mean
    over the whole split's tokens (summed over processes under DDP), and ``val/perplexity_best``. Before the first
    training step it measures the pretrained model on the validation split once, logged as ``val/perplexity_pretrained``
    at every validation; the value is kept in checkpoints, so a resumed run reports the same figure.
    ``save_pretrained`` merges the adapters: the saved folder is a plain model that loads without peft.
    """

    monitor = "val/perplexity"  # configs/task/generation.yaml says the same to checkpointing and early stopping
    monitor_mode = "min"

    def __init__(self, pretrained: str, lora: Mapping[str, Any] | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.save_hyperparameters(logger=False)
        model = load_pretrained(AutoModelForCausalLM, pretrained)
        self.model = with_lora(model, lora) if lora else model
        for stage in STAGES:  # attributes, not a ModuleDict: "train" would clash with nn.Module.train
            setattr(self, f"{stage}_nll", MeanMetric())
        self.pretrained_perplexity: float | None = None

    def _nll(self, stage: str) -> MeanMetric:
        return getattr(self, f"{stage}_nll")

    def step(self, batch: dict[str, Tensor], stage: str) -> Tensor:
        output = self.model(**batch)
        predicted = int(batch["attention_mask"][:, 1:].sum())  # every token but each block's first is predicted
        self._nll(stage).update(output.loss.detach().float(), weight=predicted)
        self.log_loss(stage, output.loss, batch_size=len(batch["input_ids"]))
        return output.loss

    def _log_perplexity(self, stage: str) -> None:
        """Log exp(mean loss per token) over the epoch (every process's tokens: MeanMetric syncs) and reset."""
        metric = self._nll(stage)
        if metric.update_count:
            self.log(f"{stage}/perplexity", perplexity(float(metric.compute())), prog_bar=stage != "train")
        metric.reset()

    def on_train_epoch_end(self) -> None:
        self._log_perplexity("train")

    def on_validation_epoch_end(self) -> None:
        self._log_perplexity("val")
        if self.pretrained_perplexity is not None and not self.trainer.sanity_checking:
            self.log(PRETRAINED, self.pretrained_perplexity, sync_dist=True)
        super().on_validation_epoch_end()  # after val/perplexity is logged: it tracks its best

    def on_test_epoch_end(self) -> None:
        self._log_perplexity("test")

    def on_train_start(self) -> None:
        """Measure the pretrained model's validation perplexity once (a resumed run has it from its checkpoint)."""
        if self.pretrained_perplexity is None:
            self.pretrained_perplexity = self._measure_validation_perplexity()
            log.info("Pretrained model's validation perplexity: %.3f", self.pretrained_perplexity)

    @torch.no_grad()
    def _measure_validation_perplexity(self) -> float:
        """The validation perplexity of the weights as they are, over the batches validation itself will see."""
        metric = MeanMetric().to(self.device)
        loader = self.trainer.datamodule.val_dataloader()
        was_training = self.training
        self.eval()
        try:
            for batch in _limited(loader, self.trainer.limit_val_batches):
                batch = {key: value.to(self.device) for key, value in batch.items()}
                with self.trainer.precision_plugin.forward_context():
                    loss = self.model(**batch).loss
                metric.update(loss.float(), weight=int(batch["attention_mask"][:, 1:].sum()))
        finally:
            self.train(was_training)
        return perplexity(float(metric.compute()))

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        checkpoint[PRETRAINED] = self.pretrained_perplexity

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        self.pretrained_perplexity = checkpoint.get(PRETRAINED)

    def save_pretrained(self, directory: Path, tokenizer: PreTrainedTokenizerBase) -> None:
        """Write a plain Hugging Face causal LM (LoRA merged into a copy of the weights), its generation config
        and tokenizer: what the export and ``generate.py`` load with ``AutoModelForCausalLM``."""
        model = copy.deepcopy(self.model).merge_and_unload() if self.hparams.lora else self.model
        model.save_pretrained(directory)
        tokenizer.save_pretrained(directory)


def with_lora(model: torch.nn.Module, lora: Mapping[str, Any]) -> torch.nn.Module:
    """``model`` with LoRA adapters (``r``, ``alpha``, ``dropout``, ``target_modules``): only they are trained."""
    from peft import LoraConfig, TaskType, get_peft_model

    settings = dict(lora)
    unknown = set(settings) - {"r", "alpha", "dropout", "target_modules"}
    if unknown:
        raise UserError(f"model.lora has unknown keys {sorted(unknown)}: use r, alpha, dropout, target_modules")
    config = LoraConfig(
        task_type=TaskType.CAUSAL_LM,
        r=settings.get("r", 8),
        lora_alpha=settings.get("alpha", 16),
        lora_dropout=settings.get("dropout", 0.0),
        target_modules=_modules(settings.get("target_modules", "all-linear")),
    )
    try:
        model = get_peft_model(model, config)
    except ValueError as err:
        raise UserError(f"cannot add LoRA adapters: {str(err).splitlines()[0]} (check model.lora)") from err
    trainable, total = model.get_nb_trainable_parameters()
    log.info("LoRA r=%d: %d trainable parameters of %d (%.2f%%)", config.r, trainable, total, 100 * trainable / total)
    return model


def _modules(target_modules: str | Sequence[str]) -> str | list[str]:
    """peft's ``target_modules``: a list of module names, or a string it reads as a name pattern (``all-linear``)."""
    return target_modules if isinstance(target_modules, str) else list(target_modules)


def perplexity(mean_loss: float) -> float:
    """exp of the mean cross-entropy per token (inf past what a float holds)."""
    return math.exp(mean_loss) if mean_loss < 700 else math.inf


def _limited(loader: Any, limit: int | float | None) -> Any:
    """The first batches of ``loader`` as Lightning's ``limit_val_batches`` would take them."""
    count = len(loader)
    if isinstance(limit, float) and limit < 1.0:
        count = int(count * limit)
    elif isinstance(limit, int):
        count = min(count, limit)
    return (batch for _, batch in zip(range(count), loader, strict=False))
