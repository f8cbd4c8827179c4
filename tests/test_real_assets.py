"""The default run's real assets: all-MiniLM-L6-v2 and the Rotten Tomatoes reviews (slow: downloads ~93 MB once)."""

import json
from collections import Counter

import pytest

from nlpops.data import TextClassificationDataModule
from nlpops.utils import assets
from tests.cli import run_cli

pytestmark = pytest.mark.slow


def test_rotten_tomatoes_asset_gives_the_documented_dataset():
    datamodule = TextClassificationDataModule(
        source="asset:rotten-tomatoes",
        tokenizer="asset:all-minilm-l6-v2",
        text_column="text",
        label_column="category",
        drop_labels=["plot"],
        label_map={"fresh": "positive", "rotten": "negative"},
        max_length=64,
    )
    datamodule.prepare_data()
    datamodule.setup()
    sizes = {name: len(part) for name, part in datamodule.examples.items()}
    assert sizes == {"train": 10202, "val": 1275, "test": 1275}  # 12,808 reviews less 56 duplicate texts
    assert datamodule.id2label == {0: "negative", 1: "positive"}
    val = Counter(e.label for e in datamodule.examples["val"])
    assert val == {"positive": 737, "negative": 538}  # stratified: the same 58/42 balance as the whole set
    assert (assets.fetch("all-minilm-l6-v2") / "model.safetensors").stat().st_size > 80_000_000


def test_short_real_training_run_learns_sentiment(tmp_path):
    result = run_cli(
        "train.py",
        "experiment=sentiment_quick",  # 2,000 training reviews, one epoch
        "logger=csv",
        f"paths.log_dir={tmp_path / 'logs'}",
        f"model_dir={tmp_path / 'model'}",
        "extras.print_config=false",
    )
    assert result.returncode == 0, result.stderr
    (run_dir,) = (tmp_path / "logs/train/runs").iterdir()
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["test/acc"] > 0.7, metrics
    config = json.loads((tmp_path / "model" / "config.json").read_text())
    assert config["id2label"] == {"0": "negative", "1": "positive"}
