"""Batch predictions from the command line: ``python -m nlpops.serving.predict reviews.txt -o out.jsonl``.

Reads one text per line (``.txt``) or JSON Lines with a text field (``.jsonl``, or any input with ``--jsonl``),
from files or stdin, and writes one JSON object per text (the text and the answer the API gives for it: for a
classifier its label, score and all scores; blank lines are skipped) on the same core and task code the API
serves with, so offline answers are the answers the API would give. On a terminal
it shows a progress bar. With ``NLPOPS_PREDICTION_LOG`` set, each text also gets its prediction-log line
(``source: batch``, one request id for the run).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import Any, TextIO

from tqdm import tqdm

from nlpops.errors import UserError
from nlpops.serving.core import OnnxModel, in_batches
from nlpops.serving.prediction_log import PredictionLog, open_log
from nlpops.serving.preload import load_artifact
from nlpops.serving.settings import STDOUT, VARIANTS, Settings
from nlpops.serving.task import TaskServing, serving_for
from nlpops.utils.files import atomic_file

PROG = "python -m nlpops.serving.predict"
TERMINAL_HINT = f"reading texts from the terminal, one a line; end with Ctrl-D (or pass files: {PROG} reviews.txt)"


def parse_args(argv: Sequence[str] | None, defaults: Settings) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Run an exported model artifact on texts in batch, e.g. classify them (no torch needed).",
    )
    parser.add_argument("inputs", nargs="*", default=["-"], help="text files (one text a line) or .jsonl; - = stdin")
    parser.add_argument("-o", "--output", default="-", help="JSON Lines output file (default: stdout)")
    parser.add_argument("--artifact", type=Path, default=defaults.artifact_dir, help="artifact directory")
    parser.add_argument("--variant", choices=VARIANTS, default=defaults.variant, help="model to run")
    parser.add_argument("--field", default="text", help="the text field of .jsonl inputs (default: text)")
    parser.add_argument(
        "--jsonl", action="store_true", help="read every input as JSON Lines (stdin too), not only .jsonl/.ndjson files"
    )
    parser.add_argument(
        "--batch-size", type=int, default=32, help="texts per ONNX Runtime call (fp32; int8 runs one text a call)"
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=os.cpu_count() or 1,
        help="batches predicted at once, a thread each with one ONNX Runtime thread (default: one per CPU)",
    )
    parser.set_defaults(verify_checksums=defaults.verify_checksums)  # NLPOPS_VERIFY_CHECKSUMS, as the server
    return parser.parse_args(argv)


def open_input(path: str) -> AbstractContextManager[TextIO]:
    if path == "-":
        if sys.stdin.isatty():  # e.g. `make predict` without INPUT: say what it waits for
            print(TERMINAL_HINT, file=sys.stderr)
        return nullcontext(sys.stdin)  # stdin is not ours to close
    try:
        return open(path, encoding="utf-8")  # closed by the caller's with block
    except OSError as err:
        raise UserError(f"cannot read {path}: {err.strerror}") from None


def read_texts(path: str, field: str, jsonl: bool = False) -> Iterator[str]:
    """Non-blank lines of a text file, or the ``field`` of each JSON Lines record (``jsonl``, or by extension)."""
    is_jsonl = jsonl or path.endswith((".jsonl", ".ndjson"))
    with open_input(path) as lines:
        try:
            for number, line in enumerate(lines, 1):
                if not line.strip():
                    continue
                if not is_jsonl:
                    yield line.rstrip("\n")
                    continue
                try:
                    text = json.loads(line)[field]
                except (ValueError, KeyError, TypeError):
                    raise UserError(f"{path}:{number}: expected a JSON object with a string field '{field}'") from None
                if not isinstance(text, str) or not text.strip():
                    raise UserError(f"{path}:{number}: field '{field}' is not a non-blank string")
                yield text
        except UnicodeDecodeError as err:
            raise UserError(
                f"{path} is not UTF-8 text ({err.reason}: byte {err.object[err.start]:#04x}); "
                f"convert it first, e.g. iconv -f latin1 -t utf-8 {path}"
            ) from None


def write_predictions(
    output: str, texts: Sequence[str], answers: Sequence[dict[str, Any]], field: str = "text"
) -> None:
    """JSON Lines to stdout (``-``) or to ``output``, which is replaced only once every line is written; each line
    has the input as ``field`` (the task's ``input_field``), then the answer."""
    lines = (
        json.dumps({field: text} | answer, ensure_ascii=False) + "\n"
        for text, answer in zip(texts, answers, strict=True)
    )
    if output == "-":
        sys.stdout.writelines(lines)
        return
    try:
        with atomic_file(Path(output)) as scratch, scratch.open("w", encoding="utf-8") as out:
            out.writelines(lines)
    except OSError as err:
        raise UserError(f"cannot write {output}: {err.strerror}") from None


def logged(
    serving: TaskServing, model: OnnxModel, log: PredictionLog | None, run_id: str
) -> Callable[[Sequence[str]], list[Any]]:
    """``serving.predict`` on ``model``, each batch's answers also handed to the prediction log (if it is on)."""

    def predict(batch: Sequence[str]) -> list[Any]:
        started = time.perf_counter()
        answers = serving.predict(model, batch)
        if log is not None:
            log.write(batch, answers, time.perf_counter() - started, run_id)
        return answers

    return predict


def main(argv: Sequence[str] | None = None) -> int:
    log = None
    try:
        settings = Settings.from_env()
        args = parse_args(argv, settings)
        if args.batch_size < 1 or args.threads < 1:
            raise UserError("--batch-size and --threads must be positive")
        if settings.prediction_log == STDOUT and args.output == "-":
            raise UserError("the predictions and NLPOPS_PREDICTION_LOG=- cannot both go to stdout: pass -o FILE")
        model = load_artifact(args.artifact, variant=args.variant, verify_checksums=args.verify_checksums)
        serving = serving_for(model.manifest.task)
        log = open_log(settings, serving, model, source="batch")
        texts = [text for path in args.inputs for text in read_texts(path, args.field, args.jsonl)]
        predict = logged(serving, model, log, run_id=uuid.uuid4().hex)  # the run's lines share one request id
        started = time.perf_counter()
        with tqdm(total=len(texts), desc="predicting", unit="text", file=sys.stderr, disable=None, leave=False) as bar:
            answers = in_batches(predict, texts, args.batch_size, bar.update, args.threads)
        seconds = time.perf_counter() - started
        write_predictions(args.output, texts, [serving.as_json(answer) for answer in answers], serving.input_field)
    except UserError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    finally:
        if log is not None:
            log.close()
    rate = len(texts) / seconds if seconds > 0 else 0.0
    print(f"{len(texts)} texts in {seconds:.2f} s ({rate:.0f}/s, {args.variant})", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
