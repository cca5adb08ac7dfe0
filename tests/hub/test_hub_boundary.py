"""The hub depends on the box's code only through the wire contract and the declared privacy API.

Every module under ``central/`` is parsed (not imported) and each ``edge`` import collected,
at module level and inside functions: allowed are ``edge.wire.*`` (the MQTT/HTTP contract),
``edge.privacy.*`` (the redaction a subject-access export runs) and ``edge.config`` (the
processing register reads the boxes' config files). Anything else fails, naming the module,
line and import.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CENTRAL = ROOT / "central"
ALLOWED_PACKAGES = ("edge.wire", "edge.privacy")
ALLOWED_MODULES = ("edge.config",)


def allowed(name: str) -> bool:
    return name in ALLOWED_MODULES or any(
        name == p or name.startswith(p + ".") for p in ALLOWED_PACKAGES)


def edge_imports(path: Path) -> list[tuple[int, str]]:
    """``(line, dotted name)`` of every ``edge`` module ``path`` imports (``from edge import x``
    counts as ``edge.x``)."""
    out: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names if a.name.split(".")[0] == "edge"]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if node.module == "edge":
                out += [(node.lineno, f"edge.{a.name}") for a in node.names]
            elif node.module.startswith("edge."):
                out.append((node.lineno, node.module))
    return out


def test_the_walk_sees_imports_inside_functions(tmp_path: Path) -> None:
    src = tmp_path / "m.py"
    src.write_text("import edge.wire.keys\nfrom edge import detect\n\n"
                   "def f():\n    from edge.clips.encode import encode\n    import edge\n")
    found = edge_imports(src)
    assert found == [(1, "edge.wire.keys"), (2, "edge.detect"), (5, "edge.clips.encode"), (6, "edge")]
    assert [n for _, n in found if not allowed(n)] == ["edge.detect", "edge.clips.encode", "edge"]


def test_central_imports_only_the_wire_contract_and_the_privacy_api() -> None:
    modules = sorted(CENTRAL.rglob("*.py"))
    assert len(modules) > 30, modules  # the walk found the hub
    found = {p: edge_imports(p) for p in modules}
    assert any(n.startswith("edge.privacy.") for imports in found.values() for _, n in imports)
    bad = [f"{p.relative_to(ROOT)}:{line} imports {name}"
           for p, imports in found.items() for line, name in imports if not allowed(name)]
    assert not bad, ("the hub may import edge.wire.*, edge.privacy.* and edge.config only:\n"
                     + "\n".join(bad))


def test_health_reexports_the_wire_vitals() -> None:
    imports = [n for _, n in edge_imports(CENTRAL / "web" / "health.py")]
    assert imports == ["edge.wire.vitals"], imports
