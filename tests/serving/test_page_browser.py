"""The page clicked through as a person would: Debian's chromium (Playwright) against a real uvicorn on 127.0.0.1.

Each flow runs in a fresh browser context (a new tab: no key kept), fails on any console error or
uncaught exception, and saves a screenshot in build/screenshots/ (the run's artifacts; PAGE_SCREENSHOTS_DIR
also gets a copy: `make screenshots` regenerates docs/page-*.png). The axe-core pass runs the copy of
axe.min.js that axe-playwright-python bundles: nothing is fetched.
"""

from __future__ import annotations

import csv
import io
import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Browser, Page, sync_playwright

from tests.support.api_server import API_KEY, AUTH, VALID_RECORD, ApiServer, start_api_server
from tests.support.browser import (
    CHROMIUM,
    CHROMIUM_ARGS,
    DESKTOP,
    PHONE,
    SCREENSHOTS,
    TIMEOUT_MS,
    Console,
    require_chromium,
    save_screenshot,
)

pytestmark = [pytest.mark.browser, pytest.mark.server]

REVIEWER_KEY = "reviewer-only-key-0123456789"
PREDICT_KEY = "predict-only-key-0123456789"
XSS_ID = "<img src=x onerror=alert(1)>"
MAX_BATCH = 2  # small, so a five-row file goes in three chunks
RISKY = {
    "timestamp": "2026-11-02T03:10:00Z",
    "merchant_category": "digital_goods",
    "channel": "online",
    "is_cross_border": 1,
    "account_age_days": 3,
    "txn_count_24h": 30,
    "distance_from_home_km": None,
}
MONITOR_SUMMARY = {
    "status": "ok",
    "reason": "ok: 5 detectors quiet on 6000 rows (3000 labelled)",
    "model_version": "test",
    "window": {
        "start": "2026-11-02T00:00:00+00:00",
        "end": "2026-11-09T00:00:00+00:00",
        "rows": 6000,
        "labelled": 3000,
    },
    "alpha": 0.00056,
    "breaches": [],
    "detectors": [
        {
            "detector": "recall_at_threshold",
            "kind": "performance",
            "status": "ok",
            "reason": "recall 0.58 [0.45, 0.70]",
        },
        {"detector": "flagged_share", "kind": "volume", "status": "ok", "reason": "0.0138 of 6000 rows flagged"},
    ],
}


@pytest.fixture(scope="module")
def api(served_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiServer]:
    require_chromium()
    workdir = tmp_path_factory.mktemp("page-api")
    keys = workdir / "keys"
    keys.write_text(f"{REVIEWER_KEY}:review\n{PREDICT_KEY}:predict\n", encoding="utf-8")
    (workdir / "monitor").mkdir()
    (workdir / "monitor" / "summary.json").write_text(json.dumps(MONITOR_SUMMARY), encoding="utf-8")
    server = start_api_server(
        served_dir,
        workdir,
        MLOPS_API_KEYS_FILE=str(keys),
        MLOPS_MAX_BATCH=str(MAX_BATCH),
        MLOPS_MONITOR_REPORT=str(workdir / "monitor"),
    )
    yield server
    server.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    require_chromium()
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, timeout=TIMEOUT_MS)
        yield launched
        launched.close()


@pytest.fixture(scope="module")
def screenshots() -> Path:
    return SCREENSHOTS


@pytest.fixture
def console() -> Console:
    return Console()


def open_page(browser: Browser, api: ApiServer, console: Console, viewport: dict[str, int] = DESKTOP) -> Page:
    context = browser.new_context(viewport=viewport, accept_downloads=True)  # type: ignore[arg-type]
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    console.watch(page)
    page.goto(f"{api.base_url}/")
    return page


def enter_key(page: Page, key: str = API_KEY) -> None:
    page.get_by_label("API key", exact=True).fill(key)
    page.get_by_role("button", name="Use this key").click()
    page.locator("#app:not([hidden])").wait_for()


