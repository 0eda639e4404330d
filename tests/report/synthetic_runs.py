"""Run folders in the real on-disk format (journal.jsonl + requests/), built without running anything.

Shaped like experiments/circuit-breaker.yaml: 30 s of load on two endpoints, ``payments-slow``
from 10 s to 20 s, the breaker's events. ``slow`` multiplies every latency (a regression).
"""
from __future__ import annotations

import json
from pathlib import Path

from harness.data import ChunkWriter
from harness.report.rerender import rerender
from harness.result import RunResult

ROOT = Path(__file__).resolve().parents[2]
# A frozen copy of the circuit-breaker experiment the synthetic history was shaped after: the live
# experiment grows checks (effect audits, more faults) that this history has no records for.
EXPERIMENT = Path(__file__).resolve().parent / "circuit-breaker-synthetic.yaml"
T0 = 1_800_000_000.0


def build_run(folder: Path, *, slow: float = 1.0, errors_every: int = 200, rate: float = 100.0) -> RunResult:
    folder.mkdir(parents=True, exist_ok=True)
    recs = [
        {"kind": "run_started", "t": T0 - 1, "experiment": "circuit-breaker", "experiment_path": str(EXPERIMENT),
         "system": "circuit-breaker", "defect": None, "seed": 42, "runtime": "local",
         "steady_state": {"warmup": 3.0, "settle": 6.0}},
        {"kind": "load_started", "t": T0, "users": 8, "spawn_rate": 8},
        {"kind": "fault_applied", "t": T0 + 10, "fault": "payments-slow", "type": "latency", "target": "orders->payments",
         "attributes": {"latency": 2000}, "stream": "downstream", "toxicity": 1.0},
        {"kind": "event", "t": T0 + 10.5, "service": "orders", "type": "breaker_state", "state": "open"},
        {"kind": "event", "t": T0 + 13.5, "service": "orders", "type": "breaker_state", "state": "half_open"},
        {"kind": "fault_removed", "t": T0 + 20, "fault": "payments-slow"},
        {"kind": "event", "t": T0 + 21.0, "service": "orders", "type": "breaker_state", "state": "closed"},
        {"kind": "load_stopped", "t": T0 + 30},
        {"kind": "run_finished", "t": T0 + 31, "status": "completed", "error": None},
    ]
    (folder / "journal.jsonl").write_text("".join(json.dumps(r) + "\n" for r in recs))
    w = ChunkWriter(folder / "requests" / "locust.hreq")
    n = int(30 * rate)
    for i in range(n):
        t = T0 + i / rate
        in_fault = T0 + 10 <= t < T0 + 20
        ms = (2000.0 if T0 + 10 <= t < T0 + 10.5 else 3.0 if in_fault else 8.0) + (i * 37 % 100) / 10
        failed = i % errors_every == 0
        name, method = ("POST /orders", "POST") if i % 3 else ("GET /orders/[id]", "GET")
        w.add(t, ms * slow, 1 if failed else 0, 500 if failed else 200, 40, name, method, "HTTP 500" if failed else None)
        if i % 20 == 19:
            w.flush()
    w.close()
    return rerender(folder)
