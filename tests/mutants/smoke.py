"""Smoke-check the mutant patches: each applies to a clean copy of targets/, and the patched
system still starts and serves its happy path (no faults, no Toxiproxy, no experiment).

    .venv/bin/python tests/mutants/smoke.py                      # every patch in index.yaml, and each system sound
    .venv/bin/python tests/mutants/smoke.py saga                 # one system: sound, then each of its patches
    .venv/bin/python tests/mutants/smoke.py tests/mutants/saga/refund-without-row-lock.patch

A realistic defect must not break start-up or the happy path (that would be a different,
trivially visible bug), so this is the gate a new patch passes before it joins the index.
It starts the services of ``services:`` in the manifest directly (upstream URLs point at the
upstream service itself), on free loopback ports, from a temporary copy of targets/ that
``git apply`` patched, and stops every process it started, whatever happens.
Exit status: 0 all passed, 1 a patch failed to apply or its system failed the smoke requests.
"""
from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import httpx
import yaml

from harness.params import Parameter, RenderedParam

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
HOST = "127.0.0.1"


@dataclass
class Running:
    name: str
    port: int
    proc: subprocess.Popen[bytes]
    log: Path
    stop_timeout: float = 5.0
    launch: dict[str, Any] = field(default_factory=dict)  # cmd, cwd, env, health: to start it again

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"


@dataclass
class Outcome:
    ok: bool
    notes: list[str] = field(default_factory=list)


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def copy_targets(dest: Path) -> None:
    """targets/ as committed on HEAD (not the working tree), like a fresh checkout."""
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", "HEAD", "targets"], check=True, capture_output=True)
    subprocess.run(["tar", "-x", "-C", str(dest)], input=archive.stdout, check=True)


def apply_patch(patch: Path, dest: Path) -> str | None:
    """None when the patch applied; else git's complaint."""
    for args in (["--check"], []):
        done = subprocess.run(["git", "apply", *args, str(patch)], cwd=dest, capture_output=True, text=True)
        if done.returncode != 0:
            return done.stderr.strip() or done.stdout.strip()
    return None


def order_services(services: dict[str, Any]) -> list[str]:
    ordered: list[str] = []

    def visit(name: str, path: tuple[str, ...] = ()) -> None:
        if name in ordered:
            return
        if name in path:
            raise ValueError(f"upstream cycle through {name}")
        for up in services[name].get("upstreams") or []:
            visit(up["service"], (*path, name))
        ordered.append(name)

    for name in services:
        visit(name)
    return ordered


def seconds(value: Any, default: float) -> float:
    if value is None:
        return default
    text = str(value).strip()
    return float(text[:-1]) if text.endswith("s") else float(text)


PARAM = re.compile(r"\{params\.([a-z_][a-z0-9_]*)(?:\.(ms|s))?\}")


def fill(template: str, params: dict[str, Parameter] | None = None, **values: Any) -> str:
    out = template
    for key, value in values.items():
        out = out.replace("{" + key + "}", str(value))

    def param(m: re.Match[str]) -> str:
        # Rendered as the harness renders them (durations in seconds, or .ms / .s).
        rendered = RenderedParam((params or {})[m.group(1)])
        return getattr(rendered, m.group(2)) if m.group(2) else str(rendered)

    return PARAM.sub(param, out)


def wait_healthy(svc: Running, health: dict[str, Any]) -> None:
    deadline = time.monotonic() + seconds(health.get("timeout"), 30.0)
    kind = health.get("type", "http")
    while time.monotonic() < deadline:
        if svc.proc.poll() is not None:
            raise RuntimeError(f"{svc.name} exited with {svc.proc.returncode}:\n{svc.log.read_text()[-1500:]}")
        try:
            if kind == "tcp":
                with socket.create_connection((HOST, svc.port), timeout=0.5):
                    return
            elif httpx.get(svc.url + health.get("path", "/health"), timeout=1.0).status_code == 200:
                return
        except (OSError, httpx.HTTPError):
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{svc.name} not healthy in time:\n{svc.log.read_text()[-1500:]}")


Route = Callable[[str, str, str, int], int]
"""(caller, env var, upstream service, upstream port) -> the port the caller is given."""


def launch(svc: Running) -> None:
    """(Re)start a service from its recorded launch spec and wait until it is healthy."""
    spec = svc.launch
    with svc.log.open("ab") as out:
        svc.proc = subprocess.Popen(spec["cmd"], cwd=spec["cwd"], env=spec["env"], stdout=out,
                                    stderr=subprocess.STDOUT, start_new_session=True)
    wait_healthy(svc, spec["health"])


