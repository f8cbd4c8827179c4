"""The causal-LM DataModule: sources, blocks of tokens, splits, batches, prepared data."""

import json
from pathlib import Path

import pytest
import torch
from transformers import AutoTokenizer

from nlpops.data import CausalLMDataModule
from nlpops.data.generation import Block, TextSource, group_blocks, open_text_source
from nlpops.errors import UserError
from tests.generation_helpers import save_tiny_causal_lm, toy_corpus, write_corpus


@pytest.fixture(scope="module")
def tiny_lm(tmp_path_factory) -> Path:
    return save_tiny_causal_lm(tmp_path_factory.mktemp("tiny-llama"))


def make_datamodule(tiny_lm: Path, source: Path | str, **kwargs) -> CausalLMDataModule:
    return CausalLMDataModule(source=str(source), tokenizer=str(tiny_lm), **{"block_size": 32, **kwargs})


def test_documents_are_joined_with_eos_and_cut_into_full_blocks():
    blocks = group_blocks([[1, 2, 3], [4, 5], [6, 7, 8, 9]], eos_id=0, block_size=4)
    assert blocks == [(1, 2, 3, 0), (4, 5, 0, 6)]  # 7, 8, 9 do not fill a block: dropped
    assert group_blocks([[1, 2]], eos_id=0, block_size=4) == []


def test_a_text_file_becomes_blocks_split_by_block(tiny_lm, tmp_path):
    corpus = write_corpus(tmp_path / "corpus.txt")
    datamodule = make_datamodule(tiny_lm, corpus)
    datamodule.setup("fit")
    tokenizer = AutoTokenizer.from_pretrained(tiny_lm)
    ids = tokenizer(toy_corpus(), add_special_tokens=False)["input_ids"]
    blocks = [block for part in datamodule.examples.values() for block in part]
    assert sorted(b.ids for b in blocks) == sorted(tuple(ids[i : i + 32]) for i in range(0, len(ids) - 31, 32))
    sizes = {name: len(part) for name, part in datamodule.examples.items()}
    assert sizes["val"] == sizes["test"] == round(0.1 * len(blocks)) and sum(sizes.values()) == len(ids) // 32
    assert all(isinstance(b, Block) and len(b.ids) == 32 for b in blocks)
    again = make_datamodule(tiny_lm, corpus).load_splits()
    assert again == datamodule.examples  # seeded: the same blocks in the same splits


def test_batches_predict_their_own_tokens(tiny_lm, tmp_path):
    datamodule = make_datamodule(tiny_lm, write_corpus(tmp_path / "corpus.txt"), batch_size=4)
    datamodule.setup("fit")
    batch = next(iter(datamodule.train_dataloader()))
    assert batch["input_ids"].shape == (4, 32)
    assert torch.equal(batch["labels"], batch["input_ids"]) and batch["attention_mask"].all()


def test_block_size_is_capped_at_the_models_context(tiny_lm, tmp_path):
    datamodule = make_datamodule(tiny_lm, write_corpus(tmp_path / "corpus.txt"), block_size=4096)
    assert datamodule.block_size == 256  # the tiny Llama's max_position_embeddings
    assert {len(b.ids) for b in datamodule.load_examples()} == {256}


def test_a_folder_of_text_files_is_a_corpus_of_documents_with_eos_between(tiny_lm, tmp_path):
    folder = tmp_path / "plays"
    (folder / "act2").mkdir(parents=True)
    lines = toy_corpus().splitlines()
    (folder / "a.txt").write_text("\n".join(lines[:200]))
    (folder / "act2" / "b.txt").write_text("\n".join(lines[200:]))
    (folder / "notes.md").write_text("not a document")
    source = open_text_source(str(folder))
    assert isinstance(source, TextSource) and source.description.endswith("(2 files)")
    datamodule = make_datamodule(tiny_lm, folder)
    eos = datamodule.tokenizer.eos_token_id
    assert sum(b.ids.count(eos) for b in datamodule.load_examples()) <= 1  # one boundary, unless it fell in the rest


def test_json_lines_documents_come_from_the_text_column(tiny_lm, tmp_path):
    path = tmp_path / "docs.jsonl"
    path.write_text("".join(json.dumps({"body": line}) + "\n" for line in toy_corpus().splitlines()))
    blocks = make_datamodule(tiny_lm, path, text_column="body").load_examples()
    eos = AutoTokenizer.from_pretrained(tiny_lm).eos_token_id
    assert len(blocks) > 100 and any(eos in b.ids for b in blocks)  # an EOS between every two lines
    with pytest.raises(UserError, match=r"docs\.jsonl row 1: no text in column 'text' \(columns: body\)"):
        make_datamodule(tiny_lm, path).load_examples()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", r"empty\.txt has 0 tokens in 0 non-empty documents: 0 blocks of data\.block_size=32"),
        ("HAMLET. Words, words, words.", r"empty\.txt has \d+ tokens .*too few for train, val and test"),
    ],
)
def test_a_corpus_too_short_for_the_splits_is_a_user_error(tiny_lm, tmp_path, text, message):
    path = tmp_path / "empty.txt"
    path.write_text(text)
    with pytest.raises(UserError, match=message):
        make_datamodule(tiny_lm, path).load_splits()


def test_missing_files_and_empty_folders_are_user_errors(tiny_lm, tmp_path):
    with pytest.raises(UserError, match="data file not found"):
        make_datamodule(tiny_lm, tmp_path / "missing.txt").load_examples()
    (tmp_path / "empty").mkdir()
    with pytest.raises(UserError, match=r"no \.txt files in the folder"):
        make_datamodule(tiny_lm, tmp_path / "empty")


def test_the_hamlet_asset_is_read_as_one_text_document():
    source = open_text_source("asset:hamlet")
    assert isinstance(source, TextSource) and source.description == "asset:hamlet"


def test_prepared_blocks_keep_their_ids_and_splits(tiny_lm, tmp_path):
    datamodule = make_datamodule(tiny_lm, write_corpus(tmp_path / "corpus.txt"))
    examples = datamodule.load_examples()
    splits = datamodule.assign_splits(examples)
    prepared = tmp_path / "prepared.jsonl"
    rows = [datamodule.to_row(e) | {"split": s} for e, s in zip(examples, splits, strict=True)]
    prepared.write_text("".join(json.dumps(row) + "\n" for row in rows))
    reread = make_datamodule(tiny_lm, prepared, split_column="split").load_splits()
    assert reread == {name: [Block(b.ids, name) for b in part] for name, part in datamodule.load_splits().items()}
    with pytest.raises(UserError, match=r"'ids' is not a list of data\.block_size=64 token ids"):
        make_datamodule(tiny_lm, prepared, split_column="split", block_size=64).load_examples()
