"""What can be known about a locustfile without importing it (importing would import Locust,
which patches this process for gevent): that it is Python, and that the user classes an
experiment names are defined (or imported) in it.

At run time the Locust process imports it for real; a locustfile that fails there, or a class
that is not a User, ends the run as bad input (exit 2) all the same (runner.py).
"""
from __future__ import annotations

import ast
from pathlib import Path

MAX_BYTES = 1024 * 1024


def locustfile_problems(path: Path, user_classes: list[str]) -> list[tuple[int | None, str]]:
    """(line, message) for each problem; empty when nothing is wrong that can be seen statically."""
    try:
        with path.open("rb") as f:
            source = f.read(MAX_BYTES + 1)
    except OSError as exc:
        return [(None, f"cannot read the locustfile {path}: {exc.strerror or exc}")]
    if len(source) > MAX_BYTES:
        return []  # too big to check here; the Locust process will say
    try:
        tree = ast.parse(source, filename=str(path))
    except SyntaxError as exc:
        return [(exc.lineno, f"the locustfile {path} is not valid Python: {exc.msg} (line {exc.lineno})")]
    except ValueError as exc:  # NUL bytes in the source
        return [(None, f"the locustfile {path} is not valid Python: {exc}")]
    names, star = _top_level_names(tree)
    if star:
        return []  # `from x import *`: any name may come from there
    missing = [n for n in user_classes if n not in names]
    if missing:
        classes = sorted(n for n, kind in names.items() if kind == "class")
        return [(None, f"user class {', '.join(repr(m) for m in missing)} is not defined or imported in {path}; "
                       f"classes there: {', '.join(classes) or 'none'}")]
    return []


def _top_level_names(tree: ast.Module) -> tuple[dict[str, str], bool]:
    names: dict[str, str] = {}
    star = False
    for node in tree.body:
        if isinstance(node, ast.ClassDef):
            names[node.name] = "class"
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            for alias in node.names:
                if alias.name == "*":
                    star = True
                else:
                    names[(alias.asname or alias.name).split(".")[0]] = "import"
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for t in targets:
                if isinstance(t, ast.Name):
                    names[t.id] = "assignment"
        elif isinstance(node, (ast.If, ast.Try)):
            # Classes defined under `if`/`try` at the top level still exist at import time.
            inner = ast.Module(body=[*getattr(node, "body", []), *getattr(node, "orelse", [])], type_ignores=[])
            more, more_star = _top_level_names(inner)
            names.update(more)
            star = star or more_star
    return names, star
