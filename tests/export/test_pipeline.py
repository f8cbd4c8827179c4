"""The export pipeline on a tiny fine-tuned model: the artifact, and parity checks that fail when they should."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import numpy_helper

from nlpops.errors import UserError
from nlpops.export import parity
from nlpops.export.classification import EXPORT, ClassificationThresholds
from nlpops.export.onnx import STACK_TRACE, load_trained, save_with_weights_beside
from nlpops.export.parity import ParityError, check_tokenizer
from nlpops.export.pipeline import check_fp32, export_artifact, measure_int8, quantize_checked
from nlpops.model_card import CARD
from nlpops.serving.artifact import MANIFEST, read_manifest
from nlpops.serving.classification import SERVING
from nlpops.serving.core import OnnxModel
from nlpops.utils.files import sha256_file
from tests.cli import REPO_ROOT
from tests.serving.artifacts import LABELS, MAX_LENGTH, toy_examples

VAL, TEST = toy_examples(60, seed=1), toy_examples(60, seed=2)


def test_the_artifact_holds_models_tokenizer_and_a_manifest_with_checksums(tiny_artifact: Path) -> None:
    manifest = read_manifest(tiny_artifact)
    assert manifest.task == "text-classification"
    assert manifest.labels == LABELS
    assert manifest.max_length == MAX_LENGTH
    assert manifest.opset == 18
    assert manifest.models == {"fp32": "model.onnx", "int8": "model.int8.onnx"}
    assert manifest.model_files("int8") == ["model.int8.onnx", "model.int8.onnx.data"]
    files = {path.name for path in tiny_artifact.iterdir()}
    models = {"model.onnx", "model.onnx.data", "model.int8.onnx", "model.int8.onnx.data"}
    assert files == {MANIFEST, CARD, *models, "tokenizer.json", "tokenizer_config.json"}
    # the model card is written last, from the manifest that holds the checksums: it cannot be among them
    assert all(manifest.checksums[name] == sha256_file(tiny_artifact / name) for name in files - {MANIFEST, CARD})
    assert manifest.source["model_sha256"] and manifest.source["versions"]["onnxruntime"]
    size = {name: (tiny_artifact / name).stat().st_size for name in models}
    assert size["model.int8.onnx.data"] < size["model.onnx.data"]
    for name in ("model.onnx", "model.int8.onnx"):  # the weights are in their file, not in the graph
        initializers = onnx.load(str(tiny_artifact / name), load_external_data=False).graph.initializer
        assert max(len(tensor.raw_data) for tensor in initializers) <= 1024
        assert sum(tensor.data_location == onnx.TensorProto.EXTERNAL for tensor in initializers) > 10
    modes = {(tiny_artifact / name).stat().st_mode for name in files}
    assert len(modes) == 1  # the weights files are as readable as the rest (onnx writes them owner-only)


def test_the_graphs_name_no_path_of_the_export_machine(tiny_artifact: Path) -> None:
    """The exporter's stack traces (absolute paths, line numbers) are dropped; the layer names quantization uses
    are kept."""
    for name in ("model.onnx", "model.int8.onnx"):
        assert str(REPO_ROOT).encode() not in (tiny_artifact / name).read_bytes()
        nodes = onnx.load(str(tiny_artifact / name), load_external_data=False).graph.node
        keys = {prop.key for node in nodes for prop in node.metadata_props}
        assert "namespace" in keys and STACK_TRACE not in keys


def test_the_manifest_reports_parity_and_accuracy(tiny_artifact: Path) -> None:
    metrics = read_manifest(tiny_artifact).metrics
    assert metrics["parity"]["fp32_max_abs_logit_diff"] <= 1e-4
    assert metrics["parity"]["int8_agreement"]["val"] >= 0.99
    assert metrics["parity"]["int8_agreement"]["test"] >= 0.99
    assert set(metrics["test"]["accuracy"]) == {"pytorch", "fp32", "int8"}
    assert metrics["test"]["int8_accuracy_drop_points"] <= 0.5


def test_onnx_inputs_have_dynamic_batch_and_sequence_axes(tiny_artifact: Path) -> None:
    for name in ("model.onnx", "model.int8.onnx"):
        graph = onnx.load(str(tiny_artifact / name)).graph
        assert [i.name for i in graph.input] == ["input_ids", "attention_mask"]
        for tensor in graph.input:
            dims = tensor.type.tensor_type.shape.dim
            assert all(dim.dim_param and not dim.dim_value for dim in dims), dims
    core = OnnxModel.load(tiny_artifact, "fp32")
    assert len(SERVING.predict(core, ["a witty film"] * 5)) == 5  # neither the example batch (2) nor its length


def corrupt_classifier_bias(artifact: Path, variant: str, shift: float) -> None:
    """Add ``shift`` to class 0's bias in one model file, and re-sign it: an exporter bug, not a bad download."""
    manifest = read_manifest(artifact)
    path = artifact / manifest.models[variant]
    model = onnx.load(str(path))
    [bias] = [t for t in model.graph.initializer if "classifier.bias" in t.name]
    values = numpy_helper.to_array(bias).copy()
    values[0] += shift
    bias.CopyFrom(numpy_helper.from_array(values.astype(np.float32), bias.name))
    save_with_weights_beside(model, path)
    data = json.loads((artifact / MANIFEST).read_text())
    for name in manifest.model_files(variant):
        data["checksums"][name] = sha256_file(artifact / name)
    (artifact / MANIFEST).write_text(json.dumps(data))


