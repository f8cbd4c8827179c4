"""The text-generation export: a causal LM folder → an ONNX Runtime GenAI artifact, checked against PyTorch.

A language model is not traced like the encoder tasks: ONNX Runtime GenAI's model builder writes its fused graph
(grouped-query attention with a KV cache) and the decoding loop runs in GenAI's C++, so the whole stage is this
task's own. The checks go through the serving core (``serving.genai.GenerativeModel``): fp32 must continue real
validation prompts exactly as PyTorch does, with the same prompt logits; the served precision (INT8 by default)
must pick fp32's next token almost everywhere on the validation blocks and lose almost no perplexity.
"""

from __future__ import annotations

import json
import logging
import math
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import torch
from omegaconf import DictConfig
from tqdm.auto import tqdm
from transformers import AutoModelForCausalLM, PreTrainedModel

from nlpops import tasks
from nlpops.errors import UserError, positive_int
from nlpops.export.manifest import build_manifest
from nlpops.export.onnx import load_trained
from nlpops.export.parity import ParityError
from nlpops.export.rule import OwnExport
from nlpops.model_card import write_card
from nlpops.serving.artifact import MANIFEST
from nlpops.serving.genai import GENAI_CONFIG, GenerativeModel, Sampling
from nlpops.utils.files import atomic_directory
from nlpops.utils.instantiate import build, check_arguments
from nlpops.utils.logs import quiet
from nlpops.utils.model_dir import check_model_dir

log = logging.getLogger(__name__)

MODEL_FILE = "model.onnx"  # the builder's name; its weights are beside it in model.onnx.data
# int4 is left out on purpose: on SmolLM2-135M its top-1 agreement with fp32 was ~55% (docs/generation.md).
PRECISIONS = ("int8", "fp32")
LM_HEAD = "/lm_head/MatMul"  # the builder's name for the output projection (the tied embedding's weights)
# int8_lm_head: which forms of the LM head INT8 tries, in order (the first whose checks pass is written). An int8 head
# is the fastest (SmolLM2-135M, one thread: 123 tokens/s vs 102 with an fp32 head, fp32 51), but on Hamlet it
# picked fp32's next token at only 94.5% of positions; with the head in fp32, 95.2% (docs/generation.md).
LM_HEADS = {"auto": ("int8", "fp32"), "int8": ("int8",), "fp32": ("fp32",)}


@dataclass(frozen=True)
class ParitySettings:
    """The ``parity`` config: how much validation data the checks use, and how close the models must be."""

    greedy_prompts: int = 8  # validation blocks whose first ``prompt_tokens`` ids are continued greedily
    prompt_tokens: int = 16
    new_tokens: int = 32
    max_blocks: int | None = 32  # validation blocks for INT8 agreement and perplexity (None: all)
    fp32_logit_atol: float = 1e-3  # largest |logit difference| over the prompts, GenAI fp32 vs PyTorch
    min_int8_top1_agreement: float = 0.95  # least share of validation positions where INT8's top token is fp32's
    max_int8_perplexity_increase: float = 0.05  # most INT8 validation perplexity may exceed fp32's, relatively

    def __post_init__(self) -> None:
        """Settings no export could meet fail now, before minutes of building."""
        for name in ("greedy_prompts", "prompt_tokens", "new_tokens"):
            positive_int(f"parity.{name}", getattr(self, name))
        if self.max_blocks is not None:
            positive_int("parity.max_blocks", self.max_blocks)
        if not self.fp32_logit_atol > 0:
            raise UserError(f"parity.fp32_logit_atol must be more than 0, got {self.fp32_logit_atol}")
        if not 0 <= self.min_int8_top1_agreement <= 1:
            raise UserError(
                f"parity.min_int8_top1_agreement is a share from 0 to 1, got {self.min_int8_top1_agreement}"
            )
        if not self.max_int8_perplexity_increase >= 0:
            raise UserError(
                f"parity.max_int8_perplexity_increase must be 0 or more, got {self.max_int8_perplexity_increase}"
            )


@dataclass(frozen=True)
class ParityData:
    """Validation data for the checks: prompts for greedy decoding and whole blocks for agreement and perplexity."""

    prompts: list[list[int]]  # the first ``prompt_tokens`` ids of the first validation blocks
    blocks: list[list[int]]
    new_tokens: int


@dataclass(frozen=True)
class Predictions:
    """A model's next-token choice and the loss of the true next token, at every position of the validation blocks."""

    top1: np.ndarray  # positions
    nll: np.ndarray  # positions

    @property
    def perplexity(self) -> float:
        return math.exp(float(self.nll.mean()))


