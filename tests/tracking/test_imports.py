"""The numeric core stays numeric: cuas.tracking imports only config, geo and itself from cuas
(never wire, classify, sensors or fusion), so a federation node or a benchmark can run it on
arrays alone."""

from __future__ import annotations

import ast
from pathlib import Path

import cuas.tracking

ALLOWED = ("cuas.config", "cuas.geo", "cuas.tracking")


def _cuas_imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.split(".")[0] == "cuas")
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module.split(".")[0] == "cuas":
                found.add(node.module)
                if node.module == "cuas":  # `from cuas import wire` names a module
                    found.update(f"cuas.{a.name}" for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level:
            found.add("relative import")
    return found


def test_tracking_imports_nothing_but_config_geo_and_itself() -> None:
    root = Path(cuas.tracking.__file__).parent
    files = sorted(root.glob("*.py"))
    assert len(files) >= 10
    bad = {f.name: sorted(m for m in _cuas_imports(f)
                          if m == "cuas" or not m.startswith(ALLOWED) or m == "relative import")
           for f in files}
    assert {k: v for k, v in bad.items() if v} == {}


def test_the_import_check_sees_a_forbidden_import(tmp_path: Path) -> None:
    probe = tmp_path / "probe.py"
    probe.write_text("from cuas import wire\nimport cuas.classify.inputs\n", encoding="utf-8")
    assert _cuas_imports(probe) == {"cuas", "cuas.wire", "cuas.classify.inputs"}
