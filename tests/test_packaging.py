"""regctl imports nothing its declared dependencies do not bring.

The test environment holds far more (MLflow and its dependencies), so an import
of an undeclared package works here and fails on a plain ``pip install .``:
regctl 0.1's quick start failed that way on ``typing_extensions``. ``.ci/run``
proves the plain install for real (scripts/smoke.sh); this test catches the
mistake in the suite.
"""

import ast
import re
import sys
from importlib import metadata

import pytest
from conftest import REPO

tomllib = pytest.importorskip("tomllib")
requirements = pytest.importorskip("packaging.requirements")


def _name(requirement: str) -> str:
    return re.sub(r"[-_.]+", "-", requirements.Requirement(requirement).name).lower()


def dependency_closure() -> set:
    """Distributions a plain install of regctl brings: its dependencies and theirs (no extras)."""
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    todo = [r for r in project["dependencies"] if requirements.Requirement(r).marker is None
            or requirements.Requirement(r).marker.evaluate()]
    seen = set()
    while todo:
        name = _name(todo.pop())
        if name in seen:
            continue
        seen.add(name)
        for requirement in metadata.requires(name) or []:
            marker = requirements.Requirement(requirement).marker
            if marker is None or marker.evaluate({"extra": ""}):
                todo.append(requirement)
    return seen


def imported_modules() -> set:
    """Top-level names of every module regctl's source imports, lazy imports inside functions included."""
    names = set()
    for path in sorted((REPO / "regctl").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            if isinstance(node, ast.Import):
                names.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                names.add(node.module.split(".")[0])
    return names


# standard library modules of other CPython versions, each imported behind a fallback
OTHER_PYTHONS = {"_sha2"}  # 3.12's SHA-2 (3.11: _sha256): backends/file/layout.py, then hashlib


def test_regctl_imports_only_what_its_dependencies_bring():
    stdlib = sys.stdlib_module_names | OTHER_PYTHONS
    modules = {m for m in imported_modules() if m not in stdlib and m != "regctl"}
    assert {"typer", "click", "yaml"} <= modules
    providers = metadata.packages_distributions()
    closure = dependency_closure()
    undeclared = {m: providers.get(m) for m in sorted(modules)
                  if not any(_name(d) in closure for d in providers.get(m, []))}
    assert undeclared == {}, f"imported, but not brought by regctl's dependencies: {undeclared}"


def test_every_package_of_the_source_is_installed():
    """A plain ``pip install .`` installs the packages pyproject.toml lists: a new package left out of
    the list works in the editable install the tests use and is missing from a user's."""
    listed = set(tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]["packages"])
    found = {".".join(init.parent.relative_to(REPO).parts) for init in (REPO / "regctl").rglob("__init__.py")}
    assert found == listed
