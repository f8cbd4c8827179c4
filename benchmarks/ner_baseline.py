"""Test entity F1 and wall time of ``python train.py task=ner`` against a plain Hugging Face ``Trainer`` baseline.

The baseline is written the way transformers' ``run_ner.py`` example is: ``AutoModelForTokenClassification`` on
the same pretrained backbone, words tokenized with ``is_split_into_words``, each word's first piece labelled and
the rest -100, ``DataCollatorForTokenClassification``, and ``TrainingArguments`` at their defaults except what
the comparison fixes: the same train/val/test sentences (our DataModule's seeded split), max length, epochs,
learning rate, batch size, seed and arithmetic (fp32 or bf16) as ours. Like run_ner it trains, saves the model,
evaluates once on validation and predicts the test split.

The two run one after the other, each in a fresh process timed from start to exit (imports, model loading and
saving included); both are scored on the same test words with ``nlpops.tagging.entity_scores`` (seqeval's
default mode). Prints Markdown tables and appends the raw figures to OUTPUT/ner_baseline.jsonl. Hydra
overrides after the options apply to both runs. Needs ``accelerate`` (the Trainer does):

    python benchmarks/ner_baseline.py
    python benchmarks/ner_baseline.py --epochs 1 --max-train-samples 200
    python benchmarks/ner_baseline.py logger=csv
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path
from typing import Any

from hydra import compose, initialize_config_dir
from hydra.errors import HydraException
from omegaconf import DictConfig

import nlpops.utils.resolvers  # noqa: F401  (the configs use its resolvers)
from nlpops.errors import UserError
from nlpops.tagging import entity_scores, entity_spans
from nlpops.utils.instantiate import build
from nlpops.utils.machine import describe

REPO_ROOT = Path(__file__).resolve().parents[1]
CONFIG_DIR = REPO_ROOT / "configs"
RESULT_FILE = "result.json"  # what the baseline's process leaves in its folder: the test tags
IGNORE = -100
ARITHMETIC = {"32-true": "fp32", "32": "fp32", "bf16-mixed": "bf16"}  # trainer.precision -> the baseline's
Tags = list[list[str]]  # a tag per word, a list per sentence


@dataclass
class Run:
    """One training run's wall time and its tags on the test split."""

    name: str
    wall_s: float
    gold: Tags
    predicted: Tags
    notes: dict[str, float] = field(default_factory=dict)

    @cached_property
    def scores(self) -> dict[str, float]:
        return entity_scores(self.gold, self.predicted)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs", type=int, help="epochs of both runs (default: the trainer config's)")
    parser.add_argument("--max-train-samples", type=int, help="train both on the first N training sentences")
    parser.add_argument("--baseline-first", action="store_true", help="run the baseline first (default: ours)")
    parser.add_argument(
        "--output", type=Path, default=REPO_ROOT / "logs/benchmarks", help="folder of ner_baseline.jsonl"
    )
    parser.add_argument(
        "--hf-trainer-into",
        type=Path,
        metavar="DIR",
        help="only train the baseline, leaving its model and test tags in DIR (what the comparison runs in a "
        "fresh process)",
    )
    parser.add_argument("overrides", nargs="*", help="Hydra overrides for both runs, e.g. data.batch_size=32")
    args = parser.parse_args()
    for option in ("epochs", "max_train_samples"):
        value = getattr(args, option)
        if value is not None and value < 1:
            parser.error(f"--{option.replace('_', '-')} must be at least 1 (got {value})")
    args.overrides = run_overrides(args)
    check_config(parser, args.overrides)
    if importlib.util.find_spec("accelerate") is None:
        parser.error("the Hugging Face Trainer needs accelerate: pip install accelerate==1.16.0")
    return args


def run_overrides(args: argparse.Namespace) -> list[str]:
    """``task=ner``, the options as overrides, then the user's (which win)."""
    options = [f"trainer.max_epochs={args.epochs}"] if args.epochs else []
    options += [f"data.max_train_samples={args.max_train_samples}"] if args.max_train_samples else []
    return ["task=ner", *options, *args.overrides]


def check_config(parser: argparse.ArgumentParser, overrides: list[str]) -> None:
    """Refuse, in one line, overrides Hydra rejects and settings the baseline cannot mirror."""
    try:
        cfg = compose_config(overrides)
    except HydraException as err:
        parser.error(f"bad override: {err}")
    if cfg.get("task_name") != "token-classification":
        parser.error("this benchmark compares NER training: leave out task=... (it sets task=ner)")
    if str(cfg.trainer.precision) not in ARITHMETIC:
        parser.error(f"the baseline mirrors trainer.precision=32-true or bf16-mixed only (got {cfg.trainer.precision})")


def compose_config(overrides: list[str]) -> DictConfig:
    """``train.py``'s config under ``overrides``."""
    with initialize_config_dir(str(CONFIG_DIR), version_base="1.3"):
        return compose("train", overrides=overrides)


# --- the baseline, as run_ner.py does it ----------------------------------------------------------------------
def train_hf_baseline(cfg: DictConfig, out_dir: Path) -> None:
    """Fine-tune with a plain ``Trainer`` and write the test split's gold and predicted tags to ``out_dir``."""
    from transformers import (
        AutoConfig,
        AutoModelForTokenClassification,
        AutoTokenizer,
        DataCollatorForTokenClassification,
        Trainer,
        set_seed,
    )

    from nlpops.utils import assets

    training_args = training_arguments(cfg, out_dir)
    set_seed(training_args.seed)
    splits = build(cfg, "data").load_splits()
    # sorted, as run_ner's get_label_list; from every split, so that a tag train lacks (--max-train-samples) is known
    label_list = sorted({tag for part in splits.values() for example in part for tag in example.tags})
    pretrained = assets.resolve(cfg.model.pretrained)
    config = AutoConfig.from_pretrained(
        pretrained, num_labels=len(label_list), id2label=dict(enumerate(label_list)), label2id=label_ids(label_list)
    )
    tokenizer = AutoTokenizer.from_pretrained(pretrained, use_fast=True)
    model = AutoModelForTokenClassification.from_pretrained(pretrained, config=config)
    data = {name: tokenized(part, tokenizer, label_list, cfg.data.max_length) for name, part in splits.items()}
    trainer = Trainer(
        model=model,
        args=training_args,
        train_dataset=data["train"],
        eval_dataset=data["val"],
        processing_class=tokenizer,
        data_collator=DataCollatorForTokenClassification(tokenizer),
        compute_metrics=lambda p: entity_scores(*first_piece_tags(p.predictions, p.label_ids, label_list)),
    )
    trainer.train()
    trainer.save_model()
    trainer.evaluate()
    predictions, labels, _ = trainer.predict(data["test"])
    gold, predicted = first_piece_tags(predictions, labels, label_list)
    (out_dir / RESULT_FILE).write_text(json.dumps({"gold": gold, "predicted": predicted}))


def training_arguments(cfg: DictConfig, out_dir: Path) -> Any:
    """run_ner's ``TrainingArguments``: defaults, but our epochs, learning rate, batch size, seed and arithmetic."""
    from transformers import TrainingArguments

    return TrainingArguments(
        output_dir=str(out_dir),
        num_train_epochs=cfg.trainer.max_epochs,
        learning_rate=cfg.model.optimizer.lr,
        per_device_train_batch_size=cfg.data.batch_size,
        seed=cfg.seed,
        bf16=ARITHMETIC[str(cfg.trainer.precision)] == "bf16",
        use_cpu=cfg.trainer.accelerator == "cpu",
        report_to=[],
    )


def label_ids(label_list: list[str]) -> dict[str, int]:
    return {label: i for i, label in enumerate(label_list)}


def tokenized(examples: list[Any], tokenizer: Any, label_list: list[str], max_length: int) -> Any:
    """A ``datasets.Dataset`` of the sentences, tokenized and labelled as run_ner's ``tokenize_and_align_labels``."""
    from datasets import Dataset

    to_id = label_ids(label_list)

    def tokenize_and_align_labels(batch: dict[str, list]) -> Any:
        inputs = tokenizer(batch["tokens"], truncation=True, max_length=max_length, is_split_into_words=True)
        inputs["labels"] = [
            first_piece_labels(inputs.word_ids(batch_index=i), [to_id[tag] for tag in tags])
            for i, tags in enumerate(batch["tags"])
        ]
        return inputs

    rows = {"tokens": [list(e.tokens) for e in examples], "tags": [list(e.tags) for e in examples]}
    return Dataset.from_dict(rows).map(tokenize_and_align_labels, batched=True, remove_columns=["tokens", "tags"])


def first_piece_labels(word_ids: list[int | None], tag_ids: list[int]) -> list[int]:
    """A word's tag on its first piece; -100 (ignored by the loss) on special tokens and later pieces."""
    labels, previous = [], None
    for word in word_ids:
        labels.append(tag_ids[word] if word is not None and word != previous else IGNORE)
        previous = word
    return labels


def first_piece_tags(logits: Any, labels: Any, label_list: list[str]) -> tuple[Tags, Tags]:
    """(gold, predicted) tags per sentence, read where the label is not -100, as run_ner's metrics do."""
    predictions = logits.argmax(axis=-1)
    gold, predicted = [], []
    for guesses, truth in zip(predictions, labels, strict=True):
        kept = truth != IGNORE
        gold.append([label_list[i] for i in truth[kept]])
        predicted.append([label_list[i] for i in guesses[kept]])
    return gold, predicted


# --- the comparison ---------------------------------------------------------------------------------------------
def run_ours(overrides: list[str], scratch: Path) -> Run:
    """``python train.py`` as users run it, writing into ``scratch`` (a fresh run folder: nothing to resume)."""
    model_dir, metrics_file = scratch / "model", scratch / "metrics.json"
    outputs = [f"paths.log_dir={scratch / 'logs'}", f"model_dir={model_dir}", f"metrics_file={metrics_file}"]
    wall_s = timed([sys.executable, "train.py", *overrides, *outputs], scratch / "train.log")
    reported = json.loads(metrics_file.read_text())
    gold, predicted = rescored_tags(compose_config(overrides), model_dir)
    return Run("ours: python train.py task=ner", wall_s, gold, predicted, {"train.py test/f1": reported["test/f1"]})


def run_baseline(overrides: list[str], scratch: Path) -> Run:
    """The baseline in a fresh process (this script with ``--hf-trainer-into``), like ours."""
    command = [sys.executable, str(Path(__file__).resolve()), "--hf-trainer-into", str(scratch), *overrides]
    wall_s = timed(command, scratch / "hf-trainer.log")
    result = json.loads((scratch / RESULT_FILE).read_text())
    return Run("HF Trainer, run_ner-style", wall_s, result["gold"], result["predicted"])


def timed(command: list[str], log: Path) -> float:
    """Wall seconds of ``command`` from start to exit (output to ``log``); its log's tail if it fails."""
    log.parent.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "WANDB_MODE": "offline", "HF_HUB_OFFLINE": "1"}  # nothing leaves the machine mid-timing
    started = time.perf_counter()
    with log.open("w") as output:
        code = subprocess.run(command, cwd=REPO_ROOT, env=env, stdout=output, stderr=subprocess.STDOUT).returncode
    wall_s = time.perf_counter() - started
    if code != 0:
        tail = "\n".join(log.read_text(errors="replace").splitlines()[-20:])
        raise SystemExit(f"{tail}\nerror: {Path(command[1]).name} exited with {code} (its log's end is above)")
    return wall_s


