"""Which toxiproxy-server the harness drives: ours (with HTTP toxics) or a stock one.

The server built from this repository (toxiproxy/, `make tools`) reports its version with a
``+harness`` suffix ("2.12.0+harness"); a stock server reports plain "2.12.0". HTTP fault types
need ours. The check happens as early as the server is known: at validation when
$HARNESS_TOXIPROXY_SERVER names a binary, when a run's server has started otherwise, and
finally when the fault is applied (the server refuses an unknown toxic type).
"""
from __future__ import annotations

import os
import subprocess
from functools import lru_cache
from pathlib import Path

from .server import ENV_VAR

__all__ = ["HTTP_TOXICS_SUFFIX", "STOCK_SERVER_HINT", "binary_version", "explicit_server_problem", "has_http_toxics"]

HTTP_TOXICS_SUFFIX = "+harness"

STOCK_SERVER_HINT = (
    "HTTP fault types need the toxiproxy-server built from this repository (toxiproxy/): run `make tools` "
    "(it needs Go >= 1.23) and unset HARNESS_TOXIPROXY_SERVER, or point it at .tools/bin/toxiproxy-server; "
    "for --runtime docker build the image with `make images` (harness/toxiproxy:2.12.0)"
)


def has_http_toxics(version: str) -> bool:
    """True for a version our server reports ("2.12.0+harness"), False for a stock one."""
    return version.strip().endswith(HTTP_TOXICS_SUFFIX)


def binary_version(path: Path) -> str:
    """What ``toxiproxy-server -version`` says (the version only); "" if it cannot say."""
    try:
        stat = path.stat()
    except OSError:
        return ""
    return _version_of(str(path), stat.st_mtime_ns)


@lru_cache(maxsize=8)
def _version_of(path: str, mtime_ns: int) -> str:
    try:
        out = subprocess.run([path, "-version"], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return ""
    # "toxiproxy-server version 2.12.0+harness"
    return out.strip().rsplit(" ", 1)[-1] if "version" in out else ""


def explicit_server_problem() -> str | None:
    """Why the server $HARNESS_TOXIPROXY_SERVER names cannot carry out HTTP faults, or None.

    Only a server named there is known before a run starts (otherwise it is found, or run in a
    container, when the run begins). A binary that cannot say its version is left to the run,
    which reports it properly.
    """
    named = os.environ.get(ENV_VAR)
    if not named:
        return None
    version = binary_version(Path(named))
    if not version or has_http_toxics(version):
        return None
    return (f"{ENV_VAR}={named} is a stock toxiproxy-server (version {version}), which has no HTTP toxics; "
            + STOCK_SERVER_HINT)
