"""The one inference core: text → tokens (``tokenizers``) → ONNX Runtime, for every task.

The FastAPI app, the Lambda handler, the batch command, the evaluation and the export parity checks all load
models through this class, so tokenization and the ONNX Runtime call exist once; what a task makes of the model's
outputs lives in its serving module (``nlpops.serving.<task>``). It imports numpy, tokenizers and onnxruntime
only: no torch.
"""

from __future__ import annotations

import mmap
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

import numpy as np
import onnxruntime as ort
from tokenizers import Encoding, Tokenizer

from nlpops.errors import UserError
from nlpops.serving.artifact import (
    ONE_TEXT_PER_CALL,
    TOKENIZER,
    Manifest,
    check_variant,
    read_manifest,
    verify_files,
)
from nlpops.serving.settings import WINDOW_STRIDE

Output = TypeVar("Output")


def softmax(logits: np.ndarray) -> np.ndarray:
    shifted = np.exp(logits - logits.max(axis=-1, keepdims=True))
    return shifted / shifted.sum(axis=-1, keepdims=True)


def load_tokenizer(path: Path, max_length: int, pad_token_id: int, window_stride: int = WINDOW_STRIDE) -> Tokenizer:
    """The artifact's fast tokenizer, set to truncate like training and pad a batch to its longest text.

    Padding and truncation are set here, not taken from the file: a saved tokenizer.json may carry fixed
    padding (all-MiniLM-L6-v2 pads every text to 128), which would make every request 2-4x slower. A text longer
    than ``max_length`` tokens keeps the rest in overlapping windows (``Encoding.overflowing``, sharing
    ``window_stride`` tokens with the window before), which a task that labels tokens runs too.
    """
    tokenizer = Tokenizer.from_file(str(path))
    tokenizer.no_padding()
    tokenizer.no_truncation()
    room = max_length - len(tokenizer.encode("").ids)  # what the special tokens leave of a window
    if not 0 <= window_stride < room:
        raise UserError(
            f"NLPOPS_WINDOW_STRIDE must be from 0 to {room - 1} for this model (windows of {max_length} tokens, "
            f"{room} of them the text's), got {window_stride}"
        )
    tokenizer.enable_truncation(max_length=max_length, stride=window_stride)
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


def open_session(graph: Path, weights: Path | None, intra_op_threads: int) -> ort.InferenceSession:
    """An ONNX Runtime session on the model ``graph``, whose weights are in the file ``weights`` (None: inside it).

    ONNX Runtime memory-maps the weights file itself, but only from the graph's own folder once symlinks are
    resolved. Where the two files are links to different folders (DVC's ``symlink`` cache type does that), the
    weights are handed over from memory instead: the session then holds its own copy of them.
    """
    options = session_options(intra_op_threads)
    try:
        with _weights_beside(graph, weights, options):
            return ort.InferenceSession(str(graph), options, providers=["CPUExecutionProvider"])
    except Exception as err:  # ORT raises its own Fail/InvalidGraph/NoSuchFile types
        raise UserError(f"ONNX Runtime cannot load {graph}: {str(err).splitlines()[0]}") from err


@contextmanager
def _weights_beside(graph: Path, weights: Path | None, options: ort.SessionOptions) -> Iterator[None]:
    """Add ``weights`` to ``options`` from memory while the session opens, if they are not beside ``graph``."""
    if weights is None or weights.resolve().parent == graph.resolve().parent:
        yield
        return
    with weights.open("rb") as file, mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_READ) as content:
        options.add_external_initializers_from_files_in_memory([weights.name], [content], [len(content)])
        yield


def check_outputs(session: ort.InferenceSession, manifest: Manifest, graph: Path) -> None:
    """Raise unless the model scores as many labels as the manifest names."""
    classes = session.get_outputs()[0].shape[-1]
    if isinstance(classes, int) and classes != len(manifest.labels):
        raise UserError(
            f"{graph} scores {classes} classes but its manifest names {len(manifest.labels)} labels "
            f"({manifest.labels}); the files are from different exports: export the artifact again"
        )