def rescored_tags(cfg: DictConfig, model_dir: Path) -> tuple[Tags, Tags]:
    """(gold, predicted) test tags of the model train.py published, as its test step reads them.

    train.py writes only micro figures; the per-type ones come from its model, on the DataModule's test batches
    in the run's arithmetic (the micro F1 then matches train.py's own).
    """
    import torch
    from transformers import AutoModelForTokenClassification
    from transformers.utils.logging import disable_progress_bar

    from nlpops.data.ner import WORD_STARTS

    disable_progress_bar()  # the table's lines only
    datamodule = build(cfg, "data")
    datamodule.setup("test")
    model = AutoModelForTokenClassification.from_pretrained(model_dir).eval()
    bf16 = ARITHMETIC[str(cfg.trainer.precision)] == "bf16"
    gold, predicted = [], []
    with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
        for batch in datamodule.test_dataloader():
            guesses = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits.argmax(-1)
            for starts, truth, guess in zip(batch[WORD_STARTS], batch["labels"], guesses, strict=True):
                gold.append([model.config.id2label[int(i)] for i in truth[starts]])
                predicted.append([model.config.id2label[int(i)] for i in guess[starts]])
    return gold, predicted


def settings(cfg: DictConfig) -> str:
    """What both runs share, and where each keeps its own defaults."""
    data, model = cfg.data, cfg.model
    return (
        f"both: {model.pretrained}, {cfg.trainer.max_epochs} epochs, lr {model.optimizer.lr:g}, batch "
        f"{data.batch_size}, max length {data.max_length}, seed {cfg.seed}, "
        f"{ARITHMETIC[str(cfg.trainer.precision)]} ({cfg.trainer.precision}; HF Trainer: bf16="
        f"{ARITHMETIC[str(cfg.trainer.precision)] == 'bf16'})\n"
        f"ours: warmup {model.warmup_ratio:g} of the steps, weight decay {model.weight_decay:g}, "
        f"length-grouped batches: {data.group_by_length}, validates every epoch and tests the best epoch's model\n"
        "HF Trainer: run_ner's defaults (no warmup, no weight decay, random batches), validates once at the end "
        "and tests the last model"
    )


