"""The prediction log across replicas on a real S3 API (moto's server on 127.0.0.1): ship, kill, read back."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow.parquet as pq
import pytest

from mlops_template.monitoring.logsource import read_window
from mlops_template.monitoring.segments import LogSourceError
from mlops_template.monitoring.segments.layout import KINDS, parse_key
from tests.support import moto_s3
from tests.support.moto_s3 import CREDENTIALS, moto_server
from tests.support.prediction_logs import Writer, fill, prediction_rows
from tests.support.workspace import VENV_BIN, offline_prefix

pytestmark = pytest.mark.server

BUCKET = "prediction-logs"
T0 = datetime(2026, 11, 16, tzinfo=UTC)
DAY = timedelta(days=1)


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    """A moto S3 server on 127.0.0.1 with the bucket, started and stopped here."""
    with moto_server(BUCKET) as endpoint:
        yield endpoint


@pytest.fixture
def s3_env(s3_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """This process's boto3 (read_window's) talks to moto: the endpoint and credentials from the environment."""
    for name, value in {**CREDENTIALS, "AWS_ENDPOINT_URL": s3_endpoint}.items():
        monkeypatch.setenv(name, value)
    return s3_endpoint


def s3(endpoint: str) -> Any:
    return moto_s3.client(endpoint)


def ship_command(log: Path, prefix: str, endpoint: str, replica: str, *more: str) -> list[str]:
    destination = f"s3://{BUCKET}/{prefix}"
    return [str(VENV_BIN / "mlops-template"), "log", "ship", "--log", str(log), "--to", destination,
            "--endpoint-url", endpoint, "--replica", replica, *more]  # fmt: skip


def run_env() -> dict[str, str]:
    return {**os.environ, **CREDENTIALS, "MLOPS_TEMPLATE_LOG_LEVEL": "WARNING"}


def segment_request_ids(endpoint: str, prefix: str, kind: str, scratch: Path) -> list[str]:
    """Every request id in every `kind` segment under prefix, repeats included (read without the reader)."""
    client, found = s3(endpoint), []
    listed = client.list_objects_v2(Bucket=BUCKET, Prefix=f"{prefix}/{kind}/").get("Contents", [])
    for n, item in enumerate(listed):
        local = scratch / f"{kind}-{n}.parquet"
        local.write_bytes(client.get_object(Bucket=BUCKET, Key=item["Key"])["Body"].read())
        found += pq.read_table(local)["request_id"].to_pylist()
    return found


def wait_for(condition: Any, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {seconds} s waiting for {what}")
        time.sleep(0.05)


def test_two_replicas_shipped_to_one_bucket_read_back_as_the_union_of_their_logs(s3_env: str, tmp_path: Path) -> None:
    logs = [tmp_path / "api-0.sqlite3", tmp_path / "api-1.sqlite3"]
    fill(logs[0], seed=11, count=400, first=T0)
    fill(logs[1], seed=12, count=400, first=T0 + timedelta(seconds=20))
    for replica, log in zip(("api-0", "api-1"), logs, strict=True):
        done = subprocess.run(ship_command(log, "union", s3_env, replica, "--max-rows", "150"),
                              env=run_env(), capture_output=True, text=True, check=False, timeout=120)  # fmt: skip
        assert done.returncode == 0, done.stderr
        assert done.stdout.strip() == (
            f"shipped 400 prediction(s) and 201 label(s) in 5 segment(s) to s3://{BUCKET}/union"
        )
    # Window edges on prediction times of the first replica: its 60th is in, its 300th is out.
    start, end = T0 + timedelta(minutes=60), T0 + timedelta(minutes=300)
    union = pd.concat([read_window(str(log), start, end) for log in logs]).sort_values(["ts", "request_id"])
    from_s3 = read_window(f"s3://{BUCKET}/union", start, end)
    pd.testing.assert_frame_equal(from_s3, union.reset_index(drop=True))
    assert len(from_s3) == 2 * 240
    assert from_s3["ts"].min() == start
    assert from_s3["ts"].max() < end
    assert from_s3["label"].notna().sum() == union["label"].notna().sum() > 0


def test_a_shipper_killed_again_and_again_while_the_api_writes_loses_and_repeats_nothing(
    s3_env: str, tmp_path: Path
) -> None:
    writer, stop = Writer(tmp_path / "api.sqlite3"), threading.Event()
    written: list[str] = []

    def traffic() -> None:  # the API: small batches and labels, bounded in count
        rows = prediction_rows(random.Random(5), 600, T0, timedelta(seconds=10))  # noqa: S311 (test data)
        for n in range(0, len(rows), 6):
            written.extend(writer.predict(rows[n : n + 6]))
            writer.label(written[-2:], 1)
            if stop.wait(0.01):
                return

    api = threading.Thread(target=traffic)
    api.start()
    command = ship_command(writer.path, "kills", s3_env, "api-0", "--interval", "0.02", "--max-rows", "7")
    client = s3(s3_env)

    def keys() -> int:
        return int(client.list_objects_v2(Bucket=BUCKET, Prefix="kills/").get("KeyCount", 0))

    def shipped_through() -> dict[str, int]:
        """The largest last rowid / id in the segment names, per kind: the shipper's watermarks."""
        names = [parse_key(item["Key"].removeprefix("kills/")) for item in
                 client.list_objects_v2(Bucket=BUCKET, Prefix="kills/").get("Contents", [])]  # fmt: skip
        return {kind: max((n.last for n in names if n and n.kind == kind), default=0) for kind in KINDS}

    try:
        for _ in range(3):  # SIGKILL mid-run: wherever it is (reading, encoding, uploading, between)
            shipper = subprocess.Popen(command, env=run_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            seen = keys()
            wait_for(lambda s=shipper, n=seen: keys() >= n + 3 or s.poll() is not None, 60, "new segments")
            assert shipper.poll() is None, shipper.communicate()[1]  # it was running, not failing
            shipper.send_signal(signal.SIGKILL)
            shipper.communicate(timeout=10)
        api.join(timeout=120)
        assert not api.is_alive()
        last = subprocess.Popen(command, env=run_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        in_log = {"predictions": len(written), "feedback": 2 * (len(written) // 6)}  # rowids and ids from 1
        wait_for(lambda: shipped_through() == in_log, 60, "the rest shipped")
        last.send_signal(signal.SIGTERM)  # the sidecar's normal stop: ship once more, exit 0
        out, err = last.communicate(timeout=30)
        assert last.returncode == 0, err
        assert out.startswith("shipped ")
    finally:
        stop.set()
        api.join(timeout=30)
        writer.close()
    predictions = segment_request_ids(s3_env, "kills", "predictions", tmp_path)
    assert len(predictions) == len(set(predictions)) == len(written) == 600
    assert set(predictions) == set(written)
    labels = segment_request_ids(s3_env, "kills", "feedback", tmp_path)
    assert len(labels) == in_log["feedback"] == 200
    frame = read_window(f"s3://{BUCKET}/kills", T0, T0 + DAY)
    pd.testing.assert_frame_equal(frame, read_window(str(writer.path), T0, T0 + DAY))


def test_a_foreign_or_corrupt_object_in_the_bucket_is_refused_by_name(s3_env: str, tmp_path: Path) -> None:
    fill(tmp_path / "api.sqlite3", seed=13, count=50, first=T0)
    done = subprocess.run(ship_command(tmp_path / "api.sqlite3", "refusals", s3_env, "api-0"),
                          env=run_env(), capture_output=True, text=True, check=False, timeout=120)  # fmt: skip
    assert done.returncode == 0, done.stderr
    client = s3(s3_env)
    assert len(read_window(f"s3://{BUCKET}/refusals", T0, T0 + DAY)) == 50

    client.put_object(Bucket=BUCKET, Key="refusals/predictions/export.csv", Body=b"a,b\n1,2\n")
    with pytest.raises(LogSourceError, match=rf"s3://{BUCKET}/refusals/predictions/export\.csv: not a prediction log"):
        read_window(f"s3://{BUCKET}/refusals", T0, T0 + DAY)
    client.delete_object(Bucket=BUCKET, Key="refusals/predictions/export.csv")

    key = client.list_objects_v2(Bucket=BUCKET, Prefix="refusals/predictions/")["Contents"][0]["Key"]
    client.put_object(Bucket=BUCKET, Key=key, Body=b"PAR1 not really")
    with pytest.raises(LogSourceError, match=rf"s3://{BUCKET}/{key}: not a readable Parquet segment"):
        read_window(f"s3://{BUCKET}/refusals", T0, T0 + DAY)


def test_reading_needs_no_network_and_duckdb_downloads_nothing(tmp_path: Path) -> None:
    prefix = offline_prefix()
    if not prefix:
        pytest.skip("unshare -n is not permitted here: cannot cut the network")
    fill(tmp_path / "api.sqlite3", seed=14, count=30, first=T0)
    home = tmp_path / "home"  # DuckDB would install extensions under ~/.duckdb
    script = (
        "import sys; from datetime import datetime, UTC, timedelta\n"
        "from pathlib import Path\n"
        "from mlops_template.monitoring.logsource import read_window\n"
        "from mlops_template.monitoring.segments.shipper import Shipper\n"
        "from mlops_template.monitoring.segments.stores import open_store\n"
        "t0 = datetime(2026, 11, 16, tzinfo=UTC)\n"
        "Shipper(Path(sys.argv[1]), open_store(sys.argv[2]), 'api-0').ship_once()\n"
        "a, b = (read_window(s, t0, t0 + timedelta(days=1)) for s in sys.argv[1:3])\n"
        "assert a.equals(b) and len(a) == 30, (a, b)\n"
        "print('ok')\n"
    )
    done = subprocess.run(
        [*prefix, str(VENV_BIN / "python"), "-c", script, str(tmp_path / "api.sqlite3"), str(tmp_path / "segments")],
        env={**os.environ, "HOME": str(home)},
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"
    assert not (home / ".duckdb").exists()
