"""The real train.py / eval.py command lines with task=ner on the tiny model: runs, W&B tables, resume, bad data."""

import json
import re
from pathlib import Path

import pytest
from transformers import AutoModelForTokenClassification

from tests.cli import killed_and_resumed, only_run, read_metrics, run_cli
from tests.ner_helpers import ner_overrides, toy_sentences, write_conll

TAGS = ["O", "B-person", "I-person", "B-place", "I-place"]


@pytest.fixture(scope="module")
def toy_conll(tmp_path_factory) -> Path:
    """200 toy sentences in the asset's own layout: tab-separated, a single TAB between sentences."""
    return write_conll(tmp_path_factory.mktemp("ner-data") / "toy.conll", toy_sentences(), between="\t")


@pytest.fixture
def ner_args(tiny_pretrained, toy_conll, tmp_path) -> list[str]:
    return ner_overrides(tiny_pretrained, toy_conll, tmp_path)


def test_fast_dev_run(ner_args, tmp_path):
    result = run_cli("train.py", *ner_args, "debug=fdr")
    assert result.returncode == 0, result.stderr
    metrics = read_metrics(only_run(tmp_path / "logs/debug/runs"))
    assert {"test/f1", "test/precision", "test/recall", "test/token_acc", "test/loss"} <= set(metrics)


@pytest.fixture(scope="module")
def trained(tiny_pretrained, toy_conll, tmp_path_factory):
    """One short training run with the default loggers (CSV and offline W&B): (its root folder, its run folder)."""
    root = tmp_path_factory.mktemp("trained-ner")
    args = [a for a in ner_overrides(tiny_pretrained, toy_conll, root) if a != "logger=csv"]
    result = run_cli("train.py", *args, "trainer.max_epochs=6")
    assert result.returncode == 0, result.stderr
    return root, only_run(root / "logs/train/runs")


def test_training_learns_the_toy_entities_and_publishes_a_token_classifier(trained):
    root, run_dir = trained
    metrics = read_metrics(run_dir)
    assert metrics["test/f1"] > 0.5, metrics  # the toy names are learnable: the loop really trains
    assert metrics["val/f1_best"] >= metrics["val/f1"] - 1e-9
    history = (run_dir / "history.csv").read_text().splitlines()
    assert history[0] == "epoch,step,train/loss_epoch,val/loss,val/precision,val/recall,val/f1,val/token_acc"
    assert len(history) == 7

    model_dir = root / "models" / "ner"
    assert AutoModelForTokenClassification.from_pretrained(model_dir).config.id2label == dict(enumerate(TAGS))
    record = json.loads((model_dir / "manifest.json").read_text())
    assert record["task"] == "token-classification" and record["labels"] == TAGS
    assert record["data"]["examples"] == {"train": 160, "val": 20, "test": 20}


def test_wandb_gets_the_per_type_table_and_the_sentences_with_wrong_entities(trained):
    _, run_dir = trained
    [wandb_run] = (run_dir / "wandb").glob("offline-run-*")
    tables = wandb_run / "files/media/table/val"
    [types, *_] = sorted(tables.glob("entity_types_*.table.json"))
    table = json.loads(types.read_text())
    assert table["columns"] == ["type", "precision", "recall", "f1", "support"]
    assert [row[0] for row in table["data"]] == ["person", "place"]
    [wrong, *_] = sorted(tables.glob("wrong_entities_*.table.json"))  # the first epochs get some wrong
    table = json.loads(wrong.read_text())
    assert table["columns"] == ["gold", "predicted", "wrong entities"]
    assert table["data"] and all(re.search(r"\]\((person|place)\)", row[0]) for row in table["data"])


def test_eval_reproduces_the_entity_level_test_metrics_of_the_best_checkpoint(trained, ner_args):
    root, run_dir = trained
    best = next(p for p in (run_dir / "checkpoints").iterdir() if p.name.startswith("epoch_"))
    args = [a for a in ner_args if not a.startswith("paths.")] + [f"paths.log_dir={root / 'eval-logs'}"]
    result = run_cli("eval.py", *args, f"ckpt_path={best}", "run_name=check")
    assert result.returncode == 0, result.stderr
    evaluated = json.loads((root / "eval-logs/eval/runs/check/metrics.json").read_text())
    trained_metrics = read_metrics(run_dir)
    for key in ("test/f1", "test/precision", "test/recall", "test/token_acc", "test/loss"):
        assert evaluated[key] == pytest.approx(trained_metrics[key], abs=1e-6), key


def test_ddp_simulated_on_two_cpu_processes_scores_the_whole_split(ner_args, tmp_path):
    """Each process tags half of the test split; their tags are gathered, so F1 is the whole split's, as in one."""
    result = run_cli("train.py", *ner_args, "trainer=ddp_sim", "trainer.max_epochs=1", "model_dir=null")
    assert result.returncode == 0, result.stderr
    run_dir = only_run(tmp_path / "logs/train/runs")
    [checkpoint] = (run_dir / "checkpoints").glob("epoch_*.ckpt")
    single = run_cli("eval.py", *ner_args, f"ckpt_path={checkpoint}", "run_name=single")
    assert single.returncode == 0, single.stderr
    evaluated = json.loads((tmp_path / "logs/eval/runs/single/metrics.json").read_text())
    distributed = read_metrics(run_dir)
    for key in ("test/f1", "test/precision", "test/recall", "test/token_acc"):
        assert distributed[key] == pytest.approx(evaluated[key], abs=1e-6), key


def test_rerunning_a_killed_command_resumes_and_matches_an_unbroken_run(ner_args, tmp_path):
    expected, actual = killed_and_resumed([*ner_args, "trainer.max_epochs=6"], tmp_path)
    for key in ("val/f1_best", "val/loss", "test/f1", "test/precision", "test/recall", "test/token_acc", "test/loss"):
        assert actual[key] == pytest.approx(expected[key], abs=1e-6), key


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "ana\tB-person\nflew\tO\n\t\nlisbon\tB-LOC\nis\tO\nfar\tX-place\n",
            r"bad\.conll:6: unknown tag prefix in 'X-place'",
        ),
        ("ana B-person\nflew\n", r"bad\.conll:2: 'flew' is not a token and its tag"),
        ("", r"no tagged sentences in .*bad\.conll"),
    ],
)
def test_bad_data_is_one_error_line_and_exit_2_before_training(ner_args, tmp_path, text, message):
    path = tmp_path / "bad.conll"
    path.write_text(text)
    result = run_cli("train.py", *ner_args, f"data.source={path}")
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    [line] = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert re.search(message, line), line
    assert not list(tmp_path.glob("logs/train/runs/*/checkpoints"))


@pytest.mark.slow
def test_a_few_steps_on_the_real_tweets_with_the_real_model(tmp_path):
    result = run_cli(
        "train.py",
        "task=ner",
        "trainer.max_steps=30",
        "data.max_train_samples=480",
        "logger=csv",
        f"paths.log_dir={tmp_path / 'logs'}",
        f"model_dir={tmp_path / 'model'}",
        "extras.print_config=false",
    )
    assert result.returncode == 0, result.stderr
    metrics = read_metrics(only_run(tmp_path / "logs/train/runs"))
    assert metrics["test/token_acc"] > 0.9, metrics  # most words are O: a few steps learn that much
    record = json.loads((tmp_path / "model" / "manifest.json").read_text())
    assert record["data"]["examples"] == {"train": 480, "val": 231, "test": 231}  # 2,394 tweets less 99 duplicates
    assert record["labels"][:3] == ["O", "B-company", "I-company"] and len(record["labels"]) == 21
