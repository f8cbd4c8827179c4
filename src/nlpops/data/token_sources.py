"""Where tagged sentences come from: CoNLL-style files, JSON Lines, a pinned asset or a Hugging Face Hub dataset.

Every source returns ``TaggedSentence``s with IOB2 tags, checked on reading: a problem names the file and line
(the Hub: the row) and says what to fix, before any training starts. Files are read through
``nlpops.data.sources``, so they get the same checks (missing, unreadable, not UTF-8) and compressions.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import IO, Any

from nlpops.data.sources import (
    COMPRESSIONS,
    FILE_FORMATS,
    HUB_SCHEME,
    AssetSource,
    HubSource,
    LocalFileSource,
    Row,
    json_lines,
)
from nlpops.errors import UserError
from nlpops.tagging import SCHEMES, tag_problem, to_iob2
from nlpops.utils import assets

CONLL_FORMATS = (".conll", ".txt", ".iob", ".bio", ".tsv")  # a token and its tag per line
JSONL_FORMAT = ".jsonl"  # an object per line: a token list and a tag list
DOCSTART = "-DOCSTART-"  # CoNLL-2003's document separator line


@dataclass(frozen=True)
class TaggedSentence:
    tokens: tuple[str, ...]
    tags: tuple[str, ...]  # IOB2, one per token
    split: str | None = None  # the split the data assigned (``split_column``), if any


@dataclass(frozen=True)
class TokenFormat:
    """How a source spells its sentences: the tag scheme, and where tokens and tags are.

    ``tag_column`` is the CoNLL column of the tag (-1: the last; the token is the first). JSON Lines and Hub rows
    hold ``tokens_column`` and ``tags_column`` lists; tags given as ids are named through ``label_names`` (in id
    order) unless the Hub dataset names them itself.
    """

    scheme: str = "IOB2"
    tag_column: int = -1
    tokens_column: str = "tokens"
    tags_column: str = "tags"
    label_names: tuple[str, ...] = ()
    split_column: str | None = None

    def __post_init__(self) -> None:
        if self.scheme not in SCHEMES:
            raise UserError(f"data.scheme must be one of {', '.join(SCHEMES)}, got {self.scheme!r}")
        if self.tag_column == 0:
            raise UserError("data.tag_column is 0, the token's column; the tag is in another (-1: the last)")

    def iob2_tags(self, tags: Sequence[Any], where: Callable[[int], str]) -> list[str]:
        """``tags`` (names or ids, in this scheme) checked and in IOB2; ``where(i)`` locates tag ``i`` in messages."""
        names = [self._name(tag, where(i)) for i, tag in enumerate(tags)]
        for i, name in enumerate(names):
            if problem := tag_problem(name, self.scheme):
                raise UserError(
                    f"{where(i)}: {problem}; correct the tag, or set data.scheme to the data's scheme "
                    f"({', '.join(SCHEMES)}; now {self.scheme})"
                )
        return to_iob2(names, self.scheme)

    def from_row(self, row: Any, where: str) -> TaggedSentence | None:
        """The sentence of a JSON Lines or Hub row (None for one without tokens); ``where`` locates it."""
        if not isinstance(row, dict):
            raise UserError(f"{where}: expected an object with '{self.tokens_column}' and '{self.tags_column}'")
        tokens = self._column(row, "data.tokens_column", self.tokens_column, where)
        tags = self._column(row, "data.tags_column", self.tags_column, where)
        if self.split_column and self.split_column not in row:
            raise UserError(f"{where}: no column '{self.split_column}'; set data.split_column (null: split here)")
        if not all(isinstance(token, str) for token in tokens):
            raise UserError(f"{where}: '{self.tokens_column}' must be a list of strings; set data.tokens_column")
        if len(tokens) != len(tags):
            raise UserError(f"{where}: {len(tokens)} tokens but {len(tags)} tags; give every token exactly one tag")
        if not tokens:
            return None
        tags = self.iob2_tags(tags, lambda i: f"{where}, tag {i + 1}")
        split = row.get(self.split_column) if self.split_column else None
        return TaggedSentence(tuple(tokens), tuple(tags), split)

    def _column(self, row: Row, key: str, column: str, where: str) -> list[Any]:
        if column not in row:
            raise UserError(f"{where}: no column '{column}' (columns: {', '.join(map(str, row))}); set {key}")
        if not isinstance(row[column], list):
            raise UserError(f"{where}: '{column}' must be a list, got {type(row[column]).__name__}; set {key}")
        return row[column]

    def _name(self, tag: Any, where: str) -> str:
        if isinstance(tag, str):
            return tag
        if isinstance(tag, bool) or not isinstance(tag, int):
            raise UserError(f"{where}: tag {tag!r} is neither a name nor an id; tags are strings or integers")
        if not self.label_names:
            raise UserError(f"{where}: tags are ids ({tag}); set data.label_names to the tag names in id order")
        if not 0 <= tag < len(self.label_names):
            raise UserError(f"{where}: tag id {tag} has no name in data.label_names ({len(self.label_names)} names)")
        return self.label_names[tag]


class TokenSource(ABC):
    """Loads all tagged sentences of a dataset; ``description`` names it in messages."""

    description: str

    @abstractmethod
    def load(self) -> list[TaggedSentence]: ...


class FileTokenSource(TokenSource):
    """A local file or a packaged asset, read (UTF-8, decompressed) through ``LocalFileSource.read``."""

    def __init__(self, file: LocalFileSource, token_format: TokenFormat) -> None:
        self.file, self.format = file, token_format
        self.description = file.description

    def load(self) -> list[TaggedSentence]:
        return self.file.read(self.parse)

    @abstractmethod
    def parse(self, text: IO[str]) -> list[TaggedSentence]: ...


class ConllSource(FileTokenSource):
    """A token per line with its tag in ``tag_column``, columns split by tabs (if any) or spaces.

    Sentences end at a blank line, a line of only whitespace (the ``ner-tweets`` asset's single TAB), or a
    ``-DOCSTART-`` line; further columns (CoNLL-2003's part of speech and chunk) are ignored.
    """

    def parse(self, text: IO[str]) -> list[TaggedSentence]:
        sentences = []
        for first, lines in _blocks(text):
            where = partial(_line, self.file.path, first)
            tokens = tuple(columns[0] for columns in lines)
            tags = [self._tag(columns, where(i)) for i, columns in enumerate(lines)]
            sentences.append(TaggedSentence(tokens, tuple(self.format.iob2_tags(tags, where))))
        return sentences

    def _tag(self, columns: list[str], where: str) -> str:
        column = self.format.tag_column
        if len(columns) < 2 or not columns[0]:
            raise UserError(
                f"{where}: {' '.join(columns)!r} is not a token and its tag; put the tag after the token, "
                "separated by a space or a tab (a sentence ends at a blank line)"
            )
        if not -len(columns) < column < len(columns):
            raise UserError(
                f"{where}: {len(columns)} columns, none is column {column} for the tag; "
                "set data.tag_column (-1: the last)"
            )
        return columns[column]


class JsonLinesTokenSource(FileTokenSource):
    """An object per line, with a list of tokens and a list of tags (names, or ids with ``label_names``)."""

    def parse(self, text: IO[str]) -> list[TaggedSentence]:
        rows = (self.format.from_row(row, f"{self.file.path}:{n}") for n, row in json_lines(text, self.file.path))
        return [sentence for sentence in rows if sentence is not None]


class HubTokenSource(TokenSource):
    """A Hub dataset with token and tag lists; ``Sequence(ClassLabel)`` tags (conll2003, wnut_17) come named."""

    def __init__(self, hub: HubSource, token_format: TokenFormat) -> None:
        self.hub, self.format = hub, token_format
        self.description = hub.description

    def load(self) -> list[TaggedSentence]:
        rows = (self.format.from_row(row, f"{self.description} row {i}") for i, row in enumerate(self.hub.load()))
        return [sentence for sentence in rows if sentence is not None]


def open_token_source(
    spec: str, token_format: TokenFormat, hub_config: str | None = None, hub_split: str = "train"
) -> TokenSource:
    """Pick the source a ``data.source`` value names.

    ``asset:NAME`` is a pinned packaged asset, a name ending in a CoNLL suffix (``CONLL_FORMATS``) or ``.jsonl``
    (either optionally ``.gz`` / ``.bz2``) a local file, ``hub:ID`` or any other name a Hub dataset id.
    """
    spec = str(spec)
    if assets.is_asset_ref(spec):
        name = spec.removeprefix(assets.ASSET_SCHEME)
        member = Path(assets.ASSETS[name].member) if name in assets.ASSETS else Path(".conll")
        return _file_source(AssetSource(name), member, token_format)
    path = Path(spec)
    if _format_of(path) or path.is_file() or _file_suffix(path) in FILE_FORMATS:
        return _file_source(LocalFileSource(path), path, token_format)
    return HubTokenSource(HubSource(spec.removeprefix(HUB_SCHEME), hub_config, hub_split), token_format)


def _file_source(file: LocalFileSource, path: Path, token_format: TokenFormat) -> TokenSource:
    file_format = _format_of(path)
    if file_format == JSONL_FORMAT:
        return JsonLinesTokenSource(file, token_format)
    if file_format in CONLL_FORMATS:
        return ConllSource(file, token_format)
    raise UserError(
        f"{file.description}: token data must be CoNLL-style ({', '.join(CONLL_FORMATS)}) or JSON Lines "
        f"({JSONL_FORMAT}), optionally .gz or .bz2; rename or convert the file"
    )


def _format_of(path: Path) -> str | None:
    suffix = _file_suffix(path)
    return suffix if suffix in (*CONLL_FORMATS, JSONL_FORMAT) else None


def _file_suffix(path: Path) -> str:
    """The suffix that says the format: the one before ``.gz`` / ``.bz2`` for a compressed file."""
    suffixes = path.suffixes[-2:] if path.suffix in COMPRESSIONS else path.suffixes[-1:]
    return suffixes[0] if suffixes else ""


def _blocks(text: IO[str]) -> Iterator[tuple[int, list[list[str]]]]:
    """(first line number, columns of each line) of each sentence: the runs of lines between sentence breaks."""
    block: list[list[str]] = []
    first = 0
    for number, line in enumerate(text, start=1):
        columns = _columns(line)
        if not columns or columns[0] == DOCSTART:
            if block:
                yield first, block
            block = []
            continue
        if not block:
            first = number
        block.append(columns)
    if block:
        yield first, block


def _columns(line: str) -> list[str]:
    """A line's columns: split at tabs if it has any (a token may then hold spaces), else at runs of spaces."""
    if not line.strip():
        return []
    line = line.rstrip("\r\n")
    return [column.strip() for column in line.split("\t")] if "\t" in line else line.split()


def _line(path: Path, first: int, index: int) -> str:
    """Where token ``index`` of a CoNLL sentence that starts on line ``first`` is: ``path:line``."""
    return f"{path}:{first + index}"
