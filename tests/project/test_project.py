"""The shipped project files agree with each other and with the code."""

from __future__ import annotations

import configparser
import importlib
from typing import Any

import pytest
import yaml

from tests.support.imports import imported_modules, package_modules
from tests.support.markers import NEEDS_MARKERS
from tests.support.workspace import EXAMPLE, REPO


def _dvc_yaml() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((REPO / "dvc.yaml").read_text(encoding="utf-8"))
    return loaded


def test_dvc_sends_no_analytics_and_checks_no_updates() -> None:
    config = configparser.ConfigParser()
    config.read(REPO / ".dvc" / "config")
    assert config["core"]["analytics"] == "false"
    assert config["core"]["check_update"] == "false"


def test_seed_remote_is_inside_the_repository_and_pinned() -> None:
    config = configparser.ConfigParser()
    config.read(REPO / ".dvc" / "config")
    assert config["'remote \"seed\"'"]["url"] == "storage"  # relative to .dvc/: .dvc/storage
    out = yaml.safe_load((REPO / "data.dvc").read_text(encoding="utf-8"))["outs"][0]
    assert out["remote"] == "seed"
    assert out["path"] == "data"
    stored = REPO / ".dvc" / "storage" / "files" / "md5" / out["md5"][:2] / out["md5"][2:]
    assert stored.is_file(), "the data version in data.dvc is not in the seed remote: run `dvc push data.dvc`"


def test_every_stage_runs_a_module_that_exists_and_depends_on_it() -> None:
    for name, stage in _dvc_yaml()["stages"].items():
        module = stage["cmd"].split()[2]
        assert stage["cmd"].startswith(f"python -m mlops_template.stages.{name} ")
        importlib.import_module(module)
        assert f"src/mlops_template/stages/{name}.py" in stage["deps"], f"{name} must depend on its own code"


def test_every_dependency_path_exists() -> None:
    produced = set()
    for stage in _dvc_yaml()["stages"].values():
        for kind in ("outs", "metrics", "plots"):
            for entry in stage.get(kind, []):
                produced.add(next(iter(entry)) if isinstance(entry, dict) else entry)
    for name, stage in _dvc_yaml()["stages"].items():
        for dep in stage["deps"]:
            assert dep in produced or dep == "data" or (REPO / dep).exists(), f"{name}: {dep} does not exist"


def test_every_params_section_a_stage_reads_exists() -> None:
    params = yaml.safe_load((REPO / "params.yaml").read_text(encoding="utf-8"))
    for name, stage in _dvc_yaml()["stages"].items():
        for section in stage["params"]:
            assert section in params, f"{name} lists params section {section!r}, which params.yaml lacks"


def test_every_output_persists_so_a_failed_stage_keeps_the_last_good_one() -> None:
    for name, stage in _dvc_yaml()["stages"].items():
        for kind in ("outs", "metrics", "plots"):
            for entry in stage.get(kind, []):
                assert isinstance(entry, dict), f"{name}: {entry} must be declared with persist: true"
                assert next(iter(entry.values()))["persist"] is True, f"{name}: {next(iter(entry))}"


def test_local_stores_and_environments_are_ignored() -> None:
    ignored = (REPO / ".gitignore").read_text(encoding="utf-8").split()
    for entry in ("/.venv/", "/.tools/", "/mlruns.db", "/mlartifacts/", ".hypothesis/"):
        assert entry in ignored


def test_readme_starts_with_the_two_commands() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    first_section = readme.split("\n## ")[1]
    assert first_section.startswith("Two commands")
    assert "make run" in first_section
    assert "make test" in first_section
    assert "make test" in (REPO / ".ci" / "run").read_text(encoding="utf-8")


def _diff_lines_missing(readme: str) -> list[str]:
    """Each -/+ line of the README's example diff that is not in the template's / the example's file."""
    block = readme.split("The heart of the diff", 1)[1].split("```diff\n", 1)[1].split("```", 1)[0]

    def settings(path: Any) -> set[str]:  # each line without its comment
        return {line.split(" #")[0].rstrip() for line in path.read_text(encoding="utf-8").splitlines()}

    missing, name = [], ""
    for line in block.splitlines():
        if line.startswith(" # "):
            name = line[3:]
            continue
        where = REPO / name if line.startswith("-") else EXAMPLE / name
        if line[1:] not in settings(where):
            missing.append(f"{line} ({where.relative_to(REPO)})")
    return missing


def test_the_readmes_example_diff_is_the_real_one() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert _diff_lines_missing(readme) == []
    assert _diff_lines_missing(readme.replace("+    impute: mean", "+    impute: median")) == [
        "+    impute: median (examples/loan_applications/params.yaml)"
    ]


def test_a_test_that_needs_dvc_a_server_docker_act_or_an_install_is_slow(request: pytest.FixtureRequest) -> None:
    """tests/conftest.py adds `slow` before -m selects: `pytest` alone runs none of them, `make test` all."""
    declared = {line.split(":")[0] for line in request.config.getini("markers")}
    assert {"slow", *NEEDS_MARKERS} <= declared
    needy = [item for item in request.session.items if any(item.get_closest_marker(m) for m in NEEDS_MARKERS)]
    assert [item.nodeid for item in needy if not item.get_closest_marker("slow")] == []
    if request.config.getoption("markexpr") == "not slow":  # the fast tier: `slow` was added before selecting
        assert [item.nodeid for item in needy] == []


def test_no_test_module_imports_a_test_module_or_a_conftest() -> None:
    """Shared helpers live in tests/support/: a test module or conftest imported elsewhere runs its
    fixtures and tests twice under two names, and ties one test's file to another's."""
    modules = package_modules("tests", REPO) + package_modules("benchmarks", REPO)
    imported = {m: sorted(imported_modules(m, REPO)) for m in modules}
    found = {
        module: name
        for module, names in imported.items()
        for name in names
        if name.split(".")[0] in {"tests", "benchmarks"} and name.split(".")[-1].startswith(("test_", "conftest"))
    }
    assert found == {}


def test_benchmarks_import_only_the_package_and_tests_import_no_benchmark() -> None:
    """A benchmark measures the package as a user installs it: nothing of tests/ in its path. Tests of the
    benchmarks' bookkeeping live in benchmarks/tests/ and are the only tests that import a benchmark."""
    bench_code = [m for m in package_modules("benchmarks", REPO) if not m.startswith("benchmarks.tests")]
    into_tests = {m: sorted(i for i in imported_modules(m, REPO) if i.split(".")[0] == "tests") for m in bench_code}
    into_benchmarks = {
        m: sorted(i for i in imported_modules(m, REPO) if i.split(".")[0] == "benchmarks")
        for m in package_modules("tests", REPO)
    }
    assert {m: found for m, found in into_tests.items() if found} == {}
    assert {m: found for m, found in into_benchmarks.items() if found} == {}
