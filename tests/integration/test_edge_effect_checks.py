"""The edge systems' effect and answer checks catch the defects they are there for, in real runs.

Each test copies ``targets/`` to a temporary folder, makes one small code change there of the
kind a team ships by mistake (never in the checkout, never behind a switch), points the harness
at the copy (``HARNESS_TARGETS``) and runs the system's experiment: the check that judges
effects or answers must fail, for that reason. About a minute each: under ``make test-full``.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT, Run

pytestmark = [pytest.mark.integration, pytest.mark.full]


def run_changed(tmp_path: Path, experiment: str, file: str, old: str, new: str) -> Run:
    targets = tmp_path / "targets"
    shutil.copytree(ROOT / "targets", targets, ignore=shutil.ignore_patterns("__pycache__"))
    source = targets / file
    text = source.read_text(encoding="utf-8")
    assert text.count(old) == 1, f"the change no longer applies to {file}"
    source.write_text(text.replace(old, new), encoding="utf-8")
    out = tmp_path / "run"
    proc = subprocess.run([sys.executable, "-m", "harness.cli", "run", str(ROOT / experiment), "--out", str(out), "--quiet"],
                          cwd=ROOT, capture_output=True, text=True, timeout=400,
                          env={**os.environ, "HARNESS_TARGETS": str(targets)})
    result = json.loads((out / "result.json").read_text()) if (out / "result.json").exists() else {}
    return Run(proc.returncode, result, out, proc.stdout + proc.stderr)


def test_a_payments_without_idempotency_is_caught_charging_twice(tmp_path: Path) -> None:
    run = run_changed(tmp_path, "experiments/circuit-breaker-payments-unwell.yaml", "circuit-breaker/payments.py",
                      '    if existing is not None:\n        CHARGES.labels("duplicate").inc()\n        return JSONResponse(existing)\n',
                      "")
    assert run.code == 1, run.explain()
    assert {"every-acknowledged-order-charged-once", "effects-hold"} <= run.failed, run.explain()
    money = run.check("every-acknowledged-order-charged-once")
    assert "took effect more than once at audit 'charges'" in money["summary"]


def test_a_sidecar_that_retries_reservations_is_caught_reserving_twice(tmp_path: Path) -> None:
    run = run_changed(tmp_path, "experiments/sidecar.yaml", "sidecar/sidecar.py",
                      'IDEMPOTENT = {"GET", "HEAD", "OPTIONS", "PUT", "DELETE"}',
                      'IDEMPOTENT = {"GET", "HEAD", "OPTIONS", "PUT", "DELETE", "POST"}')
    assert run.code == 1, run.explain()
    assert "reservations-made-at-most-once" in run.failed, run.explain()
    assert "took effect more than once" in run.check("reservations-made-at-most-once")["summary"]


def test_an_aggregator_that_fetches_parts_one_after_another_is_caught_by_the_deadline(tmp_path: Path) -> None:
    run = run_changed(tmp_path, "experiments/aggregator.yaml", "_shared/fanout.py",
                      "    results = await asyncio.gather(*(_one(name, call, deadline) for name, call in calls.items()))",
                      "    results = [await _one(name, call, deadline) for name, call in calls.items()]")
    assert run.code == 1, run.explain()
    assert "two-slow-parts-cost-one-deadline" in run.failed, run.explain()
    assert run.check("two-slow-parts-cost-one-deadline")["evidence"]["value_ms"] > 900  # two deadlines


def test_an_acl_that_maps_a_status_wrongly_is_caught_by_the_system_of_record(tmp_path: Path) -> None:
    run = run_changed(tmp_path, "experiments/anti-corruption-layer.yaml", "anti-corruption-layer/legacy_model.py",
                      'STATUS = {"A": "active", "S": "suspended", "C": "closed"}',
                      'STATUS = {"A": "active", "S": "active", "C": "closed"}')
    assert run.code == 1, run.explain()
    assert "answers-agree-with-the-system-of-record" in run.failed, run.explain()
    assert "the record says 'suspended'" in run.check("answers-agree-with-the-system-of-record")["summary"]


def test_a_gateway_that_keeps_sending_to_a_slow_replica_is_caught_at_the_replica(tmp_path: Path) -> None:
    run = run_changed(tmp_path, "experiments/api-gateway.yaml", "api-gateway/replicas.py",
                      "        return [r for r in rotated if r.healthy] or rotated", "        return rotated")
    assert run.code == 1, run.explain()
    assert "b2-out-of-rotation-while-slow" in run.failed, run.explain()
    assert run.check("b2-out-of-rotation-while-slow")["evidence"]["calls"] > 10
