"""A tutorial-style API server: the baseline that ``benchmarks/load_test.py --server naive-...`` compares to.

FastAPI with a sync endpoint (run on FastAPI's thread pool, up to 40 threads), the model loaded before uvicorn
starts, one forward per request on the runtime's default threads, uvicorn's defaults otherwise. ``--task``
picks the endpoint, as an artifact's manifest picks the API server's: ``POST /predict`` for text
classification, ``POST /ner`` for token classification. Two engines:

    python benchmarks/naive_server.py --engine pytorch     # transformers + PyTorch fp32 (models/text-classifier)
    python benchmarks/naive_server.py --engine onnx-int8   # ONNX Runtime INT8 (NLPOPS_ARTIFACT_DIR)
    python benchmarks/naive_server.py --task token-classification --engine pytorch --model-dir models/ner
    NLPOPS_ARTIFACT_DIR=models/ner-onnx python benchmarks/naive_server.py --task token-classification --engine onnx-int8

Host, port and artifact come from the ``NLPOPS_*`` variables, as for ``python -m nlpops.serving``.

It is deliberately naive (no fixed inference pool, no GIL switch interval, no pure-ASGI middleware, no
preload), like the servers behind the reference figures in docs/serving-performance.md (~60 requests/s
for PyTorch, 390-450 for ONNX Runtime INT8 on their machine), so that the API server can be compared with
them on any machine. NER is written the way its tutorials do it: the PyTorch engine is transformers'
``pipeline("token-classification", aggregation_strategy="simple")``; the ONNX one runs the artifact's INT8 file
with onnxruntime and tokenizers directly (tokenize, run, argmax, the pipeline's simple grouping), without the
project's inference core. Text generation (``POST /generate``, PyTorch only) is transformers' ``generate()`` on
the fine-tuned folder, the whole text in one answer, as its tutorials serve it:

    python benchmarks/naive_server.py --task text-generation --engine pytorch --model-dir models/generator

Not for production: use ``make serve``.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn

import uvicorn
from fastapi import FastAPI
from pydantic import BaseModel

from nlpops import tasks
from nlpops.errors import UserError
from nlpops.serving.settings import Settings
from nlpops.serving.task import serving_for
from nlpops.utils.model_dir import PASS_MODEL_DIR, check_model_dir

REPO_ROOT = Path(__file__).resolve().parents[1]
Scores = dict[str, float]
Answer = Callable[[str], dict[str, Any]]  # a text -> the endpoint's JSON answer
Token = tuple[str, float, int, int]  # a word piece's label, its probability, its character span
MODEL_DIRS = {  # the fine-tuned checkpoint --engine pytorch serves by default, by task
    tasks.CLASSIFICATION: REPO_ROOT / "models/text-classifier",
    tasks.TOKEN_CLASSIFICATION: REPO_ROOT / "models/ner",
    tasks.TEXT_GENERATION: REPO_ROOT / "models/generator",
}


class TextIn(BaseModel):
    text: str


class PromptIn(BaseModel):
    prompt: str
    max_new_tokens: int = 64
    temperature: float = 0.0
    top_p: float = 1.0


def pytorch_scorer(model_dir: Path) -> Callable[[str], Scores]:
    """Class probabilities of one text from a fine-tuned checkpoint, as a transformers tutorial computes them."""
    check_model_dir(model_dir, choose=PASS_MODEL_DIR)  # else transformers takes a missing path for a Hub id
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForSequenceClassification.from_pretrained(model_dir).eval()
    labels = [model.config.id2label[i] for i in range(model.config.num_labels)]

    def score(text: str) -> Scores:
        inputs = tokenizer(text, truncation=True, return_tensors="pt", return_token_type_ids=False)
        with torch.no_grad():
            probabilities = model(**inputs).logits.softmax(-1)[0].tolist()
        return dict(zip(labels, probabilities, strict=True))

    return score


def onnx_scorer(artifact: Path) -> Callable[[str], Scores]:
    """Class probabilities of one text from the artifact's INT8 model, on ONNX Runtime's default threads."""
    from nlpops.serving.classification import SERVING
    from nlpops.serving.core import OnnxModel

    model = OnnxModel.load(artifact, "int8", intra_op_threads=0)  # 0: ONNX Runtime's default

    def score(text: str) -> Scores:
        return SERVING.predict(model, [text])[0].scores

    return score


def classification_answer(score: Callable[[str], Scores]) -> Answer:
    def answer(text: str) -> dict[str, Any]:
        scores = score(text)
        label = max(scores, key=scores.__getitem__)
        return {"label": label, "score": scores[label], "scores": scores}

    return answer


def pytorch_tagger(model_dir: Path) -> Answer:
    """Entities of one text from transformers' token-classification pipeline, as its tutorials serve it."""
    check_model_dir(model_dir, choose=PASS_MODEL_DIR)
    from transformers import pipeline

    ner = pipeline("token-classification", model=str(model_dir), aggregation_strategy="simple")

    def answer(text: str) -> dict[str, Any]:
        found = ner(text)  # numpy scores, which FastAPI cannot serialise
        return {"entities": [entity(text, e["entity_group"], float(e["score"]), e["start"], e["end"]) for e in found]}

    return answer


