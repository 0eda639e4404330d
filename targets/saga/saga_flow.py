"""The orchestrated order saga: reserve stock -> charge -> schedule shipping.

If a step is refused, or its outcome stays unknown after a few tries, the saga compensates
every step that did (or may have) taken effect, **in reverse order**, and retries each
compensation until it succeeds: a compensation is not optional, and every participant's
compensation is idempotent, so retrying it is always safe.

Reasoning about unknown outcomes (Jepsen's "info"): a call that timed out or got a 5xx may
have taken effect. Such a step is compensated even if a later attempt was refused, because
the earlier attempt may still land; the participant's tombstone then refuses it.

Defect switches (environment):
    SKIP_COMPENSATION=payments     the named steps have no compensation (a refund is forgotten)
    COMPENSATION_RETRY=false       a compensation that fails once is abandoned
"""
from __future__ import annotations

import asyncio
import traceback
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable, TypeVar

import httpx
from prometheus_client import Counter

from pgpool import DB_ERRORS
from saga_store import COMPENSATED, COMPENSATING, COMPENSATION_FAILED, COMPLETED, RUNNING, Saga, SagaStore
from servicekit import emit_event

T = TypeVar("T")
SAGAS = Counter("saga_finished_total", "Sagas that reached an end state", ["state"])
COMPENSATION_ATTEMPTS = Counter("saga_compensation_attempts_total", "Compensation calls", ["step", "outcome"])


@dataclass(frozen=True)
class Step:
    name: str  # the participant service
    action: str
    compensation: str
    fields: tuple[str, ...]  # what the action needs from the order

    def body(self, saga: Saga) -> dict[str, Any]:
        return {"saga_id": saga.id, **{f: saga.request.get(f) for f in self.fields}}


STEPS = (
    Step("inventory", "/reservations", "/releases", ("sku", "qty")),
    Step("payments", "/charges", "/refunds", ("customer", "amount_cents")),
    Step("shipping", "/shipments", "/cancellations", ("address",)),
)


@dataclass
class FlowConfig:
    forward_attempts: int = 3
    call_timeout: float = 1.5
    backoff_first: float = 0.1
    backoff_max: float = 1.0
    compensation_retry: bool = True
    skip_compensation: frozenset[str] = field(default_factory=frozenset)
    recovery_interval: float = 1.0


@dataclass
class Reply:
    kind: str  # ok | rejected (definitive 4xx) | transient (5xx, timeout, connection error: outcome unknown)
    detail: str = ""