class GenerationExport(OwnExport):
    task = tasks.TEXT_GENERATION
    auto_class = AutoModelForCausalLM

    def run(self, cfg: DictConfig) -> dict[str, float]:
        """``python export.py task=generation``: ``cfg.model_dir`` → ``cfg.artifact_dir``, checked on its val blocks."""
        precision = check_precision(cfg.precision)
        if cfg.int8_lm_head not in LM_HEADS:
            raise UserError(f"int8_lm_head must be auto, int8 or fp32, got {cfg.int8_lm_head!r}")
        context_length = positive_int("context_length", cfg.context_length)
        check_arguments(cfg.parity, ParitySettings, "parity")
        settings = ParitySettings(**cfg.parity)
        check_model_dir(Path(cfg.model_dir))
        blocks = [list(block.ids) for block in build(cfg, "data").load_splits()["val"]]
        data = parity_data(blocks, settings)
        metrics = export_generator(
            Path(cfg.model_dir), Path(cfg.artifact_dir), data, precision, context_length, settings, cfg.int8_lm_head
        )
        return flat_metrics(metrics)


def check_precision(precision: str) -> str:
    if precision not in PRECISIONS:
        hint = " (int4 lost too much: ~55% top-1 agreement with fp32 on a 135M model)" if precision == "int4" else ""
        raise UserError(f"precision must be {' or '.join(PRECISIONS)}, got {precision!r}{hint}")
    return precision


def parity_data(blocks: Sequence[list[int]], settings: ParitySettings) -> ParityData:
    """The prompts and blocks the checks use, from the validation blocks."""
    if not blocks:
        raise UserError("export needs validation blocks for its parity checks; the validation split is empty")
    if settings.prompt_tokens >= len(blocks[0]):
        raise UserError(
            f"parity.prompt_tokens={settings.prompt_tokens} must be less than the data's block size, "
            f"{len(blocks[0])} tokens"
        )
    return ParityData(
        prompts=[block[: settings.prompt_tokens] for block in blocks[: settings.greedy_prompts]],
        blocks=list(blocks[: settings.max_blocks]),
        new_tokens=settings.new_tokens,
    )


def export_generator(
    model_dir: Path,
    artifact_dir: Path,
    data: ParityData,
    precision: str = "int8",
    context_length: int = 2048,
    settings: ParitySettings | None = None,
    int8_lm_head: str = "auto",
) -> dict[str, Any]:
    """Build ``precision`` with the GenAI builder, check it (and fp32) on ``data``, write the artifact; return metrics.

    INT8 tries the LM head forms ``LM_HEADS[int8_lm_head]`` in turn, keeping the first that passes its checks.
    Raises ``ParityError`` (and leaves any previous artifact untouched) when a check fails.
    """
    settings = settings or ParitySettings()
    model, tokenizer = load_trained(model_dir, AutoModelForCausalLM)
    context_length = capped_context(context_length, model, model_dir)
    pad_token_id = next(i for i in (tokenizer.pad_token_id, tokenizer.eos_token_id, 0) if i is not None)
    with (
        atomic_directory(artifact_dir) as scratch,
        tempfile.TemporaryDirectory(prefix=f".{artifact_dir.name}.fp32.", dir=artifact_dir.parent) as work,
    ):  # fp32 is only a reference when serving INT8: built beside the artifact, not in a small /tmp

        def write_manifest(directory: Path, variant: str, metrics: dict[str, Any], lm_head: str) -> None:
            manifest = build_manifest(
                tasks.TEXT_GENERATION, directory, [], context_length, opset(directory / MODEL_FILE),
                {variant: MODEL_FILE}, pad_token_id, metrics, model_dir, provenance(variant, lm_head),
            )  # fmt: skip
            (directory / MANIFEST).write_text(manifest.to_json())

        def built(directory: Path, variant: str, lm_head: str = "fp32") -> GenerativeModel:
            build_genai(model_dir, directory, variant, context_length, Path(work) / "cache", lm_head)
            write_manifest(directory, variant, {}, lm_head)  # the serving core reads it to load the model to check
            return GenerativeModel.load(directory, variant)

        fp32 = built(scratch if precision == "fp32" else Path(work) / "fp32", "fp32")
        parity = check_fp32(fp32, model, data, settings)
        reference = predictions(fp32, data.blocks, "GenAI fp32")
        parity |= {
            "val_blocks": len(data.blocks),
            "val_positions": int(reference.nll.size),
            "fp32_perplexity": reference.perplexity,
        }
        lm_head = "fp32"
        if precision == "int8":
            for lm_head in LM_HEADS[int8_lm_head]:
                try:
                    parity |= check_int8(built(scratch, "int8", lm_head), reference, data.blocks, settings)
                    break
                except ParityError as err:
                    if lm_head == LM_HEADS[int8_lm_head][-1]:
                        raise ParityError(f"{err}; export precision=fp32 instead") from None
                    log.warning("INT8 with an %s LM head failed its check (%s); trying an fp32 LM head", lm_head, err)
        metrics = {"precision": precision, "parity": parity}
        write_manifest(scratch, precision, metrics, lm_head)
        write_card(scratch, artifact_dir.name)  # after the checksums: a card of the manifest, never served
    log.info("Wrote the %s generation artifact to %s", precision, artifact_dir)
    return metrics


