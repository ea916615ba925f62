"""Debian's chromium driven by Playwright (sync API), for the page's browser tests; no browser is downloaded.

`require_chromium` skips locally, and fails under CI=true, when the system chromium is missing
(`make system-deps` as root installs it). `Console` collects what the page says on its console and
its uncaught errors; a test allows only the browser's own network line for a refusal it provoked on
purpose (Chromium logs every 4xx answer to `fetch` as "Failed to load resource").
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from playwright.sync_api import ConsoleMessage, Error, Page

from tests.support.workspace import REPO

# Debian's chromium by default; CHROMIUM_PATH names another Chromium or Chrome (CI's Ubuntu runner has Chrome).
CHROMIUM = Path(os.environ.get("CHROMIUM_PATH") or "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--headless",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
TIMEOUT_MS = 15_000  # any one wait of a flow
DESKTOP = {"width": 1100, "height": 900}
PHONE = {"width": 375, "height": 740}
# The flows' screenshots: the test run's artifacts (git-ignored; CI can upload the folder), and a copy
# wherever PAGE_SCREENSHOTS_DIR says (`make screenshots`: docs/).
SCREENSHOTS = REPO / "build" / "screenshots"
SCREENSHOTS_ENV = "PAGE_SCREENSHOTS_DIR"
_REFUSAL = re.compile(r"^Failed to load resource: the server responded with a status of (\d{3})\b")


def require_chromium() -> None:
    """Skip (locally) or fail (CI=true) when the system chromium is not installed."""
    if CHROMIUM.is_file() and os.access(CHROMIUM, os.X_OK):
        return
    reason = f"browser test: {CHROMIUM} is not installed (`make system-deps` as root installs Debian's chromium)"
    if os.environ.get("CI") == "true":
        pytest.fail(reason, pytrace=False)
    pytest.skip(reason)


@dataclass
class Console:
    """Console errors and uncaught exceptions of one page; `refused` holds the statuses of logged 4xx/5xx."""

    errors: list[str] = field(default_factory=list)
    refused: list[int] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)

    def watch(self, page: Page) -> None:
        page.on("console", self._message)
        page.on("pageerror", lambda error: self.errors.append(f"uncaught: {error}"))
        page.on("dialog", self._dialog)

    def _message(self, message: ConsoleMessage) -> None:
        if message.type not in ("error", "warning"):
            return
        found = _REFUSAL.match(message.text)
        if found:
            self.refused.append(int(found.group(1)))
        else:
            self.errors.append(f"{message.type}: {message.text}")

    def _dialog(self, dialog: object) -> None:
        self.dialogs.append(str(getattr(dialog, "message", "")))
        with contextlib.suppress(Error):  # the page may be closing
            dialog.dismiss()  # type: ignore[attr-defined]

    def assert_clean(self, *expected_refusals: int) -> None:
        """No console error, no uncaught exception, no dialog; refusals only those the test provoked."""
        assert self.errors == [], self.errors
        assert self.dialogs == [], f"a dialog opened: {self.dialogs}"
        assert set(self.refused) <= set(expected_refusals), f"unexpected refusals {self.refused}"


def save_screenshot(page: Page, directory: Path, name: str, *, full_page: bool = True) -> Path:
    """A PNG of the page in `directory` (the test's artifacts) and, when asked, a copy for docs/."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    page.screenshot(path=str(path), full_page=full_page, animations="disabled", caret="hide")
    if wanted := os.environ.get(SCREENSHOTS_ENV):
        Path(wanted).mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, Path(wanted) / name)
    return path
