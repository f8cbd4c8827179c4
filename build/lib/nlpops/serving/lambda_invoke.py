"""Invoke the Lambda handler locally with sample events: ``python -m nlpops.serving.lambda_invoke EVENT.json``.

No Lambda emulator installs here, and the handler is a plain function: importing it runs the same init
(model load) as a cold Lambda container, then each event is passed to it as Lambda would. Prints the init
time, each response and its duration; exits 1 if any HTTP response is 5xx.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from nlpops.errors import UserError

DEFAULT_EVENTS = sorted(str(p) for p in (Path(__file__).resolve().parents[3] / "events").glob("*.json"))


def fake_context(name: str) -> SimpleNamespace:
    """The attributes handlers commonly read from Lambda's context object."""
    return SimpleNamespace(
        function_name="nlpops-local",
        function_version="$LATEST",
        invoked_function_arn="arn:aws:lambda:local:000000000000:function:nlpops-local",
        memory_limit_in_mb=2048,
        aws_request_id=f"local-{name}",
        log_group_name="/aws/lambda/nlpops-local",
        log_stream_name="local",
        get_remaining_time_in_millis=lambda: 30_000,
    )


def load_event(path: str) -> Any:
    try:
        return json.loads(sys.stdin.read() if path == "-" else Path(path).read_text(encoding="utf-8"))
    except OSError as err:
        raise UserError(f"cannot read event {path}: {err.strerror}") from None
    except ValueError as err:
        raise UserError(f"event {path} is not valid JSON: {err}") from None


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m nlpops.serving.lambda_invoke", description=__doc__.split("\n")[0])
    parser.add_argument("events", nargs="*", help="event JSON files (- = stdin); default: every file in events/")
    args = parser.parse_args(argv)
    paths = args.events or DEFAULT_EVENTS
    try:
        if not paths:
            raise UserError("no events given and no events/ folder found: pass event JSON files")
        events = [(path, load_event(path)) for path in paths]
        started = time.perf_counter()
        from nlpops.serving.lambda_handler import handler  # the init phase: loads the model

        print(f"init (import + model load): {time.perf_counter() - started:.3f} s", file=sys.stderr)
    except UserError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    failed = False
    for path, event in events:
        started = time.perf_counter()
        response = handler(event, fake_context(Path(path).stem))
        took = time.perf_counter() - started
        status = response.get("statusCode", 200)
        failed |= status >= 500
        print(f"--- {path}: {status} in {1000 * took:.1f} ms", file=sys.stderr)
        print(json.dumps(response, indent=2, ensure_ascii=False))
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
