"""Code mutation over a target's resilience modules, with the real experiments as the killing tests.

Cosmic Ray (PyPI ``cosmic-ray``) enumerates every mutation of the named modules (a comparison
flipped, a number changed, a ``break`` turned into ``continue``, an exception type swapped...). A
run of all of them would take days at ~1 minute per experiment, so this script keeps a seeded
random SAMPLE of them and has Cosmic Ray execute only those. Each mutation is applied to a copy of
``targets/`` (never to the checkout), and the "test suite" is the system's experiments run through
the real CLI against that copy (``HARNESS_TARGETS``), one after another until one fails:

    killed      an experiment exited 1 (a check failed, or steady state deviated)
    crashed     an experiment exited 2/3 or timed out: the mutant broke the service outright
                (counted as killed, reported apart: no check had to notice anything)
    survived    every experiment passed

Usage (from the repository root, with the project's venv and ``pip install -e '.[mutation]'``)::

    .venv/bin/python scripts/mutation_sample.py targets/saga/saga_flow.py targets/saga/orchestrator.py \\
        --experiment experiments/saga.yaml --experiment experiments/saga-orchestrator-killed.yaml \\
        --sample 30 --seed 1 --out reports/mutation-saga.json

Prints the score and every surviving mutant as a diff; writes the same to ``--out`` (JSON).
"""
from __future__ import annotations

import argparse
import json
import os
import random
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
from slots import experiment_slot  # noqa: E402  (one of the machine-wide experiment slots, as tests take)
MARK = "@@mutation-experiment "


def run_experiments(targets: Path, experiments: list[str], timeout: float) -> int:
    """The Cosmic Ray test command: run each experiment until one fails; exit with its code."""
    env = {**os.environ, "HARNESS_TARGETS": str(targets)}
    work = Path(tempfile.mkdtemp(prefix="mutation-run-"))
    try:
        for exp in experiments:
            out = work / Path(exp).stem
            with experiment_slot():
                started = time.monotonic()
                try:
                    code = subprocess.run([sys.executable, "-m", "harness.cli", "run", str(ROOT / exp), "--out", str(out),
                                           "--quiet"], cwd=ROOT, env=env, capture_output=True, text=True,
                                          timeout=timeout).returncode
                except subprocess.TimeoutExpired:
                    code = 124
            failed: list[str] = []
            result = out / "result.json"
            if result.exists():
                checks = json.loads(result.read_text()).get("checks", [])
                failed = [c["name"] for c in checks if c["verdict"] != "passed"]
            print(MARK + json.dumps({"experiment": exp, "exit": code, "seconds": round(time.monotonic() - started, 1),
                                     "not_passed": failed}), flush=True)
            if code != 0:
                return code
        return 0
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _session(config: Path, session: Path) -> None:
    subprocess.run([sys.executable, "-m", "cosmic_ray.cli", "init", str(config), str(session)], check=True, cwd=ROOT)


def _sample(session: Path, size: int, seed: int) -> tuple[int, list[str]]:
    from cosmic_ray.work_db import WorkDB, use_db
    from cosmic_ray.work_item import WorkerOutcome, WorkResult

    with use_db(str(session), WorkDB.Mode.open) as db:
        items = sorted(db.work_items, key=lambda w: w.job_id)
        # Seeded and independent of Cosmic Ray's random job ids: order by where the mutation is.
        items.sort(key=lambda w: (str(w.mutations[0].module_path), w.mutations[0].start_pos, w.mutations[0].operator_name,
                                  w.mutations[0].occurrence))
        keep = set(w.job_id for w in random.Random(seed).sample(items, min(size, len(items))))
        skipped = [w.job_id for w in items if w.job_id not in keep]
        db.set_multiple_results(skipped, WorkResult(worker_outcome=WorkerOutcome.SKIPPED))
        return len(items), sorted(keep)


