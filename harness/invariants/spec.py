"""What a manifest declares about its effects: audits (reads), invariants (predicates), quiescence.

    audits:                       # named reads of what the system did, made after it went quiet
      charges:  {sql: {service: db, database: payments, query: "SELECT saga_id, status FROM charges"}}
      sagas:    {http: {service: orchestrator, path: /audit, pointer: /sagas}}
    invariants:
      no-orphan-charge:
        description: a charge is kept only by a completed saga
        expect: "count(charges[status == 'charged' and saga_id not in sagas[state == 'completed'].id]) == 0"
    quiescence: {quiet: 2s, timeout: 30s, interval: 500ms}

An audit reads a service directly (its own address, never through a faulted edge): a SQL
query against a PostgreSQL service, or a JSON document from an HTTP path. An invariant is an
expression over the audits (see :mod:`.expr`).
"""
from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from ..checks.pointer import valid_pointer
from ..durations import Duration
from ..model import Spec


class SqlSource(Spec):
    """A query against a PostgreSQL service of the system, through that service's own address."""

    service: str = Field(description="the service that is the database (e.g. a harness.infra.postgres service)")
    database: str = Field("postgres", description="the database to query")
    user: str = Field("postgres", description="the user to connect as")
    password: str | None = Field(None, description="its password, if the server asks for one")
    query: str = Field(min_length=1, description="a read-only query; it runs in a read-only transaction")
    shape: Literal["rows", "row", "value"] = Field(
        "rows", description="rows: a list of rows; row: the one row; value: the one value of the one row")
    timeout: Duration = Field(10.0, gt=0)


class HttpSource(Spec):
    """A JSON document from a service's path, fetched from the service's own address."""

    service: str = Field(description="the service that answers the audit (reached directly, never through an edge)")
    path: str = Field(pattern=r"^/", description="path (and query) on the service, e.g. /audit")
    pointer: str = Field("", description="JSON pointer into the answer; default: the whole document")
    timeout: Duration = Field(10.0, gt=0)

    @model_validator(mode="after")
    def _pointer_valid(self) -> "HttpSource":
        if not valid_pointer(self.pointer):
            raise ValueError(f"'{self.pointer}' is not a JSON pointer (write '' or '/a/0/b')")
        return self


class AuditSpec(Spec):
    description: str = Field("", description="what the audit reads")
    sql: SqlSource | None = None
    http: HttpSource | None = None

    @model_validator(mode="after")
    def _one_source(self) -> "AuditSpec":
        if (self.sql is None) == (self.http is None):
            raise ValueError("give exactly one of 'sql:' or 'http:'")
        return self

    @property
    def source(self) -> SqlSource | HttpSource:
        src = self.sql or self.http
        assert src is not None
        return src


class InvariantSpec(Spec):
    description: str = Field("", description="what the invariant means, for the report")
    expect: str = Field(min_length=1, description="an expression over the audits that must be true")


class QuiescenceSpec(Spec):
    """When the system counts as quiet: every audit it is asked for reads the same for ``quiet``."""

    quiet: Duration = Field(2.0, gt=0, description="audits unchanged this long")
    timeout: Duration = Field(30.0, gt=0, description="give up (a finding: the system never settled)")
    interval: Duration = Field(0.5, gt=0, description="time between reads")

    @model_validator(mode="after")
    def _fits(self) -> "QuiescenceSpec":
        if self.quiet >= self.timeout:
            raise ValueError(f"quiet ({self.quiet:g}s) must be shorter than timeout ({self.timeout:g}s)")
        return self
