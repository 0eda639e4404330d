"""Read a YAML file and remember the line of every field, so errors can point at it.

Only parses; validation lives with the models (experiment.py, system.py). Input files are
untrusted (a typo, a generated file, a hostile one), so reading them is bounded: a regular
file only (never a FIFO, a device or a directory, which would block or never end), at most
``MAX_BYTES``, nesting at most ``MAX_DEPTH``, at most ``MAX_NODES`` nodes once aliases are
expanded (a "billion laughs" file expands exponentially in whatever walks it later), no
recursive alias, and at most ``MAX_CPU_S`` of CPU time. While walking the parsed nodes it
also rejects what YAML accepts but no field can mean: a key given twice (YAML keeps the last
one silently), NaN and infinities, integers beyond 64 bits, NUL characters in strings. Every
problem is an ``InputError`` naming the file and the line.
"""
from __future__ import annotations

import math
import os
import re
import stat
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from .errors import InputError, Problem

Loc = tuple[str | int, ...]

MAX_BYTES = 256 * 1024
"""An experiment or a manifest is a few KB: 256 KiB is far more than any needs."""
MAX_DEPTH = 64
MAX_NODES = 50_000
"""Nodes once every alias is expanded (what validation will walk)."""
MAX_CPU_S = 2.0
"""CPU time (not wall time: a busy machine must not turn a good file into a bad one)."""
INT64 = (-(2**63), 2**63 - 1)

_Loader: type[Any] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_FLOAT_TAG = "tag:yaml.org,2002:float"
_INT_TAG = "tag:yaml.org,2002:int"
_STR_TAG = "tag:yaml.org,2002:str"
_INTS = yaml.SafeLoader("")
"""Only its stateless ``construct_yaml_int`` is used: YAML 1.1's ints (0x, 0o, _, 1:30...) as the loader reads them."""
_NONFINITE = re.compile(r"^[-+]?\.(inf|Inf|INF|nan|NaN|NAN)$")


@dataclass
class YamlDocument:
    path: Path
    data: Any
    lines: dict[Loc, int]  # field location -> 1-based line

    def line_of(self, loc: Loc) -> int | None:
        # Walk up to the nearest located ancestor: a missing field points at its parent.
        while True:
            if loc in self.lines:
                return self.lines[loc]
            if not loc:
                return None
            loc = loc[:-1]


def format_loc(loc: Loc) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def is_file(path: Path) -> bool:
    """``Path.is_file`` for paths from input files: a name too long, a NUL or a loop is simply "no file"."""
    try:
        return path.is_file()
    except (OSError, ValueError):
        return False


def read_yaml(path: str | Path, what: str = "file") -> YamlDocument:
    path = Path(path)
    file = str(path)
    text = _decode(_read_bounded(path, what), file)
    started = time.thread_time()
    loader = _Loader(text)
    try:
        try:
            node = loader.get_single_node()
        except yaml.YAMLError as exc:
            raise InputError([_yaml_problem(exc, text)], file=file) from None
        except RecursionError:
            raise InputError(f"invalid YAML: nested deeper than {MAX_DEPTH} levels", file=file) from None
        lines: dict[Loc, int] = {}
        if node is None:
            return YamlDocument(path=path, data=None, lines=lines)
        problems = _Walk(started).check(node)
        if problems:
            raise InputError(problems, file=file)
        _index_lines(node, (), lines)
        try:
            data = loader.construct_document(node)
        except yaml.YAMLError as exc:
            raise InputError([_yaml_problem(exc, text)], file=file) from None
        except (ValueError, TypeError, OverflowError) as exc:  # a value the constructor cannot build
            raise InputError(f"invalid YAML: {exc}", file=file) from None
    finally:
        loader.dispose()
    return YamlDocument(path=path, data=data, lines=lines)


