"""The request file format: a stream of self-contained chunks, written by the load process.

Requests are stored once, by the process that makes them, as columns: the harness never
parses or re-encodes a request while load runs. Each writer (one Locust process; later one
per Locust worker) appends to its own file ``requests/<writer>.hreq`` in the run folder; a
reader merges every file of the folder, so several writers never lose or double a request.

A chunk, all integers little-endian::

    magic   4 bytes   b"HRQ" + kind: b"R" (a batch of requests) or b"J" (one JSON record)
    hlen    uint32    length of the header
    plen    uint32    length of the payload
    header  hlen      UTF-8 JSON
    payload plen      raw bytes

``J`` chunks carry the load process's own records (``load_started``, ``load_stopped``) in the
header; their payload is empty. An ``R`` chunk's header is::

    {"n": rows, "fail": rows with outcome fail, "info": rows with outcome info,
     "columns": [[name, numpy dtype string, byte length], ...],   # payload = the columns in this order
     "endpoints": [[name, method], ...],                           # what column "endpoint" indexes
     "errors": [text, ...]}                                        # what column "error" indexes (0 = none, i+1 = errors[i])

Columns: ``t`` (<f8, request start, epoch seconds), ``ms`` (<f8, NaN = unknown), ``outcome``
(u1: 0 ok, 1 fail, 2 info), ``status`` (u2, 0 = no answer), ``bytes`` (<i8, -1 = unknown),
``endpoint`` and ``error`` (unsigned, width chosen per chunk); with body recording also
``body_len`` (<i4, -1 = no body), ``body_truncated`` (u1) and ``body`` (u1: the bodies' UTF-8
bytes, one after the other). Endpoint and error tables are per chunk, so a writer's memory
stays bounded whatever the run's length. Rows are in completion order, not sorted by ``t``.

A chunk is written with one ``write`` and then flushed: a reader (or a crash) can only ever
meet a cut *last* chunk, which it leaves alone (``scan`` stops before it). This module needs
only the standard library: the Locust process imports it without numpy.
"""
from __future__ import annotations

import json
import math
import struct
import os
from array import array
from pathlib import Path
from typing import Any, BinaryIO, Iterator, NamedTuple

MAGIC_REQUESTS = b"HRQR"
MAGIC_RECORD = b"HRQJ"
PREFIX = struct.Struct("<4sII")
SUFFIX = ".hreq"
OK, FAIL, INFO = 0, 1, 2
OUTCOME_CODES = {"ok": OK, "fail": FAIL, "info": INFO}
OUTCOME_NAMES = ("ok", "fail", "info")
NAN = math.nan

__all__ = ["ChunkWriter", "Chunk", "scan", "request_files", "Tail", "OUTCOME_CODES", "OUTCOME_NAMES", "SUFFIX"]


def _narrow(values: array) -> tuple[str, bytes]:  # type: ignore[type-arg]
    """The smallest unsigned dtype that holds every value, and the values in it."""
    top = max(values) if values else 0
    for code, dtype in (("B", "u1"), ("H", "<u2"), ("I", "<u4")):
        if top < 1 << (8 * array(code).itemsize):
            return dtype, (values if values.typecode == code else array(code, values)).tobytes()
    return "<u8", array("Q", values).tobytes()


