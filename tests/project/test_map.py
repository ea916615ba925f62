"""The maps are true: README's "What is where" and ARCHITECTURE.md follow the package's tree."""

from __future__ import annotations

import re
import tomllib

from tests.support.workspace import REPO

PACKAGE = REPO / "src" / "mlops_template"
LAYERS = ("core", "data", "model", "stages", "release", "experiments", "serving", "monitoring", "tools")


def _readme_map() -> str:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    section = text.split("## What is where", 1)[1].split("\n## ", 1)[0]
    return section.split("```", 2)[1]


def _entry(block: str, name: str) -> str:
    """The lines of the map that describe `src/mlops_template/<name>/` (up to the next entry)."""
    found = re.search(rf"^  {name}/ .*?(?=^ {{0,2}}\S)", block + "\nEND", flags=re.M | re.S)
    assert found, f"README's map has no entry for src/mlops_template/{name}/"
    return found.group(0)


def _modules(layer: str) -> set[str]:
    """The modules and subpackages directly inside one layer's folder."""
    folder = PACKAGE / layer
    names = {p.stem for p in folder.glob("*.py") if p.stem not in {"__init__", "__main__"}}
    return names | {p.name for p in folder.iterdir() if (p / "__init__.py").is_file()}


def test_every_top_level_package_is_a_layer_of_the_contract_and_of_both_maps() -> None:
    found = {p.name for p in PACKAGE.iterdir() if (p / "__init__.py").is_file()}
    assert found == set(LAYERS)
    config = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    contracts = config["tool"]["importlinter"]["contracts"]
    layers = next(c["layers"] for c in contracts if c["type"] == "layers")
    named = {name.strip() for line in layers for name in line.split("|")}
    assert named == {*LAYERS, "cli"}
    architecture = (REPO / "ARCHITECTURE.md").read_text(encoding="utf-8")
    for layer in LAYERS:
        assert f"`{layer}`" in architecture, f"ARCHITECTURE.md's layer table lacks {layer}"


def test_readme_map_names_every_module_of_each_layer() -> None:
    block = _readme_map()
    missing = [
        f"{layer}/{name}"
        for layer in LAYERS
        for name in sorted(_modules(layer))
        if not re.search(rf"\b{name}\b", _entry(block, layer))
    ]
    assert missing == [], f"README's 'What is where' does not name: {missing}"


def test_the_maps_name_no_module_that_is_gone() -> None:
    """Every `src/mlops_template/...` path and `mlops_template.x.y` module the docs name exists."""
    docs = [REPO / "README.md", REPO / "ARCHITECTURE.md", REPO / "deploy" / "README.md"]
    gone = []
    for doc in docs:
        text = doc.read_text(encoding="utf-8")
        paths = re.findall(r"src/mlops_template/[\w/]+(?:\.py)?", text)
        gone += [f"{doc.name}: {path}" for path in paths if not (REPO / path).exists()]
        for dotted in re.findall(r"\bmlops_template(?:\.\w+)+", text):
            parts = dotted.split(".")[1:]
            # the longest prefix that is a module or package; what follows may be an attribute
            known = any(
                (PACKAGE.joinpath(*parts[:n]).with_suffix(".py")).is_file() or PACKAGE.joinpath(*parts[:n]).is_dir()
                for n in range(len(parts), 0, -1)
            )
            if not known:
                gone.append(f"{doc.name}: {dotted}")
    assert gone == []
