"""docs/plugins.md's worked example, run as written: its code blocks are the plugin, manifest and experiment.

A page whose example stopped working would fail here, so the example cannot rot.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from harness.checks import evaluate
from harness.data.table import RequestTable
from harness.experiment import load_experiment
from harness.journal import History

DOC = Path(__file__).resolve().parents[1] / "docs" / "plugins.md"
T0 = 1_700_000_000.0


def doc_files() -> dict[str, str]:
    """Every fenced block whose first line is ``# file: NAME``: NAME -> the block's text."""
    blocks = re.findall(r"```[a-z]*\n(.*?)```", DOC.read_text(), flags=re.S)
    return {m.group(1): b for b in blocks if (m := re.match(r"# file: (\S+)\n", b))}


@pytest.fixture
def example(tmp_path: Path) -> Path:
    files = doc_files()
    assert set(files) >= {"error_streak.py", "system.yaml", "experiment.yaml", "congested.py"}
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    (tmp_path / "locustfile.py").write_text("# validation needs the file, not users\n")
    return tmp_path


def history(failed: list[bool]) -> History:
    """A run of 30 s, ``back-down`` from 10 s to 15 s, one request every 50 ms during it, failed as told."""
    records: list[dict[str, Any]] = [
        {"kind": "run_started", "t": T0, "steady_state": {"warmup": 0, "settle": 0}},
        {"kind": "load_started", "t": T0},
        {"kind": "fault_applied", "t": T0 + 10, "fault": "back-down", "type": "down", "target": "front->back"},
        {"kind": "fault_removed", "t": T0 + 15, "fault": "back-down"},
        {"kind": "load_stopped", "t": T0 + 30},
    ]
    reqs = [{"t": T0 + 11 + i * 0.05, "name": "/buy", "method": "POST", "ms": 5.0,
             "outcome": "fail" if bad else "ok", "status": 503 if bad else 200} for i, bad in enumerate(failed)]
    return History(records, requests=RequestTable.from_records(reqs))


def test_the_worked_example_validates_and_judges_a_wall_of_errors(example: Path) -> None:
    exp = load_experiment(example / "experiment.yaml")
    assert [c.type for c in exp.checks] == ["error_streak"]

    breaker = [i % 10 < 5 for i in range(60)]  # five failures, then the fallback answers: streaks of 5
    wall = [True] * 60                          # every request fails while the dependency is down
    (ok,) = evaluate(exp, history(breaker))
    (bad,) = evaluate(exp, history(wall))
    assert ok.verdict == "passed" and ok.evidence["longest_streak"] == 5
    assert bad.verdict == "failed" and bad.evidence["longest_streak"] == 60 and bad.evidence["streak_started_s"] == 11.0
    assert "longest error streak 60 (max 20)" in bad.summary


def test_the_example_s_parameters_are_validated_by_its_model(example: Path) -> None:
    from harness.errors import InputError

    text = (example / "experiment.yaml").read_text().replace("    max: 20\n", "    maxx: 20\n")
    (example / "experiment.yaml").write_text(text)
    with pytest.raises(InputError) as err:
        load_experiment(example / "experiment.yaml")
    assert "checks[0]" in str(err.value) and "maxx" in str(err.value)


class FakeToxiproxy:
    def __init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []

    def add_toxic(self, proxy: str, name: str, type: str, attributes: dict[str, Any], **kw: Any) -> None:
        self.calls.append(("add", proxy, name, type, attributes))

    def remove_toxic(self, proxy: str, name: str) -> None:
        self.calls.append(("remove", proxy, name))


def test_the_fault_example_registers_validates_and_applies_two_toxics(example: Path) -> None:
    from harness.faults.registry import ActiveFault, SimpleFaultContext

    manifest = example / "system.yaml"
    manifest.write_text(manifest.read_text().replace("plugins: [error_streak.py]", "plugins: [error_streak.py, congested.py]"))
    exp_text = (example / "experiment.yaml").read_text().replace(
        "type: down, edge: front->back,", "type: congested, edge: front->back, attributes: {latency: 1s, rate: 8},")
    (example / "experiment.yaml").write_text(exp_text)
    exp = load_experiment(example / "experiment.yaml")
    fault = exp.faults[0]
    assert fault.parsed_attributes.model_dump() == {"latency": 1000, "rate": 8}

    proxy = FakeToxiproxy()
    ctx = SimpleFaultContext(proxy, {"front->back": "front_back"})  # type: ignore[arg-type]
    with exp.plugin_scope.active():
        active = ActiveFault.create("slow", "congested", "front->back", {"latency": "1s", "rate": 8})
        active.kind.apply(ctx, active)
        active.kind.remove(ctx, active)
    assert proxy.calls == [("add", "front_back", "slow-latency", "latency", {"latency": 1000}),
                           ("add", "front_back", "slow-bandwidth", "bandwidth", {"rate": 8}),
                           ("remove", "front_back", "slow-latency"), ("remove", "front_back", "slow-bandwidth")]