def _results(session: Path, copy: Path) -> list[dict[str, Any]]:
    from cosmic_ray.work_db import WorkDB, use_db
    from cosmic_ray.work_item import WorkerOutcome

    out = []
    with use_db(str(session), WorkDB.Mode.open) as db:
        for item, result in db.completed_work_items:
            if result.worker_outcome == WorkerOutcome.SKIPPED:
                continue
            m = item.mutations[0]
            runs = [json.loads(line[len(MARK):]) for line in (result.output or "").splitlines() if line.startswith(MARK)]
            last = runs[-1] if runs else {}
            if result.test_outcome is not None and result.test_outcome.value == "survived":
                verdict = "survived"
            elif last.get("exit") == 1:
                verdict = "killed"
            else:
                verdict = "crashed"
            out.append({"module": str(Path(m.module_path).relative_to(copy)), "operator": m.operator_name,
                        "occurrence": m.occurrence, "line": m.start_pos[0], "definition": m.definition_name,
                        "verdict": verdict, "killed_by": (f"{last.get('experiment')}: {', '.join(last.get('not_passed', []))}"
                                                          if verdict == "killed" else None),
                        "runs": runs, "diff": result.diff or ""})
    return sorted(out, key=lambda r: (r["module"], r["line"]))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("modules", nargs="*", help="files under targets/ to mutate")
    p.add_argument("--experiment", action="append", default=[], help="experiment file (repeatable), in the order to run")
    p.add_argument("--sample", type=int, default=30, help="how many mutations to run (seeded random sample)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--timeout", type=float, default=600.0, help="per experiment, seconds")
    p.add_argument("--out", type=Path, help="write the results here (JSON)")
    p.add_argument("--run-experiments", metavar="TARGETS", help=argparse.SUPPRESS)  # the test command itself
    args = p.parse_args(argv)
    if args.run_experiments:
        return run_experiments(Path(args.run_experiments), args.experiment, args.timeout)
    if not args.modules or not args.experiment:
        p.error("give the modules to mutate and at least one --experiment")

    work = Path(tempfile.mkdtemp(prefix="mutation-"))
    try:
        copy = work / "targets"
        shutil.copytree(ROOT / "targets", copy, ignore=shutil.ignore_patterns("__pycache__"))
        modules = [copy / Path(m).relative_to("targets") for m in args.modules]
        test = [sys.executable, str(Path(__file__).resolve()), "--run-experiments", str(copy), "--timeout", str(args.timeout)]
        for exp in args.experiment:
            test += ["--experiment", exp]
        config = work / "cosmic-ray.toml"
        config.write_text("[cosmic-ray]\n"
                          f"module-path = {json.dumps([str(m) for m in modules])}\n"
                          f"timeout = {args.timeout * len(args.experiment) + 60}\n"
                          "excluded-modules = []\n"
                          f"test-command = {json.dumps(shlex.join(test))}\n"
                          "[cosmic-ray.distributor]\nname = \"local\"\n")
        session = work / "session.sqlite"
        _session(config, session)
        total, sampled = _sample(session, args.sample, args.seed)
        print(f"{total} mutations of {', '.join(args.modules)}; running a sample of {len(sampled)} (seed {args.seed})",
              flush=True)
        started = time.monotonic()
        subprocess.run([sys.executable, "-m", "cosmic_ray.cli", "exec", str(config), str(session)], check=True, cwd=ROOT)
        results = _results(session, copy)
    finally:
        shutil.rmtree(work / "targets", ignore_errors=True)
    killed = sum(r["verdict"] == "killed" for r in results)
    crashed = sum(r["verdict"] == "crashed" for r in results)
    survived = [r for r in results if r["verdict"] == "survived"]
    score = (killed + crashed) / len(results) if results else 0.0
    summary = {"modules": args.modules, "experiments": args.experiment, "mutations_total": total, "sampled": len(results),
               "seed": args.seed, "killed": killed, "crashed": crashed, "survived": len(survived),
               "score": round(score, 3), "hours": round((time.monotonic() - started) / 3600, 2), "results": results}
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(summary, indent=2))
    for r in results:
        print(f"{r['verdict']:9} {r['module']}:{r['line']} {r['operator']} ({r['definition']}) {r['killed_by'] or ''}")
    print(f"\nmutation score {score:.0%}: {killed} killed by a check, {crashed} crashed, {len(survived)} survived "
          f"of {len(results)} sampled ({total} in all)")
    for r in survived:
        print(f"\n--- survived: {r['module']}:{r['line']} {r['operator']}\n{r['diff']}")
    shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
