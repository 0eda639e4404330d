"""The HTTP fault types: toxics of the toxiproxy-server built from this repository (toxiproxy/).

They act on HTTP/1.x messages, not on bytes: ``http_status`` answers a request itself (it
never reaches the upstream) or, downstream, replaces the upstream's answer; ``http_abort``
cuts a body part-way; ``http_delay`` holds one request (or answer) of a kept-alive
connection; ``http_header`` sets or removes a header.

The envelope's ``toxicity`` is the share of *requests* affected, drawn per request: Toxiproxy
decides toxicity once per TCP connection, so these faults send it as the toxic's own
``probability`` attribute and leave Toxiproxy's toxicity at 1. A stock toxiproxy-server has
none of these toxics: see ``capabilities``.
"""
from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal

from prometheus_client.parser import text_string_to_metric_families
from pydantic import Field, field_validator, model_validator

from ..errors import ToxiproxyError
from ..model import Spec
from .capabilities import STOCK_SERVER_HINT
from .registry import ActiveFault, FaultContext, Milliseconds, ToxicFault, register, whole_units
from .toxiproxy import Stream, ToxiproxyRequestError

__all__ = ["CutAfterMatch", "HttpAbort", "HttpDelay", "HttpHeader", "HttpStatus", "HttpToxicFault", "Truncate", "read_traffic"]

Seconds = Annotated[int, whole_units(1.0, "seconds")]


class HttpAttributes(Spec):
    @model_validator(mode="before")
    @classmethod
    def _probability_is_the_envelope_toxicity(cls, data: Any) -> Any:
        if isinstance(data, dict) and "probability" in data:
            raise ValueError("set the share of requests with the fault's 'toxicity', not attributes.probability")
        return data


def _no_line_breaks(value: str) -> str:
    if any(c in value for c in "\r\n\0"):
        raise ValueError(f"must not contain CR, LF or NUL: {value!r}")
    return value


class HttpToxicFault(ToxicFault):
    """One HTTP toxic of our toxiproxy-server; toxicity becomes its per-request probability."""

    needs_http_toxics: ClassVar[bool] = True
    per_request: ClassVar[bool] = True

    def apply(self, ctx: FaultContext, fault: ActiveFault) -> None:
        self._add(ctx, fault, {**fault.attributes.model_dump(), "probability": fault.toxicity}, toxicity=1.0)

    def _add(self, ctx: FaultContext, fault: ActiveFault, attributes: dict[str, Any], toxicity: float) -> None:
        proxy = ctx.proxy_for_edge(fault.target)
        try:
            ctx.toxiproxy.add_toxic(proxy, fault.name, self.name, attributes, stream=fault.stream, toxicity=toxicity)
        except ToxiproxyRequestError as exc:
            if exc.status == 400 and "invalid toxic type" in exc.body:
                raise ToxiproxyError(
                    f"the toxiproxy-server at {ctx.toxiproxy.base_url} has no '{self.name}' toxic: "
                    "it is a stock server or a build older than this checkout", hint=STOCK_SERVER_HINT) from exc
            raise

    def traffic(self, ctx: FaultContext, fault: ActiveFault) -> dict[str, Any] | None:
        """The toxic's own counters: requests it decided on, faulted, and non-HTTP connections."""
        return read_traffic(ctx.toxiproxy.metrics(), ctx.proxy_for_edge(fault.target), fault.name)

    def idle(self, fault: ActiveFault, seen: dict[str, Any]) -> str | None:
        return None if seen.get("requests") else f"{self.name} saw no HTTP request on {fault.target} while applied"


def read_traffic(exposition: str, proxy: str, toxic: str) -> dict[str, Any]:
    """Sum the HTTP toxic counters of one toxic on one proxy from a /metrics exposition."""
    counts = {"faulted": 0, "passed": 0, "not_http_connections": 0}
    for family in text_string_to_metric_families(exposition):
        for sample in family.samples:
            labels = sample.labels
            if labels.get("proxy") != proxy or labels.get("toxic") != toxic:
                continue
            if sample.name == "toxiproxy_http_requests_total" and labels.get("outcome") in counts:
                counts[labels["outcome"]] += int(sample.value)
            elif sample.name == "toxiproxy_http_passthrough_connections_total":
                counts["not_http_connections"] += int(sample.value)
    return {"requests": counts["faulted"] + counts["passed"], **counts}


@register
class HttpStatus(HttpToxicFault):
    """Answers a share of requests with ``status`` (optional ``body``, ``retry_after`` s).

    Upstream (the default): the request never reaches the upstream. Downstream: the upstream
    handles it and its answer is replaced (the work was done; the caller is told it failed).
    """

    name = "http_status"
    default_stream: ClassVar[Stream] = "upstream"

    class Attributes(HttpAttributes):
        status: int = Field(ge=200, le=599, description="the status to answer, e.g. 500, 503, 429")
        body: str = Field("", max_length=1_000_000, description="the answer's body")
        content_type: str = Field("text/plain; charset=utf-8", description="the answer's Content-Type")
        retry_after: Seconds = Field(0, description="Retry-After in whole seconds; 0: no header")

        _check_content_type = field_validator("content_type")(_no_line_breaks)