def _read_bounded(path: Path, what: str) -> bytes:
    file = str(path)
    try:
        # O_NONBLOCK: opening a FIFO must not wait for a writer; it is refused below anyway.
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        raise InputError(f"no such {what}: {path}", file=file) from None
    except OSError as exc:
        raise InputError(f"cannot read {what}: {exc.strerror or exc}", file=file) from None
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            kind = ("a directory" if stat.S_ISDIR(mode) else "a FIFO" if stat.S_ISFIFO(mode) else
                    "a device" if stat.S_ISCHR(mode) or stat.S_ISBLK(mode) else "a socket" if stat.S_ISSOCK(mode)
                    else "not a regular file")
            raise InputError(f"cannot read {what}: it is {kind}, not a regular file", file=file)
        chunks: list[bytes] = []
        size = 0
        while size <= MAX_BYTES:  # /proc files say size 0: count what comes, not what stat says
            chunk = os.read(fd, 65536)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        if size > MAX_BYTES:
            raise InputError(f"the {what} is larger than {MAX_BYTES // 1024} KiB; experiments and manifests are a "
                             "few KB (is this the right file?)", file=file)
        return b"".join(chunks)
    except OSError as exc:
        raise InputError(f"cannot read {what}: {exc.strerror or exc}", file=file) from None
    finally:
        os.close(fd)


def _decode(data: bytes, file: str) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise InputError([Problem(path="", message=f"not UTF-8 text (byte 0x{data[exc.start]:02x})", line=line)],
                         file=file) from None


def _yaml_problem(exc: yaml.YAMLError, text: str) -> Problem:
    """A line, never a character offset; the problem and what the parser was doing."""
    mark = getattr(exc, "problem_mark", None)
    line: int | None = mark.line + 1 if mark is not None else None
    if isinstance(exc, yaml.reader.ReaderError):
        line = text.count("\n", 0, max(0, exc.position)) + 1
        char = exc.character if isinstance(exc.character, str) else chr(exc.character)
        return Problem(path="", message=f"invalid YAML: character {char!r} (U+{ord(char):04X}) is not allowed "
                                        "in a YAML file", line=line)
    problem = getattr(exc, "problem", None)
    context = getattr(exc, "context", None)
    reason = problem or str(exc).splitlines()[0]
    if context and problem:
        reason = f"{problem} ({context})"
    if "maximum nesting depth" in str(reason):
        reason = f"nested deeper than the parser allows (this harness allows {MAX_DEPTH} levels)"
    return Problem(path="", message=f"invalid YAML: {reason}", line=line)


