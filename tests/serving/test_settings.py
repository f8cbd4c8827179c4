"""Serving settings come from NLPOPS_* variables; bad values are one clear error naming the variable."""

from __future__ import annotations

from pathlib import Path

import pytest

from nlpops.errors import UserError
from nlpops.serving.settings import Settings


def test_defaults_without_environment() -> None:
    settings = Settings.from_env({})
    assert settings.variant == "int8"
    assert settings.artifact_dir == Path("models/text-classifier-onnx")


def test_values_are_read_and_converted() -> None:
    environ = {"NLPOPS_ARTIFACT_DIR": "/srv/model", "NLPOPS_VARIANT": "FP32", "NLPOPS_MAX_BATCH": "8",
               "NLPOPS_VERIFY_CHECKSUMS": "off", "NLPOPS_PORT": "9000"}  # fmt: skip
    settings = Settings.from_env(environ)
    assert settings == Settings(
        artifact_dir=Path("/srv/model"), variant="fp32", max_batch=8, verify_checksums=False, port=9000
    )


def test_keyword_overrides_win_over_the_environment() -> None:
    assert Settings.from_env({"NLPOPS_MAX_BATCH": "8"}, max_batch=2).max_batch == 2


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("NLPOPS_MAX_BATCH", "many", "NLPOPS_MAX_BATCH='many' is invalid"),
        ("NLPOPS_MAX_BATCH", "0", "NLPOPS_MAX_BATCH must be a positive integer"),
        ("NLPOPS_VARIANT", "fp16", "NLPOPS_VARIANT must be one of int8, fp32"),
        ("NLPOPS_VERIFY_CHECKSUMS", "maybe", "expected true or false"),
        ("NLPOPS_PORT", "70000", "NLPOPS_PORT must be between"),
        ("NLPOPS_HOST", "", r"NLPOPS_HOST is set but empty: unset it for the default \(127.0.0.1\)"),
        ("NLPOPS_ARTIFACT_DIR", " ", "NLPOPS_ARTIFACT_DIR is set but empty"),
    ],
)
def test_bad_values_name_the_variable(name: str, value: str, message: str) -> None:
    with pytest.raises(UserError, match=message):
        Settings.from_env({name: value})


@pytest.mark.parametrize(
    ("name", "meant"),
    [("NLPOPS_VARIENT", "NLPOPS_VARIANT"), ("NLPOPS_MAX_BATCH_SIZE", "NLPOPS_MAX_BATCH"),
     ("NLPOPS_MAX_TEXT_LENGTH", "NLPOPS_MAX_TEXT_CHARS"), ("NLPOPS_WORKER", "NLPOPS_WORKERS")],
)  # fmt: skip
def test_a_misspelt_setting_is_refused_with_the_one_meant(name: str, meant: str) -> None:
    """Ignored, it would leave the default in force without a word."""
    with pytest.raises(UserError, match=f"{name} is not a setting: did you mean {meant}\\?"):
        Settings.from_env({name: "8"})


def test_other_tools_variables_are_left_alone() -> None:
    environ = {"NLPOPS_INDEX_URL": "http://pypi.local/simple", "NLPOPS_LOCUST_TEXTS": "texts.txt", "NLPOPS_CACHE": "1"}
    assert Settings.from_env(environ) == Settings()