def capped_context(context_length: int, model: PreTrainedModel, model_dir: Path) -> int:
    """The tokens (prompt and generated) serving allows a request, at most the model's positions."""
    positions = getattr(model.config, "max_position_embeddings", None)
    if positions is not None and context_length > positions:
        log.warning(
            "context_length %d is more than the %d positions of %s: using %d", context_length, positions, model_dir,
            positions,
        )  # fmt: skip
        return int(positions)
    return context_length


def build_genai(
    model_dir: Path, output: Path, precision: str, context_length: int, cache: Path, lm_head: str = "fp32"
) -> None:
    """Convert the HF folder with ONNX Runtime GenAI's model builder (offline, CPU), then size its default KV cache.

    GenAI preallocates the KV cache for ``search.max_length`` (the model's whole context by default: 8,192
    positions for SmolLM2, hundreds of MB); serving sets it per request, and nothing else should use more than
    ``context_length``. ``lm_head`` ``fp32`` keeps an INT8 model's output projection unquantized.
    """
    from onnxruntime_genai.models import builder  # imports torch, transformers and onnx_ir: the export env only

    log.info("Building the %s ONNX Runtime GenAI model from %s", precision, model_dir)
    args = (None, str(model_dir), str(output), precision, "cpu", str(cache))
    extra = [f"nodes_to_exclude={LM_HEAD}"] if precision == "int8" and lm_head == "fp32" else []
    # A line per quantized matmul, and an "error" for the tied embedding it leaves in fp32 (Gather takes 4 bits only)
    with quiet("onnxruntime.quantization.matmul_nbits_quantizer", level=logging.CRITICAL):
        try:
            builder.create_model(*args, **builder.parse_extra_options(*args, extra))
        except NotImplementedError as err:  # an architecture the builder does not know
            raise UserError(f"ONNX Runtime GenAI's model builder cannot convert {model_dir}: {err}") from err
    path = output / GENAI_CONFIG
    config = json.loads(path.read_text(encoding="utf-8"))
    config["search"]["max_length"] = context_length
    path.write_text(json.dumps(config, indent=4), encoding="utf-8")


def opset(path: Path) -> int:
    """The model's ONNX opset (its default domain's version), read without its weights."""
    imports = onnx.load(str(path), load_external_data=False).opset_import
    return next(entry.version for entry in imports if entry.domain in ("", "ai.onnx"))


def provenance(precision: str, lm_head: str) -> dict[str, Any]:
    """How the model was built, for the manifest's ``source``."""
    builder = {"builder": {"tool": "onnxruntime_genai.models.builder", "precision": precision, "provider": "cpu"}}
    return builder | ({"int8": {"method": "genai-builder", "lm_head": lm_head}} if precision == "int8" else {})


def check_fp32(
    fp32: GenerativeModel, model: PreTrainedModel, data: ParityData, settings: ParitySettings
) -> dict[str, Any]:
    """GenAI fp32 vs PyTorch on the prompts: logits within ``fp32_logit_atol``, the same greedy continuations."""
    diff = 0.0
    eos = json.loads((fp32.directory / GENAI_CONFIG).read_text(encoding="utf-8"))["model"]["eos_token_id"]
    for number, prompt in enumerate(tqdm(data.prompts, desc="Parity: GenAI fp32 vs PyTorch"), start=1):
        with torch.inference_mode():
            expected = model(torch.tensor([prompt])).logits[0].float().numpy()
        diff = max(diff, float(np.abs(fp32.sequence_logits(prompt) - expected).max()))
        theirs, ours = torch_greedy(model, prompt, data.new_tokens, eos), genai_greedy(fp32, prompt, data.new_tokens)
        if ours != theirs:
            at = first_difference(ours, theirs)
            raise ParityError(
                f"GenAI fp32 continues validation prompt {number} differently from PyTorch from new token {at + 1} "
                f"on: {fp32.decode(ours)!r} vs {fp32.decode(theirs)!r} (prompt {fp32.decode(prompt)!r})"
            )
    if diff > settings.fp32_logit_atol:
        raise ParityError(
            f"GenAI fp32 logits differ from PyTorch's by up to {diff:.2e} on the validation prompts, more than "
            f"parity.fp32_logit_atol={settings.fp32_logit_atol:g}"
        )
    log.info(
        "Parity: GenAI fp32 max |Δlogit| %.2e over %d prompts of %d tokens; the same %d greedy tokens as PyTorch",
        diff, len(data.prompts), len(data.prompts[0]), data.new_tokens,
    )  # fmt: skip
    return {
        "greedy_prompts": len(data.prompts),
        "prompt_tokens": len(data.prompts[0]),
        "new_tokens": data.new_tokens,
        "greedy_identical": len(data.prompts),
        "fp32_max_abs_logit_diff": diff,
        "fp32_logit_atol": settings.fp32_logit_atol,
    }


