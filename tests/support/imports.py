"""The package's import graph, read statically from its source with `ast` (nothing is imported).

An edge is every `import` / `from ... import` in a module, wherever it sits: a lazy import inside a
function runs as surely as one at the top. Only `if TYPE_CHECKING:` blocks are skipped, since they
never run. `from pkg import name` is an edge to `pkg.name` when that is a module of its own (else
to `pkg`), and importing `a.b.c` executes `a/__init__.py` and `a/b/__init__.py` first, so those
are edges too. What this misses: `importlib.import_module` with a computed name.
"""

from __future__ import annotations

import ast
from collections import deque
from collections.abc import Iterator
from pathlib import Path

from tests.support.workspace import REPO

SRC = REPO / "src"
PACKAGE = "mlops_template"


def module_file(module: str, src: Path = SRC) -> Path | None:
    """The file that defines `module` under `src` (a package's `__init__.py`), or None if there is none."""
    base = src.joinpath(*module.split("."))
    for candidate in (base.with_name(base.name + ".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def package_modules(package: str = PACKAGE, src: Path = SRC) -> list[str]:
    """Every module of `package`, sorted by name."""
    names = []
    for path in sorted(src.joinpath(package).rglob("*.py")):
        parts = path.relative_to(src).with_suffix("").parts
        names.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return sorted(names)


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _runtime_nodes(node: ast.AST) -> Iterator[ast.AST]:
    """Every node below `node`, except the body of an `if TYPE_CHECKING:` (its `else` runs, so it stays)."""
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.If) and _is_type_checking(child.test):
            for statement in child.orelse:
                yield statement
                yield from _runtime_nodes(statement)
            continue
        yield child
        yield from _runtime_nodes(child)


def _from_base(node: ast.ImportFrom, module: str, is_package: bool) -> str:
    """The absolute module a `from X import ...` names (resolving `from . import` / `from ..x import`)."""
    if node.level == 0:
        return node.module or ""
    parts = module.split(".") if is_package else module.split(".")[:-1]
    parts = parts[: len(parts) - (node.level - 1)]
    return ".".join([*parts, node.module] if node.module else parts)


def imported_modules(module: str, src: Path = SRC) -> set[str]:
    """The absolute names of the modules `module` imports (any package, the standard library included)."""
    path = module_file(module, src)
    if path is None:
        raise LookupError(f"no module {module!r} under {src}")
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: set[str] = set()
    for node in _runtime_nodes(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = _from_base(node, module, path.name == "__init__.py")
            for alias in node.names:
                submodule = f"{base}.{alias.name}"
                found.add(submodule if module_file(submodule, src) else base)
    return found


def _enclosing_packages(module: str) -> list[str]:
    parts = module.split(".")
    return [".".join(parts[:end]) for end in range(1, len(parts))]


def package_closure(root: str, package: str = PACKAGE, src: Path = SRC) -> dict[str, str | None]:
    """Every module of `package` that running `root` executes, mapped to the module that pulls it in.

    `root` maps to None. Breadth first, so following the map back from any module gives a shortest
    import chain from `root`.
    """
    pulled_by: dict[str, str | None] = {root: None}
    queue = deque([root])
    while queue:
        current = queue.popleft()
        for name in sorted(imported_modules(current, src) | set(_enclosing_packages(current))):
            if name in pulled_by or not (name == package or name.startswith(package + ".")):
                continue
            if module_file(name, src) is None:
                raise LookupError(f"{current} imports {name}, which has no file under {src}")
            pulled_by[name] = current
            queue.append(name)
    return pulled_by


def import_chain(pulled_by: dict[str, str | None], module: str) -> list[str]:
    """The chain of imports from the closure's root down to `module`, root first."""
    chain = [module]
    while (importer := pulled_by[chain[-1]]) is not None:
        chain.append(importer)
    return chain[::-1]
