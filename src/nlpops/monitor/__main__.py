"""``python -m nlpops.monitor drift``: does production traffic still look like the model's test split?

Exit status: 0 no drift; 1 drift detected (a scheduled job acts on it); 2 bad input, no reference, too few
predictions for a test, or no AWS access, said in one ``error:`` line.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from nlpops import tasks
from nlpops.errors import UserError
from nlpops.monitor.cloudwatch import duration, log_group, read_log_events
from nlpops.monitor.predictions import PredictionLog, read_lines, read_predictions

TASK_CONFIGS = sorted(task.config for task in tasks.TASKS.values())  # --task, as deploy.env names tasks
DEFAULT_TASK = "classification"
MIN_ROWS = 30
EXAMPLES = """sources of the current predictions:
  --current PATH...       prediction logs (NLPOPS_PREDICTION_LOG of the server or the batch command)
  --cloudwatch FUNCTION   a deployed Lambda function's CloudWatch logs for the last --since (boto3)

examples:
  python -m nlpops.monitor drift --current logs/predictions.jsonl --html reports/drift.html
  python -m nlpops.monitor drift --task ner --cloudwatch nlpops-ner --since 24h
"""


def reference_path(task: str) -> Path:
    """Where the evaluate stage writes the task's test-split predictions."""
    return Path("reports") / task / "reference.jsonl"


def positive_count(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive whole number")
    return int(text)


def since_text(text: str) -> str:
    """A valid ``--since``, kept as written: it names the window in the report."""
    try:
        duration(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None
    return text


def read_reference(args: argparse.Namespace) -> PredictionLog:
    path = args.reference or reference_path(args.task)
    if not path.is_file():
        raise UserError(
            f"no reference predictions at {path}: run the evaluate stage (dvc repro evaluate@{args.task}) "
            "or pass --reference"
        )
    return read_predictions(read_lines(path), str(path))


def read_current(args: argparse.Namespace, reference: PredictionLog) -> PredictionLog:
    model = (reference.model, reference.task)
    if args.cloudwatch:
        lines = read_log_events(args.cloudwatch, duration(args.since))
        return read_predictions(lines, f"CloudWatch {log_group(args.cloudwatch)} (last {args.since})", model)
    lines = [line for path in args.current for line in read_lines(path)]
    return read_predictions(lines, ", ".join(map(str, args.current)), model)


def check_enough(log: PredictionLog, min_rows: int) -> None:
    """Too few rows make any test's verdict noise: say so instead of reporting (or missing) drift."""
    if len(log.rows) < min_rows:
        skipped = f"; skipped lines: {dict(log.skipped)}" if log.skipped else ""
        raise UserError(
            f"{log.source} has {len(log.rows)} predictions of {log.model} ({log.task}), a drift test needs at "
            f"least {min_rows} (--min-rows): widen the window or wait for more traffic{skipped}"
        )


def write_outputs(snapshot: Any, summary: dict[str, Any], html: Path, json_path: Path) -> None:
    try:
        for path in (html, json_path):
            path.parent.mkdir(parents=True, exist_ok=True)
        snapshot.save_html(str(html))
        json_path.write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    except OSError as err:
        raise UserError(f"cannot write the report: {err}") from None


def verdict(summary: dict[str, Any]) -> str:
    drifted = summary["drifted_columns"]
    counted = f"{len(drifted)} of {len(summary['columns'])} columns drifted"
    if drifted:
        counted += f" ({', '.join(drifted)})"
    return f"{'drift detected' if summary['drift'] else 'no drift'}: {counted}"


def run_drift(args: argparse.Namespace) -> int:
    reference = read_reference(args)
    current = read_current(args, reference)
    for log in (reference, current):
        check_enough(log, args.min_rows)
        if log.skipped:
            print(f"{log.source}: skipped {sum(log.skipped.values())} lines {dict(log.skipped)}", file=sys.stderr)
    try:
        from nlpops.monitor import report
    except ImportError as err:
        raise UserError(
            f"the drift report needs Evidently ({err}); it runs in its own environment: make monitor-env, "
            "then .venv-monitor/bin/python -m nlpops.monitor drift ..."
        ) from None
    snapshot = report.run_drift(reference, current, args.drifted_columns)
    summary = report.summarize(snapshot, reference, current)
    json_path = args.json or args.html.with_suffix(".json")
    write_outputs(snapshot, summary, args.html, json_path)
    print(f"{verdict(summary)}; report: {args.html}, summary: {json_path}")
    return 1 if summary["drift"] else 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m nlpops.monitor", description="Monitor the served models.")
    commands = parser.add_subparsers(required=True, metavar="COMMAND")
    drift = commands.add_parser(
        "drift",
        help="drift report of current predictions against the test split's (exit 1 on drift)",
        description="Compare current predictions with the model's test-split predictions (Evidently): predicted "
        "label or entity types, confidence, text length, token count, share of unknown tokens. Writes an HTML "
        "report and a JSON summary; exit status 0 no drift, 1 drift, 2 an error.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    source = drift.add_mutually_exclusive_group(required=True)
    source.add_argument(
        "--current", type=Path, nargs="+", metavar="PATH", help="a prediction log, with its rotated files if wanted"
    )
    source.add_argument("--cloudwatch", metavar="FUNCTION", help="a Lambda function whose CloudWatch logs to read")
    drift.add_argument(
        "--since", type=since_text, help="with --cloudwatch: the window, e.g. 30m, 24h, 7d (default: 24h)"
    )
    drift.add_argument("--task", choices=TASK_CONFIGS, default=DEFAULT_TASK, help="picks the default --reference")
    drift.add_argument(
        "--reference", type=Path, metavar="PATH", help="test-split predictions (default: reports/TASK/reference.jsonl)"
    )
    drift.add_argument("--html", type=Path, default=Path("reports/drift.html"), help="default: reports/drift.html")
    drift.add_argument("--json", type=Path, help="the summary (default: the --html path with .json)")
    drift.add_argument(
        "--min-rows", type=positive_count, default=MIN_ROWS, help=f"fewer predictions is an error (default: {MIN_ROWS})"
    )
    drift.add_argument(
        "--drifted-columns",
        type=positive_count,
        default=1,
        metavar="N",
        help="drift when at least N columns drifted (default: 1: any, the model's outputs included)",
    )
    drift.set_defaults(run=run_drift)
    return parser


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.since is not None and not args.cloudwatch:
        parser.error("--since applies to --cloudwatch only (a prediction log file is read whole)")
    args.since = args.since or "24h"
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        return args.run(args)
    except UserError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
