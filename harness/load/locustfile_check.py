"""What can be known about a locustfile without importing it (importing would import Locust,
which patches this process for gevent): that it is Python, that the modules it imports at its
top level exist (found, not imported: ``find_spec`` on the top-level name, in its own
directory first as Locust does, then on this interpreter's path, which the Locust process
shares), and that the user classes an experiment names are defined (or imported) in it.

At run time the Locust process imports it for real; a locustfile that fails there, or a class
that is not a User, ends the run as bad input (exit 2) all the same (runner.py).
"""
from __future__ import annotations

import ast
import importlib.machinery
import importlib.util
import sys
from pathlib import Path

MAX_BYTES = 1024 * 1024


def locustfile_problems(path: Path, user_classes: list[str], *, extra_paths: list[str] | None = None,
                        imports_pending: bool = False) -> list[tuple[int | None, str]]:
    """(line, message) for each problem; empty when nothing is wrong that can be seen statically.

    ``extra_paths``: where the manifest's ``load.requirements``/``load.python`` put modules;
    ``imports_pending``: requirements not installed yet, so a module not found may still come."""
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
    # A locustfile that extends sys.path itself may import from there: its imports are not judged.
    imports = [] if b"sys.path" in source or imports_pending else _top_level_imports(tree)
    missing_modules = [(m, line) for m, line in imports if not _findable(m, path.parent, extra_paths or [])]
    if missing_modules:
        where = " nor in load.requirements/load.python" if extra_paths else ""
        return [(line, f"the locustfile {path} imports '{name}', which is not installed for {sys.executable} "
                       f"(nor a module beside the locustfile{where}); declare it in the manifest's "
                       "load.requirements, or name an interpreter that has it in load.python")
                for name, line in missing_modules[:1]]
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


def _top_level_imports(tree: ast.Module) -> list[tuple[str, int]]:
    """Absolute imports that run unconditionally (not under try/if: those may be optional)."""
    found: list[tuple[str, int]] = []
    for node in tree.body:
        if isinstance(node, ast.Import):
            found += [(alias.name.split(".")[0], node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.module.split(".")[0], node.lineno))
    return found


def _findable(name: str, beside: Path, extra: list[str]) -> bool:
    try:
        if importlib.machinery.PathFinder.find_spec(name, [str(beside), *extra]) is not None:
            return True
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False
