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
from typing import NoReturn, Sequence

from .errors import EnvironmentProblem, HarnessError, InputError, RunInterrupted


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # usage errors are exit 2 like every input error
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

    val = sub.add_parser("validate", help="validate experiment files (and their systems) without running")
    val.add_argument("files", type=Path, nargs="+")

    ls = sub.add_parser("list", help="list target systems, their experiments and defects")
    ls.add_argument("--json", action="store_true")

    rep = sub.add_parser("report", help="re-render a run folder's reports from its stored history")
    rep.add_argument("run_dir", type=Path)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "validate":
            return cmd_validate(args.files)
        if args.command == "list":
            return cmd_list(args.json)
        if args.command == "report":
            return cmd_report(args.run_dir)
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


def cmd_report(run_dir: Path) -> int:
    from .report.rerender import rerender

    result = rerender(run_dir)
    print(f"verdict: {result.verdict.upper()} ({result.status}; {sum(c.verdict == 'passed' for c in result.checks)}/"
          f"{len(result.checks)} checks passed)")
    print(f"report: {result.run_dir / 'report.html'}")
    return result.exit_code


if __name__ == "__main__":
    raise SystemExit(main())
