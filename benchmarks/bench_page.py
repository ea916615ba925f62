"""Benchmark the page's first screen: how long until a person can use it, against the same server's emptiest page.

    make bench-page                         # after `make run` (serves models/served)
    python benchmarks/bench_page.py --rounds 20 --model-dir models/served

One `mlops-template serve` on 127.0.0.1 (one worker, a key with every scope) and Debian's chromium
driven by Playwright (the system browser; nothing is downloaded). Each round opens a fresh tab
(no cache, no key kept) three times, in turn:

- baseline: GET /health, the smallest answer the same server gives, until the browser has loaded it;
- key screen: GET /, until the script has run and the key field has the focus (a new tab's first screen);
- score screen: GET / with the key already in the tab's sessionStorage, until the score form is built
  from the contract (the page's script, /v1/me and /v1/model: the first screen of a returning tab).

Each figure is the median over the rounds (p90 beside it), with its ratio to the baseline; the issue's
target is a usable first screen in under 1 s on 127.0.0.1. Wall-clock time from the navigation's start,
as a person waits; Playwright's own round trips are in the baseline too. Results also go to
benchmarks/results/page-<time>.json (git-ignored).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script from anywhere
from benchmarks.workspace import REPO, VENV_BIN, free_port, project_env
from mlops_template.tools.workspace import stop_process_group

CHROMIUM = Path(os.environ.get("CHROMIUM_PATH") or "/usr/bin/chromium")  # as the browser tests
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--headless",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
KEY = "bench-page-key-0123456789abcdef"
TARGET_MS = 1000.0
STORAGE_KEY = "mlops-template-api-key"  # the page's sessionStorage entry (serving/page/page.js)


@dataclass(frozen=True)
class Figure:
    name: str
    samples_ms: list[float]

    @property
    def median(self) -> float:
        return statistics.median(self.samples_ms)

    @property
    def p90(self) -> float:
        ordered = sorted(self.samples_ms)
        return ordered[min(len(ordered) - 1, round(0.9 * (len(ordered) - 1)))]


def table(baseline: Figure, figures: list[Figure], target_ms: float = TARGET_MS) -> list[str]:
    """The printed table: each figure's median and p90, its ratio to the baseline, and the target."""
    lines = [f"{'screen':<44} {'median ms':>10} {'p90 ms':>8} {'x baseline':>11}  target < {target_ms:.0f} ms"]
    for figure in [baseline, *figures]:
        ratio = figure.median / baseline.median if baseline.median > 0 else float("nan")
        verdict = "" if figure is baseline else ("met" if figure.median < target_ms else "MISSED")
        lines.append(f"{figure.name:<44} {figure.median:>10.1f} {figure.p90:>8.1f} {ratio:>11.2f}  {verdict}")
    return lines


def start_server(model_dir: Path, workdir: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    env = project_env(
        MLOPS_API_KEYS=f"{KEY}:predict+feedback+review+admin", MLOPS_PREDICTION_LOG=str(workdir / "log.sqlite3")
    )
    command = [str(VENV_BIN / "mlops-template"), "serve", "--model-dir", str(model_dir)]
    command += ["--host", "127.0.0.1", "--port", str(port), "--workers", "1"]
    with (workdir / "server.log").open("wb") as log:
        process = subprocess.Popen(command, env=env, stdout=log, stderr=log, cwd=workdir, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            tail = (workdir / "server.log").read_text(errors="replace")[-2000:]
            raise SystemExit(f"bench-page: the API exited ({process.returncode}):\n{tail}")
        try:
            with urllib.request.urlopen(f"{base}/ready", timeout=1) as answer:  # noqa: S310 (our own server)
                if answer.status == 200:
                    return process, base
        except OSError:
            time.sleep(0.1)
    stop_process_group(process)
    raise SystemExit("bench-page: the API was not ready within 60 s")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--model-dir", type=Path, default=REPO / "models" / "served")
    args = parser.parse_args(argv)
    if not (args.model_dir / "served.json").is_file():
        print(f"bench-page: no model in {args.model_dir} (run `make run` first, or pass --model-dir)")
        return 2
    if not CHROMIUM.is_file():
        print(f"bench-page: {CHROMIUM} is not installed (`make system-deps` as root installs Debian's chromium)")
        return 2
    from playwright.sync_api import Page, sync_playwright  # noqa: PLC0415 (a dev dependency, needed only here)

    samples: dict[str, list[float]] = {"baseline": [], "key": [], "score": []}
    with tempfile.TemporaryDirectory(prefix="bench-page-") as work:
        process, base = start_server(args.model_dir.resolve(), Path(work))
        try:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)

                def timed(path: str, ready: Callable[[Page], None], *, with_key: bool = False) -> float:
                    context = browser.new_context()
                    if with_key:
                        context.add_init_script(f"sessionStorage.setItem({STORAGE_KEY!r}, {KEY!r})")
                    page = context.new_page()
                    started = time.perf_counter()
                    page.goto(base + path, wait_until="commit")
                    ready(page)
                    elapsed = (time.perf_counter() - started) * 1000.0
                    context.close()
                    return elapsed

                for _ in range(args.rounds):
                    samples["baseline"].append(timed("/health", lambda page: page.wait_for_load_state("load")))
                    samples["key"].append(
                        timed("/", lambda page: page.wait_for_function("document.activeElement?.id === 'key-input'"))
                    )
                    samples["score"].append(
                        timed("/", lambda page: page.locator("#score-fields input").first.wait_for(), with_key=True)
                    )
                browser.close()
        finally:
            stop_process_group(process)
    baseline = Figure("baseline: GET /health loaded", samples["baseline"])
    figures = [
        Figure("page: key screen usable (new tab)", samples["key"]),
        Figure("page: score form usable (key kept)", samples["score"]),
    ]
    page_bytes = sum(
        (REPO / "src/mlops_template/serving/page" / name).stat().st_size
        for name in ("index.html", "page.js", "page.css")
    )
    print(
        f"The page's first screen on 127.0.0.1, {args.rounds} rounds (a fresh tab each); its files: {page_bytes} bytes"
    )
    print("\n".join(table(baseline, figures)))
    results = REPO / "benchmarks" / "results"
    results.mkdir(parents=True, exist_ok=True)
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    out = {
        figure.name: {"median_ms": figure.median, "p90_ms": figure.p90, "samples_ms": figure.samples_ms}
        for figure in [baseline, *figures]
    }
    (results / f"page-{stamp}.json").write_text(
        json.dumps({"page_bytes": page_bytes, **out}, indent=2), encoding="utf-8"
    )
    return 0 if all(figure.median < TARGET_MS for figure in figures) else 1


if __name__ == "__main__":
    raise SystemExit(main())
