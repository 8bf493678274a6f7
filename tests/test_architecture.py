"""The package's shape, checked from its source: public APIs of our dependencies only, the SDK configured in one
place, imports pointing one way (no cycles), and the library never reaching into its demo."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "agentvitals"

# The documented home of incubating semantic conventions (GenAI and hardware names), used by OpenTelemetry's own
# GenAI instrumentations: the one underscore path we accept (see agentvitals/semconv.py).
ALLOWED_PRIVATE = {"opentelemetry.semconv._incubating"}
# Only these use the SDK: the bootstrap, and the span processors it adds (task accounting, router decisions on
# model-call spans). Instrumentation code uses the API.
SDK_USERS = {"agentvitals._sdk", "agentvitals._accounting", "agentvitals.routing._spans"}


def modules() -> Iterator[tuple[str, Path, ast.Module]]:
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        yield name, path, ast.parse(path.read_text(encoding="utf-8"))


def imports(tree: ast.Module) -> Iterator[tuple[ast.AST, str, list[str]]]:
    """(node, module, imported names) for every import, wherever it is."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node, alias.name, []
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node, node.module, [alias.name for alias in node.names]


def _private(module: str) -> bool:
    if any(module == allowed or module.startswith(allowed + ".") for allowed in ALLOWED_PRIVATE):
        return False
    return any(part.startswith("_") and not part.startswith("__") for part in module.split("."))


def test_no_private_names_of_dependencies_are_imported_or_read() -> None:
    found = []
    for _name, path, tree in modules():
        external_aliases = set()
        for node, module, names in imports(tree):
            if module.split(".")[0] == "agentvitals":
                continue
            if _private(module):
                found.append(f"{path.name}:{node.lineno} imports {module}")
            found.extend(f"{path.name}:{node.lineno} imports {module}.{n}" for n in names
                         if n.startswith("_") and not n.startswith("__"))
            if isinstance(node, ast.Import):
                external_aliases.update(alias.asname or alias.name.split(".")[0] for alias in node.names)
            else:
                external_aliases.update(alias.asname or alias.name for alias in node.names)  # type: ignore[attr-defined]
        for node in ast.walk(tree):
            if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
                    and node.value.id in external_aliases and node.attr.startswith("_")
                    and not node.attr.startswith("__")):
                found.append(f"{path.name}:{node.lineno} reads {node.value.id}.{node.attr}")
    assert not found, "\n".join(found)


def _type_only(tree: ast.Module) -> set[ast.AST]:
    """Imports made for type annotations only (inside ``if TYPE_CHECKING:``)."""
    return {child for node in ast.walk(tree) if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)
            for child in ast.walk(node)}


def test_only_the_bootstrap_and_the_accounting_use_the_sdk() -> None:
    found = [f"{name}: {module}" for name, _path, tree in modules() for node, module, _names in imports(tree)
             if module.startswith("opentelemetry.sdk") and node not in _type_only(tree) and not any(
                 name == allowed or name.startswith(allowed + ".") for allowed in SDK_USERS)]
    assert not found, found


def test_the_library_never_imports_its_demo() -> None:
    found = [f"{name}: {module}" for name, _path, tree in modules() for _node, module, _names in imports(tree)
             if module.startswith(("demo_agent", "agentvitals.demo"))]
    assert not found, found


def _module_level_imports(name: str, tree: ast.Module, known: set[str]) -> set[str]:
    """Our modules imported when ``name`` is imported (not inside functions or TYPE_CHECKING blocks)."""
    found: set[str] = set()
    package = name if (PACKAGE / Path(*name.split(".")[1:]) / "__init__.py").exists() else name.rsplit(".", 1)[0]
    for node in tree.body:
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            continue
        for child in ast.walk(node) if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef,
                                                             ast.ClassDef)) else ():
            if isinstance(child, ast.ImportFrom):
                base = child.module or ""
                if child.level:
                    anchor = package.split(".")
                    base = ".".join(anchor[: len(anchor) - child.level + 1] + ([base] if base else []))
                for alias in child.names:
                    candidate = f"{base}.{alias.name}"
                    found.add(candidate if candidate in known else base)
            elif isinstance(child, ast.Import):
                found.update(alias.name for alias in child.names)
    return {module for module in found if module in known and module != name}


def test_no_import_cycles() -> None:
    parsed = {name: tree for name, _path, tree in modules()}
    graph = {name: _module_level_imports(name, tree, set(parsed)) for name, tree in parsed.items()}
    state: dict[str, int] = {}

    def visit(node: str, trail: list[str]) -> None:
        state[node] = 1
        for target in sorted(graph[node]):
            if state.get(target) == 1:
                pytest.fail("import cycle: " + " -> ".join([*trail[trail.index(target):], target]))
            if target not in state:
                visit(target, [*trail, target])
        state[node] = 2

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])
