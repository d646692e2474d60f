"""The package structure the README's architecture section describes, held against the code.

Read from the source with :mod:`ast` (nothing is imported): which cuas modules each module
imports, at module level and inside functions alike. The rules: no import cycle between modules
(counting module-level imports: a function-level import is how an optional dependency is
deferred, never how a cycle is hidden, and that is checked too); each package imports only what
its layer allows; no module is over the size a reader can hold.
"""

from __future__ import annotations

import ast
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "cuas"
#: "About 600 lines" (issue 13): a module this long is several concepts.
MAX_MODULE_LINES = 620

#: package (or top-level module) -> packages and modules it must never import, even lazily.
#: The numeric core knows nothing of messages, sensors or classification; sensors and outputs
#: know nothing of the engine between them; nothing but the command line imports the command
#: line.
FORBIDDEN: dict[str, set[str]] = {
    "cuas.tracking": {"cuas.wire", "cuas.classify", "cuas.fusion", "cuas.sensors", "cuas.bus",
                      "cuas.record", "cuas.outputs", "cuas.eval", "cuas.sim", "cuas.cli",
                      "cuas.sapient"},
    "cuas.classify": {"cuas.tracking", "cuas.fusion", "cuas.sensors", "cuas.bus", "cuas.record",
                      "cuas.outputs", "cuas.eval", "cuas.sim", "cuas.cli", "cuas.sapient"},
    "cuas.sensors": {"cuas.tracking", "cuas.fusion", "cuas.classify", "cuas.outputs",
                     "cuas.eval", "cuas.cli"},
    "cuas.record": {"cuas.tracking", "cuas.fusion", "cuas.classify", "cuas.sensors",
                    "cuas.outputs", "cuas.eval", "cuas.sim", "cuas.cli", "cuas.sapient"},
    "cuas.outputs": {"cuas.tracking", "cuas.fusion", "cuas.sensors", "cuas.sim", "cuas.eval",
                     "cuas.cli"},
    "cuas.eval": {"cuas.tracking", "cuas.fusion", "cuas.sensors", "cuas.outputs", "cuas.sim",
                  "cuas.cli", "cuas.sapient"},
    "cuas.sim": {"cuas.tracking", "cuas.fusion", "cuas.classify", "cuas.outputs", "cuas.cli"},
    "cuas.fusion": {"cuas.outputs", "cuas.eval", "cuas.sim", "cuas.cli"},
    "cuas.sapient": {"cuas.tracking", "cuas.fusion", "cuas.classify", "cuas.sensors",
                     "cuas.outputs", "cuas.eval", "cuas.sim", "cuas.cli"},
    # The browser console reads the track stream like any consumer (through cuas.outputs).
    "cuas.web": {"cuas.tracking", "cuas.fusion", "cuas.classify", "cuas.sensors", "cuas.record",
                 "cuas.eval", "cuas.sim", "cuas.cli", "cuas.sapient", "cuas.federation"},
    # Reports read recordings (cuas.record) and the site config; they never run the engine.
    "cuas.report": {"cuas.tracking", "cuas.fusion", "cuas.classify", "cuas.sensors",
                    "cuas.outputs", "cuas.eval", "cuas.sim", "cuas.cli", "cuas.sapient"},
}
#: The foundation every package may use; it imports none of the packages above (the one
#: exception: the configuration asks the sensor registry what each kind's settings are).
FOUNDATION = {"cuas.errors", "cuas.wire", "cuas.config", "cuas.geo", "cuas.bus",
              "cuas.sdnotify", "cuas.vocabulary", "cuas.validation", "cuas.backoff", "cuas.zones"}
FOUNDATION_MAY_IMPORT = {"cuas.sensors.registry"}


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


