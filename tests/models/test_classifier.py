import pytest
import torch
from hydra.utils import instantiate
from omegaconf import OmegaConf

from nlpops.errors import UserError
from nlpops.models import TextClassifier

ID2LABEL = {0: "negative", 1: "positive"}


def make_model(pretrained, **kwargs) -> TextClassifier:
    optimizer = instantiate(OmegaConf.create({"_target_": "torch.optim.AdamW", "_partial_": True, "lr": 1e-2}))
    return TextClassifier(pretrained=str(pretrained), id2label=ID2LABEL, optimizer=optimizer, **kwargs)


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
