"""docs/journal.md describes every record kind the engine writes into a journal."""
from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def written_kinds() -> set[str]:
    """Every literal first argument of a ``.write("kind", ...)`` call in harness/ (the journal's writer)."""
    kinds: set[str] = set()
    for path in (ROOT / "harness").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "write"
                    and node.args and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)
                    and node.args[0].value.replace("_", "").isalpha()):
                kinds.add(node.args[0].value)
    return kinds


def test_every_record_kind_written_is_described() -> None:
    doc = (ROOT / "docs" / "journal.md").read_text()
    kinds = written_kinds()
    assert {"run_started", "fault_applied", "proxy_created", "run_finished"} <= kinds  # the scan finds them
    missing = sorted(k for k in kinds if f"| `{k}` |" not in doc)
    assert not missing, f"docs/journal.md does not describe: {missing}"
