"""The export stage (``python export.py``): the trained model → model artifact, checked on val and test."""

from __future__ import annotations

from pathlib import Path

from hydra.utils import instantiate
from omegaconf import DictConfig

from nlpops.errors import UserError, positive_int
from nlpops.export.parity import Thresholds
from nlpops.export.pipeline import export_artifact
from nlpops.utils.instantiate import check_arguments
from nlpops.utils.model_dir import check_model_dir

ARGUMENT_KEYS = ("max_length", "opset", "quantize", "int8_method", "optimize", "sensitive_matmuls")


def export(cfg: DictConfig) -> dict[str, float]:
    """Load the configured data's splits (training's), then export ``cfg.model_dir``, checked on val and test.

    INT8 calibration, where the method needs it, runs on training sentences spread evenly over the split.
    """
    check_arguments({key: cfg[key] for key in ARGUMENT_KEYS}, export_artifact)  # optimize=no: a clear error
    thresholds = parity_thresholds(cfg.parity)
    limit = cfg.parity.get("max_sentences")
    if limit is not None:
        positive_int("parity.max_sentences", limit)
    count = positive_int("calibration_sentences", cfg.calibration_sentences)
    check_model_dir(Path(cfg.model_dir))
    examples = instantiate(cfg.data).load_splits()
    val, test = ([(e.text, e.label) for e in examples[split][:limit]] for split in ("val", "test"))
    train = examples["train"]
    calibration = [e.text for e in train[:: max(1, len(train) // count)][:count]]
    metrics = export_artifact(
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
    accuracy = metrics["test"]["accuracy"]
    agreement = metrics["parity"].get("int8_agreement", {})
    return (
        {f"test/acc_{name}": value for name, value in accuracy.items()}
        | {f"parity/int8_agreement_{split}": value for split, value in agreement.items()}
        | {"parity/fp32_max_abs_logit_diff": metrics["parity"]["fp32_max_abs_logit_diff"]}
    )


def parity_thresholds(parity: DictConfig) -> Thresholds:
    """The configured parity thresholds; ones that no export could meet fail now, not after minutes of export."""
    check_arguments(parity, Thresholds, "parity")
    thresholds = Thresholds(
        fp32_atol=parity.fp32_atol,
        min_int8_agreement=parity.min_int8_agreement,
        max_int8_accuracy_drop_points=parity.max_int8_accuracy_drop_points,
    )
    if not thresholds.fp32_atol > 0:
        raise UserError(f"parity.fp32_atol must be more than 0, got {thresholds.fp32_atol}")
    if not 0 <= thresholds.min_int8_agreement <= 1:
        raise UserError(f"parity.min_int8_agreement is a share from 0 to 1, got {thresholds.min_int8_agreement}")
    if not thresholds.max_int8_accuracy_drop_points >= 0:
        raise UserError(
            f"parity.max_int8_accuracy_drop_points must be 0 or more, got {thresholds.max_int8_accuracy_drop_points}"
        )
    return thresholds
