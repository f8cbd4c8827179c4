"""The real train.py and generate.py command lines with task=generation on the tiny Llama: runs, resume, errors."""

import json
import re
import time
from pathlib import Path

import pytest
from transformers import AutoModelForCausalLM

from tests.cli import killed_and_resumed, only_run, read_metrics, run_cli
from tests.generation_helpers import generation_overrides, save_tiny_causal_lm, write_corpus


@pytest.fixture(scope="module")
def tiny_lm(tmp_path_factory) -> Path:
    return save_tiny_causal_lm(tmp_path_factory.mktemp("tiny-llama"))


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    return write_corpus(tmp_path_factory.mktemp("corpus") / "play.txt")


@pytest.fixture
def lm_args(tiny_lm, corpus, tmp_path) -> list[str]:
    return generation_overrides(tiny_lm, corpus, tmp_path)


def test_fast_dev_run(lm_args, tmp_path):
    result = run_cli("train.py", *lm_args, "debug=fdr")
    assert result.returncode == 0, result.stderr
    metrics = read_metrics(only_run(tmp_path / "logs/debug/runs"))
    assert {"test/loss", "test/perplexity", "val/perplexity", "val/perplexity_pretrained"} <= set(metrics)
    assert not (tmp_path / "models/generator").exists()


def test_prepared_blocks_train_with_their_splits(lm_args, tiny_lm, corpus, tmp_path):
    prepared = tmp_path / "prepared/generation.jsonl"
    result = run_cli(
        "prepare.py",
        "task=generation",
        f"prepare.raw_file={corpus}",
        "prepare.restore_from=null",
        "prepare.dvc_file=null",
        f"prepare.output={prepared}",
        f"model.pretrained={tiny_lm}",
        "data.block_size=64",
        f"paths.log_dir={tmp_path / 'logs'}",
        "extras.print_config=false",
    )
    assert result.returncode == 0, result.stderr
    rows = [json.loads(line) for line in prepared.read_text().splitlines()]
    assert len(rows) == 225 and all(len(row["ids"]) == 64 for row in rows)
    assert {row["split"] for row in rows} == {"train", "val", "test"}
    args = [a for a in lm_args if not a.startswith("data.source")]
    trained = run_cli("train.py", *args, f"data.source={prepared}", "data.split_column=split", "debug=fdr")
    assert trained.returncode == 0, trained.stderr


@pytest.fixture(scope="module")
def trained(tiny_lm, corpus, tmp_path_factory):
    """One short training run with the default loggers (CSV and offline W&B): (its root folder, its run folder)."""
    root = tmp_path_factory.mktemp("trained-lm")
    args = [a for a in generation_overrides(tiny_lm, corpus, root) if a != "logger=csv"]
    result = run_cli("train.py", *args, "trainer.max_epochs=3")
    assert result.returncode == 0, result.stderr
    return root, only_run(root / "logs/train/runs")


def test_training_lowers_perplexity_and_saves_a_plain_causal_lm(trained):
    root, run_dir = trained
    metrics = read_metrics(run_dir)
    assert metrics["val/perplexity_best"] < 0.8 * metrics["val/perplexity_pretrained"], metrics
    assert metrics["test/perplexity"] == pytest.approx(2.718281828 ** metrics["test/loss"], rel=1e-4)
    history = (run_dir / "history.csv").read_text().splitlines()
    assert history[0] == "epoch,step,train/loss_epoch,val/loss,val/perplexity,val/perplexity_pretrained"
    assert len(history) == 4
    assert (run_dir / "history.png").read_bytes().startswith(b"\x89PNG")
    samples = (run_dir / "samples.txt").read_text()
    assert re.findall(r"== epoch (\d), step \d+ ==", samples) == ["0", "1", "2"]
    assert samples.count("HAMLET. To be, or not to be") == 3

    model_dir = root / "models" / "generator"
    model = AutoModelForCausalLM.from_pretrained(model_dir)
    assert type(model).__name__ == "LlamaForCausalLM" and not any("lora" in k for k in model.state_dict())
    assert (model_dir / "generation_config.json").is_file()
    record = json.loads((model_dir / "manifest.json").read_text())
    assert record["task"] == "text-generation" and record["labels"] is None
    assert sum(record["data"]["examples"].values()) == 225  # 14,407 toy tokens in blocks of 64


def test_wandb_gets_the_samples_table(trained):
    _, run_dir = trained
    [wandb_run] = (run_dir / "wandb").glob("offline-run-*")
    tables = sorted((wandb_run / "files/media/table/val").glob("samples_*.table.json"))
    assert len(tables) == 3
    table = json.loads(tables[0].read_text())
    assert table["columns"] == ["epoch", "prompt", "continuation"] and len(table["data"]) == 3


def generate(log_dir: Path, *args: str):
    """``python generate.py ARGS``, its run folder under ``log_dir``."""
    return run_cli("generate.py", *args, f"paths.log_dir={log_dir}", timeout=300)


