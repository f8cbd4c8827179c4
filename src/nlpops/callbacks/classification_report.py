"""Error analysis in W&B: a confusion matrix and the misclassified validation texts after each validation."""

from __future__ import annotations

import logging

from lightning.pytorch import Callback, LightningModule, Trainer

from nlpops.callbacks.reports import report_logger

log = logging.getLogger(__name__)


class WandbClassificationReport(Callback):
    """Logs ``val/confusion_matrix`` and ``val/misclassified`` (the ``max_rows`` most confident mistakes).

    Reads ``val_probabilities`` from the module and the texts from the DataModule; does nothing when no
    W&B logger is configured. Under multi-process training each rank sees only part of the validation set,
    so the report is skipped there.
    """

    def __init__(self, max_rows: int = 100) -> None:
        self.max_rows = max_rows

    def on_validation_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        wandb_logger = report_logger(trainer)
        if wandb_logger is None:
            return
        import wandb

        examples = trainer.datamodule.examples["val"]
        probabilities = pl_module.val_probabilities
        if len(probabilities) != len(examples):  # e.g. limit_val_batches: not the whole split
            return
        labels = [pl_module.id2label[i] for i in range(len(pl_module.id2label))]
        label_ids = {label: i for i, label in enumerate(labels)}
        truth = [label_ids[e.label] for e in examples]
        confidence, predicted = probabilities.max(dim=-1)
        mistakes = sorted(
            (i for i, (p, t) in enumerate(zip(predicted.tolist(), truth, strict=True)) if p != t),
            key=lambda i: -confidence[i].item(),
        )[: self.max_rows]
        table = wandb.Table(columns=["text", "label", "predicted", "confidence"])
        for i in mistakes:
            table.add_data(examples[i].text, examples[i].label, labels[predicted[i]], round(confidence[i].item(), 4))
        wandb_logger.experiment.log(
            {
                "val/confusion_matrix": wandb.plot.confusion_matrix(
                    y_true=truth, preds=predicted.tolist(), class_names=labels
                ),
                "val/misclassified": table,
                "trainer/global_step": trainer.global_step,
            }
        )
