"""The code's shape: every module's imports at its top, where a reader sees what it depends on.

An import inside a function hides a dependency, and often a cycle that wants a module
split (STYLE.md). The packages checked here have none, except imports that keep a heavy
or optional dependency off the import path, each with a comment saying so on the line
above (or at the end of the line).
"""
import ast
import subprocess
import sys
from pathlib import Path

import pytest

APP = Path(__file__).resolve().parent.parent / "app"
CHECKED = ["admin", "analytics", "audit.py", "backups", "comments", "events/routes.py", "models", "ops/health.py",
           "ops/metrics.py", "ops/perf.py", "ops/request_id.py", "projects", "search", "users"]


def _modules():
    for name in CHECKED:
        path = APP / name
        yield from sorted(path.rglob("*.py")) if path.is_dir() else [path]


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



@pytest.mark.parametrize("module", ["catalog", "verify", "create", "restore"])
def test_backup_modules_import_first_on_their_own(module):
    """Making, verifying and cataloguing backups once imported each other in a circle: a
    cycle at the top of modules fails in some import order, so try each one first."""
    done = subprocess.run([sys.executable, "-W", "error", "-c", f"import app.backups.{module}"], cwd=APP.parent,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
