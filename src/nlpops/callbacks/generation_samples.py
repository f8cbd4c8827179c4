"""What the language model writes, after each validation: the same prompts continued, epoch after epoch.

Perplexity says how well the model predicts the validation text; reading its continuations says whether the style
it learnt is the one wanted. They go to ``samples.txt`` in the run folder (appended per epoch, kept across a
resume) and, with a W&B logger, to a ``val/samples`` table.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from lightning.pytorch import Callback, LightningModule, Trainer

from nlpops.callbacks.reports import report_logger
from nlpops.generate import Sampling, continuation


class GenerationSamples(Callback):
    """Continues each of ``prompts`` with ``sampling`` (greedy unless it has a temperature) after each validation."""

    def __init__(self, prompts: Sequence[str], path: str, sampling: Sampling | None = None) -> None:
        self.prompts = list(prompts)
        self.path = Path(path)
        self.sampling = sampling or Sampling()

    def on_validation_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        if trainer.sanity_checking or not trainer.is_global_zero or not self.prompts:
            return
        tokenizer = trainer.datamodule.tokenizer
        texts = [continuation(pl_module.model, tokenizer, prompt, self.sampling) for prompt in self.prompts]
        heading = f"== epoch {trainer.current_epoch}, step {trainer.global_step} =="
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a", encoding="utf-8") as out:
            out.write("\n\n".join([heading, *(f"{p}{t}" for p, t in zip(self.prompts, texts, strict=True))]) + "\n\n")
        wandb_logger = report_logger(trainer)
        if wandb_logger is not None:
            import wandb

            table = wandb.Table(columns=["epoch", "prompt", "continuation"])
            for prompt, text in zip(self.prompts, texts, strict=True):
                table.add_data(trainer.current_epoch, prompt, text)
            wandb_logger.experiment.log({"val/samples": table, "trainer/global_step": trainer.global_step})
