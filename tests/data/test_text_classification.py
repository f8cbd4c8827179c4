from pathlib import Path

import pytest
import torch

from nlpops.data import TextClassificationDataModule
from nlpops.errors import UserError
from tests.helpers import toy_reviews, write_csv


def make_datamodule(tiny_pretrained: Path, source: Path, **kwargs) -> TextClassificationDataModule:
    options = {"text_column": "review", "label_column": "sentiment", "batch_size": 8, **kwargs}
    return TextClassificationDataModule(source=str(source), tokenizer=str(tiny_pretrained), **options)


def test_splits_labels_and_batches(tiny_pretrained, toy_csv):
    datamodule = make_datamodule(tiny_pretrained, toy_csv)
    datamodule.setup("fit")
    sizes = {name: len(part) for name, part in datamodule.datasets.items()}
    assert sizes == {"train": 192, "val": 24, "test": 24}
    assert datamodule.model_kwargs() == {"id2label": {0: "fresh", 1: "rotten"}}
    texts = {name: {e.text for e in part} for name, part in datamodule.examples.items()}
    assert not texts["train"] & texts["val"] and not texts["train"] & texts["test"]

    batch = next(iter(datamodule.train_dataloader()))
    assert set(batch) == {"input_ids", "attention_mask", "labels"}
    assert batch["input_ids"].shape == batch["attention_mask"].shape
    assert batch["input_ids"].shape[0] == 8 and batch["labels"].dtype == torch.long
    # dynamic padding: padded to the longest text of this batch, not to max_length
    assert batch["input_ids"].shape[1] == int(batch["attention_mask"].sum(dim=1).max()) < 128


def test_same_seed_gives_the_same_split(tiny_pretrained, toy_csv):
    first, second = make_datamodule(tiny_pretrained, toy_csv), make_datamodule(tiny_pretrained, toy_csv)
    first.setup(), second.setup()
    assert first.examples == second.examples
    other = make_datamodule(tiny_pretrained, toy_csv, seed=7)
    other.setup()
    assert other.examples["val"] != first.examples["val"]


def test_max_length_truncates(tiny_pretrained, toy_csv):
    datamodule = make_datamodule(tiny_pretrained, toy_csv, max_length=5)
    datamodule.setup()
    assert max(len(f["input_ids"]) for f in datamodule.datasets["train"]) == 5


def test_duplicates_dropped_labels_mapped_and_filtered(tiny_pretrained, tmp_path):
    rows = toy_reviews(100)
    rows += rows[:10]  # exact duplicates
    rows += [{"review": f"synopsis {i}", "sentiment": "plot"} for i in range(5)]
    rows += [{"review": "   ", "sentiment": "fresh"}]
    source = write_csv(tmp_path / "rows.csv", rows)
    datamodule = make_datamodule(
        tiny_pretrained, source, drop_labels=["plot"], label_map={"fresh": "positive", "rotten": "negative"}
    )
    datamodule.setup()
    assert sum(len(part) for part in datamodule.examples.values()) == 100
    assert datamodule.labels == ["negative", "positive"]


def test_max_train_samples_caps_training_split_only(tiny_pretrained, toy_csv):
    datamodule = make_datamodule(tiny_pretrained, toy_csv, max_train_samples=10)
    datamodule.setup()
    assert [len(datamodule.datasets[s]) for s in ("train", "val", "test")] == [10, 24, 24]


@pytest.mark.parametrize(
    ("rows", "kwargs", "message"),
    [
        ([{"review": "x", "sentiment": "a"}], {"text_column": "text"}, r"has no column 'text' .*set data.text_column"),
        ([{"review": "x", "sentiment": "a"}], {"label_column": "y"}, r"has no column 'y' .*set data.label_column"),
        ([{"review": f"r{i}", "sentiment": "fresh"} for i in range(20)], {}, r"only one label \('fresh'\)"),
        ([{"review": " ", "sentiment": "fresh"}], {}, r"no usable examples .* \(1 rows read\)"),
        (toy_reviews(4), {}, r"split is empty"),
    ],
)
def test_bad_data_is_a_user_error(tiny_pretrained, tmp_path, rows, kwargs, message):
    datamodule = make_datamodule(tiny_pretrained, write_csv(tmp_path / "rows.csv", rows), **kwargs)
    with pytest.raises(UserError, match=message):
        datamodule.setup()


def test_empty_file_is_a_user_error(tiny_pretrained, tmp_path):
    path = tmp_path / "empty.csv"
    path.write_text("review,sentiment\n")
    with pytest.raises(UserError, match="no usable examples"):
        make_datamodule(tiny_pretrained, path).setup()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"batch_size": 0}, "data.batch_size must be a positive integer"),
        ({"batch_size": "abc"}, "data.batch_size must be a positive integer, got 'abc'"),  # data.batch_size=abc
        ({"max_length": 1.5}, "data.max_length must be a positive integer, got 1.5"),
        ({"eval_batch_size": 0}, "data.eval_batch_size must be a positive integer"),
        ({"val_fraction": "half"}, "data.val_fraction must be between 0 and 1 .exclusive., got 'half'"),
        ({"val_fraction": 1.5}, "data.val_fraction must be between 0 and 1"),
        ({"val_fraction": 0.5, "test_fraction": 0.5}, "must leave examples for training"),
    ],
)
def test_bad_settings_are_user_errors(tiny_pretrained, toy_csv, kwargs, message):
    with pytest.raises(UserError, match=message):
        make_datamodule(tiny_pretrained, toy_csv, **kwargs)


def test_missing_tokenizer_is_a_user_error(tmp_path, toy_csv):
    datamodule = make_datamodule(tmp_path / "no-such-model", toy_csv)
    with pytest.raises(UserError, match="cannot load tokenizer"):
        datamodule.setup()


def test_rows_written_with_their_split_read_back_as_the_same_split(tiny_pretrained, toy_csv, tmp_path):
    original = make_datamodule(tiny_pretrained, toy_csv)
    examples = original.load_examples()
    splits = original.assign_splits(examples)
    rows = [original.to_row(e) | {"part": split} for e, split in zip(examples, splits, strict=True)]
    reread = make_datamodule(tiny_pretrained, write_csv(tmp_path / "prepared.csv", rows), split_column="part", seed=7)
    pairs = {name: [(e.text, e.label) for e in part] for name, part in reread.load_splits().items()}
    assert pairs == {name: [(e.text, e.label) for e in part] for name, part in original.load_splits().items()}


@pytest.mark.parametrize("split", ["", "validation"])
def test_a_row_without_a_known_split_is_a_user_error(tiny_pretrained, tmp_path, split):
    rows = [{"review": f"text {i}", "sentiment": "fresh" if i % 2 else "rotten", "part": "train"} for i in range(9)]
    rows.append({"review": "odd one", "sentiment": "fresh", "part": split})
    datamodule = make_datamodule(tiny_pretrained, write_csv(tmp_path / "data.csv", rows), split_column="part")
    with pytest.raises(UserError, match=r"example 9 has part=.*one of train, val, test"):
        datamodule.load_splits()
