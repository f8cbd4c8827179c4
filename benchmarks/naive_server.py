"""A tutorial-style API server: the baseline that ``benchmarks/load_test.py --server naive-...`` compares to.

FastAPI with a sync ``POST /predict`` (run on FastAPI's thread pool, up to 40 threads), the model loaded
before uvicorn starts, one forward per request on the runtime's default threads, uvicorn's defaults
otherwise. Two engines:

    python benchmarks/naive_server.py --engine pytorch     # transformers + PyTorch fp32 (models/text-classifier)
    python benchmarks/naive_server.py --engine onnx-int8   # ONNX Runtime INT8 (NLPOPS_ARTIFACT_DIR)

Host, port and artifact come from the ``NLPOPS_*`` variables, as for ``python -m nlpops.serving``.

It is deliberately naive (no fixed inference pool, no GIL switch interval, no pure-ASGI middleware, no
preload), like the servers behind the reference figures in docs/serving-performance.md (~60 requests/s
for PyTorch, 390-450 for ONNX Runtime INT8 on their machine), so that the API server can be compared with
them on any machine. Not for production: use ``make serve``.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import NoReturn

import uvicorn
from fastapi import FastAPI
from pydantic import BaseModel

from nlpops.errors import UserError
from nlpops.serving.settings import Settings
from nlpops.utils.model_dir import PASS_MODEL_DIR, check_model_dir

REPO_ROOT = Path(__file__).resolve().parents[1]
Scores = dict[str, float]


class Review(BaseModel):
    text: str


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


def build_app(score: Callable[[str], Scores]) -> FastAPI:
    app = FastAPI(title="naive baseline")

    @app.post("/predict")
    def predict(review: Review) -> dict:
        scores = score(review.text)
        label = max(scores, key=scores.__getitem__)
        return {"label": label, "score": scores[label], "scores": scores}

    return app


def fail(message: str) -> NoReturn:
    """One ``error:`` line and exit status 2, as ``python -m nlpops.serving`` does."""
    print(f"error: {message}", file=sys.stderr)
    raise SystemExit(2)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n")[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter
    )
    parser.add_argument("--engine", choices=("pytorch", "onnx-int8"), required=True)
    parser.add_argument(
        "--model-dir",
        type=Path,
        default=REPO_ROOT / "models/text-classifier",
        help="the fine-tuned checkpoint --engine pytorch serves (onnx-int8 serves NLPOPS_ARTIFACT_DIR)",
    )
    args = parser.parse_args()
    try:
        settings = Settings.from_env()
        score = pytorch_scorer(args.model_dir) if args.engine == "pytorch" else onnx_scorer(settings.artifact_dir)
    except ImportError as err:  # the serving-only install has no torch
        fail(f"the {args.engine} engine needs {err.name}; use the training install")
    except (UserError, OSError) as err:  # a bad NLPOPS_* value, a missing model or artifact
        fail(str(err))
    # "warning" keeps the access log off the benchmark's terminal; its lines are skipped as cheaply as turned off
    uvicorn.run(build_app(score), host=settings.host, port=settings.port, log_level="warning")


if __name__ == "__main__":
    main()
