"""The markers that say what a test needs beyond Python (declared in pyproject.toml).

Each implies `slow` (tests/conftest.py adds it), so `pytest` (-m "not slow") leaves such a test
out, `make test` runs it, and `pytest -m docker` (say) picks out the tests of one kind.
"""

from __future__ import annotations

NEEDS_MARKERS = ("dvc", "server", "docker", "act", "install", "browser")