class OnnxModel:
    """A loaded artifact: its manifest, tokenizer and ONNX Runtime session; ``logits`` runs texts through it."""

    def __init__(
        self,
        directory: Path,
        manifest: Manifest,
        tokenizer: Tokenizer,
        session: ort.InferenceSession,
        variant: str,
        load_seconds: float,
    ) -> None:
        self.directory = directory
        self.manifest = manifest
        self.labels = list(manifest.labels)
        self.tokenizer = tokenizer
        self.session = session
        self.variant = variant
        self.version = manifest.model_version(variant)  # what /ready and every answer report
        self.one_text_per_call = variant in ONE_TEXT_PER_CALL
        self.load_seconds = load_seconds  # how long ``load`` took

    @classmethod
    def load(
        cls,
        directory: Path | str,
        variant: str = "int8",
        intra_op_threads: int = 1,
        verify_checksums: bool = True,
        window_stride: int = WINDOW_STRIDE,
    ) -> OnnxModel:
        """Read the manifest, open the tokenizer and an ONNX Runtime session, check the files' checksums.

        The checksums are computed on another thread while the tokenizer and the session load: hashing and
        ONNX Runtime's session setup both release the GIL (a faster server start: docs/serving-performance.md).
        """
        started = time.perf_counter()
        directory = Path(directory)
        manifest = read_manifest(directory)
        check_variant(directory, manifest, variant)
        names = manifest.serving_files(variant) if verify_checksums else ()
        graph, *weights = (directory / name for name in manifest.model_files(variant))
        with ThreadPoolExecutor(1, thread_name_prefix="checksums") as checker:
            checked = checker.submit(verify_files, directory, manifest, names)
            try:
                tokenizer = load_tokenizer(
                    directory / TOKENIZER, manifest.max_length, manifest.pad_token_id, window_stride
                )
                session = open_session(graph, weights[0] if weights else None, intra_op_threads)
            except Exception:
                checked.result()  # a missing or corrupt file explains the failure better than the loader does
                raise
            checked.result()
        check_outputs(session, manifest, graph)
        return cls(directory, manifest, tokenizer, session, variant, load_seconds=time.perf_counter() - started)

    def tokenize(self, texts: Sequence[str]) -> list[Encoding]:
        """The tokens of each text, padded to the longest, with their character offsets into the text."""
        if len(texts) == 1:  # the common request: skip the batch machinery (and its thread pool)
            return [self.tokenizer.encode(texts[0])]
        return self.tokenizer.encode_batch(list(texts))

    def encode(self, texts: Sequence[str]) -> dict[str, np.ndarray]:
        """Token ids and attention mask (int64, batch x longest), exactly what the ONNX model takes."""
        return model_inputs(self.tokenize(texts))

    def run(self, inputs: dict[str, np.ndarray]) -> np.ndarray:
        return self.session.run(None, inputs)[0]

    def logits(self, texts: Sequence[str]) -> np.ndarray:
        """The model's first output for ``texts``; one call per text for a model whose answers depend on the batch."""
        if self.one_text_per_call and len(texts) > 1:
            return np.concatenate([self.run(self.encode([text])) for text in texts])
        return self.run(self.encode(texts))


def model_inputs(encodings: Sequence[Encoding]) -> dict[str, np.ndarray]:
    """Token ids and attention masks of equally long encodings, as the ONNX model takes them."""
    ids = np.asarray([e.ids for e in encodings], dtype=np.int64)
    mask = np.asarray([e.attention_mask for e in encodings], dtype=np.int64)
    return {"input_ids": ids, "attention_mask": mask}


def in_batches(
    predict: Callable[[list[str]], list[Output]],
    texts: Sequence[str],
    batch_size: int = 32,
    progress: Callable[[int], object] | None = None,
    threads: int = 1,
) -> list[Output]:
    """``predict`` many texts in batches sorted by length (less padding); the answers come in input order.

    ``threads`` batches run at once (ONNX Runtime releases the GIL): with a single-threaded session that is
    how a batch job uses every core, as the server does. ``progress`` gets the size of each batch once it is
    predicted. A one-text-per-call model still runs each text of a batch alone.
    """
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    batches = [order[start : start + batch_size] for start in range(0, len(order), batch_size)]
    results: list[Output | None] = [None] * len(texts)
    with ThreadPoolExecutor(threads, thread_name_prefix="predict") as pool:
        predicted = pool.map(lambda batch: predict([texts[i] for i in batch]), batches)
        for batch, answers in zip(batches, predicted, strict=True):
            for index, answer in zip(batch, answers, strict=True):
                results[index] = answer
            if progress:
                progress(len(batch))
    return results  # type: ignore[return-value]