@pytest.fixture(scope="module")
def pytorch_model(tiny_classifier: Path):
    return load_trained(tiny_classifier, EXPORT.auto_class)


def check_int8(artifact: Path, pytorch_model, thresholds: ClassificationThresholds) -> None:
    reference = check_fp32(EXPORT, artifact, *pytorch_model, VAL, TEST, thresholds)
    attempt = measure_int8(artifact, reference)
    parity.check_int8(attempt["agreement"], attempt["accuracy_drop_points"], thresholds, "accuracy")


def test_the_checks_pass_on_the_real_artifact(tiny_artifact: Path, pytorch_model) -> None:
    reference = check_fp32(EXPORT, tiny_artifact, *pytorch_model, VAL, TEST, ClassificationThresholds())
    assert reference.metrics["parity"]["fp32_max_abs_logit_diff"] <= 1e-4
    check_int8(tiny_artifact, pytorch_model, ClassificationThresholds())


def test_fp32_parity_fails_on_a_corrupted_model(tiny_artifact: Path, tmp_path: Path, pytorch_model) -> None:
    copy = Path(shutil.copytree(tiny_artifact, tmp_path / "artifact"))
    corrupt_classifier_bias(copy, "fp32", 0.01)  # small, but 100x the tolerance
    with pytest.raises(ParityError, match="fp32 logits differ from PyTorch"):
        check_fp32(EXPORT, copy, *pytorch_model, VAL, TEST, ClassificationThresholds())


def test_int8_agreement_fails_when_the_quantized_model_disagrees(
    tiny_artifact: Path, tmp_path: Path, pytorch_model
) -> None:
    copy = Path(shutil.copytree(tiny_artifact, tmp_path / "artifact"))
    corrupt_classifier_bias(copy, "int8", 100.0)  # INT8 now always says class 0
    with pytest.raises(ParityError, match="INT8 agrees with fp32 on"):
        check_int8(copy, pytorch_model, ClassificationThresholds())


def test_int8_accuracy_drop_fails_over_the_threshold(tiny_artifact: Path, pytorch_model) -> None:
    with pytest.raises(ParityError, match="accuracy points"):
        check_int8(tiny_artifact, pytorch_model, ClassificationThresholds(max_int8_accuracy_drop_points=-1.0))


