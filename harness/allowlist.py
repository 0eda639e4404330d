"""Which addresses a run may send load and faults to: loopback, plus what a person allowlisted.

A service declared with ``address: HOST:PORT`` is already running somewhere; the harness routes
traffic to it and injects faults on the way. Faulting the wrong host is the one mistake a chaos
tool must not make, so anything that resolves outside the loopback range (127.0.0.0/8, ::1) is
refused when the manifest is validated, unless an explicit allowlist names it:

    harness run exp.yaml --allow-address staging-db.internal:5432 --allow-address 10.1.2.0/24
    harness run exp.yaml --allowlist allowed.txt        # one entry a line; '#' starts a comment
    HARNESS_ALLOWLIST=allowed.txt harness run exp.yaml

An entry is a host name, an IP address, a CIDR network, or any of those with ``:PORT`` (IPv6 as
``[::1]:6379``). A host name entry matches that name as written in the manifest; an address or
network matches what the manifest's host resolves to (every address it resolves to must match).
"""
from __future__ import annotations

import contextlib
import ipaddress
import os
import socket
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path

ALLOWLIST_ENV = "HARNESS_ALLOWLIST"

__all__ = ["Address", "AllowEntry", "address_problem", "allowing", "parse_address", "parse_entry", "read_allowlist"]


@dataclass(frozen=True)
class Address:
    host: str
    port: int

    def __str__(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


@dataclass(frozen=True)
class AllowEntry:
    host: str | None
    """A host name, matched as written."""
    network: ipaddress.IPv4Network | ipaddress.IPv6Network | None
    """An address (a /32 or /128) or a network, matched against the resolved addresses."""
    port: int | None

    def matches(self, address: Address, resolved: list[ipaddress.IPv4Address | ipaddress.IPv6Address]) -> bool:
        if self.port is not None and self.port != address.port:
            return False
        if self.host is not None:
            return self.host.lower() == address.host.lower()
        assert self.network is not None
        network = self.network
        return bool(resolved) and all(ip.version == network.version and ip in network for ip in resolved)


_allowed: ContextVar[tuple[AllowEntry, ...] | None] = ContextVar("harness_allowlist", default=None)


def parse_address(text: str) -> Address:
    """``HOST:PORT`` (``[v6]:PORT``) -> Address; ValueError saying what is wrong."""
    text = text.strip()
    if text.startswith("["):
        host, sep, rest = text[1:].partition("]")
        if not sep or not rest.startswith(":"):
            raise ValueError(f"{text!r} is not HOST:PORT (an IPv6 address is written [::1]:6379)")
        port_text = rest[1:]
    else:
        host, sep, port_text = text.rpartition(":")
        if not sep or not host:
            raise ValueError(f"{text!r} is not HOST:PORT (e.g. 127.0.0.1:6379)")
        if ":" in host:
            raise ValueError(f"{text!r}: write an IPv6 address in brackets, e.g. [::1]:6379")
    if not port_text.isdigit() or not 1 <= int(port_text) <= 65535:
        raise ValueError(f"{text!r}: the port must be 1-65535")
    return Address(host, int(port_text))


def parse_entry(text: str) -> AllowEntry:
    """An allowlist entry: host, IP, CIDR, each optionally with ``:PORT``."""
    raw = text.strip()
    port: int | None = None
    body = raw
    if raw.startswith("["):
        inner, _, rest = raw[1:].partition("]")
        body = inner
        if rest:
            if not rest.startswith(":") or not rest[1:].isdigit():
                raise ValueError(f"allowlist entry {raw!r}: expected [IPv6]:PORT")
            port = int(rest[1:])
    elif raw.count(":") == 1:
        body, _, port_text = raw.partition(":")
        if not port_text.isdigit():
            raise ValueError(f"allowlist entry {raw!r}: the port must be a number")
        port = int(port_text)
    if port is not None and not 1 <= port <= 65535:
        raise ValueError(f"allowlist entry {raw!r}: the port must be 1-65535")
    if not body:
        raise ValueError(f"allowlist entry {raw!r} names no host")
    try:
        return AllowEntry(host=None, network=ipaddress.ip_network(body, strict=False), port=port)
    except ValueError:
        pass
    if any(c in body for c in "/ \t") or body.startswith("-"):
        raise ValueError(f"allowlist entry {raw!r} is neither a host name, an IP address nor a CIDR network")
    return AllowEntry(host=body, network=None, port=port)


def read_allowlist(path: Path) -> list[AllowEntry]:
    """One entry a line, ``#`` comments; ValueError naming the file and line."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ValueError(f"cannot read the allowlist {path}: {getattr(exc, 'strerror', None) or exc}") from None
    entries = []
    for n, line in enumerate(text.splitlines(), start=1):
        line = line.split("#", 1)[0].strip()
        if line:
            try:
                entries.append(parse_entry(line))
            except ValueError as exc:
                raise ValueError(f"{path}, line {n}: {exc}") from None
    return entries


@contextlib.contextmanager
def allowing(entries: list[AllowEntry]) -> Iterator[None]:
    """Within the block, validation accepts these non-loopback addresses too."""
    token = _allowed.set(tuple(entries))
    try:
        yield
    finally:
        _allowed.reset(token)


def current_allowlist() -> tuple[AllowEntry, ...]:
    """The entries in force: those of ``allowing``, else those of $HARNESS_ALLOWLIST's file."""
    set_here = _allowed.get()
    if set_here is not None:
        return set_here
    file = os.environ.get(ALLOWLIST_ENV)
    return tuple(read_allowlist(Path(file))) if file else ()


def resolve(host: str) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    """Every address ``host`` resolves to (an IP literal: itself); empty if it does not resolve."""
    try:
        return [ipaddress.ip_address(host)]
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        return []
    return sorted({ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos}, key=str)


def address_problem(text: str) -> str | None:
    """Why a run must not target ``text`` (HOST:PORT), or None when it may (loopback or allowlisted)."""
    try:
        address = parse_address(text)
    except ValueError as exc:
        return str(exc)
    try:
        allowed = current_allowlist()
    except ValueError as exc:
        return str(exc)
    resolved = resolve(address.host)
    if any(entry.matches(address, resolved) for entry in allowed):
        return None
    if not resolved:
        return f"{address.host!r} does not resolve to an address"
    outside = [str(ip) for ip in resolved if not ip.is_loopback]
    if not outside:
        return None
    return (f"{address} is outside the loopback range (it is {', '.join(outside)}): the harness injects faults only "
            "into hosts you name; allowlist it with --allow-address " + str(address) + " (or --allowlist FILE, "
            f"${ALLOWLIST_ENV}) if this is really the system to fault")