def start_system(targets: Path, system: str, run_dir: Path, route: Route | None = None) -> dict[str, Running]:
    sysdir = targets / system
    manifest = yaml.safe_load((sysdir / "system.yaml").read_text())
    services: dict[str, Any] = manifest["services"]  # only this part of the manifest is used, and
    params = {name: Parameter.parse(name, raw) for name, raw in (manifest.get("parameters") or {}).items()}  # this
    ports = {name: free_port() for name in services}
    running: dict[str, Running] = {}
    try:
        for name in order_services(services):
            spec = services[name]
            values = {"python": sys.executable, "dir": sysdir, "run_dir": run_dir, "service": name,
                      "host": HOST, "port": ports[name]}
            env = {**os.environ, "HOST": HOST, "PORT": str(ports[name]), "HARNESS_SERVICE": name,
                   "PYTHONUNBUFFERED": "1"}
            env.update({k: fill(str(v), params, **values) for k, v in (spec.get("env") or {}).items()})
            for up in spec.get("upstreams") or []:
                port = ports[up["service"]]
                if route is not None:
                    port = route(name, up["env"], up["service"], port)
                env[up["env"]] = fill(up.get("url", "http://{host}:{port}"), host=HOST, port=port)
            cmd = [fill(str(part), params, **values) for part in spec["command"]]
            log = run_dir / f"{name}.log"
            log.write_bytes(b"")
            running[name] = Running(name, ports[name], None, log, seconds(spec.get("stop_timeout"), 5.0),  # type: ignore[arg-type]
                                    {"cmd": cmd, "cwd": sysdir, "env": env, "health": spec.get("health") or {}})
            launch(running[name])
        return running
    except BaseException:
        stop_all(running)
        raise


def stop_all(running: dict[str, Running]) -> None:
    # Reverse start order: callers first, the database last.
    for svc in reversed(list(running.values())):
        if svc.proc is not None and svc.proc.poll() is None:
            os.killpg(svc.proc.pid, signal.SIGTERM)
            try:
                svc.proc.wait(svc.stop_timeout)
            except subprocess.TimeoutExpired:
                os.killpg(svc.proc.pid, signal.SIGKILL)
                svc.proc.wait()


# --- the happy path of each system -------------------------------------------------------

Check = Callable[[dict[str, Running], httpx.Client, Outcome], None]


def expect(outcome: Outcome, cond: bool, note: str) -> None:
    if not cond:
        outcome.ok = False
        outcome.notes.append("FAILED: " + note)


