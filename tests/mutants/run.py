"""Run a system's experiments against realistic defects kept as patches (``tests/mutants/``).

A mutant is a unified diff against the repository root (``tests/mutants/<system>/<name>.patch``),
listed in ``tests/mutants/index.yaml``. For each mutant this script copies the checkout's
``targets/`` into a temporary directory, applies the patch there (never to the checkout), points the
harness at the copy with ``HARNESS_TARGETS`` and runs every experiment of that system through the
real CLI. A mutant is

    caught     some experiment exited 1 with a failed check, a deviated steady state or an
               aborted run (the gate said no for a reason it can name)
    unknown    exited 1, but only because checks were unknown (the gate said no without proof)
    survived   every experiment passed
    broken     the patch does not apply, or an experiment could not run (exit 2/3): not counted

Usage (from the repository root, with the project's venv):

    .venv/bin/python tests/mutants/run.py                        # every mutant in index.yaml
    .venv/bin/python tests/mutants/run.py saga cqrs              # mutants of these systems
    .venv/bin/python tests/mutants/run.py --mutant saga/orphan-refund --all-experiments
    .venv/bin/python tests/mutants/run.py --root ../base --out /tmp/before.json   # another checkout

``--root`` runs another checkout's targets/, experiments/ and harness (its ``.venv`` if it has
one): that is how a "before" catch rate is measured on an older commit with today's mutants.
Results go to ``--out`` (JSON) and a table is printed.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(HERE.parent))  # tests/: the machine-wide experiment slots
from slots import experiment_slot, weight_of  # noqa: E402


@dataclass
class Mutant:
    system: str
    name: str
    patch: Path
    cls: str = ""
    description: str = ""

    @property
    def id(self) -> str:
        return f"{self.system}/{self.name}"


@dataclass
class ExperimentRun:
    experiment: str
    exit_code: int
    verdict: str
    status: str
    failed: list[str] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)
    summaries: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0


@dataclass
class MutantResult:
    mutant: str
    cls: str
    outcome: str  # caught | unknown | survived | broken
    caught_by: list[str] = field(default_factory=list)
    runs: list[ExperimentRun] = field(default_factory=list)
    note: str = ""


def load_index(index: Path) -> list[Mutant]:
    data = yaml.safe_load(index.read_text()) or {}
    items = data.get("mutants", data) if isinstance(data, dict) else data
    out = []
    for item in items:
        patch = index.parent / item["system"] / f"{item['name']}.patch"
        out.append(Mutant(item["system"], item["name"], patch, str(item.get("class", "")),
                          str(item.get("description", ""))))
    return out


def experiments_for(root: Path, system: str) -> list[Path]:
    found = []
    for path in sorted((root / "experiments").glob("*.yaml")):
        try:
            doc = yaml.safe_load(path.read_text())
        except yaml.YAMLError:
            continue
        if isinstance(doc, dict) and doc.get("system") == system:
            found.append(path)
    return found


def python_of(root: Path) -> str:
    venv = root / ".venv" / "bin" / "python"
    return str(venv) if venv.exists() else sys.executable


def apply_patch(patch: Path, into: Path) -> str | None:
    """Apply to a plain directory holding targets/; None on success, else git's complaint."""
    proc = subprocess.run(["git", "apply", "--whitespace=nowarn", str(patch)], cwd=into, capture_output=True, text=True)
    return None if proc.returncode == 0 else (proc.stderr.strip() or proc.stdout.strip() or "git apply failed")


def run_one(root: Path, targets: Path, experiment: Path, out: Path, timeout: float) -> ExperimentRun:
    env = {**os.environ, "HARNESS_TARGETS": str(targets)}
    args = [python_of(root), "-m", "harness.cli", "run", str(experiment), "--out", str(out), "--quiet"]
    # A run judged on a starved machine would say nothing about the mutant (contention ones run alone).
    with experiment_slot(weight=weight_of(experiment)):
        started = time.monotonic()
        try:
            proc = subprocess.run(args, cwd=root, env=env, capture_output=True, text=True, timeout=timeout)
            code = proc.returncode
        except subprocess.TimeoutExpired:
            code = -1
    result: dict[str, Any] = {}
    if (out / "result.json").exists():
        result = json.loads((out / "result.json").read_text())
    checks = result.get("checks", [])
    return ExperimentRun(
        experiment=experiment.name, exit_code=code, verdict=str(result.get("verdict", "")),
        status=str(result.get("status", "")),
        failed=[c["name"] for c in checks if c["verdict"] == "failed"],
        unknown=[c["name"] for c in checks if c["verdict"] == "unknown"],
        summaries={c["name"]: c["summary"] for c in checks if c["verdict"] != "passed"},
        seconds=round(time.monotonic() - started, 1))


