"""dvc.yaml's code deps are exactly the package modules each stage runs, so `dvc repro` never says
"up to date" over stale results after a change to a module a stage imports, however indirectly.

A stage runs `python -m mlops_template.stages.<name>`: every module that imports (statically, lazy
imports and package `__init__.py` files included; see tests/support/imports.py) must be in its deps.
Non-code deps (data, contract.yaml, artifacts) are the stage's own business and are not checked here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.imports import (
    PACKAGE,
    import_chain,
    imported_modules,
    module_file,
    package_closure,
    package_modules,
)
from tests.support.workspace import REPO

CODE = f"src/{PACKAGE}/"


def _stages() -> dict[str, Any]:
    stages: dict[str, Any] = yaml.safe_load((REPO / "dvc.yaml").read_text(encoding="utf-8"))["stages"]
    return stages


def _stage_module(name: str, stage: dict[str, Any]) -> str:
    prefix = f"python -m {PACKAGE}.stages."
    assert stage["cmd"].startswith(prefix), f"{name}: cmd must start with {prefix!r} to be checked here"
    return str(stage["cmd"].removeprefix("python -m ").split()[0])


def _code_it_runs(module: str) -> dict[str, str]:
    """Each module file (repository-relative) that running `module` executes -> the import chain to it."""
    pulled_by = package_closure(module)
    files = {}
    for name in pulled_by:
        path = module_file(name)
        assert path is not None
        files[path.relative_to(REPO).as_posix()] = " -> ".join(import_chain(pulled_by, name))
    return files


@pytest.mark.parametrize("name", sorted(_stages()))
def test_a_stage_depends_on_every_module_it_runs(name: str) -> None:
    stage = _stages()[name]
    runs = _code_it_runs(_stage_module(name, stage))
    missing = [f"  {path}  (imported via {chain})" for path, chain in sorted(runs.items()) if path not in stage["deps"]]
    if missing:
        pytest.fail(f"dvc.yaml stage {name!r} runs code its deps lack; add:\n" + "\n".join(missing), pytrace=False)


@pytest.mark.parametrize("name", sorted(_stages()))
def test_a_stage_depends_on_no_code_it_does_not_run(name: str) -> None:
    """A deleted or moved module would leave a dep DVC cannot hash; an unused one re-runs the stage for nothing."""
    stage = _stages()[name]
    runs = _code_it_runs(_stage_module(name, stage))
    stale = [dep for dep in stage["deps"] if dep.startswith(CODE) and dep not in runs]
    gone = [dep for dep in stale if not (REPO / dep).exists()]
    if gone:
        pytest.fail(f"dvc.yaml stage {name!r} depends on code that no longer exists: {gone}", pytrace=False)
    if stale:
        pytest.fail(f"dvc.yaml stage {name!r} depends on code it never imports: {stale}", pytrace=False)


@pytest.mark.parametrize("name", sorted(_stages()))
def test_a_stages_code_deps_are_its_own_module_then_the_rest_sorted(name: str) -> None:
    """The order dvc.yaml's header promises, so a reader finds a module (and a merge conflict is one line)."""
    code = [dep for dep in _stages()[name]["deps"] if dep.startswith(CODE)]
    own = f"{CODE}stages/{name}.py"
    assert code[:1] == [own], f"dvc.yaml stage {name!r}: the first code dep must be {own}"
    assert code[1:] == sorted(code[1:]), f"dvc.yaml stage {name!r}: code deps after {own} must be sorted"


def test_the_package_imports_no_tests_or_benchmarks() -> None:
    leaks = {m: i for m in package_modules() for i in imported_modules(m) if i.split(".")[0] in {"tests", "benchmarks"}}
    assert leaks == {}


def test_the_import_graph_follows_lazy_relative_and_package_imports(tmp_path: Path) -> None:
    """The helper itself, on a made-up package: what runs is found, what never runs is not."""
    files = {
        "pkg/__init__.py": "",
        "pkg/a.py": "def later():\n    from pkg.sub import b\n",  # lazy, and `from package import module`
        "pkg/sub/__init__.py": "from . import c\n",
        "pkg/sub/b.py": (
            "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import pkg.never\nelse:\n    from ..d import x\n"
        ),
        "pkg/sub/c.py": "",
        "pkg/d.py": "import json\nx = 1\n",
        "pkg/never.py": "",
    }
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text, encoding="utf-8")
    pulled_by = package_closure("pkg.a", package="pkg", src=tmp_path)
    assert pulled_by == {
        "pkg.a": None,
        "pkg": "pkg.a",
        "pkg.sub.b": "pkg.a",
        "pkg.sub": "pkg.sub.b",
        "pkg.d": "pkg.sub.b",
        "pkg.sub.c": "pkg.sub",
    }
    assert import_chain(pulled_by, "pkg.sub.c") == ["pkg.a", "pkg.sub.b", "pkg.sub", "pkg.sub.c"]
    assert "json" in imported_modules("pkg.d", src=tmp_path)
