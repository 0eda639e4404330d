"""A throwaway PostgreSQL cluster as a manifest service.

    db:
      command: ["{python}", "-m", "harness.infra.postgres", "--databases", "orders,payments",
                "--data-key", "{run_dir}/{service}"]
      health: {type: tcp, timeout: 60s}
      stop_timeout: 15s

Reads HOST and PORT from the environment like any service. Creates the cluster on first
start (``initdb``), creates the listed databases in single-user mode *before* the server
listens (so a passing TCP health check means the databases exist), then runs ``postgres``
in the foreground. SIGTERM or SIGINT -> fast shutdown, and the data directory is removed,
also when the signal comes while the cluster is still being created. After a SIGKILL the
data directory survives, and a later start with the same ``--data-key`` reuses it: the
durable state survives a crash, as a real database's would. Started by a harness run, the
launcher records the directory in the run's state file (``$HARNESS_RUN_STATE``) before it
creates it, so the run removes it when it ends, and a later run's sweep does if the harness
itself was killed (see ``harness/runstate.py``).

PostgreSQL refuses to run as root; when started as root, the server runs as the ``postgres``
user (created by Debian's package) from a data directory under /tmp that it owns.
Connect with ``postgresql://postgres@HOST:PORT/DB`` (trust authentication, loopback only).
"""
from __future__ import annotations

import argparse
import glob
import hashlib
import os
import pwd
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable

from .. import runstate


def find_bindir() -> Path:
    override = os.environ.get("HARNESS_PG_BINDIR")
    if override:
        return Path(override)
    found = shutil.which("initdb")
    if found:
        return Path(found).resolve().parent
    versions = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parts[-3]))
    if versions:
        return Path(versions[-1]).parent
    sys.stderr.write("postgres launcher: no PostgreSQL server binaries (initdb, postgres) found; "
                     "install Debian's 'postgresql' package or set HARNESS_PG_BINDIR\n")
    raise SystemExit(3)


def as_user() -> tuple[Callable[[], None] | None, int | None, int | None]:
    """When root, drop to the 'postgres' user for every PostgreSQL process."""
    if os.geteuid() != 0:
        return None, None, None
    try:
        pw = pwd.getpwnam(os.environ.get("HARNESS_PG_USER", "postgres"))
    except KeyError:
        sys.stderr.write("postgres launcher: running as root and no 'postgres' user exists; PostgreSQL refuses "
                         "to run as root. Create the user (Debian's postgresql package does) or run unprivileged\n")
        raise SystemExit(3) from None

    def drop() -> None:
        os.setgid(pw.pw_gid)
        os.setuid(pw.pw_uid)

    return drop, pw.pw_uid, pw.pw_gid


def data_dir_for(key: str) -> Path:
    digest = hashlib.sha1(key.encode()).hexdigest()[:16]
    return Path(tempfile.gettempdir()) / f"harness-pg-{digest}"