def poll(fn: Callable[[], bool], timeout: float = 8.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if fn():
                return True
        except (httpx.HTTPError, ValueError, KeyError, TypeError):
            pass
        time.sleep(0.2)
    return False


def smoke_circuit_breaker(s: dict[str, Running], c: httpx.Client, o: Outcome) -> None:
    for i in range(20):
        r = c.post(s["orders"].url + "/orders", json={"amount": 10 + i})
        expect(o, r.status_code == 200 and r.json().get("status") == "paid", f"POST /orders -> {r.status_code} {r.text[:200]}")
    oid = r.json().get("order_id")
    r = c.get(f"{s['orders'].url}/orders/{oid}")
    expect(o, r.status_code == 200 and r.json().get("status") == "paid", f"GET /orders/{oid} -> {r.status_code}")


def smoke_saga(s: dict[str, Running], c: httpx.Client, o: Outcome) -> None:
    url = s["orchestrator"].url
    states = []
    for i in range(12):
        address = "nowhere street" if i % 4 == 3 else f"{i} Main Street"
        r = c.post(url + "/orders", json={"customer": "c1", "sku": "sku-0", "qty": 2, "amount_cents": 300,
                                          "address": address})
        want = "compensated" if address.startswith("nowhere") else "completed"
        states.append(r.json().get("state"))
        expect(o, r.status_code == 200 and r.json().get("state") == want, f"POST /orders ({address}) -> {r.status_code} {r.text[:200]}")
    completed = states.count("completed")
    pay = c.get(s["payments"].url + "/audit").json()
    c1 = next(a for a in pay["accounts"] if a["customer"] == "c1")
    expect(o, c1["initial"] - c1["balance"] == 300 * completed, f"payments: c1 paid {c1['initial'] - c1['balance']}, "
                                                                  f"expected {300 * completed}")
    inv = c.get(s["inventory"].url + "/audit").json()
    sku = next(x for x in inv["stock"] if x["sku"] == "sku-0")
    expect(o, sku["initial"] - sku["available"] == 2 * completed, f"inventory: sku-0 took {sku['initial'] - sku['available']}")
    o.notes.append(f"{completed} completed, {states.count('compensated')} compensated; money and stock conserved")


def smoke_api_gateway(s: dict[str, Running], c: httpx.Client, o: Outcome) -> None:
    seen = set()
    for i in range(8):
        for backend in ("a", "b"):
            r = c.get(f"{s['gateway'].url}/{backend}/items/{i}")
            expect(o, r.status_code == 200 and r.json().get("backend") == backend, f"GET /{backend}/items/{i} -> {r.status_code}")
            seen.add(r.headers.get("x-gateway-replica"))
    expect(o, len(seen) == 4, f"replicas that served: {sorted(map(str, seen))}")


def smoke_bff(s: dict[str, Running], c: httpx.Client, o: Outcome) -> None:
    for pid in (1, 5, 42):
        r = c.get(f"{s['web-bff'].url}/web/products/{pid}")
        body = r.json()
        expect(o, r.status_code == 200 and body.get("partial") is False and body["product"]["id"] == pid
               and isinstance(body.get("reviews"), list), f"web /web/products/{pid} -> {r.status_code} {r.text[:200]}")
        r = c.get(f"{s['mobile-bff'].url}/mobile/products/{pid}")
        body = r.json()
        expect(o, r.status_code == 200 and body.get("partial") is False and body.get("id") == pid
               and len(body.get("recommended") or []) == 3, f"mobile /mobile/products/{pid} -> {r.status_code} {r.text[:200]}")


def smoke_aggregator(s: dict[str, Running], c: httpx.Client, o: Outcome) -> None:
    for uid in ("7", "42", "1001"):
        r = c.get(f"{s['aggregator'].url}/dashboard/{uid}")
        body = r.json()
        expect(o, r.status_code == 200 and body.get("partial") is False and body.get("missing") == []
               and body["profile"]["user_id"] == uid and body.get("loyalty"), f"/dashboard/{uid} -> {r.status_code} {r.text[:200]}")


def smoke_cqrs(s: dict[str, Running], c: httpx.Client, o: Outcome) -> None:
    account = "acct-" + uuid.uuid4().hex[:6]
    for amount in (5, 7, 11, 13, 17):
        r = c.post(f"{s['command'].url}/accounts/{account}/deposits", json={"amount": amount})
        expect(o, r.status_code == 200, f"POST deposits -> {r.status_code} {r.text[:200]}")

    def converged() -> bool:
        body = c.get(f"{s['query'].url}/accounts/{account}").json()
        return body["balance"] == 53 and body["updates"] == 5

    expect(o, poll(converged), "read model did not reach balance 53 / 5 updates")
    last = c.get(f"{s['query'].url}/accounts/{account}").json()
    o.notes.append(f"read model: {last}")


def smoke_event_sourcing(s: dict[str, Running], c: httpx.Client, o: Outcome) -> None:
    url, acct = s["commands"].url, "7"
    first = c.post(f"{url}/accounts/{acct}/deposits", json={"command_id": "d-1", "amount_cents": 1000})
    expect(o, first.status_code == 200, f"deposit -> {first.status_code} {first.text[:200]}")
    r = c.post(f"{url}/accounts/{acct}/withdrawals", json={"command_id": "w-1", "amount_cents": 300})
    expect(o, r.status_code == 200, f"withdrawal -> {r.status_code} {r.text[:200]}")
    again = c.post(f"{url}/accounts/{acct}/deposits", json={"command_id": "d-1", "amount_cents": 1000})
    expect(o, again.status_code == 200 and again.json().get("event_id") == first.json().get("event_id"),
           f"a repeated command is answered with its first event -> {again.status_code} {again.text[:200]}")
    r = c.post(f"{url}/accounts/{acct}/withdrawals", json={"command_id": "w-2", "amount_cents": 5000})
    expect(o, r.status_code == 422, f"overdraft refused -> {r.status_code}")
    r = c.get(f"{url}/accounts/{acct}")
    expect(o, r.status_code == 200 and r.json()["balance_cents"] == 700, f"GET account -> {r.text[:200]}")
    expect(o, poll(lambda: c.get(f"{s['projector'].url}/accounts/{acct}").json()["balance_cents"] == 700),
           "projection did not reach 700")


def smoke_sidecar(s: dict[str, Running], c: httpx.Client, o: Outcome) -> None:
    for pid in (1, 5, 99):
        r = c.get(f"{s['app'].url}/products/{pid}")
        # Not attempts == 1: on a loaded machine the first try after start-up can outlive the
        # 0.2 s try timeout, and the sidecar rightly retries it.
        expect(o, r.status_code == 200 and r.json().get("stock") == (pid * 7) % 13,
               f"/products/{pid} -> {r.status_code} {r.text[:200]}")
    r = c.get(f"{s['app'].url}/products/123456")
    expect(o, r.status_code == 404, f"unknown product -> {r.status_code}")


def smoke_anti_corruption_layer(s: dict[str, Running], c: httpx.Client, o: Outcome) -> None:
    for cid in (5, 123, 4999):
        r = c.get(f"{s['customers'].url}/customers/{cid}/standing")
        body = r.json()
        expect(o, r.status_code == 200 and body["customer"]["id"] == str(cid) and body.get("standing"),
               f"/customers/{cid}/standing -> {r.status_code} {r.text[:200]}")
    r = c.get(f"{s['customers'].url}/customers/9999/standing")
    expect(o, r.status_code == 404, f"unknown customer -> {r.status_code}")


def smoke_database_per_service(s: dict[str, Running], c: httpx.Client, o: Outcome) -> None:
    for svc, path in (("catalog", "/products/3"), ("users", "/users/3"), ("orders", "/orders/3")):
        r = c.get(s[svc].url + path)
        expect(o, r.status_code == 200, f"{svc} GET {path} -> {r.status_code} {r.text[:200]}")
    r = c.post(s["orders"].url + "/orders", json={"user_id": 4, "product_id": 5, "quantity": 2})
    expect(o, r.status_code == 200 and r.json().get("total_cents") == 2 * (100 + 5 * 37 % 900),
           f"POST /orders -> {r.status_code} {r.text[:200]}")
    if r.status_code == 200:
        got = c.get(f"{s['orders'].url}/orders/{r.json()['id']}")
        expect(o, got.status_code == 200 and got.json().get("total_cents") == r.json()["total_cents"],
               f"GET the new order -> {got.status_code}")
    r = c.post(s["orders"].url + "/orders", json={"user_id": 4000, "product_id": 5})
    expect(o, r.status_code == 422, f"order for an unknown user -> {r.status_code}")


SMOKE: dict[str, Check] = {
    "circuit-breaker": smoke_circuit_breaker, "saga": smoke_saga, "api-gateway": smoke_api_gateway,
    "bff": smoke_bff, "aggregator": smoke_aggregator, "cqrs": smoke_cqrs, "event-sourcing": smoke_event_sourcing,
    "sidecar": smoke_sidecar, "anti-corruption-layer": smoke_anti_corruption_layer,
    "database-per-service": smoke_database_per_service,
}


def smoke(system: str, patch: Path | None) -> Outcome:
    with tempfile.TemporaryDirectory(prefix="mutant-smoke-") as tmp:
        base = Path(tmp)
        copy_targets(base)
        if patch is not None:
            problem = apply_patch(patch, base)
            if problem:
                return Outcome(False, [f"FAILED: does not apply: {problem}"])
        run_dir = base / "run"
        run_dir.mkdir()
        try:
            running = start_system(base / "targets", system, run_dir)
        except RuntimeError as exc:
            return Outcome(False, [f"FAILED: did not start: {exc}"])
        outcome = Outcome(True)
        try:
            with httpx.Client(timeout=10.0) as client:
                SMOKE[system](running, client, outcome)
        except (httpx.HTTPError, ValueError, KeyError, TypeError, StopIteration) as exc:
            outcome.ok = False
            outcome.notes.append(f"FAILED: {type(exc).__name__}: {exc}")
        finally:
            stop_all(running)
        return outcome


def index() -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = yaml.safe_load((HERE / "index.yaml").read_text())
    for e in entries:
        e["patch"] = f"{e['system']}/{e['name']}.patch"
    return entries


def main(argv: list[str]) -> int:
    jobs: list[tuple[str, Path | None]] = []
    entries = index()
    if not argv:
        argv = list(SMOKE)
    for arg in argv:
        if arg in SMOKE:
            jobs.append((arg, None))
            jobs += [(arg, HERE / e["patch"]) for e in entries if e["system"] == arg]
        else:
            path = Path(arg).resolve()
            entry = next((e for e in entries if (HERE / e["patch"]).resolve() == path), None)
            if entry is None:
                print(f"{arg}: not a system ({', '.join(SMOKE)}) nor a patch listed in index.yaml", file=sys.stderr)
                return 2
            jobs.append((entry["system"], path))
    failed = 0
    for system, patch in jobs:
        started = time.monotonic()
        outcome = smoke(system, patch)
        label = f"{system}/{patch.stem}" if patch else f"{system} (sound)"
        print(f"{'ok  ' if outcome.ok else 'FAIL'} {label}  ({time.monotonic() - started:.1f}s)", flush=True)
        for note in outcome.notes:
            print(f"       {note}", flush=True)
        failed += not outcome.ok
    print(f"{len(jobs) - failed} of {len(jobs)} passed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