def onnx_tagger(artifact: Path) -> Answer:
    """Entities of one text from the artifact's INT8 file, through onnxruntime and tokenizers alone."""
    import numpy as np
    import onnxruntime as ort
    from tokenizers import Tokenizer

    manifest = json.loads((artifact / "manifest.json").read_text(encoding="utf-8"))
    labels = manifest["labels"]
    tokenizer = Tokenizer.from_file(str(artifact / "tokenizer.json"))
    tokenizer.enable_truncation(max_length=manifest["max_length"])
    session = ort.InferenceSession(str(artifact / manifest["models"]["int8"]), providers=["CPUExecutionProvider"])

    def answer(text: str) -> dict[str, Any]:
        encoding = tokenizer.encode(text)
        inputs = {"input_ids": np.array([encoding.ids]), "attention_mask": np.array([encoding.attention_mask])}
        logits = session.run(None, inputs)[0][0]
        probabilities = np.exp(logits - logits.max(-1, keepdims=True))
        probabilities /= probabilities.sum(-1, keepdims=True)
        tokens = [
            (labels[int(p.argmax())], float(p.max()), start, end)
            for p, (start, end), special in zip(
                probabilities, encoding.offsets, encoding.special_tokens_mask, strict=True
            )
            if not special
        ]
        return {"entities": simple_entities(text, tokens)}

    return answer


def simple_entities(text: str, tokens: list[Token]) -> list[dict[str, Any]]:
    """Word pieces grouped as the pipeline's ``aggregation_strategy="simple"`` does.

    A piece joins the group before it when both have the same type and it is not a B-; ``O`` groups are dropped;
    a group's score is the mean of its pieces'.
    """
    groups: list[tuple[str, list[Token]]] = []  # (type, its pieces)
    for token in tokens:
        prefix, kind = _split(token[0])
        if groups and groups[-1][0] == kind and prefix != "B":
            groups[-1][1].append(token)
        else:
            groups.append((kind, [token]))
    return [
        entity(text, kind, sum(piece[1] for piece in pieces) / len(pieces), pieces[0][2], pieces[-1][3])
        for kind, pieces in groups
        if kind != "O"
    ]


def _split(label: str) -> tuple[str, str]:
    """(B or I, type) of an IOB2 label; ``O`` reads as an I of type O, as in the pipeline."""
    return (label[0], label[2:]) if label[:2] in ("B-", "I-") else ("I", label)


def entity(text: str, kind: str, score: float, start: int, end: int) -> dict[str, Any]:
    """An entity in the API server's shape, so both answer alike."""
    return {"type": kind, "text": text[start:end], "start": start, "end": end, "score": score}


