"""The generate stage (``python generate.py prompt=...``): a trained causal LM continues a prompt, streamed.

The same ``continuation`` writes the training run's per-epoch samples (``nlpops.callbacks.GenerationSamples``),
so what a run showed while training is what this command gives from its checkpoint or saved folder.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from omegaconf import DictConfig, OmegaConf
from transformers import PreTrainedModel, PreTrainedTokenizerBase, StoppingCriteria, TextStreamer

from nlpops.errors import UserError, positive_int
from nlpops.utils.model_dir import check_model_dir
from nlpops.utils.runs import require_file


@dataclass(frozen=True)
class Sampling:
    """How to pick each next token: greedy at ``temperature`` 0 (or ``do_sample`` false), else sampled from the
    ``top_k`` most likely tokens within ``top_p`` probability mass, seeded. Generation ends after
    ``max_new_tokens``, at the end-of-text token, or at the first of ``stop`` (which is cut off)."""

    max_new_tokens: int = 40
    temperature: float = 0.0
    top_p: float = 1.0
    top_k: int | None = None
    do_sample: bool = True
    seed: int = 0
    stop: tuple[str, ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        positive_int("max_new_tokens", self.max_new_tokens)
        if isinstance(self.temperature, bool) or not isinstance(self.temperature, int | float):
            raise UserError(f"temperature must be a number (0: greedy), got {self.temperature!r}")
        if not 0 <= self.temperature < math.inf:
            raise UserError(f"temperature must be 0 (greedy) or more, got {self.temperature}")
        if isinstance(self.top_p, bool) or not isinstance(self.top_p, int | float) or not 0 < self.top_p <= 1:
            raise UserError(f"top_p must be in (0, 1], got {self.top_p!r}")
        if self.top_k is not None:
            positive_int("top_k", self.top_k)
        if isinstance(self.seed, bool) or not isinstance(self.seed, int):
            raise UserError(f"seed must be an integer, got {self.seed!r}")
        if isinstance(self.stop, str) or not all(isinstance(s, str) and s for s in self.stop):
            raise UserError(f"stop must be a list of non-empty strings, e.g. stop='[\"\\n\\n\"]', got {self.stop!r}")

    @property
    def sampled(self) -> bool:
        return self.do_sample and self.temperature > 0

    def generate_kwargs(self) -> dict[str, Any]:
        """``generate()``'s arguments (sampling ones only when sampling: transformers warns about them otherwise)."""
        kwargs: dict[str, Any] = {"max_new_tokens": self.max_new_tokens, "do_sample": self.sampled}
        if self.sampled:
            kwargs |= {"temperature": float(self.temperature), "top_p": float(self.top_p), "top_k": self.top_k or 0}
        return kwargs


class StopStream(TextStreamer, StoppingCriteria):
    """Passes the continuation to ``write`` as it is decoded, cut at the first stop string, and stops generation
    there. Text that may be the start of a stop string is held back until it is known not to be one."""

    def __init__(self, tokenizer: PreTrainedTokenizerBase, stop: Sequence[str], write: Callable[[str], None]) -> None:
        super().__init__(tokenizer, skip_prompt=True, skip_special_tokens=True)
        self.stop, self.write = tuple(stop), write
        self.text, self.shown, self.stopped = "", 0, False

    def on_finalized_text(self, text: str, stream_end: bool = False) -> None:
        if self.stopped:
            return
        self.text += text
        cuts = [i for i in (self.text.find(s) for s in self.stop) if i >= 0]
        if cuts:
            self.text, self.stopped = self.text[: min(cuts)], True
        safe = len(self.text) if self.stopped or stream_end else len(self.text) - self._held()
        if safe > self.shown:
            self.write(self.text[self.shown : safe])
            self.shown = safe

    def _held(self) -> int:
        """Length of the longest end of the text that begins a stop string."""
        return max((n for s in self.stop for n in range(1, len(s)) if self.text.endswith(s[:n])), default=0)

    def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor, **kwargs: Any) -> torch.Tensor:
        return torch.full((input_ids.shape[0],), self.stopped, dtype=torch.bool, device=input_ids.device)


def continuation(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    prompt: str,
    sampling: Sampling,
    write: Callable[[str], None] = lambda text: None,
) -> str:
    """``model``'s continuation of ``prompt`` (cut at a stop string), also streamed to ``write``.

    Seeded inside a forked RNG: generating leaves the caller's random state (a training run's) untouched.
    """
    stream = StopStream(tokenizer, sampling.stop, write)
    inputs = tokenizer(prompt, return_tensors="pt", add_special_tokens=False).to(model.device)
    was_training = model.training
    model.eval()
    try:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(sampling.seed)
            model.generate(
                **inputs,
                **sampling.generate_kwargs(),
                pad_token_id=tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id,
                streamer=stream,
                stopping_criteria=[stream],
            )
    finally:
        model.train(was_training)
    return stream.text


def load_generator(cfg: DictConfig) -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
    """The model and tokenizer of ``ckpt_path`` (a training checkpoint) if set, else of the ``model_dir`` folder."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    if cfg.get("ckpt_path"):
        from hydra.utils import get_class

        from nlpops.utils import assets

        path = require_file("ckpt_path", cfg.ckpt_path)
        module = get_class(cfg.model._target_).load_from_checkpoint(path, map_location="cpu", weights_only=False)
        tokenizer = AutoTokenizer.from_pretrained(assets.resolve(module.hparams.pretrained))
        return module.model, tokenizer
    model_dir = Path(cfg.model_dir)
    check_model_dir(model_dir, "set model_dir=PATH to the folder train.py saved (or ckpt_path=a checkpoint)")
    try:
        return AutoModelForCausalLM.from_pretrained(model_dir), AutoTokenizer.from_pretrained(model_dir)
    except ValueError as err:
        raise UserError(f"{model_dir} is not a causal language model: {str(err).splitlines()[0]}") from err


def generate(cfg: DictConfig) -> str:
    """Stream the continuation of ``cfg.prompt`` to stdout (after the prompt) and return it."""
    prompt = cfg.prompt
    if not isinstance(prompt, str) or not prompt.strip():
        raise UserError(f"prompt must be some text, e.g. prompt='To be, or not to be', got {prompt!r}")
    sampling = Sampling(**_sampling_options(cfg))
    model, tokenizer = load_generator(cfg)
    print(prompt, end="", flush=True)
    text = continuation(model, tokenizer, prompt, sampling, lambda piece: print(piece, end="", flush=True))
    print(flush=True)
    return text


def _sampling_options(cfg: DictConfig) -> dict[str, Any]:
    options = {name: cfg[name] for name in ("max_new_tokens", "temperature", "top_p", "top_k", "do_sample", "seed")}
    stop = OmegaConf.to_container(cfg.stop) if OmegaConf.is_list(cfg.stop) else cfg.stop
    return options | {"stop": tuple(stop) if isinstance(stop, list) else stop}
