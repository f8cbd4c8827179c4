"""The inference core of text generation: prompt → tokens → ONNX Runtime GenAI → text, token by token.

The generation counterpart of ``core.OnnxModel``: the API (JSON and streaming), the OpenAI-compatible routes, the
Lambda handler, the batch command, the evaluation and the export's parity checks all generate through this class.
ONNX Runtime GenAI keeps the KV cache and runs the decoding loop in C++; this module only picks the search options
per request and turns the token stream into text, honouring stop strings. No torch.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import onnxruntime_genai as og
from tokenizers import Tokenizer

from nlpops.errors import UserError
from nlpops.serving.artifact import TOKENIZER, Manifest, check_variant, read_manifest, verify_files

FinishReason = Literal["stop", "length"]  # as OpenAI names them: an end of text or stop string, or the token limit
Ended = Literal["stop", "length", "cancelled"]  # how a generation ended; cancelled: its client left (metrics, log)
GENAI_CONFIG = "genai_config.json"


@dataclass(frozen=True)
class Sampling:
    """How one request generates. ``temperature`` 0 is greedy decoding; ``top_k`` 0 and ``top_p`` 1 leave it open."""

    max_new_tokens: int = 64
    temperature: float = 0.0
    top_p: float = 1.0
    top_k: int = 0
    seed: int | None = None  # None: a different continuation each time (when sampling)
    stop: tuple[str, ...] = ()  # the text ends before the first of these; it is not returned


@dataclass(frozen=True)
class Completion:
    text: str
    tokens: int  # tokens generated (a stop string's included)
    finish_reason: Ended


class Generation:
    """One running generation: iterate for its text as it comes; ``tokens`` and ``finish_reason`` once it ends.

    ``cancel`` (from any thread: the client left) ends it before its next token; dropping it, or ``close``, frees its
    KV cache.
    """

    def __init__(self, model: GenerativeModel, prompt: Sequence[int], sampling: Sampling) -> None:
        self.tokens = 0
        self.finish_reason: FinishReason | None = None  # None until it ends; None after it too if cancelled
        self._stops = tuple(stop for stop in sampling.stop if stop)
        self._generator: og.Generator | None = model.generator(prompt, sampling)
        self._decoder = model.genai_tokenizer.create_stream()
        self._max_new_tokens = sampling.max_new_tokens
        self._cancelled = False

    def __iter__(self) -> Iterator[str]:
        text, sent = "", 0
        generator = self._generator  # a local: ``close`` may run on another thread meanwhile
        while generator is not None and not generator.is_done():
            if self._cancelled:
                self.close()
                return
            generator.generate_next_token()
            self.tokens += 1
            text += self._decoder.decode(int(generator.get_next_tokens()[0]))
            cut = _first_stop(text, self._stops)
            if cut is not None:
                yield text[sent:cut]
                self._finish("stop")
                return
            safe = len(text) - _held_back(text, self._stops)
            if safe > sent:
                yield text[sent:safe]
                sent = safe
        if generator is None:
            return
        if text[sent:]:
            yield text[sent:]
        self._finish("length" if self.tokens >= self._max_new_tokens else "stop")

    def cancel(self) -> None:
        """Stop before the next token (from any thread): its iteration ends, with ``finish_reason`` None."""
        self._cancelled = True

    def _finish(self, reason: FinishReason) -> None:
        self.finish_reason = reason
        self.close()

    def close(self) -> None:
        self._generator = None


def _first_stop(text: str, stops: Sequence[str]) -> int | None:
    found = [index for index in (text.find(stop) for stop in stops) if index >= 0]
    return min(found) if found else None


def _held_back(text: str, stops: Sequence[str]) -> int:
    """How many characters at the end of ``text`` could be the start of a stop string: not sent until known."""
    return max((n for stop in stops for n in range(len(stop) - 1, 0, -1) if text.endswith(stop[:n])), default=0)


class GenerativeModel:
    """A loaded generation artifact: its manifest, the ONNX Runtime GenAI model and its tokenizer."""

    def __init__(self, directory: Path, manifest: Manifest, model: og.Model, variant: str, load_seconds: float) -> None:
        self.directory = directory
        self.manifest = manifest
        self.labels: list[str] = []  # a language model has no classes (the shared /ready reports them)
        self.model = model
        self.genai_tokenizer = og.Tokenizer(model)  # encodes prompts and decodes the token stream
        # The artifact's tokenizer as the other tasks' cores hold it: the prediction log counts tokens with it
        self.tokenizer = Tokenizer.from_file(str(directory / TOKENIZER))
        self.variant = variant
        self.version = manifest.model_version(variant)
        self.context_length = manifest.max_length  # prompt and generated tokens together
        self.vocab_size = int(_genai_config(directory)["model"]["vocab_size"])
        self.load_seconds = load_seconds

    @classmethod
    def load(
        cls, directory: Path | str, variant: str = "int8", intra_op_threads: int = 1, verify_checksums: bool = True
    ) -> GenerativeModel:
        """Read the manifest, check every file against its checksum (on another thread) while the model loads."""
        started = time.perf_counter()
        directory = Path(directory)
        manifest = read_manifest(directory)
        check_variant(directory, manifest, variant)
        names = sorted(manifest.checksums) if verify_checksums else ()
        with ThreadPoolExecutor(1, thread_name_prefix="checksums") as checker:
            checked = checker.submit(verify_files, directory, manifest, names)
            try:
                model = og.Model(_config(directory, intra_op_threads))
            except Exception as err:  # GenAI raises RuntimeError with ONNX Runtime's message
                checked.result()  # a missing or corrupt file explains the failure better
                raise UserError(f"ONNX Runtime GenAI cannot load {directory}: {str(err).splitlines()[0]}") from err
            checked.result()
        return cls(directory, manifest, model, variant, load_seconds=time.perf_counter() - started)

    def encode(self, text: str) -> list[int]:
        return [int(token) for token in self.genai_tokenizer.encode(text)]

    def decode(self, tokens: Sequence[int]) -> str:
        return self.genai_tokenizer.decode(np.asarray(tokens, dtype=np.int32))

    def generator(self, prompt: Sequence[int], sampling: Sampling) -> og.Generator:
        """A GenAI generator fed ``prompt``, its KV cache sized for this request alone (not the model's context)."""
        if not prompt:
            raise ValueError("a prompt needs at least one token")
        params = og.GeneratorParams(self.model)
        options: dict[str, float | bool] = {"max_length": len(prompt) + sampling.max_new_tokens}
        if sampling.temperature > 0:
            top_k = min(sampling.top_k or self.vocab_size, self.vocab_size)
            options |= {"do_sample": True, "temperature": sampling.temperature, "top_p": sampling.top_p, "top_k": top_k}
            if sampling.seed is not None:
                options["random_seed"] = sampling.seed
        else:
            options["do_sample"] = False
        params.set_search_options(**options)
        generator = og.Generator(self.model, params)
        generator.append_tokens(np.asarray(prompt, dtype=np.int32))
        return generator

    def stream(self, prompt: Sequence[int], sampling: Sampling) -> Generation:
        return Generation(self, prompt, sampling)

    def complete(self, prompt: str, sampling: Sampling) -> Completion:
        """The whole continuation of ``prompt`` at once (the batch command, Lambda, evaluation)."""
        generation = self.stream(self.encode(prompt), sampling)
        text = "".join(generation)
        assert generation.finish_reason is not None
        return Completion(text, generation.tokens, generation.finish_reason)

    def sequence_logits(self, tokens: Sequence[int]) -> np.ndarray:
        """The next-token logits at every position of ``tokens`` (positions x vocabulary): perplexity and parity."""
        generator = self.generator(tokens, Sampling(max_new_tokens=0))  # a cache of just these: up to the context
        return np.asarray(generator.get_output("logits"))[0]


def _genai_config(directory: Path) -> dict:
    return json.loads((directory / GENAI_CONFIG).read_text(encoding="utf-8"))


def _config(directory: Path, intra_op_threads: int) -> og.Config:
    """The artifact's GenAI config, with as many ONNX Runtime threads per generation as serving asks for."""
    config = og.Config(str(directory))
    session = {"intra_op_num_threads": intra_op_threads, "inter_op_num_threads": 1}
    config.overlay(json.dumps({"model": {"decoder": {"session_options": session}}}))
    return config