@register
class HttpAbort(HttpToxicFault):
    """Cuts a share of messages after their head and ``body_bytes`` of body, closing the connection.

    Downstream (the default): the client gets a status line, headers and a truncated body.
    Upstream: the upstream gets a truncated request body, the client no answer.
    """

    name = "http_abort"
    default_stream: ClassVar[Stream] = "downstream"

    class Attributes(HttpAttributes):
        body_bytes: int = Field(0, ge=0, description="body bytes let through before the cut")


@register
class HttpDelay(HttpToxicFault):
    """Holds a share of requests (upstream, the default) or answers (downstream) for ``delay`` ms.

    Other requests on the same kept-alive connection pass at once (the ``latency`` fault
    slows a whole connection).
    """

    name = "http_delay"
    default_stream: ClassVar[Stream] = "upstream"

    class Attributes(HttpAttributes):
        # Required: a zero delay would be a fault that does nothing while claiming to.
        delay: Milliseconds = Field(gt=0)
        jitter: Milliseconds = 0


_FRAMING = {"content-length", "transfer-encoding"}


@register
class HttpHeader(HttpToxicFault):
    """Sets (``action: set``) or removes (``action: remove``) header ``name`` on a share of messages.

    Upstream (the default) changes requests, downstream changes answers.
    """

    name = "http_header"
    default_stream: ClassVar[Stream] = "upstream"

    class Attributes(HttpAttributes):
        name: str = Field(pattern=r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$", description="the header field name")
        action: Literal["set", "remove"] = Field("set", description="set the header, or remove it")
        value: str = Field("", description="the value to set")

        _check_value = field_validator("value")(_no_line_breaks)

        @field_validator("name")
        @classmethod
        def _not_framing(cls, value: str) -> str:
            if value.lower() in _FRAMING:
                raise ValueError(f"{value} frames the body and cannot be changed (see http_abort)")
            return value


@register
class CutAfterMatch(HttpToxicFault):
    """Closes the connection right after data holding ``match`` has passed (any protocol, not only HTTP).

    A connection lost at one exact point of a conversation, which a timer cannot aim at.
    Downstream (the default) on a PostgreSQL edge with ``match: COMMIT``: the database has
    committed and said so, then the client's connection is gone, so bookkeeping kept in a second
    transaction (a checkpoint, an outbox mark) is lost and the first one is redone. Upstream:
    the statement reaches the server and the connection closes behind it (its answer is lost
    unless it was quicker than the close: an unknown outcome, mostly). The
    chunk holding the match is forwarded whole (``deliver: false`` drops it: downstream, the
    database committed and the client is never told, every time); ``toxicity`` is the share of
    matches that cut.
    """

    name = "cut_after_match"
    default_stream: ClassVar[Stream] = "downstream"

    class Attributes(HttpAttributes):
        match: str = Field(min_length=1, max_length=1024, description="the bytes to look for, as text (UTF-8)")
        deliver: bool = Field(True, description="forward the data holding the match before the close; false: drop "
                                                "it (downstream COMMIT: committed, and the client never hears so)")

    def traffic(self, ctx: FaultContext, fault: ActiveFault) -> dict[str, Any] | None:
        counts = read_traffic(ctx.toxiproxy.metrics(), ctx.proxy_for_edge(fault.target), fault.name)
        return {"matches": counts["requests"], "cut": counts["faulted"], "passed": counts["passed"]}

    def idle(self, fault: ActiveFault, seen: dict[str, Any]) -> str | None:
        match = fault.attributes.model_dump()["match"]
        return None if seen.get("matches") else f"{self.name} saw no {match!r} on {fault.target} while applied"


@register
class Truncate(HttpToxicFault):
    """Forwards the first N bytes of a connection's stream, then closes it; N is drawn per connection.

    Toxiproxy's ``limit_data`` cuts every connection at one offset, so it asks one question of
    the reader of an answer; drawn between ``min_bytes`` and ``max_bytes``, the cut lands at every
    offset over a few hundred connections: after a field, inside one, before a terminator. A
    reader that accepts a record missing its last fields is found whatever its layout. Any
    protocol, not only HTTP. ``toxicity`` is the share of connections cut (Toxiproxy's own).
    """

    name = "truncate"
    default_stream: ClassVar[Stream] = "downstream"
    per_request: ClassVar[bool] = False

    class Attributes(Spec):
        min_bytes: int = Field(0, ge=0, le=2**62, description="the fewest bytes a cut connection passes")
        max_bytes: int = Field(ge=0, le=2**62, description="the most bytes a cut connection passes")

        @model_validator(mode="after")
        def _a_range(self) -> "Truncate.Attributes":
            if self.max_bytes < self.min_bytes:
                raise ValueError(f"max_bytes ({self.max_bytes}) must be at least min_bytes ({self.min_bytes})")
            return self

    def apply(self, ctx: FaultContext, fault: ActiveFault) -> None:
        self._add(ctx, fault, fault.attributes.model_dump(), toxicity=fault.toxicity)

    def traffic(self, ctx: FaultContext, fault: ActiveFault) -> dict[str, Any] | None:
        counts = read_traffic(ctx.toxiproxy.metrics(), ctx.proxy_for_edge(fault.target), fault.name)
        return {"cut": counts["faulted"], "passed": counts["passed"]}

    def idle(self, fault: ActiveFault, seen: dict[str, Any]) -> str | None:
        return None if seen.get("cut") else f"{self.name} cut no connection on {fault.target} while applied"
