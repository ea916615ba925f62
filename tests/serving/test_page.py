"""The page's files as the API serves them (in process), /v1/me and /v1/monitor; the browser flows are in
test_page_browser.py."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from mlops_template.serving.app import create_app
from mlops_template.serving.auth import PAGE_PATHS, PUBLIC_PATHS, SCOPES
from mlops_template.serving.routes.page import CONTENT_SECURITY_POLICY, PAGE_FILES, page_file
from mlops_template.serving.routes.page import router as page_router
from tests.support import browser
from tests.support.api_server import API_KEY_SPEC, AUTH
from tests.support.serving_settings import MakeSettings

PAGE_DIR = Path(__file__).parents[2] / "src" / "mlops_template" / "serving" / "page"
MAX_PAGE_BYTES = 150_000
REVIEWER = "reviewer-only-0123456789"


@pytest.mark.parametrize("path", sorted(PAGE_PATHS))
def test_the_page_is_public_and_served_under_a_strict_policy(client: TestClient, path: str) -> None:
    answer = client.get(path)  # no key: a browser opening the page cannot send one
    assert answer.status_code == 200
    policy = answer.headers["content-security-policy"]
    assert policy == CONTENT_SECURITY_POLICY
    assert "script-src 'self'" in policy
    assert "'unsafe-inline'" not in policy
    assert "'unsafe-eval'" not in policy
    assert answer.headers["x-content-type-options"] == "nosniff"
    assert path in PUBLIC_PATHS


def test_slash_and_ui_are_the_same_page(client: TestClient) -> None:
    assert client.get("/").content == client.get("/ui").content == (PAGE_DIR / "index.html").read_bytes()


def test_the_page_routes_serve_exactly_the_packaged_files() -> None:
    served = {route.path for route in page_router.routes}  # type: ignore[attr-defined]
    assert served == PAGE_PATHS
    assert {path.name for path in PAGE_DIR.iterdir()} == set(PAGE_FILES)
    for name in PAGE_FILES:
        assert page_file(name) == (PAGE_DIR / name).read_bytes()


def test_the_pages_files_total_under_150_kb() -> None:
    total = sum((PAGE_DIR / name).stat().st_size for name in PAGE_FILES)
    assert total < MAX_PAGE_BYTES, f"the page's files hold {total} bytes (rule: under {MAX_PAGE_BYTES})"


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.found: list[tuple[str, dict[str, str | None]]] = []
        self.inline: list[str] = []
        self._open: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.found.append((tag, dict(attrs)))
        self._open = tag

    def handle_data(self, data: str) -> None:
        if self._open in ("script", "style") and data.strip():
            self.inline.append(self._open)


def test_the_html_has_no_inline_script_style_or_handler_and_loads_nothing_from_elsewhere() -> None:
    parser = _Tags()
    parser.feed((PAGE_DIR / "index.html").read_text(encoding="utf-8"))
    assert parser.inline == []
    for tag, attrs in parser.found:
        assert "style" not in attrs, tag
        assert not [name for name in attrs if name.startswith("on")], tag
    sources = [attrs.get("src") or attrs.get("href") for _, attrs in parser.found if {"src", "href"} & set(attrs)]
    assert sources, "the page loads its script and stylesheet"
    assert all(not re.match(r"^(https?:)?//", source or "") for source in sources), sources


def test_the_script_never_writes_html_from_strings() -> None:
    script = (PAGE_DIR / "page.js").read_text(encoding="utf-8")
    for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function"):
        assert sink not in script, sink
    assert not re.search(r"https?://(?!www\.w3\.org/2000/svg)", script)  # no URL but the SVG namespace


def test_without_chromium_the_browser_tests_skip_locally_and_fail_under_ci(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(browser, "CHROMIUM", tmp_path / "no-chromium")
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="make system-deps"):
        browser.require_chromium()
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="is not installed"):
        browser.require_chromium()


# --- /v1/me ---------------------------------------------------------------------------------------


@pytest.fixture
def keyed(make_settings: MakeSettings) -> Iterator[TestClient]:
    keys = SecretStr(f"{API_KEY_SPEC},{REVIEWER}:review")
    with TestClient(create_app(make_settings(api_keys=keys)), raise_server_exceptions=False) as client:
        yield client


def test_me_names_the_presented_keys_scopes_and_the_limits(keyed: TestClient) -> None:
    everything = keyed.get("/v1/me", headers=AUTH).json()
    assert everything == {"scopes": list(SCOPES), "authenticated": True, "max_batch": 1000, "max_body_bytes": 1 << 20}
    only = keyed.get("/v1/me", headers={"Authorization": f"Bearer {REVIEWER}"}).json()
    assert only["scopes"] == ["review"]
    assert REVIEWER not in keyed.get("/v1/me", headers={"X-API-Key": REVIEWER}).text


def test_me_needs_a_valid_key(keyed: TestClient) -> None:
    assert keyed.get("/v1/me").status_code == 401
    assert keyed.get("/v1/me", headers={"X-API-Key": "not-a-key-0123456789"}).status_code == 403


def test_without_auth_me_says_so_and_grants_every_scope(make_settings: MakeSettings) -> None:
    settings = make_settings(api_keys=None, auth_disabled=True)
    with TestClient(create_app(settings)) as client:
        assert client.get("/v1/me").json()["scopes"] == list(SCOPES)
        assert client.get("/v1/me").json()["authenticated"] is False


# --- /v1/monitor ----------------------------------------------------------------------------------

SUMMARY = {
    "status": "breach",
    "reason": "breach: performance: recall fell",
    "model_version": "abc",
    "window": {"start": "2026-11-01", "end": "2026-11-08", "rows": 10, "labelled": 5},
    "breaches": [{"kind": "performance"}],
    "detectors": [
        {"detector": "recall_at_threshold", "kind": "performance", "status": "breach", "reason": "r", "x": 1}
    ],
}


def test_the_monitor_report_is_absent_until_configured(client: TestClient) -> None:
    found = client.get("/v1/monitor", headers=AUTH).json()
    assert found["present"] is False
    assert "MLOPS_MONITOR_REPORT" in found["detail"]


@pytest.mark.parametrize("point_at", ["file", "directory"])
def test_the_monitor_report_is_read_from_the_file_or_its_directory(
    make_settings: MakeSettings, tmp_path: Path, point_at: str
) -> None:
    (tmp_path / "monitor").mkdir()
    (tmp_path / "monitor" / "summary.json").write_text(json.dumps(SUMMARY), encoding="utf-8")
    setting = tmp_path / "monitor" if point_at == "directory" else tmp_path / "monitor" / "summary.json"
    with TestClient(create_app(make_settings(monitor_report=setting))) as client:
        found = client.get("/v1/monitor", headers=AUTH).json()
    assert found["present"] is True
    assert found["report"]["status"] == "breach"
    assert found["report"]["detectors"] == [
        {"detector": "recall_at_threshold", "kind": "performance", "status": "breach", "reason": "r"}
    ]


@pytest.mark.parametrize(
    ("content", "expected"),
    [(None, "no monitor report yet"), ("{not json", "not readable JSON"), ("[1, 2]", "not a monitor summary")],
)
def test_a_missing_or_broken_report_says_why(
    make_settings: MakeSettings, tmp_path: Path, content: str | None, expected: str
) -> None:
    path = tmp_path / "summary.json"
    if content is not None:
        path.write_text(content, encoding="utf-8")
    with TestClient(create_app(make_settings(monitor_report=path))) as client:
        found = client.get("/v1/monitor", headers=AUTH).json()
    assert found["present"] is False
    assert expected in found["detail"]
