"""PyTorch fp32 vs ONNX Runtime fp32 vs ONNX Runtime INT8 on the same real review sentences.

For each engine, in a fresh process so thread settings and caches do not leak between them: latency at
batch 1 (p50/p99); throughput at batch 1, at batch 32 (length-sorted, as a batch job runs) and with a few
requests padded into one call in arrival order (as a server batching concurrent requests would); process
cold start (interpreter start → imports → model load → first prediction) and the installed size of the
runtime it needs. Prints a Markdown table and saves it (and the raw figures as JSON) under logs/benchmarks/.

    python benchmarks/inference_compare.py                       # models/text-classifier{,-onnx}
    python benchmarks/inference_compare.py --sentences 500 --threads 1
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from importlib.metadata import PackageNotFoundError, distribution
from pathlib import Path
from typing import Any

import numpy as np
from packaging.requirements import Requirement

from nlpops.errors import UserError
from nlpops.serving.artifact import MANIFEST, check_artifact
from nlpops.utils.machine import describe
from nlpops.utils.model_dir import PASS_MODEL_DIR, check_model_dir

REPO_ROOT = Path(__file__).resolve().parents[1]
ENGINES = {"pytorch-fp32": "PyTorch fp32", "onnx-fp32": "ONNX Runtime fp32", "onnx-int8": "ONNX Runtime INT8"}
RUNTIMES = {  # what each engine needs installed to run (their dependencies are added recursively)
    "pytorch-fp32": ["torch", "transformers"],
    "onnx-fp32": ["onnxruntime", "tokenizers"],
    "onnx-int8": ["onnxruntime", "tokenizers"],
}
COLD_START = {
    "pytorch-fp32": """
import time; t = time.perf_counter()
import torch
from transformers import AutoModelForSequenceClassification, AutoTokenizer
model = AutoModelForSequenceClassification.from_pretrained({model_dir!r}).eval()
tokenizer = AutoTokenizer.from_pretrained({model_dir!r})
with torch.inference_mode():
    model(**tokenizer(["A gorgeous, witty film."], return_tensors="pt", return_token_type_ids=False))
print(time.perf_counter() - t)
""",
    "onnx": """
import time; t = time.perf_counter()
from nlpops.serving.classification import SERVING
from nlpops.serving.core import OnnxModel
SERVING.predict(OnnxModel.load({artifact!r}, {variant!r}), ["A gorgeous, witty film."])
print(time.perf_counter() - t)
""",
}


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n")[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter
    )
    parser.add_argument(
        "--model-dir",
        type=Path,
        default=REPO_ROOT / "models/text-classifier",
        help="the fine-tuned model folder PyTorch runs (train.py's model_dir); its tokenizer reads the sentences",
    )
    parser.add_argument(
        "--artifact",
        type=Path,
        default=REPO_ROOT / "models/text-classifier-onnx",
        help="the exported artifact ONNX Runtime runs (export.py); every engine tokenizes with it",
    )
    parser.add_argument("--sentences", type=int, default=400, help="test-split sentences to time")
    parser.add_argument("--threads", type=int, default=1, help="intra-op threads of every engine")
    parser.add_argument(
        "--request-batch", type=int, default=4, help="requests padded into one call (arrival order) for that column"
    )
    parser.add_argument(
        "--output", type=Path, default=REPO_ROOT / "logs/benchmarks", help="folder of inference_compare.{md,json}"
    )
    parser.add_argument("--engine", choices=ENGINES, help=argparse.SUPPRESS)  # worker mode
    parser.add_argument("--texts-file", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if min(args.sentences, args.threads, args.request_batch) < 1:
        parser.error("--sentences, --threads and --request-batch must be at least 1")
    return args


def check_inputs(args: argparse.Namespace) -> None:
    """Fail before the slow data loading if the model folder or the artifact is missing, or --output is unusable."""
    check_model_dir(args.model_dir, choose=PASS_MODEL_DIR)
    if not (args.artifact / MANIFEST).is_file():
        raise UserError(
            f"no model artifact at {args.artifact} ({MANIFEST} missing): run `python export.py` first "
            "or pass --artifact an exported artifact"
        )
    for variant in ("fp32", "int8"):
        check_artifact(args.artifact, variant, verify_checksums=False)  # the workers verify the checksums
    try:
        args.output.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise UserError(f"cannot create the --output folder {args.output}: {err.strerror}") from None


def run_worker(command: list[str]) -> str:
    """The standard output of ``command``; if it fails, its standard error is shown and this exits with its status."""
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode:
        sys.stderr.write(result.stderr)
        raise SystemExit(result.returncode)
    return result.stdout


def test_sentences(model_dir: Path, count: int) -> list[str]:
    """The first ``count`` test-split sentences of the export config's data (the split export checks on)."""
    from hydra import compose, initialize_config_dir

    import nlpops.utils.resolvers  # noqa: F401
    from nlpops.utils.instantiate import build

    with initialize_config_dir(str(REPO_ROOT / "configs"), version_base="1.3"):
        cfg = compose("export", overrides=[f"model_dir={model_dir}", "paths.root_dir=."])
    datamodule = build(cfg, "data")
    datamodule.prepare_data()
    datamodule.setup("test")
    return [example.text for example in datamodule.examples["test"][:count]]


def engine_runner(engine: str, args: argparse.Namespace):
    """(encode, run) for one engine; both engines get the serving core's tokenization."""
    from nlpops.serving.core import OnnxModel

    variant = "int8" if engine == "onnx-int8" else "fp32"
    core = OnnxModel.load(args.artifact, variant, intra_op_threads=args.threads)
    if engine != "pytorch-fp32":
        return core.encode, core.run
    import torch
    from transformers import AutoModelForSequenceClassification

    torch.set_num_threads(args.threads)
    model = AutoModelForSequenceClassification.from_pretrained(args.model_dir).eval()

    def run(inputs: dict[str, np.ndarray]) -> np.ndarray:
        with torch.inference_mode():
            return model(**{k: torch.from_numpy(v) for k, v in inputs.items()}).logits.numpy()

    return core.encode, run


