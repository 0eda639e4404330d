"""Runs that end early on bad input found only at run time, and two runs side by side."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from harness.journal import read_journal

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))

import interruption_campaign as campaign  # noqa: E402

pytestmark = pytest.mark.integration
HARNESS = [sys.executable, "-m", "harness.cli"]


def started_pids(run_dir: Path) -> list[int]:
    return [r["pid"] for r in read_journal(run_dir / "journal.jsonl").records
            if r["kind"] in ("service_started", "toxiproxy_started", "prometheus_started") and r.get("pid")]


def alive(pids: list[int]) -> list[int]:
    out = []
    for p in pids:
        try:
            if Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z":
                out.append(p)
        except OSError:
            pass
    return out


def test_a_locustfile_that_fails_to_import_is_input_exit_2_with_the_four_files(tmp_path: Path) -> None:
    exp = campaign.tiny_experiment(tmp_path / "tiny", load_s=3.0)
    # Valid Python importing only what exists, so `validate` cannot see it; the Locust process fails importing it.
    (tmp_path / "tiny" / "locustfile.py").write_text("import os\nraise RuntimeError(os.environ.get('NO_SUCH_VAR', "
                                                      "'no_such_module_for_this_test'))\n")
    out = tmp_path / "run"
    proc = subprocess.run([*HARNESS, "run", str(exp), "--out", str(out), "--quiet"], cwd=ROOT, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    result = json.loads((out / "result.json").read_text())
    assert (result["status"], result["error_kind"], result["exit_code"]) == ("error", "input", 2)
    assert "no_such_module_for_this_test" in result["error"]
    for name in ("journal.jsonl", "junit.xml", "report.html"):
        assert (out / name).is_file()
    assert not alive(started_pids(out))


def test_two_runs_side_by_side_stay_isolated(tmp_path: Path) -> None:
    exp = campaign.tiny_experiment(tmp_path / "tiny", load_s=4.0)
    procs = [subprocess.Popen([*HARNESS, "run", str(exp), "--out", str(tmp_path / name), "--quiet"], cwd=ROOT,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) for name in ("a", "b")]
    outputs = [p.communicate(timeout=120)[0] for p in procs]
    for name, proc, output in zip(("a", "b"), procs, outputs):
        assert proc.returncode == 0, output
        history = read_journal(tmp_path / name / "journal.jsonl")
        assert not list(history.of_kind("service_crashed")), f"run {name} lost a service to the other run"
        other = started_pids(tmp_path / ("b" if name == "a" else "a"))
        for swept in history.of_kind("swept"):  # the start-of-run sweep never takes a live run's processes
            assert not any(f"pid {p} " in " ".join(swept["killed"]) for p in other)
    ports = [{r["url"] for r in read_journal(tmp_path / n / "journal.jsonl").of_kind("service_started")} for n in "ab"]
    assert not ports[0] & ports[1]