def report(runs: dict[str, Run]) -> str:
    """Markdown: a row per run, the ratios, and F1 per entity type."""
    ours, baseline = runs["ours"], runs["baseline"]
    lines = ["| run | wall s | test entity F1 (micro) | precision | recall |", "|---|---:|---:|---:|---:|"]
    for run in (ours, baseline):
        s = run.scores
        lines.append(f"| {run.name} | {run.wall_s:.1f} | {s['f1']:.4f} | {s['precision']:.4f} | {s['recall']:.4f} |")
    difference = ours.scores["f1"] - baseline.scores["f1"]
    lines += [
        "",
        f"HF Trainer wall / ours: {baseline.wall_s / ours.wall_s:.2f}; "
        f"test F1 ours - HF Trainer: {difference:+.4f} ({100 * difference:+.1f} points)",
        f"train.py's own test/f1: {ours.notes['train.py test/f1']:.4f} (rescored here: {ours.scores['f1']:.4f})",
        "",
        "| entity type | test entities | ours F1 | HF Trainer F1 |",
        "|---|---:|---:|---:|",
    ]
    support = Counter(span[0] for tags in ours.gold for span in entity_spans(tags))
    for kind in sorted(per_type(ours) | per_type(baseline)):
        figures = [f"{run.scores.get(f'{kind}/f1', 0.0):.4f}" for run in (ours, baseline)]
        lines.append(f"| {kind} | {support[kind]} | {' | '.join(figures)} |")
    return "\n".join(lines)