def first_difference(ours: list[int], theirs: list[int]) -> int:
    """The index of the first token where two continuations differ (one may stop early)."""
    return next((i for i, (a, b) in enumerate(zip(ours, theirs, strict=False)) if a != b), min(len(ours), len(theirs)))


def torch_greedy(model: PreTrainedModel, prompt: list[int], new_tokens: int, eos: int | list[int]) -> list[int]:
    """PyTorch's greedy continuation, ending at an end-of-text token as GenAI's does."""
    ids = torch.tensor([prompt])
    with torch.inference_mode(), quiet("transformers"):
        out = model.generate(
            ids, attention_mask=torch.ones_like(ids), max_new_tokens=new_tokens, do_sample=False, num_beams=1,
            eos_token_id=eos, pad_token_id=model.config.pad_token_id,
        )  # fmt: skip
    return [int(token) for token in out[0, len(prompt) :]]


def genai_greedy(model: GenerativeModel, prompt: list[int], new_tokens: int) -> list[int]:
    """The serving core's greedy continuation, token by token."""
    generator = model.generator(prompt, Sampling(max_new_tokens=new_tokens))
    tokens = []
    while not generator.is_done():
        generator.generate_next_token()
        tokens.append(int(generator.get_next_tokens()[0]))
    return tokens


def predictions(model: GenerativeModel, blocks: Sequence[list[int]], name: str) -> Predictions:
    """``model``'s top next token and the loss of the true one at every position of ``blocks`` that has a next one."""
    top1, nll = [], []
    for block in tqdm(blocks, desc=f"Parity: {name} on validation blocks"):
        logits = model.sequence_logits(block)[:-1].astype(np.float64)
        target = np.asarray(block[1:])
        top1.append(logits.argmax(axis=-1))
        peak = logits.max(axis=-1)
        log_norm = peak + np.log(np.exp(logits - peak[:, None]).sum(axis=-1))
        nll.append(log_norm - logits[np.arange(len(target)), target])
    return Predictions(np.concatenate(top1), np.concatenate(nll))


def check_int8(
    int8: GenerativeModel, reference: Predictions, blocks: Sequence[list[int]], settings: ParitySettings
) -> dict[str, Any]:
    """INT8's top token is fp32's almost everywhere, and its validation perplexity barely higher."""
    measured = predictions(int8, blocks, "GenAI INT8")
    agreement = float((measured.top1 == reference.top1).mean())
    increase = measured.perplexity / reference.perplexity - 1
    log.info(
        "Parity: INT8 picks fp32's next token at %.2f%% of %d validation positions; perplexity %.3f vs fp32 %.3f "
        "(%+.2f%%)", 100 * agreement, reference.top1.size, measured.perplexity, reference.perplexity, 100 * increase,
    )  # fmt: skip
    if agreement < settings.min_int8_top1_agreement:
        raise ParityError(
            f"INT8 picks fp32's next token at only {100 * agreement:.2f}% of the validation positions, less than "
            f"parity.min_int8_top1_agreement={settings.min_int8_top1_agreement:g}"
        )
    if increase > settings.max_int8_perplexity_increase:
        raise ParityError(
            f"INT8 validation perplexity {measured.perplexity:.3f} is {100 * increase:.2f}% above fp32's "
            f"{reference.perplexity:.3f}, more than parity.max_int8_perplexity_increase="
            f"{settings.max_int8_perplexity_increase:g}"
        )
    return {
        "int8_top1_agreement": agreement,
        "min_int8_top1_agreement": settings.min_int8_top1_agreement,
        "int8_perplexity": measured.perplexity,
        "int8_perplexity_increase": increase,
        "max_int8_perplexity_increase": settings.max_int8_perplexity_increase,
    }


def flat_metrics(metrics: dict[str, Any]) -> dict[str, float]:
    """The figures ``metrics_file`` and DVC track (the INT8 ones only where INT8 was built)."""
    parity = metrics["parity"]
    names = {
        "fp32_max_abs_logit_diff": "parity/fp32_max_abs_logit_diff",
        "fp32_perplexity": "val/perplexity_fp32",
        "int8_perplexity": "val/perplexity_int8",
        "int8_top1_agreement": "parity/int8_top1_agreement",
        "int8_perplexity_increase": "parity/int8_perplexity_increase",
    }
    return {name: float(parity[key]) for key, name in names.items() if key in parity}


EXPORT = GenerationExport()
