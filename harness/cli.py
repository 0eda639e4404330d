"""Thin: parse -> load -> validate -> run -> report; maps errors to exit codes.

    0   every check passed
    1   a resilience check failed (or was unknown), or the steady state deviated
    2   invalid input or usage: file, field and reason named, no traceback
    3   environment error (a tool missing, a target that would not start), with what to do next
    4   internal error: a bug of the harness (the run still healed, stopped and reported)
    130 interrupted, after every fault was healed and every process stopped

The exit code of ``run`` is the one in its ``result.json``. A closed stdout or stderr (the
reader went away) changes nothing but the output: the run goes on, heals, stops, reports,
and exits with its own code.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import signal
import sys
import threading
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any, Iterator, NoReturn, Sequence, TextIO, cast

from .catalog import using as catalog_in_use
from .console import safe_write
from .errors import INTERNAL_ERROR_EXIT, EnvironmentProblem, HarnessError, InputError, RunInterrupted

if TYPE_CHECKING:
    from .compare import Tolerance
    from .result import RunResult
    from .suite import SuiteResult
    from .system import SystemSpec


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # usage errors are exit 2 like every input error
        safe_write(sys.stderr, self.format_usage() + f"harness: error: {message}\n")
        raise SystemExit(2)

    def _print_message(self, message: str, file: Any = None) -> None:  # --help into a closed pipe
        if message:
            safe_write(cast(TextIO, sys.stderr if file is sys.stderr else sys.stdout), message)


def out(text: str) -> None:
    safe_write(sys.stdout, text + "\n")


def err(text: str) -> None:
    safe_write(sys.stderr, text + "\n")


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="harness", description="Chaos and resilience testing: real load, real faults, checked properties.")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)
    # Every command finds built-in systems the same way (harness.catalog).
    catalog = _Parser(add_help=False)
    catalog.add_argument("--catalog", type=Path, metavar="DIR",
                         help="a directory with targets/ and experiments/ to search first (default: $HARNESS_CATALOG, "
                              "the experiment's own, then the current directory)")
    catalog.add_argument("--allow-address", action="append", default=[], metavar="HOST[:PORT]|CIDR",
                         help="allow an already-running service (address:) outside loopback; repeatable")
    catalog.add_argument("--allowlist", type=Path, metavar="FILE",
                         help="allowed addresses, one a line (default: $HARNESS_ALLOWLIST)")

    run = sub.add_parser("run", help="run an experiment (or a suite: several files or a directory) and write its reports",
                         parents=[catalog])
    run.add_argument("experiments", type=Path, nargs="+", metavar="experiment",
                     help="experiment file(s) or directories of them; more than one (or --defects) runs a suite")
    run.add_argument("--out", help="run folder: new, empty, or an earlier run's (default: ./reports/<time>-<experiment>); "
                                   "for a suite, the suite folder (default: ./reports/<time>-suite)")
    run.add_argument("--defects", action="store_true",
                     help="suite: also run every experiment with each declared defect of its system, expecting it to fail")
    run.add_argument("--baseline", type=Path, help="compare with this earlier run (or suite) folder")
    run.add_argument("--defect", help="switch on one of the system's defects")
    run.add_argument("--seed", type=int, help="override the experiment's seed")
    run.add_argument("--runtime", default=None, help="where the system runs (default: local; docker for a Compose system)")
    run.add_argument("--workers", type=_workers, help="Locust's master and N workers (default: the experiment's "
                     "load.workers, 0: one process)")
    run.add_argument("--quiet", action="store_true", help="print only the verdict and the report path")
    _tolerance_options(run)

    exp = sub.add_parser("explore", help="run the standard fault matrix on a system and report its impact",
                         parents=[catalog])
    exp.add_argument("system", help="a built-in system's name, or a path to a system.yaml")
    exp.add_argument("--budget", type=_duration, help="time for the cells, e.g. 10m (default: the whole matrix); "
                     "phases are shortened, then cells dropped, and the report says which")
    exp.add_argument("--seed", type=int, default=0, help="cell order and load randomness (default 0)")
    exp.add_argument("--out", type=Path, help="run folder (default: ./reports/<time>-explore-<system>)")
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

    from .ui.command import add_parser as add_ui_parser

    add_ui_parser(sub, [catalog])

    val = sub.add_parser("validate", help="validate experiment files (and their systems) without running",
                         parents=[catalog])
    val.add_argument("files", type=Path, nargs="+")
    val.add_argument("--runtime", default=None,
                     help="also check what that runtime needs (local: each service's program exists here; "
                          "default: local, docker for a Compose system)")

    ls = sub.add_parser("list", help="list target systems, their experiments and defects", parents=[catalog])
    ls.add_argument("--json", action="store_true")

    rep = sub.add_parser("report", help="re-render a run (or suite) folder's reports from its stored history")
    rep.add_argument("run_dir", type=Path)

    cmp_ = sub.add_parser("compare", help="compare two run (or suite) folders: regressions with 95%% intervals")
    cmp_.add_argument("base", type=Path)
    cmp_.add_argument("new", type=Path)
    cmp_.add_argument("--out", type=Path, help="where comparison.json/.html go (default: the NEW folder)")
    _tolerance_options(cmp_)

    mut = sub.add_parser("mutate", help="run each experiment of a system with each declared defect: the mutation table",
                         parents=[catalog])
    mut.add_argument("system", nargs="?", help="a built-in system (see harness list)")
    mut.add_argument("--all", action="store_true", help="every built-in system")
    mut.add_argument("--out", type=Path, help="suite folder (default: reports/<time>-suite)")
    mut.add_argument("--seed", type=int)
    mut.add_argument("--runtime", default="local")
    mut.add_argument("--quiet", action="store_true")

    sch = sub.add_parser("schema", help="print the JSON Schema of experiment files or of system manifests")
    sch.add_argument("kind", choices=["experiment", "system"], nargs="?")
    sch.add_argument("--markdown", action="store_true", help="print the field reference of both (docs/reference.md)")
    ini = sub.add_parser("init", help="write a commented starter (manifest, locustfile, experiment) for one HTTP "
                                      "service into a directory; never overwrites")
    ini.add_argument("directory", type=Path, nargs="?", default=Path("."))
    ini.add_argument("--name", help="the system's (and service's) name (default: the directory's name)")
    ini.add_argument("--command", dest="service_command", help="how to start your service, e.g. './server --port {port}' (default: a "
                                       "stand-in service.py is written too)")
    ini.add_argument("--health", default="/health", help="the path that answers 2xx once it is ready (default /health)")

    clean = sub.add_parser("clean", help="stop and remove what runs of a killed harness left (processes, "
                                         "temporary directories, Docker resources)")
    clean.add_argument("--dry-run", action="store_true", help="only list what would be removed")
    return p


def _tolerance_options(p: argparse.ArgumentParser) -> None:
    from .compare import Tolerance

    d = Tolerance()
    p.add_argument("--latency-tolerance", type=float, default=d.latency_ratio, metavar="RATIO",
                   help=f"latency may grow by this share before it is a regression (default {d.latency_ratio:g})")
    p.add_argument("--latency-slack-ms", type=float, default=d.latency_slack_ms, metavar="MS",
                   help=f"...and by this many ms (default {d.latency_slack_ms:g})")
    p.add_argument("--error-rate-tolerance", type=float, default=d.error_rate, metavar="RATE",
                   help=f"the error rate may grow by this much, absolute (default {d.error_rate:g})")
    p.add_argument("--fail-on-regression", action="store_true", help="exit 1 when a regression is flagged")


def _tolerance(args: argparse.Namespace) -> Tolerance:
    from .compare import Tolerance

    for name in ("latency_tolerance", "latency_slack_ms", "error_rate_tolerance"):
        if getattr(args, name) < 0:
            raise InputError(f"--{name.replace('_', '-')} must be >= 0, not {getattr(args, name):g}")
    return Tolerance(latency_ratio=args.latency_tolerance, latency_slack_ms=args.latency_slack_ms,
                     error_rate=args.error_rate_tolerance)


def main(argv: Sequence[str] | None = None) -> int:
    with _signals_end_the_command():
        try:
            args = build_parser().parse_args(argv)
            with catalog_in_use(getattr(args, "catalog", None)), _allowlist_in_use(args):
                if args.command == "validate":
                    return cmd_validate(args.files, args.runtime)
                if args.command == "list":
                    return cmd_list(args.json)
                if args.command == "schema":
                    return cmd_schema(args.kind, args.markdown)
                if args.command == "init":
                    return cmd_init(args)
                if args.command == "clean":
                    return cmd_clean(args.dry_run)
                if args.command == "report":
                    return cmd_report(args.run_dir)
                if args.command == "compare":
                    return cmd_compare(args)
                if args.command == "mutate":
                    return cmd_mutate(args)
                if args.command == "explore":
                    return cmd_explore(args)
                if args.command == "ui":
                    from .ui.command import cmd_ui

                    return cmd_ui(args)
                return cmd_run(args)
        except InputError as exc:
            err(f"harness: invalid input\n{exc.render()}")
            return 2
        except EnvironmentProblem as exc:
            err(f"harness: environment error: {exc}")
            return 3
        except (RunInterrupted, KeyboardInterrupt):
            return 130
        except HarnessError as exc:
            err(f"harness: {exc}")
            return exc.exit_code
        except Exception as exc:  # noqa: BLE001 - a bug: say so plainly, with what a bug report needs
            import traceback

            err(f"harness: internal error (a bug in the harness, not in your input): {type(exc).__name__}: {exc}\n"
                + "".join(traceback.format_exception(exc)))
            return INTERNAL_ERROR_EXIT
        finally:
            _flush_standard_streams()


@contextlib.contextmanager
def _signals_end_the_command() -> Iterator[None]:
    """SIGTERM outside a run (loading, validating) ends the command like Ctrl-C: exit 130, not 143.
    During a run the runner's own guard takes over (and heals first)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum: int, frame: FrameType | None) -> None:
        raise RunInterrupted(signal.Signals(signum).name)

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        if signal.getsignal(signal.SIGTERM) is interrupt:  # a finished run leaves SIGTERM ignored: keep it so
            signal.signal(signal.SIGTERM, previous)


