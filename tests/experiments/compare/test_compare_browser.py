"""compare.html opened in Debian's chromium with the network off: one request (the file), every chart drawn."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Route, sync_playwright

from mlops_template.experiments.compare import command
from tests.support.browser import CHROMIUM, CHROMIUM_ARGS, DESKTOP, Console, require_chromium
from tests.support.params import small_params_dict, write_params

pytestmark = pytest.mark.browser


def test_the_page_opens_offline_and_draws_its_charts(compare_project: Path) -> None:
    require_chromium()
    raw = small_params_dict()
    raw["gate"]["resamples"] = 200
    write_params(compare_project / "params.yaml", raw)
    argv = ["models/served", "models/stricter", "baseline", "--params", "params.yaml", "--out", "out"]
    assert command.main(argv) == 0
    page_url = (compare_project / "out/compare.html").as_uri()
    requested: list[str] = []

    def record(route: Route) -> None:
        requested.append(route.request.url)
        if route.request.url == page_url:
            route.continue_()
        else:
            route.abort()

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(offline=True, viewport=DESKTOP)
            context.route("**/*", record)
            page = context.new_page()
            console = Console()
            console.watch(page)
            page.goto(page_url)
            charts = page.locator("figure svg")
            assert charts.count() == 3
            for index in range(3):
                box = charts.nth(index).bounding_box()
                assert box is not None
                assert box["width"] > 100
                assert box["height"] > 100
            assert page.locator("polyline").count() == 9  # three models on three charts
            assert page.locator("h2", has_text="Metrics").is_visible()
        finally:
            browser.close()
    assert requested == [page_url]  # nothing else asked for: no script, style, font or image
    assert console.errors == []