def measure(engine: str, args: argparse.Namespace) -> dict[str, float]:
    """Worker mode: time one engine on the sentences in ``args.texts_file``."""
    texts = json.loads(args.texts_file.read_text())
    encode, run = engine_runner(engine, args)
    for text in texts[:20]:
        run(encode([text]))  # warm-up: allocations, kernel selection
    latencies = []
    started = time.perf_counter()
    for text in texts:
        t = time.perf_counter()
        run(encode([text]))
        latencies.append(time.perf_counter() - t)
    single = len(texts) / (time.perf_counter() - started)
    ms = 1000 * np.asarray(latencies)
    return {
        "p50_ms": float(np.percentile(ms, 50)),
        "p99_ms": float(np.percentile(ms, 99)),
        "batch1_per_s": single,
        # a batch job: similar lengths together, less padding
        "batch32_per_s": per_second(encode, run, sorted(texts, key=len), 32),
        # a server batching concurrent requests: whatever arrived together, padded to the longest
        "request_batch_per_s": per_second(encode, run, texts, args.request_batch),
    }


def per_second(
    encode: Callable[[list[str]], dict[str, np.ndarray]],
    run: Callable[[dict[str, np.ndarray]], object],
    texts: list[str],
    batch_size: int,
) -> float:
    """Sentences per second, predicting ``texts`` in consecutive batches of ``batch_size``."""
    started = time.perf_counter()
    for i in range(0, len(texts), batch_size):
        run(encode(texts[i : i + batch_size]))
    return len(texts) / (time.perf_counter() - started)


def cold_start(engine: str, args: argparse.Namespace) -> dict[str, float]:
    """A fresh interpreter: wall time to the first prediction, and the part spent after Python started."""
    if engine == "pytorch-fp32":
        code = COLD_START["pytorch-fp32"].format(model_dir=str(args.model_dir))
    else:
        variant = engine.removeprefix("onnx-")
        code = COLD_START["onnx"].format(artifact=str(args.artifact), variant=variant)
    started = time.perf_counter()
    output = run_worker([sys.executable, "-c", code])
    return {"cold_start_s": time.perf_counter() - started, "import_load_predict_s": float(output.split()[-1])}


def installed_mb(roots: list[str]) -> float:
    """Size on disk of these distributions and everything they require (no extras), each counted once."""
    seen: set[str] = set()
    pending, total = list(roots), 0
    while pending:
        name = pending.pop().lower().replace("_", "-")
        if name in seen:
            continue
        seen.add(name)
        try:
            dist = distribution(name)
        except PackageNotFoundError:
            continue
        total += sum((f.size or 0) for f in dist.files or [])
        for line in dist.requires or []:
            requirement = Requirement(line)
            if requirement.marker is None or requirement.marker.evaluate({"extra": ""}):
                pending.append(requirement.name)
    return total / 1e6


def table(rows: dict[str, dict[str, Any]], args: argparse.Namespace, count: int) -> str:
    lines = [
        f"{describe()}; {count} test-split review sentences, {args.threads} intra-op thread(s), one process per engine",
        "",
        "| engine | p50 ms (batch 1) | p99 ms (batch 1) | sentences/s (batch 1) | sentences/s (batch 32) "
        f"| sentences/s ({args.request_batch} requests in one call) | cold start s | runtime installed MB |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for engine, r in rows.items():
        lines.append(
            f"| {ENGINES[engine]} | {r['p50_ms']:.2f} | {r['p99_ms']:.2f} | {r['batch1_per_s']:.0f} "
            f"| {r['batch32_per_s']:.0f} | {r['request_batch_per_s']:.0f} "
            f"| {r['cold_start_s']:.2f} ({r['import_load_predict_s']:.2f} in Python) "
            f"| {r['installed_mb']:.0f} |"
        )
    return "\n".join(lines)


def compare(args: argparse.Namespace) -> None:
    """Measure every engine in its own worker process; print and save the table."""
    check_inputs(args)
    texts = test_sentences(args.model_dir, args.sentences)
    rows: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory(prefix="inference-compare-") as scratch:
        texts_file = Path(scratch) / "texts.json"
        texts_file.write_text(json.dumps(texts))
        for engine in ENGINES:
            print(f"measuring {ENGINES[engine]} …", file=sys.stderr)
            worker = [sys.executable, __file__, "--engine", engine, "--texts-file", str(texts_file)]
            worker += ["--model-dir", str(args.model_dir), "--artifact", str(args.artifact)]
            worker += ["--threads", str(args.threads), "--request-batch", str(args.request_batch)]
            rows[engine] = json.loads(run_worker(worker).strip().splitlines()[-1])
            rows[engine] |= cold_start(engine, args)
            rows[engine]["installed_mb"] = installed_mb(RUNTIMES[engine])
    report = table(rows, args, len(texts))
    print(report)
    (args.output / "inference_compare.md").write_text(report + "\n")
    (args.output / "inference_compare.json").write_text(json.dumps(rows, indent=2) + "\n")
    print(f"\nsaved to {args.output}/inference_compare.{{md,json}}", file=sys.stderr)


def main() -> None:
    args = parse_args()
    try:
        if args.engine:  # worker mode
            print(json.dumps(measure(args.engine, args)))
        else:
            compare(args)
    except UserError as err:
        print(f"error: {err}", file=sys.stderr)
        raise SystemExit(2) from None


if __name__ == "__main__":
    main()
