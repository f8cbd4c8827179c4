"""``monitoring/locustfile.py`` against a NER server: it finds ``/ner`` itself and checks the entities it gets."""

from __future__ import annotations

from pathlib import Path

from tests.local_servers import api_server
from tests.serving.test_locustfile import run_locust


def test_a_short_run_against_a_ner_server_posts_to_ner_and_gets_only_good_answers(tiny_ner_artifact: Path) -> None:
    with api_server(tiny_ner_artifact) as url:
        done = run_locust("--headless", "-u", "2", "-r", "2", "-t", "3s", "--host", url, "--only-summary")
    assert done.returncode == 0, done.stderr  # Locust exits 1 if any request failed its checks
    assert " /ner " in done.stderr and "/ner [8 texts]" in done.stderr and "/openapi.json" in done.stderr
    assert "/predict" not in done.stderr


def test_a_texts_file_is_sent_to_ner_too(tiny_ner_artifact: Path, tmp_path: Path) -> None:
    texts = tmp_path / "texts.txt"
    texts.write_text("maria lopez flew to lisbon\n\nthe cast was dull\nana in osaka 🎬\n", encoding="utf-8")
    with api_server(tiny_ner_artifact) as url:
        done = run_locust("--headless", "-u", "2", "-r", "2", "-t", "3s", "--host", url, "--only-summary", texts=texts)
    assert done.returncode == 0, done.stderr
    assert "/ner [3 texts]" in done.stderr
