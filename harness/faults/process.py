"""Process faults: what happens to a service itself, not to its network edges.

They act through the runtime (``FaultContext.service_action``), so the same fault means a
signal to a local process group or an action on a container, whichever runtime runs it.

    kill      SIGKILL (a crash); the service is started again when the fault ends, unless restart: false
    stop      a graceful stop (SIGTERM); started again when the fault ends
    pause     SIGSTOP (frozen: connections open, nothing answers); SIGCONT when the fault ends
    restart   a graceful stop and a start, at once; nothing to undo

While kill or stop has a service down, ``mode`` says what its callers see through its edges:
``refuse`` (connections refused at once, what a local process that died gives) or ``blackhole``
(a connect hangs and nothing answers, what a dead container, host or partition gives). Without
a mode each runtime gives its own (``Deployment.natural_death``): local processes refuse,
containers are a black hole. Every ``service_action`` record says which one it was.
"""
from __future__ import annotations

from typing import ClassVar, Literal, Protocol

from pydantic import Field

from ..model import Spec
from .registry import ActiveFault, FaultContext, FaultType, TargetKind, register

__all__ = ["DeathMode", "Kill", "Pause", "Restart", "ServiceFaultContext", "Stop"]


DeathMode = Literal["refuse", "blackhole"]
"""What callers of a killed or stopped service see through its edges:

    refuse     connections are refused at once (what a local process that died gives)
    blackhole  a connect hangs, nothing answers (what a dead container, host or partition gives)
"""


class ServiceFaultContext(FaultContext, Protocol):
    def service_action(self, service: str, action: str, mode: DeathMode | None = None) -> None:
        """kill, stop, start, pause, resume or restart one service; ``mode``: see the module's docstring."""
        ...

    def prepare_death(self, mode: DeathMode | None) -> None:
        """Get ready (before load) for a service to go down in ``mode``."""
        ...


class ServiceFault(FaultType):
    target_kind: ClassVar[TargetKind] = "service"
    per_connection: ClassVar[bool] = False
    on_apply: ClassVar[str]
    on_remove: ClassVar[str | None] = None

    def apply(self, ctx: FaultContext, fault: ActiveFault) -> None:
        _actions(ctx).service_action(fault.target, self.on_apply, self.mode(fault))

    def remove(self, ctx: FaultContext, fault: ActiveFault) -> None:
        action = self.undo(fault)
        if action is not None:
            _actions(ctx).service_action(fault.target, action, self.mode(fault))

    def undo(self, fault: ActiveFault) -> str | None:
        return self.on_remove

    def mode(self, fault: ActiveFault) -> DeathMode | None:
        return None


def _actions(ctx: FaultContext) -> ServiceFaultContext:
    if not hasattr(ctx, "service_action"):
        raise TypeError("this runtime cannot act on services (no service_action)")
    return ctx  # type: ignore[return-value]


class RestartAttributes(Spec):
    restart: bool = Field(True, description="start the service again when the fault ends")
    mode: DeathMode | None = Field(
        None, description="what callers see while it is down: refuse (connections refused at once) or blackhole "
                          "(a connect hangs, nothing answers); default: the runtime's own (local: refuse, docker: "
                          "blackhole)")


class RestartingFault(ServiceFault):
    """Takes the service down; starting it again when the fault ends, unless ``restart: false``."""

    Attributes = RestartAttributes

    def undo(self, fault: ActiveFault) -> str | None:
        return "start" if fault.attributes.restart else None  # type: ignore[attr-defined]

    def mode(self, fault: ActiveFault) -> DeathMode | None:
        mode: DeathMode | None = fault.attributes.mode  # type: ignore[attr-defined]
        return mode

    def prepare(self, ctx: FaultContext, fault: ActiveFault) -> None:
        if hasattr(ctx, "prepare_death"):
            _actions(ctx).prepare_death(self.mode(fault))


@register
class Kill(RestartingFault):
    """SIGKILL the service (and its process group): a crash, with no chance to clean up."""

    name = "kill"
    on_apply = "kill"


@register
class Stop(RestartingFault):
    """Stop the service gracefully (SIGTERM, then SIGKILL after its stop_timeout)."""

    name = "stop"
    on_apply = "stop"


class NoAttributes(Spec):
    pass


@register
class Pause(ServiceFault):
    """Freeze the service (SIGSTOP) for the fault's duration: it holds connections but answers nothing."""

    name = "pause"
    on_apply = "pause"
    on_remove = "resume"
    Attributes = NoAttributes


@register
class Restart(ServiceFault):
    """Stop the service gracefully and start it again at once."""

    name = "restart"
    on_apply = "restart"
    Attributes = NoAttributes
