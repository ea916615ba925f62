"""bench-serve's bookkeeping: wrk's summary read right, the medians over rounds the ratios rest on, the
table and checks with a server missing, and a server that fails reported by name with its log's end."""

from __future__ import annotations

import argparse
import math
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks import bench_serve as bench
from benchmarks.workspace import free_port
from mlops_template.tools.workspace import stop_process_group
from tests.support.deploy_checks import require_tool

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
# wrk against `mlflow models serve` at concurrency 32: seconds, printed with a trailing space
SLOW_OUT = """  Latency Distribution
     50%    1.61s 
     75%    1.70s 
     90%    1.77s 
     99%    1.02m 
  93 requests in 5.01s, 13.17KB read
Requests/sec:     18.57
"""  # noqa: W291
EXITS_AT_ONCE = [sys.executable, "-c", "import sys; print('cannot bind: address in use'); sys.exit(3)"]
# answers every POST with `status` (argv[2]) on 127.0.0.1:argv[1]
ANSWERS = """
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self):
        self.rfile.read(int(self.headers["Content-Length"]))
        body = b'{"detail": "no such route"}'
        self.send_response(int(sys.argv[2]))
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass

print("listening", flush=True)
ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
"""


def _target(name: str, command: list[str], tmp_path: Path) -> bench.Target:
    url = f"http://127.0.0.1:{bench.PORT}/v1/predict"
    return bench.Target(name, command, {}, url, b'{"record": {}}', {}, tmp_path / f"{name}.log")


def _answering(status: int, name: str, tmp_path: Path) -> bench.Target:
    script = tmp_path / "answers.py"
    script.write_text(ANSWERS, encoding="utf-8")
    return _target(name, [sys.executable, str(script), bench.PORT, str(status)], tmp_path)


def _args(**overrides: float) -> argparse.Namespace:
    return argparse.Namespace(**{"seconds": 1, "start_limit": 10.0, "rounds": 1, "starts": 1, **overrides})


def _server(name: str, rps: tuple[float, float], p50: float = 1.0) -> bench.Server:
    loads = {c: [bench.Load(c, r, p50, 2 * p50, 1000, 0, 300.0)] for c, r in zip((1, 32), rps, strict=True)}
    return bench.Server(name, [0.4], 100.0, loads)


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


def test_seconds_and_minutes_with_wrks_trailing_space_are_read_in_ms() -> None:
    load = bench.parse_wrk(SLOW_OUT, 32)
    assert (load.p50_ms, load.p99_ms, load.requests) == (1610.0, 61200.0, 93)


@pytest.mark.parametrize("out", ["", "unable to connect to 127.0.0.1:9 Connection refused\n", SLOW_OUT[:60]])
def test_output_without_a_summary_is_a_value_error_not_an_attribute_error(out: str) -> None:
    with pytest.raises(ValueError, match="concurrency 32 printed no summary"):
        bench.parse_wrk(out, 32)


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


def test_each_start_gets_its_own_port_in_command_and_url(tmp_path: Path) -> None:
    target = _target("peer", ["serve", "--port", bench.PORT], tmp_path)
    moved = target.on(4321)
    assert (moved.command, moved.url) == (["serve", "--port", "4321"], "http://127.0.0.1:4321/v1/predict")
    assert target.command == ["serve", "--port", bench.PORT]  # the template is left as it was


def test_a_logs_last_lines_keep_a_progress_bars_last_state_only(tmp_path: Path) -> None:
    log = tmp_path / "server.log"
    log.write_bytes(b"one\n\nDownloading 10%\rDownloading 100%\n" + b"".join(b"line %d\n" % n for n in range(20)))
    assert bench.last_lines(log, 3) == "line 17\nline 18\nline 19"
    assert bench.last_lines(log, 23).splitlines()[:2] == ["one", "Downloading 100%"]
    assert bench.last_lines(tmp_path / "missing.log") == ""


def test_the_table_gives_our_requests_per_second_over_each_servers_and_names_each_failure() -> None:
    results = [
        _server(bench.EMPTY, (5000, 8000)),
        _server(bench.OURS, (2500, 6000)),
        _server(bench.BENTOML, (625, 500)),
    ]
    failure = bench.PeerError(bench.MLFLOW, "exited with status 1 before answering", "Traceback\nOSError: in use")
    lines = bench.table(results, [failure])
    assert lines[0].split()[-1] == "ours/this"
    rows = {(line[:22].strip(), int(line[22:27])): line.split()[-1] for line in lines[1:7]}
    assert rows == {
        (bench.EMPTY, 1): "0.50x",
        (bench.EMPTY, 32): "0.75x",
        (bench.OURS, 1): "1.00x",
        (bench.OURS, 32): "1.00x",
        (bench.BENTOML, 1): "4.00x",
        (bench.BENTOML, 32): "12.00x",
    }
    assert lines[7:] == [
        "FAILED mlflow models serve: exited with status 1 before answering",
        "         | Traceback",
        "         | OSError: in use",
    ]


