"""The export stage (``python export.py``): the trained model → model artifact, checked on val and test."""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path

from omegaconf import DictConfig

from nlpops.errors import UserError, positive_int
from nlpops.export.parity import Thresholds
from nlpops.export.pipeline import export_artifact
from nlpops.export.rule import ExportRule, OwnExport, export_rule
from nlpops.utils.instantiate import build, check_arguments
from nlpops.utils.model_dir import check_model_dir

ARGUMENT_KEYS = ("max_length", "opset", "quantize", "int8_method", "optimize", "sensitive_matmuls")


def export(cfg: DictConfig) -> dict[str, float]:
    """Export ``cfg.model_dir`` as its task (``cfg.task_name``) says: the task's own stage, or the ONNX pipeline."""
    rule = export_rule(cfg.task_name)
    return rule.run(cfg) if isinstance(rule, OwnExport) else export_traced(cfg, rule)


def export_traced(cfg: DictConfig, rule: ExportRule) -> dict[str, float]:
    """Load the configured data's splits (training's), then export ``cfg.model_dir``, checked on val and test.

    The task's export rule says how the model loads and what parity means for it. INT8 calibration, where the
    method needs it, runs on training sentences spread evenly over the split.
    """
    check_arguments({key: cfg[key] for key in ARGUMENT_KEYS}, export_artifact)  # optimize=no: a clear error
    thresholds = parity_thresholds(cfg.parity, rule)
    limit = cfg.parity.get("max_sentences")
    if limit is not None:
        positive_int("parity.max_sentences", limit)
    count = positive_int("calibration_sentences", cfg.calibration_sentences)
    check_model_dir(Path(cfg.model_dir))
    examples = build(cfg, "data").load_splits()
    val, test = (rule.parity_examples(examples[split][:limit]) for split in ("val", "test"))
    train = examples["train"]
    calibration = [text for text, _ in rule.parity_examples(train[:: max(1, len(train) // count)][:count])]
    metrics = export_artifact(
        rule,
        Path(cfg.model_dir),
        Path(cfg.artifact_dir),
        val,
        test,
        max_length=cfg.max_length,
        opset=cfg.opset,
        thresholds=thresholds,
        quantize=cfg.quantize,
        int8_method=cfg.int8_method,
        optimize=cfg.optimize,
        calibration=calibration,
        sensitive_matmuls=cfg.sensitive_matmuls,
    )
    score = metrics["test"][rule.metric]
    agreement = metrics["parity"].get("int8_agreement", {})
    return (
        {f"test/{rule.metric}_{engine}": value for engine, value in score.items()}
        | {f"parity/int8_agreement_{split}": value for split, value in agreement.items()}
        | {"parity/fp32_max_abs_logit_diff": metrics["parity"]["fp32_max_abs_logit_diff"]}
    )


def parity_thresholds(parity: DictConfig, rule: ExportRule) -> Thresholds:
    """The task's configured parity thresholds; ones that no export could meet fail now, not after minutes of export."""
    check_arguments(parity, rule.thresholds, "parity")
    thresholds = rule.thresholds(**{field.name: parity[field.name] for field in fields(rule.thresholds)})
    if not thresholds.fp32_atol > 0:
        raise UserError(f"parity.fp32_atol must be more than 0, got {thresholds.fp32_atol}")
    if not 0 <= thresholds.min_int8_agreement <= 1:
        raise UserError(f"parity.min_int8_agreement is a share from 0 to 1, got {thresholds.min_int8_agreement}")
    if not thresholds.max_int8_drop_points >= 0:
        raise UserError(
            f"parity.max_int8_{rule.metric}_drop_points must be 0 or more, got {thresholds.max_int8_drop_points}"
        )
    return thresholds
