#!/usr/bin/env python3
"""Interrupt real runs at random moments of every phase, and prove nothing is left behind.

Each case starts ``harness run`` on a shortened copy of an experiment, waits for a phase
(setup, load, an active fault, teardown, checks, reports) on its console, waits a random
moment more, then does one thing to it: SIGINT, SIGTERM, SIGINT twice (the fast exit),
SIGKILL, or closes its output (the reader goes away). After the harness exits (and, after a
SIGKILL, after ``harness clean``), the case checks, independently of the harness's own
bookkeeping:

    exit code    130 for a signal before the reports were written; else the code in
                 result.json (0/1 for a closed output); -9 for SIGKILL
    processes    none left carrying the case's marker in their environment (every process a
                 run starts inherits it: Toxiproxy, services, PostgreSQL and its workers,
                 Locust, Prometheus)
    ports        none of the run's ports (journal) listening in a process of the case
    proxies      the run's Toxiproxy API does not answer (so no proxy and no toxic is left)
    directories  no PostgreSQL data directory of the run, no Prometheus storage, no state file
    files        journal.jsonl, result.json, junit.xml, report.html present and parseable

    python scripts/interruption_campaign.py --runs 110 --seed 1 --json campaign.json

The test suite runs a short form of it (tests/integration/test_interruption_campaign.py).
"""
from __future__ import annotations

import argparse
import contextlib
import html.parser
import json
import os
import random
import re
import select
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.request
import xml.etree.ElementTree as ET
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from harness.durations import parse_duration  # noqa: E402
from harness.infra.postgres import data_dir_for  # noqa: E402
from harness.runstate import state_dir  # noqa: E402

PHASES = ("setup", "load", "fault", "teardown", "checks", "reports")
ACTIONS = ("SIGINT", "SIGTERM", "SIGINT-twice", "SIGKILL", "close-output")
MARKER = "HARNESS_CAMPAIGN_CASE"
# How long after a phase's first console line the action may come (seconds): about the phase's length.
SPREAD = {"setup": 1.0, "load": 2.0, "fault": 1.0, "teardown": 0.3, "checks": 0.02, "reports": 0.05}
_PHASE_LINE = re.compile(r"\] == (setup|load|teardown|checks|reports)\b|\] !! fault \S+ applied")

TINY_SERVICE = '''
import os, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
class H(BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200); self.send_header("Content-Length", "2"); self.end_headers(); self.wfile.write(b"ok")
    def log_message(self, *a): pass
ThreadingHTTPServer((os.environ["HOST"], int(os.environ["PORT"])), H).serve_forever()
'''
TINY_LOCUSTFILE = '''
from locust import FastHttpUser, constant_throughput, task
class U(FastHttpUser):
    wait_time = constant_throughput(10)
    @task
    def get(self):
        self.client.get("/", name="GET /")
'''


