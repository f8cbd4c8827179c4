"""`make params` and `make plots` (nlpops.utils.dvc_params / dvc_plots): help, bad input, offline rendering."""

from __future__ import annotations

import subprocess
import sys

from tests.cli import REPO_ROOT, run_cli
from tests.pipeline.workspace import run


def module(name: str, *args: str) -> subprocess.CompletedProcess[str]:
    return run_cli("-m", f"nlpops.utils.{name}", *args, timeout=120)


def test_both_tools_explain_themselves():
    for name in ("dvc_params", "dvc_plots"):
        result = module(name, "--help")
        assert result.returncode == 0 and result.stdout.startswith("usage:")


def test_a_bad_override_is_one_error_line_and_the_params_files_are_untouched():
    files = [REPO_ROOT / "params.yaml", REPO_ROOT / "params_ner.yaml"]
    before = [file.read_bytes() for file in files]
    for arguments, message in (
        (["foo.bar=1"], "Could not override 'foo.bar'"),
        (["trainer=nope"], "trainer/nope"),
        (["--file", "params_nope.yaml"], "no pipeline branch writes params_nope.yaml; the params files: params.yaml"),
    ):
        result = module("dvc_params", *arguments)
        assert result.returncode == 2 and result.stderr.startswith("error: ") and message in result.stderr
        assert "Traceback" not in result.stderr
    assert [file.read_bytes() for file in files] == before


def test_an_unknown_revision_is_one_error_line():
    result = module("dvc_plots", "no-such-revision")
    assert result.returncode == 2 and "unknown Git revision 'no-such-revision'" in result.stderr


def test_plots_render_offline_from_the_pipeline_reports(reproduced):
    root, _ = reproduced
    result = run(root, sys.executable, "-m", "nlpops.utils.dvc_plots")
    # classification: accuracy, loss, confusion; NER: entity F1, loss; generation: perplexity, loss
    assert "wrote 7 plots" in result.stdout
    page = (root / "dvc_plots" / "index.html").read_text()
    assert page.count("<svg") == 7 and "confusion matrix" in page and "NER: entity precision" in page
    assert "Generation: validation perplexity" in page
    assert "<script" not in page and "cdn" not in page.lower()  # nothing to fetch: it renders offline