class SagaRunner:
    def __init__(self, store: SagaStore, clients: dict[str, httpx.AsyncClient], config: FlowConfig):
        self.store, self.clients, self.config = store, clients, config
        self.active: dict[str, asyncio.Task[str]] = {}

    def start(self, saga_id: str) -> asyncio.Task[str]:
        """Drive a saga to its end; one task per saga, however many callers ask."""
        task = self.active.get(saga_id)
        if task is None or task.done():
            task = asyncio.create_task(self._drive_logged(saga_id), name=f"saga-{saga_id}")
            self.active[saga_id] = task
            task.add_done_callback(lambda t, s=saga_id: self.active.pop(s, None) if self.active.get(s) is t else None)
        return task

    async def recover_forever(self) -> None:
        """Resume unfinished sagas: at startup (after a crash) and whenever a driver died."""
        first = True
        while True:
            try:
                for saga_id in await self.store.unfinished():
                    if saga_id not in self.active:
                        if first:
                            emit_event("saga_resumed", saga=saga_id)
                        self.start(saga_id)
                first = False
            except DB_ERRORS:
                pass  # our own database is unreachable: try again next round
            await asyncio.sleep(self.config.recovery_interval)

    async def _drive_logged(self, saga_id: str) -> str:
        try:
            return await self._drive(saga_id)
        except Exception:  # a bug must not kill the service; the recovery loop tries again
            print(f"saga {saga_id}: driver crashed\n{traceback.format_exc()}", flush=True)
            raise

    async def _drive(self, saga_id: str) -> str:
        saga = await self._persist(self.store.load, saga_id)
        if saga is None:
            return "missing"
        if saga.state == RUNNING:
            await self._run_forward(saga)
        if saga.state == COMPENSATING:
            await self._run_compensations(saga)
        return saga.state

    async def _run_forward(self, saga: Saga) -> None:
        for step in STEPS:
            outcome = saga.outcome(step.name, "forward")
            if outcome is None:
                outcome, attempts, detail = await self._forward(saga, step)
                await self._persist(self.store.record, saga.id, step.name, "forward", outcome, attempts, detail)
                saga.log.append({"step": step.name, "phase": "forward", "outcome": outcome, "attempts": attempts})
            if outcome != "ok":
                reason = f"{step.name} {outcome}"
                await self._persist(self.store.set_state, saga.id, COMPENSATING, reason)
                saga.state, saga.reason = COMPENSATING, reason
                emit_event("saga_compensating", saga=saga.id, step=step.name, outcome=outcome)
                return
        await self._persist(self.store.set_state, saga.id, COMPLETED)
        saga.state = COMPLETED
        SAGAS.labels(COMPLETED).inc()

    async def _run_compensations(self, saga: Saga) -> None:
        # Every step that took effect, or may have (unknown), in reverse order.
        todo = [s for s in STEPS if saga.outcome(s.name, "forward") in ("ok", "unknown")]
        for step in reversed(todo):
            if saga.outcome(step.name, "compensate") == "ok":
                continue  # done before a restart
            if step.name in self.config.skip_compensation:
                continue  # the defect: this compensation is missing from the saga's definition
            outcome, attempts, detail = await self._compensate(saga, step)
            await self._persist(self.store.record, saga.id, step.name, "compensate", outcome, attempts, detail)
            saga.log.append({"step": step.name, "phase": "compensate", "outcome": outcome, "attempts": attempts})
            if outcome != "ok":
                await self._persist(self.store.set_state, saga.id, COMPENSATION_FAILED, f"{step.name} compensation failed")
                saga.state = COMPENSATION_FAILED
                SAGAS.labels(COMPENSATION_FAILED).inc()
                # The saga's end, as saga_compensated is: what happened, not which switch made it happen.
                emit_event("saga_compensation_failed", saga=saga.id, step=step.name, error=detail[:80])
                return
        await self._persist(self.store.set_state, saga.id, COMPENSATED)
        saga.state = COMPENSATED
        SAGAS.labels(COMPENSATED).inc()
        emit_event("saga_compensated", saga=saga.id,
                   steps=[e["step"] for e in saga.log if e["phase"] == "compensate" and e["outcome"] == "ok"])

    async def _forward(self, saga: Saga, step: Step) -> tuple[str, int, str]:
        uncertain = False
        reply = Reply("transient")
        for attempt in range(1, self.config.forward_attempts + 1):
            reply = await self._call(step, step.action, step.body(saga))
            if reply.kind == "ok":
                return "ok", attempt, reply.detail
            if reply.kind == "rejected":
                # Refused now, but an earlier attempt with an unknown outcome may still land.
                return ("unknown" if uncertain else "rejected"), attempt, reply.detail
            uncertain = True
            await asyncio.sleep(self._backoff(attempt))
        return "unknown", self.config.forward_attempts, reply.detail

    async def _compensate(self, saga: Saga, step: Step) -> tuple[str, int, str]:
        attempt = 0
        while True:
            attempt += 1
            reply = await self._call(step, step.compensation, {"saga_id": saga.id})
            COMPENSATION_ATTEMPTS.labels(step.name, reply.kind).inc()
            if reply.kind == "ok":
                return "ok", attempt, reply.detail
            if not self.config.compensation_retry:
                return "abandoned", attempt, reply.detail
            if attempt == 1 or attempt % 5 == 0:
                emit_event("compensation_retry", saga=saga.id, step=step.name, attempt=attempt, error=reply.detail[:80])
            await asyncio.sleep(self._backoff(attempt))

    async def _call(self, step: Step, path: str, body: dict[str, Any]) -> Reply:
        try:
            async with asyncio.timeout(self.config.call_timeout):
                resp = await self.clients[step.name].post(path, json=body)
        except (httpx.HTTPError, TimeoutError, OSError) as exc:
            return Reply("transient", f"{type(exc).__name__}: {exc}"[:200])
        if resp.status_code == 200:
            return Reply("ok")
        detail = f"HTTP {resp.status_code}: {resp.text[:150]}"
        return Reply("rejected" if 400 <= resp.status_code < 500 else "transient", detail)

    def _backoff(self, attempt: int) -> float:
        return min(self.config.backoff_max, self.config.backoff_first * 2 ** (attempt - 1))

    async def _persist(self, fn: Callable[..., Awaitable[T]], *args: Any) -> T:
        """Our own state must be written before we go on: retry until the database takes it."""
        attempt = 0
        while True:
            attempt += 1
            try:
                return await fn(*args)
            except DB_ERRORS:
                await asyncio.sleep(self._backoff(attempt))