def test_auto_quantization_falls_back_to_blockwise_and_fails_if_nothing_passes(
    tiny_artifact: Path, tmp_path: Path, pytorch_model, caplog: pytest.LogCaptureFixture
) -> None:
    copy = Path(shutil.copytree(tiny_artifact, tmp_path / "artifact"))
    reference = check_fp32(EXPORT, copy, *pytorch_model, VAL, TEST, ClassificationThresholds())
    writes: list[dict] = []

    def write_manifest(models: dict[str, str], metrics: dict) -> None:  # what export_artifact's writer does
        data = json.loads((copy / MANIFEST).read_text())
        data["checksums"] = {p.name: sha256_file(p) for p in copy.iterdir() if p.name != MANIFEST}
        (copy / MANIFEST).write_text(json.dumps(data | {"models": models}))
        writes.append(models)

    with pytest.raises(ParityError, match="INT8 agrees"):
        quantize_checked(
            copy, reference, ["dynamic", "blockwise"], ClassificationThresholds(min_int8_agreement=1.01), write_manifest
        )
    assert "INT8 (dynamic) failed its check" in caplog.text and "trying blockwise" in caplog.text
    assert len(writes) == 2  # one quantization per method
    assert "MatMulNBits" in {node.op_type for node in onnx.load(str(copy / "model.int8.onnx")).graph.node}


def test_auto_quantization_keeps_the_first_method_that_passes(tiny_artifact: Path) -> None:
    manifest = read_manifest(tiny_artifact)
    assert manifest.source["int8"]["method"] == "dynamic"  # the tiny model passes with the fastest method
    assert list(manifest.metrics["parity"]["int8_attempts"]) == ["dynamic"]


def test_a_tokenizer_that_differs_from_training_fails(tiny_artifact: Path, pytorch_model) -> None:
    core = OnnxModel.load(tiny_artifact, "fp32")
    core.tokenizer.enable_truncation(max_length=4)
    with pytest.raises(ParityError, match="serving tokenizes"):
        check_tokenizer(core, pytorch_model[1], [text for text, _ in VAL])


def test_a_failed_export_leaves_the_previous_artifact_untouched(
    tiny_classifier: Path, tiny_artifact: Path, tmp_path: Path
) -> None:
    target = Path(shutil.copytree(tiny_artifact, tmp_path / "artifact"))
    before = (target / MANIFEST).read_bytes()
    with pytest.raises(ParityError):
        export_artifact(
            EXPORT,
            tiny_classifier,
            target,
            VAL,
            TEST,
            MAX_LENGTH,
            thresholds=ClassificationThresholds(min_int8_agreement=1.01),
        )
    assert (target / MANIFEST).read_bytes() == before
    assert sorted(path.name for path in tmp_path.iterdir()) == ["artifact"]  # no scratch folder left behind


def test_a_missing_model_says_to_train_first(tmp_path: Path) -> None:
    with pytest.raises(UserError, match=r"python train\.py"):
        export_artifact(EXPORT, tmp_path / "nothing", tmp_path / "out", VAL, TEST, MAX_LENGTH)
    assert not (tmp_path / "out").exists()


def test_labels_the_model_does_not_know_are_refused(tiny_classifier: Path, tmp_path: Path) -> None:
    with pytest.raises(UserError, match=r"labels \['meh'\]"):
        export_artifact(EXPORT, tiny_classifier, tmp_path / "out", VAL, [("a film", "meh")], MAX_LENGTH)


def test_an_opset_the_exporter_cannot_write_is_refused_not_recorded(tiny_classifier: Path, tmp_path: Path) -> None:
    with pytest.raises(UserError, match=r"the ONNX exporter wrote opset 18, not the opset 7 asked for"):
        export_artifact(EXPORT, tiny_classifier, tmp_path / "out", VAL, TEST, MAX_LENGTH, opset=7, optimize=False)
    assert not (tmp_path / "out").exists()  # no artifact whose manifest names an opset its model does not have


def test_the_cpu_rewrites_need_opset_18_and_say_so_before_exporting(tmp_path: Path) -> None:
    with pytest.raises(UserError, match=r"opset 17 is too old for optimize=true.*optimize=false"):
        export_artifact(EXPORT, tmp_path / "not-even-loaded", tmp_path / "out", VAL, TEST, MAX_LENGTH, opset=17)


def test_a_max_length_beyond_the_models_positions_is_refused(tiny_classifier: Path, tmp_path: Path) -> None:
    with pytest.raises(UserError, match=r"max_length 129 is more than the 128 token positions .*=128 or less"):
        export_artifact(EXPORT, tiny_classifier, tmp_path / "out", VAL, TEST, max_length=129)
    assert not (tmp_path / "out").exists()  # serving would have failed on every text longer than 128 tokens
