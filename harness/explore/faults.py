"""The standard fault matrix: which faults ``harness explore`` applies to every edge and service.

One registry entry per kind of fault, each turning a target (and, for edges, the caller's
timeout) into a concrete fault of the fault registry:

    edge     latency-below   latency of half the caller's timeout: slower, still in time
             latency-above   latency of twice the caller's timeout: the call may still take
                             effect after the caller gave up
             down            the proxy disabled: connections refused (fails fast)
             reset           the answer cut by a TCP reset once it starts: the request did reach
                             the dependency (non-idempotent calls are what this finds)
             closed          the connection closed (FIN, not a reset) before the answer's first
                             byte: the request got there and the answer is empty; a client that
                             reads an empty answer as "none" or "not found" turns a fault into data
             blackhole       every byte of the answer dropped, the connection held open: slow,
                             not dead (health probes and retries behave differently than for down)
             lost-after-commit  (PostgreSQL edges only) the connection closed right after the
                             database acknowledges a COMMIT: the work is durable, whatever the
                             caller writes next on that connection is lost (bookkeeping kept in a
                             second transaction: a checkpoint, an outbox mark, an idempotency record)
    service  kill            SIGKILL, started again when the fault ends
             pause           frozen (SIGSTOP / docker pause), resumed when the fault ends

The caller's timeout is the manifest parameter an upstream names in ``timeout_param``, else
``DEFAULT_TIMEOUT_S``.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Literal

from ..faults import FAULT_TYPES
from ..registry import Registry

DEFAULT_TIMEOUT_S = 1.0
TargetKind = Literal["edge", "service"]


@dataclass(frozen=True)
class MatrixFault:
    name: str
    target_kind: TargetKind
    build: Callable[[float], tuple[str, dict[str, Any]]]
    """caller timeout (s) -> (fault type, attributes)"""
    slow: bool = False
    """Holds calls rather than failing them: local-only paths must not feel it (blast radius)."""
    priority: int = 0
    """Lower is kept first when a budget drops cells."""
    describe: Callable[[float], str] = field(default=lambda timeout: "")
    applies: Callable[[str], bool] = field(default=lambda url: True)
    """edge url (the manifest's form, e.g. postgresql://...) -> whether this fault means anything there"""
    needs_http_toxics: bool = False
    """Only our toxiproxy-server has it: left out when the server named in the environment is stock."""


MATRIX_FAULTS: Registry[MatrixFault] = Registry("matrix fault")


def _register(f: MatrixFault) -> None:
    MATRIX_FAULTS.register(f.name, f)


def _ms(seconds: float) -> int:
    return max(1, round(seconds * 1000))


def _blackhole(timeout: float) -> tuple[str, dict[str, Any]]:
    # A dedicated fault type when the registry has one; Toxiproxy's `timeout` with 0 is the same hang.
    if "blackhole" in FAULT_TYPES:
        return "blackhole", {}
    return "timeout", {"timeout": 0}


_register(MatrixFault("down", "edge", lambda t: ("down", {}), priority=0,
                      describe=lambda t: "connections refused"))
_register(MatrixFault("latency-above", "edge", lambda t: ("latency", {"latency": _ms(2 * t)}), slow=True, priority=1,
                      describe=lambda t: f"latency {_ms(2 * t)} ms (2x the caller's {_ms(t)} ms timeout)"))
_register(MatrixFault("reset", "edge", lambda t: ("reset_peer", {"timeout": 0}), priority=2,
                      describe=lambda t: "answers reset once they start (the request got there)"))
_register(MatrixFault("closed", "edge", lambda t: ("limit_data", {"bytes": 0}), priority=2,
                      describe=lambda t: "connections closed before the answer's first byte (the request got there)"))
_register(MatrixFault("blackhole", "edge", _blackhole, slow=True, priority=3,
                      describe=lambda t: "answers dropped, connections held open"))
_register(MatrixFault("latency-below", "edge", lambda t: ("latency", {"latency": _ms(t / 2)}), slow=True, priority=4,
                      describe=lambda t: f"latency {_ms(t / 2)} ms (half the caller's {_ms(t)} ms timeout)"))
_register(MatrixFault("lost-after-commit", "edge", lambda t: ("cut_after_match", {"match": "COMMIT"}), priority=5,
                      describe=lambda t: "connection lost right after each COMMIT is acknowledged",
                      applies=lambda url: url.startswith(("postgresql://", "postgres://")), needs_http_toxics=True))
_register(MatrixFault("kill", "service", lambda t: ("kill", {}), priority=0,
                      describe=lambda t: "SIGKILL, restarted after"))
_register(MatrixFault("pause", "service", lambda t: ("pause", {}), slow=True, priority=1,
                      describe=lambda t: "frozen, resumed after"))

EDGE_FAULTS = [n for n in MATRIX_FAULTS if MATRIX_FAULTS.get(n).target_kind == "edge"]
SERVICE_FAULTS = [n for n in MATRIX_FAULTS if MATRIX_FAULTS.get(n).target_kind == "service"]
DEPENDENCY_PROBE = {"edge": "down", "service": "kill"}
"""The fail-fast fault whose degraded endpoints are taken as the ones that need the target."""