@contextlib.contextmanager
def _allowlist_in_use(args: argparse.Namespace) -> Iterator[None]:
    """``--allow-address`` and ``--allowlist``: addresses outside loopback a manifest may name."""
    from .allowlist import allowing, parse_entry, read_allowlist

    given, file = getattr(args, "allow_address", []), getattr(args, "allowlist", None)
    if not given and file is None:
        yield  # $HARNESS_ALLOWLIST, if set, is read where addresses are checked
        return
    try:
        entries = [parse_entry(e) for e in given] + (read_allowlist(file) if file is not None else [])
    except ValueError as exc:
        raise InputError(f"--allow-address/--allowlist: {exc}") from None
    with allowing(entries):
        yield


def _flush_standard_streams() -> None:
    """So the interpreter's own flush at exit cannot fail on a reader that went away."""
    for stream in (sys.stdout, sys.stderr):
        safe_write(stream, "")


def cmd_init(args: argparse.Namespace) -> int:
    from .init import Starter, default_name, init, parse_command

    starter = Starter(name=args.name or default_name(args.directory), command=parse_command(args.service_command),
                      health=args.health)
    written = init(args.directory, starter)
    print(f"wrote {', '.join(str(p) for p in written)}")
    exp = args.directory / "experiment.yaml"
    print(f"next: harness validate {exp}   then: harness run {exp}")
    return 0


