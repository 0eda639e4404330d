"""The local runtime with a tiny system of its own: clean start-up failures, a crash mid-run,
and nothing left behind in any case."""
from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from harness.journal import read_journal

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]

SERVICE = '''
import os, sys, time
from http.server import BaseHTTPRequestHandler, HTTPServer
from threading import Thread

class H(BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200); self.send_header("Content-Length", "2"); self.end_headers(); self.wfile.write(b"ok")
    def log_message(self, *a): pass

if os.environ.get("FAIL_AT_START"):
    print("cannot start: FAIL_AT_START is set", flush=True); sys.exit(4)
server = HTTPServer((os.environ["HOST"], int(os.environ["PORT"])), H)
Thread(target=server.serve_forever, daemon=True).start()
crash_after = float(os.environ.get("CRASH_AFTER", "0"))
START = time.monotonic()
while True:
    time.sleep(0.1)
    if crash_after and time.monotonic() - START > crash_after:
        os._exit(9)
'''

LOCUSTFILE = '''
from locust import FastHttpUser, constant_throughput, task
class U(FastHttpUser):
    wait_time = constant_throughput(5)
    @task
    def get(self):
        self.client.get("/", name="GET /")
'''


def make_system(tmp: Path, front_env: str = "") -> Path:
    (tmp / "svc.py").write_text(SERVICE)
    (tmp / "locustfile.py").write_text(LOCUSTFILE)
    (tmp / "system.yaml").write_text(textwrap.dedent(f"""\
        name: tiny
        locustfile: locustfile.py
        entry: front
        services:
          back:
            command: ["{{python}}", "svc.py"]
            health: {{timeout: 10s}}
          front:
            command: ["{{python}}", "svc.py"]
            health: {{timeout: 10s}}
            env: {{{front_env}}}
            upstreams: [{{service: back, env: BACK_URL}}]
        defects:
          crashes: {{env: {{front: {{CRASH_AFTER: "4"}}}}}}
          broken: {{env: {{front: {{FAIL_AT_START: "1"}}}}}}
        """))
    exp = tmp / "exp.yaml"
    exp.write_text(textwrap.dedent("""\
        name: tiny
        system: system.yaml
        load: {users: 2, spawn_rate: 2, duration: 10s}
        faults:
          - {name: slow, type: latency, edge: front->back, attributes: {latency: 50}, start: 2s, duration: 5s}
        checks:
          - {type: error_rate, max: 0.5}
        """))
    return exp


def run(exp: Path, out: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "harness.cli", "run", str(exp), "--out", str(out), "--quiet", *args],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)


def pids_of(out: Path) -> list[int]:
    h = read_journal(out / "journal.jsonl")
    return [r["pid"] for r in h.records if r["kind"] in ("service_started", "toxiproxy_started") and r.get("pid")]


def assert_gone(pids: list[int]) -> None:
    time.sleep(0.5)
    alive = [p for p in pids if Path(f"/proc/{p}").exists()
             and Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"]
    assert not alive


def test_a_service_that_will_not_start_is_an_environment_error_naming_it(tmp_path: Path) -> None:
    proc = run(make_system(tmp_path), tmp_path / "out", "--defect", "broken")
    assert proc.returncode == 3, proc.stdout + proc.stderr
    assert "service 'front' exited with code 4 before it was healthy" in proc.stderr
    assert "cannot start: FAIL_AT_START is set" in proc.stderr
    assert_gone(pids_of(tmp_path / "out"))
    assert json.loads((tmp_path / "out" / "result.json").read_text())["status"] == "error"


def test_a_service_crashing_mid_run_aborts_heals_and_keeps_the_journal(tmp_path: Path) -> None:
    out = tmp_path / "out"
    proc = run(make_system(tmp_path), out, "--defect", "crashes")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    result = json.loads((out / "result.json").read_text())
    assert result["status"] == "aborted" and "front" in result["error"]
    h = read_journal(out / "journal.jsonl")
    assert [r["service"] for r in h.of_kind("service_crashed")] == ["front"]
    assert h.requests, "requests recorded before the crash were lost"
    applied = {r["fault"] for r in h.of_kind("fault_applied")}
    assert applied == {r["fault"] for r in h.of_kind("fault_removed")}
    assert_gone(pids_of(out))


def test_the_sound_tiny_system_passes(tmp_path: Path) -> None:
    out = tmp_path / "out"
    proc = run(make_system(tmp_path), out)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    h = read_journal(out / "journal.jsonl")
    assert {r["edge"] for r in h.of_kind("proxy_created")} == {"front->back"}
    assert_gone(pids_of(out))


def test_a_reused_run_folder_holds_only_the_latest_run(tmp_path: Path) -> None:
    out = tmp_path / "out"
    exp = make_system(tmp_path)
    assert run(exp, out).returncode == 0
    assert run(exp, out).returncode == 0
    h = read_journal(out / "journal.jsonl")
    assert len(list(h.of_kind("run_started"))) == 1
    assert len(list(h.of_kind("fault_applied"))) == 1
