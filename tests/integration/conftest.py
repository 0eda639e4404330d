"""Run a real experiment through the real CLI and hand back its exit code and result.json."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import pytest

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Run:
    code: int
    result: dict[str, Any]
    out: Path
    output: str

    def check(self, name: str) -> dict[str, Any]:
        for c in self.result["checks"]:
            if c["name"] == name:
                return c
        raise AssertionError(f"no check named {name!r}; checks: {[c['name'] for c in self.result['checks']]}")

    @property
    def failed(self) -> set[str]:
        return {c["name"] for c in self.result["checks"] if c["verdict"] == "failed"}

    def explain(self) -> str:
        lines = [f"exit {self.code}, verdict {self.result.get('verdict')}, status {self.result.get('status')}"]
        lines += [f"  {c['verdict']:8} {c['name']}: {c['summary']}" for c in self.result.get("checks", [])]
        return "\n".join(lines) + "\n" + self.output[-3000:]


def with_mutant(mutant: str, into: Path) -> Path:
    """A copy of ``targets/`` under ``into`` with ``tests/mutants/<mutant>.patch`` applied; its path."""
    shutil.copytree(ROOT / "targets", into / "targets", ignore=shutil.ignore_patterns("__pycache__"))
    subprocess.run(["git", "apply", str(ROOT / "tests" / "mutants" / f"{mutant}.patch")], cwd=into, check=True)
    return into / "targets"


@pytest.fixture
def run_experiment(tmp_path: Path) -> Callable[..., Run]:
    """``run_experiment("experiments/x.yaml", defect=None, *extra_args, targets=None, mutant=None)`` -> Run;
    ``targets`` runs the experiment against another copy of ``targets/`` (a code change no defect switch
    has); ``mutant`` ("SYSTEM/NAME") makes that copy with ``tests/mutants/SYSTEM/NAME.patch`` applied."""

    def run(experiment: str, defect: str | None = None, *extra: str, timeout: float = 300,
            targets: Path | None = None, mutant: str | None = None) -> Run:
        if mutant:
            targets = with_mutant(mutant, tmp_path / "mutant")
        out = tmp_path / (defect or "sound")
        args = [sys.executable, "-m", "harness.cli", "run", str(ROOT / experiment), "--out", str(out), "--quiet", *extra]
        if defect:
            args += ["--defect", defect]
        env = {**os.environ, "HARNESS_TARGETS": str(targets)} if targets else None  # a changed copy of targets/
        proc = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=timeout, env=env)
        result_path = out / "result.json"
        result = json.loads(result_path.read_text()) if result_path.exists() else {}
        return Run(proc.returncode, result, out, proc.stdout + proc.stderr)

    return run
