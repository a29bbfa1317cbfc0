"""The flows read code and never run it: they import no module that runs jobs."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import jobtrail.flows

FLOWS = Path(jobtrail.flows.__file__).parent
#: The modules the flows may import beside their own: values and the path language.
ALLOWED = ("jobtrail.flows", "jobtrail.expect", "jobtrail.errors", "jobtrail.text", "jobtrail.records")
#: What runs jobs; named so a failure says plainly what went wrong.
RUNTIME = ("jobtrail.app", "jobtrail.jobs", "jobtrail.context", "jobtrail.worker",
           "jobtrail.execution", "jobtrail.store", "jobtrail.runners", "jobtrail.paths")

# The package's __init__ gathers the public names (App among them), so the interpreter is
# handed the jobtrail package without running it: what gets loaded is then exactly what
# the flows import.
IMPORT_EVERY_MODULE = """
import importlib, importlib.util, pkgutil, sys, types
spec = importlib.util.find_spec("jobtrail")
package = types.ModuleType("jobtrail")
package.__path__ = list(spec.submodule_search_locations)
sys.modules["jobtrail"] = package
flows = importlib.import_module("jobtrail.flows")
for found in pkgutil.walk_packages(flows.__path__, "jobtrail.flows."):
    importlib.import_module(found.name)
print("\\n".join(sorted(name for name in sys.modules if name.startswith("jobtrail."))))
"""


def under(module: str, packages: tuple[str, ...]) -> bool:
    """Whether *module* is one of *packages* or inside one of them."""
    return any(module == name or module.startswith(name + ".") for name in packages)


def module_name(path: Path) -> str:
    """The dotted name of the flows module in the file *path*."""
    parts = path.relative_to(FLOWS.parent.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_by(path: Path) -> set[str]:
    """Every module the file *path* names in an import, wherever the import stands
    (under ``if TYPE_CHECKING:`` and inside functions too)."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    return imports_in(path.read_text(encoding="utf-8"), package)


def imports_in(source: str, package: str) -> set[str]:
    """Every jobtrail module *source*, a module of *package*, names in an import."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                base = ".".join([*parts[: len(parts) - node.level + 1], *filter(None, [base])])
            found.add(base)
    return {module for module in found if under(module, ("jobtrail",))}


def test_importing_every_flows_module_loads_no_runtime_module() -> None:
    """Every module of jobtrail.flows, imported in a fresh interpreter, loads only the flows,
    the path language and value modules: no app, jobs, context, worker, execution or store."""
    result = subprocess.run([sys.executable, "-c", IMPORT_EVERY_MODULE], capture_output=True,
                            text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    loaded = set(result.stdout.split())
    assert {module_name(path) for path in FLOWS.rglob("*.py")} <= loaded
    assert sorted(name for name in loaded if under(name, RUNTIME)) == []
    assert sorted(name for name in loaded if not under(name, ALLOWED)) == []


def test_no_flows_module_names_a_runtime_module_in_an_import() -> None:
    """No import statement under jobtrail.flows, not even one for type checking only,
    names a module outside the flows, the path language and the value modules."""
    files = sorted(FLOWS.rglob("*.py"))
    assert len(files) > 10
    typed = "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from jobtrail.app import App\n"
    assert "jobtrail.app" in imports_in(typed, "jobtrail.flows")  # type-only imports count
    named = {f"{path.relative_to(FLOWS)}: {module}"
             for path in files for module in imported_by(path) if not under(module, ALLOWED)}
    assert sorted(named) == []
