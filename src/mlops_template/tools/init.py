"""`mlops-template init --name <project> [--package <pkg>]`: make the template your own project.

One command renames, consistently, everything that carries the template's name: the Python package
(`src/<pkg>/`, every import, the import-linter, mypy, ruff and pytest settings, dvc.yaml's commands and
deps), the distribution and console script (pyproject.toml, uv.lock's own entry), the image (Makefile,
Dockerfile labels, deploy/), the workflows, the docs, and the MLflow experiment and registered model
(params.yaml `tracking:`) with every mention of them.

It works on the files git tracks and refuses a tree with uncommitted changes, so the rename is one
reviewable diff that `git checkout`/`git clean` undo. It plans every edit in memory first, then writes;
if a write fails, what was written is put back. A tree already renamed (no template package left) is
refused, which also makes a second run harmless.

`make rename` runs it before anything is installed (`PYTHONPATH=src python3 -m <package>.tools.init`), so it
imports nothing but the standard library and the package's own errors and command modules.
"""

from __future__ import annotations

import argparse
import contextlib
import keyword
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from mlops_template.core.command import run_command
from mlops_template.core.errors import MlopsTemplateError

# Spelled in parts on purpose: the rename rewrites every literal spelling of the template's name in the
# tree, this file included, and these must keep naming the template, so that a renamed tree is recognised.
_WORDS = ("mlops", "template")
TEMPLATE_PACKAGE = "_".join(_WORDS)
TEMPLATE_NAME = "-".join(_WORDS)
# Any spelling of the template's name; what the rename leaves of it is reported (a sign of a new spelling).
LEFTOVER = re.compile(r"{}[-_ ]?{}".format(*_WORDS), re.IGNORECASE)
# Data, not text: content-addressed files whose bytes must not change.
NEVER_EDITED = (".dvc/storage/",)
# The name is also the image's name, a Kubernetes label value and compose project name: the strictest
# of those rules (lowercase, digits, single hyphens between parts, at most 63 characters) applies.
NAME_RULE = re.compile(r"[a-z][a-z0-9]*(-[a-z0-9]+)*")
NAME_MAX = 63
PACKAGE_RULE = re.compile(r"[a-z][a-z0-9_]*")
# Top-level names the repository itself uses for other things (src/<pkg> beside them would shadow them).
SHOWN = 3  # dirty paths named in the refusal
RESERVED_PACKAGES = frozenset({"tests", "scripts", "benchmarks", "src", "docs", "deploy", "data", "build"})


class InitError(MlopsTemplateError):
    """The rename cannot start: a bad name, a dirty or already renamed tree, or no git work tree."""


@dataclass(frozen=True)
class Names:
    """What the rename writes in place of each spelling of the template's name."""

    name: str  # distribution, console script, image, compose project, k8s part-of label
    package: str  # the import package
    experiment: str
    registered_model: str

    @property
    def wheel(self) -> str:
        """The distribution's name as wheel and dist-info file names spell it."""
        return re.sub(r"[-_.]+", "_", self.name)

    @property
    def camel(self) -> str:
        """The package's name in class names (the base error class)."""
        return "".join(part.capitalize() for part in self.package.split("_"))


@dataclass
class Plan:
    """Every change the rename makes, computed before anything is written."""

    edits: dict[Path, tuple[bytes, bytes]] = field(default_factory=dict)  # path: (before, after)
    counts: dict[Path, int] = field(default_factory=dict)
    moves: list[tuple[Path, Path]] = field(default_factory=list)  # deepest first
    python_files: list[Path] = field(default_factory=list)  # edited .py files, where they end up
    leftovers: list[str] = field(default_factory=list)  # "path:line: text" the rename does not change
    notes: list[str] = field(default_factory=list)


def validate_name(name: str) -> str:
    if name == TEMPLATE_NAME:
        raise InitError(f"--name {name!r}: that is the template's own name; choose your project's")
    if len(name) > NAME_MAX or not NAME_RULE.fullmatch(name):
        raise InitError(
            f"--name {name!r}: must be lowercase letters and digits in parts joined by single hyphens, "
            f"starting with a letter, at most {NAME_MAX} characters (it is the distribution, the console "
            "script, the image and a Kubernetes label value)"
        )
    return name


