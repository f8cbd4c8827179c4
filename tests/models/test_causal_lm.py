"""The causal-LM LightningModule: LoRA or full fine-tuning, merged saves, perplexity, the pretrained baseline."""

import math
from functools import partial
from pathlib import Path

import pytest
import torch
from lightning.pytorch import Trainer
from transformers import AutoModelForCausalLM, AutoTokenizer

from nlpops.data import CausalLMDataModule
from nlpops.errors import UserError
from nlpops.models import CausalLanguageModel
from tests.generation_helpers import save_tiny_causal_lm, write_corpus

LORA = {"r": 4, "alpha": 8, "dropout": 0.0, "target_modules": ["q_proj", "v_proj"]}


@pytest.fixture(scope="module")
def tiny_lm(tmp_path_factory) -> Path:
    return save_tiny_causal_lm(tmp_path_factory.mktemp("tiny-llama"))


@pytest.fixture(scope="module")
def datamodule(tiny_lm, tmp_path_factory) -> CausalLMDataModule:
    corpus = write_corpus(tmp_path_factory.mktemp("corpus") / "corpus.txt")
    datamodule = CausalLMDataModule(source=str(corpus), tokenizer=str(tiny_lm), block_size=32, batch_size=8)
    datamodule.setup("fit")
    return datamodule


def make_model(tiny_lm: Path, lora: dict | None = LORA) -> CausalLanguageModel:
    return CausalLanguageModel(pretrained=str(tiny_lm), lora=lora, optimizer=partial(torch.optim.AdamW, lr=1e-2))


def quiet_trainer(**kwargs) -> Trainer:
    return Trainer(
        accelerator="cpu",
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        **kwargs,
    )


def test_lora_trains_only_the_adapters_and_without_it_every_weight_trains(tiny_lm):
    trainable = {n for n, p in make_model(tiny_lm).named_parameters() if p.requires_grad}
    assert trainable and all("lora_" in name for name in trainable)
    assert {n for n, p in make_model(tiny_lm, None).named_parameters() if not p.requires_grad} == set()
    with pytest.raises(UserError, match=r"model\.lora has unknown keys \['rank'\]"):
        make_model(tiny_lm, {"rank": 4})


def test_the_saved_folder_is_a_plain_model_with_the_adapters_merged(tiny_lm, tmp_path):
    model = make_model(tiny_lm)
    with torch.no_grad():  # LoRA's B starts at zero: give the adapters an effect to merge
        for name, parameter in model.named_parameters():
            if "lora_B" in name:
                parameter.normal_(std=0.5)
    model.eval()
    ids = torch.randint(0, 200, (2, 16))
    expected = model(ids, torch.ones_like(ids))
    model.save_pretrained(tmp_path, AutoTokenizer.from_pretrained(tiny_lm))
    saved = AutoModelForCausalLM.from_pretrained(tmp_path).eval()
    assert type(saved).__name__ == "LlamaForCausalLM"
    assert not any("lora" in key for key in saved.state_dict())
    torch.testing.assert_close(saved(input_ids=ids).logits, expected, atol=1e-4, rtol=1e-4)
    base = AutoModelForCausalLM.from_pretrained(tiny_lm).eval()
    assert not torch.allclose(base(input_ids=ids).logits, expected, atol=1e-3)  # the adapters did change it
    assert (tmp_path / "generation_config.json").is_file() and (tmp_path / "tokenizer.json").is_file()
    assert any("lora" in name for name, _ in model.named_parameters())  # the live model keeps its adapters


def test_perplexity_is_exp_of_the_mean_token_loss_over_the_split(tiny_lm, datamodule):
    model = make_model(tiny_lm)
    [metrics] = quiet_trainer().validate(model, datamodule=datamodule, verbose=False)
    model.eval()
    with torch.no_grad():
        losses = [model.model(**batch).loss for batch in datamodule.val_dataloader()]
    sizes = [len(batch["input_ids"]) for batch in datamodule.val_dataloader()]
    mean = sum(loss.item() * n for loss, n in zip(losses, sizes, strict=True)) / sum(sizes)  # equal-length blocks
    assert metrics["val/perplexity"] == pytest.approx(math.exp(mean), rel=1e-5)
    assert metrics["val/perplexity"] == pytest.approx(math.exp(metrics["val/loss"]), rel=1e-5)


def test_the_pretrained_perplexity_is_measured_before_training_and_training_lowers_it(tiny_lm, datamodule):
    untrained = make_model(tiny_lm)
    [before] = quiet_trainer().validate(untrained, datamodule=datamodule, verbose=False)
    model = make_model(tiny_lm)
    trainer = quiet_trainer(max_epochs=2, num_sanity_val_steps=0)
    trainer.fit(model, datamodule=datamodule)
    metrics = trainer.callback_metrics
    assert model.pretrained_perplexity == pytest.approx(before["val/perplexity"], rel=1e-5)
    assert float(metrics["val/perplexity_pretrained"]) == pytest.approx(model.pretrained_perplexity)
    assert float(metrics["val/perplexity_best"]) < 0.8 * model.pretrained_perplexity
    checkpoint: dict = {}
    model.on_save_checkpoint(checkpoint)
    resumed = make_model(tiny_lm)
    resumed.on_load_checkpoint(checkpoint)
    assert resumed.pretrained_perplexity == model.pretrained_perplexity  # a resumed run does not measure again
