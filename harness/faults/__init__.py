"""Faults: what the harness does to a running system, and the Toxiproxy that does it.

- ``registry``: the fault types (``FAULT_TYPES``), ``ActiveFault``, ``FaultContext``.
- ``toxics``: the network fault types, one per Toxiproxy toxic, plus ``down``.
- ``blackhole``: an edge that goes silent (held both ways, open and new connections).
- ``http_toxics``: the HTTP fault types (our toxiproxy-server's toxics, decided per request).
- ``tarpit``: addresses whose ``connect`` hangs, as a dead host's does (``kill`` in blackhole mode).
- ``capabilities``: whether a toxiproxy-server has those (ours) or not (a stock one).
- ``toxiproxy``: a typed client for Toxiproxy's HTTP API.
- ``server``: finds and runs ``toxiproxy-server``.
"""
from __future__ import annotations

from . import blackhole as _blackhole  # noqa: F401  (registers the blackhole fault type)
from . import http_toxics as _http_toxics  # noqa: F401  (registers the HTTP fault types)
from . import process as _process  # noqa: F401  (registers the process fault types)
from . import toxics as _toxics  # noqa: F401  (registers the network fault types)
from .registry import (
    FAULT_TYPES,
    ActiveFault,
    FaultContext,
    FaultType,
    SimpleFaultContext,
    ToxicFault,
    fault_type,
    register,
    validate_attributes,
)
from .server import ToxiproxyServer, find_server_binary
from .toxiproxy import Proxy, Toxic, ToxiproxyClient, ToxiproxyRequestError

__all__ = [
    "FAULT_TYPES",
    "ActiveFault",
    "FaultContext",
    "FaultType",
    "Proxy",
    "SimpleFaultContext",
    "Toxic",
    "ToxicFault",
    "ToxiproxyClient",
    "ToxiproxyRequestError",
    "ToxiproxyServer",
    "fault_type",
    "find_server_binary",
    "register",
    "validate_attributes",
]