def validate_package(package: str, taken: Iterable[str]) -> str:
    if package == TEMPLATE_PACKAGE:
        raise InitError(f"--package {package!r}: that is the template's own package; choose your project's")
    if not PACKAGE_RULE.fullmatch(package) or not package.isidentifier() or keyword.iskeyword(package):
        raise InitError(
            f"--package {package!r}: must be a Python identifier in lowercase (letters, digits, underscores, "
            "starting with a letter) and not a keyword"
        )
    if package in sys.stdlib_module_names:
        raise InitError(f"--package {package!r}: shadows the standard library module {package!r}")
    if package in RESERVED_PACKAGES:
        raise InitError(f"--package {package!r}: the repository's own {package}/ directory has that name")
    if package in set(taken):
        raise InitError(f"--package {package!r}: shadows the locked dependency {package!r} (uv.lock)")
    return package


def locked_imports(root: Path) -> set[str]:
    """The locked distributions' names as imports would spell them (a rough, cheap guard against shadowing)."""
    lock = root / "uv.lock"
    if not lock.is_file():
        return set()
    names = re.findall(r'^name = "([^"]+)"$', lock.read_text(encoding="utf-8"), flags=re.MULTILINE)
    return {re.sub(r"[-.]+", "_", found).lower() for found in names}


def tracking_names(params: str) -> dict[str, str]:
    """`tracking:` experiment and registered_model from params.yaml, read without a YAML library."""
    section = re.search(r"^tracking:\n((?:[ \t]+.*\n|[ \t]*\n)*)", params + "\n", flags=re.MULTILINE)
    if section is None:
        return {}
    found = re.findall(r"^[ \t]+(experiment|registered_model):[ \t]*['\"]?([^'\"#\s]+)", section[1], re.MULTILINE)
    return dict(found)


def _git(root: Path, *args: str) -> str:
    git = shutil.which("git")
    if git is None:
        raise InitError("git: not found on PATH (init renames the files git tracks)")
    done = subprocess.run([git, *args], cwd=root, capture_output=True, text=True, check=False)  # noqa: S603 (git, fixed args)
    if done.returncode != 0:
        raise InitError(f"{root}: not a git work tree (init renames the files git tracks): {done.stderr.strip()}")
    return done.stdout


def check_tree(root: Path) -> list[PurePosixPath]:
    """The tracked files of a clean, not yet renamed template tree (else one line saying why not)."""
    top = Path(_git(root, "rev-parse", "--show-toplevel").strip())
    if top.resolve() != root.resolve():
        raise InitError(f"{root}: not the top of its git work tree ({top}); run init there")
    if not (root / "src" / TEMPLATE_PACKAGE).is_dir():
        raise InitError(f"{root}: already renamed: there is no src/{TEMPLATE_PACKAGE} package to rename")
    dirty = [line[3:] for line in _git(root, "status", "--porcelain", "--untracked-files=all").splitlines()]
    if dirty:
        shown = ", ".join(dirty[:SHOWN]) + (f" and {len(dirty) - SHOWN} more" if len(dirty) > SHOWN else "")
        raise InitError(
            f"{root}: uncommitted changes ({shown}): commit or stash them first (git stash -u), "
            "so the rename is one diff of its own"
        )
    return [PurePosixPath(name) for name in _git(root, "ls-files", "-z").split("\0") if name]


def substitution(names: Names, old_tracking: dict[str, str]) -> Callable[[str], tuple[str, int]]:
    """A function rewriting every spelling of the template's (and its tracking) names in a text."""
    spellings = {
        # A wheel or dist-info file name (`<dist>-<version>...`) spells the distribution, not the package.
        TEMPLATE_PACKAGE + "-": names.wheel + "-",
        TEMPLATE_PACKAGE: names.package,
        TEMPLATE_NAME: names.name,
        TEMPLATE_PACKAGE.upper(): names.package.upper(),
        "".join(word.capitalize() for word in _WORDS): names.camel,
    }
    alternatives = [re.escape(TEMPLATE_PACKAGE) + r"-(?=[0-9*])"]
    alternatives += [re.escape(spelling) for spelling in list(spellings)[1:]]
    # MLflow names are replaced only where hyphenated: a hyphenated token cannot be a Python identifier,
    # so replacing it everywhere cannot touch code (a plain word such as `model` would).
    wanted = {"experiment": names.experiment, "registered_model": names.registered_model}
    for key, old in old_tracking.items():
        if "-" in old and old != wanted[key]:
            spellings.setdefault(old, wanted[key])
            alternatives.append(r"(?<![\w-])" + re.escape(old) + r"(?![\w-])")
    pattern = re.compile("|".join(alternatives))

    def rewrite(text: str) -> tuple[str, int]:
        return pattern.subn(lambda match: spellings[match[0]], text)

    return rewrite


