"""A throwaway PostgreSQL cluster as a manifest service.

    db:
      command: ["{python}", "-m", "harness.infra.postgres", "--databases", "orders,payments",
                "--data-key", "{run_dir}/{service}"]
      health: {type: tcp, timeout: 60s}
      stop_timeout: 15s

Reads HOST and PORT from the environment like any service. Creates the cluster on first
start (``initdb``), creates the listed databases in single-user mode *before* the server
listens (so a passing TCP health check means the databases exist), then runs ``postgres``
in the foreground. SIGTERM -> fast shutdown, and the data directory is removed. After a
SIGKILL the data directory survives, and a later start with the same ``--data-key`` reuses
it: the durable state survives a crash, as a real database's would.

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


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m harness.infra.postgres")
    ap.add_argument("--databases", default="", help="comma-separated databases to create")
    ap.add_argument("--data-key", default=None, help="identifies the data directory across restarts")
    ap.add_argument("--max-connections", type=int, default=200)
    args = ap.parse_args(argv)
    host, port = os.environ.get("HOST", "127.0.0.1"), int(os.environ["PORT"])
    bindir = find_bindir()
    drop, uid, gid = as_user()
    data = data_dir_for(args.data_key or f"{host}:{port}")
    fresh = not (data / "PG_VERSION").exists()
    if fresh:
        shutil.rmtree(data, ignore_errors=True)
        data.mkdir(mode=0o700, parents=True)
        if uid is not None:
            os.chown(data, uid, gid or -1)
        subprocess.run([str(bindir / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8",
                        "--no-sync", "--no-instructions"], check=True, preexec_fn=drop, stdout=subprocess.DEVNULL)
        if host not in ("127.0.0.1", "localhost", "::1"):
            # In a container, clients come from other addresses (Toxiproxy, Docker's port proxy);
            # initdb trusts loopback only. A throwaway cluster on a run's own network trusts them too.
            with (data / "pg_hba.conf").open("a") as hba:
                hba.write("host all all 0.0.0.0/0 trust\nhost all all ::/0 trust\n")
        for db in [d.strip() for d in args.databases.split(",") if d.strip()]:
            # Single-user mode: no socket is open yet, so nobody sees the server before its databases exist.
            subprocess.run([str(bindir / "postgres"), "--single", "-D", str(data), "postgres"],
                           input=f"CREATE DATABASE \"{db}\";\n".encode(), check=True, preexec_fn=drop,
                           stdout=subprocess.DEVNULL)
    else:
        clear_stale_lock(data)
    print(f"postgres launcher: data {data} ({'new' if fresh else 'reused'}), listening on {host}:{port}", flush=True)
    server = subprocess.Popen(
        [str(bindir / "postgres"), "-D", str(data), "-p", str(port), "-c", f"listen_addresses={host}",
         "-c", f"unix_socket_directories={data}", "-c", f"max_connections={args.max_connections}",
         "-c", "fsync=off", "-c", "shared_buffers=32MB", "-c", "log_min_messages=warning"],
        preexec_fn=drop,
    )
    stopping = {"requested": False}

    def on_term(signum: int, frame: object) -> None:
        stopping["requested"] = True
        server.send_signal(signal.SIGINT)  # fast shutdown: roll back, disconnect, stop

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)
    code = server.wait()
    if stopping["requested"]:
        shutil.rmtree(data, ignore_errors=True)
        return 0
    return code


if __name__ == "__main__":
    raise SystemExit(main())
