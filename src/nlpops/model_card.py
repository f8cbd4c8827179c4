"""Hugging Face model cards (``README.md``) for trained model folders and artifacts, generated from their manifest.

The manifest is the record; the card is how people read it, on the Hub or in a folder listing. It is derived,
never edited by hand: ``python -m nlpops.model_card write DIR`` regenerates it. An artifact's card is written after
its manifest and is not one of its checksummed files: it quotes the manifest that holds the checksums, and serving
never reads it. Metadata (task, language, license, base model, datasets, results) is rendered by huggingface_hub's
``ModelCardData``, so the front matter is what the Hub parses.

``python -m nlpops.model_card push DIR --repo-id OWNER/NAME`` uploads a folder with the user's Hub token.
Exit status: 0 done; 2 bad input, no token or the Hub unreachable, said in one ``error:`` line.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, TypeVar

from huggingface_hub import EvalResult, ModelCard, ModelCardData

from nlpops import tasks
from nlpops.data.base import SPLITS
from nlpops.errors import UserError
from nlpops.utils import assets
from nlpops.utils.provenance import MANIFEST

CARD = "README.md"
DEFAULT_LANGUAGE = "en"  # the data and the default backbone are English; `+card.language=...` for others
# What a training config's `card` key may set (e.g. `python train.py +card.license=mit`): metadata the manifest
# cannot know, such as the license of a backbone that is not a pinned asset.
CARD_KEYS = ("language", "license", "base_model", "datasets")
# A pinned backbone's licence note, e.g. "Apache-2.0 (sentence-transformers/all-MiniLM-L6-v2)": SPDX id, Hub id.
ASSET_LICENCE = re.compile(r"(?P<license>[\w.+-]+) \((?P<hub_id>[\w.-]+/[\w.-]+)\)")
METRIC_TYPES = {"acc": "accuracy", "token_acc": "accuracy"}  # our metric names -> the Hub's metric ids
REPEATS = ("_best", "_epoch", "_step")  # metric names that repeat another (its best, or its per-epoch value)
ENGINES = {"pytorch": "PyTorch", "fp32": "ONNX fp32", "int8": "ONNX INT8"}
HYPERPARAMETERS = (
    ("base model", "model.pretrained"),
    ("learning rate", "model.optimizer.lr"),
    ("weight decay", "model.weight_decay"),
    ("warmup ratio", "model.warmup_ratio"),
    ("batch size", "data.batch_size"),
    ("max length (tokens)", "data.max_length"),
    ("max epochs", "trainer.max_epochs"),
    ("precision", "trainer.precision"),
    ("seed", "seed"),
    ("checkpoint metric", "monitor.metric"),
)
T = TypeVar("T")
LOGIN_HINT = "run `hf auth login` (or set HF_TOKEN to a token with write access from huggingface.co/settings/tokens)"


def card_text(manifest: dict[str, Any], name: str) -> str:
    """The model card of a folder named ``name`` whose manifest (a training record or an artifact's) is ``manifest``."""
    training = training_record(manifest)
    sections = [
        f"# {name}",
        _intended_use(manifest["task"], is_artifact(manifest)),
        _data(training),
        _training(training),
        _evaluation(training),
        _export(manifest) if is_artifact(manifest) else "",
        _limitations(manifest, training),
    ]
    body = "\n\n".join(section for section in sections if section)
    return str(ModelCard(f"---\n{metadata(manifest, name).to_yaml()}\n---\n\n{body}\n"))


def write_card(directory: Path, name: str | None = None) -> Path:
    """Write ``directory/README.md`` from its manifest; ``name`` (default: the folder's) heads the card."""
    directory = Path(directory)
    path = directory / MANIFEST
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise UserError(
            f"cannot read the manifest {path} ({err}): is {directory} a model folder or artifact?"
        ) from None
    card = directory / CARD
    card.write_text(card_text(manifest, name or directory.resolve().name), encoding="utf-8")
    return card


def is_artifact(manifest: dict[str, Any]) -> bool:
    """An export's manifest (it checksums its files), not a training record."""
    return "checksums" in manifest


def training_record(manifest: dict[str, Any]) -> dict[str, Any]:
    """The training record: the manifest itself, or the one an artifact embeds (empty if its model had none)."""
    return (manifest.get("source", {}).get("training") or {}) if is_artifact(manifest) else manifest


def metadata(manifest: dict[str, Any], name: str) -> ModelCardData:
    """The card's YAML front matter: what the Hub indexes and shows beside the card."""
    training = training_record(manifest)
    config = training.get("config", {})
    settings = card_settings(config)
    task = tasks.get(manifest["task"]).name  # our task names are the Hub's pipeline tags
    return ModelCardData(
        model_name=name,
        pipeline_tag=task,
        language=settings["language"],
        license=settings["license"],
        base_model=settings["base_model"],
        datasets=settings["datasets"],
        library_name=None if is_artifact(manifest) else "transformers",
        tags=["nlpops", "onnx"] if is_artifact(manifest) else ["nlpops"],
        eval_results=eval_results(manifest, training, config) or None,
    )


def card_settings(config: dict[str, Any]) -> dict[str, Any]:
    """Language, license, base model and datasets: the config's ``card`` key, else what the config implies."""
    base_model, license_id = base_model_info(str(_get(config, "model.pretrained") or ""))
    source = _get(config, "data.source")
    implied = {
        "language": DEFAULT_LANGUAGE,
        "license": license_id,
        "base_model": base_model,
        "datasets": [source.removeprefix("hub:")] if _is_hub_dataset(source) else None,
    }
    chosen = config.get("card") or {}
    return {key: chosen.get(key, implied[key]) for key in CARD_KEYS}


def base_model_info(pretrained: str) -> tuple[str | None, str | None]:
    """The Hub id and license of the backbone: a pinned asset says both; a Hub id (not a local folder) only itself."""
    if assets.is_asset_ref(pretrained):
        asset = assets.ASSETS.get(pretrained.removeprefix(assets.ASSET_SCHEME))
        found = ASSET_LICENCE.fullmatch(asset.licence) if asset else None
        return (found["hub_id"], found["license"].lower()) if found else (None, None)
    is_hub_id = re.fullmatch(r"[\w.-]+/[\w.-]+", pretrained) and not Path(pretrained).exists()
    return (pretrained if is_hub_id else None), None


def _is_hub_dataset(source: Any) -> bool:
    """Only a Hub dataset has a Hub id to list: an asset or a local file named there would link another dataset."""
    return isinstance(source, str) and source.startswith("hub:")


def eval_results(manifest: dict[str, Any], training: dict[str, Any], config: dict[str, Any]) -> list[EvalResult]:
    """The model-index: each headline metric on val and test, and the artifact's test metric per ONNX variant."""
    source = str(_get(config, "data.source") or "unknown")
    common = {
        "task_type": manifest["task"],
        "dataset_type": source.split(":", 1)[-1],
        "dataset_name": source,
    }
    overall, _ = split_metrics(training.get("metrics", {}))
    results = [
        EvalResult(
            **common,
            dataset_split=split,
            metric_type=_metric_type(metric),
            metric_name=f"{split} {metric}",
            metric_value=value,
        )
        for split in ("val", "test")
        for metric, value in overall.get(split, {}).items()
        if metric != "loss"
    ]
    for metric, engines in _engine_scores(manifest).items():
        results += [
            EvalResult(
                **common,
                dataset_split="test",
                metric_type=_metric_type(metric),
                metric_name=f"test {metric} ({ENGINES[engine]})",
                metric_value=value,
            )
            for engine, value in engines.items()
            if engine != "pytorch"  # the training metrics above are PyTorch's
        ]
    return results


def split_metrics(
    metrics: dict[str, float],
) -> tuple[dict[str, dict[str, float]], dict[str, dict[str, dict[str, float]]]]:
    """``split/metric`` as split -> metric -> value; ``split/label/metric`` as split -> label -> metric -> value."""
    overall: dict[str, dict[str, float]] = {}
    per_label: dict[str, dict[str, dict[str, float]]] = {}
    for key, value in sorted(metrics.items()):
        split, _, rest = key.partition("/")
        label, _, metric = rest.rpartition("/")
        if split not in SPLITS or metric.endswith(REPEATS):
            continue
        if label:
            per_label.setdefault(split, {}).setdefault(label, {})[metric] = value
        else:
            overall.setdefault(split, {})[metric] = value
    return overall, per_label


def _intended_use(task_name: str, artifact: bool) -> str:
    from nlpops.serving.task import serving_for  # the serving stack, imported only when a card is written

    task, serving = tasks.get(task_name), serving_for(task_name)
    how = (
        f"Serve this artifact with `NLPOPS_ARTIFACT_DIR=<this folder> python -m nlpops.serving`: "
        f"`POST {serving.route}` takes {_request(task)}; `python -m nlpops.serving.predict` runs it on files in batch."
        if artifact
        else f"A PyTorch model in Hugging Face format: `{_auto_class(task)}.from_pretrained(<this folder>)` loads it. "
        "To serve it, export it: "
        f"`python export.py task={task.config}` writes the ONNX artifact that `python -m nlpops.serving` serves "
        f"at `POST {serving.route}`."
    )
    return f"## Intended use\n\n{task.name}: {serving.summary}\n\n{how}"


def _request(task: tasks.Task) -> str:
    """What the task's route takes: texts to label, or a prompt to continue."""
    return '`{"text": ...}` or `{"texts": [...]}`' if task.labelled else '`{"prompt": ..., "max_new_tokens": ...}`'


def _auto_class(task: tasks.Task) -> str:
    """The transformers class that loads the task's model folder, as its export rule names it."""
    return task.layer("export").EXPORT.auto_class.__name__


def _data(training: dict[str, Any]) -> str:
    data = training.get("data")
    if not data:
        return "## Data\n\nNo training record: the model folder this came from had no manifest.json."
    source = str(data.get("source"))
    examples = data.get("examples", {})
    lines = [
        f"- source: `{source}`{_asset_note(source)}",
        f"- examples: {', '.join(f'{split} {_fmt(examples[split])}' for split in SPLITS if split in examples)}",
        f"- fingerprint (sha256 of every example and its split): `{data.get('sha256')}`",
    ]
    if training.get("labels"):
        lines.append(f"- labels ({len(training['labels'])}): {', '.join(f'`{label}`' for label in training['labels'])}")
    return "## Data\n\n" + "\n".join(lines)


def _asset_note(source: str) -> str:
    """A pinned dataset's provenance and licence note, from the asset registry."""
    asset = assets.ASSETS.get(source.removeprefix(assets.ASSET_SCHEME)) if assets.is_asset_ref(source) else None
    return f" (package {asset.package} {asset.version}; {asset.licence})" if asset else ""


def _training(training: dict[str, Any]) -> str:
    config = training.get("config")
    if not config:
        return ""
    rows = [(label, _get(config, path)) for label, path in HYPERPARAMETERS]
    lines = [f"- {label}: `{value}`" for label, value in rows if value is not None]
    lines += [
        f"- code: commit `{training.get('git_commit')}`, trained {training.get('created_at')}",
        f"- libraries: {', '.join(f'{name} {version}' for name, version in training.get('versions', {}).items())}",
    ]
    return "## Training\n\n" + "\n".join(lines) + "\n\nThe full resolved config is `config` in manifest.json."


def _evaluation(training: dict[str, Any]) -> str:
    overall, per_label = split_metrics(training.get("metrics", {}))
    if not overall:
        return ""
    splits = [split for split in SPLITS if split in overall]
    metrics = list(dict.fromkeys(metric for split in splits for metric in overall[split]))
    rows = [[metric, *(_fmt(overall[split].get(metric)) for split in splits)] for metric in metrics]
    parts = ["## Evaluation", "By split (PyTorch, the best checkpoint):", _table(["metric", *splits], rows)]
    for split in (split for split in SPLITS if split in per_label):
        labels = per_label[split]
        columns = list(dict.fromkeys(metric for values in labels.values() for metric in values))
        rows = [[label, *(_fmt(values.get(metric)) for metric in columns)] for label, values in labels.items()]
        parts += [f"By class / entity type ({split}):", _table(["label", *columns], rows)]
    return "\n\n".join(parts)


def _export(manifest: dict[str, Any]) -> str:
    """The artifact's files and the export's checks: how the served ONNX models compare with PyTorch."""
    source, metrics = manifest.get("source", {}), manifest.get("metrics", {})
    models = ", ".join(f"{variant} `{file}`" for variant, file in manifest.get("models", {}).items())
    lines = [
        f"- models: {models} (opset {manifest.get('opset')}, max length {manifest.get('max_length')} tokens)",
        f"- INT8 method: `{source.get('int8', {}).get('method', 'none')}`; exported {source.get('exported_at')}",
    ]
    test = metrics.get("test", {})
    lines += [f"- test {key}: {_fmt(value)}" for key, value in test.items() if not isinstance(value, dict)]
    parity = {key: value for key, value in metrics.get("parity", {}).items() if key != "int8_attempts"}
    lines += [f"- {key}: {_fmt_nested(value)}" for key, value in parity.items()]
    parts = ["## Export (ONNX)", "\n".join(lines)]
    for metric, engines in _engine_scores(manifest).items():
        rows = [[ENGINES[engine], _fmt(value)] for engine, value in engines.items()]
        parts += [f"Test {metric} by engine:", _table(["engine", metric], rows)]
    return "\n\n".join(parts)


def _engine_scores(manifest: dict[str, Any]) -> dict[str, dict[str, float]]:
    """The artifact's test metric of each engine (PyTorch, ONNX fp32, ONNX INT8), as the export measured it."""
    test = manifest.get("metrics", {}).get("test", {}) if is_artifact(manifest) else {}
    return {
        metric: {engine: engines[engine] for engine in ENGINES if engine in engines}
        for metric, engines in test.items()
        if isinstance(engines, dict)
    }


def _limitations(manifest: dict[str, Any], training: dict[str, Any]) -> str:
    settings = card_settings(training.get("config", {}))
    examples = training.get("data", {}).get("examples", {})
    count = {split: _fmt(examples.get(split, "an unknown number of")) for split in ("train", "test")}
    lines = [
        f"- Trained on {count['train']} examples from one source: expect lower scores on text unlike it (other "
        "domains, registers, spellings or lengths).",
        f"- Language: `{settings['language']}`; other languages were not evaluated.",
        f"- It can only answer with the {len(manifest.get('labels') or [])} labels it was trained with."
        if tasks.get(manifest["task"]).labelled
        else "- It continues text in the style of its training data; it can state falsehoods fluently.",
        f"- The test figures come from one held-out split of {count['test']} examples; per-label figures of rare "
        "labels rest on few examples.",
        "- It inherits the biases of its base model and data: review its answers before acting on them about people.",
    ]
    return "## Limitations\n\n" + "\n".join(lines)


def _metric_type(metric: str) -> str:
    return METRIC_TYPES.get(metric, metric)


def _get(config: dict[str, Any], dotted: str) -> Any:
    """``config``'s value at a dotted path, or None."""
    value: Any = config
    for key in dotted.split("."):
        value = value.get(key) if isinstance(value, dict) else None
    return value


def _fmt(value: Any) -> str:
    """A metric to 4 significant digits, a count with thousands separators."""
    if isinstance(value, float):
        return f"{value:.4g}"
    return (
        f"{value:,}" if isinstance(value, int) and not isinstance(value, bool) else "" if value is None else str(value)
    )


def _fmt_nested(value: Any) -> str:
    if isinstance(value, dict):
        return ", ".join(f"{key} {_fmt(item)}" for key, item in value.items())
    return _fmt(value)


def _table(header: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    lines = [header, ["---"] * len(header), *rows]
    return "\n".join(f"| {' | '.join(line)} |" for line in lines)


def push(directory: Path, repo_id: str, private: bool) -> str:
    """Upload ``directory`` (its card refreshed first) to the model repo ``repo_id``; return the commit's URL."""
    import huggingface_hub

    directory = Path(directory)
    token = _hub(huggingface_hub.get_token)
    if not token:
        raise UserError(f"no Hugging Face token: {LOGIN_HINT}")
    write_card(directory, repo_id.rsplit("/", 1)[-1])  # also checks that it is a model folder
    api = huggingface_hub.HfApi(token=token)
    _hub(api.create_repo, repo_id, private=private, exist_ok=True)
    commit = _hub(api.upload_folder, repo_id=repo_id, folder_path=directory, commit_message=f"Upload {directory.name}")
    return str(commit.commit_url)


def _hub(call: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """``call(*args, **kwargs)``, a Hugging Face Hub call, whose failure becomes one line (a ``UserError``)."""
    try:
        return call(*args, **kwargs)
    except Exception as err:  # huggingface_hub and httpx raise many types for "no connection" or "the Hub said no"
        raise UserError(_hub_problem(err)) from err


def _hub_problem(err: Exception) -> str:
    """Offline mode, no connection, or the Hub's answer (a bad token, a repo it may not write to)."""
    from huggingface_hub import constants
    from huggingface_hub.errors import HfHubHTTPError, OfflineModeIsEnabled

    if isinstance(err, OfflineModeIsEnabled):
        return "HF_HUB_OFFLINE is set: unset it to push to the Hub"
    reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
    if isinstance(err, HfHubHTTPError):
        return f"the Hub refused: {reason} (may the token write there? {LOGIN_HINT})"
    return f"cannot reach the Hugging Face Hub at {constants.ENDPOINT} ({reason}); check the network or HF_ENDPOINT"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m nlpops.model_card", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    write = commands.add_parser("write", help="(re)write DIR/README.md from DIR/manifest.json")
    write.add_argument("directory", type=Path, help="a trained model folder or an exported artifact")
    upload = commands.add_parser("push", help="upload DIR (card refreshed) to a Hub model repo with your token")
    upload.add_argument("directory", type=Path, help="a trained model folder or an exported artifact")
    upload.add_argument("--repo-id", required=True, help="OWNER/NAME of the model repo (created if missing)")
    upload.add_argument("--private", action="store_true", help="create the repo private")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "write":
            print(f"wrote {write_card(args.directory)}")
        else:
            print(f"pushed {args.directory} to {push(args.directory, args.repo_id, args.private)}")
    except UserError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
