"""The inference core on a real exported artifact: predictions, tokenization, loading errors."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
import shutil
from pathlib import Path

import numpy as np
import onnx
import pytest

from nlpops.errors import UserError
from nlpops.serving.artifact import MANIFEST, check_artifact, read_manifest
from nlpops.serving.classification import SERVING, postprocess
from nlpops.serving.core import OnnxModel, in_batches
from nlpops.utils.files import sha256_file
from tests.serving.artifacts import LABELS, MAX_LENGTH


@pytest.fixture(scope="module")
def core(tiny_artifact: Path) -> OnnxModel:
    return OnnxModel.load(tiny_artifact, "int8")


def test_predictions_have_a_label_its_score_and_every_class_score(core: OnnxModel) -> None:
    [prediction] = SERVING.predict(core, ["the film is gorgeous and witty"])
    assert prediction.label in LABELS
    assert set(prediction.scores) == set(LABELS)
    assert prediction.score == max(prediction.scores.values())
    assert sum(prediction.scores.values()) == pytest.approx(1.0)


def test_the_trained_toy_model_gets_sentiment_right_through_the_core(core: OnnxModel) -> None:
    predictions = SERVING.predict(core, ["a brilliant and charming movie", "a dull and tedious movie"])
    assert [p.label for p in predictions] == ["fresh", "rotten"]


TEXTS = ["a witty film", "the plot is quite bland and messy with a very shallow cast", "tender"]


def test_int8_answers_a_text_alike_alone_or_in_any_batch(core: OnnxModel) -> None:
    """Dynamic INT8 scales activations by the whole input: the core runs it one text per call."""
    single = [SERVING.predict(core, [text])[0] for text in TEXTS]
    assert SERVING.predict(core, TEXTS) == single
    assert SERVING.predict(core, TEXTS[::-1]) == single[::-1]
    progress: list[int] = []
    assert (
        in_batches(lambda batch: SERVING.predict(core, batch), TEXTS, batch_size=2, progress=progress.append) == single
    )
    assert progress == [2, 1]  # texts done, batch by batch
    assert (
        in_batches(lambda batch: SERVING.predict(core, batch), TEXTS * 4, batch_size=3, threads=2) == single * 4
    )  # batches on two threads


def test_fp32_predicts_a_batch_in_one_call_like_one_text_at_a_time(tiny_artifact: Path) -> None:
    fp32 = OnnxModel.load(tiny_artifact, "fp32")
    assert fp32.encode(TEXTS)["input_ids"].shape[0] == len(TEXTS) and not fp32.one_text_per_call
    batched, single = SERVING.predict(fp32, TEXTS), [SERVING.predict(fp32, [text])[0] for text in TEXTS]
    assert [p.label for p in batched] == [p.label for p in single]
    np.testing.assert_allclose([p.score for p in batched], [p.score for p in single], atol=1e-5)


def test_long_texts_are_truncated_to_the_manifest_max_length(core: OnnxModel) -> None:
    inputs = core.encode(["the film " * 500])
    assert inputs["input_ids"].shape == (1, MAX_LENGTH)
    assert SERVING.predict(core, ["the film " * 500])[0].label in LABELS


def test_batches_are_padded_to_their_longest_text_not_a_fixed_length(tiny_artifact: Path, tmp_path: Path) -> None:
    copy = Path(shutil.copytree(tiny_artifact, tmp_path / "artifact"))
    tokenizer = json.loads((copy / "tokenizer.json").read_text())
    tokenizer["padding"] = {"strategy": {"Fixed": 128}, "direction": "Right", "pad_to_multiple_of": None,
                            "pad_id": 0, "pad_type_id": 0, "pad_token": "[PAD]"}  # fmt: skip
    (copy / "tokenizer.json").write_text(json.dumps(tokenizer))
    core = OnnxModel.load(copy, verify_checksums=False)
    inputs = core.encode(["a witty film", "tender"])
    assert inputs["input_ids"].shape[1] < 10
    assert inputs["attention_mask"][1].tolist()[-1] == 0  # the shorter text is padded, and masked


def test_postprocess_is_a_softmax_and_argmax() -> None:
    [p] = postprocess(np.array([[0.0, np.log(3.0)]]), ["a", "b"])
    assert p.label == "b"
    assert p.scores == pytest.approx({"a": 0.25, "b": 0.75})


def test_both_variants_load(tiny_artifact: Path) -> None:
    fp32, int8 = (OnnxModel.load(tiny_artifact, variant) for variant in ("fp32", "int8"))
    assert SERVING.predict(fp32, ["witty"])[0].label == SERVING.predict(int8, ["witty"])[0].label


def test_a_missing_artifact_says_to_export_first(tmp_path: Path) -> None:
    with pytest.raises(UserError, match=r"python export\.py"):
        OnnxModel.load(tmp_path)


def test_an_unknown_variant_is_a_clear_error(tiny_artifact: Path) -> None:
    with pytest.raises(UserError, match="no 'fp16' model"):
        OnnxModel.load(tiny_artifact, "fp16")


@pytest.mark.parametrize("part", [0, 1], ids=["graph", "weights"])
def test_a_corrupted_model_file_fails_its_checksum(tiny_artifact: Path, tmp_path: Path, part: int) -> None:
    copy = Path(shutil.copytree(tiny_artifact, tmp_path / "artifact"))
    model = copy / read_manifest(copy).model_files("int8")[part]
    model.write_bytes(model.read_bytes()[:-100])  # a truncated upload
    with pytest.raises(UserError, match="sha256"):
        OnnxModel.load(copy, "int8")
    with pytest.raises(UserError, match="ONNX Runtime cannot load"):
        OnnxModel.load(copy, "int8", verify_checksums=False)


def test_the_model_version_changes_with_each_of_its_files(tiny_artifact: Path) -> None:
    manifest = read_manifest(tiny_artifact)
    files = ["model.int8.onnx", "model.int8.onnx.data"]
    listing = "".join(f"{sha256_file(tiny_artifact / name)}  {name}\n" for name in files)  # as sha256sum prints
    assert manifest.model_version("int8") == hashlib.sha256(listing.encode()).hexdigest()[:12]
    for name in files:
        retrained = dataclasses.replace(manifest, checksums=manifest.checksums | {name: "0" * 64})
        assert retrained.model_version("int8") != manifest.model_version("int8")
    assert manifest.model_version("fp32") != manifest.model_version("int8")


def test_an_artifact_with_weights_inside_its_graph_files_still_serves(tiny_artifact: Path, tmp_path: Path) -> None:
    """As export wrote them before the weights moved to files of their own: one .onnx file a model."""
    copy = Path(shutil.copytree(tiny_artifact, tmp_path / "artifact"))
    manifest = json.loads((copy / MANIFEST).read_text())
    graph = copy / "model.int8.onnx"
    onnx.save(onnx.load(str(graph)), str(graph))  # loads the weights file, writes them into the graph
    (copy / "model.int8.onnx.data").unlink()
    del manifest["checksums"]["model.int8.onnx.data"]
    manifest["checksums"]["model.int8.onnx"] = sha256_file(graph)
    (copy / MANIFEST).write_text(json.dumps(manifest))

    assert read_manifest(copy).model_files("int8") == ["model.int8.onnx"]
    texts = ["a witty film", "a dull mess"]
    assert SERVING.predict(OnnxModel.load(copy), texts) == SERVING.predict(OnnxModel.load(tiny_artifact), texts)


def test_a_manifest_from_another_format_is_refused(tiny_artifact: Path, tmp_path: Path) -> None:
    copy = Path(shutil.copytree(tiny_artifact, tmp_path / "artifact"))
    manifest = json.loads((copy / MANIFEST).read_text())
    (copy / MANIFEST).write_text(json.dumps(manifest | {"format_version": 99}))
    with pytest.raises(UserError, match="format_version 99"):
        OnnxModel.load(copy)
    (copy / MANIFEST).write_text("{not json")
    with pytest.raises(UserError, match="not a valid manifest"):
        OnnxModel.load(copy)


def copy_with_manifest(tiny_artifact: Path, target: Path, **changes: object) -> Path:
    """A copy of the artifact whose manifest has ``changes``."""
    copy = Path(shutil.copytree(tiny_artifact, target))
    manifest = json.loads((copy / MANIFEST).read_text())
    (copy / MANIFEST).write_text(json.dumps(manifest | changes))
    return copy


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"models": None}, "models must be an object naming each variant's model file"),
        ({"models": {"int8": "../elsewhere/model.int8.onnx"}}, "models must be"),
        ({"max_length": -5}, "max_length must be a positive integer, not -5"),
        ({"max_length": "64"}, "max_length must be a positive integer, not '64'"),
        ({"labels": []}, "labels must be a list of at least 2 distinct"),
        ({"labels": ["fresh", "fresh"]}, "labels must be"),
        ({"pad_token_id": None, "opset": True}, "opset must be a positive integer, not True; pad_token_id must be"),
    ],
)
def test_a_manifest_with_wrong_values_is_refused_with_each_problem_named(
    tiny_artifact: Path, tmp_path: Path, changes: dict, expected: str
) -> None:
    copy = copy_with_manifest(tiny_artifact, tmp_path / "artifact", **changes)
    with pytest.raises(UserError, match=f"not a valid manifest: .*{re.escape(expected)}.*export the artifact again"):
        OnnxModel.load(copy)


def test_labels_that_do_not_match_the_model_outputs_are_refused_at_load(tiny_artifact: Path, tmp_path: Path) -> None:
    copy = copy_with_manifest(tiny_artifact, tmp_path / "artifact", labels=["fresh", "rotten", "stale"])
    with pytest.raises(UserError, match="scores 2 classes but its manifest names 3 labels"):
        OnnxModel.load(copy)


def test_an_artifact_of_links_into_different_folders_serves_the_same(tiny_artifact: Path, tmp_path: Path) -> None:
    """DVC's ``symlink`` cache type lays an artifact out so: every file a link into its own cache folder."""
    linked = tmp_path / "artifact"
    linked.mkdir()
    for number, file in enumerate(sorted(tiny_artifact.iterdir())):
        cached = tmp_path / "cache" / f"{number:02x}" / hashlib.md5(file.name.encode()).hexdigest()
        cached.parent.mkdir(parents=True)
        shutil.copy(file, cached)
        (linked / file.name).symlink_to(cached)

    model = OnnxModel.load(linked)
    assert SERVING.predict(model, TEXTS) == SERVING.predict(OnnxModel.load(tiny_artifact), TEXTS)
    assert model.load_seconds > 0


def test_check_artifact_finds_what_would_fail_a_load_without_loading(tiny_artifact: Path, tmp_path: Path) -> None:
    assert check_artifact(tiny_artifact, "int8") == read_manifest(tiny_artifact)
    copy = Path(shutil.copytree(tiny_artifact, tmp_path / "artifact"))
    weights = copy / "model.int8.onnx.data"
    weights.write_bytes(weights.read_bytes()[:-100])
    with pytest.raises(UserError, match="sha256"):
        check_artifact(copy, "int8")
    check_artifact(copy, "int8", verify_checksums=False)  # present, and not checked
    weights.unlink()
    with pytest.raises(UserError, match=r"lacks model\.int8\.onnx\.data"):
        check_artifact(copy, "int8", verify_checksums=False)
    with pytest.raises(UserError, match="no 'fp16' model"):
        check_artifact(copy, "fp16")