def tab(page: Page, name: str) -> None:
    page.get_by_role("tab", name=name).click()
    page.locator(f"#panel-{name.lower()}:not([hidden])").wait_for()


def predict(api: ApiServer, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    with httpx.Client(base_url=api.base_url, headers=AUTH, timeout=10) as client:
        results: list[dict[str, Any]] = []
        for start in range(0, len(records), MAX_BATCH):
            answer = client.post("/v1/predict", json={"records": records[start : start + MAX_BATCH]})
            assert answer.status_code == 200, answer.text
            results += answer.json()["results"]
    return results


def feedback_rows(api: ApiServer) -> dict[str, int]:
    with sqlite3.connect(api.prediction_log) as connection:
        return dict(connection.execute("SELECT request_id, label FROM latest_feedback").fetchall())


# --- the flows ------------------------------------------------------------------------------------


def test_the_key_is_asked_once_and_kept_for_the_tab(
    browser: Browser, api: ApiServer, console: Console, screenshots: Path
) -> None:
    page = open_page(browser, api, console)
    page.get_by_label("API key", exact=True).fill("not-a-key-0123456789")
    page.get_by_role("button", name="Use this key").click()
    page.locator("#key-error:not(:empty)").wait_for()
    assert "refused" in page.locator("#key-error").text_content()  # type: ignore[operator]
    save_screenshot(page, screenshots, "page-key.png")
    enter_key(page)
    assert page.locator("#who").text_content() == "Key scopes: predict, feedback, review, admin"
    page.reload()
    page.locator("#app:not([hidden])").wait_for()  # kept in sessionStorage: not asked again
    assert page.locator("#key-panel").is_hidden()
    page.get_by_role("button", name="Forget key").click()
    page.locator("#key-panel:not([hidden])").wait_for()
    console.assert_clean(403)


def test_a_bad_field_shows_the_apis_message_beside_it_then_a_good_one_scores(
    browser: Browser, api: ApiServer, console: Console, screenshots: Path
) -> None:
    page = open_page(browser, api, console)
    enter_key(page)
    amount = page.get_by_label("amount", exact=True)
    amount.fill("-5")
    page.get_by_role("button", name="Score", exact=True).click()
    error = page.locator("#field-amount-error")
    error.locator("xpath=self::*[normalize-space()]").wait_for()
    assert error.text_content() == "Input should be greater than or equal to 0.01 (rule: greater_than_equal)"
    assert amount.get_attribute("aria-invalid") == "true"
    assert page.evaluate("document.activeElement.id") == "field-amount"  # focus goes to the bad field
    save_screenshot(page, screenshots, "page-score-error.png", full_page=False)

    amount.fill("912.5")
    page.get_by_role("button", name="Score", exact=True).click()
    page.locator("#score-result:not([hidden])").wait_for()
    assert error.text_content() == ""
    figures = page.locator("#score-figures").inner_text()
    for name in ("Label", "Probability", "Confidence", "Threshold", "Request id"):
        assert name in figures
    bars = page.locator("#score-chart svg rect")
    assert bars.count() >= 1
    request_id = page.locator("#score-figures dd").nth(4).text_content()
    with sqlite3.connect(api.prediction_log) as connection:
        assert connection.execute("SELECT 1 FROM predictions WHERE request_id = ?", (request_id,)).fetchone()
    save_screenshot(page, screenshots, "page-score.png")
    console.assert_clean(422)


def test_a_csv_is_scored_in_chunks_with_each_rows_result_or_errors_and_downloaded(
    browser: Browser, api: ApiServer, console: Console, screenshots: Path, tmp_path: Path
) -> None:
    rows = [{**VALID_RECORD, "transaction_id": f"csv-{n}", "amount": 10.0 + n * 250} for n in range(5)]
    rows[2]["amount"] = -1  # refused: the row names the field and the rule
    upload = tmp_path / "batch.csv"
    with upload.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=[*VALID_RECORD, "is_fraud"])
        writer.writeheader()
        writer.writerows({**row, "device_type": row["device_type"] or "", "is_fraud": 0} for row in rows)
    page = open_page(browser, api, console)
    enter_key(page)
    tab(page, "Batch")
    page.get_by_label("CSV file").set_input_files(str(upload))
    page.get_by_role("button", name="Score the file").click()
    page.get_by_text("5 rows: 4 scored, 1 refused.").wait_for()
    assert page.locator("#batch-progress").evaluate("bar => [bar.value, bar.max]") == [5, 5]
    refused = page.locator("#batch-table tbody tr").nth(2).inner_text()
    assert "amount: Input should be greater than or equal to 0.01 (rule: greater_than_equal)" in refused
    save_screenshot(page, screenshots, "page-batch.png")

    with page.expect_download() as download:
        page.get_by_role("link", name="Download the scored file").click()
    scored = list(csv.DictReader(io.StringIO(Path(download.value.path()).read_text(encoding="utf-8"))))
    assert [row["transaction_id"] for row in scored] == [f"csv-{n}" for n in range(5)]
    for row in scored[:2] + scored[3:]:
        assert row["label"] in ("fraud", "legit")
        assert 0 <= float(row["probability"]) <= 1
        assert row["error"] == ""
    assert scored[2]["label"] == ""
    assert "greater_than_equal" in scored[2]["error"]
    console.assert_clean(422)