class _Walk:
    """One pass over the node graph, iterative (no recursion limit), before anything is built from it."""

    def __init__(self, started: float):
        self.started = started
        self.problems: list[Problem] = []
        self.size: dict[int, int] = {}

    def check(self, root: yaml.Node) -> list[Problem]:
        if self._expanded_size(root) is None:
            return self.problems
        self._values(root)
        return self.problems

    def _add(self, node: yaml.Node, message: str) -> None:
        self.problems.append(Problem(path="", message=message, line=node.start_mark.line + 1))

    def _time(self, node: yaml.Node) -> bool:
        if time.thread_time() - self.started > MAX_CPU_S:
            self._add(node, f"invalid YAML: took more than {MAX_CPU_S:g} s of CPU to read; simplify the file")
            return False
        return True

    def _expanded_size(self, root: yaml.Node) -> int | None:
        """Nodes once every alias is expanded, memoised per node (so linear in the file), depth-first
        without recursion; None (with a problem) for a recursive alias, too deep or too big."""
        on_path: set[int] = set()
        stack: list[tuple[yaml.Node, int, bool]] = [(root, 1, False)]
        visits = 0
        while stack:
            node, depth, done = stack.pop()
            key = id(node)
            if done:
                on_path.discard(key)
                self.size[key] = 1 + sum(self.size[id(c)] for c in _children(node))
                if self.size[key] > MAX_NODES:
                    self._add(root, f"invalid YAML: more than {MAX_NODES} values, counting each alias as "
                                    "what it expands to (an alias bomb?)")
                    return None
                continue
            if key in self.size:
                continue
            if key in on_path:
                self._add(node, "invalid YAML: an alias refers to a node that contains it (a recursive alias)")
                return None
            if depth > MAX_DEPTH:
                self._add(node, f"invalid YAML: nested deeper than {MAX_DEPTH} levels")
                return None
            visits += 1
            if visits % 1000 == 0 and not self._time(node):
                return None
            on_path.add(key)
            stack.append((node, depth, True))
            for child in _children(node):
                if id(child) in on_path:
                    self._add(child, "invalid YAML: an alias refers to a node that contains it (a recursive alias)")
                    return None
                if id(child) not in self.size:
                    stack.append((child, depth + 1, False))
        return self.size[id(root)]

    def _values(self, root: yaml.Node) -> None:
        """Duplicate keys, NaN and infinities, integers beyond 64 bits, NUL in strings: each once per node."""
        seen: set[int] = set()
        stack = [root]
        while stack:
            node = stack.pop()
            if id(node) in seen:
                continue
            seen.add(id(node))
            if isinstance(node, yaml.ScalarNode):
                self._scalar(node)
            elif isinstance(node, yaml.MappingNode):
                keys: dict[str, int] = {}
                for key_node, _ in node.value:
                    if not isinstance(key_node, yaml.ScalarNode) or key_node.tag == "tag:yaml.org,2002:merge":
                        continue
                    first = keys.get(key_node.value)
                    if first is not None:
                        self._add(key_node, f"key '{key_node.value}' is given twice (first on line {first}); YAML "
                                            "would silently keep only the last one")
                    else:
                        keys[key_node.value] = key_node.start_mark.line + 1
            stack.extend(_children(node))

    def _scalar(self, node: yaml.ScalarNode) -> None:
        value = node.value
        if node.tag == _FLOAT_TAG and _NONFINITE.match(value):
            self._add(node, f"'{value}' (NaN or infinity) is not a usable number here; write a finite value")
        elif node.tag == _INT_TAG:
            try:
                number = _INTS.construct_yaml_int(node)
            except ValueError:  # more digits than Python converts
                number = None
            if number is None or not INT64[0] <= number <= INT64[1]:
                self._add(node, f"{value[:30]}{'...' if len(value) > 30 else ''} is beyond a 64-bit integer; "
                                "no field takes a number that large")
        elif "\x00" in value:
            self._add(node, "a NUL character is not allowed in a value")
        elif node.tag == _FLOAT_TAG:
            try:
                if not math.isfinite(float(value.replace("_", ""))):
                    self._add(node, f"'{value}' overflows to infinity; write a finite value")
            except ValueError:
                pass


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        return [n for pair in node.value for n in pair]
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return []


def _index_lines(root: yaml.Node, loc: Loc, lines: dict[Loc, int]) -> None:
    """Field location -> line, for every location (aliases included: bounded by MAX_NODES)."""
    stack: list[tuple[yaml.Node, Loc]] = [(root, loc)]
    while stack:
        node, here = stack.pop()
        lines.setdefault(here, node.start_mark.line + 1)
        if isinstance(node, yaml.MappingNode):
            for key_node, value_node in node.value:
                key = key_node.value if isinstance(key_node, yaml.ScalarNode) else str(key_node.start_mark.line)
                lines[here + (key,)] = key_node.start_mark.line + 1
                stack.append((value_node, here + (key,)))
        elif isinstance(node, yaml.SequenceNode):
            for i, item in enumerate(node.value):
                stack.append((item, here + (i,)))


def problems_from_validation(exc: ValidationError, doc: YamlDocument | None, prefix: Loc = ()) -> list[Problem]:
    """Translate pydantic's errors into file/field/line problems a person can act on."""
    problems = []
    for err in exc.errors(include_url=False):
        loc = prefix + tuple(p for p in err["loc"] if not (isinstance(p, str) and p.startswith("function-")))
        msg = err["msg"]
        if err["type"] == "unknown_field":
            loc = loc + (err["ctx"]["field"],)
        elif err["type"] == "extra_forbidden":
            msg = "unknown field"
        elif err["type"] == "missing":
            msg = "required field is missing"
        elif msg.startswith("Value error, "):
            msg = msg[len("Value error, "):]
        elif err["type"] in ("literal_error", "enum"):
            msg = f"{msg} (got {err.get('input')!r})"
        line = doc.line_of(loc) if doc else None
        problems.append(Problem(path=format_loc(loc), message=msg, line=line))
    return problems

