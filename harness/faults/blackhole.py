"""``blackhole``: an edge goes silent, as a partition or a host that stopped answering makes it.

Two Toxiproxy ``latency`` toxics of 30 days, one on each stream, so it works on a stock server.
What the caller sees while it lasts:

- **new connections**: ``connect`` succeeds (the proxy completes the handshake and dials the
  dependency, which sees a connection that carries nothing), then no byte ever answers;
- **open connections** (a keep-alive pool): stay open; what is sent on them, either way, is held;
- **when the fault ends**, what was held is delivered, late, as TCP would retransmit it across a
  healed partition: a request the caller gave up on still reaches the dependency (and takes
  effect), followed by the caller's close if it closed meanwhile.

What differs from a real dead host or a killed container: there, ``connect`` itself hangs
(nothing answers the SYN; on the same Docker bridge it fails with "No route to host" once the
address's ARP entry has expired, ~3 s into a connect), so a caller's *connect* timeout fires.
Here only a read (or overall) timeout can end the wait. For a dead service use ``kill`` (mode
``blackhole``), which makes connects hang (``tarpit.py``); ``blackhole`` is the partition, where
connections that were open hang too.
"""
from __future__ import annotations

from typing import ClassVar

from ..model import Spec
from .registry import ActiveFault, FaultContext, FaultType, TargetKind, register
from .toxiproxy import Stream

__all__ = ["Blackhole", "toxic_names"]

HOLD_MS = 30 * 24 * 3600 * 1000
"""Toxiproxy's latency toxic keeps a chunk this long unless removed; removal forwards what it held."""

STREAMS: tuple[Stream, ...] = ("upstream", "downstream")


def toxic_names(fault: str) -> dict[Stream, str]:
    # ':' cannot appear in a fault name, so these never collide with another fault's toxic.
    return {stream: f"{fault}:{stream}" for stream in STREAMS}


@register
class Blackhole(FaultType):
    """Nothing passes either way on the edge, on open and new connections; held data is delivered at the end."""

    name = "blackhole"
    target_kind: ClassVar[TargetKind] = "edge"
    # Both streams or neither: toxicity drawn separately for two toxics would black-hole half a connection.
    per_connection = False

    class Attributes(Spec):
        pass

    def apply(self, ctx: FaultContext, fault: ActiveFault) -> None:
        proxy = ctx.proxy_for_edge(fault.target)
        added: list[str] = []
        try:
            for stream, toxic in toxic_names(fault.name).items():
                ctx.toxiproxy.add_toxic(proxy, toxic, "latency", {"latency": HOLD_MS, "jitter": 0}, stream=stream)
                added.append(toxic)
        except BaseException:
            for toxic in added:  # never leave half a black hole behind
                ctx.toxiproxy.remove_toxic(proxy, toxic)
            raise

    def remove(self, ctx: FaultContext, fault: ActiveFault) -> None:
        proxy = ctx.proxy_for_edge(fault.target)
        present = {t.name for t in ctx.toxiproxy.toxics(proxy)}
        errors: list[Exception] = []
        for toxic in toxic_names(fault.name).values():
            if toxic not in present:
                continue
            try:
                ctx.toxiproxy.remove_toxic(proxy, toxic)
            except Exception as exc:  # noqa: BLE001 - remove the other stream's toxic all the same
                errors.append(exc)
        if errors:
            raise errors[0]