class ChunkWriter:
    """Collects requests in columns and appends them to one file as chunks (see the module doc).

    ``add`` is the hot path (one call per request, a few list appends); ``flush`` writes the
    collected rows as one chunk. The caller decides when to flush (the Locust process does it
    every 0.2 s from a greenlet).
    """

    def __init__(self, path: Path, record_bodies: int = 0):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._file: BinaryIO = self.path.open("ab", buffering=0)
        self.record_bodies = record_bodies
        self.rows = 0
        """Rows written so far (flushed or not)."""
        self._reset()

    def _reset(self) -> None:
        self._t = array("d")
        self._ms = array("d")
        self._outcome = array("B")
        self._status = array("H")
        self._bytes = array("q")
        self._endpoint = array("I")
        self._error = array("I")
        self._endpoints: dict[tuple[str, str], int] = {}
        self._errors: dict[str, int] = {}
        self._body_len = array("i")
        self._body_truncated = array("B")
        self._bodies: list[bytes] = []

    def add(self, t: float, ms: float | None, outcome: int, status: int | None, nbytes: int | None,
            name: str, method: str, error: str | None, body: bytes | None = None, truncated: bool = False) -> None:
        key = (name, method)
        ep = self._endpoints.get(key)
        if ep is None:
            ep = self._endpoints[key] = len(self._endpoints)
        self._t.append(t)
        self._ms.append(NAN if ms is None else ms)
        self._outcome.append(outcome)
        self._status.append(status or 0)
        self._bytes.append(-1 if nbytes is None else nbytes)
        self._endpoint.append(ep)
        if error is None:
            self._error.append(0)
        else:
            code = self._errors.get(error)
            if code is None:
                code = self._errors[error] = len(self._errors) + 1
            self._error.append(code)
        if self.record_bodies:
            if body is None:
                self._body_len.append(-1)
                self._body_truncated.append(0)
            else:
                self._body_len.append(len(body))
                self._body_truncated.append(truncated)
                self._bodies.append(body)
        self.rows += 1

    def record(self, record: dict[str, Any]) -> None:
        """Append one JSON record (``load_started``...) as its own chunk, after the rows so far."""
        self.flush()
        header = json.dumps(record, separators=(",", ":")).encode()
        self._file.write(PREFIX.pack(MAGIC_RECORD, len(header), 0) + header)

    def flush(self) -> None:
        n = len(self._t)
        if not n:
            return
        columns: list[tuple[str, str, bytes]] = [
            ("t", "<f8", self._t.tobytes()), ("ms", "<f8", self._ms.tobytes()), ("outcome", "u1", self._outcome.tobytes()),
            ("status", "<u2", self._status.tobytes()), ("bytes", "<i8", self._bytes.tobytes()),
            ("endpoint", *_narrow(self._endpoint)), ("error", *_narrow(self._error)),
        ]
        if self.record_bodies:
            columns += [("body_len", "<i4", self._body_len.tobytes()), ("body_truncated", "u1", self._body_truncated.tobytes()),
                        ("body", "u1", b"".join(self._bodies))]
        header = json.dumps({
            "n": n, "fail": self._outcome.count(FAIL), "info": self._outcome.count(INFO),
            "columns": [[name, dtype, len(data)] for name, dtype, data in columns],
            "endpoints": [list(k) for k in self._endpoints], "errors": list(self._errors),
        }, separators=(",", ":")).encode()
        payload = b"".join(data for _, _, data in columns)
        # One write per chunk: a reader tailing the file meets at most a cut last chunk.
        self._file.write(PREFIX.pack(MAGIC_REQUESTS, len(header), len(payload)) + header + payload)
        self._reset()

    def close(self) -> None:
        if not self._file.closed:
            self.flush()
            self._file.close()


class Chunk(NamedTuple):
    kind: str  # "R" or "J"
    header: dict[str, Any]
    offset: int  # of the payload in the file
    length: int  # of the payload


def scan(f: BinaryIO, offset: int = 0, *, payloads: bool = False) -> Iterator[tuple[Chunk, bytes | None, int]]:
    """The complete chunks from ``offset`` on: (chunk, payload if asked, offset after it).

    Stops quietly before a cut or unreadable chunk (a writer still writing it, or a crash):
    the caller keeps the returned offset and tries again later.
    """
    size = os.fstat(f.fileno()).st_size  # what is there now; a chunk being written is left for later
    f.seek(offset)
    while True:
        prefix = f.read(PREFIX.size)
        if len(prefix) < PREFIX.size:
            return
        magic, hlen, plen = PREFIX.unpack(prefix)
        if magic not in (MAGIC_REQUESTS, MAGIC_RECORD):
            return
        head = f.read(hlen)
        if len(head) < hlen:
            return
        start = offset + PREFIX.size + hlen
        if payloads:
            data = f.read(plen)
            if len(data) < plen:
                return
            payload: bytes | None = data
        else:
            payload = None
            if start + plen > size:
                return
            f.seek(plen, 1)
        try:
            header = json.loads(head)
        except ValueError:
            return
        offset = start + plen
        yield Chunk(magic[3:].decode(), header, start, plen), payload, offset


def request_files(folder: Path) -> list[Path]:
    """Every writer's file in a run's ``requests/`` folder, in a stable order."""
    return sorted(Path(folder).glob(f"*{SUFFIX}")) if Path(folder).is_dir() else []


class Tail:
    """Follows every request file in a folder without reading requests: counts from chunk headers,
    and the JSON records (``load_started``...) in file order. Used while load runs."""

    def __init__(self, folder: Path, only: Path | None = None):
        self.folder = Path(folder)
        self.only = only
        """Follow just this file of the folder (one writer's), or every file when None."""
        self._offsets: dict[Path, int] = {}
        self.requests = 0
        self.failures = 0
        """Requests whose outcome is not ok (fail or info)."""

    def poll(self) -> list[dict[str, Any]]:
        records: list[dict[str, Any]] = []
        for path in ([self.only] if self.only is not None else request_files(self.folder)):
            offset = self._offsets.get(path, 0)
            try:
                with path.open("rb") as f:
                    for chunk, _, end in scan(f, offset):
                        if chunk.kind == "R":
                            self.requests += int(chunk.header["n"])
                            self.failures += int(chunk.header.get("fail", 0)) + int(chunk.header.get("info", 0))
                        else:
                            records.append(chunk.header)
                        offset = end  # resume after the last whole chunk next time
            except FileNotFoundError:
                continue
            self._offsets[path] = offset
        return records