def _set_tracking(params: str, names: Names) -> str:
    """params.yaml's own tracking values, whatever they were (even plain words the substitution skips)."""
    wanted = {"experiment": names.experiment, "registered_model": names.registered_model}

    def section(found: re.Match[str]) -> str:
        return re.sub(
            r"^([ \t]+)(experiment|registered_model):[ \t]*\S+",
            lambda line: f"{line[1]}{line[2]}: {wanted[line[2]]}",
            found[0],
            flags=re.MULTILINE,
        )

    return re.sub(r"^tracking:\n(?:[ \t]+.*\n|[ \t]*\n)*", section, params, flags=re.MULTILINE)


def _plan_file(
    plan: Plan, root: Path, name: PurePosixPath, rewrite: Callable[[str], tuple[str, int]], names: Names
) -> None:
    """One tracked file's new content (binary files are left alone, and reported if they name the template)."""
    path = root / name
    before = path.read_bytes()
    try:
        text = before.decode("utf-8")
    except UnicodeDecodeError:
        if LEFTOVER.search(before.decode("latin-1")):
            plan.leftovers.append(f"{name}: a binary file that names the template (not edited)")
        return
    after, count = rewrite(text)
    if name == PurePosixPath("params.yaml"):
        tracked = _set_tracking(after, names)
        count, after = count + int(tracked != after), tracked
    if after != text:
        plan.edits[path] = (before, after.encode("utf-8"))
        plan.counts[path] = count
        if name.suffix == ".py":
            plan.python_files.append(root.joinpath(*(rewrite(part)[0] for part in name.parts)))
    plan.leftovers += [
        f"{name}:{n}: {line.strip()}" for n, line in enumerate(after.splitlines(), 1) if LEFTOVER.search(line)
    ]


def plan_rename(root: Path, names: Names, files: list[PurePosixPath]) -> Plan:
    """Everything the rename changes, in memory: file contents, then the paths that move."""
    plan = Plan()
    params_path = root / "params.yaml"
    old_tracking = tracking_names(params_path.read_text(encoding="utf-8")) if params_path.is_file() else {}
    rewrite = substitution(names, old_tracking)
    for key, old in old_tracking.items():
        if "-" not in old:
            plan.notes.append(f"tracking.{key} {old!r} is a plain word: renamed in params.yaml only")
    for name in files:
        path = root / name
        if not str(name).startswith(NEVER_EDITED) and path.is_file() and not path.is_symlink():
            _plan_file(plan, root, name, rewrite, names)
    moved = {
        prefix
        for name in files
        for prefix in (PurePosixPath(*name.parts[:depth]) for depth in range(1, len(name.parts) + 1))
        if rewrite(prefix.name)[0] != prefix.name
    }
    for prefix in sorted(moved, key=lambda p: (-len(p.parts), str(p))):
        source = root / prefix
        target = source.with_name(rewrite(prefix.name)[0])
        if target.exists():
            raise InitError(f"{target.relative_to(root)}: already exists; the rename would overwrite it")
        plan.moves.append((source, target))
    return plan


def apply(plan: Plan) -> None:
    """Write the plan; on any failure put back what was written, then raise."""
    written: list[Path] = []
    moved: list[tuple[Path, Path]] = []
    current: Path | None = None
    try:
        for path, (_, after) in plan.edits.items():
            current = path
            scratch = path.with_name(f".{path.name}.init-tmp")
            scratch.write_bytes(after)
            shutil.copymode(path, scratch)
            scratch.replace(path)
            written.append(path)
        for source, target in plan.moves:
            current = source
            source.rename(target)
            moved.append((source, target))
    except OSError as exc:
        for source, target in reversed(moved):
            target.rename(source)
        for path in written:
            path.write_bytes(plan.edits[path][0])
        if current is not None:
            with contextlib.suppress(OSError):
                current.with_name(f".{current.name}.init-tmp").unlink(missing_ok=True)
        raise InitError(f"{current}: could not be written ({exc}); the tree was put back as it was") from exc