def test_three_reviews_land_in_the_prediction_log_and_the_summary(
    browser: Browser, api: ApiServer, console: Console, screenshots: Path
) -> None:
    records = [{**VALID_RECORD, "transaction_id": f"rev-{n}", "amount": 5.0 + 700 * n} for n in range(12)]
    for record in records[::4]:  # card testing: likely flagged, so the queue shows both kinds
        record.update(RISKY)
    predict(api, records)
    page = open_page(browser, api, console)
    enter_key(page)
    tab(page, "Review")
    rows = page.locator("#review-queue tbody tr")
    rows.first.wait_for()
    before = feedback_rows(api)
    marked: dict[str, int] = {}
    for n, name in enumerate(("fraud", "legit", "fraud")):
        row = rows.nth(n)
        request_id = row.get_attribute("data-request-id")
        assert request_id is not None
        row.get_by_role("button", name=f" as {name}").click()
        row.get_by_text(f"reviewed: {name}").wait_for()
        marked[request_id] = 1 if name == "fraud" else 0
    page.locator("#review-summary").get_by_text(f"{len(before) + 3} (").wait_for()
    after = feedback_rows(api)
    assert {request_id: after[request_id] for request_id in marked} == marked
    summary = page.locator("#review-summary").inner_text()
    assert "Precision (95% interval)" in summary
    assert "Recall (95% interval)" in summary
    save_screenshot(page, screenshots, "page-review.png")
    console.assert_clean()


def test_the_model_tab_shows_the_card_version_live_figures_and_the_monitors_report(
    browser: Browser, api: ApiServer, console: Console, screenshots: Path
) -> None:
    with httpx.Client(base_url=api.base_url, headers=AUTH, timeout=10) as client:
        version = client.get("/v1/model").json()["version"]
    page = open_page(browser, api, console)
    enter_key(page)
    tab(page, "Model")
    page.locator("#model-card h4").first.wait_for()
    figures = page.locator("#model-figures").inner_text()
    assert version in figures
    assert "Predictions" in page.locator("#model-live").inner_text()
    assert "ok: 5 detectors quiet" in page.locator("#model-monitor").inner_text()
    card = page.locator("#model-card").inner_text()
    assert "Intended use" in card
    assert "average_precision" in card
    save_screenshot(page, screenshots, "page-model.png")
    console.assert_clean()


