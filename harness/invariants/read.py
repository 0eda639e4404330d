"""Reading audits from a running system: SQL against its databases, JSON from its services.

Every read goes to the service's own address (what the harness itself uses for health checks),
never through a Toxiproxy edge, so an audit sees the effects even where a fault was, and does
not depend on the component under test answering for itself.
"""
from __future__ import annotations

import datetime
import decimal
import uuid
from typing import Any, Callable
from urllib.parse import urlsplit

import httpx

from ..checks.pointer import resolve_pointer
from .spec import AuditSpec, HttpSource, SqlSource

ServiceUrl = Callable[[str], str]


class AuditError(Exception):
    """An audit could not be read (the database refused, the path answered 500, ...)."""


class AuditReader:
    """Reads audits by name; keeps one database connection per (service, database, user) open."""

    def __init__(self, audits: dict[str, AuditSpec], service_url: ServiceUrl):
        self.audits = audits
        self.service_url = service_url
        self._connections: dict[tuple[str, str, str], Any] = {}
        self._http = httpx.Client(trust_env=False)

    def read(self, name: str) -> Any:
        """The audit's value (JSON-friendly). Raises AuditError."""
        src = self.audits[name].source
        try:
            if isinstance(src, SqlSource):
                return self._sql(src)
            return self._get(src)
        except AuditError:
            raise
        except Exception as exc:  # a driver's or transport's error: the audit says what it was
            raise AuditError(f"{type(exc).__name__}: {exc}".strip()) from exc

    def _sql(self, src: SqlSource) -> Any:
        try:
            import psycopg  # the driver only when a manifest asks for SQL (an extra of the package)
        except ImportError as exc:
            raise AuditError('SQL audits need the psycopg driver, which is not installed: pip install "harness[sql]"') from exc

        key = (src.service, src.database, src.user)
        conn = self._connections.get(key)
        if conn is None or conn.closed:
            parts = urlsplit(self.service_url(src.service))
            conn = psycopg.connect(host=parts.hostname, port=parts.port, dbname=src.database, user=src.user,
                                   password=src.password, connect_timeout=max(1, int(src.timeout)), autocommit=False)
            conn.read_only = True  # an audit never writes, whatever its query says
            self._connections[key] = conn
        try:
            with conn.transaction():
                with conn.cursor() as cur:
                    cur.execute(f"SET LOCAL statement_timeout = {int(src.timeout * 1000)}")
                    cur.execute(src.query)  # the manifest's own text (psycopg types it as a literal)
                    names = [c.name for c in cur.description or []]
                    rows = [dict(zip(names, (_jsonable(v) for v in r), strict=True)) for r in cur.fetchall()]
        except psycopg.OperationalError:
            conn.close()  # reconnect on the next read: the database may be back by then
            raise
        return _shape(rows, src)

    def _get(self, src: HttpSource) -> Any:
        url = self.service_url(src.service).rstrip("/") + src.path
        resp = self._http.get(url, timeout=src.timeout)
        if not resp.is_success:
            raise AuditError(f"GET {url} answered {resp.status_code}: {resp.text[:200]}")
        try:
            doc = resp.json()
        except ValueError:
            raise AuditError(f"GET {url} did not answer JSON: {resp.text[:200]!r}") from None
        found, value = resolve_pointer(doc, src.pointer)
        if not found:
            raise AuditError(f"GET {url}: the answer has nothing at {src.pointer!r}")
        return value

    def close(self) -> None:
        for conn in self._connections.values():
            try:
                conn.close()
            except Exception:  # noqa: BLE001 - closing must not stop the others
                pass
        self._connections.clear()
        self._http.close()


def _shape(rows: list[dict[str, Any]], src: SqlSource) -> Any:
    if src.shape == "rows":
        return rows
    if len(rows) != 1:
        raise AuditError(f"shape '{src.shape}' needs exactly one row; the query returned {len(rows)}")
    if src.shape == "row":
        return rows[0]
    if len(rows[0]) != 1:
        raise AuditError(f"shape 'value' needs exactly one column; the query returned {len(rows[0])}")
    return next(iter(rows[0].values()))


def _jsonable(v: Any) -> Any:
    """Database values as JSON values, so they land in the journal and compare as numbers."""
    if isinstance(v, decimal.Decimal):
        return int(v) if v == v.to_integral_value() else float(v)
    if isinstance(v, (datetime.datetime, datetime.date, datetime.time)):
        return v.isoformat()
    if isinstance(v, datetime.timedelta):
        return v.total_seconds()
    if isinstance(v, uuid.UUID):
        return str(v)
    if isinstance(v, (bytes, bytearray, memoryview)):
        return bytes(v).hex()
    if isinstance(v, dict):
        return {str(k): _jsonable(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_jsonable(x) for x in v]
    return v