def cmd_schema(kind: str | None, markdown: bool) -> int:
    if markdown:
        from .schema_doc import render_markdown

        out(render_markdown().rstrip("\n"))
        return 0
    if kind is None:
        raise InputError("harness schema: name a kind (experiment or system), or ask for --markdown")
    from .schema import render

    out(render(kind).rstrip("\n"))
    return 0


def default_runtime(system: SystemSpec, given: str | None) -> str:
    """``--runtime`` as given; else docker for a system from a Compose file, local for the rest."""
    return given or ("docker" if system.compose is not None else "local")


def cmd_validate(files: list[Path], runtime: str | None = None) -> int:
    from .experiment import load_experiment

    worst = 0
    for f in files:
        try:
            exp = load_experiment(f)
            with exp.plugin_scope.active():  # a runtime its system's plugins register
                _check_for_runtime(exp.target, default_runtime(exp.target, runtime))
        except InputError as exc:
            err(exc.render())
            worst = 2
            continue
        out(f"{f}: ok ({exp.name}: system {exp.target.name}, {len(exp.faults)} faults, {len(exp.checks)} checks, "
            f"{len(exp.steady_state.conditions)} steady-state conditions)")
    return worst


def _check_for_runtime(system: SystemSpec, runtime: str) -> None:
    """Local processes need their programs on this machine; containers bring their own."""
    from . import runtime as _runtimes  # noqa: F401  (registers the runtimes)
    from .registry import UnknownEntry
    from .runtime.base import runtimes
    from .system_checks import check_local_commands

    try:
        runtimes.get(runtime)
    except UnknownEntry as exc:
        raise InputError(f"--runtime: {exc}") from None
    if runtime == "local":
        check_local_commands(system)


