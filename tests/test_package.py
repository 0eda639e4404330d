"""The engine as a user gets it: the wheel, installed into a fresh venv outside this checkout, runs a
user's own system (a tiny one of its own, standard library only) from a temporary directory; the run
folder lands there, and without a catalogue the engine says where the reference systems are."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

CHECKOUT = Path(__file__).resolve().parents[1]

BACK = '''
import os
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200); self.send_header("Content-Length", "2"); self.end_headers(); self.wfile.write(b"ok")
    def log_message(self, *args):
        pass

ThreadingHTTPServer((os.environ["HOST"], int(os.environ["PORT"])), Handler).serve_forever()
'''

FRONT = '''
import os, urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path != "/health":
            with urllib.request.urlopen(os.environ["BACK_URL"] + "/", timeout=2) as answer:
                answer.read()
        self.send_response(200); self.send_header("Content-Length", "2"); self.end_headers(); self.wfile.write(b"ok")
    def log_message(self, *args):
        pass

ThreadingHTTPServer((os.environ["HOST"], int(os.environ["PORT"])), Handler).serve_forever()
'''

LOCUSTFILE = '''
from locust import FastHttpUser, constant_throughput, task

class Shopper(FastHttpUser):
    wait_time = constant_throughput(10)

    @task
    def home(self):
        self.client.get("/", name="GET /")
'''

SYSTEM = '''
name: shop
locustfile: locustfile.py
entry: front
services:
  back: {command: ["{python}", "back.py"]}
  front:
    command: ["{python}", "front.py"]
    upstreams: [{service: back, env: BACK_URL}]
'''

EXPERIMENT = '''
name: shop-latency
system: system.yaml
load: {users: 2, spawn_rate: 2, duration: 8s}
faults:
  - {name: back-slow, type: latency, edge: front->back, attributes: {latency: 200ms}, start: 3s, duration: 3s}
checks:
  - {name: no-errors, type: error_rate, max: 0.01}
  - {name: answers-in-time, type: latency, window: {during: back-slow}, percentile: 95, max: 2s}
'''


def toxiproxy_server() -> str:
    found = os.environ.get("HARNESS_TOXIPROXY_SERVER") or shutil.which("toxiproxy-server")
    local = CHECKOUT / ".tools" / "bin" / "toxiproxy-server"
    if not found and local.is_file():
        found = str(local)
    if not found:
        pytest.fail("toxiproxy-server is needed (`make tools`)")
    return found


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel built from this checkout, installed with its own dependencies (no extras) in a new venv."""
    work = tmp_path_factory.mktemp("package")
    assert not work.resolve().is_relative_to(CHECKOUT)
    dist = work / "dist"
    # No build isolation: the dev venv's setuptools builds it (an isolated build would download one).
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation", "-w", str(dist),
                    str(CHECKOUT)], check=True, capture_output=True, timeout=300)
    [wheel] = dist.glob("harness-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "harness/py.typed" in names and "harness/report/templates/report.html.j2" in names
    assert not any(n.startswith(("targets/", "experiments/", "tests/")) for n in names)
    venv = work / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    # This venv's pip installs into the new one (--python): faster than bootstrapping a pip there.
    subprocess.run([sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python"), "install", "--quiet", str(wheel)],
                   check=True, capture_output=True, timeout=600)
    return venv


def harness(venv: Path, cwd: Path, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "HARNESS_CATALOG", "HARNESS_TARGETS")}
    env.update(HARNESS_TOXIPROXY_SERVER=toxiproxy_server(), HARNESS_PROMETHEUS="off")
    return subprocess.run([str(venv / "bin" / "harness"), *args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=timeout)


def test_the_installed_engine_imports_from_the_venv_not_the_checkout(installed: Path, tmp_path: Path) -> None:
    code = "import harness, sys; print(harness.__file__); import importlib.util as u; print(u.find_spec('docker'))"
    out = subprocess.run([str(installed / "bin" / "python"), "-c", code], cwd=tmp_path, capture_output=True, text=True,
                         check=True, env={"PATH": "/usr/bin:/bin"}).stdout.splitlines()
    assert Path(out[0]).resolve().is_relative_to(installed.resolve())
    assert out[1] == "None"  # the Docker SDK is an extra, not the engine's


def test_a_users_experiment_runs_from_its_own_directory_and_its_run_folder_lands_there(
        installed: Path, tmp_path: Path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    for name, text in {"back.py": BACK, "front.py": FRONT, "locustfile.py": LOCUSTFILE, "system.yaml": SYSTEM,
                       "experiment.yaml": EXPERIMENT}.items():
        (project / name).write_text(textwrap.dedent(text).lstrip())
    proc = harness(installed, project, "run", "experiment.yaml", "--quiet")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    [run_dir] = (project / "reports").iterdir()
    result = json.loads((run_dir / "result.json").read_text())
    assert (result["verdict"], [c["verdict"] for c in result["checks"]]) == ("passed", ["passed", "passed"])
    assert {"report.html", "junit.xml", "journal.jsonl"} <= {p.name for p in run_dir.iterdir()}
    assert f"report: {run_dir / 'report.html'}" in proc.stdout
    site = next((installed / "lib").glob("python3*/site-packages"))
    assert not (site / "reports").exists()


def test_without_a_catalogue_the_engine_says_where_the_reference_systems_are(installed: Path, tmp_path: Path) -> None:
    listed = harness(installed, tmp_path, "list")
    assert listed.returncode == 0 and "manifest:" not in listed.stdout  # no system (the fault types are listed)
    assert "the reference systems and experiments ship with the harness repository" in listed.stderr
    (tmp_path / "cb.yaml").write_text("name: cb\nsystem: circuit-breaker\nload: {duration: 5s}\n")
    run = harness(installed, tmp_path, "run", "cb.yaml")
    assert run.returncode == 2 and "Traceback" not in run.stderr
    assert "unknown system 'circuit-breaker'" in run.stderr and "--catalog" in run.stderr
    found = harness(installed, tmp_path, "validate", "--catalog", str(CHECKOUT), "cb.yaml")
    assert found.returncode == 0, found.stderr


def test_the_wheel_brings_harness_init_and_registers_the_pytest_plugin(installed: Path, tmp_path: Path) -> None:
    assert harness(installed, tmp_path, "init", "shop").returncode == 0
    checked = harness(installed, tmp_path, "validate", "shop/experiment.yaml")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    code = "from importlib.metadata import entry_points as e; print([p.value for p in e(group='pytest11')])"
    out = subprocess.run([str(installed / "bin" / "python"), "-c", code], cwd=tmp_path, capture_output=True, text=True,
                         check=True, env={"PATH": "/usr/bin:/bin"}).stdout
    assert "harness.pytest_plugin" in out
