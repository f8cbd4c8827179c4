"""``monitoring/locustfile.py`` against a text-generation server: it finds ``/generate`` and checks the tokens."""

from __future__ import annotations

from pathlib import Path

from tests.local_servers import api_server
from tests.serving.test_locustfile import run_locust


def test_a_short_run_against_a_generation_server_posts_prompts_to_generate(tiny_generation_artifact: Path) -> None:
    with api_server(tiny_generation_artifact) as url:
        done = run_locust("--headless", "-u", "2", "-r", "2", "-t", "3s", "--host", url, "--only-summary")
    assert done.returncode == 0, done.stderr  # Locust exits 1 if any request failed its checks
    assert " /generate " in done.stderr and "/openapi.json" in done.stderr
    assert "/predict" not in done.stderr and "texts]" not in done.stderr