def test_greedy_generation_is_deterministic_and_stops_at_a_stop_string(trained, tmp_path):
    root, _ = trained
    folder = f"model_dir={root / 'models/generator'}"
    first = generate(tmp_path, folder, "prompt=HAMLET.", "temperature=0", "max_new_tokens=20")
    again = generate(tmp_path, folder, "prompt=HAMLET.", "do_sample=false", "max_new_tokens=20")
    assert first.returncode == 0, first.stderr
    assert first.stdout == again.stdout and first.stdout.startswith("HAMLET.")
    text = first.stdout.removeprefix("HAMLET.").rstrip("\n")
    assert len(text) > 10
    stop = text[4:7]
    cut = generate(
        tmp_path, folder, "prompt=HAMLET.", "temperature=0", "max_new_tokens=20", f"stop=[{json.dumps(stop)}]"
    )
    assert cut.stdout.rstrip("\n") == "HAMLET." + text[: text.index(stop)]


def test_sampling_follows_the_seed(trained, tmp_path):
    root, _ = trained
    args = [f"model_dir={root / 'models/generator'}", "prompt=OPHELIA.", "temperature=1.0", "max_new_tokens=25"]
    one, same, other = (
        generate(tmp_path, *args, "seed=1"),
        generate(tmp_path, *args, "seed=1"),
        generate(tmp_path, *args, "seed=2"),
    )
    assert one.returncode == 0, one.stderr
    assert one.stdout == same.stdout and one.stdout != other.stdout


def test_a_checkpoint_generates_what_its_saved_folder_does(trained, tmp_path):
    root, run_dir = trained
    [best] = (run_dir / "checkpoints").glob("epoch_*.ckpt")
    prompt = "HAMLET. To be, or not [to] be: it's ${x}"  # any text: the command line quotes it for Hydra
    args = [f"prompt={prompt}", "temperature=0", "max_new_tokens=15"]
    from_checkpoint = generate(tmp_path, *args, f"ckpt_path={best}")
    from_folder = generate(tmp_path, *args, f"model_dir={root / 'models/generator'}")
    assert from_checkpoint.returncode == 0, from_checkpoint.stderr
    assert from_checkpoint.stdout.startswith(prompt) and len(from_checkpoint.stdout) > len(prompt) + 5
    assert from_checkpoint.stdout == from_folder.stdout


def test_rerunning_a_killed_command_resumes_and_matches_an_unbroken_run(lm_args, tmp_path):
    expected, actual = killed_and_resumed([*lm_args, "trainer.max_epochs=4", "model_dir=null"], tmp_path)
    for key in ("val/perplexity_best", "val/perplexity_pretrained", "val/loss", "test/loss", "test/perplexity"):
        assert actual[key] == pytest.approx(expected[key], abs=1e-6), key


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["prompt=hello", "model_dir=/nonexistent/model"], r"no trained model at /nonexistent/model"),
        (["prompt=   "], r"prompt must be some text"),
        (["prompt=hello", "temperature=-1"], r"temperature must be 0 \(greedy\) or more"),
        (["prompt=hello", "top_p=2"], r"top_p must be in \(0, 1\]"),
        (["prompt=hello", "max_new_tokens=0"], r"max_new_tokens must be a positive integer"),
        (["prompt=hello", "ckpt_path=/nonexistent.ckpt"], r"ckpt_path does not exist"),
        ([], r"missing value for 'prompt'"),
    ],
)
def test_bad_input_is_one_error_line_and_exit_2(args, message, tmp_path):
    result = generate(tmp_path, *args)
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    [line] = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert re.search(message, line), line


def test_generate_help_is_fast_and_describes_generation():
    started = time.monotonic()
    result = run_cli("generate.py", "--help", timeout=120)
    assert result.returncode == 0, result.stderr
    assert "generate.py: a language model train.py trained" in result.stdout and "stop" in result.stdout
    assert time.monotonic() - started < 20


@pytest.mark.slow
def test_the_real_smollm2_continues_hamlet_in_english_and_trains_a_few_steps(tmp_path):
    from nlpops.utils import assets

    folder = assets.fetch("smollm2-135m")  # converted from the pinned GGUF once, then cached
    result = generate(
        tmp_path, f"model_dir={folder}", "prompt=To be, or not to be,", "temperature=0", "max_new_tokens=12"
    )
    assert result.returncode == 0, result.stderr
    words = re.findall(r"[a-z]+", result.stdout.lower().removeprefix("to be, or not to be,"))
    assert len(words) >= 4 and {"the", "that", "is", "to", "be", "question", "a", "of"} & set(words), result.stdout
    trained = run_cli(
        "train.py",
        "task=generation",
        "trainer.max_steps=2",
        "data.max_train_samples=8",
        "trainer.limit_val_batches=1",
        "trainer.limit_test_batches=1",
        "trainer.num_sanity_val_steps=0",
        "logger=csv",
        f"paths.log_dir={tmp_path / 'logs'}",
        "model_dir=null",
        "extras.print_config=false",
        timeout=900,
    )
    assert trained.returncode == 0, trained.stderr
    metrics = read_metrics(only_run(tmp_path / "logs/train/runs"))
    assert 1 < metrics["val/perplexity_pretrained"] < 200, metrics  # SmolLM2 already knows some Shakespeare
