"""Fixtures of the workflow tests."""

from __future__ import annotations

import sys
from collections.abc import Callable

import pytest


@pytest.fixture
def say(capsys: pytest.CaptureFixture[str], record_property: Callable[[str, object], None]) -> Callable[[str], None]:
    """Write to the test output as it happens, past pytest's capture (act durations, the recorded comment)."""

    def write(text: str) -> None:
        record_property("output", text)
        with capsys.disabled():
            sys.stdout.write(f"\n{text}\n")

    return write
