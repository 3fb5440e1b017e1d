"""The package's layering, read from its source: no import cycles, and a Textual-free core."""

import ast
import pathlib

import pytest

PACKAGE = pathlib.Path(__file__).resolve().parent.parent / "cnnexplorer"


def _module_name(path: pathlib.Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(tree: ast.AST, module: str, is_package: bool, top_level_only: bool) -> set[str]:
    """Modules imported by ``tree``, leaving out ``if TYPE_CHECKING:`` blocks (and, with
    ``top_level_only``, imports inside functions, which run on first use)."""
    found: set[str] = set()
    package = module if is_package else module.rpartition(".")[0]

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            for child in node.orelse:
                visit(child)
            return
        if top_level_only and isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            return
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(
                    package.split(".")[: len(package.split(".")) - node.level + 1] + ([base] if base else [])
                )
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)  # `from pkg import submodule`
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return found


def _graph(top_level_only: bool) -> dict[str, set[str]]:
    sources = {_module_name(path): path for path in PACKAGE.rglob("*.py")}
    graph = {}
    for module, path in sources.items():
        tree = ast.parse(path.read_text(), str(path))
        imported = _imports(tree, module, path.name == "__init__.py", top_level_only)
        graph[module] = {name for name in imported if name in sources and name != module}
    return graph


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, str] = {}
    stack: list[str] = []

    def visit(module: str) -> list[str] | None:
        state[module] = "open"
        stack.append(module)
        for dependency in sorted(graph[module]):
            # A package's own submodules may import the package (its __init__ runs first).
            if module.startswith(dependency + "."):
                continue
            if state.get(dependency) == "open":
                return stack[stack.index(dependency) :] + [dependency]
            if dependency not in state:
                found = visit(dependency)
                if found:
                    return found
        stack.pop()
        state[module] = "done"
        return None

    for module in sorted(graph):
        if module not in state:
            found = visit(module)
            if found:
                return found
    return None


@pytest.mark.parametrize("top_level_only", [True, False], ids=["at-import", "including-deferred-imports"])
def test_the_package_has_no_import_cycles(top_level_only):
    graph = _graph(top_level_only)
    assert len(graph) > 40  # the walk found the package
    assert _cycle(graph) is None, " -> ".join(_cycle(graph) or [])


def test_the_cycle_finder_finds_a_cycle():
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None


def test_the_core_never_imports_the_app_or_textual():
    graph = _graph(top_level_only=False)
    for module, path in ((m, PACKAGE.parent / (m.replace(".", "/"))) for m in graph):
        if module.startswith("cnnexplorer.app") or module in ("cnnexplorer.cli", "cnnexplorer.__main__"):
            continue
        tree_path = path.with_suffix(".py") if path.with_suffix(".py").exists() else path / "__init__.py"
        imported = _imports(ast.parse(tree_path.read_text()), module, tree_path.name == "__init__.py", False)
        assert not any(name == "textual" or name.startswith(("textual.", "cnnexplorer.app")) for name in imported), (
            module
        )


@pytest.mark.parametrize(
    ("package", "forbidden"),
    [("cnnexplorer.runs", "cnnexplorer.train"), ("cnnexplorer.analysis", "cnnexplorer.render")],
    ids=["runs-never-imports-train", "analysis-never-imports-render"],
)
def test_a_lower_layer_never_imports_a_higher_one(package, forbidden):
    graph = _graph(top_level_only=False)
    lower = [module for module in graph if module == package or module.startswith(package + ".")]
    assert lower, package  # the walk found the package
    offenders = {
        module: sorted(name for name in graph[module] if name == forbidden or name.startswith(forbidden + "."))
        for module in lower
    }
    assert not {module: names for module, names in offenders.items() if names}
