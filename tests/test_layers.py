"""The stage order of docs/architecture.md, enforced: no module imports a later stage, and no
module of ``syndicator/`` is over 400 lines.

Imports are read from the source (every ``import`` and ``from … import``, at any depth, so a
function-level import counts too); a module belongs to the stage of its longest listed prefix.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "syndicator"
MAX_LINES = 400

# Earlier stages first; a module may import its own stage and earlier ones only. Keep in step
# with the table in docs/architecture.md.
STAGES: list[tuple[str, ...]] = [
    ("syndicator", "syndicator.vocabulary", "syndicator.config", "syndicator.progress",
     "syndicator.parallel"),
    ("syndicator.content",),
    ("syndicator.catalog",),
    ("syndicator.feeds", "syndicator.pages"),
    ("syndicator.output",),
    ("syndicator.store",),
    ("syndicator.engine",),
    ("syndicator.push",),
    ("syndicator.announce",),
    ("syndicator.console",),
    ("syndicator.web",),
    ("syndicator.worker",),
    ("syndicator.cli", "syndicator.__main__"),
]  # fmt: skip


def _stage(module: str) -> int:
    best, found = -1, -1
    for number, prefixes in enumerate(STAGES):
        for prefix in prefixes:
            if (module == prefix or module.startswith(prefix + ".")) and len(prefix) > best:
                best, found = len(prefix), number
    assert found >= 0, f"{module} is in no stage: add it to STAGES and docs/architecture.md"
    return found


def _modules() -> dict[str, Path]:
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = path
    return found


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return {name for name in names if name == "syndicator" or name.startswith("syndicator.")}


MODULES = _modules()


@pytest.mark.parametrize("module", sorted(MODULES))
def test_no_import_from_a_later_stage(module: str):
    mine = _stage(module)
    later = sorted(
        name
        for name in _imports(MODULES[module])
        # "from syndicator.feeds import atom" names a module; "from x import f" a function.
        if (name in MODULES or name.rsplit(".", 1)[0] in MODULES) and _stage(name) > mine
    )
    assert later == [], f"{module} (stage {mine}) imports later stages: {later}"


@pytest.mark.parametrize("module", sorted(MODULES))
def test_no_module_over_400_lines(module: str):
    lines = len(MODULES[module].read_text(encoding="utf-8").splitlines())
    assert lines <= MAX_LINES, f"{module}: {lines} lines"


def test_the_stage_order_is_the_documented_one():
    doc = (PACKAGE.parent / "docs" / "architecture.md").read_text(encoding="utf-8")
    table = [line for line in doc.splitlines() if line.startswith("| ") and "`syndicator" in line]
    documented = [
        tuple(sorted(part.strip("` ") for part in line.split("|")[2].split(","))) for line in table
    ]
    assert documented == [tuple(sorted(prefixes)) for prefixes in STAGES]
