"""A small typed client for Toxiproxy's HTTP API (v2), over httpx.

Why our own: ``toxiproxy-python`` has no timeouts, lets 5xx answers pass silently and keeps
host and port in class globals (see /work/shared/ENVIRONMENT.md). Here every call has a
timeout, and every failure, whether the transport's or a non-2xx answer, becomes a
``ToxiproxyRequestError`` (a ``ToxiproxyError``) naming method, URL, status and body.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Literal, Self
from urllib.parse import quote

import httpx

from ..errors import ToxiproxyError

__all__ = ["DEFAULT_TIMEOUT", "Proxy", "Stream", "Toxic", "ToxiproxyClient", "ToxiproxyRequestError"]

Stream = Literal["downstream", "upstream"]

# Connect fails fast (the server is on loopback or it is not there); reads get longer because
# disabling a proxy waits for its open connections to close.
DEFAULT_TIMEOUT = httpx.Timeout(10.0, connect=2.0)

# Toxiproxy issue #558: removing a toxic that holds a connection can block until the server's
# own 25 s handler timeout, then answer 503. Give up well before that; callers use reset().
REMOVE_TOXIC_TIMEOUT = 5.0
_ISSUE_558_HINT = (
    "Toxiproxy can block while removing a toxic that holds open connections (issue #558); "
    "fall back to reset(), which removes every toxic"
)


class ToxiproxyRequestError(ToxiproxyError):
    """One API call failed: ``status`` is None when no answer came (refused, timed out)."""

    def __init__(
        self, method: str, url: str, status: int | None, body: str, reason: str, hint: str | None = None
    ):
        self.method, self.url, self.status, self.body, self.reason = method, url, status, body, reason
        super().__init__(f"Toxiproxy {method} {url} {reason}", hint=hint)


@dataclass(frozen=True)
class Toxic:
    name: str
    type: str
    stream: Stream
    toxicity: float
    attributes: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Toxic:
        return cls(
            name=data["name"],
            type=data["type"],
            stream=data["stream"],
            toxicity=float(data["toxicity"]),
            attributes=dict(data.get("attributes") or {}),
        )


@dataclass(frozen=True)
class Proxy:
    name: str
    listen: str  # "host:port" as the server bound it (port 0 is resolved)
    upstream: str
    enabled: bool
    toxics: tuple[Toxic, ...] = ()

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Proxy:
        return cls(
            name=data["name"],
            listen=data["listen"],
            upstream=data["upstream"],
            enabled=bool(data["enabled"]),
            toxics=tuple(Toxic.from_json(t) for t in data.get("toxics") or []),
        )


def _path(proxy: str, *rest: str) -> str:
    # Names are free text to the server; quote them so "a/b" or "orders->payments" stay one segment.
    return "/".join(["/proxies", *(quote(part, safe="") for part in (proxy, *rest))])


class ToxiproxyClient:
    def __init__(
        self,
        base_url: str = "http://127.0.0.1:8474",
        *,
        timeout: httpx.Timeout = DEFAULT_TIMEOUT,
        transport: httpx.BaseTransport | None = None,
    ):
        self.base_url = base_url.rstrip("/")
        # trust_env=False: an HTTP(S)_PROXY set for package downloads must not capture
        # calls to a Toxiproxy on loopback.
        self._http = httpx.Client(base_url=self.base_url, timeout=timeout, transport=transport, trust_env=False)

    # -- server ---------------------------------------------------------------------------
    def version(self) -> str:
        return str(self._call("GET", "/version")["version"])

    def wait_ready(self, timeout: float = 10.0, interval: float = 0.05) -> str:
        """Poll /version until it answers; return the version. Raises the last error on timeout."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                return self.version()
            except ToxiproxyRequestError as exc:
                if time.monotonic() >= deadline:
                    raise ToxiproxyRequestError(
                        exc.method, exc.url, exc.status, exc.body,
                        f"did not answer within {timeout:g}s (last: {exc.reason})",
                        hint="is toxiproxy-server running at this address? see its log",
                    ) from exc
            time.sleep(interval)

    def metrics(self) -> str:
        """The server's Prometheus exposition (only when it runs with -proxy-metrics or -runtime-metrics)."""
        url = self.base_url + "/metrics"
        try:
            response = self._http.get("/metrics")
        except httpx.HTTPError as exc:
            raise ToxiproxyRequestError("GET", url, None, "", f"failed: {type(exc).__name__}: {exc}") from exc
        if not response.is_success:
            raise ToxiproxyRequestError("GET", url, response.status_code, response.text,
                                        f"answered {response.status_code}: {response.text.strip() or '<empty body>'}")
        return response.text

    def reset(self) -> None:
        """Enable every proxy and remove every toxic."""
        self._call("POST", "/reset")

    # -- proxies --------------------------------------------------------------------------
    def proxies(self) -> dict[str, Proxy]:
        data = self._call("GET", "/proxies")
        return {name: Proxy.from_json(p) for name, p in data.items()}

    def create_proxy(self, name: str, listen: str, upstream: str, enabled: bool = True) -> Proxy:
        body = {"name": name, "listen": listen, "upstream": upstream, "enabled": enabled}
        return Proxy.from_json(self._call("POST", "/proxies", json=body))

    def get_proxy(self, name: str) -> Proxy:
        return Proxy.from_json(self._call("GET", _path(name)))

    def set_enabled(self, name: str, enabled: bool) -> Proxy:
        """Disabling closes the listener and every open connection through the proxy."""
        # POST works on every 2.x server; 2.12 also takes PATCH and logs POST as deprecated.
        return Proxy.from_json(self._call("POST", _path(name), json={"enabled": enabled}))

    def delete_proxy(self, name: str) -> None:
        self._call("DELETE", _path(name))

    # -- toxics ---------------------------------------------------------------------------
    def toxics(self, proxy: str) -> list[Toxic]:
        return [Toxic.from_json(t) for t in self._call("GET", _path(proxy, "toxics"))]

    def add_toxic(
        self,
        proxy: str,
        name: str,
        type: str,
        attributes: dict[str, Any],
        stream: Stream = "downstream",
        toxicity: float = 1.0,
    ) -> Toxic:
        body = {"name": name, "type": type, "stream": stream, "toxicity": toxicity, "attributes": attributes}
        return Toxic.from_json(self._call("POST", _path(proxy, "toxics"), json=body))

    def update_toxic(
        self, proxy: str, name: str, attributes: dict[str, Any], toxicity: float | None = None
    ) -> Toxic:
        """Change attributes (merged into the current ones) and optionally toxicity.

        The server cannot change a toxic's type or stream: remove it and add a new one.
        """
        body: dict[str, Any] = {"attributes": attributes}
        if toxicity is not None:
            body["toxicity"] = toxicity
        return Toxic.from_json(self._call("POST", _path(proxy, "toxics", name), json=body))

    def remove_toxic(self, proxy: str, toxic_name: str, timeout: float = REMOVE_TOXIC_TIMEOUT) -> None:
        path = _path(proxy, "toxics", toxic_name)
        try:
            self._call("DELETE", path, timeout=httpx.Timeout(timeout, connect=DEFAULT_TIMEOUT.connect))
        except ToxiproxyRequestError as exc:
            stuck = exc.status == 503 or isinstance(exc.__cause__, httpx.TimeoutException)
            if not stuck:
                raise
            raise ToxiproxyRequestError(
                exc.method, exc.url, exc.status, exc.body,
                f"could not remove toxic '{toxic_name}' from proxy '{proxy}' (waited up to {timeout:g}s): {exc.reason}",
                hint=_ISSUE_558_HINT,
            ) from exc

    # -- plumbing -------------------------------------------------------------------------
    def _call(self, method: str, path: str, *, json: Any = None, timeout: httpx.Timeout | None = None) -> Any:
        """Send one request; return the decoded JSON answer, or None for an empty one."""
        url = self.base_url + path
        extra: dict[str, Any] = {} if timeout is None else {"timeout": timeout}
        try:
            response = self._http.request(method, path, json=json, **extra)
        except httpx.HTTPError as exc:
            reason = f"failed: {type(exc).__name__}: {str(exc) or 'no detail'}"
            hint = "is toxiproxy-server running at this address?" if isinstance(exc, httpx.ConnectError) else None
            raise ToxiproxyRequestError(method, url, None, "", reason, hint=hint) from exc
        body = response.text.strip()
        if not response.is_success:
            raise ToxiproxyRequestError(
                method, url, response.status_code, body, f"answered {response.status_code}: {body or '<empty body>'}"
            )
        if not body:
            return None
        try:
            return response.json()
        except ValueError as exc:
            raise ToxiproxyRequestError(
                method, url, response.status_code, body, f"answered with invalid JSON: {body[:200]!r}"
            ) from exc

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"ToxiproxyClient({self.base_url!r})"
