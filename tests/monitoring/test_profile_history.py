"""`monitor --profile-from-history`: production serves an older model (a rollback), judged against its own profile."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from mlops_template.monitoring import reference_profile as profiles
from tests.support.monitoring_reference import END, START, monitor_main
from tests.support.params import shipped_params_dict, write_params

NEWER = "b" * 12


def _git(root: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, check=True).stdout.strip()


def _commit(root: Path, profile: profiles.Profile, psi_threshold: float, message: str) -> str:
    profiles.write(root / "reports" / "reference_profile.json", profile)
    raw = shipped_params_dict()
    raw["monitor"]["drift"]["psi_threshold"] = psi_threshold
    write_params(root / "params.yaml", raw)
    _git(root, "add", "-A")
    _git(root, "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-q", "-m", message)
    return _git(root, "rev-parse", "HEAD")


@pytest.fixture
def repository(tmp_path: Path, reference_profile: profiles.Profile) -> tuple[Path, str]:
    """A project whose history holds the served model's profile, then a newer model's (the checkout's)."""
    root = tmp_path / "project"
    root.mkdir()
    _git(root, "init", "-q")
    served = _commit(root, reference_profile, 0.2, "the model production serves")
    _commit(root, reference_profile.model_copy(update={"model_version": NEWER}), 0.1, "a newer model, not deployed")
    return root, served


def _from_history(frame: pd.DataFrame, root: Path, out: Path) -> int:
    """`monitor --profile-from-history` on `frame`, with the project at `root`'s profile and params."""
    profile, params = root / "reports" / "reference_profile.json", root / "params.yaml"
    return monitor_main(frame, profile, params, out, "--start", START, "--end", END, "--profile-from-history")


def _summary(out: Path) -> dict[str, Any]:
    found: dict[str, Any] = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    return found


def _drift_thresholds(summary: dict[str, Any]) -> set[float]:
    return {d["threshold"] for d in summary["detectors"] if d["detector"].startswith("psi:")}


def test_a_rolled_back_model_is_judged_against_its_own_profile_and_params(
    repository: tuple[Path, str], quiet_window: pd.DataFrame, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root, served_commit = repository
    profile, out = root / "reports" / "reference_profile.json", tmp_path / "out"
    # Given the window was scored by the older model, and the checkout profiles a newer one
    assert profiles.load(profile).model_version == NEWER
    # When the monitor judges it with --profile-from-history
    code = _from_history(quiet_window, root, out)
    # Then it judges every row, against the profile and the monitor params committed with that model
    assert code == 0, capsys.readouterr()
    summary = _summary(out)
    assert summary["model_version"] == quiet_window["model_version"].iloc[0]
    assert summary["window"]["rows"] == len(quiet_window)
    assert summary["reference"]["profile"] == f"{served_commit[:12]}:{profile}"
    assert _drift_thresholds(summary) == {0.2}


def test_without_the_flag_the_rolled_back_model_goes_unjudged(
    repository: tuple[Path, str], quiet_window: pd.DataFrame, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root, _ = repository
    code = monitor_main(quiet_window, root / "reports" / "reference_profile.json", root / "params.yaml", tmp_path / "o")
    assert code == 5
    assert capsys.readouterr().out.startswith(f"insufficient: no rows of model version {NEWER} in the window")


def test_the_checkouts_own_model_needs_no_history(
    tmp_path: Path, reference_profile: profiles.Profile, quiet_window: pd.DataFrame
) -> None:
    # Not even a git repository: the checkout's profile is the served version's
    profile = profiles.write(tmp_path / "reports" / "reference_profile.json", reference_profile)
    write_params(tmp_path / "params.yaml", shipped_params_dict())
    out = tmp_path / "out"
    assert _from_history(quiet_window, tmp_path, out) == 0
    assert _summary(out)["reference"]["profile"] == str(profile)
    assert _drift_thresholds(_summary(out)) == {0.1}


def test_a_version_no_commit_profiles_is_one_error_line(
    repository: tuple[Path, str], quiet_window: pd.DataFrame, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root, _ = repository
    foreign = quiet_window.assign(model_version="c" * 12)
    code = _from_history(foreign, root, tmp_path / "o")
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1
    assert f"model version {'c' * 12} scored the window's newest rows, but none of the 2 commit(s)" in err
    assert "reports/reference_profile.json profiles it (rule: production serves a model this repository trained)" in err
    assert not (tmp_path / "o" / "summary.json").exists()


def test_a_shallow_clone_is_told_to_fetch_the_history(
    repository: tuple[Path, str], quiet_window: pd.DataFrame, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root, _ = repository
    shallow = tmp_path / "shallow"
    _git(tmp_path, "clone", "-q", "--depth", "1", f"file://{root}", str(shallow))
    code = _from_history(quiet_window, shallow, tmp_path / "o")
    assert code == 2
    assert (
        "a shallow clone: fetch the whole history, e.g. actions/checkout with fetch-depth: 0" in capsys.readouterr().err
    )


def test_params_outside_the_repository_are_one_error_line(
    repository: tuple[Path, str], quiet_window: pd.DataFrame, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root, _ = repository
    (tmp_path / "elsewhere").mkdir()
    outside = write_params(tmp_path / "elsewhere" / "params.yaml", shipped_params_dict())
    profile = root / "reports" / "reference_profile.json"
    code = monitor_main(
        quiet_window, profile, outside, tmp_path / "o", "--start", START, "--end", END, "--profile-from-history"
    )
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1
    assert f"--params {outside}: outside the repository {root}" in err
