"""The package's shape, as ARCHITECTURE.md states it: which part may import which, who prints,
and how long a module may grow. Read from the source with ``ast``, function-local imports included."""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "regctl"
MAX_LINES = 500
FRAMEWORKS = ("typer", "click", "rich")
# the two fast paths of the command line each load one backend's own lookup, nothing of the API
FAST_PATHS = {"regctl.cli.fastpath", "regctl.cli.completion"}


def modules():
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        yield name, path


def imports_of(name: str, path: Path):
    """Every module ``name`` imports (absolute names), with the line it does so on."""
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                module = f"{base}.{node.module}" if node.module else base
            else:
                module = node.module or ""
            yield module, node.lineno
            for alias in node.names:  # `from regctl.core import errors` imports regctl.core.errors
                yield f"{module}.{alias.name}", node.lineno


def part_of(module: str) -> str:
    """The part of the package a module belongs to: cli, core, backends.<kind>, api or root."""
    parts = module.split(".")
    if module == "regctl.__main__":
        return "cli"  # python -m regctl: the command line's entry
    if parts[:2] == ["regctl", "backends"] and len(parts) > 2:
        return "backends." + parts[2]
    if len(parts) > 1 and parts[1] in ("cli", "core", "backends"):
        return parts[1]
    if len(parts) > 1 and parts[1] in ("api", "push", "versionfiles"):
        return "api"
    return "root"


def allowed(importer: str, imported: str) -> bool:
    """The import rules of ARCHITECTURE.md."""
    source, target = part_of(importer), part_of(imported)
    if target == "root" or source == target:
        return True  # regctl itself (__version__, the lazy exports); a part's own modules
    if target == "core":
        return True  # everything may use the core
    if source == "core":
        return False  # the core imports nothing but the core
    if source.startswith("backends."):
        return False  # a backend: the core and itself, never another backend, the API or the CLI
    if source == "api":
        return target.startswith("backends")  # the library opens the chosen backend
    if source == "cli":
        return target == "api" or (importer in FAST_PATHS and target.startswith("backends"))
    return False


def test_every_import_follows_the_rules():
    broken = []
    for name, path in modules():
        for imported, line in imports_of(name, path):
            if imported.startswith("regctl.") and not allowed(name, imported):
                broken.append(f"{path.relative_to(PACKAGE.parent)}:{line}: {name} imports {imported}")
    assert not broken, "\n".join(broken)


def test_only_the_cli_loads_typer_click_or_rich():
    found = [f"{name}:{line}: {imported}" for name, path in modules() if part_of(name) != "cli"
             for imported, line in imports_of(name, path) if imported.split(".")[0] in FRAMEWORKS]
    assert not found, found


def test_only_the_cli_prints():
    found = []
    for name, path in modules():
        if part_of(name) == "cli":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "print":
                found.append(f"{name}:{node.lineno}: print()")
            if (isinstance(node, ast.Attribute) and node.attr in ("stdout", "stderr")
                    and isinstance(node.value, ast.Name) and node.value.id == "sys"):
                found.append(f"{name}:{node.lineno}: sys.{node.attr}")
    assert not found, found


@pytest.mark.parametrize("name,path", list(modules()), ids=[n for n, _ in modules()])
def test_no_module_is_longer_than_the_limit(name, path):
    lines = len(path.read_text(encoding="utf-8").splitlines())
    assert lines <= MAX_LINES, f"{path.relative_to(PACKAGE.parent)} has {lines} lines (split it by concern)"


def test_the_rules_catch_what_they_forbid():
    assert not allowed("regctl.backends.sqlite.backend", "regctl.backends.file.resolve")
    assert not allowed("regctl.core.digest", "regctl.backends.file.layout")
    assert not allowed("regctl.cli.app", "regctl.backends.file.store")
    assert not allowed("regctl.core.journal", "regctl.cli.render")
    assert allowed("regctl.cli.fastpath", "regctl.backends.file.resolve")
    assert allowed("regctl.api", "regctl.backends.rest.backend")
    assert allowed("regctl.backends.rest.client", "regctl.core.errors")
