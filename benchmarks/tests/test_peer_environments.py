"""A peer's pinned environment: installed once from its pins, reinstalled when they change, and an install
that fails leaves no stamp and a log that bench-serve shows (BentoML itself is never installed here)."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks.peers import environments
from benchmarks.peers.environments import Environment
from tests.support.deploy_checks import require_tool


def _environment(tmp_path: Path, pins: str) -> Environment:
    requirements = tmp_path / "requirements.txt"
    requirements.write_text(pins, encoding="utf-8")
    return Environment("peer", requirements, tmp_path / "venvs/peer", tmp_path / "venvs/peer.log")


def test_every_peer_folder_pins_every_package_it_installs() -> None:
    assert "bentoml" in environments.names()
    for name in environments.names():
        pins = [line.split("#")[0].strip() for line in Environment.of(name).requirements.read_text().splitlines()]
        assert all("==" in pin for pin in pins if pin), name


def test_a_peer_is_ready_only_with_a_stamp_of_its_current_pins(tmp_path: Path) -> None:
    environment = _environment(tmp_path, "bentoml==1.4.40\n")
    assert "not installed (run `make bench-peers`" in str(environment.problem())
    environment.venv.mkdir(parents=True)
    (environment.venv / environments.STAMP).write_text(environment.pins() + "\n", encoding="utf-8")
    assert environment.problem() is None
    assert environments.install(environment, uv=Path("/no/uv/needed"))  # ready: nothing runs
    environment.requirements.write_text("bentoml==1.4.41\n", encoding="utf-8")
    assert "installed from other pins" in str(environment.problem())


def test_an_install_that_fails_leaves_no_stamp_and_its_log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    uv = environments.UV if environments.UV.exists() else Path(require_tool("uv", "run `make install` first"))
    monkeypatch.setenv("UV_OFFLINE", "1")  # a package that is in no cache: fails without the network
    environment = _environment(tmp_path, "no-such-package-for-bench-tests==0.0.1\n")
    assert not environments.install(environment, uv=uv)
    assert str(environment.problem()).startswith("its install failed (`make bench-peers` tries again")
    log = environment.log.read_text(encoding="utf-8")
    assert "no-such-package-for-bench-tests" in log
    assert "exit status" in log.splitlines()[-1]


def test_a_missing_uv_is_a_failed_install_with_the_reason_in_the_log(tmp_path: Path) -> None:
    environment = _environment(tmp_path, "bentoml==1.4.40\n")
    assert not environments.install(environment, uv=tmp_path / "no-uv")
    assert "No such file" in environment.log.read_text(encoding="utf-8")
