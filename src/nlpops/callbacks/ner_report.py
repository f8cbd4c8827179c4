"""Error analysis for NER in W&B after each validation: F1 per entity type, and the sentences with wrong entities."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from lightning.pytorch import Callback, LightningModule, Trainer

from nlpops.callbacks.reports import report_logger
from nlpops.tagging import entity_scores, entity_spans


class WandbNerReport(Callback):
    """Logs ``val/entity_types`` (precision, recall, F1 and gold count per type) and ``val/wrong_entities``.

    The second table holds the ``max_rows`` validation sentences with the most entities wrong (missed, or found
    with another type or other bounds), each with its entities marked as ``[words](type)``, gold next to
    predicted. Reads ``val_gold`` and ``val_predicted`` from the module and the tokens from the DataModule;
    does nothing without a W&B logger, or under multi-process training.
    """

    def __init__(self, max_rows: int = 100) -> None:
        self.max_rows = max_rows

    def on_validation_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        wandb_logger = report_logger(trainer)
        if wandb_logger is None:
            return
        examples = trainer.datamodule.examples["val"]
        if len(pl_module.val_predicted) != len(examples):  # e.g. limit_val_batches: not the whole split
            return
        import wandb

        gold, predicted = pl_module.val_gold, pl_module.val_predicted
        types = wandb.Table(columns=["type", "precision", "recall", "f1", "support"])
        for row in type_rows(gold, predicted):
            types.add_data(*row)
        wrong = wandb.Table(columns=["gold", "predicted", "wrong entities"])
        for row in wrong_rows([e.tokens for e in examples], gold, predicted)[: self.max_rows]:
            wrong.add_data(*row)
        wandb_logger.experiment.log(
            {"val/entity_types": types, "val/wrong_entities": wrong, "trainer/global_step": trainer.global_step}
        )


def type_rows(gold: Sequence[Sequence[str]], predicted: Sequence[Sequence[str]]) -> list[tuple[str, ...]]:
    """(type, precision, recall, f1, number of gold entities) for each entity type, sorted by type."""
    scores = entity_scores(gold, predicted)
    support = Counter(span[0] for tags in gold for span in entity_spans(tags))
    types = sorted({key.rsplit("/", 1)[0] for key in scores if "/" in key})
    metrics = ("precision", "recall", "f1")
    return [(kind, *(round(scores[f"{kind}/{name}"], 4) for name in metrics), support[kind]) for kind in types]


def wrong_rows(
    tokens: Sequence[Sequence[str]], gold: Sequence[Sequence[str]], predicted: Sequence[Sequence[str]]
) -> list[tuple[str, str, int]]:
    """(gold marked, predicted marked, wrong entities) of each sentence with any, most wrong first.

    Only the words the model saw are shown (``gold`` may be shorter than the sentence: ``max_length``).
    """
    rows = []
    for words, gold_tags, predicted_tags in zip(tokens, gold, predicted, strict=True):
        wrong = len(set(entity_spans(gold_tags)) ^ set(entity_spans(predicted_tags)))
        if wrong:
            seen = words[: len(gold_tags)]
            rows.append((marked(seen, gold_tags), marked(seen, predicted_tags), wrong))
    return sorted(rows, key=lambda row: -row[2])


def marked(tokens: Sequence[str], tags: Sequence[str]) -> str:
    """The sentence with each entity in brackets and its type after it: ``met [Ana Lopez](person) in Lisbon``."""
    starts = {first: (kind, end) for kind, first, end in entity_spans(tags)}
    parts, index = [], 0
    while index < len(tokens):
        if index in starts:
            kind, end = starts[index]
            parts.append(f"[{' '.join(tokens[index:end])}]({kind})")
            index = end
        else:
            parts.append(tokens[index])
            index += 1
    return " ".join(parts)