def clear_stale_lock(data: Path, wait: float = 10.0) -> None:
    """After a SIGKILL the old postmaster may linger as a zombie, which PostgreSQL takes for a live
    server ("lock file already exists"). Wait for it to die; a zombie or missing pid is stale."""
    lock = data / "postmaster.pid"
    try:
        pid = int(lock.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        state = _proc_state(pid)
        if state is None or state == "Z":
            lock.unlink(missing_ok=True)
            for sock in data.glob(".s.PGSQL.*"):  # the socket and its own lock file
                sock.unlink(missing_ok=True)
            return
        time.sleep(0.1)


def _proc_state(pid: int) -> str | None:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return None


class _Stop(Exception):
    """A signal asked the launcher to stop while it was setting the cluster up."""


class _Launcher:
    """The launcher's state as seen from its signal handler: which child to pass a stop on to."""

    def __init__(self) -> None:
        self.stop_requested = False
        self.child: subprocess.Popen[bytes] | None = None
        self.serving = False

    def on_signal(self, signum: int, frame: object) -> None:
        self.stop_requested = True
        child = self.child
        if child is not None and child.poll() is None:
            # The server: SIGINT is PostgreSQL's fast shutdown (roll back, disconnect, stop).
            # A set-up step (initdb, single-user mode): stop it so the directory can go.
            child.send_signal(signal.SIGINT if self.serving else signal.SIGTERM)

    def run_step(self, argv: list[str], drop: Callable[[], None] | None, stdin: bytes | None = None) -> None:
        if self.stop_requested:
            raise _Stop()
        self.child = subprocess.Popen(argv, preexec_fn=drop, stdout=subprocess.DEVNULL,
                                      stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL)
        self.child.communicate(stdin)
        code, self.child = self.child.returncode, None
        if self.stop_requested:
            raise _Stop()
        if code != 0:
            raise subprocess.CalledProcessError(code, argv)


def main(argv: list[str] | None = None) -> int:
    launcher = _Launcher()
    # First: a stop that comes during set-up must still remove the directory it made.
    signal.signal(signal.SIGTERM, launcher.on_signal)
    signal.signal(signal.SIGINT, launcher.on_signal)
    ap = argparse.ArgumentParser(prog="python -m harness.infra.postgres")
    ap.add_argument("--databases", default="", help="comma-separated databases to create")
    ap.add_argument("--data-key", default=None, help="identifies the data directory across restarts")
    ap.add_argument("--max-connections", type=int, default=200)
    args = ap.parse_args(argv)
    host, port = os.environ.get("HOST", "127.0.0.1"), int(os.environ["PORT"])
    bindir = find_bindir()
    drop, uid, gid = as_user()
    data = data_dir_for(args.data_key or f"{host}:{port}")
    runstate.record_path_from_child(data)  # before it exists: no window where it is unrecorded
    fresh = not (data / "PG_VERSION").exists()
    try:
        if fresh:
            _create_cluster(launcher, bindir, data, drop, uid, gid, host, args.databases)
        else:
            clear_stale_lock(data)
        if launcher.stop_requested:
            raise _Stop()
    except _Stop:
        shutil.rmtree(data, ignore_errors=True)
        return 0
    except (subprocess.CalledProcessError, OSError) as exc:
        if fresh:
            shutil.rmtree(data, ignore_errors=True)
        sys.stderr.write(f"postgres launcher: setting up {data} failed: {exc}\n")
        return 3
    print(f"postgres launcher: data {data} ({'new' if fresh else 'reused'}), listening on {host}:{port}", flush=True)
    launcher.serving = True
    launcher.child = server = subprocess.Popen(
        [str(bindir / "postgres"), "-D", str(data), "-p", str(port), "-c", f"listen_addresses={host}",
         "-c", f"unix_socket_directories={data}", "-c", f"max_connections={args.max_connections}",
         "-c", "fsync=off", "-c", "shared_buffers=32MB", "-c", "log_min_messages=warning"],
        preexec_fn=drop,
    )
    if launcher.stop_requested:  # a signal between the set-up and the handle on the server
        server.send_signal(signal.SIGINT)
    code = server.wait()
    if launcher.stop_requested:
        shutil.rmtree(data, ignore_errors=True)
        return 0
    return code


def _create_cluster(launcher: _Launcher, bindir: Path, data: Path, drop: Callable[[], None] | None, uid: int | None,
                    gid: int | None, host: str, databases: str) -> None:
    shutil.rmtree(data, ignore_errors=True)
    data.mkdir(mode=0o700, parents=True)
    if uid is not None:
        os.chown(data, uid, gid or -1)
    launcher.run_step([str(bindir / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8",
                       "--no-sync", "--no-instructions"], drop)
    if host not in ("127.0.0.1", "localhost", "::1"):
        # In a container, clients come from other addresses (Toxiproxy, Docker's port proxy);
        # initdb trusts loopback only. A throwaway cluster on a run's own network trusts them too.
        with (data / "pg_hba.conf").open("a") as hba:
            hba.write("host all all 0.0.0.0/0 trust\nhost all all ::/0 trust\n")
    for db in [d.strip() for d in databases.split(",") if d.strip()]:
        # Single-user mode: no socket is open yet, so nobody sees the server before its databases exist.
        launcher.run_step([str(bindir / "postgres"), "--single", "-D", str(data), "postgres"], drop,
                          stdin=f"CREATE DATABASE \"{db}\";\n".encode())


if __name__ == "__main__":
    raise SystemExit(main())
