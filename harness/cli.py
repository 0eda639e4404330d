"""Thin: parse -> load -> validate -> run -> report; maps errors to exit codes.

    0   every check passed
    1   a resilience check failed (or was unknown), or the steady state deviated
    2   invalid input or usage: file, field and reason named, no traceback
    3   environment error (a tool missing, a target that would not start), with what to do next
    130 interrupted, after every fault was healed and every process stopped
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Sequence

from .errors import EnvironmentProblem, HarnessError, InputError, RunInterrupted


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # usage errors are exit 2 like every input error
        self.print_usage(sys.stderr)
        sys.stderr.write(f"harness: error: {message}\n")
        raise SystemExit(2)


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="harness", description="Chaos and resilience testing: real load, real faults, checked properties.")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)

    run = sub.add_parser("run", help="run an experiment and write its reports")
    run.add_argument("experiment", type=Path)
    run.add_argument("--out", type=Path, help="run folder (default: reports/<time>-<experiment>)")
    run.add_argument("--defect", help="switch on one of the system's defects")
    run.add_argument("--seed", type=int, help="override the experiment's seed")
    run.add_argument("--runtime", default="local", help="where the system runs (default: local)")
    run.add_argument("--quiet", action="store_true", help="print only the verdict and the report path")

    exp = sub.add_parser("explore", help="run the standard fault matrix on a system and report its impact")
    exp.add_argument("system", help="a built-in system's name, or a path to a system.yaml")
    exp.add_argument("--budget", type=_duration, help="time for the cells, e.g. 10m (default: the whole matrix); "
                     "phases are shortened, then cells dropped, and the report says which")
    exp.add_argument("--seed", type=int, default=0, help="cell order and load randomness (default 0)")
    exp.add_argument("--out", type=Path, help="run folder (default: reports/<time>-explore-<system>)")
    exp.add_argument("--defect", help="switch on one of the system's defects")
    exp.add_argument("--runtime", default="local", help="where the system runs (default: local)")
    exp.add_argument("--users", type=int, default=6, help="Locust users (default 6)")
    exp.add_argument("--user-class", action="append", default=[], dest="user_classes",
                     help="Locust user class to run (repeatable; default: every class in the locustfile)")
    exp.add_argument("--faults", type=_names, help="comma-separated matrix faults (default: all)")
    exp.add_argument("--targets", type=_names, help="comma-separated edges and services (default: all)")
    exp.add_argument("--phases", type=_phases, help="baseline,fault,recovery seconds per cell (default 8s,10s,12s)")
    exp.add_argument("--fail-on", type=_names, default=["invariants", "recovery"],
                     help="properties whose failure fails the run (default invariants,recovery; also "
                          "amplification, blast-radius, baseline)")
    exp.add_argument("--recovery-within", type=_duration, help="bound on recovery after a fault (default: min(8s, "
                     "recovery phase - 2s))")
    exp.add_argument("--max-amplification", type=float, default=4.0,
                     help="calls per request on a faulted edge vs normal, for edges without max_amplification "
                          "(default 4)")
    exp.add_argument("--quiet", action="store_true", help="print only the verdict and the report path")

    val = sub.add_parser("validate", help="validate experiment files (and their systems) without running")
    val.add_argument("files", type=Path, nargs="+")

    ls = sub.add_parser("list", help="list target systems, their experiments and defects")
    ls.add_argument("--json", action="store_true")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "validate":
            return cmd_validate(args.files)
        if args.command == "list":
            return cmd_list(args.json)
        if args.command == "explore":
            return cmd_explore(args)
        return cmd_run(args)
    except InputError as exc:
        sys.stderr.write(f"harness: invalid input\n{exc.render()}\n")
        return 2
    except EnvironmentProblem as exc:
        sys.stderr.write(f"harness: environment error: {exc}\n")
        return 3
    except RunInterrupted:
        return 130
    except KeyboardInterrupt:
        return 130
    except HarnessError as exc:
        sys.stderr.write(f"harness: {exc}\n")
        return exc.exit_code


def cmd_validate(files: list[Path]) -> int:
    from .experiment import load_experiment

    worst = 0
    for f in files:
        try:
            exp = load_experiment(f)
        except InputError as exc:
            sys.stderr.write(exc.render() + "\n")
            worst = 2
            continue
        print(f"{f}: ok ({exp.name}: system {exp.target.name}, {len(exp.faults)} faults, {len(exp.checks)} checks, "
              f"{len(exp.steady_state.conditions)} steady-state conditions)")
    return worst


def cmd_list(as_json: bool) -> int:
    from .inventory import inventory

    data = inventory()
    if as_json:
        print(json.dumps(data, indent=2))
        return 0
    for system in data["systems"]:
        print(f"{system['name']}: {system['description']}")
        print(f"  manifest:    {system['manifest']}")
        print(f"  edges:       {', '.join(system['edges']) or '-'}")
        print(f"  defects:     {', '.join(d['name'] for d in system['defects']) or '-'}")
        print(f"  experiments: {', '.join(e['path'] for e in system['experiments']) or '-'}")
    for bad in data.get("invalid", []):
        print(f"(invalid) {bad['path']}: {bad['error']}")
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    from .console import ConsoleProgress
    from .experiment import load_experiment
    from .runner import RunOptions, run_experiment

    exp = load_experiment(args.experiment)
    opts = RunOptions(defect=args.defect, seed=args.seed, out=args.out, runtime=args.runtime)
    if not args.quiet:
        ConsoleProgress(opts.events)
    result = run_experiment(exp, opts)
    verdict = result.verdict.upper()
    print(f"verdict: {verdict} ({result.status}; {sum(c.verdict == 'passed' for c in result.checks)}/"
          f"{len(result.checks)} checks passed)")
    if result.error:
        print(f"error: {result.error}", file=sys.stderr)
    print(f"report: {result.run_dir / 'report.html'}")
    return result.exit_code


def cmd_explore(args: argparse.Namespace) -> int:
    from .catalog import resolve_system
    from .console import ConsoleProgress
    from .explore import ExploreOptions, Phases, explore
    from .system import load_system

    manifest = resolve_system(args.system, Path.cwd())
    if manifest is None:
        from .catalog import builtin_systems

        raise InputError(f"unknown system '{args.system}': not a manifest path and not a built-in system; "
                         f"built-in: {', '.join(builtin_systems()) or 'none'}")
    system = load_system(manifest)
    opts = ExploreOptions(seed=args.seed, budget=args.budget, out=args.out, runtime=args.runtime, defect=args.defect,
                          users=args.users, user_classes=args.user_classes, faults=args.faults, targets=args.targets,
                          fail_on=args.fail_on, recovery_within=args.recovery_within,
                          max_amplification=args.max_amplification)
    if args.phases is not None:
        opts.phases = Phases(*args.phases)
    if not args.quiet:
        ConsoleProgress(opts.events)
    result = explore(system, opts)
    cells = result.extra.get("matrix", {}).get("cells", [])
    ran = sum(1 for c in cells if c.get("status") == "ran")
    print(f"verdict: {result.verdict.upper()} ({result.status}; {ran} cell(s) ran; "
          f"{sum(c.verdict == 'passed' for c in result.checks)}/{len(result.checks)} checks passed)")
    if result.error:
        print(f"error: {result.error}", file=sys.stderr)
    print(f"report: {result.run_dir / 'report.html'}")
    return result.exit_code


def _duration(text: str) -> float:
    from .durations import parse_duration

    try:
        return parse_duration(text if not text.replace(".", "", 1).isdigit() else float(text))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _names(text: str) -> list[str]:
    return [n.strip() for n in text.split(",") if n.strip()]


def _phases(text: str) -> tuple[float, float, float]:
    parts = _names(text)
    if len(parts) != 3:
        raise argparse.ArgumentTypeError(f"expected baseline,fault,recovery (e.g. 6s,8s,10s), got {text!r}")
    values = tuple(_duration(p) for p in parts)
    if min(values) < 2:
        raise argparse.ArgumentTypeError(f"each phase needs at least 2s, got {text!r}")
    return values  # type: ignore[return-value]


if __name__ == "__main__":
    raise SystemExit(main())
