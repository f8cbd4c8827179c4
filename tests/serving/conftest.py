"""Fixtures for the serving tests."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest


@pytest.fixture
def gc_unfrozen_after() -> Iterator[None]:
    """Preloading tests freeze this process's objects (``preload.take``); thaw them for the tests that follow."""
    yield
    gc.unfreeze()
