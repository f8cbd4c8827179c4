"""The one inference core: text → tokens (``tokenizers``) → ONNX Runtime → labels and scores.

The FastAPI app, the Lambda handler, the batch command and the export parity check all call this class, so
tokenization and post-processing exist once. It imports numpy, tokenizers and onnxruntime only: no torch.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnxruntime as ort
from tokenizers import Tokenizer

from nlpops.errors import UserError
from nlpops.serving.artifact import TOKENIZER, Manifest, read_manifest, verify_files

INPUT_NAMES = ("input_ids", "attention_mask")


@dataclass(frozen=True)
class Prediction:
    label: str
    score: float  # probability of ``label``
    scores: dict[str, float]  # probability of every class


def softmax(logits: np.ndarray) -> np.ndarray:
    shifted = np.exp(logits - logits.max(axis=-1, keepdims=True))
    return shifted / shifted.sum(axis=-1, keepdims=True)


def postprocess(logits: np.ndarray, labels: Sequence[str]) -> list[Prediction]:
    """Logits (batch x classes) → one ``Prediction`` per row. The only copy of this logic."""
    probabilities = softmax(np.asarray(logits, dtype=np.float64))
    best = probabilities.argmax(axis=-1)
    return [
        Prediction(
            label=labels[index],
            score=float(row[index]),
            scores={label: float(p) for label, p in zip(labels, row, strict=True)},
        )
        for index, row in zip(best.tolist(), probabilities, strict=True)
    ]


def load_tokenizer(path: Path, max_length: int, pad_token_id: int) -> Tokenizer:
    """The artifact's fast tokenizer, set to truncate like training and pad a batch to its longest text.

    Padding and truncation are set here, not taken from the file: a saved tokenizer.json may carry fixed
    padding (all-MiniLM-L6-v2 pads every text to 128), which would make every request 2-4x slower.
    """
    tokenizer = Tokenizer.from_file(str(path))
    tokenizer.no_padding()
    tokenizer.enable_truncation(max_length=max_length)
    pad_token = tokenizer.id_to_token(pad_token_id) or "[PAD]"
    tokenizer.enable_padding(pad_id=pad_token_id, pad_token=pad_token)
    return tokenizer


def session_options(intra_op_threads: int) -> ort.SessionOptions:
    options = ort.SessionOptions()
    options.intra_op_num_threads = intra_op_threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.log_severity_level = 3  # warnings about unused initializers are noise to users
    return options


def open_session(path: Path, intra_op_threads: int) -> ort.InferenceSession:
    try:
        return ort.InferenceSession(str(path), session_options(intra_op_threads), providers=["CPUExecutionProvider"])
    except Exception as err:  # ORT raises its own Fail/InvalidGraph/NoSuchFile types
        raise UserError(f"ONNX Runtime cannot load {path}: {str(err).splitlines()[0]}") from err


class OnnxClassifier:
    """A loaded artifact: call ``predict`` (labels and scores) or ``logits`` (raw, for parity checks)."""

    def __init__(self, manifest: Manifest, tokenizer: Tokenizer, session: ort.InferenceSession, variant: str) -> None:
        self.manifest = manifest
        self.labels = list(manifest.labels)
        self.tokenizer = tokenizer
        self.session = session
        self.variant = variant

    @classmethod
    def load(
        cls, directory: Path | str, variant: str = "int8", intra_op_threads: int = 1, verify_checksums: bool = True
    ) -> OnnxClassifier:
        """Read the manifest, open the tokenizer and an ONNX Runtime session, check the files' checksums.

        The checksums are computed on another thread while the tokenizer and the session load: hashing and
        ONNX Runtime's session setup both release the GIL (a faster server start, see README: cold start).
        """
        directory = Path(directory)
        manifest = read_manifest(directory)
        if variant not in manifest.models:
            raise UserError(f"the artifact at {directory} has no '{variant}' model (it has {sorted(manifest.models)})")
        names = manifest.serving_files(variant) if verify_checksums else ()
        with ThreadPoolExecutor(1, thread_name_prefix="checksums") as checker:
            checked = checker.submit(verify_files, directory, manifest, names)
            try:
                tokenizer = load_tokenizer(directory / TOKENIZER, manifest.max_length, manifest.pad_token_id)
                session = open_session(directory / manifest.models[variant], intra_op_threads)
            except Exception:
                checked.result()  # a missing or corrupt file explains the failure better than the loader does
                raise
            checked.result()
        return cls(manifest, tokenizer, session, variant)

    def encode(self, texts: Sequence[str]) -> dict[str, np.ndarray]:
        """Token ids and attention mask (int64, batch x longest), exactly what the ONNX model takes."""
        if len(texts) == 1:  # the common request: skip the batch machinery (and its thread pool)
            encoding = self.tokenizer.encode(texts[0])
            ids, mask = [encoding.ids], [encoding.attention_mask]
        else:
            encodings = self.tokenizer.encode_batch(list(texts))
            ids, mask = [e.ids for e in encodings], [e.attention_mask for e in encodings]
        return {"input_ids": np.asarray(ids, dtype=np.int64), "attention_mask": np.asarray(mask, dtype=np.int64)}

    def run(self, inputs: dict[str, np.ndarray]) -> np.ndarray:
        return self.session.run(None, inputs)[0]

    def logits(self, texts: Sequence[str]) -> np.ndarray:
        return self.run(self.encode(texts))

    def predict(self, texts: Sequence[str]) -> list[Prediction]:
        return postprocess(self.logits(texts), self.labels)

    def predict_batched(
        self, texts: Sequence[str], batch_size: int = 32, progress: Callable[[int], object] | None = None
    ) -> list[Prediction]:
        """Predict many texts: sorted by length into batches (less padding), returned in input order.

        ``progress`` is called with the number of texts of each batch once it is predicted.
        """
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        results: list[Prediction | None] = [None] * len(texts)
        for start in range(0, len(order), batch_size):
            chunk = order[start : start + batch_size]
            for index, prediction in zip(chunk, self.predict([texts[i] for i in chunk]), strict=True):
                results[index] = prediction
            if progress:
                progress(len(chunk))
        return results  # type: ignore[return-value]
