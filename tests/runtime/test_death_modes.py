"""What a caller sees, through its edge, of a local service that a fault took down: the runtime's
own death (a dead port: the proxy closes the caller's connection at once), ``refuse`` (refused),
``blackhole`` (the connect hangs, as for a dead host), and the service answering once it is back."""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from caller_view import caller_sees, write_system
from harness.events import RunEvents
from harness.journal import JournalWriter, read_journal
from harness.runtime import DeployRequest, runtimes
from harness.system import load_system

pytestmark = pytest.mark.integration

@pytest.fixture
def local(tmp_path: Path) -> Iterator[Any]:
    journal = JournalWriter(tmp_path / "journal.jsonl")
    dep: Any = runtimes.get("local")(DeployRequest(system=load_system(write_system(tmp_path)), run_dir=tmp_path,
                                                   journal=journal, events=RunEvents()))
    try:
        yield dep
    finally:
        dep.stop()
        journal.close()


@pytest.mark.parametrize(("mode", "seen"), [(None, "closed"), ("refuse", "refused"), ("blackhole", "connect hangs")])
def test_a_killed_service_seen_through_its_edge(local: Any, mode: str | None, seen: str) -> None:
    edge = ("127.0.0.1", local.proxy_ports["front->back"])
    assert caller_sees(*edge) == "answered"
    local.prepare_death(mode)
    local.service_action("back", "kill", mode)
    assert [caller_sees(*edge, timeout=0.5) for _ in range(2)] == [seen, seen]
    local.service_action("back", "start", mode)
    assert caller_sees(*edge) == "answered"


def test_the_journal_says_which_death_each_kill_was(local: Any, tmp_path: Path) -> None:
    for mode in (None, "blackhole"):
        local.service_action("back", "kill", mode)
        local.service_action("back", "start", mode)
    local.stop()
    local.req.journal.close()
    kills = [r for r in read_journal(tmp_path / "journal.jsonl").of_kind("service_action") if r["action"] == "kill"]
    assert [(r["mode"], r["natural"]) for r in kills] == [("refuse", True), ("blackhole", False)]
