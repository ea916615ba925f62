"""The package as a user installs it: wheel and sdist built with `uv build`, installed into clean venvs.

Everything comes from uv's cache (`--offline`), pinned by uv.lock: the sdist is built from the working
tree (which holds a pipeline's outputs, .dvc/cache and a venv: none may leak in), the wheel from the
sdist (so the sdist is enough to build), then installed with the locked closure of each extra, never
resolved anew. The console script runs from a directory outside the project, so whatever it needs
besides params.yaml must be in the wheel.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

from tests.support.workspace import REPO, uv_path

pytestmark = pytest.mark.install

PACKAGE, COMMAND = "mlops_template", "mlops-template"
TRAINING_STACK = ("pandas", "sklearn", "mlflow", "dvc", "pandera", "joblib", "pyarrow")
SDIST_ROOT = {"src", "README.md", "pyproject.toml", "PKG-INFO", ".gitignore"}
SUBCOMMAND = re.compile(r"^ {4}(\S+)")  # argparse lists a subparser's commands 4 spaces in


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("UV_", "VIRTUAL_ENV", "PYTEST_", "MLFLOW_"))}
    env.update(UV_OFFLINE="1", UV_PYTHON_DOWNLOADS="never", **extra)
    return env


def _run(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    found = subprocess.run(args, cwd=cwd, env=env or _env(), capture_output=True, text=True, check=False, timeout=300)
    if found.returncode != 0:
        pytest.fail(f"{' '.join(args)} exited {found.returncode}:\n{found.stdout[-3000:]}\n{found.stderr[-3000:]}")
    return found


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    _run(uv_path(), "build", "--sdist", "--out-dir", str(out), str(REPO), cwd=out)
    (sdist,) = out.glob("*.tar.gz")
    _run(uv_path(), "build", "--wheel", "--out-dir", str(out), str(sdist), cwd=out)  # the sdist is enough
    return out


def _venv(dist: Path, target: Path, *flags: str) -> Path:
    """A clean venv with the locked closure of the core and the extras `flags` name, then the wheel."""
    python = str(Path(sys.base_prefix) / "bin" / "python3")
    env = _env(UV_PROJECT_ENVIRONMENT=str(target))
    _run(
        uv_path(),
        "sync",
        "-q",
        "--frozen",
        "--no-dev",
        "--no-install-project",
        *flags,
        "--python",
        python,
        cwd=REPO,
        env=env,
    )
    (wheel,) = dist.glob("*.whl")
    python = str(target / "bin" / "python")
    _run(uv_path(), "pip", "install", "-q", "--no-deps", "--python", python, str(wheel), cwd=REPO)
    return target / "bin"


def _source_files() -> set[str]:
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "src"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    return {name for name in listed if (REPO / name).is_file()}


def test_the_sdist_holds_what_a_build_needs_and_nothing_of_a_working_copy(dist: Path) -> None:
    (sdist,) = dist.glob("*.tar.gz")
    with tarfile.open(sdist) as archive:
        names = {member.name.split("/", 1)[1] for member in archive.getmembers() if member.isfile()}
    assert {name.split("/")[0] for name in names} <= SDIST_ROOT  # no data, models, artifacts, .dvc, .venv
    assert _source_files() <= names
    assert not [name for name in names if "__pycache__" in name or name.endswith(".pyc")]
    assert sdist.stat().st_size < 1_000_000


def test_the_wheel_holds_the_package_and_its_console_script(dist: Path) -> None:
    (wheel,) = dist.glob("*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        info = next(name.split("/")[0] for name in names if name.endswith(".dist-info/METADATA"))
        entry_points = archive.read(f"{info}/entry_points.txt").decode()
        metadata = archive.read(f"{info}/METADATA").decode()
    assert {name.split("/")[0] for name in names} == {PACKAGE, info}
    assert {name.removeprefix("src/") for name in _source_files()} <= names  # package data included
    assert f"{COMMAND} = {PACKAGE}.cli:main" in entry_points
    assert {"serve", "train"} <= set(re.findall(r"^Provides-Extra: (\S+)$", metadata, re.MULTILINE))


# Commands whose `--help` is known to fail in a clean install, with why. Strict: a fixed one must leave.
KNOWN_BROKEN: dict[tuple[str, ...], str] = {}


def _helps(script: Path, cwd: Path, *prefix: str) -> dict[tuple[str, ...], str]:
    """`--help` of `prefix` and of every subcommand its help lists: command -> '' or why it failed."""
    shown = subprocess.run(
        [str(script), *prefix, "--help"], cwd=cwd, env=_env(), capture_output=True, text=True, check=False, timeout=120
    )
    if shown.returncode != 0 or not shown.stdout.startswith("usage: "):
        return {prefix: (shown.stderr.strip().splitlines() or ["no usage line"])[-1]}
    found = {prefix: ""}
    positional = shown.stdout.partition("positional arguments:")[2].partition("\noptions:")[0]
    for line in positional.splitlines():
        match = SUBCOMMAND.match(line)
        if match and not line.startswith(" " * 5):
            found |= _helps(script, cwd, *prefix, match[1])
    return found


def test_every_command_and_subcommand_has_help_in_a_clean_install(dist: Path, tmp_path: Path) -> None:
    bin_dir = _venv(dist, tmp_path / "venv", "--all-extras")
    helps = _helps(bin_dir / COMMAND, tmp_path)
    listed = {command[0] for command in helps if command}
    assert {"ingest", "train", "export", "evaluate", "register", "data", "params", "serve", "gate", "init"} <= listed
    assert ("data", "next-batch") in helps
    assert len(helps) > 25
    broken = {command: why for command, why in helps.items() if why}
    assert set(broken) == set(KNOWN_BROKEN), broken
    checked = _run(str(bin_dir / COMMAND), "params", "check", "--params", str(REPO / "params.yaml"), cwd=tmp_path)
    assert "params.yaml: valid" in checked.stdout


def test_the_serve_extra_runs_the_api_without_the_training_stack(dist: Path, tmp_path: Path) -> None:
    bin_dir = _venv(dist, tmp_path / "venv", "--extra", "serve")
    assert "--model-dir" in _run(str(bin_dir / COMMAND), "serve", "--help", cwd=tmp_path).stdout
    probe = "import importlib.util as u, sys; print(' '.join(m for m in sys.argv[1:] if u.find_spec(m)))"
    present = _run(str(bin_dir / "python"), "-c", probe, *TRAINING_STACK, "fastapi", "onnxruntime", cwd=tmp_path)
    assert present.stdout.split() == ["fastapi", "onnxruntime"]
    # the image installs this closure and nothing else (scripts/image.py exports `--extra serve`)
    exported = _run(
        uv_path(), "export", "--frozen", "--no-dev", "--extra", "serve", "--no-emit-project", "--no-hashes", cwd=REPO
    ).stdout
    assert not {name for name in TRAINING_STACK if re.search(rf"^{name}==", exported, re.MULTILINE)}
    assert '"--extra", "serve"' in (REPO / "scripts" / "image.py").read_text(encoding="utf-8")


def test_the_core_alone_runs_help_and_params_check_and_names_the_extra_for_the_rest(dist: Path, tmp_path: Path) -> None:
    bin_dir = _venv(dist, tmp_path / "venv")
    probe = "import importlib.util as u, sys; print(' '.join(m for m in sys.argv[1:] if u.find_spec(m)))"
    assert _run(str(bin_dir / "python"), "-c", probe, *TRAINING_STACK, "fastapi", cwd=tmp_path).stdout.split() == []
    assert _run(str(bin_dir / COMMAND), "--help", cwd=tmp_path).stdout.startswith("usage: ")
    checked = _run(str(bin_dir / COMMAND), "params", "check", "--params", str(REPO / "params.yaml"), cwd=tmp_path)
    assert "params.yaml: valid" in checked.stdout
    # A command that needs an extra says which one, in one line (not a ModuleNotFoundError traceback)
    for command, extra in (
        (["ingest"], "train"),
        (["serve", "--model-dir", "nowhere"], "serve"),
        (["metrics"], "train"),
    ):
        refused = subprocess.run(
            [str(bin_dir / COMMAND), *command], cwd=tmp_path, env=_env(), capture_output=True, text=True, check=False
        )
        assert refused.returncode == 2, refused.stderr
        assert refused.stderr.splitlines() == [refused.stderr.strip()], refused.stderr  # one line
        assert f"needs the {extra!r} extra" in refused.stderr
        assert f"pip install '{COMMAND}[{extra}]'" in refused.stderr
