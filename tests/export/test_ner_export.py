"""The export pipeline on the tiny NER model: token logits checked against PyTorch, entity F1 kept by INT8."""

from __future__ import annotations

import shutil
from pathlib import Path
from types import SimpleNamespace

import pytest

from nlpops.export import parity
from nlpops.export.ner import EXPORT, NerThresholds
from nlpops.export.onnx import load_trained
from nlpops.export.parity import ParityError
from nlpops.export.pipeline import check_fp32, measure_int8
from nlpops.serving.artifact import read_manifest
from tests.export.test_pipeline import corrupt_classifier_bias
from tests.ner_artifacts import NER_LABELS, NER_MAX_LENGTH, ner_sentences


def examples(seed: int) -> list:
    return EXPORT.parity_examples([SimpleNamespace(tokens=t, tags=g) for t, g in ner_sentences(60, seed)])


VAL, TEST = examples(1), examples(2)


@pytest.fixture(scope="module")
def pytorch_tagger(tiny_tagger: Path):
    return load_trained(tiny_tagger, EXPORT.auto_class)


def test_the_manifest_names_the_task_its_labels_and_entity_f1_of_each_engine(tiny_ner_artifact: Path) -> None:
    manifest = read_manifest(tiny_ner_artifact)
    assert manifest.task == "token-classification"
    assert manifest.labels == NER_LABELS and manifest.max_length == NER_MAX_LENGTH
    metrics = manifest.metrics
    assert metrics["parity"]["fp32_max_abs_logit_diff"] <= 1e-4
    assert min(metrics["parity"]["int8_agreement"].values()) >= 0.99
    assert set(metrics["test"]["f1"]) == {"pytorch", "fp32", "int8"}
    assert metrics["test"]["f1"]["pytorch"] > 0.8  # the tiny model did learn its names
    assert metrics["test"]["int8_f1_drop_points"] <= 1.0


def test_fp32_parity_compares_every_token_and_fails_on_a_corrupted_model(
    tiny_ner_artifact: Path, tmp_path: Path, pytorch_tagger
) -> None:
    copy = Path(shutil.copytree(tiny_ner_artifact, tmp_path / "artifact"))
    corrupt_classifier_bias(copy, "fp32", 0.01)
    with pytest.raises(ParityError, match="fp32 logits differ from PyTorch"):
        check_fp32(EXPORT, copy, *pytorch_tagger, VAL, TEST, NerThresholds())


def test_int8_fails_when_it_loses_more_entity_f1_than_allowed(tiny_ner_artifact: Path, pytorch_tagger) -> None:
    reference = check_fp32(EXPORT, tiny_ner_artifact, *pytorch_tagger, VAL, TEST, NerThresholds())
    attempt = measure_int8(tiny_ner_artifact, reference)
    parity.check_int8(attempt["agreement"], attempt["f1_drop_points"], NerThresholds(), "f1")
    with pytest.raises(ParityError, match=r"f1 points on the test split .* parity.max_int8_f1_drop_points"):
        parity.check_int8(
            attempt["agreement"], attempt["f1_drop_points"], NerThresholds(max_int8_f1_drop_points=-1.0), "f1"
        )


def test_int8_agreement_is_per_token_and_fails_when_the_quantized_model_disagrees(
    tiny_ner_artifact: Path, tmp_path: Path, pytorch_tagger
) -> None:
    copy = Path(shutil.copytree(tiny_ner_artifact, tmp_path / "artifact"))
    corrupt_classifier_bias(copy, "int8", 100.0)  # INT8 now labels every token with label 0
    reference = check_fp32(EXPORT, copy, *pytorch_tagger, VAL, TEST, NerThresholds())
    attempt = measure_int8(copy, reference)
    with pytest.raises(ParityError, match="INT8 agrees with fp32 on"):
        parity.check_int8(attempt["agreement"], attempt["f1_drop_points"], NerThresholds(), "f1")