def test_an_id_holding_html_is_shown_as_text_never_run(browser: Browser, api: ApiServer, console: Console) -> None:
    predict(api, [{**VALID_RECORD, "transaction_id": XSS_ID}])
    page = open_page(browser, api, console)
    enter_key(page)
    tab(page, "Review")
    shown = page.locator("#review-queue td.id", has_text=XSS_ID)
    shown.first.wait_for()
    assert shown.first.text_content() == XSS_ID
    assert page.locator("#review-queue img").count() == 0
    tab(page, "Score")
    page.get_by_label("transaction_id").fill(XSS_ID)
    page.get_by_role("button", name="Score", exact=True).click()
    page.locator("#score-result:not([hidden])").wait_for()
    assert page.locator("img").count() == 0
    assert page.evaluate("typeof window.alert") == "function"
    console.assert_clean()  # no dialog opened: the handler never ran


@pytest.mark.parametrize(
    ("key", "tabs"),
    [
        (REVIEWER_KEY, ["Review"]),
        (PREDICT_KEY, ["Score", "Batch", "Model"]),
        (API_KEY, ["Score", "Batch", "Review", "Model"]),
    ],
)
def test_the_page_shows_only_the_tabs_the_key_may_use(
    browser: Browser, api: ApiServer, console: Console, key: str, tabs: list[str]
) -> None:
    page = open_page(browser, api, console)
    enter_key(page, key)
    page.get_by_role("tab").first.wait_for()
    assert page.get_by_role("tab").all_inner_texts() == tabs
    assert page.get_by_role("tab", selected=True).inner_text() == tabs[0]
    console.assert_clean()


def test_everything_works_from_the_keyboard(browser: Browser, api: ApiServer, console: Console) -> None:
    page = open_page(browser, api, console)
    assert page.evaluate("document.activeElement.id") == "key-input"  # the key field has the focus
    page.keyboard.type(API_KEY)
    page.keyboard.press("Enter")
    page.locator("#app:not([hidden])").wait_for()
    page.keyboard.press("Tab")  # from the form's place to the Forget button, then the selected tab
    while page.evaluate("document.activeElement.getAttribute('role')") != "tab":
        page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Score"
    page.keyboard.press("ArrowRight")
    assert page.get_by_role("tab", selected=True).inner_text() == "Batch"
    page.keyboard.press("End")
    assert page.get_by_role("tab", selected=True).inner_text() == "Model"
    page.keyboard.press("Home")
    page.keyboard.press("Tab")  # into the Score panel, then through the form to its button
    for _ in range(40):
        if (
            page.evaluate("document.activeElement.textContent") == "Score"
            and page.evaluate("document.activeElement.type") == "submit"
        ):
            break
        page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    page.locator("#score-result:not([hidden])").wait_for()
    console.assert_clean()


def test_it_reads_at_phone_width_without_sideways_scrolling(
    browser: Browser, api: ApiServer, console: Console, screenshots: Path
) -> None:
    page = open_page(browser, api, console, PHONE)
    enter_key(page)
    page.get_by_role("button", name="Score", exact=True).click()
    page.locator("#score-result:not([hidden])").wait_for()
    for name in ("Score", "Batch", "Review", "Model"):
        tab(page, name)
        page.wait_for_load_state("networkidle")
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= PHONE["width"], f"{name}: the page is {width} px wide at {PHONE['width']}"
    tab(page, "Score")
    save_screenshot(page, screenshots, "page-phone.png")
    console.assert_clean()


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_axe_finds_nothing_serious_or_critical_on_any_tab(
    browser: Browser, api: ApiServer, console: Console, viewport: dict[str, int]
) -> None:
    predict(api, [{**VALID_RECORD, "transaction_id": "axe-1"}])
    page = open_page(browser, api, console, viewport)
    axe = Axe()
    found = [(violation["id"], violation["impact"]) for violation in axe.run(page).response["violations"]]
    enter_key(page)
    page.get_by_role("button", name="Score", exact=True).click()
    page.locator("#score-result:not([hidden])").wait_for()
    for name in ("Score", "Batch", "Review", "Model"):
        tab(page, name)
        page.wait_for_load_state("networkidle")
        found += [(f"{name}: {v['id']}", v["impact"]) for v in axe.run(page).response["violations"]]
    assert [f for f in found if f[1] in ("serious", "critical")] == []
    console.assert_clean()