@cache
def modules() -> dict[str, Path]:
    return {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _resolve(name: str) -> str | None:
    """The cuas module an imported dotted name refers to (a module, or a name in one)."""
    mods = modules()
    while name and name not in mods:
        name = name.rpartition(".")[0]
    return name or None


@cache
def imports(module: str, top_level_only: bool) -> frozenset[str]:
    """cuas modules ``module`` imports (``top_level_only``: not inside functions)."""
    tree = ast.parse(modules()[module].read_text(), filename=str(modules()[module]))
    nodes: list[ast.AST] = list(tree.body) if top_level_only else list(ast.walk(tree))
    if top_level_only:  # module level includes if/try blocks, not function bodies, and not
        # ``if TYPE_CHECKING:`` (annotations only: no import happens at run time)
        nodes = [n for top in tree.body if not isinstance(
            top, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef) and not (
                isinstance(top, ast.If) and "TYPE_CHECKING" in ast.unparse(top.test))
            for n in ast.walk(top)]
    found: set[str] = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [f"{node.module}.{a.name}" for a in node.names]
        else:
            continue
        for n in names:
            if n.startswith("cuas"):
                target = _resolve(n)
                if target and target != module:
                    found.add(target)
    return frozenset(found)


def _within(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def test_no_import_cycles() -> None:
    """Tarjan's strongly connected components over module-level imports."""
    graph = {m: imports(m, True) for m in modules()}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                cycles.append(sorted(comp))

    for v in graph:
        if v not in index:
            visit(v)
    assert cycles == []


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_package_imports_only_what_its_layer_allows(package: str) -> None:
    bad = sorted(f"{m} -> {t}" for m in modules() if _within(m, package)
                 for t in imports(m, False)
                 if any(_within(t, f) for f in FORBIDDEN[package]))
    assert bad == []


def _foundation(module: str) -> bool:
    return any(_within(module, f) for f in FOUNDATION)


def test_foundation_imports_no_package_above_it() -> None:
    bad = sorted(f"{m} -> {t}" for m in modules() if _foundation(m)
                 for t in imports(m, False)
                 if not _foundation(t) and t not in FOUNDATION_MAY_IMPORT)
    assert bad == []


def test_only_the_command_line_imports_the_command_line() -> None:
    bad = sorted(f"{m} -> {t}" for m in modules() if not _within(m, "cuas.cli")
                 for t in imports(m, False) if _within(t, "cuas.cli"))
    assert bad == []


def test_no_module_is_over_about_600_lines() -> None:
    long = {m: n for m, p in modules().items()
            if (n := len(p.read_text().splitlines())) > MAX_MODULE_LINES}
    assert long == {}


def test_every_package_says_what_it_owns() -> None:
    """Each package's ``__init__`` opens with a docstring (what it owns, what it may import)."""
    bare = [m for m, p in modules().items() if p.name == "__init__.py"
            and not ast.get_docstring(ast.parse(p.read_text()))]
    assert bare == []


def test_the_rules_see_the_code() -> None:
    """Guards against a test that cannot fail: the parser finds known imports."""
    assert "cuas.tracking.tracker" in modules()
    assert "cuas.errors" in imports("cuas.wire.codec", True)
    assert any(_within(t, "cuas.tracking") for m in modules() if _within(m, "cuas.fusion")
               for t in imports(m, False))


def test_every_public_exception_is_a_cuas_error_in_the_error_module() -> None:
    """One error tree: public exception classes live in cuas/errors.py and derive from
    CuasError (private control-flow signals, ``_Name``, may stay where they are used)."""
    import inspect

    from cuas import errors

    outside = sorted(f"{m}.{node.name}" for m, p in modules().items() if m != "cuas.errors"
                     for node in ast.walk(ast.parse(p.read_text())) if isinstance(node, ast.ClassDef)
                     and not node.name.startswith("_")
                     and any(ast.unparse(b).endswith(("Error", "Exception")) for b in node.bases))
    assert outside == []
    tree = [c for _, c in inspect.getmembers(errors, inspect.isclass)
            if issubclass(c, BaseException) and c.__module__ == "cuas.errors"]
    assert len(tree) >= 10 and all(issubclass(c, errors.CuasError) for c in tree)
