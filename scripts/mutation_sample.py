"""Code mutation of a target's resilience module, with the system's experiments as the killing tests.

A sampled budget, because every test is a real experiment (about a minute): cosmic-ray (PyPI,
``pip install -e '.[mutation]'``) enumerates every mutation its operators can make in the module
(a comparison flipped, a constant changed, a condition negated, a loop emptied, ...); this script
draws ``--sample`` of them with ``--seed``, and for each one copies ``targets/`` to a temporary
directory, writes the mutated module there (never into the checkout), points the harness at the
copy with ``HARNESS_TARGETS`` and runs the experiments in the order given until one fails:

    killed      an experiment exited 1 with a failed check, a deviated steady state or an aborted run
    crashed     the mutated service would not start (exit 3): killed by any test, counted apart
    unknown     exited 1, but only because checks were unknown
    survived    every experiment passed
    error       the harness could not run (exit 2, or anything else): not counted

Each experiment holds one of the machine-wide test slots (tests/slots.py), like the test suite.

    .venv/bin/python scripts/mutation_sample.py targets/_shared/breaker.py \\
        experiments/circuit-breaker.yaml experiments/circuit-breaker-payments-unwell.yaml \\
        --sample 25 --seed 1 --out reports/mutation-breaker.json
    .venv/bin/python scripts/mutation_sample.py targets/api-gateway/replicas.py --list   # every mutation

The mutation score is killed (crashed included) over the judged mutants (killed, crashed, unknown,
survived); the JSON keeps every mutant's operator, line, diff and the checks that failed.
"""
from __future__ import annotations

import argparse
import difflib
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))


@dataclass
class Mutation:
    index: int
    operator: str
    occurrence: int
    line: int
    definition: str | None


@dataclass
class MutantRun:
    mutation: Mutation
    outcome: str = "survived"
    killed_by: str | None = None
    failed_checks: list[str] = field(default_factory=list)
    runs: list[dict[str, Any]] = field(default_factory=list)
    diff: str = ""
    seconds: float = 0.0


def enumerate_mutations(module: Path) -> list[Mutation]:
    try:
        from cosmic_ray.commands.init import _all_work_items
    except ImportError:
        raise SystemExit("cosmic-ray is not installed: .venv/bin/pip install -e '.[mutation]'") from None
    found = []
    for i, item in enumerate(_all_work_items([module], {})):
        m = item.mutations[0]
        found.append(Mutation(i, m.operator_name, m.occurrence, m.start_pos[0], m.definition_name))
    return found


def mutated_source(module: Path, m: Mutation) -> str | None:
    import cosmic_ray.plugins
    from cosmic_ray.mutating import mutate_code

    operator = cosmic_ray.plugins.get_operator(m.operator)()
    return mutate_code(module.read_text(encoding="utf-8"), operator, m.occurrence)


def run_experiment(experiment: str, targets: Path, out: Path, timeout: float) -> dict[str, Any]:
    from slots import experiment_slot

    env = {**os.environ, "HARNESS_TARGETS": str(targets)}
    cmd = [str(ROOT / ".venv" / "bin" / "harness"), "run", str(ROOT / experiment), "--out", str(out), "--quiet"]
    started = time.monotonic()
    with experiment_slot():
        try:
            code = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout).returncode
        except subprocess.TimeoutExpired:
            code = -1
    result: dict[str, Any] = {}
    if (out / "result.json").is_file():
        result = json.loads((out / "result.json").read_text())
    checks = result.get("checks", [])
    return {"experiment": experiment, "exit_code": code, "status": result.get("status"),
            "failed": [c["name"] for c in checks if c["verdict"] == "failed"],
            "unknown": [c["name"] for c in checks if c["verdict"] == "unknown"],
            "seconds": round(time.monotonic() - started, 1)}


