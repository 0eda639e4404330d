"""Samples the traffic on every edge, from the stock Toxiproxy itself, into the journal.

Two counters per edge, read by a background thread every ``interval``; the runner drains the
``edge_counters`` records into the journal as it drains requests, and checks
(``amplification``) compare an edge's traffic with the requests that caused it:

- **connections** (``conns``): the ``Accepted client`` lines Toxiproxy logs (at info level,
  which every runtime sets) for each proxy, counted as they appear in ``logs/toxiproxy.log``.
  Real time. A caller that retries on a fresh connection (after a reset, a timeout, or
  always) shows every try; one that reuses a kept-alive connection shows none.
- **bytes** (``up_in``, ``up_out``, ``down_in``, ``down_out``): the byte counters of Toxiproxy's
  ``/metrics`` page (``-proxy-metrics``). Measured here: Toxiproxy 2.12 adds a connection's
  bytes when that connection *closes*, so with kept-alive connections the bytes of a whole
  connection's life land at once (a fault that resets old connections dumps them into its
  window). Right over a whole run, or for callers without keep-alive; not per second otherwise.

    edge_counters   edges {edge: {conns, up_in, up_out, down_in, down_out}}  (cumulative)
    edge_counters_error   error (the metrics page could not be read; recorded once per error text)
"""
from __future__ import annotations

import json
import re
import threading
import time
from pathlib import Path
from typing import Any, Callable

import httpx

from ..journal import Record

_LINE = re.compile(r'^toxiproxy_proxy_(received|sent)_bytes_total\{(?P<labels>[^}]*)\}\s+(?P<value>\S+)$')
_LABEL = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')
_FIELD = {("upstream", "received"): "up_in", ("upstream", "sent"): "up_out",
          ("downstream", "received"): "down_in", ("downstream", "sent"): "down_out"}


def parse_counters(text: str, proxies: dict[str, str]) -> dict[str, dict[str, float]]:
    """Toxiproxy's metrics page -> {edge: {up_in, up_out, down_in, down_out}} for the proxies named.

    A proxy has no series until its first byte: it counts as zero, not as unknown.
    """
    out: dict[str, dict[str, float]] = {edge: dict.fromkeys(_FIELD.values(), 0.0) for edge in proxies.values()}
    for line in text.splitlines():
        m = _LINE.match(line.strip())
        if not m:
            continue
        labels = dict(_LABEL.findall(m.group("labels")))
        edge = proxies.get(labels.get("proxy", ""))
        key = _FIELD.get((labels.get("direction", ""), m.group(1)))
        if edge is None or key is None:
            continue
        # A proxy recreated on another listener keeps its old series too: summed, deltas stay right.
        out[edge][key] += float(m.group("value"))
    return out


class ConnectionLog:
    """Counts ``Accepted client`` lines per proxy in Toxiproxy's (JSON lines) log, incrementally."""

    def __init__(self, path: Path, proxies: dict[str, str]):
        self.path, self.proxies = path, proxies
        self.counts: dict[str, int] = dict.fromkeys(proxies.values(), 0)
        self._offset = 0
        self._partial = b""

    def read(self) -> dict[str, int]:
        try:
            with self.path.open("rb") as f:
                f.seek(self._offset)
                data = f.read()
        except FileNotFoundError:
            return dict(self.counts)
        self._offset += len(data)
        *lines, self._partial = (self._partial + data).split(b"\n")
        for line in lines:
            if b"Accepted client" not in line:
                continue
            try:
                name = json.loads(line).get("name", "")
            except ValueError:
                continue
            edge = self.proxies.get(name)
            if edge is not None:
                self.counts[edge] += 1
        return dict(self.counts)