def per_type(run: Run) -> set[str]:
    return {key.rsplit("/", 1)[0] for key in run.scores if "/" in key}


def record(runs: dict[str, Run], cfg: DictConfig, overrides: list[str], machine: str) -> dict[str, Any]:
    """The raw figures of one comparison, as a line of ner_baseline.jsonl."""
    ours, baseline = runs["ours"], runs["baseline"]
    return {
        "time": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine,
        "overrides": overrides,
        "epochs": cfg.trainer.max_epochs,
        "learning_rate": cfg.model.optimizer.lr,
        "batch_size": cfg.data.batch_size,
        "max_length": cfg.data.max_length,
        "precision": str(cfg.trainer.precision),
        "runs": {
            key: {"name": run.name, "wall_s": run.wall_s, "scores": run.scores, "notes": run.notes}
            for key, run in runs.items()
        },
        "wall_baseline_over_ours": baseline.wall_s / ours.wall_s,
        "f1_ours_minus_baseline": ours.scores["f1"] - baseline.scores["f1"],
        "test_sentences": len(ours.gold),
    }


def compare(args: argparse.Namespace) -> None:
    import torch  # after the checks: importing it takes seconds

    cfg = compose_config(args.overrides)
    machine = f"{describe()}; torch {torch.__version__}, {torch.get_num_threads()} threads"
    print(machine)
    print(f"overrides: {' '.join(args.overrides)}\n{settings(cfg)}\n", flush=True)
    order = ["baseline", "ours"] if args.baseline_first else ["ours", "baseline"]
    runners = {"ours": run_ours, "baseline": run_baseline}
    with tempfile.TemporaryDirectory(prefix="nlpops-ner-baseline-") as scratch:
        runs = {name: runners[name](args.overrides, Path(scratch) / name) for name in order}
    if runs["ours"].gold != runs["baseline"].gold:
        raise SystemExit("error: the two runs were scored on different test words: the splits differ")
    print(report(runs))
    args.output.mkdir(parents=True, exist_ok=True)
    with (args.output / "ner_baseline.jsonl").open("a") as file:
        file.write(json.dumps(record(runs, cfg, args.overrides, machine)) + "\n")
    print(f"\nappended to {args.output / 'ner_baseline.jsonl'}", file=sys.stderr)


def main() -> None:
    args = parse_args()
    try:
        if args.hf_trainer_into:
            args.hf_trainer_into.mkdir(parents=True, exist_ok=True)
            train_hf_baseline(compose_config(args.overrides), args.hf_trainer_into)
        else:
            compare(args)
    except UserError as err:  # bad data or a model that does not load: one line, as train.py gives it
        print(f"error: {err}", file=sys.stderr)
        raise SystemExit(2) from None


if __name__ == "__main__":
    main()
