"""The image build tooling's decisions that need no engine: which wheels, which labels, which base."""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from scripts import debian_base, image
from tests.support import docker_engine

EXPORTED = """\
annotated-types==0.8.0
numpy==2.4.6 ; python_full_version < '3.12'
numpy==2.5.5 ; python_full_version >= '3.12'
uvloop==0.23.0 ; sys_platform != 'win32'
pywin32==311 ; sys_platform == 'win32'
"""


def test_pins_follow_the_image_python_not_the_host() -> None:
    assert image.pins_for_image(EXPORTED, machine="x86_64") == [
        "annotated-types==0.8.0",
        "numpy==2.4.6",
        "uvloop==0.23.0",
    ]


def test_platform_tags_stop_at_the_base_glibc_and_keep_the_old_aliases() -> None:
    tags = image.platform_tags("x86_64")
    assert tags[0] == "manylinux_2_36_x86_64"
    assert "manylinux_2_37_x86_64" not in tags
    assert {"manylinux_2_17_x86_64", "manylinux2014_x86_64", "manylinux1_x86_64"} <= set(tags)


def test_the_data_version_is_the_cards_and_unknown_rather_than_a_guess(tmp_path: Path) -> None:
    card = tmp_path / "model_card.json"
    card.write_text(json.dumps({"data": {"version": {"md5": "abc.dir"}}}), encoding="utf-8")
    assert image.data_version(card) == "abc.dir"
    card.write_text(json.dumps({"data": {"version": {"md5": None}}}), encoding="utf-8")
    assert image.data_version(card) == "unknown"


def test_build_args_need_an_exported_model(tmp_path: Path) -> None:
    with pytest.raises(image.ImageBuildError, match=r"no served\.json"):
        image.build_args(tmp_path, None)
    (tmp_path / "served.json").write_text(json.dumps({"version": "0123456789ab"}), encoding="utf-8")
    args = image.build_args(tmp_path, None)
    assert args["MODEL_VERSION"] == "0123456789ab"
    pyproject = tomllib.loads((image.REPO / "pyproject.toml").read_text(encoding="utf-8"))
    assert args["VERSION"] == pyproject["project"]["version"]


def test_the_build_has_no_network_and_passes_every_label() -> None:
    command = image.build_command(
        ["docker"],
        context=Path("/ctx"),
        tag="t:1",
        model_dir="served",
        card_dir="reports",
        labels={"REVISION": "abc"},
        base_image="base:1",
    )
    assert command[:4] == ["docker", "build", "--network", "none"]
    pairs = {command[i + 1] for i, arg in enumerate(command) if arg == "--build-arg"}
    assert pairs == {"REVISION=abc", "MODEL_DIR=served", "MODEL_CARD_DIR=reports", "BASE_IMAGE=base:1"}


def test_the_base_tarball_key_moves_with_its_inputs(monkeypatch: pytest.MonkeyPatch) -> None:
    key = debian_base.cache_key()
    monkeypatch.setattr(debian_base, "PACKAGES", (*debian_base.PACKAGES, "curl"))
    assert debian_base.cache_key() != key
    monkeypatch.undo()
    monkeypatch.setenv("MLOPS_DEBIAN_MIRROR", "http://127.0.0.1:9/debian")
    assert debian_base.cache_key() != key


@pytest.mark.parametrize(("ci", "outcome"), [("true", pytest.fail.Exception), ("", pytest.skip.Exception)])
def test_the_image_test_fails_in_ci_and_skips_elsewhere_without_its_tools(
    monkeypatch: pytest.MonkeyPatch, ci: str, outcome: type[BaseException]
) -> None:
    monkeypatch.setattr(docker_engine, "missing_packages", lambda _tools: ["docker.io"])
    monkeypatch.setenv("CI", ci)
    with pytest.raises(outcome, match=r"docker\.io are not installed.*make system-deps"):
        docker_engine.require_tools()


def _under_makes_path(monkeypatch: pytest.MonkeyPatch, repo: Path) -> None:
    # `make test` puts .venv/bin first on PATH, and uv's venv has no pip: python3 there is no help.
    venv_bin = Path(sys.executable).parent
    monkeypatch.setattr(sys, "executable", str(venv_bin / "python"))
    monkeypatch.setenv("PATH", str(venv_bin))
    monkeypatch.setattr(image, "REPO", repo)


def test_a_pip_is_found_in_the_tools_venv_under_makes_path(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # The Makefile's .tools/ venv (made with `python3 -m venv` to install uv) has pip: here, the base interpreter.
    base = Path(sys.base_prefix) / "bin" / f"python{sys.version_info.major}"
    assert subprocess.run([base, "-m", "pip", "--version"], capture_output=True, check=False).returncode == 0
    (tmp_path / ".tools" / "bin").mkdir(parents=True)
    (tmp_path / ".tools" / "bin" / "python").symlink_to(base)
    _under_makes_path(monkeypatch, tmp_path)
    found = image.pip_command()
    assert found == [str(tmp_path / ".tools" / "bin" / "python"), "-m", "pip"]
    assert subprocess.run([*found, "--version"], capture_output=True, check=False).returncode == 0


def test_no_pip_anywhere_is_one_clear_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # A .tools/ with only uv in it (no python) is skipped, not a FileNotFoundError.
    (tmp_path / ".tools" / "bin").mkdir(parents=True)
    _under_makes_path(monkeypatch, tmp_path)
    with pytest.raises(image.ImageBuildError, match=r"no python with pip found .*\.tools/bin/python.*make install"):
        image.pip_command()
