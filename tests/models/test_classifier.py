import shutil

import pytest
import torch
from hydra.utils import instantiate
from omegaconf import OmegaConf

from nlpops.errors import UserError
from nlpops.models import TextClassifier
from nlpops.models.base import TransformerModule

ID2LABEL = {0: "negative", 1: "positive"}


def adamw():
    return instantiate(OmegaConf.create({"_target_": "torch.optim.AdamW", "_partial_": True, "lr": 1e-2}))


def make_model(pretrained, **kwargs) -> TextClassifier:
    return TextClassifier(pretrained=str(pretrained), id2label=ID2LABEL, optimizer=adamw(), **kwargs)


def batch(size: int = 8) -> dict[str, torch.Tensor]:
    generator = torch.Generator().manual_seed(0)
    return {
        "input_ids": torch.randint(5, 100, (size, 12), generator=generator),
        "attention_mask": torch.ones(size, 12, dtype=torch.long),
        "labels": torch.arange(size) % 2,
    }


def test_forward_gives_logits_per_label_and_the_label_map_is_in_the_config(tiny_pretrained):
    model = make_model(tiny_pretrained)
    inputs = batch()
    logits = model(inputs["input_ids"], inputs["attention_mask"])
    assert logits.shape == (8, 2)
    assert model.model.config.id2label == ID2LABEL
    assert model.model.training  # Lightning keeps submodule modes, so the backbone must start in train mode


def test_string_keys_from_yaml_or_json_are_accepted(tiny_pretrained):
    model = make_model(tiny_pretrained)
    assert TextClassifier(str(tiny_pretrained), {"0": "a", "1": "b"}, optimizer=model.optimizer_factory).id2label == {
        0: "a",
        1: "b",
    }


def test_optimizer_steps_reduce_the_loss(tiny_pretrained):
    torch.manual_seed(0)
    model = make_model(tiny_pretrained)
    optimizer = model.configure_optimizers()
    inputs = batch()
    losses = []
    for _ in range(15):
        loss = model.model(**inputs).loss
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0] / 2


def test_no_weight_decay_on_biases_and_norms(tiny_pretrained):
    optimizer = make_model(tiny_pretrained, weight_decay=0.1).configure_optimizers()
    decay, no_decay = optimizer.param_groups
    assert decay["weight_decay"] == 0.1 and no_decay["weight_decay"] == 0.0
    assert all(p.dim() > 1 for p in decay["params"])
    assert all(p.dim() == 1 for p in no_decay["params"])


def test_bad_warmup_ratio_and_missing_weights_are_user_errors(tiny_pretrained, tmp_path):
    with pytest.raises(UserError, match=r"model\.warmup_ratio"):
        make_model(tiny_pretrained, warmup_ratio=1.5)
    with pytest.raises(UserError, match="cannot load pretrained model"):
        make_model(tmp_path / "missing")


class LossTracker(TransformerModule):
    """A task judged by a metric to minimise."""

    monitor = "val/loss"
    monitor_mode = "min"


def test_the_best_monitored_value_is_kept_in_checkpoints_under_the_metric_name(tiny_pretrained):
    assert "val_acc_best.max_value" in make_model(tiny_pretrained).state_dict()  # as checkpoints have always held it
    tracker = LossTracker(optimizer=adamw())
    assert tracker.best_name == "val/loss_best" and "val_loss_best.min_value" in tracker.state_dict()


def test_only_gaps_in_the_pretrained_backbone_are_reported_not_the_new_head(tiny_pretrained, tmp_path, caplog):
    from safetensors.torch import load_file, save_file
    from transformers import AutoModelForSequenceClassification

    from nlpops.models.base import load_pretrained

    with caplog.at_level("WARNING"):
        load_pretrained(AutoModelForSequenceClassification, str(tiny_pretrained), num_labels=2)
    assert caplog.records == []  # the classifier head is new on every fine-tuning run: nothing to report

    broken = tmp_path / "broken"
    shutil.copytree(tiny_pretrained, broken)
    weights = load_file(broken / "model.safetensors")
    dropped = [name for name in weights if "layer.1.output.dense" in name]
    save_file({k: v for k, v in weights.items() if k not in dropped}, broken / "model.safetensors")
    with caplog.at_level("WARNING"):
        load_pretrained(AutoModelForSequenceClassification, str(broken), num_labels=2)
    [record] = caplog.records
    assert f"{len(dropped)} backbone weights are missing from the checkpoint {broken}" in record.getMessage()