def test_without_our_api_the_ratios_read_n_a_and_its_checks_miss() -> None:
    results = [_server(bench.EMPTY, (5000, 8000)), _server(bench.MLFLOW, (20, 0))]
    assert {line.split()[-1] for line in bench.table(results, [])[1:]} == {"n/a"}
    found = {name: (value, ok) for name, value, ok in bench.checks(results, 0.05)}
    assert found["throughput vs mlflow at concurrency 32"] == ("n/a", False)
    assert found[bench.OURS] == ("n/a", False)


def test_the_checks_hold_each_ratio_to_its_target() -> None:
    results = [
        _server(bench.EMPTY, (5000, 8000), p50=0.2),
        _server(bench.OURS, (2500, 6000), p50=0.3),
        _server(bench.BENTOML, (625, 500)),
        _server(bench.MLFLOW, (40, 20)),
    ]
    found = {name: (value, ok) for name, value, ok in bench.checks(results, 0.05)}
    assert found["throughput vs mlflow at concurrency 32"] == ("300.0x", True)
    assert found["(throughput vs BentoML at concurrency 32)"] == ("12.0x", None)
    assert found["(p50 vs empty endpoint at concurrency 1)"] == ("1.50x", None)  # shown, no target
    assert found["10,000 rows, vectorised, in process"] == ("50.0 ms", True)


def test_a_server_that_exits_at_once_is_reported_by_name_with_its_log(tmp_path: Path) -> None:
    failures: list[bench.PeerError] = []
    found = bench.measure([_target("bentoml serve", EXITS_AT_ONCE, tmp_path)], _args(), 1, failures)
    assert found == []
    (failure,) = failures
    assert (failure.name, failure.what) == ("bentoml serve", "exited with status 3 before answering")
    assert "cannot bind: address in use" in failure.log
    assert failure.lines()[0] == "bentoml serve: exited with status 3 before answering"


@pytest.mark.server
def test_a_server_that_answers_only_errors_is_reported_with_its_last_answer(tmp_path: Path) -> None:
    failures: list[bench.PeerError] = []
    target = _answering(404, "mlflow models serve", tmp_path)
    assert bench.measure([target], _args(start_limit=5.0), 1, failures) == []
    (failure,) = failures
    assert failure.what.startswith("did not answer 200 within 5 s (its last answer: HTTP 404")
    assert "no such route" in failure.what
    assert "listening" in failure.log


@pytest.mark.server
def test_when_wrk_cannot_connect_the_server_is_reported_not_a_traceback(tmp_path: Path) -> None:
    require_tool("wrk", "run `sudo scripts/system-deps.sh` (Debian's wrk package)")
    idle = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"], start_new_session=True)
    try:
        nobody = _target("mlflow models serve", [], tmp_path).on(free_port())
        with pytest.raises(bench.PeerError, match=r"wrk at concurrency 1 exited with status 1: .*connect"):
            bench.wrk(nobody, idle, concurrency=1, seconds=1, work=tmp_path)
    finally:
        stop_process_group(idle)


@pytest.mark.server
def test_one_failing_server_leaves_the_others_figures_and_the_table(tmp_path: Path) -> None:
    require_tool("wrk", "run `sudo scripts/system-deps.sh` (Debian's wrk package)")
    failures: list[bench.PeerError] = []
    targets = [_answering(200, bench.OURS, tmp_path), _target(bench.BENTOML, EXITS_AT_ONCE, tmp_path)]
    (server,) = bench.measure(targets, _args(starts=2), 1, failures)
    assert server.name == bench.OURS
    assert len(server.cold_starts_s) == 2
    assert [(x.concurrency, x.errors) for x in server.loads] == [(1, 0), (32, 0)]
    assert all(x.requests > 0 and x.cpu_us_per_request >= 0 for x in server.loads)  # CPU: 10 ms ticks
    assert [f.name for f in failures] == [bench.BENTOML]
    lines = bench.table([server], failures)
    assert len(lines) == 1 + 2 + 3  # header, two loads, the failure and its log: the command, what it said
    assert lines[3].startswith(f"FAILED {bench.BENTOML}: exited with status 3")
    assert lines[-1].endswith("| cannot bind: address in use")
