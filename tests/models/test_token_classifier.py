"""The NER LightningModule: a tag per piece, entity-level metrics per epoch against hand-computed figures."""

import pytest
import torch
from hydra.utils import instantiate
from lightning.pytorch import Trainer
from omegaconf import OmegaConf

from nlpops.data import TokenClassificationDataModule
from nlpops.data.ner import IGNORE, WORD_STARTS
from nlpops.models import TokenClassifier
from nlpops.tagging import entity_scores
from tests.ner_helpers import toy_sentences, write_conll

LABELS = ["O", "B-person", "I-person", "B-place", "I-place"]
OUT, B_PER, I_PER, B_PLACE, I_PLACE = range(5)


def make_model(pretrained) -> TokenClassifier:
    optimizer = instantiate(OmegaConf.create({"_target_": "torch.optim.AdamW", "_partial_": True, "lr": 1e-2}))
    return TokenClassifier(
        pretrained=str(pretrained), id2label={str(i): t for i, t in enumerate(LABELS)}, optimizer=optimizer
    )


def test_logits_per_piece_and_the_tags_in_the_config(tiny_pretrained):
    model = make_model(tiny_pretrained)
    logits = model(torch.randint(5, 50, (3, 7)), torch.ones(3, 7, dtype=torch.long))
    assert logits.shape == (3, 7, len(LABELS))
    assert model.model.config.id2label == dict(enumerate(LABELS))
    assert model.model.config.label2id == {tag: i for i, tag in enumerate(LABELS)}
    assert (TokenClassifier.monitor, TokenClassifier.monitor_mode) == ("val/f1", "max")
    assert "val_f1_best.max_value" in model.state_dict()


def test_epoch_metrics_are_entity_level_and_read_each_words_first_piece(tiny_pretrained, monkeypatch):
    """Two sentences, hand-scored: gold has 3 entities, the prediction finds 1 of them and 1 that is not there."""
    model = make_model(tiny_pretrained)
    #          [CLS]   ana    ##a     lopez  in lisbon   [SEP]   padding
    labels = [
        [IGNORE, B_PER, IGNORE, I_PER, OUT, B_PLACE, IGNORE, IGNORE],
        [IGNORE, B_PER, OUT, B_PLACE, OUT, IGNORE, IGNORE, IGNORE],
    ]
    starts = [[0, 1, 0, 1, 1, 1, 0, 0], [0, 1, 1, 1, 1, 0, 0, 0]]
    guesses = [[OUT, B_PER, B_PLACE, I_PER, OUT, OUT, OUT, OUT], [OUT, B_PER, B_PER, OUT, OUT, OUT, OUT, OUT]]
    batch = {
        "input_ids": torch.randint(5, 50, (2, 8)),
        "attention_mask": torch.tensor([[1] * 7 + [0], [1] * 5 + [0] * 3]),
        "labels": torch.tensor(labels),
        WORD_STARTS: torch.tensor(starts, dtype=torch.bool),
    }
    logits = torch.nn.functional.one_hot(torch.tensor(guesses), len(LABELS)).float() * 10
    monkeypatch.setattr(model, "model", FixedLogits(model.model, logits))
    logged = {}
    monkeypatch.setattr(model, "log", lambda *args, **kwargs: None)
    monkeypatch.setattr(model, "log_dict", lambda metrics, **kwargs: logged.update(metrics))
    model.on_test_epoch_start()
    model.test_step(batch, 0)
    model.on_test_epoch_end()
    # gold words: [ana lopez](person) in [lisbon](place) | [ana](person) , [lisbon](place) .
    # predicted:  [ana lopez](person) in lisbon           | [ana](person) [,](person) lisbon .   (##a's guess ignored)
    assert logged == {
        "test/precision": pytest.approx(2 / 3),
        "test/recall": pytest.approx(2 / 4),
        "test/f1": pytest.approx(2 * (2 / 3) * (1 / 2) / (2 / 3 + 1 / 2)),
        "test/token_acc": pytest.approx(5 / 8),
        # per type, on test only: person 2 of 2 found among 3 predicted, no place predicted
        "test/person/precision": pytest.approx(2 / 3),
        "test/person/recall": 1.0,
        "test/person/f1": pytest.approx(0.8),
        "test/place/precision": 0.0,
        "test/place/recall": 0.0,
        "test/place/f1": 0.0,
    }


class FixedLogits(torch.nn.Module):
    """Stands in for the HF model: a loss of 0 and the given logits."""

    def __init__(self, model, logits):
        super().__init__()
        self.config, self.logits = model.config, logits

    def forward(self, **batch):
        return type("Output", (), {"loss": torch.tensor(0.0), "logits": self.logits})()


@pytest.mark.parametrize("label_all_tokens", [False, True])
def test_validation_reads_back_every_sentences_gold_tags_and_scores_them(tiny_pretrained, tmp_path, label_all_tokens):
    datamodule = TokenClassificationDataModule(
        source=str(write_conll(tmp_path / "toy.conll", toy_sentences(60))),
        tokenizer=str(tiny_pretrained),
        batch_size=8,
        eval_batch_size=7,
        label_all_tokens=label_all_tokens,
    )
    datamodule.setup()
    model = make_model(tiny_pretrained)
    trainer = Trainer(accelerator="cpu", logger=False, enable_checkpointing=False, enable_progress_bar=False)
    [metrics] = trainer.validate(model, datamodule=datamodule, verbose=False)
    assert model.val_gold == [list(e.tags) for e in datamodule.examples["val"]]
    assert [len(tags) for tags in model.val_predicted] == [len(e.tokens) for e in datamodule.examples["val"]]
    expected = entity_scores(model.val_gold, model.val_predicted)
    for name in ("precision", "recall", "f1"):
        assert metrics[f"val/{name}"] == pytest.approx(expected[name])
    assert {"val/loss", "val/token_acc"} <= set(metrics)


def test_training_steps_reduce_the_loss(tiny_pretrained, tmp_path, monkeypatch):
    torch.manual_seed(0)
    datamodule = TokenClassificationDataModule(
        source=str(write_conll(tmp_path / "toy.conll", toy_sentences(40))),
        tokenizer=str(tiny_pretrained),
        batch_size=16,
    )
    datamodule.setup()
    model = make_model(tiny_pretrained)
    monkeypatch.setattr(model, "log", lambda *args, **kwargs: None)  # no trainer to log to
    optimizer = model.configure_optimizers()
    batch = next(iter(datamodule.train_dataloader()))
    losses = []
    for _ in range(15):
        loss = model.training_step(dict(batch), 0)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0] / 2
