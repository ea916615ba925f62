"""A real default remote (S3, served by moto on 127.0.0.1) next to the committed `seed` remote.

The bootstrap must survive the user's own remote: `data.dvc` pins `remote: seed`, so a fresh clone
still pulls the default data offline, while `dvc push -r storage` puts it in the user's bucket.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.moto_s3 import CREDENTIALS, client, moto_server
from tests.support.workspace import GIT_IDENTITY, copy_project, offline_prefix, project_env

pytestmark = [pytest.mark.dvc, pytest.mark.server]

BUCKET = "team-dvc-store"


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    """A moto S3 server on 127.0.0.1 with the bucket, started and stopped here."""
    with moto_server(BUCKET) as endpoint:
        yield endpoint


def _run(cwd: Path, *args: str, offline: bool = False) -> subprocess.CompletedProcess[str]:
    prefix = offline_prefix() if offline else []
    found = subprocess.run(
        [*prefix, *args], cwd=cwd, env=project_env(**CREDENTIALS), capture_output=True, text=True, check=False
    )
    if found.returncode != 0:
        pytest.fail(f"{' '.join(args)} exited {found.returncode}:\n{found.stdout}\n{found.stderr}")
    return found


def _objects(endpoint: str) -> set[str]:
    listed = client(endpoint).list_objects_v2(Bucket=BUCKET)
    return {item["Key"] for item in listed.get("Contents", [])}


def _team_repo(tmp_path: Path, endpoint: str, prefix: str) -> Path:
    """A project that adopted the template: its own S3 bucket is the default remote."""
    team = copy_project(tmp_path / "team")
    _run(team, "dvc", "pull", "data.dvc")
    _run(team, "dvc", "remote", "add", "--default", "storage", f"s3://{BUCKET}/{prefix}")
    _run(team, "dvc", "remote", "modify", "storage", "endpointurl", endpoint)
    _run(team, "git", *GIT_IDENTITY, "commit", "-qam", "use our S3 remote")
    return team


def test_default_remote_takes_outputs_while_the_seed_still_bootstraps(s3_endpoint: str, tmp_path: Path) -> None:
    team = _team_repo(tmp_path, s3_endpoint, "outputs")
    _run(team, "dvc", "repro", "ingest")  # reproduces the committed lock: nothing to commit
    pushed = _run(team, "dvc", "push")  # outputs to the default remote, data.dvc to its pinned seed
    assert "pushed" in pushed.stdout
    assert any(key.startswith("outputs/files/md5/") for key in _objects(s3_endpoint))

    fresh = tmp_path / "fresh"
    _run(tmp_path, "git", "clone", "-q", str(team), str(fresh))
    _run(fresh, "dvc", "pull", "data.dvc", offline=True)  # the seed, no network: bootstrap intact
    assert len(list((fresh / "data").glob("*.csv"))) == 12
    assert "up to date" in _run(fresh, "dvc", "status", "data.dvc").stdout
    _run(fresh, "dvc", "pull", "ingest")  # the team's outputs, from their bucket
    for name in ("train.parquet", "valid.parquet", "test.parquet"):
        assert (fresh / "artifacts/ingest" / name).read_bytes() == (team / "artifacts/ingest" / name).read_bytes()


def test_unpinning_moves_the_data_to_the_default_remote(s3_endpoint: str, tmp_path: Path) -> None:
    team = _team_repo(tmp_path, s3_endpoint, "data")
    data_dvc = team / "data.dvc"
    data_dvc.write_text(data_dvc.read_text(encoding="utf-8").replace("  remote: seed\n", ""), encoding="utf-8")
    _run(team, "dvc", "push", "data.dvc")
    _run(team, "git", *GIT_IDENTITY, "commit", "-qam", "our data lives in our bucket")
    assert len([key for key in _objects(s3_endpoint) if key.startswith("data/")]) == 13  # 12 batches + listing

    fresh = tmp_path / "fresh"
    _run(tmp_path, "git", "clone", "-q", str(team), str(fresh))
    for stored in sorted((fresh / ".dvc/storage").rglob("*"), reverse=True):  # prove it came from S3
        stored.unlink() if stored.is_file() else stored.rmdir()
    _run(fresh, "dvc", "pull", "data.dvc")
    for path in (team / "data").glob("*.csv"):
        assert (fresh / "data" / path.name).read_bytes() == path.read_bytes()