class EdgeSampler:
    """Reads the connection log and ``{api}/metrics`` every ``interval`` in a thread; ``drain()`` hands
    over the records."""

    def __init__(self, api_url: str, proxies: dict[str, str], interval: float = 0.5,
                 clock: Callable[[], float] = time.time, log_path: Path | None = None):
        self.url = api_url.rstrip("/") + "/metrics"
        self.proxies = proxies
        """Toxiproxy proxy name -> edge name."""
        self.interval = interval
        self.clock = clock
        self.log = ConnectionLog(log_path, proxies) if log_path is not None else None
        self._records: list[Record] = []
        self._errors_seen: set[str] = set()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._http = httpx.Client(timeout=httpx.Timeout(2.0, connect=1.0), trust_env=False)

    def sample(self) -> None:
        """One read, now (also called at start and stop so every window has samples at its edges)."""
        try:
            t = self.clock()
            conns = self.log.read() if self.log is not None else {}
            resp = self._http.get(self.url)
            resp.raise_for_status()
            edges = parse_counters(resp.text, self.proxies)
            for edge, n in conns.items():
                edges[edge]["conns"] = n
            rec: Record = {"kind": "edge_counters", "t": t, "edges": edges}
        except Exception as exc:  # a missed sample leaves a gap the check interpolates over
            text = f"{type(exc).__name__}: {exc}"
            if text in self._errors_seen:
                return
            self._errors_seen.add(text)
            rec = {"kind": "edge_counters_error", "t": self.clock(), "error": text}
        with self._lock:
            self._records.append(rec)

    def start(self) -> "EdgeSampler":
        self.sample()
        self._thread = threading.Thread(target=self._run, name="edge-sampler", daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.sample()

    def drain(self) -> list[Record]:
        with self._lock:
            out, self._records = self._records, []
        return out

    def stop(self) -> None:
        """Stop the thread and take one last sample. Idempotent; never raises."""
        if self._thread is not None and not self._stop.is_set():
            self._stop.set()
            self._thread.join(timeout=5.0)
            self.sample()
        self._stop.set()
        self._http.close()


def start_sampling(deployment: Any, log_path: Path | None, interval: float = 0.5) -> EdgeSampler | None:
    """A started sampler over every edge of a deployment, through its Toxiproxy API and log (None without one)."""
    api = getattr(getattr(deployment, "toxiproxy", None), "base_url", None)
    if not isinstance(api, str):
        return None
    edges = getattr(deployment, "proxied_edges", None) or list(deployment.system.edges)  # with load-path edges
    proxies = {deployment.proxy_for_edge(edge): edge for edge in edges}
    return EdgeSampler(api, proxies, interval, log_path=log_path).start()


def counter_at(samples: list[tuple[float, float]], t: float) -> float | None:
    """A cumulative counter's value at ``t``, interpolated between the samples around it.

    ``samples`` are (time, value) in time order. None when ``t`` is outside the sampled span
    (no sample before it or none after it): a guess there would be a made-up number.
    """
    if not samples or t < samples[0][0] or t > samples[-1][0]:
        return None
    lo, hi = 0, len(samples) - 1
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if samples[mid][0] <= t:
            lo = mid
        else:
            hi = mid
    (t0, v0), (t1, v1) = samples[lo], samples[hi]
    if t1 == t0:
        return v1
    return v0 + (v1 - v0) * (t - t0) / (t1 - t0)


def edge_series(records: list[Record], edge: str, field: str = "up_in") -> list[tuple[float, float]]:
    """(t, cumulative bytes) of one edge, in time order, from ``edge_counters`` records."""
    raw = sorted((float(r["t"]), float(r["edges"][edge][field])) for r in records
                 if r.get("kind") == "edge_counters" and field in r.get("edges", {}).get(edge, {}))
    # A counter that went down was reset (a restarted Toxiproxy): carry on from where it was.
    out, offset, previous = [], 0.0, 0.0
    for t, v in raw:
        if v < previous:
            offset += previous  # it restarted from zero: what it had counted stays counted
        previous = v
        out.append((t, v + offset))
    return out