def tiny_experiment(directory: Path, load_s: float) -> Path:
    """A two-service system of our own: the cheapest real run (about load_s + 2 s)."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "svc.py").write_text(TINY_SERVICE)
    (directory / "locustfile.py").write_text(TINY_LOCUSTFILE)
    (directory / "system.yaml").write_text(
        "name: tiny\nlocustfile: locustfile.py\nentry: front\nservices:\n"
        "  back: {command: ['{python}', svc.py]}\n"
        "  front:\n    command: ['{python}', svc.py]\n    upstreams: [{service: back, env: BACK_URL}]\n")
    start, length = round(load_s * 0.3, 2), round(load_s * 0.4, 2)
    path = directory / "tiny.yaml"
    path.write_text(f"name: tiny\nsystem: system.yaml\nload: {{users: 2, spawn_rate: 2, duration: {load_s}s}}\n"
                    f"faults:\n  - {{name: slow, type: latency, edge: front->back, attributes: {{latency: 50}}, "
                    f"start: {start}s, duration: {length}s}}\n"
                    "steady_state: {warmup: 0.5s, settle: 0.5s}\n"
                    "checks:\n  - {type: error_rate, max: 0.5, min_requests: 1}\n")
    return path


def shortened(experiment: Path, directory: Path, load_s: float) -> Path:
    """A copy of a built-in experiment with its load (and every time on its timeline) scaled to load_s."""
    data = yaml.safe_load(experiment.read_text())
    scale = load_s / parse_duration(data["load"]["duration"])
    data["load"]["duration"] = f"{load_s:g}s"
    for fault in data.get("faults", []):
        for key in ("start", "duration"):
            if key in fault:
                fault[key] = f"{round(parse_duration(fault[key]) * scale, 3):g}s"
    steady = data.setdefault("steady_state", {})
    for key, default in (("warmup", 3.0), ("settle", 5.0)):
        steady[key] = f"{round(parse_duration(steady.get(key, default)) * scale, 3):g}s"
    if data.get("load", {}).get("locustfile"):
        data["load"]["locustfile"] = str((experiment.parent / data["load"]["locustfile"]).resolve())
    directory.mkdir(parents=True, exist_ok=True)
    schemas = directory / "schemas"
    if (experiment.parent / "schemas").is_dir() and not schemas.exists():
        schemas.symlink_to(experiment.parent / "schemas")  # conformance schemas are relative to the experiment
    path = directory / experiment.name
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


# -- one case -----------------------------------------------------------------------------------

@dataclass
class Case:
    number: int
    experiment: str
    phase: str
    action: str
    delay: float
    second_delay: float = 0.0


@dataclass
class Outcome:
    case: Case
    phase_hit: str | None = None
    """The last phase the console showed when the action was taken (None: never reached)."""
    returncode: int | None = None
    expected: str = ""
    status: str | None = None
    seconds: float = 0.0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


class Console:
    """Reads the harness's output without blocking, notes phases, and can hang up on it."""

    def __init__(self, proc: subprocess.Popen[bytes]):
        assert proc.stdout is not None
        self.fd = proc.stdout.fileno()
        self.proc = proc
        self.phases: list[tuple[float, str]] = []
        self.text: list[str] = []
        self.hang_up = threading.Event()
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self) -> None:
        pending = b""
        while not self.hang_up.is_set():
            ready, _, _ = select.select([self.fd], [], [], 0.02)
            if not ready:
                continue
            chunk = os.read(self.fd, 65536)
            if not chunk:
                break
            pending += chunk
            *lines, pending = pending.split(b"\n")
            for raw in lines:
                line = raw.decode(errors="replace")
                self.text.append(line)
                m = _PHASE_LINE.search(line)
                if m:
                    self.phases.append((time.monotonic(), m.group(1) or "fault"))
        # The reader goes away: the harness's next write meets a closed pipe.
        assert self.proc.stdout is not None
        self.proc.stdout.close()

    def last_phase(self) -> str | None:
        return self.phases[-1][1] if self.phases else None

    def wait_for(self, phase: str, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if any(p == phase for _, p in self.phases):
                return True
            if self.proc.poll() is not None:
                return False
            time.sleep(0.005)
        return False


def run_case(case: Case, experiment: Path, workdir: Path, env: dict[str, str], timeout: float = 180.0,
             slots: bool = False) -> Outcome:
    """One case; with ``slots``, it holds one of the machine-wide experiment slots while it runs
    (tests/slots.py: real experiments on a shared machine queue instead of starving each other)."""
    holder: contextlib.AbstractContextManager[Any] = contextlib.nullcontext()
    if slots:
        sys.path.insert(0, str(ROOT / "tests"))
        from slots import experiment_slot

        holder = experiment_slot()
    with holder:
        return _run_case(case, experiment, workdir, env, timeout)


def _run_case(case: Case, experiment: Path, workdir: Path, env: dict[str, str], timeout: float) -> Outcome:
    outcome = Outcome(case)
    out = workdir / f"case-{case.number:03d}"
    marker = f"{os.getpid()}-{case.number}-{random.random():.12f}"
    cmd = [sys.executable, "-m", "harness.cli", "run", str(experiment), "--out", str(out)]
    began = time.monotonic()
    proc = subprocess.Popen(cmd, cwd=ROOT, env={**env, MARKER: marker}, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
    console = Console(proc)
    try:
        if console.wait_for(case.phase, timeout):
            time.sleep(case.delay)
            if proc.poll() is None:
                outcome.phase_hit = console.last_phase()
                act(case, proc, console)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            outcome.problems.append(f"hang: still running {timeout:g}s after the action; killed")
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    finally:
        console.hang_up.set()
        console.thread.join(timeout=5)
    outcome.returncode = proc.returncode
    outcome.seconds = round(time.monotonic() - began, 2)
    if case.action == "SIGKILL" and outcome.phase_hit is not None:
        clean = subprocess.run([sys.executable, "-m", "harness.cli", "clean"], cwd=ROOT, env=env,
                               capture_output=True, text=True, timeout=120)
        if clean.returncode != 0:
            outcome.problems.append(f"harness clean exited {clean.returncode}: {clean.stdout}{clean.stderr}")
    verify(outcome, out, marker)
    if not outcome.ok:
        (workdir / f"case-{case.number:03d}.console.txt").write_text("\n".join(console.text))
    return outcome


def act(case: Case, proc: subprocess.Popen[bytes], console: Console) -> None:
    if case.action == "close-output":
        console.hang_up.set()
    elif case.action == "SIGKILL":
        os.kill(proc.pid, signal.SIGKILL)
    elif case.action == "SIGINT-twice":
        os.kill(proc.pid, signal.SIGINT)
        time.sleep(case.second_delay)
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGINT)
    else:
        os.kill(proc.pid, getattr(signal, case.action))


# -- what must hold afterwards --------------------------------------------------------------------

def verify(o: Outcome, out: Path, marker: str) -> None:
    result = _load_result(o, out)
    o.status = result.get("status") if result else None
    _check_exit(o, result)
    left = _marked_processes(marker, wait=10.0)
    if left:
        o.problems.append(f"{len(left)} process(es) left: {left[:5]}")
    journal = _journal(out)
    ports = _ports(journal)
    listening = [p for p in ports if _listening_owner(p, marker)]
    if listening:
        o.problems.append(f"ports still listening: {listening}")
    api = next((r.get("api") for r in journal if r.get("kind") == "toxiproxy_started"), None)
    if api and _answers(api):
        o.problems.append(f"the run's Toxiproxy still answers at {api}")
    o.problems += [f"directory left: {d}" for d in _directories(out, journal) if d.exists()]
    o.problems += [f"state file left: {f}" for f in _state_files(out)]
    o.problems += _files_problems(out, killed=o.case.action == "SIGKILL")


def _load_result(o: Outcome, out: Path) -> dict[str, Any]:
    try:
        data = json.loads((out / "result.json").read_text())
        return data if isinstance(data, dict) else {}
    except (OSError, ValueError):
        return {}


def _check_exit(o: Outcome, result: dict[str, Any]) -> None:
    code, action, hit = o.returncode, o.case.action, o.phase_hit
    if hit is None:
        o.expected = "the phase never came: the run's own code"
        if result and code != result.get("exit_code"):
            o.problems.append(f"exit {code} but result.json says {result.get('exit_code')}")
        return
    if action == "SIGKILL":
        o.expected = "-9"
        # In the reports phase the harness may have exited between our look and the kill.
        if code != -signal.SIGKILL and not (hit == "reports" and code == result.get("exit_code")):
            o.problems.append(f"exit {code}, expected -9")
        return
    recorded = result.get("exit_code")
    if code != recorded:
        o.problems.append(f"exit {code} but result.json says {recorded}")
    if action == "close-output":
        o.expected = "the run's own code (0 or 1)"
        if code not in (0, 1):
            o.problems.append(f"exit {code} after the output was closed, expected 0 or 1")
        return
    o.expected = "130"
    # A signal in the reports phase may come after the last report was written: the run's own code then.
    if code != 130 and hit != "reports":
        o.problems.append(f"exit {code} after {action} during {hit}, expected 130")
    if code == 130 and result.get("status") != "interrupted":
        o.problems.append(f"exit 130 but status {result.get('status')!r}")


def _marked_processes(marker: str, wait: float) -> list[str]:
    needle = f"{MARKER}={marker}".encode()
    deadline = time.monotonic() + wait
    while True:
        found = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                if needle in (entry / "environ").read_bytes().split(b"\0"):
                    state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
                    if state != "Z":
                        found.append(f"{entry.name} {(entry / 'cmdline').read_bytes()[:80]!r}")
            except OSError:
                continue
        if not found or time.monotonic() > deadline:
            return found
        time.sleep(0.2)


def _journal(out: Path) -> list[dict[str, Any]]:
    records = []
    try:
        lines = (out / "journal.jsonl").read_text(errors="replace").splitlines()
    except OSError:
        return []
    for line in lines:
        try:
            rec = json.loads(line)
        except ValueError:
            continue
        if isinstance(rec, dict):
            records.append(rec)
    return records


def _ports(journal: list[dict[str, Any]]) -> list[int]:
    ports = set()
    for r in journal:
        for key in ("url", "api", "listen"):
            m = re.search(r":(\d+)$", str(r.get(key) or "").rstrip("/"))
            if m and r.get("kind") in ("service_started", "toxiproxy_started", "proxy_created", "prometheus_started"):
                ports.add(int(m.group(1)))
    return sorted(ports)


def _listening_owner(port: int, marker: str) -> bool:
    """True if a process of this case listens on the port (someone else may have it by now)."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            rows = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            cols = row.split()
            if cols[3] == "0A" and int(cols[1].rsplit(":", 1)[1], 16) == port:
                inodes.add(cols[9])
    if not inodes:
        return False
    needle = f"{MARKER}={marker}".encode()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fds = [os.readlink(fd) for fd in (entry / "fd").iterdir()]
        except OSError:
            continue
        if any(link.startswith("socket:[") and link[8:-1] in inodes for link in fds):
            try:
                if needle in (entry / "environ").read_bytes().split(b"\0"):
                    return True
            except OSError:
                continue
    return False


def _answers(api: str) -> bool:
    try:
        with urllib.request.urlopen(api + "/proxies", timeout=1.0) as resp:
            return bool(resp.status == 200)
    except OSError:
        return False


def _directories(out: Path, journal: list[dict[str, Any]]) -> list[Path]:
    dirs = [Path(r["storage"]) for r in journal if r.get("kind") == "prometheus_started" and r.get("storage")]
    run = next((r for r in journal if r.get("kind") == "run_started"), {})
    if run:
        # Every service's possible PostgreSQL data directory (the manifests' key is {run_dir}/{service}).
        services = {r.get("service") for r in journal if r.get("service")}
        dirs += [data_dir_for(str(out.resolve() / str(s))) for s in services]
        dirs += [data_dir_for(str(out.resolve() / name)) for name in ("db", "postgres")]
    return dirs


def _state_files(out: Path) -> list[Path]:
    left = []
    directory = state_dir()
    for f in directory.glob("*.jsonl") if directory.is_dir() else []:
        try:
            first = json.loads(f.read_text().splitlines()[0])
        except (OSError, ValueError, IndexError):
            continue
        if first.get("run_dir") == str(out.resolve()):
            left.append(f)
    return left


def _files_problems(out: Path, killed: bool) -> list[str]:
    problems = []
    if not out.exists():
        return [] if killed else ["no run folder"]
    for name in ("journal.jsonl", "result.json", "junit.xml", "report.html"):
        path = out / name
        if not path.is_file():
            problems.append(f"{name} missing")
            continue
        text = path.read_text(errors="replace")
        try:
            if name == "result.json":
                json.loads(text)
            elif name == "junit.xml":
                ET.fromstring(text.encode())
            elif name == "report.html":
                parser = html.parser.HTMLParser()
                parser.feed(text)
                parser.close()
                if "<html" not in text.lower() and "<!doctype" not in text.lower():
                    problems.append("report.html is not an HTML page")
            else:
                lines = [line for line in text.splitlines() if line.strip()]
                bad = [i for i, line in enumerate(lines) if not _is_json(line)]
                # Only a SIGKILL can cut a line (the last one it interrupted).
                if bad and not (killed and len(bad) == 1):
                    problems.append(f"journal.jsonl: {len(bad)} line(s) are not JSON")
        except (ValueError, ET.ParseError) as exc:
            problems.append(f"{name} does not parse: {exc}")
    return problems


def _is_json(line: str) -> bool:
    try:
        json.loads(line)
        return True
    except ValueError:
        return False


# -- the campaign ---------------------------------------------------------------------------------

def plan(runs: int, experiments: list[str], rng: random.Random) -> list[Case]:
    """Every (action, phase) pair in turn, experiments round-robin, random moments."""
    # Every action in every phase once per 30 cases; every action once per 5 (a short campaign too).
    orders = {a: rng.sample(PHASES, len(PHASES)) for a in ACTIONS}
    pairs = [(a, orders[a][r]) for r in range(len(PHASES)) for a in ACTIONS]
    cases = []
    for i in range(runs):
        action, phase = pairs[i % len(pairs)]
        cases.append(Case(i + 1, experiments[i % len(experiments)], phase, action,
                          delay=round(rng.uniform(0, SPREAD[phase]), 3), second_delay=round(rng.uniform(0.05, 0.6), 3)))
    return cases


def prepare(names: list[str], workdir: Path, load_s: float) -> dict[str, Path]:
    paths = {}
    for name in names:
        if name == "tiny":
            paths[name] = tiny_experiment(workdir / "experiments" / "tiny", load_s)
        else:
            paths[name] = shortened(ROOT / "experiments" / f"{name}.yaml", workdir / "experiments", load_s)
    return paths


def campaign(runs: int, names: list[str], workdir: Path, parallel: int = 1, seed: int = 1, load_s: float = 8.0,
             progress: bool = False, slots: bool = False) -> list[Outcome]:
    rng = random.Random(seed)
    experiments = prepare(names, workdir, load_s)
    env = {k: v for k, v in os.environ.items() if k != MARKER}
    cases = plan(runs, names, rng)

    def one(case: Case) -> Outcome:
        o = run_case(case, experiments[case.experiment], workdir, env, slots=slots)
        if progress:
            mark = "ok " if o.ok else "BAD"
            print(f"{mark} #{case.number:3d} {case.experiment:22s} {case.action:13s} in {o.phase_hit or '-':8s} "
                  f"exit {o.returncode} ({o.seconds}s) {'; '.join(o.problems)}", flush=True)
        return o

    with ThreadPoolExecutor(max_workers=parallel) as pool:
        return list(pool.map(one, cases))


def summary(outcomes: list[Outcome]) -> dict[str, Any]:
    hit = Counter((o.case.action, o.phase_hit or "never") for o in outcomes)
    return {
        "runs": len(outcomes),
        "ok": sum(o.ok for o in outcomes),
        "systems": sorted({o.case.experiment for o in outcomes}),
        "by_action_and_phase": {f"{a} in {p}": n for (a, p), n in sorted(hit.items())},
        "exit_codes": dict(Counter(str(o.returncode) for o in outcomes)),
        "median_seconds": sorted(o.seconds for o in outcomes)[len(outcomes) // 2] if outcomes else None,
        "problems": [{"case": asdict(o.case), "phase_hit": o.phase_hit, "returncode": o.returncode,
                      "problems": o.problems} for o in outcomes if not o.ok],
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=100)
    ap.add_argument("--parallel", type=int, default=1,
                    help="cases at once; each holds one of the machine's experiment slots (tests/slots.py)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--load", type=float, default=8.0, help="seconds of load in every shortened experiment")
    ap.add_argument("--systems", default="tiny,circuit-breaker,cqrs,saga,sidecar,aggregator,api-gateway,"
                    "database-per-service,event-sourcing,bff,anti-corruption-layer",
                    help="experiments (experiments/<name>.yaml) and 'tiny' (a two-service system of its own)")
    ap.add_argument("--workdir", type=Path, default=None, help="default: a new temporary directory")
    ap.add_argument("--json", type=Path, help="write the outcomes and the summary here")
    args = ap.parse_args(argv)
    workdir = args.workdir or Path(__import__("tempfile").mkdtemp(prefix="interruption-campaign-"))
    began = time.monotonic()
    outcomes = campaign(args.runs, args.systems.split(","), workdir, args.parallel, args.seed, args.load, progress=True,
                        slots=True)
    report = summary(outcomes)
    report["wall_seconds"] = round(time.monotonic() - began, 1)
    print(json.dumps({k: v for k, v in report.items() if k != "problems"}, indent=2))
    for p in report["problems"]:
        print("PROBLEM", json.dumps(p))
    if args.json:
        args.json.write_text(json.dumps({"summary": report, "outcomes": [asdict(o) for o in outcomes]}, indent=2))
    if not args.workdir and not report["problems"]:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0 if not report["problems"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