def tidy(root: Path, files: list[Path]) -> str:
    """Sort imports and re-wrap lines in the edited Python files, with ruff where it is installed.

    A new name sorts differently (`from pkg.errors import ConfigError, <Camel>Error`) and a longer one can
    push a line past the limit: ruff's import sorting and formatter settle both, as `make format` would.
    """
    local = root / ".venv" / "bin" / "ruff"
    ruff = str(local) if local.is_file() else shutil.which("ruff")
    if ruff is None or not files:
        return "ruff not found: run `make format` once `make install` has set up the environment"
    names = [str(path) for path in files]
    for command in ([ruff, "check", "--fix", "--select", "I", "--quiet", *names], [ruff, "format", "--quiet", *names]):
        done = subprocess.run(command, cwd=root, capture_output=True, text=True, check=False)  # noqa: S603 (ruff)
        if done.returncode != 0:
            return f"`{' '.join(command[:3])}` failed ({done.stderr.strip() or done.stdout.strip()}): run `make format`"
    return f"imports sorted and lines re-wrapped in {len(files)} Python files (ruff)"


def _say(line: str) -> None:
    sys.stdout.write(line + "\n")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=f"{TEMPLATE_NAME} init",
        description="Make the template your project: rename the package, the console script, the image, "
        "the MLflow experiment and registered model, and the docs, in one reviewable change. Needs a clean "
        "git work tree; a tree already renamed is refused.",
    )
    parser.add_argument("--name", required=True, help="the project's name: distribution, command, image")
    parser.add_argument("--package", help="the import package (default: the name with '_' for '-')")
    parser.add_argument("--experiment", help="the MLflow experiment (default: the name)")
    parser.add_argument("--registered-model", help="the MLflow registered model (default: the name)")
    parser.add_argument("--root", type=Path, default=Path(), help="the project's top directory (default: .)")
    parser.add_argument("--dry-run", action="store_true", help="list what would change, change nothing")
    return parser


def run(args: argparse.Namespace) -> Plan:
    root: Path = args.root.resolve()
    name = validate_name(args.name)
    package = validate_package(args.package or name.replace("-", "_"), locked_imports(root))
    names = Names(name, package, args.experiment or name, args.registered_model or name)
    for option, value in (("--experiment", names.experiment), ("--registered-model", names.registered_model)):
        if not value or any(ch.isspace() or ch in "'\"#:" for ch in value):
            raise InitError(f"{option} {value!r}: must be non-empty, without spaces, quotes, '#' or ':'")
    plan = plan_rename(root, names, check_tree(root))
    verb = "would" if args.dry_run else "did"
    for path, count in plan.counts.items():
        _say(f"{verb} edit {path.relative_to(root)} ({count} replacements)")
    for source, target in plan.moves:
        _say(f"{verb} move {source.relative_to(root)} -> {target.relative_to(root)}")
    for note in plan.notes:
        _say(f"note: {note}")
    for leftover in plan.leftovers:
        _say(f"left as is: {leftover}")
    if args.dry_run:
        return plan
    apply(plan)
    _say(tidy(root, plan.python_files))
    _say(
        f"renamed {TEMPLATE_NAME} to {name} (package {package}): {len(plan.edits)} files edited, "
        f"{len(plan.moves)} moved. Next: review with `git status`; `make install` (the environment, for the "
        "new package), `make test`, then `dvc repro` "
        "(stage commands changed) and commit everything."
    )
    return plan


def _rename(args: argparse.Namespace) -> None:
    run(args)  # it prints what it does as it goes; the plan it returns is not the command's output


def main(argv: list[str] | None = None) -> int:
    return run_command("init", _parser(), argv, _rename)


if __name__ == "__main__":
    raise SystemExit(main())