def judge(runs: list[ExperimentRun]) -> tuple[str, list[str]]:
    caught = [f"{r.experiment}:{name}" for r in runs if r.exit_code == 1 for name in r.failed]
    caught += [f"{r.experiment}:status={r.status}" for r in runs
               if r.exit_code == 1 and not r.failed and r.status in ("aborted", "deviated")]
    if caught:
        return "caught", caught
    if any(r.exit_code == 1 and r.unknown for r in runs):
        return "unknown", [f"{r.experiment}:{n}(unknown)" for r in runs for n in r.unknown]
    if runs and all(r.exit_code == 0 for r in runs):
        return "survived", []
    return "broken", []


def run_mutant(m: Mutant, root: Path, work: Path, all_experiments: bool, timeout: float) -> MutantResult:
    experiments = experiments_for(root, m.system)
    if not experiments:
        return MutantResult(m.id, m.cls, "broken", note=f"no experiment for system '{m.system}' in {root / 'experiments'}")
    copy = work / m.id.replace("/", "__")
    shutil.copytree(root / "targets", copy / "targets", ignore=shutil.ignore_patterns("__pycache__"))
    problem = apply_patch(m.patch, copy)
    if problem:
        return MutantResult(m.id, m.cls, "broken", note=f"patch does not apply: {problem}")
    runs: list[ExperimentRun] = []
    for exp in experiments:
        run = run_one(root, copy / "targets", exp, copy / "runs" / exp.stem, timeout)
        runs.append(run)
        print(f"  {m.id:45} {exp.name:45} exit {run.exit_code} {run.seconds:6.1f}s "
              f"failed={','.join(run.failed) or '-'}", flush=True)
        if not all_experiments and run.exit_code == 1 and (run.failed or run.status in ("aborted", "deviated")):
            break
    outcome, caught_by = judge(runs)
    return MutantResult(m.id, m.cls, outcome, caught_by, runs)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("systems", nargs="*", help="only mutants of these systems")
    p.add_argument("--mutant", action="append", default=[], help="SYSTEM/NAME (repeatable)")
    p.add_argument("--index", type=Path, default=HERE / "index.yaml")
    p.add_argument("--root", type=Path, default=ROOT, help="checkout whose targets/, experiments/ and harness run")
    p.add_argument("--all-experiments", action="store_true", help="run every experiment, not only until one catches")
    p.add_argument("--timeout", type=float, default=600.0, help="per experiment, seconds")
    p.add_argument("--out", type=Path, help="write the results here as JSON")
    p.add_argument("--keep", action="store_true", help="keep the temporary copies and run folders")
    args = p.parse_args(argv)

    mutants = load_index(args.index)
    if args.systems:
        mutants = [m for m in mutants if m.system in args.systems]
    if args.mutant:
        mutants = [m for m in mutants if m.id in args.mutant]
    if not mutants:
        print("no mutants selected", file=sys.stderr)
        return 2
    root = args.root.resolve()
    work = Path(tempfile.mkdtemp(prefix="harness-mutants-"))
    results: list[MutantResult] = []
    try:
        for m in mutants:
            results.append(run_mutant(m, root, work, args.all_experiments, args.timeout))
            if args.out:  # after each mutant: a long campaign that is stopped keeps what it measured
                args.out.write_text(json.dumps([asdict(r) for r in results], indent=2))
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
        else:
            print(f"kept: {work}")
    counted = [r for r in results if r.outcome != "broken"]
    caught = sum(r.outcome == "caught" for r in counted)
    print(f"\n{'mutant':45} {'class':24} outcome   caught by")
    for r in results:
        print(f"{r.mutant:45} {r.cls:24} {r.outcome:9} {', '.join(r.caught_by[:3]) or r.note[:60]}")
    print(f"\ncaught {caught} of {len(counted)} viable mutants"
          + (f" ({caught / len(counted):.0%})" if counted else "")
          + f"; unknown-only {sum(r.outcome == 'unknown' for r in counted)}; broken {len(results) - len(counted)}")
    return 0 if caught == len(counted) else 1


if __name__ == "__main__":
    raise SystemExit(main())
