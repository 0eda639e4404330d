"""Fuzzing `harness validate` with malformed experiments and manifests (hypothesis).

Every generated file must end in exit 0 or 2 within 5 s, with no traceback; the clearly
invalid classes (resource exhaustion, NaN and infinities, numbers beyond 64 bits, ports out
of range, duplicate keys and edges, self-upstreams and cycles, bad placeholders, bad variable
names, special files, unknown fields) must never exit 0. Run in-process for speed (well over
1,000 files per run: see ``EXAMPLES``), plus a sample through the real CLI in a subprocess.
"""
from __future__ import annotations

import contextlib
import copy
import io
import os
import resource
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from harness.cli import main

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = 400  # per test; three tests: 1,200 files a run
MAX_SECONDS = 5.0
BASE_EXPERIMENTS = sorted(p.name for p in (ROOT / "experiments").glob("*.yaml"))

# Values that no field can take whatever it is, each a "clearly invalid" class.
NASTY: list[tuple[str, Any]] = [
    ("nan", float("nan")), ("inf", float("inf")), ("-inf", float("-inf")),
    ("int beyond 64 bits", 2**64), ("int far beyond 64 bits", 10**40),
]
# Values that are wrong for most fields but may be right for some (never asserted invalid).
ODD: list[Any] = [-1, 0, 1, 65536, 2**31, 1e308, "", " ", "10 s", "-5s", "1e309", "nan", "inf", "x" * 5000,
                  "{nope}", "{unclosed", "{port.real}", "}", "a=b", [], {}, None, True, "yes", [1, [2, [3]]],
                  {"deep": {"er": {"still": 1}}}, "2s", "500ms", "99999999h", "../../etc/passwd", "é", "\u202e"]


@dataclass
class Case:
    text: bytes
    invalid: str | None
    """The clearly invalid class this case belongs to (it must exit 2), or None."""
    manifest: bytes | None = None


MEMORY_HEADROOM = 1_500_000_000
"""Bytes of address space the fuzzed validations may add to this process: an input that escapes the
reader's caps then fails here with MemoryError, instead of taking the shared machine's memory."""


