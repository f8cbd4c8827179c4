"""The real train.py / eval.py command lines on the tiny model: runs, checkpoints, resume, evaluation."""

import json

import pytest
from transformers import AutoModelForSequenceClassification, AutoTokenizer

from tests.cli import killed_and_resumed, only_run, read_metrics, run_cli


def test_fast_dev_run(tiny_args, tmp_path):
    result = run_cli("train.py", *tiny_args, "debug=fdr")
    assert result.returncode == 0, result.stderr
    assert "test/acc" in read_metrics(only_run(tmp_path / "logs/debug/runs"))
    assert not (tmp_path / "models").exists()  # debug runs publish nothing


def test_ddp_simulated_on_two_cpu_processes(tiny_args, tmp_path):
    result = run_cli("train.py", *tiny_args, "trainer=ddp_sim", "trainer.max_epochs=1")
    assert result.returncode == 0, result.stderr
    metrics = read_metrics(only_run(tmp_path / "logs/train/runs"))
    assert {"val/acc_best", "test/acc"} <= set(metrics)
    assert (tmp_path / "models/text-classifier/model.safetensors").is_file()


@pytest.fixture(scope="module")
def trained(tiny_pretrained, toy_csv, tmp_path_factory):
    """One short real training run shared by the tests below: (its root folder, its run folder)."""
    from tests.helpers import tiny_overrides

    root = tmp_path_factory.mktemp("trained")
    result = run_cli("train.py", *tiny_overrides(tiny_pretrained, toy_csv, root), "trainer.max_epochs=6")
    assert result.returncode == 0, result.stderr
    return root, only_run(root / "logs/train/runs")


def test_training_writes_checkpoints_metrics_and_a_hugging_face_model(trained):
    root, run_dir = trained
    checkpoints = sorted(p.name for p in (run_dir / "checkpoints").iterdir())
    assert "last.ckpt" in checkpoints and any(name.startswith("epoch_") for name in checkpoints)
    metrics = read_metrics(run_dir)
    assert metrics["val/acc_best"] >= metrics["val/acc"] - 1e-9
    assert metrics["test/acc"] > 0.8  # the toy task is learnable: the loop really trains
    assert (run_dir / "csv" / "version_0" / "metrics.csv").is_file()

    model_dir = root / "models" / "text-classifier"
    model = AutoModelForSequenceClassification.from_pretrained(model_dir)
    assert model.config.id2label == {0: "fresh", 1: "rotten"}
    record = json.loads((model_dir / "manifest.json").read_text())
    assert record["task"] == "text-classification" and record["labels"] == ["fresh", "rotten"]
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    logits = model(**tokenizer(["the film is witty and charming"], return_tensors="pt")).logits
    assert model.config.id2label[int(logits.argmax())] == "fresh"


def test_eval_reproduces_the_test_metrics_of_the_best_checkpoint(trained, tiny_args):
    root, run_dir = trained
    best = next(p for p in (run_dir / "checkpoints").iterdir() if p.name.startswith("epoch_"))
    args = [a for a in tiny_args if not a.startswith("paths.")] + [f"paths.log_dir={root / 'eval-logs'}"]
    result = run_cli("eval.py", *args, f"ckpt_path={best}", "run_name=check")
    assert result.returncode == 0, result.stderr
    evaluated = json.loads((root / "eval-logs/eval/runs/check/metrics.json").read_text())
    trained_metrics = read_metrics(run_dir)
    for key in ("test/acc", "test/f1", "test/loss"):
        assert evaluated[key] == pytest.approx(trained_metrics[key], abs=1e-6)


def test_eval_refuses_data_with_other_labels_than_the_checkpoint_was_trained_on(trained, tiny_args):
    root, run_dir = trained
    last = run_dir / "checkpoints" / "last.ckpt"
    args = [a for a in tiny_args if not a.startswith("paths.")] + [f"paths.log_dir={root / 'eval-logs'}"]
    result = run_cli("eval.py", *args, f"ckpt_path={last}", "+data.label_map.fresh=good")
    assert result.returncode == 2
    assert f"{last} was trained on id2label {{0: 'fresh', 1: 'rotten'}}, but the data has" in result.stderr


def test_eval_help_describes_eval_not_training():
    result = run_cli("eval.py", "--help", timeout=120)
    assert result.returncode == 0, result.stderr
    header = result.stdout.split("== Config ==")[0]
    assert header.startswith("eval.py: test metrics") and "python eval.py artifact_dir=" in header
    assert "python train.py trainer" not in result.stdout and "hparams_search" not in result.stdout


def test_rerunning_a_killed_command_resumes_and_matches_an_unbroken_run(tiny_args, tmp_path):
    expected, actual = killed_and_resumed([*tiny_args, "trainer.max_epochs=6"], tmp_path)
    for key in ("val/acc_best", "val/loss", "test/acc", "test/f1", "test/loss"):
        assert actual[key] == pytest.approx(expected[key], abs=1e-6), key


def test_multirun_jobs_log_to_separate_offline_wandb_runs(tiny_args, tmp_path):
    args = [a for a in tiny_args if a != "logger=csv"]
    result = run_cli("train.py", "-m", *args, "logger=wandb", "model_dir=null", "trainer.max_epochs=1", "seed=1,2")
    assert result.returncode == 0, result.stderr
    (sweep,) = (tmp_path / "logs/train/multiruns").iterdir()
    for job in ("0", "1"):
        runs = list((sweep / job / "wandb").glob("offline-run-*"))
        assert len(runs) == 1, f"job {job}: {runs}"
        tables = list(runs[0].glob("files/media/table/val/misclassified_*.table.json"))
        assert tables, "the misclassified-examples table was not logged"
        assert json.loads(tables[0].read_text())["columns"] == ["text", "label", "predicted", "confidence"]


def test_optuna_sweep_optimises_the_returned_metric(tiny_args, tmp_path):
    args = [*tiny_args, "trainer.max_epochs=1", "hydra.sweeper.n_trials=2", "hydra.sweeper.sampler.n_startup_trials=2"]
    result = run_cli("train.py", "-m", "hparams_search=sentiment_optuna", *args)
    assert result.returncode == 0, result.stderr
    sweep = tmp_path / "logs/train/sweeps/sentiment"  # a stable folder: running the command again continues it
    jobs = [read_metrics(run.parent)["val/acc_best"] for run in sweep.glob("*/metrics.json")]
    assert len(jobs) == 2
    results = (sweep / "optimization_results.yaml").read_text()
    assert f"best_value: {max(jobs)}" in results
    assert not (tmp_path / "models").exists()  # sweep jobs publish no model (checkpoints stay in their runs)