def cmd_list(as_json: bool) -> int:
    from .inventory import inventory

    data = inventory()
    if as_json:
        out(json.dumps(data, indent=2))
        return 0
    for system in data["systems"]:
        out(f"{system['name']}: {system['description']}\n"
            f"  manifest:    {system['manifest']}\n"
            f"  edges:       {', '.join(system['edges']) or '-'}\n"
            f"  defects:     {', '.join(d['name'] for d in system['defects']) or '-'}\n"
            f"  experiments: {', '.join(e['path'] for e in system['experiments']) or '-'}")
    out("fault types (target[, default stream]; toxicity drawn per ...; attributes, * required):")
    for ft in data["fault_types"]:
        target = f"{ft['target']}, {ft['stream']}" if ft["stream"] else ft["target"]
        drawn = f"; toxicity {ft['toxicity']}" if ft["toxicity"] else ""
        attributes = ", ".join(f"{a}{'*' if spec['required'] else ''}" for a, spec in ft["attributes"].items()) or "-"
        needs = f"  [needs the {ft['needs']}]" if ft["needs"] else ""
        out(f"  {ft['name']:12} {target}{drawn}; {attributes}{needs}")
    for bad in data.get("invalid", []):
        out(f"(invalid) {bad['path']}: {bad['error']}")
    if "hint" in data:
        err(f"harness: {data['hint']}")
    return 0


def cmd_clean(dry_run: bool) -> int:
    """What runs of a killed harness left: local processes and directories, and Docker resources."""
    from .runstate import sweep_dead_runs
    from .salvage import complete_dead_run

    completed: list[Path] = []

    def complete(run_dir: Path) -> None:
        if complete_dead_run(run_dir):
            completed.append(run_dir)

    report = sweep_dead_runs(dry_run=dry_run, complete=None if dry_run else complete)
    for run_dir in completed:
        out(f"wrote the reports of the killed run in {run_dir}")
    verb = "would remove" if dry_run else "removed"
    for line in report.killed:
        out(f"{'would kill' if dry_run else 'killed'} {line}")
    for path in report.removed:
        out(f"{verb} {path}")
    docker_lines, docker_note = _sweep_docker(dry_run)
    for line in docker_lines:
        out(f"{verb} {line}")
    if docker_note:
        out(docker_note)
    for line in report.left:
        err(f"could not remove {line}")
    if not (report.killed or report.removed or docker_lines or report.left):
        out("nothing left behind by earlier runs")
    return 1 if report.left else 0


def cmd_run(args: argparse.Namespace) -> int:
    from .console import ConsoleProgress
    from .experiment import load_experiment
    from .runner import RunOptions, run_experiment
    from .suite import expand

    if args.out is not None and not args.out.strip():
        # Path("") is ".": the run would clear the run files of the current directory.
        raise InputError("--out: an empty path; name the run folder (it is created if missing)")
    tol = _tolerance(args)
    files = expand(args.experiments)
    if len(files) > 1 or args.defects or any(p.is_dir() for p in args.experiments):
        if args.defect:
            raise InputError("--defect runs one experiment with one defect; a suite takes --defects (all of them)")
        return _run_suite(args, tol)
    exp = load_experiment(files[0])
    runtime = default_runtime(exp.target, args.runtime)
    _check_for_runtime(exp.target, runtime)
    # ignore_signals_after: once the reports are written, a signal must not turn the exit code
    # into another one than result.json's (the process only prints two lines and exits).
    opts = RunOptions(defect=args.defect, seed=args.seed, out=Path(args.out) if args.out is not None else None,
                      runtime=runtime, ignore_signals_after=True, workers=args.workers)
    if not args.quiet:
        ConsoleProgress(opts.events)
    result = run_experiment(exp, opts)
    code = result.exit_code
    if args.baseline is not None and code in (0, 1):
        code = max(code, _compare_into_run(args.baseline, result, tol, args.fail_on_regression))
    verdict = result.verdict.upper()
    out(f"verdict: {verdict} ({result.status}; {sum(c.verdict == 'passed' for c in result.checks)}/"
        f"{len(result.checks)} checks passed)")
    if result.error:
        err(f"error: {result.error}")
    out(f"report: {result.run_dir / 'report.html'}")
    return code


