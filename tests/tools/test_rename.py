"""`mlops-template init` / `make rename`: the template renamed in a fresh copy, and the refusals.

The fast tests rename a clone of a fresh copy (run as `make rename` runs it: `PYTHONPATH=src python -m
<package>.tools.init`, nothing installed) and check what is left of the old names, the lock, the layer
contract and the image's wheel glob. The slow test goes the user's whole way: `make install`, `make
rename`, `make install` again (offline, from uv's cache), then the fast test tier in the renamed copy.
"""

from __future__ import annotations

import fnmatch
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from mlops_template.tools import init
from tests.support.workspace import REPO, VENV_BIN, copy_project, uv_path

# A project made from the template has nothing left to rename (init refuses it): these tests are the template's.
pytestmark = pytest.mark.skipif(
    not (REPO / "src" / init.TEMPLATE_PACKAGE).is_dir(), reason="renamed from the template: init has nothing to rename"
)
NAME, PACKAGE = "acme-credit-risk", "acme_credit"  # the package differs from the name on purpose
OLD_SPELLINGS = re.compile(r"mlops[-_ ]?template", re.IGNORECASE)


def _env(**extra: str) -> dict[str, str]:
    """A user's shell: no outer test run, no project venv active, nothing reaching out to the network."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("PYTEST_", "MLFLOW_", "DVC_", "AWS_", "UV_", "VIRTUAL_ENV", "MAKE"))
    }
    paths = [p for p in env.get("PATH", os.defpath).split(os.pathsep) if Path(p) != VENV_BIN]
    env["PATH"] = os.pathsep.join(paths)
    env.update(UV_OFFLINE="1", UV_PYTHON_DOWNLOADS="never", **extra)
    return env


def _run(cwd: Path, *args: str, env: dict[str, str] | None = None, timeout: float = 300) -> str:
    found = subprocess.run(
        args, cwd=cwd, env=env or _env(), capture_output=True, text=True, check=False, timeout=timeout
    )
    if found.returncode != 0:
        pytest.fail(f"{' '.join(args)} exited {found.returncode}:\n{found.stdout[-4000:]}\n{found.stderr[-4000:]}")
    return found.stdout


def _init(root: Path, *args: str, tools: Path | None = None) -> subprocess.CompletedProcess[str]:
    """The rename as `make rename` runs it: the copy's own source, nothing installed (ruff from `tools`)."""
    package = next(p.name for p in (root / "src").iterdir() if (p / "tools" / "init.py").is_file())
    env = _env(PYTHONPATH=str(root / "src"))
    if tools is not None:
        env["PATH"] = f"{tools}{os.pathsep}{env['PATH']}"
    return subprocess.run(
        [sys.executable, "-m", f"{package}.tools.init", *args],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


def _status(root: Path) -> str:
    return _run(root, "git", "status", "--porcelain", "--untracked-files=all")


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return copy_project(tmp_path_factory.mktemp("pristine"))


@pytest.fixture
def clone(pristine: Path, tmp_path: Path) -> Path:
    target = tmp_path / "project"
    _run(tmp_path, "git", "clone", "-q", str(pristine), str(target))
    return target


@pytest.fixture(scope="module")
def renamed(pristine: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    target = tmp_path_factory.mktemp("renamed") / "project"
    _run(target.parent, "git", "clone", "-q", str(pristine), str(target))
    tools = tmp_path_factory.mktemp("tools")  # ruff and nothing else of the test's environment
    (tools / "ruff").symlink_to(VENV_BIN / "ruff")
    done = _init(target, "--name", NAME, "--package", PACKAGE, tools=tools)
    assert done.returncode == 0, done.stderr
    assert "imports sorted and lines re-wrapped in" in done.stdout
    _run(target, "git", "add", "-A")
    return target, done.stdout


def _tracked_text(root: Path) -> dict[str, str]:
    files = {}
    for name in _run(root, "git", "ls-files", "-z").split("\0"):
        if name and not name.startswith(".dvc/storage/"):
            try:
                files[name] = (root / name).read_text(encoding="utf-8")
            except UnicodeDecodeError:
                continue
    return files


# --- the rename -------------------------------------------------------------------------------------


def test_no_spelling_of_the_old_names_is_left(renamed: tuple[Path, str], pristine: Path) -> None:
    root, output = renamed
    before = _tracked_text(pristine)
    after = _tracked_text(root)
    assert sum(bool(OLD_SPELLINGS.search(text)) for text in before.values()) > 50  # the test sees the names
    left = [
        f"{name}: {line}" for name, text in after.items() for line in text.splitlines() if OLD_SPELLINGS.search(line)
    ]
    assert left == []
    assert "left as is" not in output
    # the MLflow names follow: params.yaml, and every mention of the old ones (docs, tests, defaults)
    old = re.findall(r"^  (?:experiment|registered_model): (\S+)$", before["params.yaml"], re.MULTILINE)
    assert len(old) == 2
    assert f"  experiment: {NAME}\n  registered_model: {NAME}\n" in after["params.yaml"]
    for name in old:
        assert not [path for path, text in after.items() if re.search(rf"(?<![\w-]){re.escape(name)}(?![\w-])", text)]


def test_the_package_moved_and_its_configuration_follows(renamed: tuple[Path, str]) -> None:
    root, _ = renamed
    assert not (root / "src" / init.TEMPLATE_PACKAGE).exists()
    assert (root / "src" / PACKAGE / "tools" / "init.py").is_file()
    moved = _run(root, "git", "diff", "--cached", "-M", "--name-status").splitlines()
    assert any(line.startswith("R") and line.endswith(f"src/{PACKAGE}/cli.py") for line in moved)
    pyproject = (root / "pyproject.toml").read_text(encoding="utf-8")
    assert f'name = "{NAME}"' in pyproject
    assert f'{NAME} = "{PACKAGE}.cli:main"' in pyproject
    assert f'root_packages = ["{PACKAGE}"]' in pyproject
    assert f"python -m {PACKAGE}.stages.ingest " in (root / "dvc.yaml").read_text(encoding="utf-8")
    assert f"IMAGE ?= {NAME}:latest" in (root / "Makefile").read_text(encoding="utf-8")
    assert (root / "README.md").read_text(encoding="utf-8").startswith(f"# {NAME}\n")
    errors = (root / "src" / PACKAGE / "core" / "errors.py").read_text(encoding="utf-8")
    assert "class AcmeCreditError(Exception):" in errors


def test_the_lock_still_matches_and_the_layer_contract_still_holds(renamed: tuple[Path, str]) -> None:
    root, _ = renamed
    lock = (root / "uv.lock").read_text(encoding="utf-8")
    assert f'name = "{NAME}"\nversion = "0.1.0"\nsource = {{ editable = "." }}' in lock
    _run(root, uv_path(), "lock", "--check", "--offline")
    # import-linter reads the renamed root package and contract from the renamed source
    contracts = _run(root, str(VENV_BIN / "lint-imports"), "--no-cache", env=_env(PYTHONPATH=str(root / "src")))
    assert "KEPT" in contracts
    assert "0 broken" in contracts


def test_the_image_installs_the_renamed_wheel(renamed: tuple[Path, str], tmp_path: Path) -> None:
    root, _ = renamed
    _run(root, uv_path(), "build", "--wheel", "--offline", "--out-dir", str(tmp_path), timeout=300)
    (wheel,) = tmp_path.glob("*.whl")
    globs = re.findall(r"/wheels/(\S+\.whl)", (root / "Dockerfile").read_text(encoding="utf-8"))
    assert globs
    assert all(fnmatch.fnmatch(wheel.name, pattern) for pattern in globs), (wheel.name, globs)


def test_the_rename_adds_no_lint_finding(renamed: tuple[Path, str], pristine: Path) -> None:
    """A longer name or a new class name can re-sort imports and overflow lines: init lets ruff settle them."""
    root, _ = renamed

    def findings(tree: Path, package: str) -> set[str]:
        found = subprocess.run(
            [str(VENV_BIN / "ruff"), "check", "--output-format", "concise", "--no-cache", "."],
            cwd=tree,
            capture_output=True,
            text=True,
            check=False,
        ).stdout
        unformatted = subprocess.run(
            [str(VENV_BIN / "ruff"), "format", "--check", "--no-cache", "."],
            cwd=tree,
            capture_output=True,
            text=True,
            check=False,
        ).stdout
        lines = [re.sub(r":\d+:\d+:|\(\d+ > \d+\)", ":", line) for line in found.splitlines() if ": " in line]
        lines += [line for line in unformatted.splitlines() if line.startswith("Would reformat")]
        return {line.replace(package, "<package>") for line in lines}

    assert findings(root, PACKAGE) - findings(pristine, init.TEMPLATE_PACKAGE) == set()


# --- refusals and safety ----------------------------------------------------------------------------


def test_a_dry_run_lists_the_changes_and_writes_nothing(clone: Path) -> None:
    done = _init(clone, "--name", NAME, "--dry-run")
    assert done.returncode == 0, done.stderr
    assert f"would move src/{init.TEMPLATE_PACKAGE} -> src/acme_credit_risk" in done.stdout
    assert "would edit pyproject.toml (" in done.stdout
    assert _status(clone) == ""


def test_a_dirty_tree_is_refused(clone: Path) -> None:
    (clone / "README.md").write_text("edited\n", encoding="utf-8")
    (clone / "notes.txt").write_text("untracked\n", encoding="utf-8")
    done = _init(clone, "--name", NAME)
    assert done.returncode == 2
    assert done.stderr.startswith("error: init: ")
    assert done.stderr.count("\n") == 1
    assert "uncommitted changes (README.md, notes.txt)" in done.stderr
    assert (clone / "src" / init.TEMPLATE_PACKAGE).is_dir()
    assert sorted(_status(clone).splitlines()) == [" M README.md", "?? notes.txt"]


def test_a_renamed_tree_is_refused_so_a_second_run_changes_nothing(clone: Path) -> None:
    assert _init(clone, "--name", NAME, "--package", PACKAGE).returncode == 0
    _run(clone, "git", "add", "-A")
    _run(clone, "git", "-c", "user.name=t", "-c", "user.email=t@example.invalid", "commit", "-qm", "renamed")
    again = _init(clone, "--name", "other-name")
    assert again.returncode == 2
    assert (
        again.stderr
        == f"error: init: {clone}: already renamed: there is no src/{init.TEMPLATE_PACKAGE} package to rename\n"
    )
    assert _status(clone) == ""


def test_a_directory_outside_git_is_refused(clone: Path) -> None:
    shutil.rmtree(clone / ".git")
    done = _init(clone, "--name", NAME)
    assert done.returncode == 2
    assert "not a git work tree" in done.stderr


def test_a_failed_write_puts_the_tree_back(clone: Path) -> None:
    names = init.Names(NAME, PACKAGE, NAME, NAME)
    plan = init.plan_rename(clone, names, init.check_tree(clone))
    last = list(plan.edits)[-1]
    blocker = last.with_name(f".{last.name}.init-tmp")
    blocker.mkdir()  # the last file's scratch copy cannot be written: the rename fails after most writes
    with pytest.raises(init.InitError, match=r"could not be written .*the tree was put back as it was"):
        init.apply(plan)
    blocker.rmdir()
    assert _status(clone) == ""
    assert (clone / "src" / init.TEMPLATE_PACKAGE).is_dir()


@pytest.mark.parametrize(
    ("args", "rule"),
    [
        (["--name", "Acme"], "--name 'Acme': must be lowercase letters and digits"),
        (["--name", "acme--risk"], "in parts joined by single hyphens"),
        (["--name", "9lives"], "starting with a letter"),
        (["--name", "a" * 64], "at most 63 characters"),
        (["--name", init.TEMPLATE_NAME], "that is the template's own name"),
        (["--name", "acme", "--package", "acme-risk"], "--package 'acme-risk': must be a Python identifier"),
        (["--name", "acme", "--package", "class"], "and not a keyword"),
        (["--name", "json"], "--package 'json': shadows the standard library module 'json'"),
        (["--name", "mlflow"], "--package 'mlflow': shadows the locked dependency 'mlflow' (uv.lock)"),
        (["--name", "tests"], "the repository's own tests/ directory has that name"),
        (["--name", "acme", "--experiment", "a b"], "--experiment 'a b': must be non-empty, without spaces"),
    ],
)
def test_invalid_names_are_refused_naming_the_rule(clone: Path, args: list[str], rule: str) -> None:
    done = _init(clone, *args)
    assert done.returncode == 2
    assert rule in done.stderr
    assert done.stderr.count("\n") == 1
    assert _status(clone) == ""


# --- the whole way, with the renamed project installed and its fast tier run ------------------------


@pytest.mark.install
def test_the_renamed_copy_installs_and_passes_the_fast_tier(pristine: Path, tmp_path: Path) -> None:
    root = tmp_path / "project"
    _run(tmp_path, "git", "clone", "-q", str(pristine), str(root))
    uv = uv_path()
    (root / ".tools" / "bin").mkdir(parents=True)  # the Makefile's uv, as `make install` bootstraps it
    (root / ".tools" / "bin" / "uv").symlink_to(uv)
    _run(root, "make", "install")  # a user renames after the first `make run`: .venv holds the template
    _run(root, "make", "rename", f"NAME={NAME}", f"PACKAGE={PACKAGE}")
    _run(root, "make", "install")  # pyproject.toml and uv.lock changed: the environment follows
    venv = root / ".venv" / "bin"
    assert (venv / NAME).is_file()
    assert not (venv / init.TEMPLATE_NAME).exists()
    assert "init" in _run(root, str(venv / NAME), "--help")
    env = _env()
    env["PATH"] = f"{venv}{os.pathsep}{env['PATH']}"
    _run(root, str(venv / "pytest"), "-q", "-x", "-p", "no:cacheprovider", env=env, timeout=900)