def judge(module: Path, m: Mutation, experiments: list[str], timeout: float) -> MutantRun:
    run = MutantRun(m)
    started = time.monotonic()
    code = mutated_source(module, m)
    if code is None:
        run.outcome = "error"
        return run
    rel = module.resolve().relative_to(ROOT / "targets")
    original = module.read_text(encoding="utf-8")
    run.diff = "".join(difflib.unified_diff(original.splitlines(True), code.splitlines(True),
                                            f"a/targets/{rel}", f"b/targets/{rel}", n=1))
    with tempfile.TemporaryDirectory(prefix="mutation-") as tmp:
        targets = Path(tmp) / "targets"
        shutil.copytree(ROOT / "targets", targets, ignore=shutil.ignore_patterns("__pycache__"))
        (targets / rel).write_text(code, encoding="utf-8")
        for experiment in experiments:
            r = run_experiment(experiment, targets, Path(tmp) / Path(experiment).stem, timeout)
            run.runs.append(r)
            if r["exit_code"] == 1 and (r["failed"] or r["status"] == "aborted"):
                run.outcome, run.killed_by, run.failed_checks = "killed", experiment, r["failed"]
                break
            if r["exit_code"] == 3:
                run.outcome, run.killed_by = "crashed", experiment
                break
            if r["exit_code"] == 1:
                run.outcome = "unknown"
            elif r["exit_code"] != 0:
                run.outcome = "error"
                break
    run.seconds = round(time.monotonic() - started, 1)
    return run


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("module", type=Path, help="the module to mutate, under targets/")
    ap.add_argument("experiments", nargs="*", help="killing experiments, cheapest or strongest first")
    ap.add_argument("--sample", type=int, default=20, help="mutants drawn (default 20)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--timeout", type=float, default=300.0, help="seconds per experiment run")
    ap.add_argument("--list", action="store_true", help="list every mutation and exit")
    ap.add_argument("--out", type=Path, help="JSON results")
    args = ap.parse_args(argv)
    module = args.module.resolve()
    if not module.is_file() or ROOT / "targets" not in module.parents:
        ap.error(f"{args.module}: not a file under targets/")
    mutations = enumerate_mutations(module)
    if args.list:
        for m in mutations:
            print(f"{m.index:4d}  line {m.line:4d}  {m.definition or '-':28s} {m.operator} #{m.occurrence}")
        print(f"{len(mutations)} mutations")
        return 0
    if not args.experiments:
        ap.error("name the killing experiments")
    sample = sorted(random.Random(args.seed).sample(mutations, min(args.sample, len(mutations))), key=lambda m: m.index)
    results: list[MutantRun] = []
    for n, m in enumerate(sample, 1):
        r = judge(module, m, args.experiments, args.timeout)
        results.append(r)
        print(f"[{n}/{len(sample)}] {r.outcome:8s} line {m.line:4d} {m.operator.split('/')[-1]} #{m.occurrence} "
              f"({m.definition}) {r.killed_by or ''} {', '.join(r.failed_checks[:3])}", flush=True)
        if args.out:
            _write(args.out, module, mutations, sample, results, args)
    judged = [r for r in results if r.outcome in ("killed", "crashed", "unknown", "survived")]
    killed = sum(r.outcome in ("killed", "crashed") for r in judged)
    print(f"mutation score: {killed}/{len(judged)} killed ({killed / len(judged):.0%})" if judged else "nothing judged")
    return 0


def _write(out: Path, module: Path, mutations: list[Mutation], sample: list[Mutation], results: list[MutantRun],
           args: argparse.Namespace) -> None:
    judged = [r for r in results if r.outcome in ("killed", "crashed", "unknown", "survived")]
    killed = sum(r.outcome in ("killed", "crashed") for r in judged)
    doc = {"module": str(module.relative_to(ROOT)), "experiments": args.experiments, "seed": args.seed,
           "mutations_total": len(mutations), "sampled": len(sample), "done": len(results),
           "killed": killed, "judged": len(judged), "score": round(killed / len(judged), 3) if judged else None,
           "results": [asdict(r) for r in results]}
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(doc, indent=1), encoding="utf-8")


if __name__ == "__main__":
    sys.exit(main())