def _compare_into_run(baseline: Path, result: RunResult, tol: Tolerance, fail_on_regression: bool) -> int:
    """Compare a finished run with its baseline; re-render its reports with the comparison in them."""
    from .compare import compare_folders, describe_row
    from .journal import read_journal
    from .report import write_reports

    doc = compare_folders(baseline, result.run_dir, tol)
    write_reports(result.run_dir, result, read_journal(result.run_dir / "journal.jsonl"), comparison=doc)
    for row in doc["rows"]:
        if row["verdict"] == "regression":
            out(describe_row(row))
    out(f"baseline: {doc['regressions']} regressions, {doc['improvements']} improvements over {len(doc['rows'])} "
        "endpoint windows")
    return 1 if (fail_on_regression and doc["regressions"]) else 0


def _run_suite(args: argparse.Namespace, tol: Tolerance) -> int:
    from .console import ConsoleProgress
    from .events import RunEvents
    from .suite import plan, run_suite

    if args.baseline is not None and not args.baseline.is_dir():
        raise InputError(f"--baseline '{args.baseline}' is not a folder")
    if args.workers is not None:
        raise InputError("--workers runs one experiment with Locust workers; for a suite, set load.workers in its files")
    jobs = plan(args.experiments, defects=args.defects)
    defaults = {default_runtime(job.exp.target, args.runtime) for job in jobs}
    if len(defaults) > 1:
        raise InputError("this suite mixes Compose systems (Docker) and others (local): name one --runtime for all")
    runtime = defaults.pop() if defaults else "local"
    for job in jobs:
        _check_for_runtime(job.exp.target, runtime)
    ev = RunEvents()
    if not args.quiet:
        ConsoleProgress(ev)
    suite = run_suite(jobs, out=Path(args.out) if args.out is not None else None, seed=args.seed,
                      runtime=runtime,
                      events=ev, baseline=args.baseline, fail_on_regression=args.fail_on_regression, tolerance=tol)
    return _print_suite(suite)


def _print_suite(suite: SuiteResult) -> int:
    from .report.suite_report import suite_document

    doc = suite_document(suite)
    for r in doc["runs"]:
        shown = (("caught" if r["exit_code"] == 0 else "survived") if r["defect"] and r["exit_code"] is not None
                 else r["verdict"])
        out(f"  {shown.upper():<11} {r['run']}")
    if doc.get("defects"):
        d = doc["defects"]
        out(f"defects caught: {d['caught']}/{d['total']}" + (f"; survivors: {', '.join(d['survivors'])}" if d["survivors"] else ""))
    score = doc["resilience"]["score"]
    out(f"suite: {doc['verdict'].upper()} (resilience score {score if score is not None else '-'}; "
        f"{len(suite.results)}/{len(suite.jobs)} runs; {doc['duration_s']:.0f} s)")
    out(f"report: {suite.folder / 'index.html'}")
    return suite.exit_code


def cmd_mutate(args: argparse.Namespace) -> int:
    from .console import ConsoleProgress
    from .events import RunEvents
    from .inventory import inventory
    from .suite import plan, run_suite

    if bool(args.system) == bool(args.all):
        raise InputError("give one system (harness mutate SYSTEM) or --all")
    systems = {s["name"]: s for s in inventory()["systems"]}
    if args.system and args.system not in systems:
        raise InputError(f"unknown system '{args.system}'; systems: {', '.join(sorted(systems))}")
    chosen = [systems[args.system]] if args.system else list(systems.values())
    paths = [Path(e["path"]).resolve() for s in chosen if s["defects"] for e in s["experiments"]]
    if not paths:
        raise InputError(f"system '{args.system}' has no experiments with defects to run")
    ev = RunEvents()
    if not args.quiet:
        ConsoleProgress(ev)
    suite = run_suite(plan(paths, defects=True), out=args.out, seed=args.seed, runtime=args.runtime, events=ev)
    code = _print_suite(suite)
    out("mutation table:")
    for m in suite.mutations():
        by = "; ".join(f"{c['check']} ({c['evidence']})" for c in m["caught_by"]) or "-"
        out(f"  {m['system']}:{m['defect']:<24} {m['experiment']:<32} {m['status'].upper():<12} {by}")
    (suite.folder / "mutation.json").write_text(json.dumps({"mutations": suite.mutations(), "defects": suite.defects()},
                                                           indent=2) + "\n", encoding="utf-8")
    if code in (130, 3):
        return code
    return 1 if any(d["survived"] for d in suite.defects()) else 0


