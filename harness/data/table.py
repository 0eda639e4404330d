"""``RequestTable``: every request of a run as columns, sorted by start time.

This is the data API for checks (built-in and plugin) and reports. One object holds a
run's requests (numpy arrays, not one dict per request); selecting a window is a binary
search on the sorted start times, a name/method filter is evaluated once per distinct
endpoint and broadcast, and statistics are vectorised. Each selection returns another
``RequestTable`` (a view where it can be), so selections chain::

    during = history.requests.window(windows.resolve({"during": "payments-slow"}))
    post = during.where(name="POST /orders")
    post.count, post.errors(), post.percentile(95), post.stats()

Columns (attributes, all of one length ``len(table)``):

    t         float64  request start, epoch seconds (sorted ascending)
    ms        float64  duration in ms, raw (NaN when the client did not say)
    outcome   uint8    OK = 0, FAIL = 1, INFO = 2 (indeterminate: timed out, reset)
    status    uint16   HTTP status, 0 when there was no answer
    nbytes    int64    response length, -1 when unknown
    endpoint  int32    index into ``endpoints``: (name, method) pairs
    error     int32    index into ``errors``, -1 for none

Per-request access, for the rare check that must look at each answer (a body's schema):
``for r in table`` (or ``table.rows()``) yields plain record dicts in the journal's request
shape (``kind, t, name, method, ms, outcome, status, error, bytes`` and, when bodies were
recorded, ``body``/``body_truncated``), built one at a time and not kept.
"""
from __future__ import annotations

import math
import re
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from .chunks import FAIL, INFO, OK, OUTCOME_CODES, OUTCOME_NAMES, request_files, scan

__all__ = ["RequestTable", "read_requests", "OK", "FAIL", "INFO", "nearest_rank"]

F8 = npt.NDArray[np.float64]
Arr = npt.NDArray[Any]