@pytest.fixture(scope="module", autouse=True)
def memory_cap() -> Iterator[None]:
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    in_use = int(Path("/proc/self/statm").read_text().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    cap = in_use + MEMORY_HEADROOM
    if hard != resource.RLIM_INFINITY:
        cap = min(cap, hard)
    resource.setrlimit(resource.RLIMIT_AS, (cap, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("fuzz")
    shutil.copytree(ROOT / "targets" / "circuit-breaker", root / "system", ignore=shutil.ignore_patterns("__pycache__"))
    (root / "schemas").symlink_to(ROOT / "experiments" / "schemas")
    return root


def leaves(data: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    if isinstance(data, dict):
        for k, v in data.items():
            yield from leaves(v, path + (k,))
    elif isinstance(data, list):
        for i, v in enumerate(data):
            yield from leaves(v, path + (i,))
    if path:
        yield path


def put(data: Any, path: tuple[Any, ...], value: Any) -> None:
    for p in path[:-1]:
        data = data[p]
    data[path[-1]] = value


def drop(data: Any, path: tuple[Any, ...]) -> None:
    for p in path[:-1]:
        data = data[p]
    del data[path[-1]]


def dump(data: Any) -> bytes:
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=10_000).encode()


def base_experiment(name: str) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((ROOT / "experiments" / name).read_text())
    return data


def base_manifest() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((ROOT / "targets" / "circuit-breaker" / "system.yaml").read_text())
    return data


# -- mutations: each draws what it needs and says whether the result is clearly invalid -------

Mutation = Callable[[st.DrawFn, dict[str, Any]], tuple[bytes, str | None]]


def m_nasty_leaf(draw: st.DrawFn, data: dict[str, Any]) -> tuple[bytes, str | None]:
    path = draw(st.sampled_from(sorted(leaves(data), key=str)))
    label, value = draw(st.sampled_from(NASTY))
    put(data, path, value)
    if isinstance(value, float):  # safe_dump writes .nan/.inf: the YAML reader refuses them anywhere
        return dump(data), label
    return dump(data), label


def m_odd_leaf(draw: st.DrawFn, data: dict[str, Any]) -> tuple[bytes, str | None]:
    path = draw(st.sampled_from(sorted(leaves(data), key=str)))
    put(data, path, copy.deepcopy(draw(st.sampled_from(ODD))))
    return dump(data), None


def m_drop_key(draw: st.DrawFn, data: dict[str, Any]) -> tuple[bytes, str | None]:
    path = draw(st.sampled_from(sorted(leaves(data), key=str)))
    drop(data, path)
    return dump(data), None


def m_unknown_field(draw: st.DrawFn, data: dict[str, Any]) -> tuple[bytes, str | None]:
    mappings = [p for p in leaves(data) if isinstance(_get(data, p), dict)] + [()]
    path = draw(st.sampled_from(sorted(mappings, key=str)))
    _get(data, path)["zz_" + draw(st.text("abcxyz", min_size=1, max_size=6))] = 1
    # Where every key is a field of a model (not free-form: attributes, env, event fields, ...).
    strict = path in ((), ("load",), ("steady_state",)) or (len(path) == 2 and path[0] == "faults")
    return dump(data), "unknown field" if strict else None


def m_text(draw: st.DrawFn, data: dict[str, Any]) -> tuple[bytes, str | None]:
    """Byte-level damage: truncation, a stray character, a tab, a bad byte, a duplicated line."""
    text = dump(data)
    kind = draw(st.sampled_from(["truncate", "insert", "tab", "nul", "badbyte", "dupline", "bom"]))
    pos = draw(st.integers(0, max(0, len(text) - 1)))
    if kind == "truncate":
        return text[:pos], None
    if kind == "insert":
        return text[:pos] + draw(st.sampled_from([b":", b"- ", b"{", b"[", b"&a ", b"*a", b"!!python/object ", b"'", b'"',
                                                  b"? ", b"%YAML 1.1\n", b"---\n", b"|\n"])) + text[pos:], None
    if kind == "tab":
        return text[:pos] + b"\t" + text[pos:], None
    if kind == "nul":
        return text[:pos] + b"\x00" + text[pos:], "NUL byte"
    if kind == "badbyte":
        return text[:pos] + b"\xff\xfe" + text[pos:], "not UTF-8"
    if kind == "bom":
        return b"\xef\xbb\xbf" + text, None
    lines = text.split(b"\n")
    i = draw(st.integers(0, max(0, len(lines) - 2)))
    line = lines[i]
    if b":" in line and not line.lstrip().startswith(b"-") and not line.rstrip().endswith(b":"):
        # A "key: value" line twice at the same indentation: the same key twice in one mapping.
        lines.insert(i + 1, line)
        return b"\n".join(lines), "duplicate key"
    return text, None


def m_exhaustion(draw: st.DrawFn, data: dict[str, Any]) -> tuple[bytes, str | None]:
    kind = draw(st.sampled_from(["deep", "deep-map", "bomb", "recursive", "huge", "long-name"]))
    head = dump(data)
    if kind == "deep":
        n = draw(st.integers(65, 20_000))
        return head + b"extra: " + b"[" * n + b"]" * n + b"\n", "deep nesting"
    if kind == "deep-map":
        n = draw(st.integers(65, 3000))
        return head + b"extra: " + b"{a: " * n + b"1" + b"}" * n + b"\n", "deep nesting"
    if kind == "bomb":
        lines = [b"a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
        for i in range(1, draw(st.integers(6, 12))):
            refs = b", ".join([b"*a%d" % (i - 1)] * 10)
            lines.append(b"a%d: &a%d [%s]" % (i, i, refs))
        return head + b"\n".join(lines) + b"\n", "alias bomb"
    if kind == "recursive":
        return head + b"loop: &loop [1, *loop]\n", "recursive alias"
    if kind == "huge":
        return head + b"# " + b"x" * (300 * 1024) + b"\n", "oversized file"
    data["name"] = "n" * draw(st.integers(65, 5000))
    return dump(data), "overlong name"


def _get(data: Any, path: tuple[Any, ...]) -> Any:
    for p in path:
        data = data[p]
    return data


EXPERIMENT_MUTATIONS: list[Mutation] = [m_nasty_leaf, m_odd_leaf, m_odd_leaf, m_drop_key, m_unknown_field, m_text,
                                        m_text, m_exhaustion]


def m_manifest_semantics(draw: st.DrawFn, data: dict[str, Any]) -> tuple[bytes, str | None]:
    """What a manifest can get wrong that YAML cannot see."""
    kind = draw(st.sampled_from(["self-upstream", "cycle", "dup-edge", "port", "env-name", "placeholder", "service-name",
                                 "dup-upstream-var"]))
    orders, payments = data["services"]["orders"], data["services"]["payments"]
    if kind == "self-upstream":
        orders["upstreams"].append({"service": "orders", "env": "SELF_URL"})
        return dump(data), kind
    if kind == "cycle":
        payments["upstreams"] = [{"service": "orders", "env": "ORDERS_URL"}]
        return dump(data), kind
    if kind == "dup-edge":
        orders["upstreams"].append({"service": "payments", "env": "PAYMENTS2_URL"})
        return dump(data), kind
    if kind == "port":
        payments["port"] = draw(st.sampled_from([0, -1, 65536, 70000, 2**40]))
        return dump(data), "port out of range"
    if kind == "env-name":
        orders["env"][draw(st.sampled_from(["A=B", "", "1ABC", "WITH SPACE", "X\u00e9"]))] = "v"
        return dump(data), "bad variable name"
    if kind == "placeholder":
        bad = draw(st.sampled_from(["{nope}", "{unclosed", "{port.real}", "{python!r}", "{port:>5}", "{}", "{0}",
                                    "}{", "{edges[missing->edge]}", "{params.none}", "{python.__class__}"]))
        where = draw(st.sampled_from(["command", "env", "url"]))
        if where == "command":
            payments["command"][1] = bad
        elif where == "env":
            orders["env"]["PYTHONPATH"] = bad
        else:
            orders["upstreams"][0]["url"] = "http://" + bad
        return dump(data), "bad placeholder"
    if kind == "service-name":
        name = draw(st.sampled_from(["Bad Name", "../escape", "x" * 65, "UPPER", "-lead"]))
        data["services"][name] = data["services"].pop("payments")
        orders["upstreams"][0]["service"] = name
        return dump(data), "bad service name"
    orders["env"]["PAYMENTS_URL"] = "http://elsewhere"
    return dump(data), "variable written twice"


MANIFEST_MUTATIONS: list[Mutation] = [m_nasty_leaf, m_odd_leaf, m_drop_key, m_unknown_field, m_text,
                                      m_manifest_semantics, m_manifest_semantics, m_exhaustion]


@st.composite
def experiments(draw: st.DrawFn) -> Case:
    data = base_experiment(draw(st.sampled_from(BASE_EXPERIMENTS)))  # their built-in systems, by name
    text, invalid = draw(st.sampled_from(EXPERIMENT_MUTATIONS))(draw, data)
    return Case(text, invalid)


@st.composite
def manifests(draw: st.DrawFn) -> Case:
    data = base_manifest()
    text, invalid = draw(st.sampled_from(MANIFEST_MUTATIONS))(draw, data)
    exp = dump({"name": "fuzz", "system": "MANIFEST", "load": {"users": 1, "duration": "5s"}})
    return Case(exp, invalid, manifest=text)


class Outcome:
    def __init__(self, code: int, output: str, seconds: float):
        self.code, self.output, self.seconds = code, output, seconds


def validate_in_process(path: Path) -> Outcome:
    out, err = io.StringIO(), io.StringIO()
    began = time.monotonic()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(["validate", str(path)])
        except SystemExit as exc:  # argparse
            code = int(exc.code or 0)
    return Outcome(code, out.getvalue() + err.getvalue(), time.monotonic() - began)


def judge(case: Case, outcome: Outcome) -> None:
    assert outcome.seconds < MAX_SECONDS, f"validate took {outcome.seconds:.1f}s"
    assert "Traceback" not in outcome.output, outcome.output[-3000:]
    assert outcome.code in (0, 2), f"exit {outcome.code}: {outcome.output[-2000:]}"
    if case.invalid is not None:
        assert outcome.code == 2, f"a clearly invalid file ({case.invalid}) was accepted:\n{case.text[:1500]!r}"
    if outcome.code == 2:
        assert "<input>" not in outcome.output


_counter = iter(range(10**9))


def write_case(workdir: Path, case: Case) -> Path:
    n = next(_counter)
    exp = workdir / f"exp-{n}.yaml"
    text = case.text
    if case.manifest is not None:
        (workdir / "system" / f"m-{n}.yaml").write_bytes(case.manifest)
        text = text.replace(b"MANIFEST", f"system/m-{n}.yaml".encode())
    exp.write_bytes(text)
    return exp


FUZZ = settings(max_examples=EXAMPLES, deadline=None, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                       HealthCheck.function_scoped_fixture])


@FUZZ
@given(case=experiments())
def test_malformed_experiments_exit_0_or_2_never_a_traceback(workdir: Path, case: Case) -> None:
    path = write_case(workdir, case)
    try:
        judge(case, validate_in_process(path))
    finally:
        path.unlink(missing_ok=True)


@FUZZ
@given(case=manifests())
def test_malformed_manifests_exit_0_or_2_never_a_traceback(workdir: Path, case: Case) -> None:
    path = write_case(workdir, case)
    try:
        judge(case, validate_in_process(path))
    finally:
        path.unlink(missing_ok=True)


@FUZZ
@given(case=st.one_of(experiments(), manifests()), name=st.text(min_size=1, max_size=40).filter(lambda s: "/" not in s
                                                                                                 and "\x00" not in s))
def test_any_file_name_is_reported_by_name(workdir: Path, case: Case, name: str) -> None:
    path = write_case(workdir, case)
    named = workdir / f"x{name}.yaml"
    try:
        path.rename(named)
    except OSError:
        path.unlink(missing_ok=True)
        return
    try:
        outcome = validate_in_process(named)
        judge(case, outcome)
    finally:
        named.unlink(missing_ok=True)


@pytest.mark.parametrize("special", ["fifo", "/dev/zero", "/dev/null", "/proc/self/status", "/proc/self/environ",
                                     "directory", "missing", "x" * 300])
@pytest.mark.parametrize("as_what", ["experiment", "system"])
def test_special_files_are_refused_not_read_forever(workdir: Path, tmp_path: Path, special: str, as_what: str) -> None:
    target = special
    if special == "fifo":
        target = str(tmp_path / "fifo")
        os.mkfifo(target)
    elif special == "directory":
        target = str(tmp_path)
    elif special == "missing":
        target = str(tmp_path / "nope.yaml")
    path = Path(target)
    if as_what == "system":
        path = tmp_path / "exp.yaml"
        path.write_text(f"name: x\nsystem: {target}\nload: {{duration: 5s}}\n")
    outcome = validate_in_process(path)
    judge(Case(b"", "special file"), outcome)
    if as_what == "system":
        assert f"{path}:2: system:" in outcome.output, outcome.output


def test_a_sample_through_the_real_cli_has_no_traceback(workdir: Path) -> None:
    """The in-process runs above share one interpreter; the real CLI must behave the same."""
    cases = [
        Case(b"name: x\nsystem: system/system.yaml\nload: {duration: .nan}\n", "nan"),
        Case(b"a: &a [*a]\n", "recursive alias"),
        Case(b"x: " + b"[" * 5000 + b"]" * 5000, "deep nesting"),
        Case(b"name: x\nname: y\n", "duplicate key"),
        Case(b"name: x\nsystem: system/system.yaml\nload: {duration: 5s, users: 99999999999999999999999}\n", "huge"),
        Case(b"\xff\xfe", "not UTF-8"),
        Case(b"name: x\nsystem: MANIFEST\nload: {duration: 5s}\n", "cycle",
             manifest=dump({**base_manifest(), "services": {
                 "orders": {"command": ["{python}", "orders.py"], "upstreams": [{"service": "payments", "env": "P"}]},
                 "payments": {"command": ["{python}", "payments.py"], "upstreams": [{"service": "orders", "env": "O"}]}}})),
        Case(dump(base_experiment("circuit-breaker.yaml") | {"system": "system/system.yaml"}), None),
    ]
    for case in cases:
        path = write_case(workdir, case)
        began = time.monotonic()
        proc = subprocess.run([sys.executable, "-m", "harness.cli", "validate", str(path)], cwd=ROOT,
                              capture_output=True, text=True, timeout=60)
        # No time bound here: a busy machine's interpreter start-up is not what is measured (in-process is).
        judge(case, Outcome(proc.returncode, proc.stdout + proc.stderr, 0.0))
        assert time.monotonic() - began < 60