def pytorch_generator(model_dir: Path) -> Callable[[PromptIn], dict[str, Any]]:
    """A continuation of one prompt from ``model.generate()``, as a transformers tutorial serves a causal LM."""
    check_model_dir(model_dir, choose=PASS_MODEL_DIR)
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForCausalLM.from_pretrained(model_dir).eval()

    def answer(request: PromptIn) -> dict[str, Any]:
        inputs = tokenizer(request.prompt, return_tensors="pt")
        sampling = {"do_sample": True, "temperature": request.temperature, "top_p": request.top_p}
        with torch.no_grad():
            output = model.generate(
                **inputs,
                max_new_tokens=request.max_new_tokens,
                pad_token_id=tokenizer.pad_token_id or tokenizer.eos_token_id,
                **(sampling if request.temperature > 0 else {"do_sample": False}),
            )
        new = output[0, inputs["input_ids"].shape[1] :]
        return {"text": tokenizer.decode(new, skip_special_tokens=True), "tokens": len(new)}

    return answer


def build_generation_app(answer: Callable[[PromptIn], dict[str, Any]]) -> FastAPI:
    app = FastAPI(title="naive baseline")

    @app.post("/generate")
    def generate(request: PromptIn) -> dict:
        return answer(request)

    return app


def load_answer(task: str, engine: str, model_dir: Path, artifact: Path) -> Answer:
    """What the endpoint answers for ``task`` with ``engine``; the model is loaded here, once."""
    if task == tasks.TOKEN_CLASSIFICATION:
        return pytorch_tagger(model_dir) if engine == "pytorch" else onnx_tagger(artifact)
    return classification_answer(pytorch_scorer(model_dir) if engine == "pytorch" else onnx_scorer(artifact))


def build_app(route: str, answer: Answer) -> FastAPI:
    app = FastAPI(title="naive baseline")

    @app.post(route)
    def predict(request: TextIn) -> dict:
        return answer(request.text)

    return app


def fail(message: str) -> NoReturn:
    """One ``error:`` line and exit status 2, as ``python -m nlpops.serving`` does."""
    print(f"error: {message}", file=sys.stderr)
    raise SystemExit(2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--engine", choices=("pytorch", "onnx-int8"), required=True)
    parser.add_argument(
        "--task",
        choices=sorted(tasks.TASKS),
        default=tasks.CLASSIFICATION,
        help=f"the endpoint and the model kind (default: {tasks.CLASSIFICATION})",
    )
    parser.add_argument(
        "--model-dir",
        type=Path,
        help="the fine-tuned checkpoint --engine pytorch serves (default: models/text-classifier, models/ner for "
        "token-classification; onnx-int8 serves NLPOPS_ARTIFACT_DIR)",
    )
    args = parser.parse_args()
    model_dir = args.model_dir or MODEL_DIRS[args.task]
    if args.task == tasks.TEXT_GENERATION and args.engine != "pytorch":
        fail("text generation's baseline is --engine pytorch (transformers' generate())")
    try:
        settings = Settings.from_env()
        if args.task == tasks.TEXT_GENERATION:
            app = build_generation_app(pytorch_generator(model_dir))
        else:
            app = build_app(
                serving_for(args.task).route, load_answer(args.task, args.engine, model_dir, settings.artifact_dir)
            )
    except ImportError as err:  # the serving-only install has no torch
        fail(f"the {args.engine} engine needs {err.name}; use the training install")
    except (UserError, OSError) as err:  # a bad NLPOPS_* value, a missing model or artifact
        fail(str(err))
    # "warning" keeps the access log off the benchmark's terminal; its lines are skipped as cheaply as turned off
    uvicorn.run(app, host=settings.host, port=settings.port, log_level="warning")


if __name__ == "__main__":
    main()
