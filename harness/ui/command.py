"""``harness ui EXPERIMENT_OR_SYSTEM``: the command's glue (the session itself is ``session.py``)."""
from __future__ import annotations

import argparse
import socket
import sys
from pathlib import Path
from typing import TextIO

from .. import plugins
from ..catalog import builtin_systems, missing_hint, resolve_system
from ..errors import EnvironmentProblem, InputError
from ..experiment import ExperimentSpec, load_experiment
from ..system import load_system
from ..yamlfile import is_file
from .session import LOOPBACK, UiOptions, run_session

SESSION_LOAD_S = 3600.0
"""A system without an experiment: the load section's duration means nothing in a session (it lasts
until stopped); only users and spawn rate fill Locust's form."""


def add_parser(sub: argparse._SubParsersAction, parents: list[argparse.ArgumentParser]) -> None:  # type: ignore[type-arg]
    ui = sub.add_parser("ui", parents=parents,
                        help="deploy a system and explore it in Locust's web UI, with a Chaos tab to apply faults")
    ui.add_argument("target", metavar="EXPERIMENT_OR_SYSTEM",
                    help="an experiment file (its system, load and checks) or a built-in system's name")
    ui.add_argument("--runtime", default="local", help="where the system runs (default: local)")
    ui.add_argument("--defect", help="switch on one of the system's defects")
    ui.add_argument("--seed", type=int, help="override the experiment's seed")
    ui.add_argument("--out", type=Path, help="run folder (default: ./reports/<time>-<experiment>)")
    ui.add_argument("--web-host", default=LOOPBACK,
                    help="address of Locust's web UI (default 127.0.0.1; the Chaos tab can break systems)")
    ui.add_argument("--web-port", type=int, default=8089, help="port of Locust's web UI (default 8089)")
    ui.add_argument("--workers", type=int, help="Locust's master and N workers (default: the experiment's load.workers)")
    ui.add_argument("--quiet", action="store_true", help="print only the addresses, the verdict and the report path")


def session_experiment(target: str) -> ExperimentSpec:
    """An experiment file as is; a system's name (or manifest) as an experiment with no faults and no checks."""
    path = Path(target)
    if is_file(path):
        return load_experiment(path)
    manifest = resolve_system(target, Path.cwd())
    if manifest is None:
        builtin = builtin_systems(near=Path.cwd())
        known = ", ".join(builtin) if builtin else f"none ({missing_hint(Path.cwd())})"
        raise InputError(f"EXPERIMENT_OR_SYSTEM: {target[:120]!r} is neither an experiment file nor a system; "
                         f"built-in systems: {known}")
    system = load_system(manifest)
    exp = ExperimentSpec.model_validate({"name": f"ui-{system.name}", "system": str(manifest),
                                         "load": {"duration": SESSION_LOAD_S}})
    exp.system_spec = system
    exp._plugin_scope = plugins.load_for(system)
    exp.path = Path.cwd() / f"ui-{system.name}.yaml"  # never read: a locustfile override is relative to it
    return exp


def _port_free(host: str, port: int) -> None:
    """Before deploying anything: Locust's web UI must be able to listen there."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the web UI's own listener does
        try:
            sock.bind((host, port))
        except OSError as exc:
            raise EnvironmentProblem(f"Locust's web UI cannot listen on {host}:{port}: {exc.strerror or exc}",
                                     hint="another program uses that port: choose one with --web-port") from None


def cmd_ui(args: argparse.Namespace, out: TextIO = sys.stdout, err: TextIO = sys.stderr) -> int:
    from ..console import ConsoleProgress

    if not 0 < args.web_port < 65536:
        raise InputError(f"--web-port: {args.web_port} is not a port (1-65535)")
    if args.workers is not None and not 0 <= args.workers <= 64:
        raise InputError(f"--workers: between 0 and 64, not {args.workers}")
    exp = session_experiment(args.target)
    _port_free(args.web_host, args.web_port)
    if args.web_host != LOOPBACK:
        err.write(f"harness ui: WARNING: --web-host {args.web_host}: the web UI (and its Chaos tab, which can break "
                  "the system and reaches this machine's processes) is open to whoever can reach that address\n")
        err.flush()

    def ready(web: str, control: str) -> None:
        out.write(f"Locust's web UI with the Chaos tab: {web}?tab=chaos\n"
                  f"(Chaos API on the same port under /chaos/; Ctrl-C or the tab's Stop ends the session)\n")
        out.flush()

    opts = UiOptions(defect=args.defect, seed=args.seed, out=args.out, runtime=args.runtime, web_host=args.web_host,
                     web_port=args.web_port, ignore_signals_after=True, on_ready=ready,
                     workers=args.workers)
    if not args.quiet:
        ConsoleProgress(opts.events)
    result = run_session(exp, opts)
    out.write(f"verdict: {result.verdict.upper()} ({result.status}; {sum(c.verdict == 'passed' for c in result.checks)}/"
              f"{len(result.checks)} checks passed)\n")
    if result.error:
        err.write(f"error: {result.error}\n")
    out.write(f"report: {result.run_dir / 'report.html'}\n")
    out.flush()
    return result.exit_code
