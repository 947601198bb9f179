"""The code's shape: every module's imports at its top, where a reader sees what it depends on.

An import inside a function hides a dependency, and often a cycle that wants a module
split (STYLE.md). No module of app/ has one, except where the import is optional (eventlet
only where it runs) or a real cycle (the package's factory and the worker command), each
with a comment saying so on the line above (or at the end of the line).
"""
import ast
from pathlib import Path

import pytest

APP = Path(__file__).resolve().parent.parent / "app"


def _modules():
    yield from sorted(APP.rglob("*.py"))


def _imports_inside_functions(tree):
    for scope in ast.walk(tree):
        if isinstance(scope, (ast.FunctionDef, ast.AsyncFunctionDef)):
            for node in ast.walk(scope):
                if isinstance(node, (ast.Import, ast.ImportFrom)):
                    yield node


def _explained(lines, node):
    line = lines[node.lineno - 1]
    above = lines[node.lineno - 2].strip() if node.lineno > 1 else ""
    return "#" in line or above.startswith("#")


@pytest.mark.parametrize("path", list(_modules()), ids=lambda p: str(p.relative_to(APP)))
def test_imports_inside_functions_only_with_a_reason(path):
    source = path.read_text()
    lines = source.splitlines()
    hidden = sorted({f"line {node.lineno}: {lines[node.lineno - 1].strip()}"
                     for node in _imports_inside_functions(ast.parse(source)) if not _explained(lines, node)})
    assert not hidden, f"{path.relative_to(APP)} imports inside a function without saying why: {hidden}"


def _module_name(path):
    parts = list(path.relative_to(APP.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _top_level_imports():
    """``{module: modules of app/ it imports at its top}``, leaving out its own packages
    (a package's ``__init__`` runs before its modules whatever they import from it)."""
    paths = {_module_name(path): path for path in _modules()}
    graph = {}
    for name, path in paths.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        found = set()
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = package.split(".")[:package.count(".") + 2 - node.level]
                    base = ".".join(anchor + ([node.module] if node.module else []))
                found.update(f"{base}.{alias.name}" if f"{base}.{alias.name}" in paths else base
                             for alias in node.names)
            elif isinstance(node, ast.Import):
                found.update(alias.name for alias in node.names)
        ancestors = {name.rsplit(".", depth)[0] for depth in range(1, name.count(".") + 1)}
        graph[name] = {other for other in found if other in paths and other != name and other not in ancestors}
    return graph


def _cycles(graph):
    """The strongly connected components of more than one module (Tarjan)."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(module):
        index[module] = low[module] = len(index)
        stack.append(module)
        on_stack.add(module)
        for other in graph[module]:
            if other not in index:
                visit(other)
                low[module] = min(low[module], low[other])
            elif other in on_stack:
                low[module] = min(low[module], index[other])
        if low[module] == index[module]:
            component = []
            while not component or component[-1] != module:
                component.append(stack.pop())
                on_stack.discard(component[-1])
            if len(component) > 1:
                found.append(sorted(component))

    for module in graph:
        if module not in index:
            visit(module)
    return found


def test_the_modules_of_app_import_each_other_in_no_circle():
    """A cycle at the top of modules fails in some import order; one hidden in a function
    is a module that wants splitting (as backups' making, verifying and cataloguing once
    were, a batch's service and its job, and errors and the database settings)."""
    graph = _top_level_imports()
    assert graph["app.batches.jobs"] >= {"app.batches.runner", "app.batches.service"}  # the walk sees imports
    assert _cycles(graph) == []


def test_a_circle_of_imports_is_found():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_the_batch_job_named_by_the_service_is_the_one_jobs_defines():
    from rq.utils import import_attribute

    from app.batches import jobs, service

    assert import_attribute(service.RUN_BATCH) is jobs.run_batch
