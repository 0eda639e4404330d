"""The run folder (``--out``): checked before anything starts, cleared only if it is one.

A run folder is reused on purpose (a CI job's fixed path), and then the files of the earlier
run are removed so the two never mix. That makes a wrong ``--out`` dangerous: ``--out ''``
or ``--out .`` would clear files in the current directory, ``--out ~`` the files in
``~/logs/``. So a folder that exists must be empty or look like a run folder (only the names
a run writes), and a path that cannot be a writable folder is invalid input (exit 2).
"""
from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

from .errors import InputError

RUN_FILES = ("journal.jsonl", "requests.jsonl", "result.json", "junit.xml", "report.html", "prometheus.yml")
RUN_DIRS = ("logs", "requests")
_PROBE = ".harness-write-probe"


def prepare_run_dir(out: Path | str) -> Path:
    """Create (or reuse and clear) the run folder; InputError naming ``--out`` if it cannot be one."""
    raw = str(out)
    if not raw.strip():
        raise InputError("--out: an empty path; name the run folder (it is created if missing)")
    try:
        path = Path(raw).expanduser().resolve()
    except (OSError, RuntimeError, ValueError) as exc:  # a symlink loop, a NUL byte
        raise InputError(f"--out {raw!r}: not a usable path ({exc})") from None
    try:
        mode: int | None = path.stat().st_mode
    except FileNotFoundError:
        mode = None
    except OSError as exc:  # too long, a loop, a parent that is a file, no permission
        raise InputError(f"--out {raw}: {_reason(exc)}") from None
    if mode is not None and not stat.S_ISDIR(mode):
        what = "a file" if stat.S_ISREG(mode) else "not a directory (a device, a FIFO or a socket)"
        raise InputError(f"--out {raw}: is {what}; the run folder must be a directory")
    if mode is not None:
        _check_reusable(path, raw)
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = path / _PROBE
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise InputError(f"--out {raw}: cannot create or write the run folder: {_reason(exc)}") from None
    _clear_previous_run(path)
    return path


def _reason(exc: OSError) -> str:
    return {errno.ENAMETOOLONG: "the path is too long", errno.ENOTDIR: "a part of the path is a file"}.get(
        exc.errno or 0, exc.strerror or str(exc))


def _check_reusable(path: Path, raw: str) -> None:
    try:
        entries = sorted(os.listdir(path))
    except OSError as exc:
        raise InputError(f"--out {raw}: cannot read the folder: {exc.strerror or exc}") from None
    foreign = [e for e in entries if e not in RUN_FILES and e not in RUN_DIRS and e != _PROBE]
    if foreign:
        shown = ", ".join(foreign[:5]) + (f" and {len(foreign) - 5} more" if len(foreign) > 5 else "")
        raise InputError(f"--out {raw}: the folder holds files that are not a run's ({shown}); a reused run folder "
                         "is cleared first, so give a new or empty folder, or an earlier run's folder")


def _clear_previous_run(run_dir: Path) -> None:
    """A reused --out folder (a CI job's fixed path) must not mix an old run into this one."""
    for name in RUN_FILES:
        (run_dir / name).unlink(missing_ok=True)
    for sub in RUN_DIRS:  # the load's request files, the services' logs
        folder = run_dir / sub
        if folder.is_dir():
            for f in folder.iterdir():
                if f.is_file():
                    f.unlink()
