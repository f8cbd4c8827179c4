"""Generation load test: tokens/s and time to first token of the API server against the PyTorch baseline.

Starts each server on 127.0.0.1 in turn (``python -m nlpops.serving`` on the generation artifact; the
tutorial-style ``benchmarks/naive_server.py --task text-generation``: transformers ``generate()`` on PyTorch in a
sync FastAPI endpoint), then for each number of concurrent clients has every client send ``--requests`` prompts
one after another. Ours streams (``"stream": true``), so its time to first token is when the first text arrives;
the baseline cannot stream, so its first token comes with its whole answer. Tokens/s counts every generated token
of every client over the wall time. Memory is the server process's peak resident set (``VmHWM``) after the run.

    python -m benchmarks.generation_load                      # 1 and 4 clients, 64 new tokens, both servers
    python -m benchmarks.generation_load --clients 1 --clients 8 --max-new-tokens 32 --server nlpops

Prints a Markdown table and appends the raw figures to logs/benchmarks/generation_load.jsonl.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks.load_test import REPO_ROOT, Workload, server_command, start_server
from nlpops import tasks
from nlpops.errors import UserError
from nlpops.serving.artifact import read_manifest
from nlpops.utils.machine import describe

SERVERS = ("nlpops", "naive-pytorch")
# Openings of lines of Hamlet (public domain): the register the default model is fine-tuned on.
PROMPTS = (
    "To be, or not to be,",
    "My lord,",
    "O, what a rogue and peasant slave",
    "Something is rotten in",
    "Good night, sweet prince,",
    "What a piece of work is a man!",
    "Frailty, thy name is",
    "The king doth wake tonight",
)
RESULTS = REPO_ROOT / "logs/benchmarks/generation_load.jsonl"


@dataclass(frozen=True)
class PromptWorkload(Workload):
    """What the start-up probe sends: one short greedy generation."""

    def body(self, text: str) -> str:
        return json.dumps({"prompt": PROMPTS[1], "max_new_tokens": 1})


@dataclass(frozen=True)
class Answer:
    first_token_s: float
    total_s: float
    tokens: int


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--artifact", type=Path, default=REPO_ROOT / "models/generator-onnx")
    parser.add_argument("--model-dir", type=Path, default=REPO_ROOT / "models/generator", help="the baseline's model")
    parser.add_argument("--server", action="append", choices=SERVERS, help="repeat to pick (default: both)")
    parser.add_argument("--clients", action="append", type=int, help="concurrent clients, repeatable (default 1, 4)")
    parser.add_argument("--requests", type=int, default=4, help="prompts each client sends, one after another")
    parser.add_argument("--max-new-tokens", type=int, default=64)
    return parser.parse_args()


def post(url: str, body: dict[str, Any]) -> urllib.request.Request:
    return urllib.request.Request(url, json.dumps(body).encode(), {"Content-Type": "application/json"})


def generate(url: str, server: str, prompt: str, max_new_tokens: int) -> Answer:
    """One greedy generation; ours is read as its Server-Sent Events arrive."""
    body = {"prompt": prompt, "max_new_tokens": max_new_tokens, "temperature": 0.0}
    started = time.perf_counter()
    if server != "nlpops":
        with urllib.request.urlopen(post(f"{url}/generate", body), timeout=600) as response:
            answer = json.load(response)
        total = time.perf_counter() - started
        return Answer(total, total, answer["tokens"])
    first, tokens, pending = None, 0, b""
    with urllib.request.urlopen(post(f"{url}/generate", body | {"stream": True}), timeout=600) as response:
        while chunk := response.read1():  # what has arrived: iterating lines would wait for a full buffer
            *lines, pending = (pending + chunk).split(b"\n")
            for line in (raw.decode().strip() for raw in lines):
                if not line.startswith("data:") or line == "data: [DONE]":
                    continue
                event = json.loads(line.removeprefix("data:"))
                if first is None and event.get("text"):
                    first = time.perf_counter() - started
                tokens = event.get("tokens", tokens)
    total = time.perf_counter() - started
    return Answer(first if first is not None else total, total, tokens)


def measure(url: str, server: str, clients: int, requests: int, max_new_tokens: int) -> dict[str, Any]:
    def client(index: int) -> list[Answer]:
        prompts = [PROMPTS[(index + i) % len(PROMPTS)] for i in range(requests)]
        return [generate(url, server, prompt, max_new_tokens) for prompt in prompts]

    started = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        answers = [answer for part in pool.map(client, range(clients)) for answer in part]
    wall = time.perf_counter() - started
    tokens = sum(answer.tokens for answer in answers)
    return {
        "clients": clients,
        "tokens": tokens,
        "tokens_per_s": tokens / wall,
        "ttft_median_s": statistics.median(answer.first_token_s for answer in answers),
        "latency_median_s": statistics.median(answer.total_s for answer in answers),
    }


def peak_rss_mb(pid: int) -> float:
    """The process's peak resident memory (``VmHWM``), in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def run_server(server: str, args: argparse.Namespace) -> list[dict[str, Any]]:
    env = [f"NLPOPS_ARTIFACT_DIR={args.artifact}"]
    command = server_command(server, tasks.TEXT_GENERATION, args.model_dir if server != "nlpops" else None)
    process, url, start_s = start_server(command, env, PromptWorkload(tasks.TEXT_GENERATION, "", lambda n: []))
    try:
        rows = [measure(url, server, c, args.requests, args.max_new_tokens) for c in args.clients]
        rss = peak_rss_mb(process.pid)
    finally:
        process.terminate()
        process.wait(timeout=30)
    return [row | {"server": server, "start_s": start_s, "peak_rss_mb": rss} for row in rows]


def report(rows: list[dict[str, Any]]) -> str:
    lines = [
        "| server | clients | tokens/s | time to first token (median) | latency (median) | peak RSS |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        lines.append(
            f"| {row['server']} | {row['clients']} | {row['tokens_per_s']:.1f} | {row['ttft_median_s'] * 1000:.0f} ms"
            f" | {row['latency_median_s']:.2f} s | {row['peak_rss_mb']:.0f} MB |"
        )
    ours = {row["clients"]: row for row in rows if row["server"] == "nlpops"}
    for row in rows:
        if row["server"] != "nlpops" and row["clients"] in ours:
            ratio = ours[row["clients"]]["tokens_per_s"] / row["tokens_per_s"]
            lines.append(f"\n{row['clients']} client(s): nlpops {ratio:.2f}x the tokens/s of {row['server']}")
    return "\n".join(lines)


def main() -> None:
    args = parse_args()
    args.server = args.server or list(SERVERS)
    args.clients = args.clients or [1, 4]
    try:  # a missing or wrong export fails here, before any server starts
        task = read_manifest(args.artifact).task
    except UserError as err:
        raise SystemExit(f"error: {err}") from None
    if task != tasks.TEXT_GENERATION:
        raise SystemExit(
            f"error: {args.artifact} is a {task} artifact; export one with `python export.py task=generation`"
        )
    rows = [row for server in args.server for row in run_server(server, args)]
    print(f"Machine: {describe()}\n")
    print(report(rows))
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    with RESULTS.open("a", encoding="utf-8") as file:
        for row in rows:
            file.write(json.dumps(row | {"machine": describe(), "time": time.time()}) + "\n")


if __name__ == "__main__":
    main()