def cmd_compare(args: argparse.Namespace) -> int:
    from .compare import compare_folders, describe_row, write_comparison

    doc = compare_folders(args.base, args.new, _tolerance(args))
    paths = write_comparison(doc, args.out or (args.new if args.new.is_dir() else args.new.parent))
    for row in doc["rows"]:
        if row["verdict"] in ("regression", "improvement"):
            out(describe_row(row))
    out(f"compared {len(doc['rows'])} endpoint windows: {doc['regressions']} regressions, "
        f"{doc['improvements']} improvements")
    out(f"report: {paths['comparison.html']}")
    return 1 if (args.fail_on_regression and doc["regressions"]) else 0


def cmd_explore(args: argparse.Namespace) -> int:
    from .catalog import resolve_system
    from .console import ConsoleProgress
    from .explore import ExploreOptions, Phases, explore
    from .system import load_system

    manifest = resolve_system(args.system, Path.cwd())
    if manifest is None:
        from .catalog import builtin_systems, missing_hint

        raise InputError(f"unknown system '{args.system}': not a manifest path and not a built-in system; "
                         f"built-in: {', '.join(builtin_systems()) or f'none ({missing_hint()})'}")
    system = load_system(manifest)
    opts = ExploreOptions(seed=args.seed, budget=args.budget, out=args.out, runtime=args.runtime, defect=args.defect,
                          users=args.users, user_classes=args.user_classes, faults=args.faults, targets=args.targets,
                          fail_on=args.fail_on, recovery_within=args.recovery_within,
                          max_amplification=args.max_amplification, manifest=manifest, ignore_signals_after=True)
    if args.phases is not None:
        opts.phases = Phases(*args.phases)
    if not args.quiet:
        ConsoleProgress(opts.events)
    result = explore(system, opts)
    cells = result.extra.get("matrix", {}).get("cells", [])
    ran = sum(1 for c in cells if c.get("status") == "ran")
    out(f"verdict: {result.verdict.upper()} ({result.status}; {ran} cell(s) ran; "
        f"{sum(c.verdict == 'passed' for c in result.checks)}/{len(result.checks)} checks passed)")
    if result.error:
        err(f"error: {result.error}")
    out(f"report: {result.run_dir / 'report.html'}")
    return result.exit_code


def _duration(text: str) -> float:
    from .durations import parse_duration

    try:
        return parse_duration(text if not text.replace(".", "", 1).isdigit() else float(text))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _workers(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"a whole number of workers, not {text!r}") from None
    if not 0 <= n <= 64:
        raise argparse.ArgumentTypeError(f"between 0 and 64 workers, not {n}")
    return n


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


def cmd_report(run_dir: Path) -> int:
    from .report.rerender import rerender, rerender_suite

    if not (run_dir / "journal.jsonl").is_file() and (run_dir / "result.json").is_file():
        return _print_suite(rerender_suite(run_dir))
    result = rerender(run_dir)
    out(f"verdict: {result.verdict.upper()} ({result.status}; {sum(c.verdict == 'passed' for c in result.checks)}/"
        f"{len(result.checks)} checks passed)")
    out(f"report: {result.run_dir / 'report.html'}")
    return result.exit_code


def _sweep_docker(dry_run: bool) -> tuple[list[str], str | None]:
    """Docker resources of dead harness processes (by label), when a daemon answers."""
    import os

    from .runtime.docker import resources as docker_resources

    host = os.environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock"
    if docker_resources._socket_unreachable(host):
        return [], None  # no daemon: no containers can be left over
    if dry_run:
        return [], "Docker: `python -m harness.runtime.docker.resources` lists what harness runs left"
    try:
        client = docker_resources.connect()
    except EnvironmentProblem as exc:
        return [], f"Docker not checked: {str(exc).splitlines()[0]}"
    try:
        return docker_resources.remove_orphans(client), None
    finally:
        client.close()


if __name__ == "__main__":
    raise SystemExit(main())
