"""The network fault types: one per Toxiproxy toxic, plus ``down``.

Each entry only declares its attributes, with Toxiproxy's own names, units and defaults (Go
zero values); the shared behaviour is in registry.py. Times accept ms (or µs) as a number, or
a duration such as "2s". Where Toxiproxy's zero value would silently break a run, the
attribute is required instead and the docstring says why.
"""
from __future__ import annotations

from typing import ClassVar

from pydantic import Field, model_validator

from ..model import Spec
from .registry import ActiveFault, FaultContext, FaultType, Microseconds, Milliseconds, TargetKind, ToxicFault, register

__all__ = ["Bandwidth", "Down", "Latency", "LimitData", "ResetPeer", "Slicer", "SlowClose", "Timeout"]


@register
class Latency(ToxicFault):
    """Delays data by ``latency`` ms, plus or minus up to ``jitter`` ms."""

    name = "latency"

    class Attributes(Spec):
        latency: Milliseconds = 0
        jitter: Milliseconds = 0


@register
class Bandwidth(ToxicFault):
    """Limits throughput to ``rate`` KB/s."""

    name = "bandwidth"

    class Attributes(Spec):
        # Required: at Toxiproxy's zero value no data passes at all, which is the `timeout`
        # fault's job, not something to get by forgetting a field.
        # le: Toxiproxy multiplies it by 1000 in an int64.
        rate: int = Field(gt=0, le=10**12, description="KB/s")


@register
class SlowClose(ToxicFault):
    """Delays the close of the connection by ``delay`` ms."""

    name = "slow_close"

    class Attributes(Spec):
        delay: Milliseconds = 0


@register
class Timeout(ToxicFault):
    """Stops all data; closes the connection after ``timeout`` ms, or never if 0."""

    name = "timeout"

    class Attributes(Spec):
        timeout: Milliseconds = 0


@register
class ResetPeer(ToxicFault):
    """Resets the connection (TCP RST) ``timeout`` ms after data arrives, at once if 0."""

    name = "reset_peer"

    class Attributes(Spec):
        timeout: Milliseconds = 0


@register
class Slicer(ToxicFault):
    """Cuts data into chunks of about ``average_size`` bytes, ``delay`` µs apart."""

    name = "slicer"

    class Attributes(Spec):
        # Required and positive: at 0 the server's chunking never ends and it crashes.
        average_size: int = Field(gt=0, le=2**31 - 1, description="bytes")
        size_variation: int = Field(default=0, ge=0, le=2**31 - 1, description="bytes, less than average_size")
        delay: Microseconds = 0

        @model_validator(mode="after")
        def _variation_below_average(self) -> Slicer.Attributes:
            if self.size_variation >= self.average_size:
                raise ValueError(
                    f"size_variation ({self.size_variation}) must be less than average_size ({self.average_size})"
                )
            return self


@register
class LimitData(ToxicFault):
    """Closes the connection once ``bytes`` bytes have passed."""

    name = "limit_data"

    class Attributes(Spec):
        bytes: int = Field(default=0, ge=0, le=2**63 - 1)


@register
class Down(FaultType):
    """The edge is down: the proxy stops listening and closes its open connections.

    Not a toxic in Toxiproxy but a disabled proxy, so it has no stream or toxicity.
    """

    name = "down"
    target_kind: ClassVar[TargetKind] = "edge"
    per_connection = False

    class Attributes(Spec):
        pass

    def apply(self, ctx: FaultContext, fault: ActiveFault) -> None:
        ctx.toxiproxy.set_enabled(ctx.proxy_for_edge(fault.target), False)

    def remove(self, ctx: FaultContext, fault: ActiveFault) -> None:
        ctx.toxiproxy.set_enabled(ctx.proxy_for_edge(fault.target), True)
