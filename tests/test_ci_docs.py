"""docs/ci.md's CI examples run the commands this repository's CI runs (.ci/run), via scripts/ci-gate.sh.

If the page and .ci/run stop agreeing (an argument, the output folder, the JUnit path), this
fails: the example a team copies is the gate this repository runs on itself.
"""
from __future__ import annotations

import re
import shlex
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "ci.md"
CI_RUN = ROOT / ".ci" / "run"
GATE = ROOT / "scripts" / "ci-gate.sh"


def yaml_blocks() -> list[dict[str, Any]]:
    return [yaml.safe_load(b) for b in re.findall(r"```yaml\n(.*?)```", DOC.read_text(), flags=re.S)]


def github() -> dict[str, Any]:
    (wf,) = [b for b in yaml_blocks() if "jobs" in b]
    (job,) = wf["jobs"].values()
    return dict(job)


def gitlab() -> dict[str, Any]:
    (doc,) = [b for b in yaml_blocks() if "jobs" not in b]
    (job,) = doc.values()
    return dict(job)


def gate_commands(lines: list[str]) -> list[list[str]]:
    return [shlex.split(line) for line in lines if line.strip().startswith("scripts/ci-gate.sh")]


def ci_run_gate() -> list[list[str]]:
    return gate_commands(CI_RUN.read_text().splitlines())


def test_both_examples_run_the_gate_with_the_arguments_ci_uses() -> None:
    gh_cmds = gate_commands([s["run"] for s in github()["steps"] if "run" in s])
    gl_cmds = gate_commands([*gitlab()["before_script"], *gitlab()["script"]])
    ours = [c for c in ci_run_gate() if c[1] == "run"]
    assert ours, ".ci/run no longer runs the gate"
    for cmds in (gh_cmds, gl_cmds):
        assert [c for c in cmds if c[1] == "run"] == ours
        (install,) = [c for c in cmds if c[1] == "install"]
        assert install[2:] == [".[targets]"]
    # what .ci/run installs with `make venv` includes what the examples install
    extras = re.search(r'pip install --quiet -e "\.\[([a-z,]+)\]"', (ROOT / "Makefile").read_text())
    assert extras and "targets" in extras.group(1).split(",")


def test_both_examples_upload_the_run_folders_and_publish_junit_even_when_red() -> None:
    (out,) = {c[2] for c in ci_run_gate() if c[1] == "run"}
    steps = github()["steps"]
    upload = next(s for s in steps if str(s.get("uses", "")).startswith("actions/upload-artifact"))
    junit = next(s for s in steps if "junit" in str(s.get("uses", "")))
    assert upload["if"] == junit["if"] == "always()"
    assert upload["with"]["path"] == out and junit["with"]["report_paths"] == f"{out}/junit.xml"
    art = gitlab()["artifacts"]
    assert art["when"] == "always" and art["paths"] == [f"{out}/"] and art["reports"]["junit"] == f"{out}/junit.xml"


def test_the_gate_script_parses_and_refuses_bad_usage() -> None:
    assert subprocess.run(["bash", "-n", str(GATE)]).returncode == 0
    bad = subprocess.run([str(GATE), "frobnicate"], capture_output=True, text=True)
    assert bad.returncode == 2 and "usage:" in bad.stderr


def test_the_gate_validates_before_running_anything(tmp_path: Path) -> None:
    exp = tmp_path / "broken.yaml"
    exp.write_text("name: broken\nsystem: nowhere.yaml\nload: {duration: 10s}\n")
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}  # this venv's harness
    proc = subprocess.run([str(GATE), "run", str(tmp_path / "out"), str(exp)], capture_output=True, text=True,
                          cwd=tmp_path, env=env, timeout=120)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "broken.yaml" in proc.stderr and not (tmp_path / "out").exists()