def nearest_rank(sorted_values: Arr, q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of an ascending array: the value at rank ceil(q/100 * n)."""
    n = len(sorted_values)
    if not n:
        raise ValueError("no values")
    return float(sorted_values[max(1, math.ceil(q / 100.0 * n)) - 1])


class RequestTable:
    """A run's requests (or a selection of them) as columns; see the module docstring."""

    __slots__ = ("t", "ms", "outcome", "status", "nbytes", "endpoint", "error", "endpoints", "errors",
                 "body_start", "body_len", "body_truncated", "blob", "_sorted_ms")

    def __init__(self, *, t: Arr, ms: Arr, outcome: Arr, status: Arr, nbytes: Arr, endpoint: Arr, error: Arr,
                 endpoints: Sequence[tuple[str, str]], errors: Sequence[str],
                 body_start: Arr | None = None, body_len: Arr | None = None, body_truncated: Arr | None = None,
                 blob: bytes = b""):
        self.t: F8 = t
        self.ms: F8 = ms
        self.outcome = outcome
        self.status = status
        self.nbytes = nbytes
        self.endpoint = endpoint
        self.error = error
        self.endpoints: list[tuple[str, str]] = list(endpoints)
        """(name, method) of each endpoint id; shared by every selection of one run."""
        self.errors: list[str] = list(errors)
        self.body_start = body_start
        """Offset of each row's body in ``blob`` (None: bodies were not recorded)."""
        self.body_len = body_len
        """Length of each row's body in bytes, -1 when the row has none."""
        self.body_truncated = body_truncated
        self.blob = blob
        self._sorted_ms: F8 | None = None

    # --- construction ---------------------------------------------------------------------

    @classmethod
    def empty(cls) -> RequestTable:
        return cls.from_records([])

    @classmethod
    def from_records(cls, records: Iterable[dict[str, Any]]) -> RequestTable:
        """From request record dicts (tests, and journals written before requests had their own files)."""
        recs = sorted(records, key=lambda r: r["t"])
        eps: dict[tuple[str, str], int] = {}
        errs: dict[str, int] = {}
        with_bodies = any("body" in r for r in recs)
        blob = bytearray()
        body_start, body_len, body_trunc = [], [], []
        ep_ids, err_ids = [], []
        for r in recs:
            key = (str(r.get("name", "")), str(r.get("method", "")))
            ep_ids.append(eps.setdefault(key, len(eps)))
            e = r.get("error")
            err_ids.append(-1 if e is None else errs.setdefault(str(e), len(errs)))
            if with_bodies:
                body = r.get("body")
                if body is None:
                    body_start.append(0)
                    body_len.append(-1)
                else:
                    data = str(body).encode("utf-8")
                    body_start.append(len(blob))
                    body_len.append(len(data))
                    blob += data
                body_trunc.append(bool(r.get("body_truncated")))

        def num(key: str, default: float) -> F8:
            return np.array([default if r.get(key) is None else float(r[key]) for r in recs], dtype=np.float64)

        return cls(
            t=num("t", math.nan), ms=num("ms", math.nan),
            outcome=np.array([OUTCOME_CODES.get(str(r.get("outcome", "ok")), FAIL) for r in recs], dtype=np.uint8),
            status=np.array([int(r.get("status") or 0) for r in recs], dtype=np.uint16),
            nbytes=np.array([-1 if r.get("bytes") is None else int(r["bytes"]) for r in recs], dtype=np.int64),
            endpoint=np.array(ep_ids, dtype=np.int32), error=np.array(err_ids, dtype=np.int32),
            endpoints=list(eps), errors=list(errs),
            body_start=np.array(body_start, dtype=np.int64) if with_bodies else None,
            body_len=np.array(body_len, dtype=np.int32) if with_bodies else None,
            body_truncated=np.array(body_trunc, dtype=bool) if with_bodies else None,
            blob=bytes(blob),
        )

    def _with(self, index: slice | Arr) -> RequestTable:
        """The rows at ``index`` (a slice keeps views; a mask or index array copies)."""
        def pick(a: Arr | None) -> Arr | None:
            return None if a is None else a[index]
        return RequestTable(t=self.t[index], ms=self.ms[index], outcome=self.outcome[index], status=self.status[index],
                            nbytes=self.nbytes[index], endpoint=self.endpoint[index], error=self.error[index],
                            endpoints=self.endpoints, errors=self.errors, body_start=pick(self.body_start),
                            body_len=pick(self.body_len), body_truncated=pick(self.body_truncated), blob=self.blob)

    # --- size -------------------------------------------------------------------------------

    def __len__(self) -> int:
        return int(self.t.shape[0])

    def __bool__(self) -> bool:
        return len(self) > 0

    @property
    def count(self) -> int:
        return len(self)

    @property
    def has_bodies(self) -> bool:
        return self.body_len is not None and bool(np.any(self.body_len >= 0))

    # --- selection --------------------------------------------------------------------------

    def between(self, start: float | None, end: float | None, *, include_end: bool = False) -> RequestTable:
        """Requests that started in ``[start, end)`` (``[start, end]`` with ``include_end``)."""
        lo = 0 if start is None else int(np.searchsorted(self.t, start, side="left"))
        hi = len(self) if end is None else int(np.searchsorted(self.t, end, side="right" if include_end else "left"))
        return self._with(slice(lo, max(lo, hi)))

    def finished_by(self, end: float) -> RequestTable:
        """Requests that also ended by ``end`` (an unknown duration counts as 0)."""
        return self._with(self.t + np.nan_to_num(self.ms) / 1000.0 <= end)

    def endpoint_mask(self, name: str | None = None, method: str | None = None, name_regex: str | None = None) -> Arr:
        """Per endpoint id: does it match? Evaluated once per distinct endpoint, never per request."""
        pattern = re.compile(name_regex) if name_regex is not None else None
        wanted_method = method.upper() if method is not None else None
        return np.array([(name is None or n == name) and (wanted_method is None or m.upper() == wanted_method)
                         and (pattern is None or pattern.search(n) is not None)
                         for n, m in self.endpoints] or [False], dtype=bool)

    def where(self, name: str | None = None, method: str | None = None, name_regex: str | None = None) -> RequestTable:
        """Requests of the endpoints that match every given criterion (exact name, method, regex on the name)."""
        if name is None and method is None and name_regex is None:
            return self
        return self._with(self.endpoint_mask(name, method, name_regex)[self.endpoint])

    def with_outcome(self, *outcomes: str) -> RequestTable:
        """Requests whose outcome is one of ``ok``, ``fail``, ``info``."""
        codes = [OUTCOME_CODES[o] for o in outcomes]
        return self._with(np.isin(self.outcome, codes))

    def take(self, index: Arr) -> RequestTable:
        """The rows at an index array or boolean mask (e.g. ``table.take(table.ms > 500)``)."""
        return self._with(index)

    # --- statistics -------------------------------------------------------------------------

    @property
    def failed(self) -> int:
        return int(np.count_nonzero(self.outcome == FAIL))

    @property
    def indeterminate(self) -> int:
        return int(np.count_nonzero(self.outcome == INFO))

    @property
    def succeeded(self) -> int:
        return int(np.count_nonzero(self.outcome == OK))

    def errors_count(self, count_indeterminate: bool = True) -> int:
        """Failed requests, plus timed-out ones unless ``count_indeterminate`` is False."""
        return self.failed + (self.indeterminate if count_indeterminate else 0)

    def error_rate(self, count_indeterminate: bool = True) -> float | None:
        return self.errors_count(count_indeterminate) / len(self) if len(self) else None

    def sorted_ms(self) -> F8:
        """Durations in ascending order (NaN last); computed once per table."""
        if self._sorted_ms is None:
            self._sorted_ms = np.sort(self.ms)
        return self._sorted_ms

    def percentile(self, q: float) -> float:
        """Nearest-rank percentile of the durations, in ms. Raises ValueError when empty."""
        return nearest_rank(self.sorted_ms(), q)

    def stats(self) -> dict[str, Any]:
        """Count, failures, indeterminate and p50/p95/p99/max in ms: the numbers checks quote."""
        out: dict[str, Any] = {"requests": len(self), "failed": self.failed, "indeterminate": self.indeterminate}
        if len(self):
            ms = self.sorted_ms()
            out.update(p50_ms=round(nearest_rank(ms, 50), 2), p95_ms=round(nearest_rank(ms, 95), 2),
                       p99_ms=round(nearest_rank(ms, 99), 2), max_ms=round(float(ms[-1]), 2))
        return out

    def slowest(self, k: int) -> RequestTable:
        """The ``k`` slowest requests, slowest first."""
        if not len(self):
            return self
        order = np.argsort(-np.nan_to_num(self.ms, nan=-1.0), kind="stable")[:k]
        return self._with(order)

    def head(self, k: int) -> RequestTable:
        return self._with(slice(0, k))

    def per_second(self, start: float, end: float) -> dict[str, Any]:
        """Per-second series over ``[start, end]`` by request start: ``requests``, ``failures``,
        ``indeterminate`` (int arrays) and ``p50_ms``/``p95_ms``/``max_ms`` (lists, None for an empty second).

        A request started exactly at ``end`` joins the last second rather than making a one-request one.
        """
        n = max(1, math.ceil(end - start)) if end > start else 0
        sub = self.between(start, end, include_end=True) if n else self.head(0)
        idx = np.minimum(((sub.t - start) // 1).astype(np.int64), n - 1) if n else np.zeros(0, dtype=np.int64)
        out: dict[str, Any] = {
            "requests": np.bincount(idx, minlength=n)[:n],
            "failures": np.bincount(idx[sub.outcome == FAIL], minlength=n)[:n],
            "indeterminate": np.bincount(idx[sub.outcome == INFO], minlength=n)[:n],
        }
        p50: list[float | None] = [None] * n
        p95: list[float | None] = [None] * n
        mx: list[float | None] = [None] * n
        bounds = np.searchsorted(idx, np.arange(n + 1), side="left")  # idx is sorted: each second is a slice
        for i in range(n):
            lo, hi = int(bounds[i]), int(bounds[i + 1])
            if hi > lo:
                ms = np.sort(np.nan_to_num(sub.ms[lo:hi]))
                p50[i], p95[i], mx[i] = (round(nearest_rank(ms, 50), 2), round(nearest_rank(ms, 95), 2),
                                         round(float(ms[-1]), 2))
        out.update(p50_ms=p50, p95_ms=p95, max_ms=mx)
        return out

    def by_endpoint(self) -> list[tuple[str, str, RequestTable]]:
        """(name, method, its requests) for each endpoint present, in order of first appearance by id."""
        present: Any = np.unique(self.endpoint) if len(self) else []
        return [(*self.endpoints[int(e)], self._with(self.endpoint == e)) for e in present]

    # --- per request ------------------------------------------------------------------------

    def name_of(self, i: int) -> str:
        return self.endpoints[int(self.endpoint[i])][0]

    def body_of(self, i: int) -> str | None:
        if self.body_len is None or self.body_start is None or self.body_len[i] < 0:
            return None
        start = int(self.body_start[i])
        return self.blob[start:start + int(self.body_len[i])].decode("utf-8", errors="replace")

    def row(self, i: int) -> dict[str, Any]:
        """Row ``i`` as a journal-shaped request record (a new dict each call)."""
        name, method = self.endpoints[int(self.endpoint[i])]
        ms = float(self.ms[i])
        status = int(self.status[i])
        nbytes = int(self.nbytes[i])
        err = int(self.error[i])
        rec: dict[str, Any] = {"kind": "request", "t": float(self.t[i]), "name": name, "method": method,
                               "ms": None if math.isnan(ms) else ms, "outcome": OUTCOME_NAMES[int(self.outcome[i])],
                               "status": status or None, "error": self.errors[err] if err >= 0 else None,
                               "bytes": nbytes if nbytes >= 0 else None}
        body = self.body_of(i)
        if body is not None:
            rec["body"] = body
            if self.body_truncated is not None and self.body_truncated[i]:
                rec["body_truncated"] = True
        return rec

    def rows(self) -> Iterator[dict[str, Any]]:
        for i in range(len(self)):
            yield self.row(i)

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return self.rows()

    def __getitem__(self, i: int) -> dict[str, Any]:
        if i < 0:
            i += len(self)
        if not 0 <= i < len(self):
            raise IndexError(i)
        return self.row(i)

    def __repr__(self) -> str:
        return f"<RequestTable {len(self)} requests, {len(self.endpoints)} endpoints>"

    # --- combining --------------------------------------------------------------------------

    @classmethod
    def concat(cls, tables: Sequence[RequestTable]) -> RequestTable:
        """One table from several (several writers, or old-style records next to new files), sorted by t."""
        tables = [t for t in tables if len(t)]
        if not tables:
            return cls.empty()
        if len(tables) == 1:
            return tables[0]
        eps: dict[tuple[str, str], int] = {}
        errs: dict[str, int] = {}
        ep_parts, err_parts = [], []
        for tb in tables:
            lut = np.array([eps.setdefault(e, len(eps)) for e in tb.endpoints] or [0], dtype=np.int32)
            ep_parts.append(lut[tb.endpoint])
            elut = np.array([errs.setdefault(e, len(errs)) for e in tb.errors] + [-1], dtype=np.int32)
            err_parts.append(elut[tb.error])  # -1 indexes the appended -1: none stays none
        bodies = any(tb.body_len is not None for tb in tables)
        blob, starts, lens, truncs = b"", [], [], []
        if bodies:
            offset = 0
            for tb in tables:
                n = len(tb)
                starts.append(tb.body_start + offset if tb.body_start is not None else np.zeros(n, np.int64))
                lens.append(tb.body_len if tb.body_len is not None else np.full(n, -1, np.int32))
                truncs.append(tb.body_truncated if tb.body_truncated is not None else np.zeros(n, bool))
                offset += len(tb.blob)
            blob = b"".join(tb.blob for tb in tables)
        merged = cls(t=np.concatenate([tb.t for tb in tables]), ms=np.concatenate([tb.ms for tb in tables]),
                     outcome=np.concatenate([tb.outcome for tb in tables]), status=np.concatenate([tb.status for tb in tables]),
                     nbytes=np.concatenate([tb.nbytes for tb in tables]), endpoint=np.concatenate(ep_parts),
                     error=np.concatenate(err_parts), endpoints=list(eps), errors=list(errs),
                     body_start=np.concatenate(starts) if bodies else None, body_len=np.concatenate(lens) if bodies else None,
                     body_truncated=np.concatenate(truncs) if bodies else None, blob=blob)
        return merged.sorted()

    def sorted(self) -> RequestTable:
        """This table ordered by start time (stable; itself when it already is)."""
        if len(self) < 2 or bool(np.all(self.t[1:] >= self.t[:-1])):
            return self
        return self._with(np.argsort(self.t, kind="stable"))


# --- reading the files ------------------------------------------------------------------------


def _read_file(path: Path) -> RequestTable:
    """One writer's file: every complete request chunk, remapped onto file-wide endpoint/error ids."""
    eps: dict[tuple[str, str], int] = {}
    errs: dict[str, int] = {}
    cols: dict[str, list[Arr]] = {k: [] for k in ("t", "ms", "outcome", "status", "bytes", "endpoint", "error",
                                                   "body_len", "body_truncated", "body_start")}
    blobs: list[bytes] = []
    blob_size = 0
    bodies = False
    with path.open("rb") as f:
        for chunk, payload, _ in scan(f, payloads=True):
            if chunk.kind != "R" or not payload:
                continue
            h = chunk.header
            n = int(h["n"])
            at = 0
            parts: dict[str, Arr] = {}
            for name, dtype, length in h["columns"]:
                parts[name] = np.frombuffer(payload, dtype=np.dtype(dtype), count=length // np.dtype(dtype).itemsize,
                                            offset=at) if length else np.zeros(0, dtype=np.dtype(dtype))
                at += length
            lut = np.array([eps.setdefault((str(a), str(b)), len(eps)) for a, b in h["endpoints"]] or [0], dtype=np.int32)
            elut = np.array([-1] + [errs.setdefault(str(e), len(errs)) for e in h["errors"]], dtype=np.int32)
            for key in ("t", "ms", "outcome", "status", "bytes"):
                cols[key].append(parts[key])
            cols["endpoint"].append(lut[parts["endpoint"]])
            cols["error"].append(elut[parts["error"]])
            if "body_len" in parts:
                bodies = True
                lens = parts["body_len"].astype(np.int64)
                ends = np.cumsum(np.maximum(lens, 0))
                cols["body_start"].append(blob_size + ends - np.maximum(lens, 0))
                cols["body_len"].append(parts["body_len"])
                cols["body_truncated"].append(parts["body_truncated"].astype(bool))
                blob = parts["body"].tobytes()
                blobs.append(blob)
                blob_size += len(blob)
            else:
                cols["body_start"].append(np.zeros(n, np.int64))
                cols["body_len"].append(np.full(n, -1, np.int32))
                cols["body_truncated"].append(np.zeros(n, bool))

    def cat(key: str, dtype: Any) -> Arr:
        return np.concatenate(cols[key]).astype(dtype, copy=False) if cols[key] else np.zeros(0, dtype)

    return RequestTable(t=cat("t", np.float64), ms=cat("ms", np.float64), outcome=cat("outcome", np.uint8),
                        status=cat("status", np.uint16), nbytes=cat("bytes", np.int64), endpoint=cat("endpoint", np.int32),
                        error=cat("error", np.int32), endpoints=list(eps), errors=list(errs),
                        body_start=cat("body_start", np.int64) if bodies else None,
                        body_len=cat("body_len", np.int32) if bodies else None,
                        body_truncated=cat("body_truncated", bool) if bodies else None,
                        blob=b"".join(blobs)).sorted()


def read_requests(folder: str | Path) -> RequestTable:
    """Every request in a run's ``requests/`` folder (every writer's file), merged and sorted by start."""
    return RequestTable.concat([_read_file(p) for p in request_files(Path(folder))])
