"""bench-serve's bookkeeping: wrk's summary read right, and the medians over rounds the ratios rest on."""

from __future__ import annotations

import math

from benchmarks import bench_serve as bench

WRK_OUT = """Running 5s test @ http://127.0.0.1:40123/v1/predict
  1 threads and 1 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency   562.31us  210.11us   8.12ms   95.12%
    Req/Sec     1.78k    95.20     1.90k    80.00%
  Latency Distribution
     50%  521.00us
     75%  601.00us
     90%  702.00us
     99%    1.81ms
  8875 requests in 5.00s, 4.11MB read
  Socket errors: connect 0, read 1, write 0, timeout 2
  Non-2xx or 3xx responses: 4
Requests/sec:   1774.93
Transfer/sec:    841.20KB
"""


def test_wrk_summary_gives_rate_percentiles_in_ms_and_every_kind_of_error() -> None:
    load = bench.parse_wrk(WRK_OUT, 1)
    assert (load.concurrency, load.requests, load.requests_per_second) == (1, 8875, 1774.93)
    assert (load.p50_ms, load.p99_ms) == (0.521, 1.81)
    assert load.errors == 4 + 1 + 2  # non-2xx answers and socket errors alike


def test_a_clean_run_has_no_errors_and_a_missing_percentile_is_nan() -> None:
    clean = "\n".join(
        line for line in WRK_OUT.splitlines() if not line.lstrip().startswith(("Socket", "Non-2xx", "99%"))
    )
    load = bench.parse_wrk(clean, 32)
    assert load.errors == 0
    assert math.isnan(load.p99_ms)


def test_each_figure_is_its_median_over_the_rounds_and_errors_add_up() -> None:
    rounds = [
        bench.Load(1, 1000.0, 0.50, 2.0, 5000, 0, 600.0),
        bench.Load(1, 1800.0, 0.90, 1.0, 9000, 1, 400.0),
        bench.Load(1, 1500.0, 0.60, 9.0, 7500, 0, 500.0),
    ]
    found = bench.median_load(rounds)
    assert (found.requests_per_second, found.p50_ms, found.p99_ms, found.cpu_us_per_request) == (1500, 0.6, 2.0, 500)
    assert (found.requests, found.errors) == (21500, 1)  # one failed request in any round is not hidden


def test_cold_start_is_the_median_of_the_starts() -> None:
    server = bench.Server("our API", [0.9, 0.45, 0.47], 110.0, {})
    assert server.cold_start_s == 0.47
