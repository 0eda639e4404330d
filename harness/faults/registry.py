"""The fault registry and the machinery every fault type shares.

A fault type is a class with a ``name``, a ``target_kind``, an ``Attributes`` model (a Spec,
so a misspelt attribute fails listing the known ones) and two verbs, ``apply`` and
``remove``. Modelled on Toxiproxy's toxics: the envelope (name, type, target, stream,
toxicity) is read first, then the attributes into the type's own model; toxicity and
stream belong to the envelope, never to a fault type.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, ClassVar, Literal, Protocol, TypeVar

from pydantic import BeforeValidator

from ..durations import MAX_SECONDS, parse_duration
from ..model import Spec
from ..registry import Registry, UnknownEntry
from .toxiproxy import Stream, ToxiproxyClient

__all__ = [
    "FAULT_TYPES", "ActiveFault", "FaultContext", "FaultType", "Microseconds", "Milliseconds",
    "SimpleFaultContext", "TargetKind", "ToxicFault", "fault_type", "register", "validate_attributes", "whole_units",
]

TargetKind = Literal["edge", "service"]


class FaultContext(Protocol):
    """What a fault type may touch while it is applied or removed.

    Kept minimal on purpose: a fault type sees the Toxiproxy client and a way to name the
    proxy standing in for an edge, nothing of the run. Process faults will add
    ``service_action(service, action)``.
    """

    @property
    def toxiproxy(self) -> ToxiproxyClient: ...

    def proxy_for_edge(self, edge: str) -> str:
        """The Toxiproxy proxy name for an edge such as "orders->payments"."""
        ...


@dataclass
class SimpleFaultContext:
    """A FaultContext from a fixed map of edge -> proxy name (tests, and runs without a topology)."""

    toxiproxy: ToxiproxyClient
    proxies: dict[str, str]

    def proxy_for_edge(self, edge: str) -> str:
        try:
            return self.proxies[edge]
        except KeyError:
            raise UnknownEntry("edge", edge, sorted(self.proxies)) from None


class FaultType:
    """Base of every fault type; subclasses register themselves with ``@register``."""

    name: ClassVar[str]
    target_kind: ClassVar[TargetKind]
    Attributes: ClassVar[type[Spec]]
    per_connection: ClassVar[bool] = True
    """False when stream and toxicity mean nothing for this type (a proxy is down or not)."""
    per_request: ClassVar[bool] = False
    """True when toxicity is drawn per HTTP request rather than per TCP connection."""
    default_stream: ClassVar[Stream] = "downstream"
    """The stream when a fault does not name one (Toxiproxy's default, except HTTP types)."""
    needs_http_toxics: ClassVar[bool] = False
    """Only the toxiproxy-server built from this repository (toxiproxy/) can carry it out."""

    def apply(self, ctx: FaultContext, fault: ActiveFault) -> None:
        raise NotImplementedError

    def remove(self, ctx: FaultContext, fault: ActiveFault) -> None:
        raise NotImplementedError

    def prepare(self, ctx: FaultContext, fault: ActiveFault) -> None:
        """Before load starts, set up what applying it will need, so it takes effect when planned."""

    def traffic(self, ctx: FaultContext, fault: ActiveFault) -> dict[str, Any] | None:
        """What the fault saw while applied (asked after removal), for the journal; None: nothing to say."""
        return None

    def idle(self, fault: ActiveFault, seen: dict[str, Any]) -> str | None:
        """Why the fault could not have bitten, judged from what ``traffic`` saw; None if it could."""
        return None


FAULT_TYPES: Registry[FaultType] = Registry("fault type")

F = TypeVar("F", bound=type[FaultType])


def register(cls: F) -> F:
    """Class decorator: one instance per type, held by FAULT_TYPES (types hold no state)."""
    FAULT_TYPES.register(cls.name, cls())
    return cls


def fault_type(name: str) -> FaultType:
    """The registered type; UnknownEntry("unknown fault type 'x'; known: ...") otherwise."""
    return FAULT_TYPES.get(name)


def validate_attributes(type_name: str, raw: dict[str, Any] | None) -> Spec:
    """Parse attributes into the type's model: raises UnknownEntry or pydantic's ValidationError."""
    return fault_type(type_name).Attributes.model_validate(raw or {})


@dataclass(frozen=True)
class ActiveFault:
    """One fault as applied: what the runner hands to ``apply`` and later to ``remove``."""

    name: str  # also the toxic's name in Toxiproxy, so removal needs nothing else
    type: str
    target: str  # an edge "orders->payments" (or a service, for process faults)
    attributes: Spec
    stream: Stream = "downstream"
    toxicity: float = 1.0

    def __post_init__(self) -> None:
        if self.stream not in ("downstream", "upstream"):
            raise ValueError(f"stream must be 'downstream' or 'upstream', got {self.stream!r}")
        if not 0.0 <= self.toxicity <= 1.0:
            raise ValueError(f"toxicity must be between 0 and 1, got {self.toxicity!r}")

    @classmethod
    def create(
        cls, name: str, type: str, target: str, attributes: dict[str, Any] | None = None,
        stream: Stream | None = None, toxicity: float = 1.0,
    ) -> ActiveFault:
        """Validate type and attributes from raw values (as read from a file) and build the fault."""
        kind = fault_type(type)
        if not kind.per_connection and (stream not in (None, "downstream") or toxicity != 1.0):
            raise ValueError(
                f"fault type '{type}' takes no stream or toxicity: it acts on the whole {kind.target_kind}"
            )
        return cls(name, type, target, validate_attributes(type, attributes), stream or kind.default_stream, toxicity)

    @property
    def kind(self) -> FaultType:
        return fault_type(self.type)


class ToxicFault(FaultType):
    """A fault that is one Toxiproxy toxic of the same name; subclasses only declare Attributes."""

    target_kind: ClassVar[TargetKind] = "edge"

    def apply(self, ctx: FaultContext, fault: ActiveFault) -> None:
        ctx.toxiproxy.add_toxic(
            ctx.proxy_for_edge(fault.target), fault.name, self.name,
            fault.attributes.model_dump(), stream=fault.stream, toxicity=fault.toxicity,
        )

    def remove(self, ctx: FaultContext, fault: ActiveFault) -> None:
        ctx.toxiproxy.remove_toxic(ctx.proxy_for_edge(fault.target), fault.name)


# -- attribute types: Toxiproxy wants whole numbers of a unit; files may say "2s" --------------

def whole_units(unit_seconds: float, unit: str) -> BeforeValidator:
    """A validator for whole numbers of a unit, written as a number or a duration ("2s")."""
    return _whole_units(unit_seconds, unit)


def _whole_units(unit_seconds: float, unit: str) -> BeforeValidator:
    limit = round(MAX_SECONDS / unit_seconds)

    def convert(value: Any) -> Any:
        # YAML's `yes` must not become 1 ms. ValueError, not TypeError: pydantic reports only the former.
        if isinstance(value, bool):
            raise ValueError(f"expected a whole number of {unit} or a duration like '2s', got {value!r}")
        if not isinstance(value, (int, str)):
            return value  # let pydantic's int validation report the type error
        if isinstance(value, int):
            if value < 0:
                raise ValueError(f"must not be negative, got {value}")
            if value > limit:
                # Toxiproxy turns these into nanoseconds in an int64: far beyond this it overflows.
                raise ValueError(f"must be at most {limit} {unit} (30 days), got {value}")
            return value
        try:
            count = parse_duration(value) / unit_seconds
        except ValueError as exc:
            if "at most" in str(exc):
                raise
            raise ValueError(
                f"invalid duration {value!r}: write a whole number of {unit} (300) "
                "or a duration with a unit and no space, like '500ms' or '2s'"
            ) from None
        if abs(count - round(count)) > 1e-6:
            raise ValueError(f"{value!r} is not a whole number of {unit}")
        return round(count)
    return BeforeValidator(convert)


Milliseconds = Annotated[int, _whole_units(0.001, "milliseconds")]
"""An int of ms: 300, "300ms" or "2s" (= 2000). Bare numbers are ms, as in Toxiproxy."""
Microseconds = Annotated[int, _whole_units(0.000001, "microseconds")]
"""An int of µs (the slicer's delay): 500, "1ms" (= 1000)."""
