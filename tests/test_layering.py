"""Imports flow one way: scripts (the command line, reports) -> sim -> hw.

Parsed from the source, so an import hidden inside a function counts too,
and so does a module named in a string (``importlib.import_module``)."""
import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# package -> the packages it must never reach
FORBIDDEN = {"hw": ("layerpipe.sim", "layerpipe.scripts", "layerpipe.boards"),
             "sim": ("layerpipe.scripts",)}


def references(path, package, root=ROOT):
    """(line, module) of every module ``path`` imports or names in a string."""
    tree = ast.parse(path.read_text(), str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:          # relative: resolve against layerpipe.<package>[.sub...]
                parts = ["layerpipe", package, *path.relative_to(root / package).parent.parts]
                base = parts[:len(parts) - node.level + 1]
                yield node.lineno, ".".join(base + ([node.module] if node.module else []))
            else:
                yield node.lineno, node.module
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value.startswith("layerpipe."):
            yield node.lineno, node.value


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_imports_flow_one_way(package):
    bad = [f"{path.relative_to(ROOT)}:{line} {module}"
           for path in sorted((ROOT / package).rglob("*.py"))
           for line, module in references(path, package)
           if any(module == f or module.startswith(f + ".") for f in FORBIDDEN[package])]
    assert not bad, f"layerpipe.{package} must not import {FORBIDDEN[package]}: " + "; ".join(bad)


def test_the_check_sees_hidden_imports(tmp_path):
    """The parser finds an import inside a function and a relative one that climbs out of hw."""
    (tmp_path / "hw").mkdir()
    f = tmp_path / "hw" / "x.py"
    f.write_text("def f():\n    from ..sim import golden\n    import layerpipe.sim.train\n")
    found = [m for _, m in references(f, "hw", root=tmp_path)]
    assert found == ["layerpipe.sim", "layerpipe.sim.train"]
