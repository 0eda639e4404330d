"""The run's request data: stored once, as columns, by the process that makes the requests.

- :mod:`.chunks`: the on-disk format (``requests/<writer>.hreq``), its writer and a tail reader.
  Standard library only: the Locust process imports it, and importing this package does not
  import numpy until a table name is asked for.
- :mod:`.table`: :class:`RequestTable`, the columnar view checks and reports read (numpy).
"""
from __future__ import annotations

from typing import Any

from .chunks import FAIL, INFO, OK, SUFFIX, ChunkWriter, Tail, request_files

__all__ = ["RequestTable", "read_requests", "ChunkWriter", "Tail", "request_files", "nearest_rank",
           "OK", "FAIL", "INFO", "SUFFIX"]


def __getattr__(name: str) -> Any:
    if name in ("RequestTable", "read_requests", "nearest_rank"):
        from . import table

        return getattr(table, name)
    raise AttributeError(f"module 'harness.data' has no attribute {name!r}")
